//! One module per subcommand: parse-level `Args`, then a `run` that calls the library.

pub mod cluster;
pub mod compare;
pub mod export;
pub mod features;
pub mod mel;
pub mod name;
pub mod predict;
pub mod review;
pub mod serve;
pub mod stats;
pub mod synth;
pub mod train;
pub mod train_va;
pub mod validate;
pub mod validate_va;
