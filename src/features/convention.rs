//! Which recipe turns audio into model input. A model only understands numbers made the way its
//! training features were made, so the convention is a named setting that a run records and every
//! later use of the run follows (README, "Feature conventions").
//!
//! - `mtg`: the released MTG-Jamendo `.npy` files' recipe (Essentia: linear resampling to 12 kHz,
//!   Essentia's frame count, symmetric Hann, `2·lin2db` with a −200 dB floor), see
//!   [`crate::audio::mtg`]. The default for new runs, so that a run trained on the released files
//!   and one trained on audio take the same input.
//! - `librosa`: librosa's `power_to_db(melspectrogram(...))` on soxr-quality resampling, see
//!   [`crate::audio::mel`]: what musav computed before conventions existed, so runs whose
//!   `run.json` names none were trained on it.

use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::audio::decode::{
    DecodeError, SourceInfo, load_mono_12k_linear_with_info, load_mono_12k_with_info,
};
use crate::audio::mel::{MelConfig, mel_spectrogram};
use crate::audio::mtg;

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Convention {
    /// The released MTG-Jamendo `.npy` recipe (Essentia).
    #[default]
    Mtg,
    /// librosa's `melspectrogram` + `power_to_db` (musav before conventions).
    Librosa,
}

impl std::fmt::Display for Convention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Convention::Mtg => "mtg",
            Convention::Librosa => "librosa",
        })
    }
}

/// A run directory and a requested convention that disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{run}: this run was trained on {recorded} features and --convention {requested} asks for {requested}; its model only understands {recorded}: drop --convention (or pass {recorded}), or train a new run with --out for {requested}"
)]
pub struct ConventionMismatch {
    pub run: String,
    pub recorded: Convention,
    pub requested: Convention,
}

impl Convention {
    /// What a `run.json` without the field was trained on: musav computed only librosa's
    /// features before conventions were recorded.
    pub fn legacy() -> Convention {
        Convention::Librosa
    }

    /// The convention to use with a run: the one it recorded; a different request is refused.
    pub fn for_run(
        run: &Path,
        recorded: Convention,
        requested: Option<Convention>,
    ) -> Result<Convention, ConventionMismatch> {
        match requested {
            Some(r) if r != recorded => Err(ConventionMismatch {
                run: run.display().to_string(),
                recorded,
                requested: r,
            }),
            _ => Ok(recorded),
        }
    }

    /// Decodes `path` and brings it to 12 kHz mono the way this convention does, with what the
    /// file was (rate, channels, decoder warnings).
    pub fn load(self, path: &Path) -> Result<(Vec<f32>, SourceInfo), DecodeError> {
        match self {
            Convention::Librosa => load_mono_12k_with_info(path),
            Convention::Mtg => load_mono_12k_linear_with_info(path),
        }
    }

    /// The dB mel-spectrogram (96 × frames) of a 12 kHz signal, as this convention computes it.
    pub fn mel(self, samples_12k: &[f32]) -> Array2<f32> {
        match self {
            Convention::Librosa => mel_spectrogram(samples_12k, &MelConfig::default()),
            Convention::Mtg => mtg::mel_spectrogram(samples_12k),
        }
    }

    /// A stable text naming every parameter, for cache keys: another convention (or a change to
    /// one) never reads the other's entries.
    pub fn fingerprint(self) -> String {
        match self {
            Convention::Librosa => format!("librosa:{}", MelConfig::default().fingerprint()),
            Convention::Mtg => format!("mtg:{}", mtg::FINGERPRINT),
        }
    }

    /// Seconds of audio a mel-spectrogram of `frames` frames covers (duration checks).
    pub fn seconds(self, frames: usize) -> f64 {
        match self {
            Convention::Librosa => {
                let cfg = MelConfig::default();
                frames.saturating_sub(1) as f64 * cfg.hop as f64 / f64::from(cfg.sample_rate)
            }
            Convention::Mtg => mtg::seconds(frames),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_json_and_text() {
        for c in [Convention::Mtg, Convention::Librosa] {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{c}\""));
            assert_eq!(serde_json::from_str::<Convention>(&json).unwrap(), c);
        }
        assert_eq!(Convention::default(), Convention::Mtg);
        assert_eq!(Convention::legacy(), Convention::Librosa);
    }

    #[test]
    fn a_run_keeps_its_convention_and_refuses_another() {
        let run = Path::new("runs/a");
        assert_eq!(
            Convention::for_run(run, Convention::Librosa, None),
            Ok(Convention::Librosa)
        );
        assert_eq!(
            Convention::for_run(run, Convention::Mtg, Some(Convention::Mtg)),
            Ok(Convention::Mtg)
        );
        let err = Convention::for_run(run, Convention::Librosa, Some(Convention::Mtg)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("runs/a"), "{text}");
        assert!(text.contains("librosa") && text.contains("mtg"), "{text}");
    }

    #[test]
    fn fingerprints_differ() {
        assert_ne!(
            Convention::Mtg.fingerprint(),
            Convention::Librosa.fingerprint()
        );
    }
}
