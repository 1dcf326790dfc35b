//! Shared fixtures of the serve tests: two tiny trained runs (A and B, with VA heads) on a small
//! synthetic corpus, made once per build of the binary and reused by every test process, and
//! encoders for MP3/OGG/FLAC copies of a WAV (Debian's lame, vorbis-tools and flac, installed by
//! scripts/test.sh).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../util/mod.rs"]
mod util;

pub use util::{musav, run};

/// The corpus and runs, ready: `root/synth`, `root/run_a`, `root/run_b`.
pub struct Fixture {
    pub root: PathBuf,
}

impl Fixture {
    pub fn synth(&self) -> PathBuf {
        self.root.join("synth")
    }
    pub fn run_a(&self) -> PathBuf {
        self.root.join("run_a")
    }
    pub fn run_b(&self) -> PathBuf {
        self.root.join("run_b")
    }
    /// The corpus's WAVs, sorted.
    pub fn wavs(&self) -> Vec<PathBuf> {
        let mut out = walk(&self.synth(), "wav");
        out.sort();
        out
    }
}

fn walk(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p, ext));
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out
}

fn ok(cmd: &mut Command) {
    let (ok, out, err) = run(cmd);
    assert!(ok, "{cmd:?} failed:\n{out}\n{err}");
}

fn build(root: &Path) {
    let p = |s: &str| root.join(s);
    util::synth(&p("synth"), "--per-label 6 --seconds 7 --labels-limit 3");
    util::export(&p("synth"), &p("export"));
    for (name, seed) in [("run_a", "1"), ("run_b", "2")] {
        let (trained, out, err) = util::train(
            &p("export"),
            &p("synth"),
            Some(&p("cache")),
            &p(name),
            &format!("--channels 4,8 --embedding 8 --epochs 2 --batch-size 4 --seed {seed}"),
        );
        assert!(trained, "train {name} failed:\n{out}\n{err}");
        ok(musav()
            .args(["train-va", "--epochs", "20", "--seed", seed, "--run"])
            .arg(p(name)));
    }
}

/// Removes the build lock when the builder is done, or panics.
struct Lock(PathBuf);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The fixture for this build of musav: made by the first test process that asks (the others wait
/// for it), then shared.
pub fn fixture() -> Fixture {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_musav"));
    let meta = std::fs::metadata(&bin).unwrap();
    let stamp = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap();
    let name = format!("serve-fixture-{stamp}-{}", meta.len());
    let root = base.join(&name);
    let lock = base.join(format!("{name}.lock"));
    let done = |r: &Path| r.join("run_b/va/va_head.json").exists();
    loop {
        if done(&root) {
            return Fixture { root };
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => {
                let _held = Lock(lock.clone());
                let staging = tempfile::Builder::new()
                    .prefix(".serve-fixture-")
                    .tempdir_in(&base)
                    .unwrap();
                build(staging.path());
                let kept = staging.keep();
                if std::fs::rename(&kept, &root).is_err() {
                    let _ = std::fs::remove_dir_all(&kept);
                }
                assert!(done(&root));
                remove_old_fixtures(&base, &name);
                return Fixture { root };
            }
            Err(_) => {
                // A builder that died without cleaning up leaves an old lock.
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 900);
                if stale {
                    let _ = std::fs::remove_file(&lock);
                }
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
        }
    }
}

/// Deletes the fixtures of earlier builds (one per build, ~7 MB each, piling up in the target
/// directory), leaving `current` and any made in the last hour, which a test process of another
/// build may still be reading.
fn remove_old_fixtures(base: &Path, current: &str) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if name.starts_with("serve-fixture-") && !name.ends_with(".lock") && name != current && old
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `wav` encoded as `ext` (mp3, ogg or flac) into `dir`.
pub fn encode(wav: &Path, ext: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!(
        "{}.{ext}",
        wav.file_stem().unwrap().to_string_lossy()
    ));
    let mut cmd = match ext {
        "mp3" => {
            let mut c = Command::new("lame");
            c.args(["--quiet", "-b", "64"]).arg(wav).arg(&out);
            c
        }
        "ogg" => {
            let mut c = Command::new("oggenc");
            c.arg("-Q").arg(wav).arg("-o").arg(&out);
            c
        }
        "flac" => {
            let mut c = Command::new("flac");
            c.args(["-s", "-f"]).arg(wav).arg("-o").arg(&out);
            c
        }
        other => panic!("no encoder for {other}"),
    };
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("{cmd:?}: {e}; run scripts/test.sh (it installs lame, vorbis-tools, flac)")
    });
    assert!(status.success(), "{cmd:?} failed");
    out
}

/// `musav predict --format json` of `files`: the answers by file path.
pub fn cli_predict(run_dir: &Path, files: &[PathBuf], top: usize) -> Vec<serde_json::Value> {
    let (ok, out, err) = run(musav()
        .args([
            "predict",
            "--format",
            "json",
            "--top",
            &top.to_string(),
            "--run",
        ])
        .arg(run_dir)
        .args(files));
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["predictions"].as_array().unwrap().clone()
}

/// Every label score and the VA point of two answers agree within `tol`.
pub fn assert_same_scores(a: &serde_json::Value, b: &serde_json::Value, tol: f64) {
    let scores = |v: &serde_json::Value| -> Vec<(u64, f64)> {
        let mut s: Vec<(u64, f64)> = v["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["id"].as_u64().unwrap(), l["score"].as_f64().unwrap()))
            .collect();
        s.sort_by_key(|x| x.0);
        s
    };
    let (sa, sb) = (scores(a), scores(b));
    assert_eq!(sa.len(), sb.len(), "{a}\n{b}");
    for ((ia, x), (ib, y)) in sa.iter().zip(&sb) {
        assert_eq!(ia, ib);
        assert!((x - y).abs() <= tol, "label {ia}: {x} vs {y}");
    }
    for k in ["valence", "arousal"] {
        let (x, y) = (a["va"][k].as_f64().unwrap(), b["va"][k].as_f64().unwrap());
        assert!((x - y).abs() <= tol, "{k}: {x} vs {y}");
    }
}

/// A multipart/form-data body with one part per `(field, file name, bytes)`, and its Content-Type.
pub fn multipart_body(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "musavtestboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (field, file, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A copy of `wav` repeated to `seconds` (same rate and channels), written to `out`.
pub fn tiled_wav(wav: &Path, seconds: f32, out: &Path) -> PathBuf {
    let mut r = hound::WavReader::open(wav).unwrap();
    let spec = r.spec();
    let samples: Vec<i32> = r.samples::<i32>().map(Result::unwrap).collect();
    let n = (seconds * spec.sample_rate as f32) as usize * spec.channels as usize;
    let mut w = hound::WavWriter::create(out, spec).unwrap();
    for i in 0..n {
        w.write_sample(samples[i % samples.len()]).unwrap();
    }
    w.finalize().unwrap();
    out.to_path_buf()
}

/// Copies a run directory (files get fresh modification times, as a newly finished run has).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}
