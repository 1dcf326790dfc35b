//! The hand-written training loop (burn has no `train` feature here, and the review UI must be able
//! to drive and stop a run from a background thread).
//!
//! Class imbalance (about 50:1 between the largest and smallest label) is handled by default with a
//! class-weighted cross-entropy, weight `n / (k · n_c)` per class, so every class contributes as much
//! to the loss as if the set were balanced; `Balance::Sampled` instead draws each epoch's tracks with
//! equal probability per class. The learning rate follows a cosine decay to 1 % of its start; the
//! best epoch by validation macro-F1 is kept, and training stops after `patience` epochs without a
//! better one. Each epoch's randomness derives from `(seed, epoch)`, so a resumed run draws the same
//! chunks as an uninterrupted one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use ndarray::Array2;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::artifacts::{ArtifactError, LoopState, RUN_JSON, RunDir, RunInfo};
use super::data::{self, ChunkConfig, DataError, Example, MelSource, Skipped};
use super::metrics;
use crate::dataset::Split;
use crate::features::Convention;
use crate::features::convention::ConventionMismatch;
use crate::model::ops::ModelBackend;
use crate::model::resnet::{EmbeddingTail, ResNet, ResNetConfig, VaInput};

pub type CpuBackend = crate::backend::CpuBackend;
pub type TrainBackend = crate::backend::TrainBackend;

/// How the loop compensates class imbalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Balance {
    /// Class-weighted cross-entropy, weight n / (k · n_c).
    Weighted,
    /// Each epoch draws as many tracks as the training set, every class equally likely.
    Sampled,
    /// Plain cross-entropy on the natural distribution.
    None,
}

#[derive(Config, Debug)]
pub struct TrainConfig {
    #[config(default = 40)]
    pub epochs: usize,
    #[config(default = 16)]
    pub batch_size: usize,
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    #[config(default = 1e-4)]
    pub weight_decay: f64,
    /// Epochs without a better validation macro-F1 before stopping.
    #[config(default = 8)]
    pub patience: usize,
    #[config(default = 42)]
    pub seed: u64,
    #[config(default = "Balance::Weighted")]
    pub balance: Balance,
    #[config(default = 96)]
    pub n_mels: usize,
    /// Frames per chunk: 141 ≈ 3 s at the MTG spectrograms' 46.9 frames/s (12 kHz, hop 256).
    #[config(default = 141)]
    pub chunk_frames: usize,
    /// Frames kept per track in memory (16 chunks); longer tracks keep evenly spaced excerpts.
    #[config(default = 2256)]
    pub max_frames: usize,
    #[config(default = "vec![64, 64, 128, 128, 128, 128, 256]")]
    pub channels: Vec<usize>,
    #[config(default = 256)]
    pub embedding: usize,
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Chunks per forward pass at evaluation.
    #[config(default = 64)]
    pub eval_batch: usize,
    /// Weight of the auxiliary valence–arousal loss (mean squared error on standardised targets,
    /// added to the cross-entropy): the ResNet then learns classes and VA together, so its
    /// embedding carries where a track sits inside its label, which a head on a class-only
    /// embedding cannot recover. `None` or 0: classes only (runs made before the option).
    pub va_weight: Option<f64>,
}

impl TrainConfig {
    pub fn chunk(&self) -> ChunkConfig {
        ChunkConfig {
            n_mels: self.n_mels,
            frames: self.chunk_frames,
            max_frames: self.max_frames.max(self.chunk_frames),
            norm: None,
        }
    }

    /// The default network's shape scaled to `width` channels in the first block (64 is the
    /// default size): blocks of w, w, 2w, 2w, 2w, 2w, 4w channels and a 4w-wide embedding.
    pub fn with_width(self, width: usize) -> Self {
        let w = width.max(1);
        self.with_channels(vec![w, w, 2 * w, 2 * w, 2 * w, 2 * w, 4 * w])
            .with_embedding(4 * w)
    }

    pub fn model(&self, classes: usize) -> ResNetConfig {
        ResNetConfig::new(classes)
            .with_n_mels(self.n_mels)
            .with_channels(self.channels.clone())
            .with_embedding(self.embedding)
            .with_dropout(self.dropout)
            .with_va_output(self.va_weight().is_some().then_some(true))
    }

    /// The auxiliary VA loss weight, when the option is on.
    pub fn va_weight(&self) -> Option<f64> {
        self.va_weight.filter(|&w| w > 0.0)
    }

