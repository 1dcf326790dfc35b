//! The VA head: a small MLP from frozen ResNet embeddings to (valence, arousal), trained by hand on
//! burn's CPU backend.
//!
//! Inputs and targets are standardised with the training set's statistics (stored with the head), so
//! the loss sees unit-scale targets on both axes; the default loss is the concordance (CCC) loss,
//! because MSE rewards shrinking toward the mean when the signal is weak, which is exactly how the
//! earlier VA model failed.

use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::metrics;
use crate::model::resnet::{EmbeddingTail, EmbeddingTailConfig, VaInput};

pub use crate::backend::{CpuBackend, TrainBackend};

#[derive(Config, Debug)]
pub struct VaHeadConfig {
    /// Embedding width.
    pub input: usize,
    #[config(default = 128)]
    pub hidden: usize,
    #[config(default = 0.1)]
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct VaHead<B: Backend> {
    fc1: Linear<B>,
    fc2: Linear<B>,
    out: Linear<B>,
    drop: Dropout,
    act: Relu,
}

impl VaHeadConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> VaHead<B> {
        VaHead {
            fc1: LinearConfig::new(self.input, self.hidden).init(device),
            fc2: LinearConfig::new(self.hidden, self.hidden / 2).init(device),
            out: LinearConfig::new(self.hidden / 2, 2).init(device),
            drop: DropoutConfig::new(self.dropout).init(),
            act: Relu::new(),
        }
    }
}

impl<B: Backend> VaHead<B> {
    /// # Shapes
    /// - input: `[batch, input]` standardised embeddings
    /// - output: `[batch, 2]` standardised (valence, arousal)
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let x = self.drop.forward(self.act.forward(self.fc1.forward(x)));
        let x = self.drop.forward(self.act.forward(self.fc2.forward(x)));
        self.out.forward(x)
    }
}

/// Training loss of the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum VaLoss {
    /// Mean squared error on standardised targets.
    Mse,
    /// 1 − CCC, averaged over both dimensions (does not reward shrinking to the mean).
    Ccc,
}

#[derive(Config, Debug)]
pub struct VaTrainConfig {
    #[config(default = "VaLoss::Ccc")]
    pub loss: VaLoss,
    #[config(default = 300)]
    pub epochs: usize,
    #[config(default = 64)]
    pub batch_size: usize,
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    #[config(default = 1e-4)]
    pub weight_decay: f64,
    #[config(default = 42)]
    pub seed: u64,
    /// Epochs without a better validation mean CCC before stopping.
    #[config(default = 40)]
    pub patience: usize,
    #[config(default = 128)]
    pub hidden: usize,
    #[config(default = 0.1)]
    pub dropout: f64,
    /// What the head reads from the network: the blocks' output statistics beside the embedding
    /// (the default: README, "Within a label") or the embedding alone.
    #[config(default = "VaInput::Levels")]
    pub input: VaInput,
    /// Fine-tune a copy of the ResNet's last residual block and dense embedding together with the
    /// head (after training the head alone), so the embedding can learn what places a track inside
    /// its label; the classifier keeps the original layers. The default: over five seeds of
    /// `scripts/va-options.sh` it raised the within-label r on both axes and the valence CCC on
    /// every seed, and it cannot change the class predictions (README, "Valence–arousal").
    #[config(default = true)]
    pub unfreeze_last_block: bool,
    /// Learning rate of that fine-tuning (the head's own rate: 1e-4 moved the block too little
    /// in `scripts/va-options.sh`'s measurements).
    #[config(default = 1e-3)]
    pub finetune_learning_rate: f64,
    #[config(default = 40)]
    pub finetune_epochs: usize,
    /// Epochs without a better validation mean CCC before the fine-tuning stops.
    #[config(default = 10)]
    pub finetune_patience: usize,
}

