//! Per-track mel-spectrogram cache: one `.npy` per (file, size, mtime, convention and its
//! parameters), so a rerun after an interrupted or finished extraction only decodes what changed,
//! and features of one convention are never served for another. The decoder's warnings about a
//! file are kept beside its entry (`.warnings`), so a cached rerun still reports them.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use sha2::{Digest, Sha256};

use super::{Convention, Extracted, FeatureError};
use crate::audio::npy::{read_mel, write_mel_cache};

/// Bumped when decoding or resampling changes in a way that alters features.
const PIPELINE_VERSION: &str = "musav-audio-5";

pub struct Cache {
    dir: PathBuf,
    params: String,
}

impl Cache {
    pub fn new(dir: &Path, convention: Convention) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
            params: format!("{PIPELINE_VERSION}:{}", convention.fingerprint()),
        }
    }

    /// The cache file for `source` as it is now; `None` when the source cannot be stat'ed.
    pub fn entry(&self, source: &Path) -> Option<PathBuf> {
        let meta = std::fs::metadata(source).ok()?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let abs = std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf());
        let mut h = Sha256::new();
        h.update(abs.to_string_lossy().as_bytes());
        h.update(format!("\0{}\0{}\0{}", meta.len(), mtime, self.params).as_bytes());
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Some(self.dir.join(&hex[..2]).join(format!("{}.npy", &hex[2..])))
    }

    /// The cached mel-spectrogram of `source` (and its warnings), or `compute`'s result stored
    /// for next time. An unreadable cache entry is recomputed, not reported.
    pub fn get_or_compute(
        &self,
        source: &Path,
        compute: impl FnOnce() -> Result<(Array2<f32>, Vec<String>), FeatureError>,
    ) -> Result<Extracted, FeatureError> {
        let Some(entry) = self.entry(source) else {
            return compute().map(|(mel, warnings)| Extracted {
                mel,
                cached: false,
                warnings,
            });
        };
        let notes = entry.with_extension("warnings");
        if entry.is_file()
            && let Ok(mel) = read_mel(&entry)
        {
            let warnings = std::fs::read_to_string(&notes)
                .map(|t| t.lines().map(str::to_string).collect())
                .unwrap_or_default();
            return Ok(Extracted {
                mel,
                cached: true,
                warnings,
            });
        }
        let (mel, warnings) = compute()?;
        // The warnings first: an entry present means its warnings were written.
        if !warnings.is_empty() {
            let text = warnings.join("\n").replace('\r', " ");
            crate::fsio::write_atomic_cache(&notes, text.as_bytes()).map_err(|source| {
                FeatureError::Io {
                    path: notes.clone(),
                    source,
                }
            })?;
        }
        write_mel_cache(&entry, &mel)?;
        Ok(Extracted {
            mel,
            cached: false,
            warnings,
        })
    }
}
