use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::{Dataset, SPLIT_FILES, Split, Track};

/// Options of a metadata load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Every tag must start with this; it is stripped (`mood/theme---happy` → `happy`).
    pub tag_prefix: String,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            tag_prefix: super::DEFAULT_TAG_PREFIX.to_string(),
        }
    }
}

/// Every problem a user's metadata can have, each naming the file (and line) and what to do.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(
        "{path}: no such file or directory; pass --data with a directory holding the three split files \
         (autotagging_moodtheme-{{train,validation,test}}.tsv) or a single MTG-format TSV file"
    )]
    NotFound { path: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{dir}: not an MTG split directory: missing {missing}; pass one TSV file instead, or a directory \
         holding all three split files"
    )]
    MissingSplitFiles { dir: PathBuf, missing: String },
    #[error("{path}:1: header must start with {expected}, found {found:?}")]
    Header {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error(
        "{path}:{line}: missing column {column}: a row needs TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION and at least one tag, tab-separated"
    )]
    MissingColumn {
        path: PathBuf,
        line: usize,
        column: &'static str,
    },
    #[error("{path}:{line}: DURATION {value:?} is not a number of seconds")]
    BadDuration {
        path: PathBuf,
        line: usize,
        value: String,
    },
    #[error(
        "{path}:{line}: track {id} appears twice (first at {first_path}:{first_line}); remove one of the rows"
    )]
    DuplicateTrack {
        path: PathBuf,
        line: usize,
        id: String,
        first_path: PathBuf,
        first_line: usize,
    },
    #[error("{path}:{line}: track {id} has no tags; every row needs at least one tag column")]
    NoTags {
        path: PathBuf,
        line: usize,
        id: String,
    },
    #[error(
        "{path}:{line}: tag {tag:?} does not start with {prefix:?}; fix the tag or pass --tag-prefix with the prefix your file uses"
    )]
    BadTagPrefix {
        path: PathBuf,
        line: usize,
        tag: String,
        prefix: String,
    },
    #[error("{path}: no tracks: the file holds a header but no rows")]
    Empty { path: PathBuf },
}

const HEADER: [&str; 5] = ["TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION"];

pub(super) fn load(path: &Path, opts: &LoadOptions) -> Result<Dataset, DatasetError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DatasetError::NotFound {
            path: path.to_path_buf(),
        },
        _ => DatasetError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    let files: Vec<(PathBuf, Option<Split>)> = if meta.is_dir() {
        let missing: Vec<&str> = SPLIT_FILES
            .iter()
            .filter(|(_, f)| !path.join(f).is_file())
            .map(|(_, f)| *f)
            .collect();
        if !missing.is_empty() {
            return Err(DatasetError::MissingSplitFiles {
                dir: path.to_path_buf(),
                missing: missing.join(", "),
            });
        }
        SPLIT_FILES
            .iter()
            .map(|(s, f)| (path.join(f), Some(*s)))
            .collect()
    } else {
        vec![(path.to_path_buf(), None)]
    };

    let mut raw: Vec<(Track, Vec<String>)> = Vec::new();
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    for (fi, (file, split)) in files.iter().enumerate() {
        let text = std::fs::read_to_string(file).map_err(|e| DatasetError::Io {
            path: file.clone(),
            source: e,
        })?;
        let before = raw.len();
        parse_file(file, &text, *split, opts, &mut raw, |id, line| {
            match seen.insert(id.to_string(), (fi, line)) {
                Some((pf, pl)) => Err(DatasetError::DuplicateTrack {
                    path: file.clone(),
                    line,
                    id: id.to_string(),
                    first_path: files[pf].0.clone(),
                    first_line: pl,
                }),
                None => Ok(()),
            }
        })?;
        if raw.len() == before {
            return Err(DatasetError::Empty { path: file.clone() });
        }
    }

    let names: BTreeSet<&str> = raw
        .iter()
        .flat_map(|(_, t)| t.iter().map(String::as_str))
        .collect();
    let tags: Vec<String> = names.into_iter().map(str::to_string).collect();
    let tracks = raw
        .into_iter()
        .map(|(mut track, names)| {
            track.tags = names
                .iter()
                .map(|n| tags.binary_search(n).expect("tag interned above"))
                .collect();
            track
        })
        .collect();
    Ok(Dataset {
        tracks,
        tags,
        sources: files.into_iter().map(|(p, _)| p).collect(),
    })
}

