//! The single-label set: one label per track, written as CSV and Parquet with its counts.
//!
//! [`plan`] is pure and cheap (the terminal UI calls it on every edit to show what an export would
//! give); [`write`] stages every file in a directory beside the destination and renames it into
//! place, so an export is either complete or absent.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::curation::labels::{Assign, LabelMap};
use crate::dataset::Dataset;

/// Which tracks get a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Only tracks with exactly one tag (the original study).
    #[default]
    Strict,
    /// Also multi-tag tracks whose tags all belong to one label.
    SameLabel,
}

/// One exported track.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Index into `dataset.tracks`.
    pub track: usize,
    /// Index into `map.labels`.
    pub label: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCount {
    pub id: u32,
    pub name: String,
    pub tracks: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub policy: Policy,
    /// Tracks carrying exactly one tag.
    pub single_tag_tracks: usize,
    /// Single-tag tracks dropped because their tag is noise (or not in the map).
    pub noise_tracks: usize,
    /// Tracks written to the single-label set.
    pub exported: usize,
    /// Of `exported`, multi-tag tracks added by [`Policy::SameLabel`].
    pub added_by_policy: usize,
    pub labels: usize,
    pub per_label: Vec<LabelCount>,
    pub per_split: BTreeMap<String, usize>,
    pub label_map_sha256: String,
    /// Dataset tags the map does not mention (treated as noise).
    pub unmapped_tags: Vec<String>,
    pub sources: Vec<PathBuf>,
}

pub struct Plan {
    pub rows: Vec<Row>,
    /// Indices of single-tag tracks dropped as noise.
    pub noise: Vec<usize>,
    pub summary: Summary,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "{0}: an export already exists there; pass --force to replace it, or choose another --out"
    )]
    Exists(PathBuf),
    #[error("{path}: cannot write the export: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write the export: {source}")]
    Polars {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
}

/// Decides every track's fate without touching the disk.
pub fn plan(dataset: &Dataset, map: &LabelMap, policy: Policy) -> Plan {
    let assign = map.assignment(dataset);
    let mut rows = Vec::new();
    let mut noise = Vec::new();
    let mut single = 0;
    let mut added = 0;
    for (i, t) in dataset.tracks.iter().enumerate() {
        if let [g] = t.tags[..] {
            single += 1;
            match assign[g] {
                Assign::Label(l) => rows.push(Row { track: i, label: l }),
                Assign::Noise | Assign::Unmapped => noise.push(i),
            }
        } else if policy == Policy::SameLabel {
            let mut labels = t.tags.iter().map(|&g| assign[g]);
            if let Some(Assign::Label(first)) = labels.next()
                && labels.all(|a| a == Assign::Label(first))
            {
                rows.push(Row {
                    track: i,
                    label: first,
                });
                added += 1;
            }
        }
    }
    let mut per_label_n = vec![0; map.labels.len()];
    let mut per_split = BTreeMap::new();
    for r in &rows {
        per_label_n[r.label] += 1;
        let split = dataset.tracks[r.track].split.map_or("none", |s| s.as_str());
        *per_split.entry(split.to_string()).or_insert(0) += 1;
    }
    let summary = Summary {
        policy,
        single_tag_tracks: single,
        noise_tracks: noise.len(),
        exported: rows.len(),
        added_by_policy: added,
        labels: map.labels.len(),
        per_label: map
            .labels
            .iter()
            .zip(&per_label_n)
            .map(|(l, &n)| LabelCount {
                id: l.id,
                name: l.name.clone(),
                tracks: n,
            })
            .collect(),
        per_split,
        label_map_sha256: map.hash(),
        unmapped_tags: map.coverage(dataset).unmapped,
        sources: dataset.sources.clone(),
    };
    Plan {
        rows,
        noise,
        summary,
    }
}

/// The file names of an export directory.
pub const SINGLE_LABEL_CSV: &str = "single_label.csv";
pub const SINGLE_LABEL_PARQUET: &str = "single_label.parquet";
pub const NOISE_CSV: &str = "noise.csv";
pub const SUMMARY_JSON: &str = "summary.json";
pub const LABELS_TOML: &str = "labels.toml";

