//! What every request shares: the served model behind an `Arc` that a reload swaps (requests in
//! flight keep the `Arc` they took, so they finish on the old model), the limits, the API key, the
//! two semaphores that bound the work, and the metrics.
//!
//! Admission (`workers + queue` permits, taken with `try_acquire`) decides at once whether a
//! prediction request is accepted or gets 503; the worker permits (`workers`) are awaited, so at
//! most `workers` predictions run at a time and the rest wait in the queue.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::card::{LimitsCard, ModelCard, model_card};
use super::error::ApiError;
use super::metrics::Metrics;
use crate::train::predict::Predictor;

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_upload_mb: u64,
    pub max_seconds: f64,
    pub timeout: Duration,
    pub workers: usize,
    pub queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload_mb: 50,
            max_seconds: 900.0,
            timeout: Duration::from_secs(60),
            workers: 2,
            queue: 8,
        }
    }
}

impl Limits {
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mb.saturating_mul(1 << 20)
    }
}

/// Where the served model comes from.
#[derive(Debug, Clone)]
pub enum RunSource {
    /// One run directory (a reload loads it again).
    Run(PathBuf),
    /// The newest finished run under this directory.
    Runs(PathBuf),
}

/// A run as loaded: when its files last changed tells a watcher whether it is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey {
    pub dir: PathBuf,
    pub modified: Option<SystemTime>,
}

/// The served model and its card.
#[derive(Debug)]
pub struct Served {
    pub predictor: Predictor,
    pub key: RunKey,
}

impl Served {
    /// Loads `dir` (blocking: call it off the async workers).
    pub fn load(dir: &Path) -> Result<Served, crate::train::predict::LoadError> {
        let predictor = Predictor::load(dir)?;
        Ok(Served {
            key: super::watch::run_key(dir),
            predictor,
        })
    }

    pub fn run(&self) -> String {
        self.predictor.run_name()
    }
}

/// A prediction request's place: released when the request is done.
pub struct Admission {
    permit: OwnedSemaphorePermit,
}

pub struct AppState {
    model: RwLock<Option<Arc<Served>>>,
    pub limits: Limits,
    /// SHA-256 of the API key: compared as digests, in constant time.
    api_key: Option<[u8; 32]>,
    pub source: Option<RunSource>,
    /// The one origin CORS allows (`--cors`), if any.
    pub cors: Option<String>,
    admission: Arc<Semaphore>,
    workers: Arc<Semaphore>,
    pub metrics: Metrics,
    /// One load at a time (reload endpoint and watcher).
    pub loading: tokio::sync::Mutex<()>,
    /// The newest run that failed to load, so the watcher does not retry it every poll.
    pub refused: Mutex<Option<RunKey>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("limits", &self.limits)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl AppState {
    pub fn new(limits: Limits, api_key: Option<&str>, source: Option<RunSource>) -> AppState {
        let workers = limits.workers.max(1);
        AppState {
            model: RwLock::new(None),
            api_key: api_key.map(digest),
            source,
            cors: None,
            admission: Arc::new(Semaphore::new(workers + limits.queue)),
            workers: Arc::new(Semaphore::new(workers)),
            metrics: Metrics::new(),
            loading: tokio::sync::Mutex::new(()),
            refused: Mutex::new(None),
            limits,
        }
    }

    pub fn with_cors(mut self, origin: Option<String>) -> AppState {
        self.cors = origin;
        self
    }

    pub fn api_key_required(&self) -> bool {
        self.api_key.is_some()
    }

    /// Whether `given` is the key; the time taken does not depend on where they differ.
    pub fn key_matches(&self, given: &str) -> bool {
        let Some(want) = &self.api_key else {
            return true;
        };
        let got = digest(given);
        want.iter().zip(&got).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    pub fn current(&self) -> Option<Arc<Served>> {
        self.model.read().ok().and_then(|m| m.clone())
    }

    /// Installs `served`; returns the model it replaces.
    pub fn swap(&self, served: Served) -> Option<Arc<Served>> {
        self.metrics.set_run(&served.run());
        let new = Arc::new(served);
        match self.model.write() {
            Ok(mut m) => m.replace(new),
            Err(poisoned) => poisoned.into_inner().replace(new),
        }
    }

    /// A place for a prediction request, or 503 at once when every worker and queue slot is taken.
    pub fn admit(&self) -> Result<Admission, ApiError> {
        let permit = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy)?;
        Ok(Admission { permit })
    }

    pub fn limits_card(&self) -> LimitsCard {
        LimitsCard {
            max_upload_mb: self.limits.max_upload_mb,
            max_seconds: self.limits.max_seconds,
            timeout_s: self.limits.timeout.as_secs_f64(),
            workers: self.limits.workers.max(1),
            queue: self.limits.queue,
            api_key_required: self.api_key_required(),
        }
    }

    pub fn card(&self) -> Result<ModelCard, ApiError> {
        let served = self.current().ok_or(ApiError::NotReady)?;
        Ok(model_card(&served.predictor, self.limits_card()))
    }

    /// Runs `work` on the current model on a blocking thread once a worker is free. The admission
    /// (and whatever `work` owns, such as the upload's temp files) is released when `work` ends,
    /// even if the request was abandoned (timeout, client gone) meanwhile.
    pub async fn run_model<T, F>(&self, admission: Admission, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Served) -> T + Send + 'static,
    {
        self.metrics.queued.inc();
        let worker = self.workers.clone().acquire_owned().await;
        self.metrics.queued.dec();
        let worker = worker.map_err(|e| ApiError::Internal(e.to_string()))?;
        let served = self.current().ok_or(ApiError::NotReady)?;
        tokio::task::spawn_blocking(move || {
            let _held = (admission.permit, worker);
            work(&served)
        })
        .await
        .map_err(|e| {
            let detail = match e.try_into_panic() {
                Ok(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            ApiError::Internal(format!("the model work panicked: {detail}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_compared_whole() {
        let st = AppState::new(Limits::default(), Some("s3cret"), None);
        assert!(st.key_matches("s3cret"));
        assert!(!st.key_matches("s3cre"));
        assert!(!st.key_matches("s3cret "));
        assert!(!st.key_matches(""));
        let open = AppState::new(Limits::default(), None, None);
        assert!(open.key_matches("anything"));
    }

    #[test]
    fn admission_is_bounded_by_workers_plus_queue() {
        let limits = Limits {
            workers: 1,
            queue: 2,
            ..Limits::default()
        };
        let st = AppState::new(limits, None, None);
        let held: Vec<_> = (0..3).map(|_| st.admit().unwrap()).collect();
        assert!(matches!(st.admit(), Err(ApiError::Busy)));
        drop(held);
        assert!(st.admit().is_ok());
    }
}
