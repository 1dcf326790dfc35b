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
use burn::tensor::TensorPrimitive;
use burn::tensor::ops::ConvOptions;

use super::ops::ModelBackend;

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
    /// A valence–arousal output beside the classifier, trained with the auxiliary VA loss so the
    /// embedding learns what places a track inside its label (`None` in runs made before it: an
    /// `Option` so their run.json still loads).
    pub va_output: Option<bool>,
}

/// One residual block: two 3×3 convs with batch norm, stride 2, and a projection shortcut.
#[derive(Module, Debug)]
pub struct ResBlock<B: ModelBackend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    conv2: Conv2d<B>,
    bn2: BatchNorm<B>,
    proj: Conv2d<B>,
    bn_proj: BatchNorm<B>,
    act: Relu,
}

impl<B: ModelBackend> ResBlock<B> {
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
            .forward(batch_norm_2d(&self.bn1, conv2d(&self.conv1, x.clone())));
        let y = batch_norm_2d(&self.bn2, conv2d(&self.conv2, y));
        let shortcut = batch_norm_2d(&self.bn_proj, conv2d(&self.proj, x));
        self.act.forward(y + shortcut)
    }
}

/// `conv.forward(x)` for the block's bias-free, symmetrically padded convolutions, through
/// [`ModelBackend::conv2d_train`] (musav's weight gradient).
pub fn conv2d<B: ModelBackend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let PaddingConfig2d::Explicit(top, left, bottom, right) = conv.padding else {
        unreachable!("the block's convolutions have explicit padding")
    };
    assert!(
        conv.bias.is_none() && top == bottom && left == right,
        "the block's convolutions have no bias and symmetric padding"
    );
    let options = ConvOptions::new(conv.stride, [top, left], conv.dilation, conv.groups);
    Tensor::from_primitive(TensorPrimitive::Float(B::conv2d_train(
        x.into_primitive().tensor(),
        conv.weight.val().into_primitive().tensor(),
        options,
    )))
}

/// `bn.forward(x)` for `[batch, channels, h, w]`: the same statistics, running-state update and
/// output as burn's `BatchNorm` (biased variance, running stats updated only when autodiff is on),
/// but in training through the fused kernel of [`super::batch_norm`], and at inference with the
/// per-channel factors folded into one scale and one shift on the `[batch, channels, h·w]` view.
pub fn batch_norm_2d<B: ModelBackend>(bn: &BatchNorm<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, c, h, w] = x.dims();
    let x = x.reshape([b, c, h * w]);
    let device = x.device();
    if B::ad_enabled(&device) {
        let out = B::batch_norm_train(
            x.into_primitive().tensor(),
            bn.gamma.val().into_primitive().tensor(),
            bn.beta.val().into_primitive().tensor(),
            bn.epsilon,
        );
        let stat = |t| Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(t)).detach();
        let m = bn.momentum;
        let running_mean = bn.running_mean.value_sync().to_device(&device);
        let running_var = bn.running_var.value_sync().to_device(&device);
        bn.running_mean.update(
            running_mean
                .mul_scalar(1.0 - m)
                .add(stat(out.mean).mul_scalar(m))
                .detach(),
        );
        bn.running_var.update(
            running_var
                .mul_scalar(1.0 - m)
                .add(stat(out.var).mul_scalar(m))
                .detach(),
        );
        return Tensor::<B, 3>::from_primitive(TensorPrimitive::Float(out.y)).reshape([b, c, h, w]);
    }
    let values = |t: Tensor<B, 1>| super::ops::host::<B>(t.into_primitive().tensor());
    let (mean, var) = (
        values(bn.running_mean.value()),
        values(bn.running_var.value()),
    );
    let (gamma, beta) = (values(bn.gamma.val()), values(bn.beta.val()));
    let scale: Vec<f32> = (0..c)
        .map(|i| gamma[i] / (var[i] + bn.epsilon as f32).sqrt())
        .collect();
    let shift: Vec<f32> = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
    let y = B::channel_affine(x.into_primitive().tensor(), &scale, &shift);
    Tensor::<B, 3>::from_primitive(TensorPrimitive::Float(y)).reshape([b, c, h, w])
}

