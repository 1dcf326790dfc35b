//! Where training and prediction get mel-spectrograms from: the released `.npy` features, or audio
//! (MTG MP3s or a synthetic corpus) decoded on demand with a per-track cache.
//!
//! Callers name a track by its MTG `PATH` column and never care which kind of source backs it.

pub mod cache;
pub mod convention;
pub mod run;

use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::audio::decode::DecodeError;
use crate::audio::npy::{NpyError, read_mel};
use cache::Cache;
pub use convention::Convention;

/// File a synthetic corpus carries so [`FeatureSource::open`] knows it is audio without scanning.
pub const SYNTH_MARKER: &str = "musav-synth.json";

/// Extensions read as audio.
pub const AUDIO_EXTENSIONS: [&str; 5] = ["mp3", "wav", "ogg", "flac", "oga"];

/// How many directory entries `open` looks at before giving up on finding a feature file.
const SCAN_LIMIT: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureSource {
    /// Released mel-spectrograms: `root/48/948.npy` for `PATH` `48/948.mp3`.
    Npy { root: PathBuf },
    /// Audio files under `root`, their mel-spectrograms computed in `convention` and cached under
    /// `cache` when given.
    Audio {
        root: PathBuf,
        cache: Option<PathBuf>,
        convention: Convention,
    },
}

/// One track's features and what the extraction noticed.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub mel: Array2<f32>,
    /// The cache answered (nothing was decoded).
    pub cached: bool,
    /// The decoder's doubts about the file (e.g. a stream that ended early); empty when clean.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("{path}: no such file; check the feature root and the PATH column of the metadata")]
    Missing { path: PathBuf },
    #[error("{path}: corrupt or truncated ({reason}); re-download or re-encode it")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "{path}: unsupported ({reason}); musav reads .npy mel-spectrograms and WAV/MP3/OGG/FLAC audio"
    )]
    Unsupported { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: holds neither .npy mel-spectrograms nor audio files; pass the directory of the released melspecs, an audio root, or a corpus made by `musav synth`"
    )]
    NoFeatures { path: PathBuf },
}

impl FeatureError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FeatureError::Missing { path }
            | FeatureError::Corrupt { path, .. }
            | FeatureError::Unsupported { path, .. }
            | FeatureError::Io { path, .. }
            | FeatureError::NoFeatures { path } => path,
        }
    }

    /// A one-word kind for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            FeatureError::Missing { .. } => "missing",
            FeatureError::Corrupt { .. } => "corrupt",
            FeatureError::Unsupported { .. } => "unsupported",
            FeatureError::Io { .. } => "io",
            FeatureError::NoFeatures { .. } => "no-features",
        }
    }
}

impl From<DecodeError> for FeatureError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Missing { path } => FeatureError::Missing { path },
            DecodeError::Io { path, source } => FeatureError::Io { path, source },
            DecodeError::Unsupported { path, reason } => FeatureError::Unsupported { path, reason },
            DecodeError::Corrupt { path, reason } => FeatureError::Corrupt { path, reason },
            DecodeError::Empty { path } => FeatureError::Corrupt {
                path,
                reason: "no audio samples".into(),
            },
            DecodeError::Resample { path, source } => FeatureError::Unsupported {
                path,
                reason: source.to_string(),
            },
        }
    }
}

impl From<NpyError> for FeatureError {
    fn from(e: NpyError) -> Self {
        match e {
            NpyError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                FeatureError::Missing { path }
            }
            NpyError::Io { path, source } | NpyError::Write { path, source } => {
                FeatureError::Io { path, source }
            }
            NpyError::Format { path, reason } => FeatureError::Corrupt { path, reason },
        }
    }
}

