//! Loading MTG-Jamendo-style metadata.
//!
//! The TSVs name one `TAGS` column in their header but carry one to eight tag columns per row, which a
//! rectangular CSV reader (polars' included) cannot express without guessing a width and losing the
//! line a problem is on; rows are therefore split by hand, so every error names its file and line.
//! polars takes over where the data is rectangular: the export's CSV and Parquet files.

mod parse;
pub mod va;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use parse::{DatasetError, LoadOptions};

/// The three files of an official MTG-Jamendo split, in the order they are read.
pub const SPLIT_FILES: [(Split, &str); 3] = [
    (Split::Train, "autotagging_moodtheme-train.tsv"),
    (Split::Validation, "autotagging_moodtheme-validation.tsv"),
    (Split::Test, "autotagging_moodtheme-test.tsv"),
];

/// The default tag prefix of the mood/theme subset.
pub const DEFAULT_TAG_PREFIX: &str = "mood/theme---";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
    Test,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Split> {
        match s {
            "train" => Some(Split::Train),
            "validation" | "valid" | "val" => Some(Split::Validation),
            "test" => Some(Split::Test),
            _ => None,
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Index into [`Dataset::tags`].
pub type TagId = usize;

#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub id: String,
    pub artist: String,
    pub album: String,
    /// Audio path as written in the metadata, relative to the audio root (`48/948.mp3`).
    pub path: String,
    pub duration: f64,
    /// Distinct tags in file order.
    pub tags: Vec<TagId>,
    /// `None` when loaded from a single TSV without split information.
    pub split: Option<Split>,
}

/// All tracks of one load, with tags interned (sorted by name).
#[derive(Debug, Clone)]
pub struct Dataset {
    pub tracks: Vec<Track>,
    pub tags: Vec<String>,
    /// The files read, for messages and manifests.
    pub sources: Vec<PathBuf>,
}

impl Dataset {
    /// Loads a directory holding the three official split files, or one TSV file.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Dataset, DatasetError> {
        parse::load(path, opts)
    }

    pub fn tag_id(&self, name: &str) -> Option<TagId> {
        self.tags.binary_search_by(|t| t.as_str().cmp(name)).ok()
    }

    /// Tracks per tag (all tracks) and per tag among single-tag tracks.
    pub fn tag_counts(&self) -> (Vec<usize>, Vec<usize>) {
        let mut all = vec![0; self.tags.len()];
        let mut single = vec![0; self.tags.len()];
        for t in &self.tracks {
            for &g in &t.tags {
                all[g] += 1;
            }
            if let [g] = t.tags[..] {
                single[g] += 1;
            }
        }
        (all, single)
    }

    pub fn stats(&self) -> Stats {
        let (all, single) = self.tag_counts();
        let mut histogram = BTreeMap::new();
        for t in &self.tracks {
            *histogram.entry(t.tags.len()).or_insert(0) += 1;
        }
        let distinct = |f: fn(&Track) -> &str| {
            let mut v: Vec<&str> = self.tracks.iter().map(f).collect();
            v.sort_unstable();
            v.dedup();
            v.len()
        };
        let mut per_split = BTreeMap::new();
        for t in &self.tracks {
            if let Some(s) = t.split {
                *per_split.entry(s).or_insert(0) += 1;
            }
        }
        Stats {
            tracks: self.tracks.len(),
            artists: distinct(|t| &t.artist),
            albums: distinct(|t| &t.album),
            distinct_tags: self.tags.len(),
            tags_per_track: histogram,
            per_split,
            per_tag: self
                .tags
                .iter()
                .enumerate()
                .map(|(i, name)| TagCount {
                    tag: name.clone(),
                    tracks: all[i],
                    single_tag_tracks: single[i],
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TagCount {
    pub tag: String,
    pub tracks: usize,
    pub single_tag_tracks: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub tracks: usize,
    pub artists: usize,
    pub albums: usize,
    pub distinct_tags: usize,
    /// Number of tags on a track → number of tracks.
    pub tags_per_track: BTreeMap<usize, usize>,
    pub per_split: BTreeMap<Split, usize>,
    pub per_tag: Vec<TagCount>,
}

/// The metadata shipped in `data/`, found beside the crate so the binary works from any directory.
pub fn default_data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("MUSAV_DATA_DIR") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("data");
    if local.join("labels.toml").exists() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// The official split-0 metadata shipped in `data/`.
pub fn default_metadata_path() -> PathBuf {
    default_data_dir().join("mtg-jamendo-moodtheme")
}
