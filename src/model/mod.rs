//! Models as burn `Module` + `Config` pairs, generic over the backend so training (autodiff) and
//! inference (plain CPU) share one definition.

pub mod batch_norm;
pub mod conv;
pub mod ops;
pub mod reduce;
pub mod resnet;
pub mod winograd;