/// Per-column standardisation fitted on training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardiser {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Standardiser {
    pub fn fit(x: &Array2<f32>) -> Standardiser {
        let mean = x
            .mean_axis(Axis(0))
            .unwrap_or_else(|| Array1::zeros(x.ncols()));
        let std = x
            .std_axis(Axis(0), 0.0)
            .mapv(|s| if s > 1e-8 { s } else { 1.0 });
        Standardiser {
            mean: mean.to_vec(),
            std: std.to_vec(),
        }
    }

    pub fn apply(&self, x: &Array2<f32>) -> Array2<f32> {
        let mut y = x.clone();
        for mut row in y.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - self.mean[j]) / self.std[j];
            }
        }
        y
    }

    pub fn invert(&self, y: &Array2<f32>) -> Array2<f32> {
        let mut x = y.clone();
        for mut row in x.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = *v * self.std[j] + self.mean[j];
            }
        }
        x
    }
}

/// A trained head with the standardisation it needs at prediction time.
#[derive(Debug)]
pub struct VaModel {
    pub head: VaHead<CpuBackend>,
    pub config: VaHeadConfig,
    pub x_norm: Standardiser,
    pub y_norm: Standardiser,
    /// What it reads from the network ([`VaInput::Embedding`] for heads saved before the setting).
    pub input: VaInput,
    /// The head's own fine-tuned last block and embedding (`train-va --unfreeze-last-block`):
    /// its input is then this tail's output on the ResNet's trunk, not the run's embedding.
    pub tail: Option<VaTail>,
}

/// Files in the head's directory caching track embeddings through its tail (`<prefix><split>.json`).
pub const TAIL_EMBEDDINGS_PREFIX: &str = "tail_embeddings_";

/// A fine-tuned [`EmbeddingTail`] with its shape.
#[derive(Debug, Clone)]
pub struct VaTail {
    pub config: EmbeddingTailConfig,
    pub layers: EmbeddingTail<CpuBackend>,
}

/// One epoch's figures.
#[derive(Debug, Clone, Serialize)]
pub struct VaEpoch {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_ccc_valence: f64,
    pub val_ccc_arousal: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum VaError {
    #[error("the VA head needs training data: got {0} training rows")]
    NoData(usize),
    #[error(
        "the run's network has no residual block to fine-tune; train-va without --unfreeze-last-block"
    )]
    NoTail,
    #[error("embeddings have {x} rows but targets {y}")]
    Mismatch { x: usize, y: usize },
    #[error("{path}: cannot save the VA head: {message}")]
    Save { path: PathBuf, message: String },
    #[error("{path}: cannot load the VA head: {message}; retrain it with `musav train-va`")]
    Load { path: PathBuf, message: String },
}

pub(crate) fn to_tensor<B: Backend>(x: &Array2<f32>, device: &B::Device) -> Tensor<B, 2> {
    let (r, c) = x.dim();
    let data: Vec<f32> = x.iter().copied().collect();
    Tensor::from_data(TensorData::new(data, [r, c]), device)
}

fn to_array<B: Backend>(t: Tensor<B, 2>) -> Array2<f32> {
    let [r, c] = t.dims();
    let v: Vec<f32> = t.into_data().to_vec().unwrap_or_default();
    Array2::from_shape_vec((r, c), v).unwrap_or_else(|_| Array2::zeros((r, c)))
}

/// 1 − CCC per column, averaged.
pub(crate) fn ccc_loss<B: Backend>(pred: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
    let mp = pred.clone().mean_dim(0);
    let mt = target.clone().mean_dim(0);
    let pc = pred - mp.clone();
    let tc = target - mt.clone();
    let vp = pc.clone().powf_scalar(2.0).mean_dim(0);
    let vt = tc.clone().powf_scalar(2.0).mean_dim(0);
    let cov = (pc * tc).mean_dim(0);
    let ccc = cov.mul_scalar(2.0) / (vp + vt + (mp - mt).powf_scalar(2.0)).add_scalar(1e-6);
    ccc.neg().add_scalar(1.0).mean()
}

pub(crate) fn mse_loss<B: Backend>(pred: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
    (pred - target).powf_scalar(2.0).mean()
}

impl VaModel {
    /// Predictions in the targets' original scale, one row per input row: (valence, arousal).
    pub fn predict(&self, x: &Array2<f32>) -> Array2<f32> {
        let device = Default::default();
        let out = self
            .head
            .forward(to_tensor::<CpuBackend>(&self.x_norm.apply(x), &device));
        self.y_norm.invert(&to_array(out))
    }

