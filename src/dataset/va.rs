//! The tag → valence/arousal table (`data/tag_va.tsv`): a word-level proxy for a track's position
//! in the VA plane, used for VA targets and to give synthetic moods musically meaningful properties.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A point in the VA plane, both coordinates in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Va {
    pub valence: f64,
    pub arousal: f64,
}

#[derive(Debug, Clone, Default)]
pub struct VaTable {
    points: BTreeMap<String, Va>,
}

#[derive(Debug, thiserror::Error)]
pub enum VaTableError {
    #[error("{path}: cannot read the tag valence/arousal table: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: {problem}; the table needs tab-separated columns tag, lemma, valence, arousal (valence and arousal in [0, 1])"
    )]
    Bad {
        path: PathBuf,
        line: usize,
        problem: String,
    },
}

impl VaTable {
    pub fn load(path: &Path) -> Result<VaTable, VaTableError> {
        let text = std::fs::read_to_string(path).map_err(|source| VaTableError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |line: usize, problem: String| VaTableError::Bad {
            path: path.to_path_buf(),
            line,
            problem,
        };
        let mut lines = text.lines().enumerate();
        let header: Vec<&str> = lines
            .next()
            .map(|(_, l)| l.split('\t').collect())
            .unwrap_or_default();
        let col = |name: &str| header.iter().position(|h| h.trim() == name);
        let (Some(ti), Some(vi), Some(ai)) = (col("tag"), col("valence"), col("arousal")) else {
            return Err(bad(
                1,
                "header lacks a tag, valence or arousal column".into(),
            ));
        };
        let mut points = BTreeMap::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let get = |k: usize| f.get(k).map(|s| s.trim()).unwrap_or("");
            let num = |k: usize, what: &str| -> Result<f64, VaTableError> {
                get(k)
                    .parse::<f64>()
                    .ok()
                    .filter(|v| (0.0..=1.0).contains(v))
                    .ok_or_else(|| {
                        bad(
                            i + 1,
                            format!("{what} {:?} is not a number in [0, 1]", get(k)),
                        )
                    })
            };
            let tag = get(ti);
            if tag.is_empty() {
                return Err(bad(i + 1, "empty tag".into()));
            }
            points.insert(
                tag.to_string(),
                Va {
                    valence: num(vi, "valence")?,
                    arousal: num(ai, "arousal")?,
                },
            );
        }
        Ok(VaTable { points })
    }

    /// The shipped table.
    pub fn load_default() -> Result<VaTable, VaTableError> {
        VaTable::load(&default_va_path())
    }

    pub fn get(&self, tag: &str) -> Option<Va> {
        self.points.get(tag).copied()
    }

    /// Mean point of the tags that the table knows; `None` if it knows none of them.
    pub fn mean<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> Option<Va> {
        let pts: Vec<Va> = tags.into_iter().filter_map(|t| self.get(t)).collect();
        (!pts.is_empty()).then(|| Va {
            valence: pts.iter().map(|p| p.valence).sum::<f64>() / pts.len() as f64,
            arousal: pts.iter().map(|p| p.arousal).sum::<f64>() / pts.len() as f64,
        })
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

pub fn default_va_path() -> PathBuf {
    super::default_data_dir().join("tag_va.tsv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_has_all_59_tags_and_means() {
        let t = VaTable::load_default().unwrap();
        assert_eq!(t.len(), 59);
        let happy = t.get("happy").unwrap();
        let sad = t.get("sad").unwrap();
        assert!(happy.valence > sad.valence);
        let m = t.mean(["happy", "sad", "no-such-tag"]).unwrap();
        assert!((m.valence - (happy.valence + sad.valence) / 2.0).abs() < 1e-12);
        assert!(t.mean(["no-such-tag"]).is_none());
    }

    #[test]
    fn bad_value_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("va.tsv");
        std::fs::write(&p, "tag\tlemma\tvalence\tarousal\nhappy\thappy\t1.7\t0.5\n").unwrap();
        let e = VaTable::load(&p).unwrap_err().to_string();
        assert!(e.contains("va.tsv:2") && e.contains("valence"), "{e}");
    }
}
