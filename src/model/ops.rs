//! The operations musav implements itself for training, as a burn backend extension (burn's "custom
//! backend operation" pattern): a trait every backend musav trains on implements, whose provided
//! methods are host kernels (`super::batch_norm`, `super::conv`) and whose `Autodiff` implementation
//! records the hand-written backward passes. Measured with `MUSAV_BENCH_OPS=1 scripts/bench-train.sh`
//! (README, "Training speed").
//!
//! The kernels run on host memory, which is where every CPU backend keeps its tensors; a GPU backend
//! would want kernels of its own (the `wgpu` feature is untried, see `crate::backend`).

use std::borrow::Cow;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::{ConvOptions, FloatTensor};
use burn::tensor::{DType, Shape, TensorMetadata, TensorPrimitive};

use super::batch_norm;
use super::conv::{self, ConvShape};

/// Batch statistics and output of one training-mode batch norm.
pub struct BatchNormOutput<B: Backend> {
    /// Normalised, scaled and shifted input, `[batch, channels, positions]`.
    pub y: FloatTensor<B>,
    /// Per-channel batch mean, `[channels]` (not tracked by autodiff).
    pub mean: FloatTensor<B>,
    /// Per-channel biased batch variance, `[channels]` (not tracked by autodiff).
    pub var: FloatTensor<B>,
}

/// Gradients of one training-mode batch norm.
pub struct BatchNormGrads<B: Backend> {
    pub x: FloatTensor<B>,
    pub gamma: FloatTensor<B>,
    pub beta: FloatTensor<B>,
}

