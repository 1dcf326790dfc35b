//! The run directory: everything needed to reuse, resume, validate or compare a training run.
//!
//! ```text
//! RUN_DIR/run.json             export, features and their convention, label-map hash, classes,
//!                              model + training config
//! RUN_DIR/labels.toml          the export's label map, copied
//! RUN_DIR/export_summary.json  the export's summary, copied
//! RUN_DIR/metrics.csv          one row per epoch
//! RUN_DIR/skipped.csv          tracks left out (missing or corrupt features) and why
//! RUN_DIR/model.mpk            best epoch's weights (validation macro-F1)
//! RUN_DIR/checkpoint/          last epoch: model.mpk, optim.mpk, state.json (for --resume)
//! RUN_DIR/report_<split>.json  `musav validate` output, with confusion_<split>.png
//! ```
//! Every file is written atomically (temp + rename), the checkpoint directory as a whole.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Record, Recorder};
use serde::{Deserialize, Serialize};

use super::data::{ChunkConfig, Classes, Skipped};
use super::run::{EpochRecord, TrainConfig};
use crate::features::Convention;
use crate::model::ops::ModelBackend;
use crate::model::resnet::{ResNet, ResNetConfig};

pub const RUN_JSON: &str = "run.json";
pub const LABELS_TOML: &str = "labels.toml";
pub const EXPORT_SUMMARY_JSON: &str = "export_summary.json";
pub const METRICS_CSV: &str = "metrics.csv";
pub const SKIPPED_CSV: &str = "skipped.csv";
pub const MODEL: &str = "model";
pub const CHECKPOINT: &str = "checkpoint";
pub const OPTIM: &str = "optim";
pub const STATE_JSON: &str = "state.json";

pub type Rec = NamedMpkFileRecorder<FullPrecisionSettings>;

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: unreadable ({message}); the run directory is damaged, retrain with `musav train`"
    )]
    Parse { path: PathBuf, message: String },
    #[error("{path}: cannot write or read the weights: {message}")]
    Record { path: PathBuf, message: String },
    #[error(
        "{path}: not a musav run directory (no run.json); point --run at a directory made by `musav train`"
    )]
    NotARun { path: PathBuf },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArtifactError + '_ {
    move |source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a run was trained on and with; written once when the run starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub export: PathBuf,
    pub features: String,
    pub label_map_sha256: String,
    pub classes: Classes,
    pub model: ResNetConfig,
    pub train: TrainConfig,
    pub chunk: ChunkConfig,
    /// How the features were computed; every later use of the run computes them the same way.
    /// A run.json written before conventions were recorded was trained on librosa's.
    #[serde(default = "Convention::legacy")]
    pub convention: Convention,
}

/// Loop state saved with the last checkpoint, so `--resume` continues where the run stopped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoopState {
    /// Last finished epoch (1-based).
    pub epoch: usize,
    pub best_macro_f1: f64,
    pub best_epoch: usize,
    pub since_best: usize,
    pub history: Vec<EpochRecord>,
}

