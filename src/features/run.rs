//! Feature extraction for a whole export: every track in parallel, cached per track, and a file
//! that cannot be read is reported and skipped, never fatal, since one bad MP3 among thousands
//! must not cost a long run.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::{FeatureError, FeatureSource};

/// One track to extract: its id and MTG `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRef {
    pub id: String,
    pub path: String,
}

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
}

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
    Ok(ids
        .into_iter()
        .zip(paths)
        .map(|(id, path)| TrackRef { id, path })
        .collect())
}

/// Extracts every track (in parallel on rayon's pool), calling `tick` after each one.
pub fn extract_all(
    source: &FeatureSource,
    tracks: &[TrackRef],
    tick: impl Fn() + Sync,
) -> RunSummary {
    let outcomes: Vec<Result<bool, (usize, FeatureError)>> = tracks
        .par_iter()
        .enumerate()
        .map(|(i, t)| {
            let r = source
                .mel_with_status(&t.path)
                .map(|(_, hit)| hit)
                .map_err(|e| (i, e));
            tick();
            r
        })
        .collect();
    let mut summary = RunSummary::default();
    for o in outcomes {
        match o {
            Ok(true) => summary.cached += 1,
            Ok(false) => summary.extracted += 1,
            Err((i, e)) => summary.skipped.push(Skipped {
                track_id: tracks[i].id.clone(),
                path: e.path().to_path_buf(),
                kind: e.kind(),
                error: e.to_string(),
            }),
        }
    }
    summary
}

/// Writes the skipped tracks as TSV (`track_id, kind, path, error`), atomically; an empty run
/// still writes the header so a stale report never survives a clean rerun.
pub fn write_report(path: &Path, summary: &RunSummary) -> Result<(), RunError> {
    let mut text = String::from("track_id\tkind\tpath\terror\n");
    for s in &summary.skipped {
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