/// Global max pooling (a mood cue anywhere in the chunk counts), then the dense embedding; and,
/// when `input` needs it, the last block's output `x` summarised (see [`VaInput::Levels`]).
fn pooled_embedding<B: ModelBackend>(
    dense: &Linear<B>,
    dense_bn: &BatchNorm<B>,
    act: &Relu,
    x: Tensor<B, 4>,
    input: VaInput,
) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
    let stats = (input == VaInput::Levels).then(|| block_stats(&x));
    let [b, c, f, t] = x.dims();
    let x = x.reshape([b, c, f * t]).max_dim(2).reshape([b, c]);
    (act.forward(dense_bn.forward(dense.forward(x))), stats)
}

/// The ResNet's last residual block and dense embedding, detached from the classifier: the VA
/// head's own copy when it is fine-tuned (`train-va --unfreeze-last-block`), so the class
/// predictions stay those the run was validated with.
#[derive(Module, Debug)]
pub struct EmbeddingTail<B: ModelBackend> {
    block: ResBlock<B>,
    dense: Linear<B>,
    dense_bn: BatchNorm<B>,
    act: Relu,
}

/// The shape of an [`EmbeddingTail`], recorded beside its weights.
#[derive(Config, Debug)]
pub struct EmbeddingTailConfig {
    /// Channels of the last block's input.
    pub input: usize,
    /// Channels of the last block's output.
    pub channels: usize,
    pub embedding: usize,
}

impl EmbeddingTailConfig {
    /// The tail of a network of this configuration (`None` for one without blocks).
    pub fn of(model: &ResNetConfig) -> Option<EmbeddingTailConfig> {
        let channels = *model.channels.last()?;
        let input = match model.channels.len() {
            1 => 1,
            n => model.channels[n - 2],
        };
        Some(EmbeddingTailConfig::new(input, channels, model.embedding))
    }

    pub fn init<B: ModelBackend>(&self, device: &B::Device) -> EmbeddingTail<B> {
        EmbeddingTail {
            block: ResBlock::new(self.input, self.channels, device),
            dense: LinearConfig::new(self.channels, self.embedding).init(device),
            dense_bn: BatchNormConfig::new(self.embedding).init(device),
            act: Relu::new(),
        }
    }
}

impl<B: ModelBackend> EmbeddingTail<B> {
    /// # Shapes
    /// - input: `[batch, channels, f, t]` from [`ResNet::trunk`]
    /// - output: `[batch, embedding]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward_levels(x, VaInput::Embedding).0
    }

    /// The embedding and, when `input` needs it, the block's output summarised (see
    /// [`VaInput::Levels`]).
    ///
    /// # Shapes
    /// - input: `[batch, channels, f, t]` from [`ResNet::trunk`]
    /// - output: `[batch, embedding]`, `[batch, 2 · channels]`
    pub fn forward_levels(
        &self,
        x: Tensor<B, 4>,
        input: VaInput,
    ) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
        let x = self.block.forward(x);
        pooled_embedding(&self.dense, &self.dense_bn, &self.act, x, input)
    }
}

/// What the VA head reads from the network.
///
/// The dense embedding is what the classifier reads, and the class loss rewards discarding where a
/// track sits inside its label; the residual blocks' own outputs, summarised over frequency and time,
/// still carry the level, tempo and timbre statistics that place it there (on the synthetic corpus
/// they raised the within-label r on both axes on every seed, with no training of the network:
/// README, "Within a label").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum VaInput {
    /// The dense embedding alone (every head saved before this setting).
    Embedding,
    /// The dense embedding, then per residual block its output's mean and standard deviation over
    /// frequency and time (each `[channels]`).
    Levels,
}

