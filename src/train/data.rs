//! Tracks of an export, their mel-spectrograms, and the chunks the network sees.
//!
//! Training takes one random ~3 s chunk per track per epoch (the short-chunk recipe); evaluation
//! averages the class probabilities of all chunks of a track. Long tracks are not kept whole: up to
//! `max_frames` frames are kept as evenly spaced excerpts, so memory stays bounded on full-length
//! MTG spectrograms while short clips are kept entire.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2, s};
use polars::prelude::*;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Split;

/// Where mel-spectrograms come from: official `.npy` files, audio, the synthetic corpus, or memory.
///
/// Kept to one method so the loop does not care which; `Sync` because tracks load in parallel.
pub trait MelSource: Sync {
    /// The `n_mels × frames` mel-spectrogram (dB) of the track whose MTG path is `rel_path`.
    fn mel(&self, rel_path: &str) -> Result<Array2<f32>, String>;

    /// The convention the source computes features in, when it computes them (audio); `None`
    /// for sources of precomputed arrays.
    fn convention(&self) -> Option<crate::features::Convention> {
        None
    }
}

/// Mel-spectrograms held in memory, keyed by MTG path (tests, and callers that computed them).
#[derive(Debug, Default, Clone)]
pub struct MemorySource(pub HashMap<String, Array2<f32>>);

impl MelSource for MemorySource {
    fn mel(&self, rel_path: &str) -> Result<Array2<f32>, String> {
        self.0
            .get(rel_path)
            .cloned()
            .ok_or_else(|| format!("no features for {rel_path}"))
    }
}

impl MelSource for crate::features::FeatureSource {
    fn mel(&self, rel_path: &str) -> Result<Array2<f32>, String> {
        crate::features::FeatureSource::mel(self, rel_path).map_err(|e| e.to_string())
    }

    fn convention(&self) -> Option<crate::features::Convention> {
        crate::features::FeatureSource::convention(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error(
        "{path}: column `{column}` is missing or unreadable ({message}); re-run `musav export`"
    )]
    Column {
        path: PathBuf,
        column: String,
        message: String,
    },
    #[error(
        "{path}: row {row} has an unknown split `{split}` (expected train, validation or test)"
    )]
    Split {
        path: PathBuf,
        row: usize,
        split: String,
    },
    #[error("{path}: no tracks in the {split} split; training needs train and validation tracks")]
    EmptySplit { path: PathBuf, split: &'static str },
}

/// One track of the export, with its class index (see [`Classes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackRef {
    pub track_id: String,
    pub path: String,
    pub class: usize,
    pub split: Split,
    /// The export's `tag` field (the VA targets of the tag table are averaged over it).
    pub tag: String,
}

/// Class index ↔ label: only labels that have tracks in the export become classes, in label-id order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classes {
    pub label_ids: Vec<u32>,
    pub names: Vec<String>,
}

impl Classes {
    pub fn len(&self) -> usize {
        self.label_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.label_ids.is_empty()
    }
}

fn string_column(df: &DataFrame, name: &str, path: &Path) -> Result<Vec<String>, DataError> {
    let err = |message: String| DataError::Column {
        path: path.to_path_buf(),
        column: name.to_string(),
        message,
    };
    let col = df
        .column(name)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(|e| err(e.to_string()))?;
    let ca = col.str().map_err(|e| err(e.to_string()))?;
    ca.iter()
        .map(|v| {
            v.map(str::to_string)
                .ok_or_else(|| err("empty value".into()))
        })
        .collect()
}