/// Backends the mood ResNet runs on: burn's operations plus musav's own.
pub trait ModelBackend: Backend {
    /// The values of `t` as row-major f32, for the host kernels: borrowed where the backend keeps
    /// them that way, otherwise copied. Activations are shared with autodiff's saved state, so a
    /// move-out would copy them anyway.
    fn host_values(t: &FloatTensor<Self>) -> Cow<'_, [f32]> {
        Cow::Owned(host::<Self>(t.clone()))
    }

    /// `y = x · scale[c] + shift[c]` for `x` `[batch, channels, positions]`: batch norm at inference,
    /// its statistics folded into one factor and one offset per channel, in one pass over the
    /// activations (burn's broadcasting binary ops walk the `[1, c, 1]` operands through a strided
    /// iterator, which took a third of a prediction's time).
    fn channel_affine(x: FloatTensor<Self>, scale: &[f32], shift: &[f32]) -> FloatTensor<Self> {
        let device = Self::float_device(&x);
        let [b, c, n] = dims::<Self, 3>(&x);
        assert!(
            scale.len() == c && shift.len() == c,
            "one factor and offset per channel"
        );
        let mut y = Self::host_values(&x).into_owned();
        for (i, row) in y.chunks_exact_mut(n.max(1)).enumerate() {
            let (s, t) = (scale[i % c], shift[i % c]);
            for v in row {
                *v = *v * s + t;
            }
        }
        device_tensor::<Self>(y, vec![b, c, n], &device)
    }

    /// `y = (x - mean) / sqrt(var + eps) * gamma + beta` with the batch statistics of each channel;
    /// `x` is `[batch, channels, positions]`, `gamma` and `beta` are `[channels]`.
    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> BatchNormOutput<Self> {
        let device = Self::float_device(&x);
        let [b, c, n] = dims::<Self, 3>(&x);
        let (x, gamma, beta) = (
            Self::host_values(&x),
            Self::host_values(&gamma),
            Self::host_values(&beta),
        );
        let (y, mean, var) = batch_norm::forward(&x, [b, c, n], &gamma, &beta, epsilon);
        BatchNormOutput {
            y: device_tensor::<Self>(y, vec![b, c, n], &device),
            mean: device_tensor::<Self>(mean, vec![c], &device),
            var: device_tensor::<Self>(var, vec![c], &device),
        }
    }

    /// Gradients of [`Self::batch_norm_train`] for the output gradient `grad`, from the same `x`,
    /// `gamma` and the batch statistics it returned.
    fn batch_norm_train_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> BatchNormGrads<Self> {
        let device = Self::float_device(&x);
        let [b, c, n] = dims::<Self, 3>(&x);
        let (x, gamma, mean, var, grad) = (
            Self::host_values(&x),
            Self::host_values(&gamma),
            Self::host_values(&mean),
            Self::host_values(&var),
            Self::host_values(&grad),
        );
        let (dx, dgamma, dbeta) =
            batch_norm::backward(&x, [b, c, n], &gamma, &mean, &var, epsilon, &grad);
        BatchNormGrads {
            x: device_tensor::<Self>(dx, vec![b, c, n], &device),
            gamma: device_tensor::<Self>(dgamma, vec![c], &device),
            beta: device_tensor::<Self>(dbeta, vec![c], &device),
        }
    }

    /// A 2-D convolution without bias (groups = 1), by musav's kernel; under `Autodiff` its
    /// forward pass is [`Self::conv2d_forward_fresh`] and its gradients are
    /// [`Self::conv2d_input_grad`] and [`Self::conv2d_weight_grad`]. Without it (prediction,
    /// validation) the weights stay put from call to call, so their Winograd kernels are
    /// transformed once and the gemms are shaped for a batch of chunks
    /// ([`super::conv::forward_reusing_kernels`]; the training forward pass's results to rounding,
    /// within 1e-7 on the scores).
    fn conv2d_train(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        conv2d_with::<Self>(x, weight, options, conv::forward_reusing_kernels)
    }

    /// [`Self::conv2d_train`]'s forward pass in training ([`super::conv::forward`]): the weights
    /// change at every step, so keeping their transformed kernels would only fill memory.
    fn conv2d_forward_fresh(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        conv2d_with::<Self>(x, weight, options, conv::forward)
    }

    /// `d loss / d x` of [`Self::conv2d_train`] for the output gradient `grad`; `x_shape` is the
    /// input's shape.
    fn conv2d_input_grad(
        x_shape: Shape,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let device = Self::float_device(&grad);
        let x_dims: [usize; 4] = std::array::from_fn(|i| x_shape[i]);
        let s = ConvShape::new(x_dims, dims::<Self, 4>(&weight), &options);
        let dx = conv::input_grad(
            &Self::host_values(&grad),
            &Self::host_values(&weight),
            s,
            &options,
        );
        device_tensor::<Self>(dx, x_dims.to_vec(), &device)
    }

    /// `d loss / d weight` of [`Self::conv2d_train`] for the output gradient `grad`.
    fn conv2d_weight_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        weight_shape: Shape,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let device = Self::float_device(&x);
        let w_dims: [usize; 4] = std::array::from_fn(|i| weight_shape[i]);
        let s = ConvShape::new(dims::<Self, 4>(&x), w_dims, &options);
        let dw = conv::weight_grad(
            &Self::host_values(&x),
            &Self::host_values(&grad),
            s,
            &options,
        );
        device_tensor::<Self>(dw, w_dims.to_vec(), &device)
    }
}

impl ModelBackend for burn::backend::Flex {
    fn host_values(t: &FloatTensor<Self>) -> Cow<'_, [f32]> {
        let layout = t.layout();
        if t.dtype() == DType::F32 && layout.is_contiguous() && layout.start_offset() == 0 {
            Cow::Borrowed(&t.storage::<f32>()[..layout.num_elements()])
        } else {
            Cow::Owned(host::<Self>(t.clone()))
        }
    }
}
impl ModelBackend for burn::backend::NdArray<f32> {}
#[cfg(feature = "tch")]
impl ModelBackend for burn::backend::LibTorch<f32> {}
#[cfg(feature = "candle")]
#[allow(deprecated)] // burn 0.21 deprecates burn-candle in favour of flex
impl ModelBackend for burn::backend::Candle<f32, i64> {}
#[cfg(feature = "wgpu")]
impl ModelBackend for burn::backend::Wgpu {}

