//! End to end: the real binary in a detached tmux session at 100×30. Keys rename a label and move a
//! tag to noise, save and quit; then the saved map is checked and `musav export` on it must give the
//! counts the status bar showed.
//!
//! A third test runs the whole relabel → retrain → compare loop from the training screen on a tiny
//! synthetic corpus and checks both run directories on disk.
//!
//! Needs tmux (scripts/tui-e2e.sh installs it). Without tmux the test fails when `CI` is set and is
//! skipped, with the reason printed, otherwise.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use musav::curation::labels::LabelMap;

/// A private tmux server (its own socket), killed when the test ends however it ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn run(&self, args: &[&str]) -> bool {
        self.cmd()
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn capture(&self) -> String {
        let o = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "review"])
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Polls the screen until `pred` holds; fails with the last screen after `limit`.
    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.capture();
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for {what}; the screen was:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "review"];
        args.extend(keys);
        assert!(self.run(&args), "tmux send-keys {keys:?} failed");
    }

    fn text(&self, text: &str) {
        assert!(
            self.run(&["send-keys", "-t", "review", "-l", text]),
            "tmux send-keys -l {text:?} failed"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// True when tmux runs; otherwise fails under CI and says why it skips elsewhere.
fn tmux_or_skip() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("tmux is not installed; scripts/tui-e2e.sh installs it (apt-get install tmux)");
        }
        eprintln!("skipped: tmux is not installed (scripts/tui-e2e.sh installs it)");
    }
    ok
}

/// The whole first frame: the labels pane and the status bar down to its last line (key hints or a
/// message). ratatui writes a frame's changed cells top to bottom, and a capture can land in the
/// middle of that (CI once caught the labels pane drawn over the loading screen, no status bar yet).
fn first_frame(tmux: &Tmux, limit: Duration) -> String {
    tmux.wait_for("the first frame", limit, |s| {
        let lines: Vec<&str> = s.lines().collect();
        let last_drawn = lines
            .iter()
            .position(|l| l.starts_with("per label "))
            .and_then(|i| lines.get(i + 1))
            .is_some_and(|l| !l.trim().is_empty());
        s.contains("Labels (11)") && last_drawn
    })
}

/// Quits with `q` (after saving) and waits for the process to end.
fn save_and_quit(tmux: &Tmux, limit: Duration) {
    tmux.keys(&["s"]);
    tmux.wait_for("the save", limit, |s| {
        s.contains("saved ") && s.contains(" · saved")
    });
    quit(tmux, limit);
}

