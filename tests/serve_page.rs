//! The page of `musav serve` (issue 18) in a real browser: Debian's headless Chromium driven over
//! WebDriver (chromium-driver + fantoccini), against the real binary serving a tiny trained run on
//! 127.0.0.1. A synthetic WAV goes in through the file input; what the page draws is checked against
//! what the API answers for the same bytes. Screenshots (desktop 1280×800, phone 360×740) are written
//! under the test's output directory.
//!
//! Needs `chromium` and `chromium-driver` (scripts/test.sh installs them). Without them the tests fail
//! when `CI` is set and say why they skip elsewhere.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use util::{musav, run};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Long enough for the first request to a debug build on two busy cores.
const WAIT: Duration = Duration::from_secs(120);

/// True when Chromium and its driver are installed; otherwise fails under CI and says why it skips.
fn browser_or_skip() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    let why = format!(
        "{CHROMIUM} or {CHROMEDRIVER} is missing; scripts/test.sh installs them \
         (apt-get install chromium chromium-driver)"
    );
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but {why}");
    }
    eprintln!("skipped: {why}");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where this test leaves its screenshots (kept after the run, unlike the temp dirs).
fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve_page");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- a tiny trained run -------------------------------------------------------------------------

/// Four labels × 16 three-second clips, a narrow ResNet (a few seconds of training, validation
/// macro-F1 around 0.9, so the mood really moves over the test song), its validation reports and a VA
/// head: everything the model card and the answers show.
fn tiny_run(dir: &Path) -> PathBuf {
    let p = |s: &str| dir.join(s);
    util::synth(
        &p("synth"),
        &format!("--per-label {PER_LABEL} --seconds 3 --labels-limit {LABELS}"),
    );
    util::export(&p("synth"), &p("export"));
    let (ok, _, err) = util::train(
        &p("export"),
        &p("synth"),
        Some(&p("cache")),
        &p("run"),
        "--channels 8,8,16,16,16 --embedding 16 --chunk-frames 64 --batch-size 8 --lr 3e-3 \
         --dropout 0.1 --epochs 15",
    );
    assert!(ok, "train: {err}");
    for cmd in [
        &["validate", "--split", "validation", "--run"][..],
        &["train-va", "--epochs", "100", "--run"],
        &["validate-va", "--split", "validation", "--run"],
    ] {
        let (ok, _, err) = run(musav().args(cmd).arg(p("run")));
        assert!(ok, "{cmd:?}: {err}");
    }
    p("run")
}

const LABELS: usize = 4;
const PER_LABEL: usize = 16;

/// One WAV made of a held-out (test split) clip of each synthetic label in turn, so that the mood
/// moves over time. `musav synth` numbers clips label by label from 1; the last of each label is
/// in the test split.
fn song(synth: &Path, out: &Path) -> PathBuf {
    let mut samples = Vec::new();
    let mut spec = None;
    for label in 0..LABELS {
        let n = label * PER_LABEL + PER_LABEL;
        let clip = synth.join(format!("{:02}/{n}.wav", n % 100));
        let mut r = hound::WavReader::open(&clip).unwrap();
        assert_eq!(
            *spec.get_or_insert(r.spec()),
            r.spec(),
            "{}",
            clip.display()
        );
        samples.extend(r.samples::<i16>().map(Result::unwrap));
    }
    let mut w = hound::WavWriter::create(out, spec.unwrap()).unwrap();
    for s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    out.to_path_buf()
}

// ---- processes ----------------------------------------------------------------------------------