impl<B: ModelBackend, C: CheckpointStrategy> ModelBackend for Autodiff<B, C> {
    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> BatchNormOutput<Self> {
        #[derive(Debug)]
        struct BatchNormBackward;

        /// The input, gamma, the batch mean and variance, epsilon.
        type State<B> = (
            FloatTensor<B>,
            FloatTensor<B>,
            FloatTensor<B>,
            FloatTensor<B>,
            f64,
        );

        impl<B: ModelBackend> Backward<B, 3> for BatchNormBackward {
            type State = State<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                _: &mut Checkpointer,
            ) {
                let [node_x, node_gamma, node_beta] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, gamma, mean, var, epsilon) = ops.state;
                let g = B::batch_norm_train_backward(x, gamma, mean, var, epsilon, grad);
                if let Some(node) = node_x {
                    grads.register::<B>(node.id, g.x);
                }
                if let Some(node) = node_gamma {
                    grads.register::<B>(node.id, g.gamma);
                }
                if let Some(node) = node_beta {
                    grads.register::<B>(node.id, g.beta);
                }
            }
        }

        let out = B::batch_norm_train(
            x.primitive.clone(),
            gamma.primitive.clone(),
            beta.primitive.clone(),
            epsilon,
        );
        let prep = BatchNormBackward
            .prepare::<C>([x.node.clone(), gamma.node.clone(), beta.node.clone()])
            .compute_bound()
            .stateful();
        let y = match prep {
            OpsKind::Tracked(prep) => {
                let state = (
                    x.primitive,
                    gamma.primitive,
                    out.mean.clone(),
                    out.var.clone(),
                    epsilon,
                );
                prep.finish(state, out.y)
            }
            OpsKind::UnTracked(prep) => prep.finish(out.y),
        };
        BatchNormOutput {
            y,
            mean: <Self as AutodiffBackend>::from_inner(out.mean),
            var: <Self as AutodiffBackend>::from_inner(out.var),
        }
    }

    fn conv2d_train(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Conv2dBackward;

        impl<B: ModelBackend> Backward<B, 2> for Conv2dBackward {
            /// The input, the weight, the options.
            type State = (FloatTensor<B>, FloatTensor<B>, ConvOptions<2>);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                _: &mut Checkpointer,
            ) {
                let [node_x, node_weight] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, weight, options) = ops.state;
                if let Some(node) = node_x {
                    let dx = B::conv2d_input_grad(
                        x.shape(),
                        weight.clone(),
                        grad.clone(),
                        options.clone(),
                    );
                    grads.register::<B>(node.id, dx);
                }
                if let Some(node) = node_weight {
                    let dw = B::conv2d_weight_grad(x, grad, weight.shape(), options);
                    grads.register::<B>(node.id, dw);
                }
            }
        }

        let y = B::conv2d_forward_fresh(
            x.primitive.clone(),
            weight.primitive.clone(),
            options.clone(),
        );
        let prep = Conv2dBackward
            .prepare::<C>([x.node.clone(), weight.node.clone()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(prep) => prep.finish((x.primitive, weight.primitive, options), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// A convolution of `x` by `weight` on the host by `kernel` (one of [`conv`]'s forward passes).
fn conv2d_with<B: ModelBackend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    options: ConvOptions<2>,
    kernel: fn(&[f32], &[f32], ConvShape, &ConvOptions<2>) -> Vec<f32>,
) -> FloatTensor<B> {
    let device = B::float_device(&x);
    let s = ConvShape::new(dims::<B, 4>(&x), dims::<B, 4>(&weight), &options);
    let y = kernel(&B::host_values(&x), &B::host_values(&weight), s, &options);
    device_tensor::<B>(y, vec![s.batch, s.c_out, s.ho, s.wo], &device)
}

fn dims<B: Backend, const D: usize>(x: &FloatTensor<B>) -> [usize; D] {
    let shape = x.shape();
    assert_eq!(shape.num_dims(), D, "tensor rank");
    std::array::from_fn(|i| shape[i])
}

pub(crate) fn host<B: Backend>(t: FloatTensor<B>) -> Vec<f32> {
    Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(t))
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("f32 data after convert")
}

fn device_tensor<B: Backend>(v: Vec<f32>, shape: Vec<usize>, device: &B::Device) -> FloatTensor<B> {
    let flat = Tensor::<B, 1>::from_data(
        TensorData::new(v, [shape.iter().product::<usize>()]),
        device,
    );
    B::float_reshape(flat.into_primitive().tensor(), Shape::from(shape))
}