    /// Writes `DIR/va_head.mpk`, `DIR/va_tail.mpk` when the head has a tail, and `DIR/va_head.json`
    /// (config + standardisation) last, each atomically; embeddings cached for an earlier tail
    /// are removed.
    pub fn save(&self, dir: &Path) -> Result<(), VaError> {
        let err = |path: &Path, e: &dyn std::fmt::Display| VaError::Save {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| err(dir, &e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".va_head.")
            .tempdir_in(dir)
            .map_err(|e| err(dir, &e))?;
        let rec = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        self.head
            .clone()
            .save_file(tmp.path().join("va_head"), &rec)
            .map_err(|e| err(&dir.join("va_head.mpk"), &e))?;
        if let Some(tail) = &self.tail {
            tail.layers
                .clone()
                .save_file(tmp.path().join("va_tail"), &rec)
                .map_err(|e| err(&dir.join("va_tail.mpk"), &e))?;
        }
        let tail_config = match &self.tail {
            Some(t) => serde_json::to_value(&t.config).map_err(|e| err(dir, &e))?,
            None => serde_json::Value::Null,
        };
        let meta = serde_json::json!({
            "config": serde_json::to_value(&self.config).map_err(|e| err(dir, &e))?,
            "x_norm": self.x_norm,
            "y_norm": self.y_norm,
            "input": self.input,
            "tail": tail_config,
        });
        for name in ["va_head.mpk", "va_tail.mpk"] {
            let (from, to) = (tmp.path().join(name), dir.join(name));
            if from.exists() {
                std::fs::rename(&from, &to).map_err(|e| err(&to, &e))?;
            } else if to.exists() {
                std::fs::remove_file(&to).map_err(|e| err(&to, &e))?;
            }
        }
        for entry in std::fs::read_dir(dir).map_err(|e| err(dir, &e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TAIL_EMBEDDINGS_PREFIX) {
                std::fs::remove_file(entry.path()).map_err(|e| err(&entry.path(), &e))?;
            }
        }
        crate::fsio::write_atomic(&dir.join("va_head.json"), meta.to_string().as_bytes())
            .map_err(|e| err(&dir.join("va_head.json"), &e))
    }

    pub fn load(dir: &Path) -> Result<VaModel, VaError> {
        let json_path = dir.join("va_head.json");
        let err = |path: &Path, e: &dyn std::fmt::Display| VaError::Load {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let text = std::fs::read_to_string(&json_path).map_err(|e| err(&json_path, &e))?;
        let meta: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| err(&json_path, &e))?;
        let config: VaHeadConfig =
            serde_json::from_value(meta["config"].clone()).map_err(|e| err(&json_path, &e))?;
        let x_norm =
            serde_json::from_value(meta["x_norm"].clone()).map_err(|e| err(&json_path, &e))?;
        let y_norm =
            serde_json::from_value(meta["y_norm"].clone()).map_err(|e| err(&json_path, &e))?;
        // Heads saved before the setting read the embedding alone.
        let input = match meta.get("input") {
            None | Some(serde_json::Value::Null) => VaInput::Embedding,
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| err(&json_path, &e))?,
        };
        let device = Default::default();
        let rec = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        let head = config
            .init::<CpuBackend>(&device)
            .load_file(dir.join("va_head"), &rec, &device)
            .map_err(|e| err(&dir.join("va_head.mpk"), &e))?;
        // Heads saved before the option have no "tail" key.
        let tail = match meta.get("tail") {
            None | Some(serde_json::Value::Null) => None,
            Some(t) => {
                let config: EmbeddingTailConfig =
                    serde_json::from_value(t.clone()).map_err(|e| err(&json_path, &e))?;
                let layers = config
                    .init::<CpuBackend>(&device)
                    .load_file(dir.join("va_tail"), &rec, &device)
                    .map_err(|e| err(&dir.join("va_tail.mpk"), &e))?;
                Some(VaTail { config, layers })
            }
        };
        Ok(VaModel {
            head,
            config,
            x_norm,
            y_norm,
            input,
            tail,
        })
    }
}