/// Reads the export's tracks and builds the class mapping from the labels present.
pub fn tracks_from_export(dir: &Path) -> Result<(Vec<TrackRef>, Classes), DataError> {
    let df = crate::export::read_single_label(dir)?;
    let path = dir.join(crate::export::SINGLE_LABEL_CSV);
    let ids = string_column(&df, "track_id", &path)?;
    let paths = string_column(&df, "path", &path)?;
    let label_ids = string_column(&df, "label_id", &path)?;
    let labels = string_column(&df, "label", &path)?;
    let splits = string_column(&df, "split", &path)?;
    let tags = string_column(&df, "tag", &path)?;
    let mut present: Vec<(u32, String)> = Vec::new();
    let mut parsed = Vec::with_capacity(ids.len());
    for (row, l) in label_ids.iter().enumerate() {
        let id: u32 = l.parse().map_err(|_| DataError::Column {
            path: path.clone(),
            column: "label_id".into(),
            message: format!("row {row}: `{l}` is not a label id"),
        })?;
        if !present.iter().any(|(p, _)| *p == id) {
            present.push((id, labels[row].clone()));
        }
        parsed.push(id);
    }
    present.sort();
    let classes = Classes {
        label_ids: present.iter().map(|(i, _)| *i).collect(),
        names: present.into_iter().map(|(_, n)| n).collect(),
    };
    let mut tracks = Vec::with_capacity(ids.len());
    for row in 0..ids.len() {
        let split = Split::parse(&splits[row]).ok_or_else(|| DataError::Split {
            path: path.clone(),
            row,
            split: splits[row].clone(),
        })?;
        let class = classes
            .label_ids
            .iter()
            .position(|&i| i == parsed[row])
            .unwrap_or_default();
        tracks.push(TrackRef {
            track_id: ids[row].clone(),
            path: paths[row].clone(),
            class,
            split,
            tag: tags[row].clone(),
        });
    }
    for split in [Split::Train, Split::Validation] {
        if !tracks.iter().any(|t| t.split == split) {
            return Err(DataError::EmptySplit {
                path,
                split: split.as_str(),
            });
        }
    }
    Ok((tracks, classes))
}

/// How spectrograms are cut into network inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkConfig {
    pub n_mels: usize,
    /// Frames per chunk (~3 s).
    pub frames: usize,
    /// Frames kept per track in memory (evenly spaced excerpts beyond this).
    pub max_frames: usize,
    /// Mean and standard deviation (dB) of the training spectrograms, subtracted and divided out
    /// at load time: the network's batch-norm running statistics start at (0, 1) and would take
    /// hundreds of steps to reach raw dB levels near −60.
    pub norm: Option<(f32, f32)>,
}

/// Mean and standard deviation over every kept value of `examples`.
pub fn fit_norm(examples: &[Example]) -> (f32, f32) {
    let (mut n, mut sum, mut sq) = (0f64, 0f64, 0f64);
    for seg in examples.iter().flat_map(|e| &e.segments) {
        for &v in seg {
            n += 1.0;
            sum += v as f64;
            sq += (v as f64) * (v as f64);
        }
    }
    let mean = sum / n.max(1.0);
    let std = (sq / n.max(1.0) - mean * mean).max(0.0).sqrt();
    (mean as f32, if std > 1e-6 { std as f32 } else { 1.0 })
}

/// Standardises every kept excerpt in place.
pub fn normalise(examples: &mut [Example], (mean, std): (f32, f32)) {
    for seg in examples.iter_mut().flat_map(|e| e.segments.iter_mut()) {
        seg.mapv_inplace(|v| (v - mean) / std);
    }
}

/// A track's kept spectrogram excerpts, ready to be chunked.
#[derive(Debug, Clone)]
pub struct Example {
    pub track: TrackRef,
    pub segments: Vec<Array2<f32>>,
}

/// A track left out, and why (reported in the run directory, never silently dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub track_id: String,
    pub path: String,
    pub reason: String,
}

/// Checks a spectrogram and keeps at most `max_frames` of it; short ones are tiled up to one chunk.
fn prepare(mel: Array2<f32>, cfg: &ChunkConfig) -> Result<Vec<Array2<f32>>, String> {
    let (bands, frames) = mel.dim();
    if bands != cfg.n_mels {
        return Err(format!(
            "{bands} mel bands, expected {} (recompute the features)",
            cfg.n_mels
        ));
    }
    if frames == 0 {
        return Err("empty spectrogram (0 frames)".into());
    }
    if mel.iter().any(|v| !v.is_finite()) {
        return Err("non-finite values (NaN or infinity) in the spectrogram".into());
    }
    if frames < cfg.frames {
        let idx: Vec<usize> = (0..cfg.frames).map(|i| i % frames).collect();
        return Ok(vec![mel.select(ndarray::Axis(1), &idx)]);
    }
    if frames <= cfg.max_frames {
        return Ok(vec![mel]);
    }
    let seg = (2 * cfg.frames).min(frames);
    let n = (cfg.max_frames / seg).max(1);
    let step = (frames - seg) / n.max(2).saturating_sub(1).max(1);
    Ok((0..n)
        .map(|i| {
            let start = (i * step).min(frames - seg);
            mel.slice(s![.., start..start + seg]).to_owned()
        })
        .collect())
}

