//! One training step of the mood ResNet (forward + backward + AdamW) at the default network size and
//! a batch of 16 three-second chunks, on every burn CPU backend compiled in (flex, musav's default, and
//! ndarray always; candle and tch (libtorch) behind the cargo features of the same names). scripts/bench-train.sh runs the same step in
//! PyTorch in the same run and prints the ratios.
//!
//! Plain harness (a burn step can take seconds, too slow for criterion's sampling). Environment:
//! - `MUSAV_BENCH_STEPS`: timed steps per backend (default 5, after 1 warm-up step)
//! - `MUSAV_BENCH_BACKENDS`: comma-separated subset of `flex,ndarray,candle,tch` (default: all built)
//! - `MUSAV_BENCH_OPS=1`: also time single ops (conv2d, batch norm forward and backward)
//!
//! Prints one line per backend: `train_step <backend> <median ms> ms (forward …, backward …, optimiser …)`.

use std::time::{Duration, Instant};

use burn::module::AutodiffModule;
use burn::nn::BatchNormConfig;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use musav::model::ops::ModelBackend;
use musav::model::resnet::{ResNet, ResNetConfig, batch_norm_2d, conv2d};

const BATCH: usize = 16;
const MELS: usize = 96;
const FRAMES: usize = 141;
const CLASSES: usize = 11;

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn train_step<B: AutodiffBackend + ModelBackend>(name: &str, steps: usize)
where
    ResNet<B>: AutodiffModule<B>,
{
    let device = Default::default();
    B::seed(&device, 1);
    let mut model: ResNet<B> = ResNetConfig::new(CLASSES).init(&device);
    let mut optim = AdamWConfig::new()
        .with_weight_decay(1e-4)
        .init::<B, ResNet<B>>();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let x = Tensor::<B, 3>::random(
        [BATCH, MELS, FRAMES],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let targets: Vec<i64> = (0..BATCH as i64).map(|i| i % CLASSES as i64).collect();
    let y = Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [BATCH]), &device);
    let (mut tot, mut fwd, mut bwd, mut opt) = (vec![], vec![], vec![], vec![]);
    for i in 0..steps + 1 {
        let t0 = Instant::now();
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        let _ = loss.clone().into_scalar();
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let t2 = Instant::now();
        // All backends benched here are eager: the update is done when `step` returns.
        model = optim.step(1e-3, model, grads);
        let t3 = Instant::now();
        if i > 0 {
            tot.push(t3 - t0);
            fwd.push(t1 - t0);
            bwd.push(t2 - t1);
            opt.push(t3 - t2);
        }
    }
    println!(
        "train_step {name} {:.1} ms (forward {:.1}, backward {:.1}, optimiser {:.1}; median of {steps})",
        median(tot),
        median(fwd),
        median(bwd),
        median(opt)
    );
}