/// Writes the planned export to `out` (refusing to replace an existing one unless `force`).
pub fn write(
    dataset: &Dataset,
    map: &LabelMap,
    plan: &Plan,
    out: &Path,
    force: bool,
) -> Result<(), ExportError> {
    if out.exists() && !force {
        return Err(ExportError::Exists(out.to_path_buf()));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    let staged = crate::fsio::staging_dir(out).map_err(io(out))?;
    let dir = staged.path();

    let mut single =
        single_label_frame(dataset, map, &plan.rows).map_err(|source| ExportError::Polars {
            path: out.to_path_buf(),
            source,
        })?;
    write_csv(&mut single, &dir.join(SINGLE_LABEL_CSV), out)?;
    let parquet = dir.join(SINGLE_LABEL_PARQUET);
    let f = File::create(&parquet).map_err(io(&parquet))?;
    ParquetWriter::new(f)
        .finish(&mut single)
        .map_err(|source| ExportError::Polars {
            path: out.join(SINGLE_LABEL_PARQUET),
            source,
        })?;
    let mut noise = noise_frame(dataset, &plan.noise).map_err(|source| ExportError::Polars {
        path: out.to_path_buf(),
        source,
    })?;
    write_csv(&mut noise, &dir.join(NOISE_CSV), out)?;
    let summary = serde_json::to_string_pretty(&plan.summary).expect("summary serialises");
    std::fs::write(dir.join(SUMMARY_JSON), summary).map_err(io(&out.join(SUMMARY_JSON)))?;
    // The map itself travels with the export, so training runs can record exactly what they used.
    std::fs::write(dir.join(LABELS_TOML), map.to_toml()).map_err(io(&out.join(LABELS_TOML)))?;

    let staged_path = staged.keep();
    crate::fsio::replace_dir(&staged_path, out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged_path);
        io(out)(e)
    })
}

fn write_csv(df: &mut DataFrame, path: &Path, out: &Path) -> Result<(), ExportError> {
    let name = path.file_name().expect("file name");
    let f = File::create(path).map_err(|source| ExportError::Io {
        path: out.join(name),
        source,
    })?;
    CsvWriter::new(f)
        .finish(df)
        .map_err(|source| ExportError::Polars {
            path: out.join(name),
            source,
        })
}

fn single_label_frame(dataset: &Dataset, map: &LabelMap, rows: &[Row]) -> PolarsResult<DataFrame> {
    let tracks: Vec<_> = rows.iter().map(|r| &dataset.tracks[r.track]).collect();
    let original: Vec<String> = tracks
        .iter()
        .map(|t| {
            t.tags
                .iter()
                .map(|&g| dataset.tags[g].as_str())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    df!(
        "track_id" => tracks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        "artist_id" => tracks.iter().map(|t| t.artist.as_str()).collect::<Vec<_>>(),
        "album_id" => tracks.iter().map(|t| t.album.as_str()).collect::<Vec<_>>(),
        "path" => tracks.iter().map(|t| t.path.as_str()).collect::<Vec<_>>(),
        "duration" => tracks.iter().map(|t| t.duration).collect::<Vec<_>>(),
        "tag" => original,
        "label_id" => rows.iter().map(|r| map.labels[r.label].id).collect::<Vec<_>>(),
        "label" => rows.iter().map(|r| map.labels[r.label].name.as_str()).collect::<Vec<_>>(),
        "split" => tracks.iter().map(|t| t.split.map(|s| s.as_str())).collect::<Vec<_>>(),
    )
}

fn noise_frame(dataset: &Dataset, noise: &[usize]) -> PolarsResult<DataFrame> {
    let tracks: Vec<_> = noise.iter().map(|&i| &dataset.tracks[i]).collect();
    df!(
        "track_id" => tracks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        "path" => tracks.iter().map(|t| t.path.as_str()).collect::<Vec<_>>(),
        "tag" => tracks.iter().map(|t| dataset.tags[t.tags[0]].as_str()).collect::<Vec<_>>(),
        "split" => tracks.iter().map(|t| t.split.map(|s| s.as_str())).collect::<Vec<_>>(),
    )
}

/// Reads an export's single-label CSV back (for training and checks).
pub fn read_single_label(dir: &Path) -> Result<DataFrame, ExportError> {
    let path = dir.join(SINGLE_LABEL_CSV);
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.clone()))
        .and_then(|r| r.finish())
        .map_err(|source| ExportError::Polars { path, source })
}

/// Reads an export's `summary.json`.
pub fn read_summary(dir: &Path) -> Result<Summary, ExportError> {
    let path = dir.join(SUMMARY_JSON);
    let text = std::fs::read_to_string(&path).map_err(|source| ExportError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ExportError::Io {
        path,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}
