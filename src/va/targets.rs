//! Per-track VA targets: the user's annotations when they have them, else the mean of the track's
//! tags' points in the tag table (all its original tags, not only the one its label came from).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::dataset::va::VaTable;

#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    #[error("{path}: cannot read VA annotations: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: {problem}; the file needs a header `track_id,valence,arousal` and numeric values"
    )]
    Bad {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error(
        "track {track}: none of its tags ({tags}) is in the VA table; add them to the table or pass annotations"
    )]
    NoPoint { track: String, tags: String },
}

/// Where targets come from.
pub enum Targets {
    /// Track id → (valence, arousal).
    Annotations(HashMap<String, [f64; 2]>),
    Tags(VaTable),
}

impl Targets {
    /// Reads `track_id,valence,arousal` (header required; extra columns ignored).
    pub fn load_csv(path: &Path) -> Result<Targets, TargetsError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |line: usize, problem: String| TargetsError::Bad {
            path: path.to_path_buf(),
            line,
            problem,
        };
        let mut lines = text.lines().enumerate();
        let header: Vec<String> = lines
            .next()
            .map(|(_, l)| l.split(',').map(|s| s.trim().to_lowercase()).collect())
            .unwrap_or_default();
        let col = |n: &str| header.iter().position(|h| h == n);
        let (Some(ti), Some(vi), Some(ai)) = (col("track_id"), col("valence"), col("arousal"))
        else {
            return Err(bad(1, "missing column track_id, valence or arousal".into()));
        };
        let mut out = HashMap::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let num = |k: usize| -> Result<f64, TargetsError> {
                f.get(k)
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        bad(
                            i + 1,
                            format!("value {:?} is not a number", f.get(k).unwrap_or(&"")),
                        )
                    })
            };
            let id = f.get(ti).copied().unwrap_or("");
            if id.is_empty() {
                return Err(bad(i + 1, "empty track_id".into()));
            }
            out.insert(id.to_string(), [num(vi)?, num(ai)?]);
        }
        Ok(Targets::Annotations(out))
    }

    /// The target of one track; `tags` is the export's `tag` field (tags joined by `|`).
    pub fn target(&self, track_id: &str, tags: &str) -> Result<Option<[f64; 2]>, TargetsError> {
        match self {
            Targets::Annotations(m) => Ok(m.get(track_id).copied()),
            Targets::Tags(table) => table
                .mean(tags.split('|'))
                .map(|p| Some([p.valence, p.arousal]))
                .ok_or_else(|| TargetsError::NoPoint {
                    track: track_id.to_string(),
                    tags: tags.to_string(),
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_targets_average_all_original_tags() {
        let t = Targets::Tags(VaTable::load_default().unwrap());
        let table = VaTable::load_default().unwrap();
        let (h, s) = (table.get("happy").unwrap(), table.get("sad").unwrap());
        let p = t.target("t1", "happy|sad").unwrap().unwrap();
        assert!((p[0] - (h.valence + s.valence) / 2.0).abs() < 1e-12);
        assert!(
            t.target("t2", "nonsense")
                .unwrap_err()
                .to_string()
                .contains("t2")
        );
    }

    #[test]
    fn annotations_csv_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("va.csv");
        std::fs::write(&p, "track_id,valence,arousal\nt1,0.2,0.9\n").unwrap();
        let t = Targets::load_csv(&p).unwrap();
        assert_eq!(t.target("t1", "").unwrap(), Some([0.2, 0.9]));
        assert_eq!(t.target("t9", "").unwrap(), None);
        std::fs::write(&p, "track_id,valence,arousal\nt1,high,0.9\n").unwrap();
        let e = Targets::load_csv(&p).err().unwrap().to_string();
        assert!(e.contains("va.csv:2") && e.contains("high"), "{e}");
    }
}
