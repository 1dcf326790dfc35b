//! Models as burn `Module` + `Config` pairs, generic over the backend so training (autodiff) and
//! inference (plain CPU) share one definition.

pub mod resnet;