    fn check(&self) -> Result<(), TrainError> {
        let bad = |s: &str| Err(TrainError::Config(s.to_string()));
        if self.epochs == 0 {
            return bad("--epochs must be at least 1");
        }
        if self.batch_size < 2 {
            return bad("--batch-size must be at least 2 (batch norm needs two chunks)");
        }
        if self.chunk_frames < 1 << self.channels.len() {
            return bad(
                "--chunk-frames is too short for the number of residual blocks (each halves time)",
            );
        }
        if self.channels.is_empty() || self.channels.contains(&0) {
            return bad("--channels needs at least one block, none of width 0");
        }
        if self.learning_rate.is_nan() || self.learning_rate <= 0.0 {
            return bad("--lr must be positive");
        }
        if self.va_weight.is_some_and(|w| !w.is_finite() || w < 0.0) {
            return bad("--va-weight must be a number ≥ 0 (0 turns the auxiliary VA loss off)");
        }
        Ok(())
    }
}

/// One epoch's figures (a row of `metrics.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub learning_rate: f64,
    pub train_loss: f64,
    pub val_accuracy: f64,
    pub val_balanced_accuracy: f64,
    pub val_macro_f1: f64,
    pub val_top3_accuracy: f64,
    pub seconds: f64,
    pub best: bool,
}

/// What the loop reports while it runs (the terminal UI and the progress bars listen to this).
#[derive(Debug, Clone)]
pub enum Progress {
    Loaded {
        train: usize,
        validation: usize,
        skipped: usize,
        start_epoch: usize,
    },
    Step {
        epoch: usize,
        epochs: usize,
        step: usize,
        steps: usize,
        loss: f64,
        eta: Duration,
    },
    Epoch(EpochRecord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stop {
    MaxEpochs,
    EarlyStopping,
    Cancelled,
}

#[derive(Debug)]
pub struct TrainOutcome {
    pub history: Vec<EpochRecord>,
    pub best_epoch: usize,
    pub best_macro_f1: f64,
    pub stop: Stop,
    pub skipped: Vec<Skipped>,
    /// Best epoch's weights (as saved in `model.mpk`); `None` when the run was cancelled before
    /// its first epoch ended (resume it to train).
    pub model: Option<ResNet<CpuBackend>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("{0}")]
    Config(String),
    #[error("{path} already holds a run; pass --resume to continue it or choose another --out")]
    Exists { path: PathBuf },
    #[error(transparent)]
    Convention(#[from] ConventionMismatch),
    #[error(
        "the feature source computes {source_convention} features but the run is to record {run_convention}; pass the same --convention to both"
    )]
    SourceConvention {
        source_convention: Convention,
        run_convention: Convention,
    },
    #[error("{path}: nothing to resume (no run.json); start the run without --resume")]
    NothingToResume { path: PathBuf },
    #[error(
        "{export}: the export's classes {now:?} differ from the run's {then:?}; a relabeled export needs a new run (--out)"
    )]
    ClassesChanged {
        export: PathBuf,
        now: Vec<String>,
        then: Vec<String>,
    },
    #[error(
        "--va-weight needs VA targets: pass --va-targets CSV, or train on a synthetic corpus (its va.csv) or an export whose tags are in the VA table ({0})"
    )]
    VaTargets(String),
    #[error(
        "no usable {split} tracks: all {skipped} had missing or corrupt features (see {report})"
    )]
    NoTracks {
        split: &'static str,
        skipped: usize,
        report: PathBuf,
    },
}

/// Where a run reads from and writes to.
pub struct TrainInputs<'a> {
    pub export: &'a Path,
    /// How the features were named on the command line (recorded in run.json).
    pub features: String,
    pub source: &'a dyn MelSource,
    pub out: &'a Path,
    pub resume: bool,
    /// Per-track VA targets for the auxiliary loss (only read when `va_weight` is set); `None`
    /// takes them as `musav train-va` does, from `features`.
    pub va_targets: Option<&'a crate::va::targets::Targets>,
    /// How `source` computes (or its `.npy` files were made with) the features; recorded in
    /// run.json. A resumed run must name the one it recorded.
    pub convention: Convention,
}

/// Cosine decay from `lr` to `lr / 100` over the whole run.
pub fn learning_rate(lr: f64, progress: f64) -> f64 {
    let min = lr / 100.0;
    min + 0.5 * (lr - min) * (1.0 + (std::f64::consts::PI * progress.clamp(0.0, 1.0)).cos())
}