impl VaInput {
    /// Width of the head's input for a network of this configuration.
    pub fn width(self, model: &ResNetConfig) -> usize {
        match self {
            VaInput::Embedding => model.embedding,
            VaInput::Levels => model.embedding + 2 * model.channels.iter().sum::<usize>(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VaInput::Embedding => "embedding",
            VaInput::Levels => "levels",
        }
    }
}

/// The VA head's input from the pieces of one pass: the embedding (the network's own or a
/// fine-tuned tail's), then the trunk blocks' summaries and the last block's (both there only when
/// `input` is `Levels`).
pub fn va_features<B: ModelBackend>(
    input: VaInput,
    embedding: Tensor<B, 2>,
    trunk_stats: &[Tensor<B, 2>],
    last_stats: Option<Tensor<B, 2>>,
) -> Tensor<B, 2> {
    match input {
        VaInput::Embedding => embedding,
        VaInput::Levels => {
            let mut parts = Vec::with_capacity(trunk_stats.len() + 2);
            parts.push(embedding);
            parts.extend(trunk_stats.iter().cloned());
            // Without them the head's first layer would fail on a narrower input, far from the
            // cause: the pass was run for another input than the head's.
            parts.push(
                last_stats.expect(
                    "the last block's statistics (run the tail with the head's own VaInput)",
                ),
            );
            Tensor::cat(parts, 1)
        }
    }
}

/// A block's output summarised over frequency and time: each channel's mean, then each channel's
/// standard deviation (how much it changes over the chunk, e.g. a clash in some chords only).
///
/// # Shapes
/// - input: `[batch, channels, f, t]`
/// - output: `[batch, 2 · channels]`
fn block_stats<B: ModelBackend>(x: &Tensor<B, 4>) -> Tensor<B, 2> {
    let [b, c, f, t] = x.dims();
    let flat = x.clone().reshape([b, c, f * t]);
    let mean = flat.clone().mean_dim(2);
    // The floor keeps the square root's gradient finite for a channel that is constant (often 0
    // after the ReLU) over the whole chunk.
    let std = (flat - mean.clone())
        .powf_scalar(2.0)
        .mean_dim(2)
        .add_scalar(1e-6)
        .sqrt();
    Tensor::cat(vec![mean.reshape([b, c]), std.reshape([b, c])], 1)
}

#[derive(Module, Debug)]
pub struct ResNet<B: ModelBackend> {
    spec_bn: BatchNorm<B>,
    blocks: Vec<ResBlock<B>>,
    dense: Linear<B>,
    dense_bn: BatchNorm<B>,
    drop: Dropout,
    classifier: Linear<B>,
    va: Option<Linear<B>>,
    act: Relu,
}

impl ResNetConfig {
    pub fn init<B: ModelBackend>(&self, device: &B::Device) -> ResNet<B> {
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
            va: (self.va_output == Some(true))
                .then(|| LinearConfig::new(self.embedding, 2).init(device)),
            act: Relu::new(),
        }
    }
}

impl<B: ModelBackend> ResNet<B> {
    /// The embedding the VA head uses.
    ///
    /// # Shapes
    /// - input: `[batch, n_mels, frames]` mel-spectrogram chunks (dB)
    /// - output: `[batch, embedding]`
    pub fn embed(&self, mel: Tensor<B, 3>) -> Tensor<B, 2> {
        self.embed_trunk(self.trunk(mel))
    }

    /// [`Self::embed`] from the output of [`Self::trunk`], for a caller that also feeds the
    /// trunk to a fine-tuned tail.
    pub fn embed_trunk(&self, trunk: Tensor<B, 4>) -> Tensor<B, 2> {
        self.embed_trunk_levels(trunk, VaInput::Embedding).0
    }

