//! Prediction for audio files the model has never seen: the run's ResNet gives label probabilities
//! and the embedding, the run's VA head (when trained) maps the embedding to a VA point. Files that
//! cannot be decoded get their own error; the others still come out.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::Serialize;

use super::artifacts::{ArtifactError, RunDir};
use super::data::{self, MelSource, TrackRef};
use super::run::{CpuBackend, embed_tracks, predict_probs};
use crate::audio::decode::load_mono_12k;
use crate::audio::mel::{MelConfig, mel_spectrogram};
use crate::dataset::Split;
use crate::va::head::{VaError, VaModel};

/// Decodes the file named by `rel_path` itself (an ordinary path, not an MTG path).
struct AudioFiles(MelConfig);

impl MelSource for AudioFiles {
    fn mel(&self, rel_path: &str) -> Result<Array2<f32>, String> {
        let samples = load_mono_12k(Path::new(rel_path)).map_err(|e| e.to_string())?;
        Ok(mel_spectrogram(&samples, &self.0))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LabelProb {
    pub label_id: u32,
    pub label: String,
    pub probability: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub file: PathBuf,
    /// Most probable first.
    pub top: Vec<LabelProb>,
    /// (valence, arousal), when the run has a VA head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub va: Option<[f32; 2]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failed {
    pub file: PathBuf,
    pub error: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    Va(#[from] VaError),
}

/// Top-`top` labels (and VA when `RUN/va/` exists) for each file.
pub fn predict_files(
    run_dir: &Path,
    files: &[PathBuf],
    top: usize,
) -> Result<(Vec<Prediction>, Vec<Failed>), PredictError> {
    let run = RunDir::new(run_dir);
    let info = run.info()?;
    let model = run.load_best::<CpuBackend>(&Default::default())?;
    let va_dir = run_dir.join("va");
    let va = if va_dir.join("va_head.json").exists() {
        Some(VaModel::load(&va_dir)?)
    } else {
        None
    };
    let tracks: Vec<TrackRef> = files
        .iter()
        .map(|f| TrackRef {
            track_id: f.display().to_string(),
            path: f.display().to_string(),
            class: 0,
            split: Split::Test,
            tag: String::new(),
        })
        .collect();
    let (examples, skipped) = data::load(&tracks, &AudioFiles(MelConfig::default()), &info.chunk);
    let k = info.classes.len();
    let probs = predict_probs(
        &model,
        &examples,
        info.chunk.frames,
        info.train.eval_batch,
        k,
    );
    let va_points = va.map(|head| {
        let emb = embed_tracks(
            &model,
            &examples,
            info.chunk.frames,
            info.train.eval_batch,
            info.model.embedding,
        );
        head.predict(&emb)
    });
    let predictions = examples
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut order: Vec<usize> = (0..k).collect();
            order.sort_by(|&a, &b| probs[i][b].total_cmp(&probs[i][a]));
            Prediction {
                file: PathBuf::from(&e.track.path),
                top: order
                    .into_iter()
                    .take(top.max(1))
                    .map(|c| LabelProb {
                        label_id: info.classes.label_ids[c],
                        label: info.classes.names[c].clone(),
                        probability: probs[i][c],
                    })
                    .collect(),
                va: va_points.as_ref().map(|p| [p[[i, 0]], p[[i, 1]]]),
            }
        })
        .collect();
    let failed = skipped
        .into_iter()
        .map(|s| Failed {
            file: PathBuf::from(s.path),
            error: s.reason,
        })
        .collect();
    Ok((predictions, failed))
}
