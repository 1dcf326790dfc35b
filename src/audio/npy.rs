//! `.npy` files: the format of the released MTG-Jamendo mel-spectrograms and of `musav mel`.
//!
//! Only that layout is read: float32, 96 mel bands × frames (C or Fortran order; the dataset's
//! script saves a transposed array, which numpy writes in Fortran order). Anything else is refused
//! with the shape and type found, since a model fed other numbers fails silently.

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
        "{path}: not a mel-spectrogram in the released MTG-Jamendo layout ({reason}); expected float32 of shape (96, frames), as the dataset's files and `musav mel` write (numpy: np.save(path, mel.astype(np.float32)))"
    )]
    Format { path: PathBuf, reason: String },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Mel bands of every mel-spectrogram musav reads or writes.
pub const MEL_BANDS: usize = 96;

/// Reads a mel-spectrogram (`96 × frames`, float32), in standard (C) layout whatever the file's
/// order.
pub fn read_mel(path: &Path) -> Result<Array2<f32>, NpyError> {
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| NpyError::Format {
        path: path.to_path_buf(),
        reason,
    };
    match Array2::<f32>::read_npy(bytes.as_slice()) {
        Ok(a) if a.nrows() == MEL_BANDS && a.ncols() > 0 => Ok(a.as_standard_layout().into_owned()),
        Ok(a) => Err(bad(format!(
            "found shape ({}, {}) of float32",
            a.nrows(),
            a.ncols()
        ))),
        Err(e) => Err(bad(match header(&bytes) {
            Some((descr, shape)) => format!("found shape {shape} of {}", dtype_name(&descr)),
            None => format!("no .npy header: {e}"),
        })),
    }
}

/// The `descr` and `shape` entries of an `.npy` header, as written.
fn header(bytes: &[u8]) -> Option<(String, String)> {
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return None;
    }
    let (len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], *bytes.get(10)?, *bytes.get(11)?]) as usize,
            12,
        ),
    };
    let text = std::str::from_utf8(bytes.get(start..start + len)?).ok()?;
    let after = |key: &str| text.find(key).map(|i| &text[i + key.len()..]);
    let descr = after("'descr':")?.trim_start();
    let descr = descr.trim_start_matches('\'');
    let descr = &descr[..descr.find('\'')?];
    let shape = after("'shape':")?.trim_start();
    let shape = &shape[..=shape.find(')')?];
    Some((descr.to_string(), shape.to_string()))
}

/// A numpy type code in words (`<f8` → float64), the code itself when unknown.
fn dtype_name(descr: &str) -> String {
    let code = descr.trim_start_matches(['<', '>', '|', '=']);
    match code {
        "f2" => "float16".into(),
        "f4" if descr.starts_with('>') => "big-endian float32".into(),
        "f4" => "float32".into(),
        "f8" => "float64".into(),
        _ => format!("dtype {descr}"),
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

    /// Writes a raw `.npy` file: header text and little-endian data.
    fn raw_npy(path: &Path, header: &str, data: &[u8]) {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(h.len() as u16).to_le_bytes());
        bytes.extend_from_slice(h.as_bytes());
        bytes.extend_from_slice(data);
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn reads_the_fortran_order_the_dataset_script_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        // Column-major: element (band b, frame t) at index t·96 + b.
        let data: Vec<u8> = (0..96 * 3)
            .flat_map(|i| ((i % 96) as f32 * 10.0 + (i / 96) as f32).to_le_bytes())
            .collect();
        raw_npy(
            &path,
            "{'descr': '<f4', 'fortran_order': True, 'shape': (96, 3), }",
            &data,
        );
        let m = read_mel(&path).unwrap();
        assert_eq!(m.dim(), (96, 3));
        assert_eq!(m[[5, 2]], 52.0);
        assert!(m.is_standard_layout());
    }

    #[test]
    fn refuses_other_shapes_and_types_naming_what_it_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        // Frames × bands (transposed), float32.
        write_mel(&path, &Array2::zeros((470, 96))).unwrap();
        let e = read_mel(&path).unwrap_err().to_string();
        assert!(
            e.contains("m.npy") && e.contains("(470, 96) of float32"),
            "{e}"
        );
        // The right shape in float64.
        raw_npy(
            &path,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (96, 2), }",
            &[0u8; 96 * 2 * 8],
        );
        let e = read_mel(&path).unwrap_err().to_string();
        assert!(e.contains("(96, 2) of float64"), "{e}");
        // Three dimensions.
        raw_npy(
            &path,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 96, 2), }",
            &[0u8; 96 * 2 * 4],
        );
        let e = read_mel(&path).unwrap_err().to_string();
        assert!(e.contains("(1, 96, 2) of float32"), "{e}");
        // No frames.
        raw_npy(
            &path,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (96, 0), }",
            &[],
        );
        let e = read_mel(&path).unwrap_err().to_string();
        assert!(e.contains("(96, 0)"), "{e}");
    }

    #[test]
    fn rejects_a_text_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        std::fs::write(&path, "hello").unwrap();
        assert!(matches!(read_mel(&path), Err(NpyError::Format { .. })));
    }
}
