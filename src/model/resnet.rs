//! Short-chunk ResNet on mel-spectrograms, after Won et al. 2020 ("Evaluation of CNN-based automatic
//! music tagging models"): a batch norm on the raw spectrogram, stacked residual 2-D conv blocks that
//! each halve both axes, global max pooling, a dense embedding, then the classifier.
//!
//! The embedding (the dense layer's output) is kept separate from the classifier because the
//! valence–arousal head is trained on it: moods are regions of the VA plane, so the embedding already
//! carries most of what VA needs.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d, Relu,
};
use burn::prelude::*;

/// Size of the network; the defaults follow the paper's short-chunk ResNet scaled to 96 bands,
/// and tests shrink `channels` and `embedding` to stay fast on two cores.
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Number of output classes.
    pub classes: usize,
    /// Mel bands of the input.
    #[config(default = 96)]
    pub n_mels: usize,
    /// Output channels of each residual block; every block halves frequency and time.
    #[config(default = "vec![64, 64, 128, 128, 128, 128, 256]")]
    pub channels: Vec<usize>,
    /// Width of the dense embedding (the VA head's input).
    #[config(default = 256)]
    pub embedding: usize,
    #[config(default = 0.5)]
    pub dropout: f64,
}

/// One residual block: two 3×3 convs with batch norm, stride 2, and a projection shortcut.
#[derive(Module, Debug)]
pub struct ResBlock<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    conv2: Conv2d<B>,
    bn2: BatchNorm<B>,
    proj: Conv2d<B>,
    bn_proj: BatchNorm<B>,
    act: Relu,
}

impl<B: Backend> ResBlock<B> {
    fn new(input: usize, output: usize, device: &B::Device) -> Self {
        let conv = |i, o, k: usize, s| {
            Conv2dConfig::new([i, o], [k, k])
                .with_stride([s, s])
                .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                .with_bias(false)
                .init(device)
        };
        ResBlock {
            conv1: conv(input, output, 3, 2),
            bn1: BatchNormConfig::new(output).init(device),
            conv2: conv(output, output, 3, 1),
            bn2: BatchNormConfig::new(output).init(device),
            proj: conv(input, output, 1, 2),
            bn_proj: BatchNormConfig::new(output).init(device),
            act: Relu::new(),
        }
    }

    /// # Shapes
    /// - input: `[batch, in, f, t]`
    /// - output: `[batch, out, ceil(f/2), ceil(t/2)]`
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let y = self
            .act
            .forward(batch_norm_2d(&self.bn1, self.conv1.forward(x.clone())));
        let y = batch_norm_2d(&self.bn2, self.conv2.forward(y));
        let shortcut = batch_norm_2d(&self.bn_proj, self.proj.forward(x));
        self.act.forward(y + shortcut)
    }
}

/// `bn.forward(x)` for `[batch, channels, h, w]`, computed on the `[batch, channels, h·w]` view: the
/// same statistics, running-state update and output as burn's `BatchNorm` (biased variance, running
/// stats updated only when autodiff is on), but without burn's `swap_dims(0, 1).reshape(..)` copies of
/// the whole activation and with the per-channel factors folded into one scale and one shift, so the
/// backward pass reduces over the contiguous last axis. On burn's CPU backends this op was slower than
/// the convolutions (see benches/train_step.rs, `MUSAV_BENCH_OPS=1`).
pub fn batch_norm_2d<B: Backend>(bn: &BatchNorm<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, c, h, w] = x.dims();
    let x = x.reshape([b, c, h * w]);
    let device = x.device();
    let (centered, var) = if B::ad_enabled(&device) {
        let n = (b * h * w) as f64;
        let mean = x.clone().sum_dim(2).sum_dim(0).div_scalar(n);
        let centered = x - mean.clone();
        let var = centered
            .clone()
            .square()
            .sum_dim(2)
            .sum_dim(0)
            .div_scalar(n);
        let m = bn.momentum;
        let running_mean = bn.running_mean.value_sync().to_device(&device);
        let running_var = bn.running_var.value_sync().to_device(&device);
        bn.running_mean.update(
            running_mean
                .mul_scalar(1.0 - m)
                .add(mean.detach().mul_scalar(m).reshape([c]))
                .detach(),
        );
        bn.running_var.update(
            running_var
                .mul_scalar(1.0 - m)
                .add(var.clone().detach().mul_scalar(m).reshape([c]))
                .detach(),
        );
        (centered, var)
    } else {
        let mean = bn
            .running_mean
            .value()
            .to_device(&device)
            .reshape([1, c, 1]);
        let var = bn.running_var.value().to_device(&device).reshape([1, c, 1]);
        (x - mean, var)
    };
    let scale = bn.gamma.val().reshape([1, c, 1]) / var.add_scalar(bn.epsilon).sqrt();
    (centered * scale + bn.beta.val().reshape([1, c, 1])).reshape([b, c, h, w])
}

