//! `train-va --unfreeze-last-block`: the VA head and a copy of the ResNet's last residual block and
//! dense embedding trained together, at a small learning rate, starting from the head trained on
//! the frozen network (with the `levels` input, the copy's block statistics stand in for the
//! original last block's; the earlier blocks' stay as they are).
//!
//! A head on the frozen classifier embedding can only use what classification kept, and the class
//! loss rewards discarding where a track sits inside its label. Letting the last block move under
//! the VA loss puts that back. The classifier keeps the original layers (the copy is the head's),
//! so the run's class predictions and validation figures do not change. The earlier blocks stay
//! frozen and run in inference mode, so their batch-norm statistics stay those of training.

use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use ndarray::Array2;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::data::{self, Example};
use super::run::{CpuBackend, TrainBackend, embed_tracks};
use crate::model::resnet::{EmbeddingTail, EmbeddingTailConfig, ResNet, va_features};
use crate::va::head::{
    VaEpoch, VaError, VaHead, VaLoss, VaModel, VaTail, VaTrainConfig, ccc_loss, mse_loss, to_tensor,
};
use crate::va::metrics;

/// What is trained: the tail copy and the head.
#[derive(Module, Debug)]
struct TailHead<B: crate::model::ops::ModelBackend> {
    tail: EmbeddingTail<B>,
    head: VaHead<B>,
}

/// Marks every parameter as trained: `from_inner` keeps each one's gradient flag, and weights
/// loaded for inference have it off, so the optimiser would silently leave them unchanged.
struct Trainable;

impl<B: Backend> ModuleMapper<B> for Trainable {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.set_require_grad(true)
    }
}

/// The run's trained network and how it reads a track.
pub struct Backbone<'a> {
    pub resnet: &'a ResNet<CpuBackend>,
    /// The shape of its tail (what is copied and fine-tuned).
    pub tail: &'a EmbeddingTailConfig,
    /// Frames per chunk.
    pub frames: usize,
    /// Chunks per forward pass at evaluation.
    pub eval_batch: usize,
}

/// One split for fine-tuning: examples (normalised as the run was trained) and their raw targets.
pub struct TailData<'a> {
    pub examples: &'a [Example],
    pub targets: &'a Array2<f32>,
}