impl FeatureSource {
    /// `path` is a directory of official .npy mel-spectrograms, an audio root, or a synthetic
    /// corpus dir; the kind is detected from the synth marker or the first feature file found.
    /// Audio is read in the default convention; [`Self::with_convention`] picks another.
    pub fn open(path: &Path, cache: Option<&Path>) -> Result<FeatureSource, FeatureError> {
        if !path.is_dir() {
            return Err(FeatureError::Missing {
                path: path.to_path_buf(),
            });
        }
        let audio = || FeatureSource::Audio {
            root: path.to_path_buf(),
            cache: cache.map(Path::to_path_buf),
            convention: Convention::default(),
        };
        if path.join(SYNTH_MARKER).is_file() {
            return Ok(audio());
        }
        match scan_kind(path)? {
            Some(Kind::Npy) => Ok(FeatureSource::Npy {
                root: path.to_path_buf(),
            }),
            Some(Kind::Audio) => Ok(audio()),
            None => Err(FeatureError::NoFeatures {
                path: path.to_path_buf(),
            }),
        }
    }

    /// The file backing the track whose MTG `PATH` is `rel_path`.
    pub fn file_of(&self, rel_path: &str) -> PathBuf {
        match self {
            FeatureSource::Npy { root } => root.join(rel_path).with_extension("npy"),
            FeatureSource::Audio { root, .. } => root.join(rel_path),
        }
    }

    /// Audio read in `convention` from now on (`.npy` files are what they are: unchanged).
    pub fn with_convention(self, convention: Convention) -> FeatureSource {
        match self {
            FeatureSource::Audio { root, cache, .. } => FeatureSource::Audio {
                root,
                cache,
                convention,
            },
            npy => npy,
        }
    }

    /// The convention audio is read in; `None` for `.npy` files, whose recipe only their maker
    /// knows.
    pub fn convention(&self) -> Option<Convention> {
        match self {
            FeatureSource::Npy { .. } => None,
            FeatureSource::Audio { convention, .. } => Some(*convention),
        }
    }

    /// The mel-spectrogram (96 × frames, dB, f32) of the track whose MTG `PATH` column is
    /// `rel_path` (e.g. "48/948.mp3"; for .npy sources the extension is swapped to .npy). Uses and
    /// fills the cache.
    pub fn mel(&self, rel_path: &str) -> Result<Array2<f32>, FeatureError> {
        self.extract(rel_path).map(|e| e.mel)
    }

    /// Like [`Self::mel`], also saying whether the cache answered (for run reports).
    pub fn mel_with_status(&self, rel_path: &str) -> Result<(Array2<f32>, bool), FeatureError> {
        self.extract(rel_path).map(|e| (e.mel, e.cached))
    }

    /// Like [`Self::mel`], with the cache status and the decoder's warnings.
    pub fn extract(&self, rel_path: &str) -> Result<Extracted, FeatureError> {
        let file = self.file_of(rel_path);
        match self {
            FeatureSource::Npy { .. } => Ok(Extracted {
                mel: read_mel(&file)?,
                cached: true,
                warnings: Vec::new(),
            }),
            FeatureSource::Audio {
                cache, convention, ..
            } => {
                let compute = || -> Result<(Array2<f32>, Vec<String>), FeatureError> {
                    let (samples, info) = convention.load(&file)?;
                    Ok((convention.mel(&samples), info.warnings))
                };
                match cache {
                    None => compute().map(|(mel, warnings)| Extracted {
                        mel,
                        cached: false,
                        warnings,
                    }),
                    Some(dir) => Cache::new(dir, *convention).get_or_compute(&file, compute),
                }
            }
        }
    }
}

enum Kind {
    Npy,
    Audio,
}

/// Breadth-first look for the first `.npy` or audio file under `root`.
fn scan_kind(root: &Path) -> Result<Option<Kind>, FeatureError> {
    let mut queue = std::collections::VecDeque::from([root.to_path_buf()]);
    let mut seen = 0;
    while let Some(dir) = queue.pop_front() {
        let entries = std::fs::read_dir(&dir).map_err(|source| FeatureError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            seen += 1;
            if seen > SCAN_LIMIT {
                return Ok(None);
            }
            if p.is_dir() {
                queue.push_back(p);
                continue;
            }
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            match ext.as_deref() {
                Some("npy") => return Ok(Some(Kind::Npy)),
                Some(e) if AUDIO_EXTENSIONS.contains(&e) => return Ok(Some(Kind::Audio)),
                _ => {}
            }
        }
    }
    Ok(None)
}
