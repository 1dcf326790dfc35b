//! The terminal UI for reviewing labels (`musav review`): look at how the tags clustered, fix what
//! is wrong, name the labels and export, without leaving the terminal.
//!
//! [`app`] holds the state and every action (tested as state transitions), [`ui`] and [`views`]
//! draw it, [`event`] runs the terminal loop, [`jobs`] runs slow work (LLM naming, export) on
//! background threads, [`keys`] is the key table, [`namer`] the seam to the LLM client and
//! [`llm_namer`] the real client behind it; [`recluster`] re-runs clustering without redoing PCA
//! when it need not.

pub mod app;
pub mod event;
pub mod index;
pub mod jobs;
pub mod keys;
pub mod llm_namer;
pub mod namer;
pub mod recluster;
pub mod ui;
pub mod views;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::curation::labels::{LabelMap, LabelMapError, default_labels_path};
use crate::curation::{self, CurationError, CurationParams};
use crate::dataset::{Dataset, DatasetError, LoadOptions};

pub use app::{App, Session, TrainDefaults};
pub use namer::{Namer, Naming};

/// What to open and where to write.
#[derive(Debug, Clone)]
pub struct ReviewOptions {
    /// Metadata directory or TSV file.
    pub data: PathBuf,
    pub tag_prefix: String,
    /// Label map to open; `None`: the working map `labels.toml` of the current directory when it
    /// exists (a saved review continues), else the shipped reviewed map.
    pub labels: Option<PathBuf>,
    /// Where saving writes; `None`: the `labels` file, else the working map (the shipped map is
    /// never overwritten by default).
    pub save_to: Option<PathBuf>,
    /// The export directory the export popup proposes.
    pub export_dir: PathBuf,
    /// Key file patching the default keys (see [`keys`]).
    pub keys: Option<PathBuf>,
    /// The training screen's run directory and first settings.
    pub training: TrainDefaults,
}

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Labels(#[from] LabelMapError),
    #[error("clustering the tags: {0}")]
    Curation(#[from] CurationError),
    #[error(
        "the terminal: {0}; musav review needs an interactive terminal (use musav cluster / export in scripts)"
    )]
    Terminal(#[from] std::io::Error),
    #[error(
        "musav review needs an interactive terminal (stdin and stdout); in scripts use musav cluster and musav export"
    )]
    NotATerminal,
    #[error("loading was interrupted")]
    Interrupted,
}

/// The map a review without `--labels` saves to, in the current directory.
pub const WORKING_MAP: &str = "labels.toml";

/// Which map to open and where to save, given the options and the directory a bare review works
/// in. Returns `(open, save, resumed)`; `resumed` is true when a saved working map is continued,
/// which is what keeps a second `musav` from starting over and then overwriting the first one's work.
pub fn map_paths(
    labels: Option<&Path>,
    save_to: Option<&Path>,
    workdir: &Path,
) -> (PathBuf, PathBuf, bool) {
    let working = workdir.join(WORKING_MAP);
    let (open, resumed) = match labels {
        Some(p) => (p.to_path_buf(), false),
        None if working.exists() => (working.clone(), true),
        None => (default_labels_path(), false),
    };
    let save = match (save_to, labels) {
        (Some(p), _) | (None, Some(p)) => p.to_path_buf(),
        (None, None) => working,
    };
    (open, save, resumed)
}

/// Loads the data, clusters it and opens (or drafts) the label map. `progress` hears each stage,
/// so the start-up screen can say what is happening.
pub fn load(
    opts: &ReviewOptions,
    namer: Arc<dyn Namer>,
    progress: &dyn Fn(&str),
) -> Result<Session, TuiError> {
    progress(&format!("reading {}", opts.data.display()));
    let dataset = Dataset::load(
        &opts.data,
        &LoadOptions {
            tag_prefix: opts.tag_prefix.clone(),
        },
    )?;
    let (path, save_path, resumed) = map_paths(
        opts.labels.as_deref(),
        opts.save_to.as_deref(),
        Path::new(""),
    );
    let existing = if path.exists() {
        progress(&format!("reading {}", path.display()));
        Some(LabelMap::load(&path)?)
    } else {
        None
    };
    // Cluster with the map's own settings so that the scatter shows what the map was drafted from.
    let params = existing
        .as_ref()
        .and_then(|m| m.settings.clone())
        .unwrap_or_else(CurationParams::default);
    let curation = if existing.is_some() {
        progress("placing the tags");
        recluster::layout_only(&dataset, &params)?
    } else {
        progress("clustering the tags");
        curation::curate(&dataset, &params)?
    };
    let (map, note) = match existing {
        Some(m) => {
            let cov = m.coverage(&dataset);
            let note = if !cov.unknown.is_empty() {
                Some(format!(
                    "warning: {} names tags the data does not have: {}",
                    path.display(),
                    cov.unknown.join(", ")
                ))
            } else if resumed {
                Some(format!(
                    "continuing {} (saved earlier); --labels opens another map",
                    path.display()
                ))
            } else {
                None
            };
            (m, note)
        }
        None => (
            LabelMap::from_curation(&curation),
            Some(format!(
                "{} does not exist: started from a clustering draft; s saves it",
                path.display()
            )),
        ),
    };
    let (keys, problem) = match &opts.keys {
        Some(p) => match keys::KeyMap::load(p) {
            Ok(k) => (k, None),
            Err(e) => (keys::KeyMap::default(), Some(e.to_string())),
        },
        None => (keys::KeyMap::default(), None),
    };
    Ok(Session {
        keys,
        problem,
        dataset: Arc::new(dataset),
        curation,
        map,
        save_path,
        export_dir: opts.export_dir.clone(),
        namer,
        note,
        training: opts.training.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_review_continues_the_working_map_and_never_saves_over_the_shipped_one() {
        let dir = tempfile::tempdir().unwrap();
        let (open, save, resumed) = map_paths(None, None, dir.path());
        assert_eq!(open, default_labels_path());
        assert_eq!(save, dir.path().join(WORKING_MAP));
        assert!(!resumed);
        std::fs::write(dir.path().join(WORKING_MAP), "").unwrap();
        let (open, save, resumed) = map_paths(None, None, dir.path());
        assert_eq!(open, dir.path().join(WORKING_MAP));
        assert_eq!(save, open);
        assert!(resumed);
    }

    #[test]
    fn explicit_paths_win() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(WORKING_MAP), "").unwrap();
        let mine = Path::new("mine.toml");
        let out = Path::new("out.toml");
        assert_eq!(
            map_paths(Some(mine), None, dir.path()),
            (mine.to_path_buf(), mine.to_path_buf(), false)
        );
        assert_eq!(
            map_paths(Some(mine), Some(out), dir.path()),
            (mine.to_path_buf(), out.to_path_buf(), false)
        );
        assert_eq!(map_paths(None, Some(out), dir.path()).1, out.to_path_buf());
    }
}