/// Trains the head on inputs read from the network as `cfg.input` says; early-stops on validation
/// mean CCC and keeps the best epoch's weights.
pub fn train_head(
    x_train: &Array2<f32>,
    y_train: &Array2<f32>,
    x_val: &Array2<f32>,
    y_val: &Array2<f32>,
    cfg: &VaTrainConfig,
    mut on_epoch: impl FnMut(&VaEpoch),
) -> Result<(VaModel, Vec<VaEpoch>), VaError> {
    if x_train.nrows() < 2 {
        return Err(VaError::NoData(x_train.nrows()));
    }
    for (x, y) in [(x_train, y_train), (x_val, y_val)] {
        if x.nrows() != y.nrows() {
            return Err(VaError::Mismatch {
                x: x.nrows(),
                y: y.nrows(),
            });
        }
    }
    let device = Default::default();
    let _random = crate::backend::seeded(cfg.seed);
    let x_norm = Standardiser::fit(x_train);
    let y_norm = Standardiser::fit(y_train);
    let xs = x_norm.apply(x_train);
    let ys = y_norm.apply(y_train);
    let head_cfg = VaHeadConfig::new(x_train.ncols())
        .with_hidden(cfg.hidden)
        .with_dropout(cfg.dropout);
    let mut model: VaHead<TrainBackend> = head_cfg.init(&device);
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init::<TrainBackend, VaHead<TrainBackend>>();
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..xs.nrows()).collect();
    let mut best: Option<(f64, VaHead<CpuBackend>)> = None;
    let mut since_best = 0;
    let mut history = Vec::new();
    // Batches smaller than this give a CCC too noisy to learn from; merge the remainder.
    let batch = cfg.batch_size.max(8).min(xs.nrows());
    for epoch in 1..=cfg.epochs {
        order.shuffle(&mut rng);
        let mut total = 0.0;
        let mut batches = 0;
        for chunk in order
            .chunks(batch)
            .filter(|c| c.len() * 2 >= batch || c.len() == order.len())
        {
            let xb = to_tensor::<TrainBackend>(&xs.select(Axis(0), chunk), &device);
            let yb = to_tensor::<TrainBackend>(&ys.select(Axis(0), chunk), &device);
            let pred = model.forward(xb);
            let loss = match cfg.loss {
                VaLoss::Mse => mse_loss(pred, yb),
                VaLoss::Ccc => ccc_loss(pred, yb),
            };
            total += loss.clone().into_scalar().to_f64();
            batches += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(cfg.learning_rate, model, grads);
        }
        let valid = model.valid();
        let candidate = VaModel {
            head: valid.clone(),
            config: head_cfg.clone(),
            x_norm: x_norm.clone(),
            y_norm: y_norm.clone(),
            input: cfg.input,
            tail: None,
        };
        let (cv, ca) = if x_val.nrows() > 1 {
            let p = candidate.predict(x_val);
            let col = |a: &Array2<f32>, j: usize| {
                a.column(j).iter().map(|&v| v as f64).collect::<Vec<_>>()
            };
            (
                metrics::ccc(&col(&p, 0), &col(y_val, 0)),
                metrics::ccc(&col(&p, 1), &col(y_val, 1)),
            )
        } else {
            (0.0, 0.0)
        };
        let e = VaEpoch {
            epoch,
            train_loss: total / batches.max(1) as f64,
            val_ccc_valence: cv,
            val_ccc_arousal: ca,
        };
        on_epoch(&e);
        history.push(e);
        let score = (cv + ca) / 2.0;
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, valid));
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= cfg.patience {
                break;
            }
        }
    }
    let head = best.map(|(_, h)| h).unwrap_or_else(|| model.valid());
    Ok((
        VaModel {
            head,
            config: head_cfg,
            x_norm,
            y_norm,
            input: cfg.input,
            tail: None,
        },
        history,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use rand::rngs::StdRng;

    /// Embeddings whose first two directions carry (valence, arousal) with noise; the rest is noise.
    fn data(n: usize, noise: f32, seed: u64) -> (Array2<f32>, Array2<f32>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut x = Array2::<f32>::zeros((n, 16));
        let mut y = Array2::<f32>::zeros((n, 2));
        for i in 0..n {
            let (v, a) = (rng.r#gen::<f32>(), rng.r#gen::<f32>());
            y[[i, 0]] = v;
            y[[i, 1]] = a;
            for j in 0..16 {
                x[[i, j]] = rng.gen_range(-1.0..1.0);
            }
            x[[i, 0]] = 3.0 * v + noise * rng.gen_range(-1.0..1.0);
            x[[i, 1]] = (2.0 * a).powi(2) + noise * rng.gen_range(-1.0..1.0);
        }
        (x, y)
    }

    fn col(a: &Array2<f32>, j: usize) -> Vec<f64> {
        a.column(j).iter().map(|&v| v as f64).collect()
    }

    #[test]
    fn ccc_head_learns_va_without_shrinking() {
        let (xt, yt) = data(400, 0.3, 1);
        let (xv, yv) = data(150, 0.3, 2);
        let cfg = VaTrainConfig::new().with_epochs(120).with_patience(30);
        let (model, hist) = train_head(&xt, &yt, &xv, &yv, &cfg, |_| {}).unwrap();
        assert!(!hist.is_empty());
        let p = model.predict(&xv);
        for j in 0..2 {
            let m = metrics::dim_metrics(&col(&p, j), &col(&yv, j));
            assert!(m.ccc > 0.8, "dim {j}: {m:?}");
            assert!(m.spread_ratio > 0.8, "dim {j}: {m:?}");
        }
    }

    /// With a weak signal MSE pulls predictions toward the mean; the CCC loss keeps the spread.
    #[test]
    fn ccc_loss_keeps_more_spread_than_mse_on_weak_signal() {
        let (xt, yt) = data(400, 2.5, 3);
        let (xv, yv) = data(200, 2.5, 4);
        let spread = |loss| {
            let cfg = VaTrainConfig::new()
                .with_loss(loss)
                .with_epochs(80)
                .with_patience(20);
            let (m, _) = train_head(&xt, &yt, &xv, &yv, &cfg, |_| {}).unwrap();
            let p = m.predict(&xv);
            metrics::spread_ratio(&col(&p, 0), &col(&yv, 0))
        };
        let (mse, ccc) = (spread(VaLoss::Mse), spread(VaLoss::Ccc));
        assert!(
            ccc > mse + 0.1,
            "spread ratio: ccc {ccc:.3} vs mse {mse:.3}"
        );
    }

    #[test]
    fn saved_head_predicts_identically() {
        let (xt, yt) = data(100, 0.3, 5);
        let cfg = VaTrainConfig::new().with_epochs(5);
        let (model, _) = train_head(&xt, &yt, &xt, &yt, &cfg, |_| {}).unwrap();
        let dir = tempfile::tempdir().unwrap();
        model.save(dir.path()).unwrap();
        let back = VaModel::load(dir.path()).unwrap();
        assert_eq!(model.predict(&xt), back.predict(&xt));
        let e = VaModel::load(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("train-va"), "{e}");
    }

    /// The head records what it reads from the network, and a head saved before that setting
    /// existed (no "input" key) is read as the embedding-only head it was.
    #[test]
    fn saved_head_keeps_its_input_and_old_heads_read_the_embedding() {
        let (xt, yt) = data(60, 0.3, 6);
        let dir = tempfile::tempdir().unwrap();
        for input in [VaInput::Embedding, VaInput::Levels] {
            let cfg = VaTrainConfig::new().with_epochs(2).with_input(input);
            let (model, _) = train_head(&xt, &yt, &xt, &yt, &cfg, |_| {}).unwrap();
            model.save(dir.path()).unwrap();
            assert_eq!(VaModel::load(dir.path()).unwrap().input, input);
        }
        let json = dir.path().join("va_head.json");
        let mut meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(meta["input"], "levels");
        meta.as_object_mut().unwrap().remove("input");
        std::fs::write(&json, meta.to_string()).unwrap();
        assert_eq!(VaModel::load(dir.path()).unwrap().input, VaInput::Embedding);
    }
}