/// Times single ops of the largest layer (64→64 3×3 conv on 48×71, batch 16) and the first block's
/// stride-2 conv; backward is timed as `sum().backward()` on an autodiff tensor.
fn ops<B: AutodiffBackend + ModelBackend>(name: &str, steps: usize)
where
    B::InnerBackend: ModelBackend,
{
    let device: B::Device = Default::default();
    B::seed(&device, 1);
    let time = |label: &str, f: &mut dyn FnMut()| {
        f();
        let v: Vec<Duration> = (0..steps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        println!("op {name} {label}: {:.1} ms", median(v));
    };
    let cases = [
        ("conv 64->64 3x3 s1 48x71", 64, 64, 3, 1, 48, 71),
        ("conv 64->64 3x3 s2 48x71", 64, 64, 3, 2, 48, 71),
        ("conv 1->64 3x3 s2 96x141", 1, 64, 3, 2, 96, 141),
        ("conv 128->256 3x3 s2 3x5", 128, 256, 3, 2, 3, 5),
    ];
    for (label, i, o, k, s, h, w) in cases {
        let conv = Conv2dConfig::new([i, o], [k, k])
            .with_stride([s, s])
            .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
            .with_bias(false)
            .init::<B>(&device);
        let x = Tensor::<B, 4>::random(
            [BATCH, i, h, w],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let conv_inner = conv.valid();
        let xi = x.clone().inner();
        time(&format!("{label} forward"), &mut || {
            let _ = conv_inner.forward(xi.clone()).sum().into_scalar();
        });
        time(&format!("{label} forward (musav)"), &mut || {
            let _ = conv2d(&conv_inner, xi.clone()).sum().into_scalar();
        });
        let xg = x.require_grad();
        time(&format!("{label} forward+backward"), &mut || {
            let g = conv.forward(xg.clone()).sum().backward();
            let _ = xg.grad(&g).unwrap().sum().into_scalar();
        });
        time(&format!("{label} forward+backward (musav)"), &mut || {
            let g = conv2d(&conv, xg.clone()).sum().backward();
            let _ = xg.grad(&g).unwrap().sum().into_scalar();
        });
    }
    // musav's host kernels on plain vectors: Winograd against im2col + gemm for the size-preserving
    // 3×3 convolution, forward and input gradient.
    {
        use burn::tensor::ops::ConvOptions;
        use musav::model::conv::{self, ConvShape};
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let s = ConvShape::new([BATCH, 64, 48, 71], [64, 64, 3, 3], &options);
        let x: Vec<f32> = (0..BATCH * 64 * 48 * 71)
            .map(|i| (i % 7) as f32 - 3.0)
            .collect();
        let w: Vec<f32> = (0..64 * 64 * 9).map(|i| (i % 5) as f32 * 0.1).collect();
        time("kernel 64->64 3x3 s1 48x71 forward, winograd", &mut || {
            std::hint::black_box(conv::forward(&x, &w, s, &options));
        });
        time(
            "kernel 64->64 3x3 s1 48x71 forward, im2col+gemm",
            &mut || {
                std::hint::black_box(conv::forward_unfolded(&x, &w, s, &options));
            },
        );
        time(
            "kernel 64->64 3x3 s1 48x71 input grad, winograd",
            &mut || {
                std::hint::black_box(conv::input_grad(&x, &w, s, &options));
            },
        );
        time(
            "kernel 64->64 3x3 s1 48x71 input grad, gemm+col2im",
            &mut || {
                std::hint::black_box(conv::input_grad_unfolded(&x, &w, s, &options));
            },
        );
        time(
            "kernel 64->64 3x3 s1 48x71 weight grad, winograd",
            &mut || {
                std::hint::black_box(conv::weight_grad(&x, &x, s, &options));
            },
        );
        time(
            "kernel 64->64 3x3 s1 48x71 weight grad, im2col+gemm",
            &mut || {
                std::hint::black_box(conv::weight_grad_unfolded(&x, &x, s, &options));
            },
        );
    }
    let bn = BatchNormConfig::new(64).init::<B>(&device);
    let x = Tensor::<B, 4>::random(
        [BATCH, 64, 48, 71],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    )
    .require_grad();
    time("batch_norm (burn) 64x48x71 forward+backward", &mut || {
        let g = bn.forward(x.clone()).sum().backward();
        let _ = x.grad(&g).unwrap().sum().into_scalar();
    });
    time(
        "batch_norm_2d (musav) 64x48x71 forward+backward",
        &mut || {
            let g = batch_norm_2d(&bn, x.clone()).sum().backward();
            let _ = x.grad(&g).unwrap().sum().into_scalar();
        },
    );
    let xr = x.clone().inner();
    time("relu 64x48x71 forward", &mut || {
        let _ = burn::tensor::activation::relu(xr.clone())
            .sum()
            .into_scalar();
    });
}

fn run<B: AutodiffBackend + ModelBackend>(
    name: &str,
    wanted: &Option<String>,
    steps: usize,
    with_ops: bool,
) where
    ResNet<B>: AutodiffModule<B>,
    B::InnerBackend: ModelBackend,
{
    if let Some(w) = wanted
        && !w.split(',').any(|n| n.trim() == name)
    {
        return;
    }
    // A backend that cannot run an op panics; report it and go on with the others.
    let ran = std::panic::catch_unwind(|| {
        if with_ops {
            ops::<B>(name, steps);
        }
        train_step::<B>(name, steps);
    });
    if let Err(e) = ran {
        let msg = e
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| e.downcast_ref::<&str>().copied())
            .unwrap_or("panic");
        println!("train_step {name} failed: {msg}");
    }
}

fn main() {
    musav::backend::keep_freed_memory();
    let steps: usize = std::env::var("MUSAV_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let wanted = std::env::var("MUSAV_BENCH_BACKENDS").ok();
    let with_ops = std::env::var("MUSAV_BENCH_OPS").is_ok_and(|v| v == "1");
    run::<burn::backend::Autodiff<burn::backend::NdArray<f32>>>(
        "ndarray", &wanted, steps, with_ops,
    );
    run::<burn::backend::Autodiff<burn::backend::Flex>>("flex", &wanted, steps, with_ops);
    #[cfg(feature = "tch")]
    {
        // Same thread count as PyTorch's side of the benchmark.
        if let Some(n) = std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|s| s.parse().ok())
        {
            tch::set_num_threads(n);
        }
        run::<burn::backend::Autodiff<burn::backend::LibTorch<f32>>>(
            "tch", &wanted, steps, with_ops,
        );
    }
    #[cfg(feature = "candle")]
    #[allow(deprecated)] // burn 0.21 deprecates burn-candle in favour of flex
    run::<burn::backend::Autodiff<burn::backend::Candle<f32, i64>>>(
        "candle", &wanted, steps, with_ops,
    );
}
