//! One training step of the mood ResNet (forward + backward + AdamW) on burn's CPU backend, at the
//! default network size and a batch of 16 three-second chunks; scripts/bench-train.sh runs the same
//! step in PyTorch and prints the ratio.

use burn::backend::{Autodiff, NdArray};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use musav::model::resnet::{ResNet, ResNetConfig};

type B = Autodiff<NdArray<f32>>;

const BATCH: usize = 16;
const FRAMES: usize = 141;
const CLASSES: usize = 11;

fn train_step(c: &mut Criterion) {
    let device = Default::default();
    B::seed(&device, 1);
    let mut model: ResNet<B> = ResNetConfig::new(CLASSES).init(&device);
    let mut optim = AdamWConfig::new()
        .with_weight_decay(1e-4)
        .init::<B, ResNet<B>>();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let x = Tensor::<B, 3>::random(
        [BATCH, 96, FRAMES],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let targets: Vec<i64> = (0..BATCH as i64).map(|i| i % CLASSES as i64).collect();
    let y = Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [BATCH]), &device);
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("burn_ndarray", BATCH), |b| {
        b.iter(|| {
            let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-3, model.clone(), grads);
        })
    });
    group.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
