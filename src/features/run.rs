//! Feature extraction for a whole export: every track in parallel, cached per track, and a file
//! that cannot be read is reported and skipped, never fatal, since one bad MP3 among thousands
//! must not cost a long run.
//!
//! A file the decoder doubts (a stream that ends before its header says) is kept, since what was
//! decoded is real audio, and listed in the report with kind `warning`; a file that falls well
//! short of its metadata `DURATION` is skipped as `corrupt`.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::{FeatureError, FeatureSource};

/// One track to extract: its id and MTG `PATH`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRef {
    pub id: String,
    pub path: String,
    /// Duration the metadata promises (seconds); a file decoding to much less is truncated.
    pub duration: Option<f64>,
}

/// Share of the promised duration a file must reach; MP3 decoders stop quietly at a cut, so a
/// truncated download is only visible as missing time.
pub const MIN_DURATION_SHARE: f64 = 0.9;

/// A track that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub track_id: String,
    pub path: PathBuf,
    pub kind: &'static str,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunSummary {
    pub extracted: usize,
    pub cached: usize,
    pub skipped: Vec<Skipped>,
    /// Tracks kept (and counted above) whose decode left a doubt, with kind `warning`.
    pub warned: Vec<Skipped>,
}

/// The report's kind for a track kept with a decoder warning.
pub const WARNING_KIND: &str = "warning";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "{path}: cannot read the export's track list: {reason}; pass --export with a directory made by `musav export`"
    )]
    Export { path: PathBuf, reason: String },
    #[error("{path}: cannot write the skip report: {source}")]
    Report {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The tracks of an export directory (`single_label.csv`: `track_id` and `path` columns).
pub fn export_tracks(export_dir: &Path) -> Result<Vec<TrackRef>, RunError> {
    let path = export_dir.join(crate::export::SINGLE_LABEL_CSV);
    let bad = |reason: String| RunError::Export {
        path: path.clone(),
        reason,
    };
    let df = crate::export::read_single_label(export_dir).map_err(|e| bad(e.to_string()))?;
    let column = |name: &str| -> Result<Vec<String>, RunError> {
        let col = df
            .column(name)
            .map_err(|_| bad(format!("no column {name}")))?;
        let s = col
            .cast(&polars::prelude::DataType::String)
            .map_err(|e| bad(e.to_string()))?;
        let ca = s.str().map_err(|e| bad(e.to_string()))?;
        Ok(ca
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let ids = column("track_id")?;
    let paths = column("path")?;
    // Optional: an export always has it, hand-made track lists may not.
    let durations = column("duration").unwrap_or_default();
    Ok(ids
        .into_iter()
        .zip(paths)
        .enumerate()
        .map(|(i, (id, path))| TrackRef {
            id,
            path,
            duration: durations.get(i).and_then(|d| d.parse().ok()),
        })
        .collect())
}

/// Extracts every track (in parallel on rayon's pool), calling `tick` after each one.
pub fn extract_all(
    source: &FeatureSource,
    tracks: &[TrackRef],
    tick: impl Fn() + Sync,
) -> RunSummary {
    type Outcome = Result<(bool, Vec<String>), FeatureError>;
    let outcomes: Vec<Outcome> = tracks
        .par_iter()
        .map(|t| {
            let r = source.extract(&t.path).and_then(|e| {
                check_duration(source, t, e.mel.ncols()).map(|()| (e.cached, e.warnings))
            });
            tick();
            r
        })
        .collect();
    let mut summary = RunSummary::default();
    for (i, o) in outcomes.into_iter().enumerate() {
        match o {
            Ok((cached, warnings)) => {
                if cached {
                    summary.cached += 1;
                } else {
                    summary.extracted += 1;
                }
                if !warnings.is_empty() {
                    summary.warned.push(Skipped {
                        track_id: tracks[i].id.clone(),
                        path: source.file_of(&tracks[i].path),
                        kind: WARNING_KIND,
                        error: warnings.join("; "),
                    });
                }
            }
            Err(e) => summary.skipped.push(Skipped {
                track_id: tracks[i].id.clone(),
                path: e.path().to_path_buf(),
                kind: e.kind(),
                error: e.to_string(),
            }),
        }
    }
    summary
}

/// Fails when the mel-spectrogram covers less than [`MIN_DURATION_SHARE`] of the track's
/// promised duration.
fn check_duration(source: &FeatureSource, t: &TrackRef, frames: usize) -> Result<(), FeatureError> {
    let Some(promised) = t.duration.filter(|d| *d > 0.0) else {
        return Ok(());
    };
    let seconds = source.convention().unwrap_or_default().seconds(frames);
    if seconds < MIN_DURATION_SHARE * promised {
        return Err(FeatureError::Corrupt {
            path: source.file_of(&t.path),
            reason: format!(
                "truncated: {seconds:.1} s of audio, the metadata says {promised:.1} s"
            ),
        });
    }
    Ok(())
}

/// Writes the skipped tracks, then the kept ones with a warning, as TSV (`track_id, kind, path,
/// error`), atomically; an empty run still writes the header so a stale report never survives a
/// clean rerun.
pub fn write_report(path: &Path, summary: &RunSummary) -> Result<(), RunError> {
    let mut text = String::from("track_id\tkind\tpath\terror\n");
    for s in summary.skipped.iter().chain(&summary.warned) {
        let clean = |v: &str| v.replace(['\t', '\n'], " ");
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            clean(&s.track_id),
            s.kind,
            clean(&s.path.to_string_lossy()),
            clean(&s.error)
        ));
    }
    crate::fsio::write_atomic(path, text.as_bytes()).map_err(|source| RunError::Report {
        path: path.to_path_buf(),
        source,
    })
}
