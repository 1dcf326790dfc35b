//! Transfer to valence–arousal: each track's embedding from the trained (frozen) ResNet, its VA
//! target and the classifier's predicted class (for the label-centroid baseline).
//!
//! Embeddings are computed once per split and cached in the run directory (`embeddings_<split>.json`),
//! since the ResNet does not change while heads are tried.

use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::artifacts::{ArtifactError, RunDir};
use super::data::{self, MelSource, Skipped};
use super::run::{CpuBackend, TrainError, embed_tracks, predict_probs};
use crate::dataset::Split;
use crate::va::targets::{Targets, TargetsError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Embedded {
    pub track_ids: Vec<String>,
    pub tags: Vec<String>,
    pub classes: Vec<usize>,
    pub predicted: Vec<usize>,
    pub embeddings: Vec<Vec<f32>>,
    pub skipped: Vec<Skipped>,
}

/// One split ready for the head: rows of `x` and `y` match `track_ids`.
#[derive(Debug, Clone)]
pub struct VaSplit {
    pub track_ids: Vec<String>,
    pub classes: Vec<usize>,
    pub predicted: Vec<usize>,
    pub x: Array2<f32>,
    pub y: Array2<f32>,
    /// Tracks without a target (annotations that do not cover them).
    pub without_target: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum VaDataError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    Targets(#[from] TargetsError),
}

pub fn embeddings_json(split: Split) -> String {
    format!("embeddings_{}.json", split.as_str())
}

/// The split's embeddings, from the cache in the run directory or computed (and cached) now.
pub fn embed_split(
    run_dir: &Path,
    split: Split,
    source: &dyn MelSource,
) -> Result<Embedded, VaDataError> {
    let run = RunDir::new(run_dir);
    let name = embeddings_json(split);
    if run.path(&name).exists() {
        return Ok(run.read_json(&name)?);
    }
    let info = run.info()?;
    let (tracks, _) = data::tracks_from_export(&info.export).map_err(TrainError::from)?;
    let wanted: Vec<_> = tracks.into_iter().filter(|t| t.split == split).collect();
    let (examples, skipped) = data::load(&wanted, source, &info.chunk);
    let model = run.load_best::<CpuBackend>(&Default::default())?;
    let k = info.classes.len();
    let probs = predict_probs(
        &model,
        &examples,
        info.chunk.frames,
        info.train.eval_batch,
        k,
    );
    let emb = embed_tracks(
        &model,
        &examples,
        info.chunk.frames,
        info.train.eval_batch,
        info.model.embedding,
    );
    let argmax = |p: &Vec<f32>| {
        p.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i)
    };
    let out = Embedded {
        track_ids: examples.iter().map(|e| e.track.track_id.clone()).collect(),
        tags: examples.iter().map(|e| e.track.tag.clone()).collect(),
        classes: examples.iter().map(|e| e.track.class).collect(),
        predicted: probs.iter().map(argmax).collect(),
        embeddings: emb.rows().into_iter().map(|r| r.to_vec()).collect(),
        skipped,
    };
    run.write_json(&name, &out)?;
    Ok(out)
}

/// Pairs a split's embeddings with VA targets; tracks the targets do not cover are left out.
pub fn va_split(emb: &Embedded, targets: &Targets) -> Result<VaSplit, VaDataError> {
    let width = emb.embeddings.first().map_or(0, Vec::len);
    let mut rows = Vec::new();
    let mut ys = Vec::new();
    for i in 0..emb.track_ids.len() {
        if let Some(t) = targets.target(&emb.track_ids[i], &emb.tags[i])? {
            rows.push(i);
            ys.push(t);
        }
    }
    let x = Array2::from_shape_fn((rows.len(), width), |(r, j)| emb.embeddings[rows[r]][j]);
    let y = Array2::from_shape_fn((rows.len(), 2), |(r, j)| ys[r][j] as f32);
    Ok(VaSplit {
        track_ids: rows.iter().map(|&i| emb.track_ids[i].clone()).collect(),
        classes: rows.iter().map(|&i| emb.classes[i]).collect(),
        predicted: rows.iter().map(|&i| emb.predicted[i]).collect(),
        x,
        y,
        without_target: emb.track_ids.len() - rows.len(),
    })
}

/// Each class's mean training target (the label-centroid baseline's points).
pub fn centroids(train: &VaSplit, classes: usize) -> Vec<[f64; 2]> {
    let mut sum = vec![[0.0f64; 2]; classes];
    let mut n = vec![0usize; classes];
    for (i, &c) in train.classes.iter().enumerate() {
        sum[c][0] += train.y[[i, 0]] as f64;
        sum[c][1] += train.y[[i, 1]] as f64;
        n[c] += 1;
    }
    let mean = train_mean(train);
    sum.iter()
        .zip(&n)
        .map(|(s, &k)| {
            if k == 0 {
                mean
            } else {
                [s[0] / k as f64, s[1] / k as f64]
            }
        })
        .collect()
}

pub fn train_mean(train: &VaSplit) -> [f64; 2] {
    let n = train.y.nrows().max(1) as f64;
    [
        train.y.column(0).iter().map(|&v| v as f64).sum::<f64>() / n,
        train.y.column(1).iter().map(|&v| v as f64).sum::<f64>() / n,
    ]
}
