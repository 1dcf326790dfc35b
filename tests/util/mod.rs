//! Shared helpers of the integration tests: run the real binary, make temp trees.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The musav binary built for this test run.
pub fn musav() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_musav"));
    c.env_remove("MUSAV_DATA_DIR");
    c
}

/// Runs and returns (status ok, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("musav runs");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn shipped_metadata() -> PathBuf {
    repo().join("data/mtg-jamendo-moodtheme")
}

pub fn shipped_labels() -> PathBuf {
    repo().join("data/labels.toml")
}

/// Every file below `dir` with its bytes, for "nothing changed" checks.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// `musav synth ARGS --out out`, which must succeed (`args`: flags and values split at spaces).
pub fn synth(out: &Path, args: &str) {
    let (ok, _, err) = run(musav()
        .arg("synth")
        .args(args.split_whitespace())
        .arg("--out")
        .arg(out));
    assert!(ok, "synth: {err}");
}

/// `musav export --data data --out out`, which must succeed.
pub fn export(data: &Path, out: &Path) {
    let (ok, _, err) = run(musav()
        .arg("export")
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out));
    assert!(ok, "export: {err}");
}

/// `musav train --export export --features features [--cache cache] --out out ARGS` (`args`:
/// flags and values split at spaces).
pub fn train(
    export: &Path,
    features: &Path,
    cache: Option<&Path>,
    out: &Path,
    args: &str,
) -> (bool, String, String) {
    let mut cmd = musav();
    cmd.arg("train")
        .arg("--export")
        .arg(export)
        .arg("--features")
        .arg(features);
    if let Some(cache) = cache {
        cmd.arg("--cache").arg(cache);
    }
    run(cmd.arg("--out").arg(out).args(args.split_whitespace()))
}