fn parse_file(
    path: &Path,
    text: &str,
    split: Option<Split>,
    opts: &LoadOptions,
    out: &mut Vec<(Track, Vec<String>)>,
    mut check_id: impl FnMut(&str, usize) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    let cols: Vec<&str> = header.split('\t').collect();
    if cols.len() < HEADER.len() || cols[..HEADER.len()] != HEADER {
        return Err(DatasetError::Header {
            path: path.to_path_buf(),
            expected: HEADER.join("\\t"),
            found: header.chars().take(80).collect(),
        });
    }
    for (i, line) in lines {
        let line_no = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let field = |k: usize| -> Result<&str, DatasetError> {
            match fields.get(k).map(|s| s.trim()) {
                Some(s) if !s.is_empty() => Ok(s),
                _ => Err(DatasetError::MissingColumn {
                    path: path.to_path_buf(),
                    line: line_no,
                    column: HEADER[k],
                }),
            }
        };
        let id = field(0)?;
        let artist = field(1)?;
        let album = field(2)?;
        let audio = field(3)?;
        let dur_s = field(4)?;
        let duration: f64 = dur_s
            .parse()
            .ok()
            .filter(|d: &f64| d.is_finite() && *d >= 0.0)
            .ok_or_else(|| DatasetError::BadDuration {
                path: path.to_path_buf(),
                line: line_no,
                value: dur_s.to_string(),
            })?;
        check_id(id, line_no)?;
        let mut names: Vec<String> = Vec::new();
        for raw_tag in fields[5..]
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            let name = raw_tag
                .strip_prefix(opts.tag_prefix.as_str())
                .ok_or_else(|| DatasetError::BadTagPrefix {
                    path: path.to_path_buf(),
                    line: line_no,
                    tag: raw_tag.to_string(),
                    prefix: opts.tag_prefix.clone(),
                })?;
            if name.is_empty() {
                return Err(DatasetError::BadTagPrefix {
                    path: path.to_path_buf(),
                    line: line_no,
                    tag: raw_tag.to_string(),
                    prefix: opts.tag_prefix.clone(),
                });
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        if names.is_empty() {
            return Err(DatasetError::NoTags {
                path: path.to_path_buf(),
                line: line_no,
                id: id.to_string(),
            });
        }
        out.push((
            Track {
                id: id.to_string(),
                artist: artist.to_string(),
                album: album.to_string(),
                path: audio.to_string(),
                duration,
                tags: Vec::new(),
                split,
            },
            names,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n";

    fn load_str(body: &str) -> Result<Dataset, DatasetError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.tsv");
        std::fs::write(&p, format!("{HEAD}{body}")).unwrap();
        load(&p, &LoadOptions::default())
    }

    #[test]
    fn variable_tag_columns_are_read() {
        let d = load_str(
            "t1\ta1\tb1\t1/1.mp3\t10.5\tmood/theme---happy\n\
             t2\ta1\tb2\t2/2.mp3\t20\tmood/theme---sad\tmood/theme---dark\tmood/theme---happy\n",
        )
        .unwrap();
        assert_eq!(d.tags, vec!["dark", "happy", "sad"]);
        assert_eq!(d.tracks[1].tags.len(), 3);
        assert_eq!(d.tracks[0].split, None);
        assert_eq!(d.tracks[1].duration, 20.0);
    }

    #[test]
    fn missing_column_names_line() {
        let e = load_str("t1\ta1\tb1\n").unwrap_err().to_string();
        assert!(e.contains("m.tsv:2") && e.contains("PATH"), "{e}");
    }

    #[test]
    fn bad_duration_names_line_and_value() {
        let e = load_str("t1\ta1\tb1\tp\tlong\tmood/theme---happy\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.tsv:2") && e.contains("\"long\""), "{e}");
    }

    #[test]
    fn duplicate_track_names_both_lines() {
        let e = load_str(
            "t1\ta\tb\tp\t1\tmood/theme---happy\nt2\ta\tb\tp\t1\tmood/theme---sad\nt1\ta\tb\tp\t1\tmood/theme---sad\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("m.tsv:4") && e.contains("m.tsv:2") && e.contains("t1"),
            "{e}"
        );
    }

    #[test]
    fn empty_tag_list_is_rejected() {
        let e = load_str("t1\ta\tb\tp\t1\t\n").unwrap_err().to_string();
        assert!(e.contains("m.tsv:2") && e.contains("no tags"), "{e}");
    }

    #[test]
    fn tag_prefix_is_checked_and_configurable() {
        let e = load_str("t1\ta\tb\tp\t1\tgenre---rock\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m.tsv:2") && e.contains("genre---rock") && e.contains("--tag-prefix"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.tsv");
        std::fs::write(&p, format!("{HEAD}t1\ta\tb\tp\t1\tgenre---rock\n")).unwrap();
        let d = load(
            &p,
            &LoadOptions {
                tag_prefix: "genre---".into(),
            },
        )
        .unwrap();
        assert_eq!(d.tags, vec!["rock"]);
    }

    #[test]
    fn bad_header_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.tsv");
        std::fs::write(&p, "ID\tARTIST\n").unwrap();
        let e = load(&p, &LoadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("h.tsv:1") && e.contains("TRACK_ID"), "{e}");
    }

    #[test]
    fn directory_without_split_files_says_which_are_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("autotagging_moodtheme-train.tsv"), HEAD).unwrap();
        let e = load(dir.path(), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("validation") && e.contains("test.tsv"), "{e}");
    }

    #[test]
    fn missing_path_suggests_data_flag() {
        let e = load(Path::new("/nonexistent/x.tsv"), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/x.tsv") && e.contains("--data"),
            "{e}"
        );
    }
}
