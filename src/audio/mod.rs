//! Audio in, features out: decode any supported file to mono, resample it to the 12 kHz of the
//! MTG-Jamendo features, and compute the dB mel-spectrogram the models are trained on.
//!
//! Each step is its own module so the predictor, the feature cache and the benchmarks can call
//! exactly the part they need.

pub mod decode;
pub mod mel;
mod mp3;
pub mod mtg;
pub mod npy;
pub mod resample;
mod wav;
pub mod xing;

/// Sample rate of the MTG-Jamendo mel-spectrograms; every model input is computed at this rate.
pub const TARGET_SAMPLE_RATE: u32 = 12_000;