/// Loads every track's features in parallel; bad tracks are returned as [`Skipped`], not errors.
pub fn load(
    tracks: &[TrackRef],
    source: &dyn MelSource,
    cfg: &ChunkConfig,
) -> (Vec<Example>, Vec<Skipped>) {
    let results: Vec<Result<Example, Skipped>> = tracks
        .par_iter()
        .map(|t| {
            source
                .mel(&t.path)
                .and_then(|m| prepare(m, cfg))
                .map(|segments| Example {
                    track: t.clone(),
                    segments,
                })
                .map_err(|reason| Skipped {
                    track_id: t.track_id.clone(),
                    path: t.path.clone(),
                    reason,
                })
        })
        .collect();
    let mut ok = Vec::new();
    let mut skipped = Vec::new();
    for r in results {
        match r {
            Ok(e) => ok.push(e),
            Err(s) => skipped.push(s),
        }
    }
    if let Some(norm) = cfg.norm {
        normalise(&mut ok, norm);
    }
    (ok, skipped)
}

impl Example {
    /// A random chunk for training.
    pub fn random_chunk(&self, frames: usize, rng: &mut impl Rng) -> ArrayView2<'_, f32> {
        let seg = &self.segments[rng.gen_range(0..self.segments.len())];
        let start = rng.gen_range(0..=seg.ncols() - frames);
        seg.slice(s![.., start..start + frames])
    }

    /// Non-overlapping chunks covering every kept excerpt (the last one aligned to the end).
    pub fn eval_chunks(&self, frames: usize) -> Vec<ArrayView2<'_, f32>> {
        let mut out = Vec::new();
        for seg in &self.segments {
            let n = seg.ncols();
            let mut start = 0;
            loop {
                let st = start.min(n - frames);
                out.push(seg.slice(s![.., st..st + frames]));
                if st + frames >= n {
                    break;
                }
                start += frames;
            }
        }
        out
    }
}

/// Flattens equally shaped chunks into one `[batch, n_mels, frames]` buffer.
pub fn stack(chunks: &[ArrayView2<'_, f32>]) -> (Vec<f32>, [usize; 3]) {
    let (m, f) = chunks.first().map(|c| c.dim()).unwrap_or((0, 0));
    let mut buf = Vec::with_capacity(chunks.len() * m * f);
    for c in chunks {
        buf.extend(c.iter().copied());
    }
    (buf, [chunks.len(), m, f])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cfg() -> ChunkConfig {
        ChunkConfig {
            n_mels: 4,
            frames: 10,
            max_frames: 40,
            norm: None,
        }
    }

    #[test]
    fn rejects_wrong_bands_and_nan() {
        assert!(
            prepare(Array2::zeros((3, 20)), &cfg())
                .unwrap_err()
                .contains("3 mel bands")
        );
        let mut m = Array2::zeros((4, 20));
        m[[1, 5]] = f32::NAN;
        assert!(prepare(m, &cfg()).unwrap_err().contains("non-finite"));
        assert!(prepare(Array2::zeros((4, 0)), &cfg()).is_err());
    }

    #[test]
    fn short_tracks_are_tiled_long_ones_cut_into_excerpts() {
        let short = Array2::from_shape_fn((4, 7), |(_, j)| j as f32);
        let segs = prepare(short, &cfg()).unwrap();
        assert_eq!(segs[0].ncols(), 10);
        assert_eq!(segs[0][[0, 7]], 0.0);
        let long = Array2::from_shape_fn((4, 1000), |(_, j)| j as f32);
        let segs = prepare(long, &cfg()).unwrap();
        assert_eq!(segs.len(), 2);
        assert!(segs.iter().all(|s| s.ncols() == 20));
        assert_eq!(segs[0][[0, 0]], 0.0);
        assert_eq!(segs[1][[0, 19]], 999.0);
    }

    #[test]
    fn eval_chunks_cover_the_excerpt_and_random_chunks_fit() {
        let ex = Example {
            track: TrackRef {
                track_id: "t".into(),
                path: "p".into(),
                class: 0,
                split: Split::Train,
                tag: "calm".into(),
            },
            segments: vec![Array2::from_shape_fn((4, 25), |(_, j)| j as f32)],
        };
        let chunks = ex.eval_chunks(10);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[2][[0, 9]], 24.0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..50 {
            assert_eq!(ex.random_chunk(10, &mut rng).dim(), (4, 10));
        }
        let (buf, shape) = stack(&chunks);
        assert_eq!(shape, [3, 4, 10]);
        assert_eq!(buf.len(), 120);
    }
}