/// Per-class weights `n / (k · n_c)` over the classes present in training.
pub fn class_weights(classes: &[usize], k: usize) -> Vec<f32> {
    let mut counts = vec![0usize; k];
    for &c in classes {
        counts[c] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                1.0
            } else {
                classes.len() as f32 / (present as f32 * c as f32)
            }
        })
        .collect()
}

fn epoch_rng(seed: u64, epoch: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// This epoch's training order: a shuffle, or a class-balanced draw.
fn epoch_order(examples: &[Example], k: usize, balance: Balance, rng: &mut StdRng) -> Vec<usize> {
    match balance {
        Balance::Weighted | Balance::None => {
            let mut order: Vec<usize> = (0..examples.len()).collect();
            order.shuffle(rng);
            order
        }
        Balance::Sampled => {
            let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
            for (i, e) in examples.iter().enumerate() {
                by_class[e.track.class].push(i);
            }
            by_class.retain(|v| !v.is_empty());
            (0..examples.len())
                .map(|_| {
                    let members = &by_class[rng.gen_range(0..by_class.len())];
                    members[rng.gen_range(0..members.len())]
                })
                .collect()
        }
    }
}

/// Averages `f` over all evaluation chunks of each example, batching chunks across examples.
fn average_over_chunks<B: Backend>(
    examples: &[Example],
    frames: usize,
    batch: usize,
    width: usize,
    device: &B::Device,
    f: impl Fn(Tensor<B, 3>) -> Tensor<B, 2>,
) -> Array2<f32> {
    let mut sums = Array2::<f32>::zeros((examples.len(), width));
    let mut counts = vec![0usize; examples.len()];
    let all: Vec<(usize, ndarray::ArrayView2<'_, f32>)> = examples
        .iter()
        .enumerate()
        .flat_map(|(i, e)| e.eval_chunks(frames).into_iter().map(move |c| (i, c)))
        .collect();
    for part in all.chunks(batch.max(1)) {
        let views: Vec<_> = part.iter().map(|(_, c)| c.view()).collect();
        let (buf, shape) = data::stack(&views);
        let out = f(Tensor::from_data(TensorData::new(buf, shape), device));
        let values: Vec<f32> = out.into_data().to_vec().unwrap_or_default();
        for (row, (i, _)) in part.iter().enumerate() {
            for j in 0..width {
                sums[[*i, j]] += values.get(row * width + j).copied().unwrap_or(0.0);
            }
            counts[*i] += 1;
        }
    }
    for (i, &c) in counts.iter().enumerate() {
        if c > 0 {
            sums.row_mut(i).mapv_inplace(|v| v / c as f32);
        }
    }
    sums
}

/// Class probabilities per track, the softmax averaged over all its chunks.
pub fn predict_probs<B: ModelBackend>(
    model: &ResNet<B>,
    examples: &[Example],
    frames: usize,
    batch: usize,
    classes: usize,
) -> Vec<Vec<f32>> {
    let device = model.devices().into_iter().next().unwrap_or_default();
    let probs = average_over_chunks(examples, frames, batch, classes, &device, |x| {
        softmax(model.forward(x), 1)
    });
    probs.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// The VA head's input per track ([`ResNet::va_input`]), averaged over all chunks: through the
/// network's own tail, or a fine-tuned copy of it (a head trained with `--unfreeze-last-block`).
pub fn embed_tracks<B: ModelBackend>(
    model: &ResNet<B>,
    tail: Option<&EmbeddingTail<B>>,
    input: VaInput,
    examples: &[Example],
    frames: usize,
    batch: usize,
    width: usize,
) -> Array2<f32> {
    let device = model.devices().into_iter().next().unwrap_or_default();
    average_over_chunks(examples, frames, batch, width, &device, |x| {
        model.va_input(x, tail, input)
    })
}

/// The auxiliary loss's targets for the training tracks, standardised per dimension (so the
/// weight means the same on [0, 1] annotations and on other scales) with a 0/1 mask for tracks
/// that have none.
struct VaAux {
    targets: Vec<[f32; 2]>,
    has: Vec<bool>,
}

impl VaAux {
    /// Row-major `[batch, 2]` targets and mask for the examples `idx`.
    fn batch(&self, idx: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let mut t = Vec::with_capacity(idx.len() * 2);
        let mut m = Vec::with_capacity(idx.len() * 2);
        for &i in idx {
            t.extend_from_slice(&self.targets[i]);
            let on = if self.has[i] { 1.0 } else { 0.0 };
            m.extend_from_slice(&[on, on]);
        }
        (t, m)
    }
}

fn va_aux_targets(
    examples: &[Example],
    targets: &crate::va::targets::Targets,
) -> Result<VaAux, TrainError> {
    let mut raw = Vec::with_capacity(examples.len());
    for e in examples {
        let t = targets
            .target(&e.track.track_id, &e.track.tag)
            .map_err(|err| TrainError::VaTargets(err.to_string()))?;
        raw.push(t);
    }
    let known: Vec<[f64; 2]> = raw.iter().flatten().copied().collect();
    if known.len() < 2 {
        return Err(TrainError::VaTargets(format!(
            "only {} of {} training tracks have a target",
            known.len(),
            examples.len()
        )));
    }
    let n = known.len() as f64;
    let mut mean = [0.0; 2];
    let mut std = [0.0; 2];
    for j in 0..2 {
        mean[j] = known.iter().map(|p| p[j]).sum::<f64>() / n;
        std[j] = (known.iter().map(|p| (p[j] - mean[j]).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-6);
    }
    Ok(VaAux {
        targets: raw
            .iter()
            .map(|t| {
                t.map_or([0.0; 2], |p| {
                    [0, 1].map(|j| ((p[j] - mean[j]) / std[j]) as f32)
                })
            })
            .collect(),
        has: raw.iter().map(Option::is_some).collect(),
    })
}

fn split_examples(
    tracks: &[data::TrackRef],
    split: Split,
    source: &dyn MelSource,
    chunk: &ChunkConfig,
) -> (Vec<Example>, Vec<Skipped>) {
    let wanted: Vec<data::TrackRef> = tracks
        .iter()
        .filter(|t| t.split == split)
        .cloned()
        .collect();
    data::load(&wanted, source, chunk)
}

/// Trains (or resumes) a run; returns when it finishes, stops early, or `cancel` is set.
pub fn train(
    inputs: &TrainInputs<'_>,
    config: &TrainConfig,
    mut on_progress: impl FnMut(&Progress),
    cancel: &AtomicBool,
) -> Result<TrainOutcome, TrainError> {
    let run = RunDir::new(inputs.out);
    if let Some(c) = inputs.source.convention()
        && c != inputs.convention
    {
        return Err(TrainError::SourceConvention {
            source_convention: c,
            run_convention: inputs.convention,
        });
    }
    let (tracks, classes) = data::tracks_from_export(inputs.export)?;
    let (cfg, info) = if inputs.resume {
        if !run.exists() {
            return Err(TrainError::NothingToResume {
                path: inputs.out.to_path_buf(),
            });
        }
        let info = run.info()?;
        Convention::for_run(inputs.out, info.convention, Some(inputs.convention))?;
        if info.classes != classes {
            return Err(TrainError::ClassesChanged {
                export: inputs.export.to_path_buf(),
                now: classes.names,
                then: info.classes.names,
            });
        }
        (info.train.clone(), info)
    } else {
        if run.exists() {
            return Err(TrainError::Exists {
                path: inputs.out.to_path_buf(),
            });
        }
        config.check()?;
        let summary = crate::export::read_summary(inputs.export).map_err(DataError::from)?;
        let info = RunInfo {
            export: inputs.export.to_path_buf(),
            features: inputs.features.clone(),
            label_map_sha256: summary.label_map_sha256,
            classes: classes.clone(),
            model: config.model(classes.len()),
            train: config.clone(),
            chunk: config.chunk(),
            convention: inputs.convention,
        };
        std::fs::create_dir_all(inputs.out).map_err(|source| ArtifactError::Io {
            path: inputs.out.to_path_buf(),
            source,
        })?;
        run.copy_export_files(inputs.export)?;
        run.write_json(RUN_JSON, &info)?;
        (config.clone(), info)
    };
    let mut chunk = info.chunk.clone();
    let k = classes.len();
    let (mut train_ex, mut skipped) = split_examples(&tracks, Split::Train, inputs.source, &chunk);
    // The normalisation is fitted once, on the first start, and reused on resume.
    let norm = chunk.norm.unwrap_or_else(|| data::fit_norm(&train_ex));
    data::normalise(&mut train_ex, norm);
    if chunk.norm.is_none() {
        chunk.norm = Some(norm);
        run.write_json(
            RUN_JSON,
            &RunInfo {
                chunk: chunk.clone(),
                ..info.clone()
            },
        )?;
    }
    let (val_ex, val_skipped) = split_examples(&tracks, Split::Validation, inputs.source, &chunk);
    skipped.extend(val_skipped);
    run.write_skipped(&skipped)?;
    for (split, ex) in [("train", &train_ex), ("validation", &val_ex)] {
        if ex.is_empty() {
            return Err(TrainError::NoTracks {
                split,
                skipped: skipped.len(),
                report: run.path(super::artifacts::SKIPPED_CSV),
            });
        }
    }

    let device = Default::default();
    let _random = crate::backend::seeded(cfg.seed);
    let mut model: ResNet<TrainBackend> = info.model.init(&device);
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init::<TrainBackend, ResNet<TrainBackend>>();
    let mut state = LoopState {
        epoch: 0,
        best_macro_f1: f64::NEG_INFINITY,
        best_epoch: 0,
        since_best: 0,
        history: Vec::new(),
    };
    if inputs.resume && run.has_checkpoint() {
        let (m, o, s) = run.load_checkpoint(model, &device)?;
        model = m;
        optim = optim.load_record(o);
        state = s;
    }
    on_progress(&Progress::Loaded {
        train: train_ex.len(),
        validation: val_ex.len(),
        skipped: skipped.len(),
        start_epoch: state.epoch + 1,
    });

    let train_classes: Vec<usize> = train_ex.iter().map(|e| e.track.class).collect();
    let mut loss_cfg = CrossEntropyLossConfig::new();
    if cfg.balance == Balance::Weighted {
        loss_cfg = loss_cfg.with_weights(Some(class_weights(&train_classes, k)));
    }
    let loss_fn = loss_cfg.init(&device);
    let va_aux = match cfg.va_weight() {
        Some(w) => {
            // A resumed run or the TUI's loop names no targets: the same default as train-va.
            let fallback;
            let targets = match inputs.va_targets {
                Some(t) => t,
                None => {
                    fallback = super::va::resolve_targets(None, Path::new(&inputs.features))
                        .map_err(|e| TrainError::VaTargets(e.to_string()))?;
                    &fallback
                }
            };
            Some((w, va_aux_targets(&train_ex, targets)?))
        }
        None => None,
    };
    let val_truth: Vec<usize> = val_ex.iter().map(|e| e.track.class).collect();
    let steps = train_ex.len().div_ceil(cfg.batch_size);
    let started = Instant::now();
    let mut steps_done = 0usize;
    let mut stop = Stop::MaxEpochs;

    for epoch in state.epoch + 1..=cfg.epochs {
        let epoch_start = Instant::now();
        let mut rng = epoch_rng(cfg.seed, epoch);
        TrainBackend::seed(&device, cfg.seed.wrapping_add(epoch as u64));
        let order = epoch_order(&train_ex, k, cfg.balance, &mut rng);
        let mut total = 0.0;
        let mut batches = 0usize;
        let mut lr = cfg.learning_rate;
        for (step, idx) in order.chunks(cfg.batch_size).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                stop = Stop::Cancelled;
                break;
            }
            // A batch of one cannot be batch-normalised; it is at most the epoch's remainder.
            if idx.len() < 2 {
                continue;
            }
            let chunks: Vec<_> = idx
                .iter()
                .map(|&i| train_ex[i].random_chunk(chunk.frames, &mut rng))
                .collect();
            let (buf, shape) = data::stack(&chunks);
            let x = Tensor::<TrainBackend, 3>::from_data(TensorData::new(buf, shape), &device);
            let targets: Vec<i64> = idx
                .iter()
                .map(|&i| train_ex[i].track.class as i64)
                .collect();
            let y = Tensor::<TrainBackend, 1, Int>::from_data(
                TensorData::new(targets, [idx.len()]),
                &device,
            );
            let embedding = model.embed(x);
            let mut loss = loss_fn.forward(model.classify(embedding.clone()), y);
            if let (Some((weight, aux)), Some(va)) = (&va_aux, model.va(embedding)) {
                let (t, m) = aux.batch(idx);
                let target = Tensor::<TrainBackend, 2>::from_data(
                    TensorData::new(t, [idx.len(), 2]),
                    &device,
                );
                let mask = Tensor::<TrainBackend, 2>::from_data(
                    TensorData::new(m.clone(), [idx.len(), 2]),
                    &device,
                );
                let n = m.iter().sum::<f32>().max(1.0);
                let va_loss = ((va - target) * mask).powi_scalar(2).sum().div_scalar(n);
                loss = loss + va_loss.mul_scalar(*weight);
            }
            let value = loss.clone().into_scalar().to_f64();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let progress = ((epoch - 1) * steps + step) as f64 / (cfg.epochs * steps) as f64;
            lr = learning_rate(cfg.learning_rate, progress);
            model = optim.step(lr, model, grads);
            total += value;
            batches += 1;
            steps_done += 1;
            let per_step = started.elapsed().as_secs_f64() / steps_done as f64;
            let remaining = (cfg.epochs - epoch) * steps + (steps - step - 1);
            on_progress(&Progress::Step {
                epoch,
                epochs: cfg.epochs,
                step: step + 1,
                steps,
                loss: value,
                eta: Duration::from_secs_f64(per_step * remaining as f64),
            });
        }
        if stop == Stop::Cancelled {
            break;
        }
        let valid = model.valid();
        let probs = predict_probs(&valid, &val_ex, chunk.frames, cfg.eval_batch, k);
        crate::model::winograd::forget_reused_kernels();
        let m = metrics::evaluate(&val_truth, &probs, k);
        let best = m.macro_f1 > state.best_macro_f1;
        let record = EpochRecord {
            epoch,
            learning_rate: lr,
            train_loss: total / batches.max(1) as f64,
            val_accuracy: m.accuracy,
            val_balanced_accuracy: m.balanced_accuracy,
            val_macro_f1: m.macro_f1,
            val_top3_accuracy: m.top3_accuracy,
            seconds: epoch_start.elapsed().as_secs_f64(),
            best,
        };
        if best {
            state.best_macro_f1 = m.macro_f1;
            state.best_epoch = epoch;
            state.since_best = 0;
            run.save_best(&valid)?;
        } else {
            state.since_best += 1;
        }
        state.epoch = epoch;
        state.history.push(record.clone());
        run.save_checkpoint(&model, optim.to_record(), &state)?;
        run.write_metrics_csv(&state.history)?;
        on_progress(&Progress::Epoch(record));
        if state.since_best >= cfg.patience {
            stop = Stop::EarlyStopping;
            break;
        }
    }
    let best_model = if state.history.is_empty() {
        None
    } else {
        Some(run.load_best::<CpuBackend>(&device)?)
    };
    Ok(TrainOutcome {
        history: state.history,
        best_epoch: state.best_epoch,
        best_macro_f1: state.best_macro_f1,
        stop,
        skipped,
        model: best_model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_starts_at_lr_and_ends_at_one_percent() {
        assert!((learning_rate(1e-3, 0.0) - 1e-3).abs() < 1e-12);
        assert!((learning_rate(1e-3, 1.0) - 1e-5).abs() < 1e-12);
        assert!(learning_rate(1e-3, 0.5) < 1e-3 && learning_rate(1e-3, 0.5) > 1e-5);
    }

    #[test]
    fn class_weights_balance_the_loss() {
        let w = class_weights(&[0, 0, 0, 1], 3);
        // n = 4, two classes present: 4 / (2·3) and 4 / (2·1); the absent class keeps 1.
        assert!((w[0] - 4.0 / 6.0).abs() < 1e-6);
        assert!((w[1] - 2.0).abs() < 1e-6);
        assert_eq!(w[2], 1.0);
    }

    #[test]
    fn width_scales_the_default_network() {
        let d = TrainConfig::new();
        let w = TrainConfig::new().with_width(64);
        assert_eq!((w.channels, w.embedding), (d.channels, d.embedding));
        let small = TrainConfig::new().with_width(4);
        assert_eq!(small.channels, [4, 4, 8, 8, 8, 8, 16]);
        assert_eq!(small.embedding, 16);
    }

    #[test]
    fn config_checks_reject_unusable_values() {
        assert!(TrainConfig::new().with_batch_size(1).check().is_err());
        assert!(TrainConfig::new().with_chunk_frames(8).check().is_err());
        assert!(TrainConfig::new().with_channels(vec![]).check().is_err());
        assert!(TrainConfig::new().check().is_ok());
    }
}
