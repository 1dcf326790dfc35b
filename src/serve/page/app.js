// The page of `musav serve` (issue 18): upload a song, call POST /v1/predict, draw the labels, the
// valence–arousal plane and the mood over time. Plain browser JavaScript with no build step and no
// outside requests: everything it needs comes from this server (/v1/model, /v1/predict).
"use strict";

(() => {
  const KEY_STORE = "musav.apiKey";
  const SVG_NS = "http://www.w3.org/2000/svg";
  // Russell's circumplex, by quadrant of the plane.
  const QUADRANTS = [
    { cls: "q-hh", name: "excited · happy", right: true, top: true },
    { cls: "q-lh", name: "tense · angry", right: false, top: true },
    { cls: "q-ll", name: "sad · bored", right: false, top: false },
    { cls: "q-hl", name: "calm · relaxed", right: true, top: false },
  ];
  // What a status means when the answer carries no JSON error of its own (a proxy, a dropped body).
  const STATUS_WORDS = {
    400: "The server could not read the request.",
    401: "This server needs an API key.",
    404: "The server has no such address: is this a musav serve?",
    413: "The file is larger than the server accepts.",
    415: "The server cannot decode this file as audio.",
    422: "The file decodes, but the server cannot use it.",
    500: "The server failed while analysing the file.",
    503: "The server is busy or still loading its model.",
    504: "The analysis took longer than the server allows.",
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    summary: $("model-summary"),
    keyPanel: $("key-panel"),
    keyReason: $("key-reason"),
    keyForm: $("key-form"),
    keyInput: $("api-key"),
    dropZone: $("drop-zone"),
    file: $("file"),
    fileName: $("file-name"),
    progressRow: $("progress-row"),
    progress: $("progress"),
    status: $("status"),
    error: $("error"),
    player: $("player"),
    main: document.querySelector("main"),
    results: $("results"),
    topLabel: $("top-label"),
    topScore: $("top-score"),
    topSwatch: $("top-swatch"),
    vaSummary: $("va-summary"),
    warnings: $("warnings"),
    bars: $("bars"),
    plane: $("va-plane"),
    tooltip: $("va-tooltip"),
    vaNone: $("va-none"),
    cells: $("timeline-cells"),
    lines: $("timeline-lines"),
    axis: $("timeline-axis"),
    legend: $("legend"),
    modelBody: $("model-body"),
  };

  const state = {
    model: null, // GET /v1/model
    pending: null, // a file waiting for the model or the key
    xhr: null, // the prediction in flight
    result: null, // the last answer drawn
    objectUrl: null,
    ticker: null,
  };

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // ---- small helpers -------------------------------------------------------------------------

  function setState(s) {
    document.body.dataset.state = s;
  }

  function svg(tag, attrs, parent) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(tag, attrs, parent, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function num(x, digits = 2) {
    return typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "—";
  }

  function pct(x) {
    return typeof x === "number" && Number.isFinite(x) ? (x * 100).toFixed(1) + " %" : "—";
  }

  function clock(t) {
    if (!(typeof t === "number" && Number.isFinite(t))) return "—";
    const m = Math.floor(t / 60);
    const s = t - m * 60;
    return m + ":" + s.toFixed(1).padStart(4, "0");
  }

  function clamp(x, lo, hi) {
    return Math.min(hi, Math.max(lo, x));
  }

  function apiKey() {
    try {
      return sessionStorage.getItem(KEY_STORE) || "";
    } catch (_) {
      return "";
    }
  }

  function saveKey(key) {
    try {
      if (key) sessionStorage.setItem(KEY_STORE, key);
      else sessionStorage.removeItem(KEY_STORE);
    } catch (_) {
      // Storage refused (a private window): the key then lives only until the page closes.
    }
    state.memoryKey = key;
  }

  function currentKey() {
    return apiKey() || state.memoryKey || "";
  }

  function authHeaders() {
    const k = currentKey();
    return k ? { Authorization: "Bearer " + k } : {};
  }

  // The API's own error message when it sent one, otherwise plain words for the status.
  function errorFrom(status, text, retryAfter) {
    let code = "http_" + status;
    let message = "";
    try {
      const body = JSON.parse(text);
      if (body && body.error) {
        code = body.error.code || code;
        message = body.error.message || "";
      }
    } catch (_) {
      // Not JSON: fall back to the status.
    }
    if (!message) {
      message = STATUS_WORDS[status] || "The server answered " + status + ".";
      const plain = (text || "").trim();
      if (plain && plain.length < 300 && !plain.startsWith("<")) message += " (" + plain + ")";
    }
    if (status === 503 && retryAfter) message += " Try again in " + retryAfter + " s.";
    return new ApiError(status, code, message);
  }

  // ---- class colours -------------------------------------------------------------------------

  function classIndex(name) {
    if (!state.model) return -1;
    return state.model.classes.findIndex((c) => c.name === name);
  }

  // One hue per class in output order, spread by the golden angle so neighbours differ.
  function hueOf(name) {
    const i = classIndex(name);
    return i < 0 ? 0 : Math.round((i * 137.508 + 210) % 360);
  }

  function paint(node, name) {
    node.style.setProperty("--hue", hueOf(name));
  }

  // ---- messages ------------------------------------------------------------------------------

  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = false;
  }

  function clearError() {
    el.error.textContent = "";
    el.error.hidden = true;
  }

  function askForKey(reason) {
    el.keyReason.textContent = reason;
    el.keyPanel.hidden = false;
    el.keyInput.value = currentKey();
    el.keyInput.focus();
    el.keyInput.select();
  }

  function progress(text, fraction) {
    el.progressRow.hidden = false;
    el.status.textContent = text;
    if (fraction === null) el.progress.removeAttribute("value");
    else el.progress.value = Math.round(fraction * 100);
  }

  function stopProgress() {
    if (state.ticker) clearInterval(state.ticker);
    state.ticker = null;
    el.progressRow.hidden = true;
  }

  // ---- the model -----------------------------------------------------------------------------

  async function loadModel() {
    let res;
    try {
      res = await fetch("/v1/model", { headers: authHeaders(), cache: "no-store" });
    } catch (_) {
      throw new ApiError(0, "network", "Could not reach the server at " + location.host + ". Is musav serve still running?");
    }
    const text = await res.text();
    if (!res.ok) throw errorFrom(res.status, text, res.headers.get("Retry-After"));
    return JSON.parse(text);
  }

  async function refreshModel() {
    try {
      state.model = await loadModel();
    } catch (e) {
      state.model = null;
      if (e.status === 401) {
        el.summary.textContent = "This server needs an API key.";
        askForKey(
          currentKey()
            ? "The server refused this key: " + e.message
            : "This server needs an API key: enter it to load the model and analyse songs."
        );
        if (currentKey()) showError(e.message);
        setState("needs-key");
      } else {
        el.summary.textContent = "The model could not be loaded.";
        showError("Could not load the model: " + e.message);
        setState("error");
      }
      return false;
    }
    renderModel(state.model);
    const needsKey = Boolean(state.model.limits && state.model.limits.api_key_required);
    if (needsKey && !currentKey()) askForKey("This server needs an API key for predictions.");
    else el.keyPanel.hidden = true;
    setState("ready");
    return true;
  }

  function renderModel(m) {
    const v = m.validation || null;
    const vaVal = v && v.va ? v.va : null;
    const lim = m.limits || {};
    const input = m.input || {};
    const va = m.va || {};
    el.summary.textContent =
      "Serving " + m.run + " · " + m.classes.length + " classes" +
      (v && typeof v.macro_f1 === "number" ? " · validation macro-F1 " + num(v.macro_f1) : "");

    const body = el.modelBody;
    body.textContent = "";
    const dl = html("dl", { class: "model-grid", id: "model-facts" }, body);
    const fact = (key, label, value, title) => {
      const d = html("div", { "data-fact": key }, dl);
      html("dt", {}, d, label);
      const dd = html("dd", {}, d, value);
      if (title) dd.title = title;
    };
    fact("run", "Run", m.run);
    fact("version", "musav version", m.version || "—");
    fact("classes", "Classes", String(m.classes.length));
    fact("label-map", "Label map SHA-256", (m.label_map_sha256 || "").slice(0, 16) + "…", m.label_map_sha256);
    fact("macro-f1", "Validation macro-F1", v ? num(v.macro_f1, 3) : "not recorded");
    fact("accuracy", "Validation accuracy", v ? num(v.accuracy, 3) : "not recorded");
    fact(
      "va-head",
      "Valence–arousal head",
      va.loaded
        ? "loaded, scale " +
            (va.scale || []).map((x) => num(x, 1)).join(" to ") +
            (va.input ? ", input " + va.input : "")
        : "none"
    );
    fact(
      "va-ccc",
      "VA CCC (valence / arousal)",
      vaVal ? num(vaVal.valence_ccc, 3) + " / " + num(vaVal.arousal_ccc, 3) : "not recorded"
    );
    fact(
      "va-spread",
      "VA spread ratio (valence / arousal)",
      vaVal ? num(vaVal.valence_spread, 3) + " / " + num(vaVal.arousal_spread, 3) : "not recorded"
    );
    fact(
      "input",
      "Input",
      [
        input.convention ? input.convention + " features" : null,
        input.sample_rate ? input.sample_rate + " Hz mono" : null,
        input.n_mels ? input.n_mels + " mel bands" : null,
        input.chunk_frames ? input.chunk_frames + "-frame chunks" : null,
      ]
        .filter(Boolean)
        .join(", ") || "—"
    );
    fact(
      "limits",
      "Limits",
      [
        lim.max_upload_mb !== undefined ? "uploads up to " + lim.max_upload_mb + " MB" : null,
        lim.max_seconds !== undefined ? "songs up to " + lim.max_seconds + " s" : null,
        lim.timeout_s !== undefined ? lim.timeout_s + " s per request" : null,
        lim.workers !== undefined ? lim.workers + " workers" : null,
        lim.queue !== undefined ? "queue of " + lim.queue : null,
      ]
        .filter(Boolean)
        .join(", ") || "—"
    );
    fact("api-key", "API key", lim.api_key_required ? "required" : "not required");

    const wrap = html("div", { class: "table-wrap" }, body);
    const table = html("table", { class: "classes", id: "model-classes" }, wrap);
    const head = html("tr", {}, html("thead", {}, table));
    for (const h of ["", "Id", "Class", "Tags"]) html("th", { scope: "col" }, head, h);
    const tbody = html("tbody", {}, table);
    for (const c of m.classes) {
      const tr = html("tr", { class: "model-class", "data-label": c.name }, tbody);
      const sw = html("span", { class: "swatch", "aria-hidden": "true" }, html("td", {}, tr));
      paint(sw, c.name);
      html("td", {}, tr, String(c.id));
      html("td", {}, tr, c.name);
      html("td", { class: "tags" }, tr, (c.tags || []).join(", "));
    }
  }

  // ---- prediction ----------------------------------------------------------------------------

  function contentType(file) {
    if (file.type) return file.type;
    const ext = (file.name.split(".").pop() || "").toLowerCase();
    const byExt = { mp3: "audio/mpeg", wav: "audio/wav", ogg: "audio/ogg", oga: "audio/ogg", flac: "audio/flac" };
    return byExt[ext] || "application/octet-stream";
  }

  // XMLHttpRequest rather than fetch: it reports upload progress.
  function predict(file) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      state.xhr = xhr;
      const topK = state.model.classes.length;
      xhr.open("POST", "/v1/predict?top_k=" + topK + "&segments=true");
      xhr.setRequestHeader("Content-Type", contentType(file));
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      xhr.responseType = "text";
      const lim = state.model.limits || {};
      if (lim.timeout_s) xhr.timeout = (lim.timeout_s + 30) * 1000;
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) progress("Uploading " + Math.round((100 * e.loaded) / e.total) + " %…", e.loaded / e.total);
      };
      xhr.upload.onload = () => analysing();
      xhr.onload = () => {
        if (xhr.status === 200) {
          try {
            resolve(JSON.parse(xhr.responseText));
          } catch (_) {
            reject(new ApiError(200, "bad_answer", "The server's answer was not valid JSON."));
          }
        } else {
          reject(errorFrom(xhr.status, xhr.responseText, xhr.getResponseHeader("Retry-After")));
        }
      };
      xhr.onerror = () =>
        reject(new ApiError(0, "network", "The connection to the server broke off (is musav serve still running, and is the file within its upload limit?)."));
      xhr.ontimeout = () => reject(new ApiError(0, "timeout", "No answer from the server in " + xhr.timeout / 1000 + " s."));
      xhr.onabort = () => reject(new ApiError(0, "aborted", "Replaced by a newer upload."));
      xhr.send(file);
    });
  }

  function analysing() {
    const t0 = Date.now();
    progress("Analysing… (decoding, features, model)", null);
    if (state.ticker) clearInterval(state.ticker);
    state.ticker = setInterval(() => {
      progress("Analysing… " + Math.round((Date.now() - t0) / 1000) + " s", null);
    }, 500);
  }

  async function analyse(file) {
    if (state.xhr) state.xhr.abort();
    clearError();
    if (!state.model) {
      state.pending = file;
      progress("Loading the model…", null);
      const ok = await refreshModel();
      stopProgress();
      if (!ok) return;
    }
    state.pending = null;
    const lim = state.model.limits || {};
    if (lim.max_upload_mb && file.size > lim.max_upload_mb * 1024 * 1024) {
      showError(
        "“" + file.name + "” is " + (file.size / 1048576).toFixed(1) + " MB; this server accepts files up to " +
          lim.max_upload_mb + " MB. Cut or re-encode the song, or start the server with a larger --max-upload-mb."
      );
      setState("error");
      return;
    }
    showResults(false);
    setState("loading");
    progress("Uploading…", 0);
    let answer;
    try {
      answer = await predict(file);
    } catch (e) {
      if (e.code === "aborted") return;
      stopProgress();
      state.xhr = null;
      if (e.status === 401) {
        state.pending = file;
        askForKey(currentKey() ? "The server refused this key: " + e.message : "This server needs an API key: " + e.message);
      }
      showError("Could not analyse “" + file.name + "”: " + e.message);
      setState(e.status === 401 ? "needs-key" : "error");
      return;
    }
    state.xhr = null;
    stopProgress();
    state.result = answer;
    try {
      renderResult(answer, file);
    } catch (e) {
      showError("The answer for “" + file.name + "” could not be drawn: " + e.message);
      setState("error");
      return;
    }
    setState("done");
  }

  function chooseFile(file) {
    if (!file) return;
    el.fileName.textContent = file.name + " · " + (file.size / 1048576).toFixed(2) + " MB";
    if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
    state.objectUrl = URL.createObjectURL(file);
    el.player.src = state.objectUrl;
    el.player.hidden = false;
    analyse(file);
  }

  // ---- results -------------------------------------------------------------------------------

  function renderResult(r, file) {
    const top = typeof r.top_label === "string" ? { label: r.top_label } : r.top_label || r.labels[0];
    el.topLabel.textContent = top.label;
    el.topLabel.dataset.id = top.id === undefined ? "" : top.id;
    el.topScore.textContent = typeof top.score === "number" ? pct(top.score) : "";
    paint(el.topSwatch, top.label);

    const va = r.va || null;
    if (va) {
      el.vaSummary.textContent =
        "Valence " + num(va.valence) + ", arousal " + num(va.arousal) +
        (va.quadrant ? " · " + va.quadrant : "") +
        (va.nearest_moods && va.nearest_moods.length ? " · near: " + va.nearest_moods.join(", ") : "") +
        (va.clamped ? " · clamped to the head's scale" : "");
    } else {
      el.vaSummary.textContent = "";
    }

    el.warnings.textContent = "";
    for (const w of r.warnings || []) html("li", { class: "warning" }, el.warnings, w);
    el.warnings.hidden = !(r.warnings && r.warnings.length);

    renderBars(r.labels || [], top.label);
    renderPlane(r, top.label);
    renderTimeline(r);

    el.results.dataset.file = file.name;
    el.results.dataset.run = r.model ? r.model.run : "";
    showResults(true);
  }

  function showResults(shown) {
    el.results.hidden = !shown;
    el.main.classList.toggle("has-results", shown);
  }

  function renderBars(labels, topName) {
    el.bars.textContent = "";
    const sorted = labels.slice().sort((a, b) => b.score - a.score);
    for (const l of sorted) {
      const li = html("li", { class: "bar", "data-label": l.label, "data-score": l.score }, el.bars);
      if (l.label === topName) li.classList.add("top");
      paint(li, l.label);
      html("span", { class: "name", title: l.label }, li, l.label);
      const track = html("span", { class: "track", "aria-hidden": "true" }, li);
      html("span", { class: "fill" }, track).style.width = clamp(l.score * 100, 0, 100) + "%";
      html("span", { class: "value" }, li, pct(l.score));
    }
  }

  function vaScale() {
    const s = state.model && state.model.va && state.model.va.scale;
    return Array.isArray(s) && s.length === 2 && s[1] > s[0] ? s : [0, 1];
  }

  function renderPlane(r, topName) {
    const g = el.plane;
    g.textContent = "";
    el.tooltip.hidden = true;
    const withVa = (r.segments || []).filter((s) => typeof s.valence === "number" && typeof s.arousal === "number");
    if (!r.va && withVa.length === 0) {
      g.style.display = "none";
      el.vaNone.hidden = false;
      return;
    }
    g.style.display = "";
    el.vaNone.hidden = true;
    const [lo, hi] = vaScale();
    const L = 46, T = 12, W = 342, H = 342;
    const x = (v) => L + clamp((v - lo) / (hi - lo), 0, 1) * W;
    const y = (a) => T + H - clamp((a - lo) / (hi - lo), 0, 1) * H;
    const midX = L + W / 2, midY = T + H / 2;

    for (const q of QUADRANTS) {
      svg("rect", { class: q.cls, x: q.right ? midX : L, y: q.top ? T : midY, width: W / 2, height: H / 2 }, g);
      const t = svg("text", {
        class: "quad-name",
        x: q.right ? L + W - 6 : L + 6,
        y: q.top ? T + 16 : T + H - 8,
        "text-anchor": q.right ? "end" : "start",
      }, g);
      t.textContent = q.name;
    }
    svg("line", { class: "mid", x1: midX, y1: T, x2: midX, y2: T + H }, g);
    svg("line", { class: "mid", x1: L, y1: midY, x2: L + W, y2: midY }, g);
    svg("rect", { class: "frame", x: L, y: T, width: W, height: H }, g);

    const mid = (lo + hi) / 2;
    for (const v of [lo, mid, hi]) {
      const tx = svg("text", { class: "tick", x: x(v), y: T + H + 13, "text-anchor": "middle" }, g);
      tx.textContent = num(v, 1);
      const ty = svg("text", { class: "tick", x: L - 5, y: y(v) + 3, "text-anchor": "end" }, g);
      ty.textContent = num(v, 1);
    }
    const xl = svg("text", { class: "axis-label", x: midX, y: T + H + 30, "text-anchor": "middle" }, g);
    xl.textContent = "valence: unpleasant → pleasant";
    const yl = svg("text", {
      class: "axis-label",
      x: 0,
      y: 0,
      "text-anchor": "middle",
      transform: "translate(14 " + midY + ") rotate(-90)",
    }, g);
    yl.textContent = "arousal: calm → energetic";

    const moods = (state.model && state.model.va && state.model.va.moods) || [];
    const words = svg("g", { class: "moods", "aria-hidden": "true" }, g);
    for (const m of moods) {
      if (typeof m.valence !== "number" || typeof m.arousal !== "number") continue;
      svg("circle", { class: "mood-dot", cx: x(m.valence), cy: y(m.arousal), r: 1.5 }, words);
      const t = svg("text", {
        class: "mood-word",
        x: x(m.valence),
        y: y(m.arousal) - 3,
        "text-anchor": "middle",
        "data-word": m.word,
      }, words);
      t.textContent = m.word;
    }

    if (withVa.length > 1) {
      svg("polyline", {
        id: "va-trail",
        class: "trail",
        points: withVa.map((s) => x(s.valence).toFixed(1) + "," + y(s.arousal).toFixed(1)).join(" "),
      }, g);
    }
    const n = withVa.length;
    withVa.forEach((s, i) => {
      const text = clock(s.start_s) + "–" + clock(s.end_s) + " · " + s.top_label +
        " · valence " + num(s.valence) + ", arousal " + num(s.arousal);
      const c = svg("circle", {
        class: "trail-point",
        cx: x(s.valence),
        cy: y(s.arousal),
        r: 5.5,
        tabindex: 0,
        role: "button",
        "aria-label": "Segment " + (i + 1) + ": " + text + ". Press Enter to play from here.",
        "data-index": r.segments.indexOf(s),
        "data-start": s.start_s,
        "data-label": s.top_label,
        "fill-opacity": (0.35 + 0.65 * (n > 1 ? i / (n - 1) : 1)).toFixed(2),
      }, g);
      c.style.fill = "hsl(" + hueOf(s.top_label) + " 65% var(--label-l))";
      svg("title", {}, c).textContent = text;
      const show = () => tooltip(c, text);
      c.addEventListener("mouseenter", show);
      c.addEventListener("focus", show);
      c.addEventListener("mouseleave", hideTooltip);
      c.addEventListener("blur", hideTooltip);
      c.addEventListener("click", () => seek(s.start_s));
      c.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          seek(s.start_s);
        }
      });
    });

    if (r.va && typeof r.va.valence === "number") {
      const px = x(r.va.valence), py = y(r.va.arousal);
      svg("circle", { class: "va-ring", cx: px, cy: py, r: 14 }, g);
      const p = svg("circle", {
        id: "va-point",
        cx: px,
        cy: py,
        r: 10,
        "data-valence": r.va.valence,
        "data-arousal": r.va.arousal,
      }, g);
      p.style.fill = "hsl(" + hueOf(topName) + " 70% var(--label-l))";
      svg("title", {}, p).textContent =
        "The song: valence " + num(r.va.valence) + ", arousal " + num(r.va.arousal) + " (" + topName + ")";
      const label = svg("text", {
        class: "song-label",
        x: px + (px > L + W - 70 ? -18 : 18),
        y: py + 4,
        "text-anchor": px > L + W - 70 ? "end" : "start",
      }, g);
      label.textContent = "song";
    }
  }

  function tooltip(node, text) {
    const box = node.getBoundingClientRect();
    const wrap = el.tooltip.parentElement.getBoundingClientRect();
    el.tooltip.textContent = text;
    el.tooltip.style.left = clamp(box.left + box.width / 2 - wrap.left, 60, wrap.width - 60) + "px";
    el.tooltip.style.top = box.top - wrap.top + "px";
    el.tooltip.hidden = false;
  }

  function hideTooltip() {
    el.tooltip.hidden = true;
  }

  function renderTimeline(r) {
    const segs = r.segments || [];
    el.cells.textContent = "";
    el.lines.textContent = "";
    el.axis.textContent = "";
    el.legend.textContent = "";
    if (segs.length === 0) {
      html("p", { class: "muted small" }, el.cells, "No segments in this answer.");
      return;
    }
    const end = Math.max(
      r.audio && typeof r.audio.duration_s === "number" ? r.audio.duration_s : 0,
      ...segs.map((s) => s.end_s)
    );
    const total = end > 0 ? end : 1;
    segs.forEach((s, i) => {
      const b = html("button", {
        type: "button",
        class: "timeline-cell",
        "data-index": i,
        "data-start": s.start_s,
        "data-end": s.end_s,
        "data-label": s.top_label,
        title: clock(s.start_s) + "–" + clock(s.end_s) + " · " + s.top_label + " (" + pct(s.score) + ")" +
          (typeof s.valence === "number" ? " · valence " + num(s.valence) + ", arousal " + num(s.arousal) : ""),
        "aria-label": "Play from " + clock(s.start_s) + ": " + s.top_label,
      }, el.cells);
      b.style.left = (100 * s.start_s) / total + "%";
      b.style.width = (100 * Math.max(s.end_s - s.start_s, 0)) / total + "%";
      paint(b, s.top_label);
      b.addEventListener("click", () => seek(s.start_s));
    });

    const [lo, hi] = vaScale();
    const yOf = (v) => (94 - clamp((v - lo) / (hi - lo), 0, 1) * 88).toFixed(2);
    const line = (key) => {
      const pts = [];
      for (const s of segs) {
        if (typeof s[key] !== "number") continue;
        if (segs.length === 1) {
          pts.push(((1000 * s.start_s) / total).toFixed(1) + "," + yOf(s[key]));
          pts.push(((1000 * s.end_s) / total).toFixed(1) + "," + yOf(s[key]));
        } else {
          pts.push(((1000 * (s.start_s + s.end_s)) / 2 / total).toFixed(1) + "," + yOf(s[key]));
        }
      }
      if (pts.length > 1) svg("polyline", { class: key, id: "timeline-" + key, points: pts.join(" ") }, el.lines);
    };
    line("valence");
    line("arousal");
    svg("line", { id: "playhead", class: "playhead", x1: 0, x2: 0, y1: 0, y2: 100, visibility: "hidden" }, el.lines);

    for (const t of [0, total / 2, total]) html("span", {}, el.axis, clock(t));

    const seen = [];
    for (const s of segs) if (!seen.includes(s.top_label)) seen.push(s.top_label);
    for (const name of seen) {
      const li = html("li", {}, el.legend);
      paint(html("span", { class: "swatch", "aria-hidden": "true" }, li), name);
      html("span", {}, li, name);
    }
  }

  // ---- playback ------------------------------------------------------------------------------

  function seek(t) {
    if (!el.player.src) return;
    el.player.currentTime = t;
    const p = el.player.play();
    if (p && p.catch) p.catch(() => {});
  }

  function followPlayback() {
    const r = state.result;
    if (!r || !r.segments || r.segments.length === 0) return;
    const t = el.player.currentTime;
    const i = r.segments.findIndex((s) => t >= s.start_s && t < s.end_s);
    for (const c of el.cells.querySelectorAll(".timeline-cell")) c.classList.toggle("current", Number(c.dataset.index) === i);
    for (const c of el.plane.querySelectorAll(".trail-point")) c.classList.toggle("current", Number(c.dataset.index) === i);
    const head = document.getElementById("playhead");
    if (head) {
      const end = Math.max(r.audio ? r.audio.duration_s || 0 : 0, ...r.segments.map((s) => s.end_s)) || 1;
      const xPos = ((1000 * t) / end).toFixed(1);
      head.setAttribute("x1", xPos);
      head.setAttribute("x2", xPos);
      head.setAttribute("visibility", t > 0 ? "visible" : "hidden");
    }
  }

  // ---- wiring --------------------------------------------------------------------------------

  el.file.addEventListener("change", () => {
    const f = el.file.files && el.file.files[0];
    chooseFile(f);
    el.file.value = "";
  });

  // The whole page takes a dropped file (a drop elsewhere would otherwise open the file in the tab).
  let dragDepth = 0;
  window.addEventListener("dragenter", (e) => {
    e.preventDefault();
    dragDepth += 1;
    el.dropZone.classList.add("over");
  });
  window.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) el.dropZone.classList.remove("over");
  });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    e.preventDefault();
    dragDepth = 0;
    el.dropZone.classList.remove("over");
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (f) chooseFile(f);
  });

  el.keyForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = el.keyInput.value.trim();
    if (!key) return;
    saveKey(key);
    clearError();
    const ok = await refreshModel();
    if (!ok) return;
    el.keyPanel.hidden = true;
    if (state.pending) analyse(state.pending);
  });

  el.player.addEventListener("timeupdate", followPlayback);
  el.player.addEventListener("seeked", followPlayback);

  if (currentKey()) el.keyInput.value = currentKey();
  refreshModel();
})();