#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn exists(&self) -> bool {
        self.path(RUN_JSON).exists()
    }

    pub fn has_checkpoint(&self) -> bool {
        self.root.join(CHECKPOINT).join(STATE_JSON).exists()
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), ArtifactError> {
        let path = self.path(name);
        let text = serde_json::to_string_pretty(value).map_err(|e| ArtifactError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        crate::fsio::write_atomic(&path, text.as_bytes()).map_err(io(&path))
    }

    pub fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<T, ArtifactError> {
        let path = self.path(name);
        if name == RUN_JSON && !path.exists() {
            return Err(ArtifactError::NotARun {
                path: self.root.clone(),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text).map_err(|e| ArtifactError::Parse {
            path,
            message: e.to_string(),
        })
    }

    pub fn write_text(&self, name: &str, text: &str) -> Result<(), ArtifactError> {
        let path = self.path(name);
        crate::fsio::write_atomic(&path, text.as_bytes()).map_err(io(&path))
    }

    pub fn info(&self) -> Result<RunInfo, ArtifactError> {
        self.read_json(RUN_JSON)
    }

    /// Raises the run's epoch budget so that a resume trains further than the run was first set
    /// to (the learning-rate schedule then stretches over the new total). Never lowers it.
    pub fn extend_epochs(&self, epochs: usize) -> Result<bool, ArtifactError> {
        let mut info = self.info()?;
        if epochs <= info.train.epochs {
            return Ok(false);
        }
        info.train.epochs = epochs;
        self.write_json(RUN_JSON, &info)?;
        Ok(true)
    }

    /// Copies the export's label map and summary into the run (provenance for `compare`).
    pub fn copy_export_files(&self, export: &Path) -> Result<(), ArtifactError> {
        for (from, to) in [
            (crate::export::LABELS_TOML, LABELS_TOML),
            (crate::export::SUMMARY_JSON, EXPORT_SUMMARY_JSON),
        ] {
            let src = export.join(from);
            let bytes = std::fs::read(&src).map_err(io(&src))?;
            let dst = self.path(to);
            crate::fsio::write_atomic(&dst, &bytes).map_err(io(&dst))?;
        }
        Ok(())
    }

    pub fn write_metrics_csv(&self, history: &[EpochRecord]) -> Result<(), ArtifactError> {
        let mut out = String::from(
            "epoch,learning_rate,train_loss,val_accuracy,val_balanced_accuracy,val_macro_f1,val_top3_accuracy,seconds\n",
        );
        for e in history {
            out.push_str(&format!(
                "{},{:.6e},{:.5},{:.4},{:.4},{:.4},{:.4},{:.1}\n",
                e.epoch,
                e.learning_rate,
                e.train_loss,
                e.val_accuracy,
                e.val_balanced_accuracy,
                e.val_macro_f1,
                e.val_top3_accuracy,
                e.seconds
            ));
        }
        self.write_text(METRICS_CSV, &out)
    }

    pub fn write_skipped(&self, skipped: &[Skipped]) -> Result<(), ArtifactError> {
        let mut out = String::from("track_id,path,reason\n");
        for s in skipped {
            out.push_str(&format!(
                "{},{},\"{}\"\n",
                s.track_id,
                s.path,
                s.reason.replace('"', "'")
            ));
        }
        self.write_text(SKIPPED_CSV, &out)
    }

    /// Saves the best model's weights atomically as `model.mpk`.
    pub fn save_best<B: ModelBackend>(&self, model: &ResNet<B>) -> Result<(), ArtifactError> {
        let staging = tempfile::Builder::new()
            .prefix(".model.")
            .tempdir_in(&self.root)
            .map_err(io(&self.root))?;
        save_module(model, staging.path())?;
        let from = staging.path().join(format!("{MODEL}.mpk"));
        let to = self.path(&format!("{MODEL}.mpk"));
        std::fs::rename(&from, &to).map_err(io(&to))
    }

    /// Loads the best model for inference on `device`.
    pub fn load_best<B: ModelBackend>(
        &self,
        device: &B::Device,
    ) -> Result<ResNet<B>, ArtifactError> {
        let info = self.info()?;
        let path = self.path(MODEL);
        info.model
            .init::<B>(device)
            .load_file(path.clone(), &Rec::new(), device)
            .map_err(|e| ArtifactError::Record {
                path: path.with_extension("mpk"),
                message: format!("{e}; the weights do not match run.json, retrain the run"),
            })
    }

    /// Replaces `checkpoint/` with the model, optimiser and loop state of the last epoch.
    pub fn save_checkpoint<B: ModelBackend, O: Record<B>>(
        &self,
        model: &ResNet<B>,
        optim: O,
        state: &LoopState,
    ) -> Result<(), ArtifactError> {
        let dest = self.path(CHECKPOINT);
        let staging = crate::fsio::staging_dir(&dest).map_err(io(&dest))?;
        save_module(model, staging.path())?;
        let optim_path = staging.path().join(OPTIM);
        Rec::new()
            .record(optim, optim_path.clone())
            .map_err(|e| ArtifactError::Record {
                path: optim_path,
                message: e.to_string(),
            })?;
        let text = serde_json::to_string_pretty(state).map_err(|e| ArtifactError::Parse {
            path: dest.join(STATE_JSON),
            message: e.to_string(),
        })?;
        let state_path = staging.path().join(STATE_JSON);
        std::fs::write(&state_path, text).map_err(io(&state_path))?;
        let staged = staging.keep();
        crate::fsio::replace_dir(&staged, &dest).map_err(io(&dest))
    }

    /// The last checkpoint: model, optimiser record and loop state.
    pub fn load_checkpoint<B: ModelBackend, O: Record<B>>(
        &self,
        model: ResNet<B>,
        device: &B::Device,
    ) -> Result<(ResNet<B>, O, LoopState), ArtifactError> {
        let dir = self.path(CHECKPOINT);
        let rec_err = |path: PathBuf| {
            move |e: burn::record::RecorderError| ArtifactError::Record {
                path,
                message: format!("{e}; delete the checkpoint directory to restart the run"),
            }
        };
        let model_path = dir.join(MODEL);
        let model = model
            .load_file(model_path.clone(), &Rec::new(), device)
            .map_err(rec_err(model_path))?;
        let optim_path = dir.join(OPTIM);
        let optim: O = Rec::new()
            .load(optim_path.clone(), device)
            .map_err(rec_err(optim_path))?;
        let state: LoopState = RunDir::new(&dir).read_json(STATE_JSON)?;
        Ok((model, optim, state))
    }
}

fn save_module<B: ModelBackend>(model: &ResNet<B>, dir: &Path) -> Result<(), ArtifactError> {
    let path = dir.join(MODEL);
    model
        .clone()
        .save_file(path.clone(), &Rec::new())
        .map_err(|e| ArtifactError::Record {
            path: path.with_extension("mpk"),
            message: e.to_string(),
        })
}
