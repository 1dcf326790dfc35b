//! The burn backend musav trains and predicts on: burn's pure-Rust CPU backend `flex` (gemm-based
//! im2col convolutions, SIMD, rayon threads). Measured with `scripts/bench-train.sh` on the default
//! network (README, "Training speed"): ndarray's convolution backward pass is a naive direct loop that
//! takes seconds per layer, candle cannot run the conv backward pass of this network at all, and
//! libtorch (the bench-only `tch` feature) is no faster than flex with musav's own batch norm and
//! conv weight gradient (`crate::model::ops`), which every backend here implements.
//! The GPU backend (wgpu) is only compiled in with the cargo feature of the same name; these aliases
//! are the one place to point at it (untried: this project has no GPU to test on).

/// Inference (and checkpoint loading) backend.
pub type CpuBackend = burn::backend::Flex;
/// Training backend: `CpuBackend` with autodiff.
pub type TrainBackend = burn::backend::Autodiff<CpuBackend>;