/// Fine-tunes `start` (a head trained on the frozen network) together with a copy of `resnet`'s
/// tail, reading the network as `start` does (its `input`); returns the model of the best
/// validation mean CCC, which is `start` with the original tail when no epoch beats it, and each
/// epoch's figures (epoch 0: the starting point).
pub fn finetune_tail(
    backbone: &Backbone<'_>,
    start: &VaModel,
    train: TailData<'_>,
    val: TailData<'_>,
    cfg: &VaTrainConfig,
) -> Result<(VaModel, Vec<VaEpoch>), VaError> {
    let Backbone {
        resnet,
        tail: embedding,
        frames,
        eval_batch,
    } = *backbone;
    if train.examples.len() < 2 {
        return Err(VaError::NoData(train.examples.len()));
    }
    for d in [&train, &val] {
        if d.examples.len() != d.targets.nrows() {
            return Err(VaError::Mismatch {
                x: d.examples.len(),
                y: d.targets.nrows(),
            });
        }
    }
    let Some(tail) = resnet.tail() else {
        return Err(VaError::NoTail);
    };
    let device = Default::default();
    let _random = crate::backend::seeded(cfg.seed);
    let model_of = |tail: EmbeddingTail<CpuBackend>, head: VaHead<CpuBackend>| VaModel {
        head,
        config: start.config.clone(),
        x_norm: start.x_norm.clone(),
        y_norm: start.y_norm.clone(),
        input: start.input,
        tail: Some(VaTail {
            config: embedding.clone(),
            layers: tail,
        }),
    };
    let evaluate = |m: &VaModel| -> (f64, f64) {
        if val.examples.len() < 2 {
            return (0.0, 0.0);
        }
        let layers = &m
            .tail
            .as_ref()
            .expect("a fine-tuned model has a tail")
            .layers;
        let x = embed_tracks(
            resnet,
            Some(layers),
            start.input,
            val.examples,
            frames,
            eval_batch,
            start.x_norm.mean.len(),
        );
        let p = m.predict(&x);
        let col = |a: &Array2<f32>, j: usize| -> Vec<f64> {
            a.column(j).iter().map(|&v| v as f64).collect()
        };
        let c = |j| metrics::ccc(&col(&p, j), &col(val.targets, j));
        (c(0), c(1))
    };

    let mut best = model_of(tail.clone(), start.head.clone());
    let (cv, ca) = evaluate(&best);
    let mut history = vec![VaEpoch {
        epoch: 0,
        train_loss: f64::NAN,
        val_ccc_valence: cv,
        val_ccc_arousal: ca,
    }];
    let mut best_score = (cv + ca) / 2.0;

    let mut net = TailHead::<TrainBackend> {
        tail: EmbeddingTail::from_inner(tail),
        head: VaHead::from_inner(start.head.clone()),
    }
    .map(&mut Trainable);
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init::<TrainBackend, TailHead<TrainBackend>>();
    let width = start.x_norm.mean.len();
    let row = |v: &[f32]| {
        Tensor::<TrainBackend, 2>::from_data(TensorData::new(v.to_vec(), [1, width]), &device)
    };
    let (x_mean, x_std) = (row(&start.x_norm.mean), row(&start.x_norm.std));
    let ys = start.y_norm.apply(train.targets);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..train.examples.len()).collect();
    // The CCC of a batch is its own statistic: batches below this are too noisy to learn from.
    let batch = cfg.batch_size.max(8).min(order.len());
    let mut since_best = 0;
    for epoch in 1..=cfg.finetune_epochs {
        order.shuffle(&mut rng);
        let mut total = 0.0;
        let mut batches = 0;
        for idx in order
            .chunks(batch)
            .filter(|c| c.len() * 2 >= batch || c.len() == order.len())
        {
            // One random chunk per track (as the classifier was trained): the trunk in inference
            // mode, the tail and head with gradients.
            let chunks: Vec<_> = idx
                .iter()
                .map(|&i| train.examples[i].random_chunk(frames, &mut rng))
                .collect();
            let (buf, shape) = data::stack(&chunks);
            let mel = Tensor::<CpuBackend, 3>::from_data(TensorData::new(buf, shape), &device);
            let (trunk, stats) = resnet.trunk_for(mel, start.input);
            let stats: Vec<_> = stats.into_iter().map(Tensor::from_inner).collect();
            let (emb, last) = net
                .tail
                .forward_levels(Tensor::from_inner(trunk), start.input);
            let x = va_features(start.input, emb, &stats, last);
            let x = (x - x_mean.clone()) / x_std.clone();
            let pred = net.head.forward(x);
            let y = to_tensor::<TrainBackend>(&ys.select(ndarray::Axis(0), idx), &device);
            let loss = match cfg.loss {
                VaLoss::Mse => mse_loss(pred, y),
                VaLoss::Ccc => ccc_loss(pred, y),
            };
            total += loss.clone().into_scalar().to_f64();
            batches += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(cfg.finetune_learning_rate, net, grads);
        }
        let candidate = model_of(net.tail.valid(), net.head.valid());
        let (cv, ca) = evaluate(&candidate);
        history.push(VaEpoch {
            epoch,
            train_loss: total / batches.max(1) as f64,
            val_ccc_valence: cv,
            val_ccc_arousal: ca,
        });
        let score = (cv + ca) / 2.0;
        if score > best_score {
            best_score = score;
            best = candidate;
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= cfg.finetune_patience {
                break;
            }
        }
    }
    Ok((best, history))
}