/// `musav serve` on a free port, killed when the test ends however it ends.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    async fn start(run_dir: &Path, api_key: Option<&str>, log: PathBuf) -> Server {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut cmd = musav();
        cmd.arg("serve")
            .arg("--run")
            .arg(run_dir)
            .args(["--addr", &addr]);
        if let Some(k) = api_key {
            cmd.args(["--api-key", k]);
        }
        cmd.env_remove("MUSAV_API_KEY");
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut server = Server {
            child,
            base: format!("http://{addr}"),
            log,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            let exited = self.child.try_wait().unwrap();
            assert!(
                exited.is_none() && start.elapsed() < WAIT,
                "musav serve {} (waited {:?} for /readyz):\n{}",
                exited.map_or("is not ready".into(), |s| format!("exited with {s}")),
                start.elapsed(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver on a free port; on drop it is asked to shut down (which closes the browsers it
/// started), then killed.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver { child, port };
        let start = Instant::now();
        while raw_get(port, "/status").is_none_or(|s| !s.contains("\"ready\":true")) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    /// A new browser session with its own empty profile; `phone` emulates a 360×740 screen.
    async fn browser(&self, profile: &Path, phone: bool) -> Client {
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--force-color-profile=srgb",
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        if phone {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 1.0, "touch": true}
            });
        }
        // Two rustls crypto providers are linked in: choose one (a second call is a no-op error).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("chromedriver starts a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = raw_get(self.port, "/shutdown");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP GET on 127.0.0.1 without an async runtime (usable from `Drop`); returns the body.
/// chromedriver keeps the connection open, so the body is read up to its Content-Length.
fn raw_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut r = BufReader::new(s);
    let mut length = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

// ---- the API, asked directly --------------------------------------------------------------------

async fn api_model(server: &Server, key: Option<&str>) -> Value {
    let mut req = reqwest::Client::new().get(format!("{}/v1/model", server.base));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200, "GET /v1/model");
    r.json().await.unwrap()
}

/// POST /v1/predict with the file's bytes as the page sends them; returns (status, JSON).
async fn api_predict(
    server: &Server,
    file: &Path,
    content_type: &str,
    top_k: usize,
    key: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!(
            "{}/v1/predict?top_k={top_k}&segments=true",
            server.base
        ))
        .header("Content-Type", content_type)
        .body(std::fs::read(file).unwrap());
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

// ---- the page -----------------------------------------------------------------------------------

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Waits until the page's `body[data-state]` is one of `states`; returns it.
async fn wait_state(c: &Client, states: &[&str]) -> String {
    let start = Instant::now();
    loop {
        let s = js(c, "return document.body.dataset.state").await;
        let s = s.as_str().unwrap_or_default().to_string();
        if states.contains(&s.as_str()) {
            return s;
        }
        assert!(
            start.elapsed() < WAIT,
            "page state {s:?}, waited {WAIT:?} for {states:?}; error shown: {:?}",
            text(c, "#error").await
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn text(c: &Client, css: &str) -> String {
    js(
        c,
        &format!("const e = document.querySelector({css:?}); return e ? e.textContent : null"),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .trim()
    .to_string()
}

async fn count(c: &Client, css: &str) -> usize {
    js(
        c,
        &format!("return document.querySelectorAll({css:?}).length"),
    )
    .await
    .as_u64()
    .unwrap() as usize
}

async fn visible(c: &Client, css: &str) -> bool {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap()
}

async fn upload(c: &Client, file: &Path) {
    c.find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
}

/// Sets the desktop viewport (not the window) to `w`×`h`.
async fn viewport(c: &Client, w: u32, h: u32) {
    c.set_window_size(w, h).await.unwrap();
    let d = js(
        c,
        "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]",
    )
    .await;
    let (dw, dh) = (d[0].as_u64().unwrap() as u32, d[1].as_u64().unwrap() as u32);
    c.set_window_size(w + dw, h + dh).await.unwrap();
}

/// Saves a screenshot and checks it is a PNG of the viewport's size.
async fn screenshot(c: &Client, path: &Path, w: u32, h: u32) {
    let png = c.screenshot().await.unwrap();
    assert_eq!(&png[1..4], b"PNG", "{}", path.display());
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (w, h), "{}", path.display());
    std::fs::write(path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// Everything the page drew for `answer` (the API's own answer for the same file) matches it.
async fn assert_result_matches(c: &Client, model: &Value, answer: &Value) {
    let classes = model["classes"].as_array().unwrap().len();
    let segments = answer["segments"].as_array().unwrap();
    assert!(!segments.is_empty(), "{answer}");

    assert_eq!(
        text(c, "#top-label").await,
        answer["top_label"]["label"].as_str().unwrap()
    );
    assert_eq!(count(c, ".bar").await, classes);
    // Every bar carries the API's score for its label, sorted, the top one highlighted.
    let bars = js(
        c,
        "return [...document.querySelectorAll('.bar')].map(b => \
         [b.dataset.label, Number(b.dataset.score), b.classList.contains('top')])",
    )
    .await;
    let bars = bars.as_array().unwrap();
    for (bar, want) in bars.iter().zip(answer["labels"].as_array().unwrap()) {
        assert_eq!(bar[0], want["label"], "{bars:?}");
        let (got, want) = (bar[1].as_f64().unwrap(), want["score"].as_f64().unwrap());
        assert!((got - want).abs() < 1e-6, "{bars:?}");
    }
    assert_eq!(
        bars.iter()
            .map(|b| b[2].as_bool().unwrap())
            .collect::<Vec<_>>(),
        (0..classes).map(|i| i == 0).collect::<Vec<_>>()
    );

    // The VA plane: the song's point, one trail point per segment in time order, the mood words.
    assert_eq!(count(c, "#va-point").await, 1);
    let point = js(
        c,
        "const p = document.getElementById('va-point'); \
         return [Number(p.dataset.valence), Number(p.dataset.arousal)]",
    )
    .await;
    assert!((point[0].as_f64().unwrap() - answer["va"]["valence"].as_f64().unwrap()).abs() < 1e-6);
    assert!((point[1].as_f64().unwrap() - answer["va"]["arousal"].as_f64().unwrap()).abs() < 1e-6);
    assert_eq!(count(c, ".trail-point").await, segments.len());
    let trail = js(
        c,
        "return [...document.querySelectorAll('.trail-point')].map(p => \
         [Number(p.dataset.start), p.dataset.label])",
    )
    .await;
    for (p, s) in trail.as_array().unwrap().iter().zip(segments) {
        assert!((p[0].as_f64().unwrap() - s["start_s"].as_f64().unwrap()).abs() < 1e-6);
        assert_eq!(p[1], s["top_label"]);
    }
    assert_eq!(
        count(c, ".mood-word").await,
        model["va"]["moods"].as_array().unwrap().len()
    );
    assert!(count(c, ".mood-word").await > 0, "{model}");

    // The timeline: one cell per segment with its label, and the two lines over it.
    assert_eq!(count(c, ".timeline-cell").await, segments.len());
    let cells = js(
        c,
        "return [...document.querySelectorAll('.timeline-cell')].map(b => b.dataset.label)",
    )
    .await;
    let labels: Vec<&Value> = segments.iter().map(|s| &s["top_label"]).collect();
    assert_eq!(cells.as_array().unwrap().iter().collect::<Vec<_>>(), labels);
    if segments.len() > 1 {
        assert_eq!(count(c, "#timeline-valence").await, 1);
        assert_eq!(count(c, "#timeline-arousal").await, 1);
    }
    assert!(text(c, "#error").await.is_empty());
}

// ---- the tests ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_song_on_the_page_shows_its_labels_plane_and_timeline_and_errors_in_plain_words() {
    if !browser_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tiny_run(tmp.path());
    let wav = song(&tmp.path().join("synth"), &tmp.path().join("song.wav"));
    let not_audio = tmp.path().join("notes.mp3");
    std::fs::write(&not_audio, "these are notes, not an MP3\n").unwrap();
    let out = out_dir();

    let server = Server::start(&run_dir, None, out.join("serve.log")).await;
    let model = api_model(&server, None).await;
    let classes = model["classes"].as_array().unwrap().len();
    let (status, answer) = api_predict(&server, &wav, "audio/wav", classes, None).await;
    assert_eq!(status, 200, "{answer}");
    let (status, refused) = api_predict(&server, &not_audio, "audio/mpeg", classes, None).await;
    assert_eq!(status, 415, "{refused}");
    let refused = refused["error"]["message"].as_str().unwrap().to_string();
    assert!(!refused.is_empty());

    let driver = Driver::start();
    let c = driver.browser(&tmp.path().join("profile"), false).await;
    viewport(&c, 1280, 800).await;
    c.goto(&server.base).await.unwrap();
    wait_state(&c, &["ready"]).await;
    assert!(!visible(&c, "#key-panel").await);
    assert!(
        text(&c, "#model-summary")
            .await
            .contains(model["run"].as_str().unwrap())
    );
    assert_eq!(count(&c, ".model-class").await, classes);
    let f1 = &model["validation"]["macro_f1"];
    assert!(f1.is_number(), "the tiny run was validated: {model}");
    assert_eq!(
        text(&c, "[data-fact='macro-f1'] dd").await,
        format!("{:.3}", f1.as_f64().unwrap())
    );
    // What the VA head reads (a run's recorded input, issue 20) is on the page.
    let va_input = model["va"]["input"]
        .as_str()
        .expect("the fixture has a VA head");
    assert!(
        text(&c, "[data-fact='va-head'] dd")
            .await
            .ends_with(&format!(", input {va_input}")),
        "{model}"
    );

    // A good file: what the page shows is what the API answers for the same bytes.
    upload(&c, &wav).await;
    wait_state(&c, &["done"]).await;
    assert_result_matches(&c, &model, &answer).await;
    // The audio plays the file; clicking a cell seeks there.
    assert_eq!(
        js(
            &c,
            "return document.getElementById('player').src.startsWith('blob:')"
        )
        .await,
        json!(true)
    );
    let last = answer["segments"].as_array().unwrap().len() - 1;
    let start_s = answer["segments"][last]["start_s"].as_f64().unwrap();
    c.find(Locator::Css(&format!(
        ".timeline-cell[data-index='{last}']"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let t0 = Instant::now();
    loop {
        let t = js(&c, "return document.getElementById('player').currentTime").await;
        let t = t.as_f64().unwrap();
        if t >= start_s - 0.05 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "player at {t}, cell starts at {start_s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    js(&c, "document.getElementById('player').pause(); return null").await;
    js(&c, "window.scrollTo(0, 0); return null").await;
    screenshot(&c, &out.join("page-desktop-1280x800.png"), 1280, 800).await;

    // A text file renamed .mp3: the API's 415 message, no result, and the page stays usable.
    upload(&c, &not_audio).await;
    wait_state(&c, &["error"]).await;
    let shown = text(&c, "#error").await;
    assert!(visible(&c, "#error").await);
    assert!(
        shown.contains(&refused),
        "shown {shown:?}, API said {refused:?}"
    );
    assert!(shown.contains("notes.mp3"), "{shown}");
    assert!(!visible(&c, "#results").await);
    screenshot(&c, &out.join("page-error-1280x800.png"), 1280, 800).await;
    upload(&c, &wav).await;
    wait_state(&c, &["done"]).await;
    assert!(!visible(&c, "#error").await);
    assert_result_matches(&c, &model, &answer).await;
    c.close().await.unwrap();

    // The phone: the same result at 360 px, nothing wider than the screen.
    let c = driver
        .browser(&tmp.path().join("profile-phone"), true)
        .await;
    c.goto(&server.base).await.unwrap();
    wait_state(&c, &["ready"]).await;
    upload(&c, &wav).await;
    wait_state(&c, &["done"]).await;
    assert_result_matches(&c, &model, &answer).await;
    let widths = js(
        &c,
        "return [window.innerWidth, document.documentElement.scrollWidth]",
    )
    .await;
    assert_eq!(widths, json!([360, 360]), "the page is wider than a phone");
    screenshot(&c, &out.join("page-phone-360x740.png"), 360, 740).await;
    js(
        &c,
        "document.getElementById('plane-card').scrollIntoView(); return null",
    )
    .await;
    screenshot(&c, &out.join("page-phone-plane-360x740.png"), 360, 740).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_api_key_the_page_asks_for_it_and_then_shows_the_result() {
    if !browser_or_skip() {
        return;
    }
    const KEY: &str = "page-test-key-7f3a";
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tiny_run(tmp.path());
    let wav = song(&tmp.path().join("synth"), &tmp.path().join("song.wav"));
    let server = Server::start(&run_dir, Some(KEY), out_dir().join("serve-key.log")).await;
    let model = api_model(&server, Some(KEY)).await;
    let classes = model["classes"].as_array().unwrap().len();
    let (status, answer) = api_predict(&server, &wav, "audio/wav", classes, Some(KEY)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, wrong) = api_predict(&server, &wav, "audio/wav", classes, Some("wrong")).await;
    assert_eq!(status, 401, "{wrong}");
    let wrong = wrong["error"]["message"].as_str().unwrap().to_string();

    let driver = Driver::start();
    let c = driver.browser(&tmp.path().join("profile"), false).await;
    viewport(&c, 1280, 800).await;
    c.goto(&server.base).await.unwrap();

    // No key: the page asks for one, and a song waits for it instead of failing silently.
    wait_state(&c, &["needs-key"]).await;
    assert!(visible(&c, "#key-panel").await);
    upload(&c, &wav).await;
    wait_state(&c, &["needs-key"]).await;
    assert!(visible(&c, "#key-panel").await);
    assert!(!visible(&c, "#results").await);

    // A wrong key: the API's 401 message.
    let field = c.find(Locator::Css("#api-key")).await.unwrap();
    field.send_keys("wrong\n").await.unwrap();
    let start = Instant::now();
    while !text(&c, "#error").await.contains(&wrong) {
        assert!(
            start.elapsed() < WAIT,
            "error shown: {:?}",
            text(&c, "#error").await
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(visible(&c, "#key-panel").await);

    // The right key: the waiting song is analysed; the key lives in session storage only.
    field.clear().await.unwrap();
    field.send_keys(&format!("{KEY}\n")).await.unwrap();
    wait_state(&c, &["done"]).await;
    assert!(!visible(&c, "#key-panel").await);
    assert_result_matches(&c, &model, &answer).await;
    assert_eq!(
        js(
            &c,
            "return [sessionStorage.getItem('musav.apiKey'), localStorage.length]"
        )
        .await,
        json!([KEY, 0])
    );
    c.close().await.unwrap();
}
