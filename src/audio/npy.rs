//! `.npy` files: the format of the released MTG-Jamendo mel-spectrograms and of `musav mel`.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: not a 2-D float32/float64 .npy array ({reason}); expected a mel-spectrogram of shape (bands, frames)"
    )]
    Format { path: PathBuf, reason: String },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Reads a 2-D mel-spectrogram; float64 files (some tools save those) are narrowed to f32.
pub fn read_mel(path: &Path) -> Result<Array2<f32>, NpyError> {
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match Array2::<f32>::read_npy(bytes.as_slice()) {
        Ok(a) => Ok(a),
        Err(first) => Array2::<f64>::read_npy(bytes.as_slice())
            .map(|a| a.mapv(|v| v as f32))
            .map_err(|_| NpyError::Format {
                path: path.to_path_buf(),
                reason: first.to_string(),
            }),
    }
}

/// Serialises to `.npy` bytes (float32, C order).
pub fn to_npy_bytes(mel: &Array2<f32>) -> Vec<u8> {
    // Header (at most a few hundred bytes) plus the data, allocated once.
    let mut bytes = Vec::with_capacity(256 + 4 * mel.len());
    // Writing to a Vec cannot fail for a standard-layout f32 array.
    let std = mel.as_standard_layout();
    let _ = std.write_npy(&mut bytes);
    bytes
}

/// Writes `mel` atomically, so an interrupted run never leaves a truncated `.npy`.
pub fn write_mel(path: &Path, mel: &Array2<f32>) -> Result<(), NpyError> {
    crate::fsio::write_atomic(path, &to_npy_bytes(mel)).map_err(|source| NpyError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// [`write_mel`] for a feature cache entry ([`crate::fsio::write_atomic_cache`]: not fsynced).
pub fn write_mel_cache(path: &Path, mel: &Array2<f32>) -> Result<(), NpyError> {
    crate::fsio::write_atomic_cache(path, &to_npy_bytes(mel)).map_err(|source| NpyError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        let a = Array2::from_shape_fn((96, 7), |(i, j)| i as f32 - j as f32 * 0.5);
        write_mel(&path, &a).unwrap();
        assert_eq!(read_mel(&path).unwrap(), a);
    }

    #[test]
    fn rejects_a_text_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        std::fs::write(&path, "hello").unwrap();
        assert!(matches!(read_mel(&path), Err(NpyError::Format { .. })));
    }
}