    /// [`Self::embed_trunk`] and, when `input` needs it, the last block's output summarised (see
    /// [`VaInput::Levels`]).
    ///
    /// # Shapes
    /// - input: `[batch, channels, f, t]` from [`Self::trunk`]
    /// - output: `[batch, embedding]`, `[batch, 2 · channels of the last block]`
    pub fn embed_trunk_levels(
        &self,
        trunk: Tensor<B, 4>,
        input: VaInput,
    ) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
        let x = match self.blocks.last() {
            Some(last) => last.forward(trunk),
            None => trunk,
        };
        pooled_embedding(&self.dense, &self.dense_bn, &self.act, x, input)
    }

    /// Everything before the last residual block: what [`EmbeddingTail`] (the part `train-va
    /// --unfreeze-last-block` fine-tunes) takes as input.
    ///
    /// # Shapes
    /// - input: `[batch, n_mels, frames]`
    /// - output: `[batch, channels, f, t]` the last block's input
    pub fn trunk(&self, mel: Tensor<B, 3>) -> Tensor<B, 4> {
        self.trunk_for(mel, VaInput::Embedding).0
    }

    /// [`Self::trunk`] and what `input` needs of it: with [`VaInput::Levels`], each trunk block's
    /// output summarised over frequency and time (`[batch, 2 · channels]` per block), else nothing.
    pub fn trunk_for(
        &self,
        mel: Tensor<B, 3>,
        input: VaInput,
    ) -> (Tensor<B, 4>, Vec<Tensor<B, 2>>) {
        let [b, f, t] = mel.dims();
        let mut x = batch_norm_2d(&self.spec_bn, mel.reshape([b, 1, f, t]));
        let mut stats = Vec::new();
        for block in self.blocks.iter().take(self.blocks.len().saturating_sub(1)) {
            x = block.forward(x);
            if input == VaInput::Levels {
                stats.push(block_stats(&x));
            }
        }
        (x, stats)
    }

    /// The VA head's input for a batch of chunks: through `tail` (a fine-tuned copy of the last
    /// block and embedding) when given, else through the network's own.
    ///
    /// # Shapes
    /// - input: `[batch, n_mels, frames]`
    /// - output: `[batch, input.width(config)]`
    pub fn va_input(
        &self,
        mel: Tensor<B, 3>,
        tail: Option<&EmbeddingTail<B>>,
        input: VaInput,
    ) -> Tensor<B, 2> {
        let (trunk, stats) = self.trunk_for(mel, input);
        let (embedding, last) = match tail {
            Some(tail) => tail.forward_levels(trunk, input),
            None => self.embed_trunk_levels(trunk, input),
        };
        va_features(input, embedding, &stats, last)
    }

    /// A copy of the layers after [`Self::trunk`] (last block, pooling, dense embedding), so they
    /// can be fine-tuned for VA while the classifier keeps the originals. Call it on loaded (or
    /// used) weights: burn initialises parameters lazily, and the copy of a parameter never read
    /// draws values of its own.
    pub fn tail(&self) -> Option<EmbeddingTail<B>> {
        Some(EmbeddingTail {
            block: self.blocks.last()?.clone(),
            dense: self.dense.clone(),
            dense_bn: self.dense_bn.clone(),
            act: Relu::new(),
        })
    }

    /// # Shapes
    /// - input: `[batch, n_mels, frames]`
    /// - output: `[batch, classes]` logits
    pub fn forward(&self, mel: Tensor<B, 3>) -> Tensor<B, 2> {
        self.classify(self.embed(mel))
    }

    /// The logits of embeddings from [`Self::embed`], so a caller that needs both (prediction with
    /// a VA head, training with the auxiliary VA loss) runs the convolutions once.
    ///
    /// # Shapes
    /// - input: `[batch, embedding]`
    /// - output: `[batch, classes]` logits
    pub fn classify(&self, embedding: Tensor<B, 2>) -> Tensor<B, 2> {
        self.classifier.forward(self.drop.forward(embedding))
    }

    /// The auxiliary VA output of an embedding (standardised targets), when the network has one.
    ///
    /// # Shapes
    /// - input: `[batch, embedding]`
    /// - output: `[batch, 2]` (valence, arousal)
    pub fn va(&self, embedding: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        self.va.as_ref().map(|l| l.forward(embedding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::module::AutodiffModule;
    use burn::tensor::backend::AutodiffBackend;

    /// A small network of `channels` (5 classes, 12-wide embedding) and a batch of 3 random chunks.
    fn small(
        channels: Vec<usize>,
    ) -> (ResNetConfig, ResNet<NdArray<f32>>, Tensor<NdArray<f32>, 3>) {
        let device = Default::default();
        let cfg = ResNetConfig::new(5)
            .with_channels(channels)
            .with_embedding(12);
        let model = cfg.init(&device);
        let x = Tensor::random(
            [3, 96, 40],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        (cfg, model, x)
    }

    #[test]
    fn forward_and_embedding_shapes() {
        let (_, model, x) = small(vec![4, 8, 8]);
        assert_eq!(model.embed(x.clone()).dims(), [3, 12]);
        assert_eq!(model.forward(x).dims(), [3, 5]);
    }

    /// Forward, running statistics, gradients of input, gamma and beta, and inference output of
    /// `batch_norm_2d` against burn's `BatchNorm`, on the backend musav trains on and on ndarray.
    fn matches_burn_batch_norm<A: AutodiffBackend + ModelBackend>()
    where
        A::InnerBackend: ModelBackend,
    {
        let device = Default::default();
        // burn's composite rounds in f32 through a dozen ops; the fused kernel sums in f64.
        let tol = burn::tensor::Tolerance::<f32>::rel_abs(1e-3, 1e-4);
        let dist = burn::tensor::Distribution::Normal(1.0, 2.0);
        // Odd sizes (positions not a multiple of the kernels' 16 lanes) and a large mean.
        let x = Tensor::<A, 4>::random([3, 5, 4, 7], dist, &device).add_scalar(30.0);
        let x_data = x.into_data();
        let weights = Tensor::<A, 4>::random([3, 5, 4, 7], dist, &device);
        let bn = BatchNormConfig::new(5).init::<A>(&device);
        let ours = BatchNormConfig::new(5).init::<A>(&device);
        // Different gamma/beta than the initial 1/0, the same in both.
        let gamma = Tensor::<A, 1>::random([5], dist, &device);
        let beta = Tensor::<A, 1>::random([5], dist, &device);
        let set = |m: BatchNorm<A>| BatchNorm {
            gamma: burn::module::Param::from_tensor(gamma.clone()),
            beta: burn::module::Param::from_tensor(beta.clone()),
            ..m
        };
        let (bn, ours) = (set(bn), set(ours));
        for _ in 0..2 {
            // Separate leaves: `require_grad` on clones of one tensor would share its graph node.
            let xa = Tensor::<A, 4>::from_data(x_data.clone(), &device).require_grad();
            let xb = Tensor::<A, 4>::from_data(x_data.clone(), &device).require_grad();
            let a = bn.forward(xa.clone());
            let b = batch_norm_2d(&ours, xb.clone());
            a.to_data().assert_approx_eq::<f32>(&b.to_data(), tol);
            let ga = (a * weights.clone()).sum().backward();
            let gb = (b * weights.clone()).sum().backward();
            let grad = |t: &Tensor<A, 4>, g| t.grad(g).expect("input gradient").into_data();
            grad(&xa, &ga).assert_approx_eq::<f32>(&grad(&xb, &gb), tol);
            let pgrad = |m: &BatchNorm<A>, g| {
                [
                    m.gamma.val().grad(g).unwrap().into_data(),
                    m.beta.val().grad(g).unwrap().into_data(),
                ]
            };
            for (p, q) in pgrad(&bn, &ga).iter().zip(pgrad(&ours, &gb).iter()) {
                p.assert_approx_eq::<f32>(q, tol);
            }
        }
        bn.running_mean
            .value()
            .into_data()
            .assert_approx_eq::<f32>(&ours.running_mean.value().into_data(), tol);
        bn.running_var
            .value()
            .into_data()
            .assert_approx_eq::<f32>(&ours.running_var.value().into_data(), tol);
        let (bn, ours) = (bn.valid(), ours.valid());
        let x = Tensor::<A::InnerBackend, 4>::from_data(x_data, &device);
        bn.forward(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&batch_norm_2d(&ours, x).into_data(), tol);
    }

    #[test]
    fn batch_norm_2d_matches_burn_batch_norm_on_the_training_backend() {
        matches_burn_batch_norm::<crate::backend::TrainBackend>();
    }

    #[test]
    fn batch_norm_2d_matches_burn_batch_norm_on_ndarray() {
        matches_burn_batch_norm::<burn::backend::Autodiff<NdArray<f32>>>();
    }

    /// Output, input gradient and weight gradient of `conv2d` against burn's `Conv2d`, for the
    /// block's three kinds of convolution and odd sizes.
    #[test]
    fn conv2d_matches_burn_conv2d() {
        type A = crate::backend::TrainBackend;
        let device = Default::default();
        let tol = burn::tensor::Tolerance::<f32>::rel_abs(1e-4, 1e-4);
        let dist = burn::tensor::Distribution::Normal(0.0, 1.0);
        for (c_in, c_out, k, stride, h, w) in
            [(3, 5, 3, 2, 9, 14), (4, 4, 3, 1, 7, 5), (3, 6, 1, 2, 9, 14)]
        {
            let conv = Conv2dConfig::new([c_in, c_out], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                .with_bias(false)
                .init::<A>(&device);
            let data = Tensor::<A, 4>::random([3, c_in, h, w], dist, &device).into_data();
            let weights = Tensor::<A, 4>::from_data(
                conv.forward(Tensor::from_data(data.clone(), &device))
                    .into_data(),
                &device,
            )
            .random_like(dist);
            let run = |ours: bool| {
                let x = Tensor::<A, 4>::from_data(data.clone(), &device).require_grad();
                let y = if ours {
                    conv2d(&conv, x.clone())
                } else {
                    conv.forward(x.clone())
                };
                let g = (y.clone() * weights.clone()).sum().backward();
                [
                    y.into_data(),
                    x.grad(&g).expect("input gradient").into_data(),
                    conv.weight
                        .val()
                        .grad(&g)
                        .expect("weight gradient")
                        .into_data(),
                ]
            };
            for (a, b) in run(false).iter().zip(run(true).iter()) {
                a.assert_approx_eq::<f32>(b, tol);
            }
        }
    }

    /// Prediction's convolutions (no autodiff: kernels reused, small planes batched, the others
    /// unfolded a few rows at a time) against burn's `Conv2d`: planes under and over the batching
    /// threshold, one item and several, and an unfolding split into blocks with a short last one.
    #[test]
    fn inference_conv2d_matches_burn_conv2d() {
        type B = crate::backend::CpuBackend;
        let device = Default::default();
        let tol = burn::tensor::Tolerance::<f32>::rel_abs(1e-4, 1e-4);
        let dist = burn::tensor::Distribution::Normal(0.0, 1.0);
        for (batch, c_in, c_out, k, stride, h, w) in [
            (3, 6, 5, 3, 1, 3, 5),
            (1, 6, 5, 3, 1, 3, 5),
            (4, 5, 7, 3, 2, 5, 9),
            (4, 5, 7, 1, 2, 5, 9),
            (2, 3, 4, 3, 1, 1, 2),
            (3, 64, 5, 3, 2, 40, 60),
            (1, 64, 5, 3, 2, 40, 60),
            (2, 4, 6, 3, 1, 12, 17),
        ] {
            let conv = Conv2dConfig::new([c_in, c_out], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                .with_bias(false)
                .init::<B>(&device);
            let x = Tensor::<B, 4>::random([batch, c_in, h, w], dist, &device);
            conv.forward(x.clone())
                .into_data()
                .assert_approx_eq::<f32>(&conv2d(&conv, x).into_data(), tol);
        }
    }

    /// The trunk and a tail copy give the embedding exactly, and the recorded tail shape loads.
    #[test]
    fn trunk_then_tail_is_the_embedding() {
        let device = Default::default();
        let (cfg, model, x) = small(vec![4, 8, 6]);
        // Used (so initialised) before it is copied: see `ResNet::tail`.
        let whole = model.embed(x.clone()).into_data();
        let tail = model.tail().unwrap();
        let split = tail.forward(model.trunk(x.clone())).into_data();
        assert_eq!(whole, split);
        let shape = EmbeddingTailConfig::of(&cfg).unwrap();
        assert_eq!((shape.input, shape.channels, shape.embedding), (8, 6, 12));
        let fresh: EmbeddingTail<NdArray<f32>> = shape.init(&device);
        let loaded = fresh.load_record(tail.clone().into_record());
        // Loaded weights are laid out afresh, which may change a kernel's summation order.
        loaded
            .forward(model.trunk(x))
            .into_data()
            .assert_approx_eq::<f32>(&split, burn::tensor::Tolerance::rel_abs(1e-5, 1e-6));
        let one = ResNetConfig::new(2).with_channels(vec![4]);
        assert_eq!(EmbeddingTailConfig::of(&one).unwrap().input, 1);
    }

    /// `Levels` is the embedding, then per block (in order) its output's mean and standard deviation
    /// over frequency and time (checked against the blocks run one by one here, the statistics
    /// taken another way); through a tail copy it is the same; `Embedding` is the embedding alone.
    #[test]
    fn va_input_levels_are_the_embedding_then_each_block_s_statistics() {
        let (cfg, model, x) = small(vec![4, 8, 6]);
        let embedding = model.embed(x.clone());
        let levels = model.va_input(x.clone(), None, VaInput::Levels);
        assert_eq!(levels.dims(), [3, VaInput::Levels.width(&cfg)]);
        assert_eq!(VaInput::Levels.width(&cfg), 12 + 2 * (4 + 8 + 6));
        let [b, f, t] = x.dims();
        let mut h = batch_norm_2d(&model.spec_bn, x.clone().reshape([b, 1, f, t]));
        let mut want = vec![embedding.clone()];
        for block in &model.blocks {
            h = block.forward(h);
            let [_, c, hf, ht] = h.dims();
            let mean = h.clone().mean_dim(3).mean_dim(2);
            let var = (h.clone() - mean.clone())
                .powf_scalar(2.0)
                .sum_dim(3)
                .sum_dim(2)
                .div_scalar((hf * ht) as f32);
            want.push(mean.reshape([b, c]));
            want.push(var.add_scalar(1e-6).sqrt().reshape([b, c]));
        }
        let tol = burn::tensor::Tolerance::rel_abs(1e-5, 1e-6);
        levels
            .clone()
            .into_data()
            .assert_approx_eq::<f32>(&Tensor::cat(want, 1).into_data(), tol);
        let tail = model.tail().unwrap();
        assert_eq!(
            model
                .va_input(x.clone(), Some(&tail), VaInput::Levels)
                .into_data(),
            levels.into_data()
        );
        assert_eq!(
            model.va_input(x, None, VaInput::Embedding).into_data(),
            embedding.into_data()
        );
    }

    #[test]
    fn default_config_is_the_paper_sized_network() {
        let cfg = ResNetConfig::new(11);
        assert_eq!(cfg.channels.len(), 7);
        assert_eq!(cfg.n_mels, 96);
    }
}