/// Presses `q` (nothing unsaved) and waits for the process to end.
fn quit(tmux: &Tmux, limit: Duration) {
    tmux.keys(&["q"]);
    let start = Instant::now();
    while tmux.run(&["has-session", "-t", "review"]) {
        assert!(
            start.elapsed() < limit,
            "musav did not quit:\n{}",
            tmux.capture()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `single-tag 9590 · noise 2023 · exported 7567` from the status bar.
fn status_counts(screen: &str) -> (usize, usize, usize) {
    let line = screen
        .lines()
        .find(|l| l.starts_with("export single-tag"))
        .unwrap_or_else(|| panic!("no status bar on screen:\n{screen}"));
    let num_after = |word: &str| -> usize {
        let rest = &line[line
            .find(word)
            .unwrap_or_else(|| panic!("{word} in {line}"))
            + word.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (
        num_after("single-tag "),
        num_after("noise "),
        num_after("exported "),
    )
}

/// `per label 646 1180 …` from the status bar.
fn per_label_counts(screen: &str) -> Vec<usize> {
    let line = screen
        .lines()
        .find(|l| l.starts_with("per label "))
        .unwrap_or_else(|| panic!("no per-label counts on screen:\n{screen}"));
    line["per label ".len()..]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

/// Starts `musav review` on `map` in a private tmux server named after the test; `env` and `args`
/// are added to the command line.
fn start(test: &str, dir: &Path, map: &Path, env: &str, args: &str) -> Tmux {
    start_on(
        test,
        &util::shipped_metadata(),
        (100, 30),
        dir,
        map,
        env,
        args,
    )
}

/// As [`start`], on other metadata and at another terminal size.
fn start_on(
    test: &str,
    data: &Path,
    (w, h): (u16, u16),
    dir: &Path,
    map: &Path,
    env: &str,
    args: &str,
) -> Tmux {
    let tmux = Tmux {
        socket: format!("musav-e2e-{}-{test}", std::process::id()),
    };
    // A key file in the user's config must not change the keys this test sends.
    let cmd = format!(
        "env XDG_CONFIG_HOME={} {env} {} review --data {} --labels {} --export-dir {} {args}",
        dir.display(),
        env!("CARGO_BIN_EXE_musav"),
        data.display(),
        map.display(),
        dir.join("export").display()
    );
    assert!(
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "review",
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
            "-c",
            &dir.display().to_string(),
            &cmd,
        ]),
        "tmux new-session failed"
    );
    tmux
}

#[test]
fn rename_and_move_to_noise_then_save_and_export_agree_with_the_status_bar() {
    if !tmux_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let map: PathBuf = dir.path().join("my_labels.toml");
    std::fs::copy(util::shipped_labels(), &map).unwrap();
    let tmux = start("edit", dir.path(), &map, "", "");
    let limit = Duration::from_secs(20);

    let s = first_frame(&tmux, limit);
    assert_eq!(status_counts(&s), (9590, 2023, 7567));

    // Rename the first label.
    tmux.keys(&["r"]);
    tmux.wait_for("the rename popup", limit, |s| s.contains("Rename label"));
    tmux.keys(&["C-u"]);
    tmux.text("Gloomy");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the new name", limit, |s| {
        s.contains("renamed label to \"Gloomy\"")
    });

    // Move its first tag (dark) to noise.
    tmux.keys(&["Tab", "x"]);
    let s = tmux.wait_for("the move", limit, |s| s.contains("moved dark to noise"));
    assert!(s.contains("● unsaved"), "{s}");
    let shown = status_counts(&s);
    let shown_per_label = per_label_counts(&s);
    assert_ne!(shown, (9590, 2023, 7567), "the counts did not change:\n{s}");

    save_and_quit(&tmux, limit);

    let saved = LabelMap::load(&map).unwrap();
    assert_eq!(saved.labels[0].name, "Gloomy");
    assert_eq!(saved.labels[0].named_by, "manual");
    assert!(!saved.labels[0].tags.contains(&"dark".to_string()));
    assert!(saved.noise.contains(&"dark".to_string()));

    let out = dir.path().join("exported");
    let (ok, stdout, stderr) = util::run(util::musav().args([
        "export",
        "--data",
        &util::shipped_metadata().display().to_string(),
        "--labels",
        &map.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--format",
        "json",
    ]));
    assert!(ok, "musav export failed: {stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let n = |k: &str| summary[k].as_u64().unwrap() as usize;
    assert_eq!(
        (n("single_tag_tracks"), n("noise_tracks"), n("exported")),
        shown,
        "musav export disagrees with the status bar"
    );
    let per_label: Vec<usize> = summary["per_label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["tracks"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(per_label, shown_per_label);
    assert_eq!(summary["per_label"][0]["name"], "Gloomy");
}

/// The real model behind llama.cpp's server (`eval "$(scripts/llm-server.sh start)"` sets
/// MUSAV_TEST_LLM_URL / MUSAV_TEST_LLM_MODEL): `n` names the selected label in the background in
/// the configured mode (MUSAV_LLM_NAMING=grounded here), the status bar says which, and the saved map carries a name the model chose (a fallback name fails the test).
#[test]
fn n_names_the_selected_label_with_the_real_model() {
    let url = std::env::var("MUSAV_TEST_LLM_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let Some(url) = url else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but MUSAV_TEST_LLM_URL is not: run `scripts/llm-server.sh install` and \
                 `eval \"$(scripts/llm-server.sh start)\"` before the tests"
            );
        }
        eprintln!(
            "skipped: MUSAV_TEST_LLM_URL is not set (eval \"$(scripts/llm-server.sh start)\")"
        );
        return;
    };
    if !tmux_or_skip() {
        return;
    }
    let model = std::env::var("MUSAV_TEST_LLM_MODEL").unwrap_or_else(|_| "default".into());
    let dir = tempfile::tempdir().unwrap();
    let map: PathBuf = dir.path().join("my_labels.toml");
    std::fs::copy(util::shipped_labels(), &map).unwrap();
    let tmux = start(
        "llm",
        dir.path(),
        &map,
        &format!("MUSAV_LLM_URL={url} MUSAV_LLM_MODEL={model} MUSAV_LLM_NAMING=grounded"),
        &format!(
            "--llm-cache {} --llm-timeout 120 --prompts {}",
            dir.path().join("cache").display(),
            util::repo().join("prompts").display()
        ),
    );
    let limit = Duration::from_secs(20);
    let s = first_frame(&tmux, limit);
    assert!(s.contains("n name (grounded)"), "{s}");
    tmux.keys(&["n"]);
    let s = tmux.wait_for("the answer", Duration::from_secs(300), |s| {
        s.contains("LLM named") || s.contains("LLM naming failed")
    });
    assert!(
        s.contains("LLM named 1 label(s) (1 by the model, grounded)"),
        "the model's answer was not used: {s}"
    );
    eprintln!("{}", s.lines().last().unwrap_or_default());
    save_and_quit(&tmux, limit);
    let saved = LabelMap::load(&map).unwrap();
    let shipped = LabelMap::load(&util::shipped_labels()).unwrap();
    let by = &saved.labels[0].named_by;
    assert_eq!(by.as_str(), "llm", "{:?}", saved.labels[0]);
    assert_eq!(by.mode.as_deref(), Some("grounded"));
    assert_eq!(by.model.as_deref(), Some(model.as_str()));
    let ds = musav::dataset::Dataset::load(&util::shipped_metadata(), &Default::default()).unwrap();
    let candidates = musav::llm::candidates::label_candidates(&ds, &shipped.labels[0].tags);
    assert!(
        candidates.contains(&saved.labels[0].name),
        "{:?} is not among {candidates:?}",
        saved.labels[0].name
    );
    let cached = std::fs::read_dir(dir.path().join("cache"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        cached > 0,
        "no answer was cached: the endpoint was never reached"
    );
    assert_eq!(saved.labels[0].tags, shipped.labels[0].tags);
    assert_eq!(saved.labels[1..], shipped.labels[1..]);
}

/// Every file a finished run of the loop leaves in its directory (checked on the first run before
/// its report is removed, and on the second).
const RUN_FILES: [&str; 12] = [
    "export/single_label.csv",
    "run.json",
    "labels.toml",
    "model.mpk",
    "metrics.csv",
    "report_validation.json",
    "confusion_validation.png",
    "va/va_head.mpk",
    "embeddings_levels_validation.json",
    "va_report_validation.json",
    "va_plane_predictions.png",
    "log.txt",
];

#[test]
fn the_training_screen_runs_the_loop_twice_and_compares_the_runs() {
    if !tmux_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let synth = dir.path().join("synth");
    let (ok, _, err) = util::run(util::musav().args([
        "synth",
        "--per-label",
        "8",
        "--seconds",
        "3",
        "--labels-limit",
        "3",
        "--out",
        &synth.display().to_string(),
    ]));
    assert!(ok, "musav synth failed: {err}");
    let map: PathBuf = dir.path().join("my_labels.toml");
    std::fs::copy(util::shipped_labels(), &map).unwrap();
    let runs = dir.path().join("runs");
    let tmux = start_on(
        "train",
        &synth,
        (120, 40),
        dir.path(),
        &map,
        "",
        &format!(
            "--features {} --runs {} --epochs 2 --width 4",
            synth.display(),
            runs.display()
        ),
    );
    let limit = Duration::from_secs(20);
    let train_limit = Duration::from_secs(600);
    first_frame(&tmux, limit);

    // First run, on the map as it is.
    tmux.keys(&["t"]);
    tmux.wait_for("the training screen", limit, |s| {
        s.contains("ready: s starts")
    });
    tmux.keys(&["s"]);
    tmux.wait_for("the run to start", limit, |s| s.contains("running:"));
    let s = tmux.wait_for("the first run to finish", train_limit, |s| {
        s.contains("finished") || s.contains("failed")
    });
    assert!(s.contains("run-001: validation macro-F1"), "{s}");
    let complete = |run: &str| {
        for f in RUN_FILES {
            let p = runs.join(run).join(f);
            assert!(p.is_file(), "{} is missing", p.display());
        }
    };
    complete("run-001");
    assert!(s.contains("model CCC V"), "the VA plane is not shown:\n{s}");

    // Relabel: rename the first label (unsaved), then train again: the UI asks to save first.
    tmux.keys(&["t"]);
    first_frame(&tmux, limit);
    tmux.keys(&["r"]);
    tmux.wait_for("the rename popup", limit, |s| s.contains("Rename label"));
    tmux.keys(&["C-u"]);
    tmux.text("Relabeled");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the new name", limit, |s| s.contains("\"Relabeled\""));
    // Without its saved report the first run is evaluated again in memory, never written to.
    std::fs::remove_file(runs.join("run-001/report_validation.json")).unwrap();
    let first_run = util::snapshot(&runs.join("run-001"));
    tmux.keys(&["t"]);
    tmux.wait_for("the training screen", limit, |s| s.contains("run-002"));
    tmux.keys(&["s"]);
    tmux.wait_for("the save question", limit, |s| s.contains("save and train"));
    tmux.keys(&["y"]);
    let s = tmux.wait_for("the second run to finish", train_limit, |s| {
        s.contains("run-002: validation macro-F1") || s.contains("failed")
    });
    assert!(!s.contains("failed"), "{s}");
    // The comparison with the first run: the metric table and the label map's change.
    assert!(s.contains("B-A"), "no compare table:\n{s}");
    assert!(s.contains("macro-F1"), "{s}");
    assert!(s.contains("renamed \"Relabeled\""), "{s}");
    // The report view: per-label table and the confusion grid.
    tmux.keys(&["BTab", "BTab"]);
    let s = tmux.wait_for("the report", limit, |s| {
        s.contains("confusion · true ↓ · predicted →")
    });
    assert!(s.contains("precision") || s.contains("prec"), "{s}");
    assert!(s.contains("Relabeled"), "{s}");
    quit(&tmux, limit);

    let saved = LabelMap::load(&map).unwrap();
    assert_eq!(saved.labels[0].name, "Relabeled");
    complete("run-002");
    assert_eq!(util::snapshot(&runs.join("run-001")), first_run);
    let log = std::fs::read_to_string(runs.join("run-002/log.txt")).unwrap();
    assert!(
        log.contains("stage: comparing with the previous run"),
        "{log}"
    );
    assert!(
        log.contains("finished: MaxEpochs") || log.contains("finished: EarlyStopping"),
        "{log}"
    );
    // Each run trained on its own export of the map as it was then.
    let first = LabelMap::load(&runs.join("run-001/labels.toml")).unwrap();
    let second = LabelMap::load(&runs.join("run-002/labels.toml")).unwrap();
    assert_ne!(first.labels[0].name, "Relabeled");
    assert_eq!(second, saved);
}
