//! Reload: which run to serve (the one given, or the newest finished run under `--runs`), loading
//! it off the async workers, and the atomic swap. A run that fails to load is refused with its
//! reason and the old model keeps serving; with `--runs` a watcher polls for newer finished runs,
//! so a retrain from `musav train` or the review UI is served without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::error::ApiError;
use super::state::{AppState, RunKey, RunSource, Served};
use crate::train::artifacts::{CHECKPOINT, LoopState, RUN_JSON, RunDir, STATE_JSON};

/// The retrain loop's log, whose last line says how the run ended (`crate::retrain::LOG`).
const LOG: &str = crate::retrain::LOG;

/// The run's identity for reloads: its directory and when its weights or VA head last changed.
pub fn run_key(dir: &Path) -> RunKey {
    let modified = ["model.mpk", "va/va_head.json", "va/va_head.mpk"]
        .iter()
        .filter_map(|f| {
            std::fs::metadata(dir.join(f))
                .and_then(|m| m.modified())
                .ok()
        })
        .max();
    RunKey {
        dir: dir.to_path_buf(),
        modified,
    }
}

/// Whether `dir` holds a run that has stopped training for good: weights exist, and the retrain
/// loop's log says it finished (not cancelled), or, without a log, the last checkpoint reached
/// the epoch budget or early stopping. A run still training is not served half-way.
pub fn is_finished(dir: &Path) -> bool {
    let run = RunDir::new(dir);
    if !run.path(RUN_JSON).is_file() || !run.path("model.mpk").is_file() {
        return false;
    }
    if let Ok(log) = std::fs::read_to_string(run.path(LOG)) {
        return log
            .lines()
            .any(|l| l.starts_with("finished:") && !l.contains("Cancelled"));
    }
    let state: Result<LoopState, _> = RunDir::new(run.path(CHECKPOINT)).read_json(STATE_JSON);
    match (state, run.info()) {
        (Ok(s), Ok(info)) => s.epoch >= info.train.epochs || s.since_best >= info.train.patience,
        // A run copied without its checkpoint (or a damaged one): offered, and refused if broken.
        _ => true,
    }
}

/// The finished run under `runs` whose weights changed last (ties: the greater name).
pub fn newest_finished(runs: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(runs).ok()?;
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && is_finished(p))
        .map(|p| (run_key(&p).modified.unwrap_or(SystemTime::UNIX_EPOCH), p))
        .max()
        .map(|(_, p)| p)
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub run: String,
    pub previous: Option<String>,
}

/// The run a reload should load now.
fn target(source: &RunSource) -> Result<PathBuf, ApiError> {
    match source {
        RunSource::Run(dir) => Ok(dir.clone()),
        RunSource::Runs(dir) => newest_finished(dir).ok_or_else(|| {
            ApiError::RunRefused(format!(
                "{}: no finished run yet (a run directory with model.mpk whose training ended)",
                dir.display()
            ))
        }),
    }
}

/// Loads `dir` and swaps it in; on failure the current model stays and the reason is returned.
pub async fn load_into(state: &Arc<AppState>, dir: PathBuf) -> Result<Reloaded, ApiError> {
    let _one = state.loading.lock().await;
    let key = run_key(&dir);
    let loaded = tokio::task::spawn_blocking(move || Served::load(&dir))
        .await
        .map_err(|e| ApiError::Internal(format!("loading the run panicked: {e}")))?;
    match loaded {
        Ok(served) => {
            let run = served.run();
            let previous = state.swap(served).map(|p| p.run());
            if let Ok(mut r) = state.refused.lock() {
                *r = None;
            }
            eprintln!("musav serve: serving run {run}");
            Ok(Reloaded { run, previous })
        }
        Err(e) => {
            if let Ok(mut r) = state.refused.lock() {
                *r = Some(key);
            }
            let kept = state
                .current()
                .map_or("no model".to_string(), |s| format!("run {}", s.run()));
            eprintln!("musav serve: refused to load the run: {e}; still serving {kept}");
            Err(ApiError::RunRefused(format!(
                "the run cannot be loaded: {e}; still serving {kept}"
            )))
        }
    }
}

/// `POST /v1/model/reload`: the run again, or the newest finished one under `--runs`.
pub async fn reload(state: &Arc<AppState>) -> Result<Reloaded, ApiError> {
    let source = state
        .source
        .clone()
        .ok_or_else(|| ApiError::RunRefused("the server was started without a run".into()))?;
    let dir = target(&source)?;
    load_into(state, dir).await
}

/// With `--runs`: every `every`, serve the newest finished run if it is not the one served (and
/// has not already been refused as it is now).
pub async fn watch(state: Arc<AppState>, every: Duration) {
    let Some(RunSource::Runs(runs)) = state.source.clone() else {
        return;
    };
    loop {
        let newest = {
            let runs = runs.clone();
            tokio::task::spawn_blocking(move || newest_finished(&runs).map(|d| (run_key(&d), d)))
                .await
                .ok()
                .flatten()
        };
        if let Some((key, dir)) = newest {
            let current = state.current().map(|s| s.key.clone());
            let refused = state.refused.lock().ok().and_then(|r| r.clone());
            if current.as_ref() != Some(&key) && refused.as_ref() != Some(&key) {
                let _ = load_into(&state, dir).await;
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_runs_that_stopped_training_are_finished() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run-001");
        std::fs::create_dir_all(&run).unwrap();
        assert!(!is_finished(&run));
        std::fs::write(run.join("run.json"), "{}").unwrap();
        std::fs::write(run.join("model.mpk"), "w").unwrap();
        std::fs::write(run.join(LOG), "stage: training the ResNet\n").unwrap();
        assert!(!is_finished(&run), "a retrain still running");
        std::fs::write(run.join(LOG), "finished: Cancelled\n").unwrap();
        assert!(!is_finished(&run), "a cancelled retrain");
        std::fs::write(run.join(LOG), "stage: x\nfinished: MaxEpochs\n").unwrap();
        assert!(is_finished(&run));
        assert_eq!(newest_finished(tmp.path()), Some(run));
        assert_eq!(newest_finished(&tmp.path().join("none")), None);
    }
}