#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    spec_bn: BatchNorm<B>,
    blocks: Vec<ResBlock<B>>,
    dense: Linear<B>,
    dense_bn: BatchNorm<B>,
    drop: Dropout,
    classifier: Linear<B>,
    act: Relu,
}

impl ResNetConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResNet<B> {
        let mut blocks = Vec::with_capacity(self.channels.len());
        let mut input = 1;
        for &c in &self.channels {
            blocks.push(ResBlock::new(input, c, device));
            input = c;
        }
        ResNet {
            spec_bn: BatchNormConfig::new(1).init(device),
            blocks,
            dense: LinearConfig::new(input, self.embedding).init(device),
            dense_bn: BatchNormConfig::new(self.embedding).init(device),
            drop: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(self.embedding, self.classes).init(device),
            act: Relu::new(),
        }
    }
}

impl<B: Backend> ResNet<B> {
    /// The embedding the VA head uses.
    ///
    /// # Shapes
    /// - input: `[batch, n_mels, frames]` mel-spectrogram chunks (dB)
    /// - output: `[batch, embedding]`
    pub fn embed(&self, mel: Tensor<B, 3>) -> Tensor<B, 2> {
        let [b, f, t] = mel.dims();
        let mut x = batch_norm_2d(&self.spec_bn, mel.reshape([b, 1, f, t]));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let [b, c, f, t] = x.dims();
        // Global max pooling: a mood cue anywhere in the chunk counts.
        let x = x.reshape([b, c, f * t]).max_dim(2).reshape([b, c]);
        self.act
            .forward(self.dense_bn.forward(self.dense.forward(x)))
    }

    /// # Shapes
    /// - input: `[batch, n_mels, frames]`
    /// - output: `[batch, classes]` logits
    pub fn forward(&self, mel: Tensor<B, 3>) -> Tensor<B, 2> {
        self.classifier.forward(self.drop.forward(self.embed(mel)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::module::AutodiffModule;

    #[test]
    fn forward_and_embedding_shapes() {
        let device = Default::default();
        let cfg = ResNetConfig::new(5)
            .with_channels(vec![4, 8, 8])
            .with_embedding(12);
        let model: ResNet<NdArray<f32>> = cfg.init(&device);
        let x = Tensor::<NdArray<f32>, 3>::random(
            [3, 96, 40],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        assert_eq!(model.embed(x.clone()).dims(), [3, 12]);
        assert_eq!(model.forward(x).dims(), [3, 5]);
    }

    #[test]
    fn batch_norm_2d_matches_burn_batch_norm() {
        use burn::backend::Autodiff;
        type A = Autodiff<NdArray<f32>>;
        let device = Default::default();
        let x = Tensor::<A, 4>::random(
            [3, 5, 4, 7],
            burn::tensor::Distribution::Normal(1.0, 2.0),
            &device,
        );
        let bn = BatchNormConfig::new(5).init::<A>(&device);
        let ours = BatchNormConfig::new(5).init::<A>(&device);
        for _ in 0..2 {
            let a = bn.forward(x.clone());
            let b = batch_norm_2d(&ours, x.clone());
            a.into_data()
                .assert_approx_eq::<f32>(&b.into_data(), burn::tensor::Tolerance::default());
        }
        bn.running_mean.value().into_data().assert_approx_eq::<f32>(
            &ours.running_mean.value().into_data(),
            burn::tensor::Tolerance::default(),
        );
        bn.running_var.value().into_data().assert_approx_eq::<f32>(
            &ours.running_var.value().into_data(),
            burn::tensor::Tolerance::default(),
        );
        let (bn, ours) = (bn.valid(), ours.valid());
        let x = x.inner();
        bn.forward(x.clone()).into_data().assert_approx_eq::<f32>(
            &batch_norm_2d(&ours, x).into_data(),
            burn::tensor::Tolerance::default(),
        );
    }

    #[test]
    fn default_config_is_the_paper_sized_network() {
        let cfg = ResNetConfig::new(11);
        assert_eq!(cfg.channels.len(), 7);
        assert_eq!(cfg.n_mels, 96);
    }
}
