//! The label map: the reviewed, hand-editable result of curation, and the single input of export.
//!
//! TOML, because people edit it: labels with id, name and member tags, the noise tags, the settings
//! that produced the first draft, and (from the naming step) suggestions to accept or reject.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Curation, CurationParams};
use crate::dataset::{Dataset, TagId};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub id: u32,
    pub name: String,
    /// Who chose the name: `placeholder`, `llm`, `fallback` or `manual` (and, for a model, how).
    #[serde(default = "placeholder_source")]
    pub named_by: NamedBy,
    pub tags: Vec<String>,
}

fn placeholder_source() -> NamedBy {
    NamedBy::from("placeholder")
}

/// Who chose a label's name and, for a model's name, how it was chosen, so a reviewer can tell a
/// name three answers agreed on from a lucky one.
///
/// Written as a plain string (`named_by = "manual"`, the only form older maps have) when there is
/// nothing more to say, else as a table:
/// `named_by = { by = "llm", model = "SmolLM2-135M-Instruct", mode = "grounded", agreement = "3/3" }`.
/// Compares equal to a string by its `by` alone, which is what code that routes on the source needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamedBy {
    pub by: String,
    pub model: Option<String>,
    /// `grounded` or `free` (see [`crate::llm::settings::NamingMode`]).
    pub mode: Option<String>,
    /// Answers that chose this name out of the answers asked for, e.g. `2/3`.
    pub agreement: Option<String>,
}

impl NamedBy {
    pub fn as_str(&self) -> &str {
        &self.by
    }

    fn is_plain(&self) -> bool {
        self.model.is_none() && self.mode.is_none() && self.agreement.is_none()
    }
}

impl From<&str> for NamedBy {
    fn from(by: &str) -> NamedBy {
        NamedBy {
            by: by.to_string(),
            ..NamedBy::default()
        }
    }
}

impl From<String> for NamedBy {
    fn from(by: String) -> NamedBy {
        NamedBy {
            by,
            ..NamedBy::default()
        }
    }
}

impl PartialEq<str> for NamedBy {
    fn eq(&self, other: &str) -> bool {
        self.by == other
    }
}

impl PartialEq<&str> for NamedBy {
    fn eq(&self, other: &&str) -> bool {
        self.by == *other
    }
}

impl std::fmt::Display for NamedBy {
    /// `llm (SmolLM2-135M-Instruct, grounded, 3/3 agree)`, or just `manual`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.by)?;
        let details: Vec<String> = [
            self.model.clone(),
            self.mode.clone(),
            self.agreement.as_ref().map(|a| format!("{a} agree")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

/// The table form of [`NamedBy`] on disk.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedByTable {
    by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agreement: Option<String>,
}

impl Serialize for NamedBy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_plain() {
            s.serialize_str(&self.by)
        } else {
            NamedByTable {
                by: self.by.clone(),
                model: self.model.clone(),
                mode: self.mode.clone(),
                agreement: self.agreement.clone(),
            }
            .serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for NamedBy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NamedBy, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Plain(String),
            Table(NamedByTable),
        }
        match Form::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "named_by must be a string (\"manual\") or a table { by = \"llm\", model = ..., mode = ..., agreement = ... }",
            )
        })? {
            Form::Plain(by) => Ok(NamedBy::from(by)),
            Form::Table(t) => Ok(NamedBy {
                by: t.by,
                model: t.model,
                mode: t.mode,
                agreement: t.agreement,
            }),
        }
    }
}

/// Where the naming step thinks a noise tag belongs; applied only when the user accepts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseSuggestion {
    pub tag: String,
    /// Target label id, or `None` when the tag should stay noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<u32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMap {
    pub version: u32,
    /// Settings of the curation run that drafted this map (kept for provenance; edits may differ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<CurationParams>,
    pub labels: Vec<Label>,
    /// Tags that belong to no label; their single-tag tracks are dropped at export.
    #[serde(default)]
    pub noise: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<NoiseSuggestion>,
}

#[derive(Debug, thiserror::Error)]
pub enum LabelMapError {
    #[error(
        "{path}: cannot read the label map: {source}; pass --labels with an existing map, or run `musav cluster --out MAP` to make one"
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid label map: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "{path}: {problem}; fix the map by hand or make a new one with `musav cluster --out MAP`"
    )]
    Invalid { path: PathBuf, problem: String },
    #[error("{path}: cannot write the label map: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How a map covers a dataset's tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Tags named by the map that the dataset does not have.
    pub unknown: Vec<String>,
    /// Dataset tags the map does not mention; they are treated as noise.
    pub unmapped: Vec<String>,
}

/// What a dataset tag maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assign {
    /// Index into [`LabelMap::labels`].
    Label(usize),
    Noise,
    Unmapped,
}

impl LabelMap {
    /// A first draft from a curation run: placeholder names, clusters in order, noise apart.
    pub fn from_curation(c: &Curation) -> LabelMap {
        LabelMap {
            version: FORMAT_VERSION,
            settings: Some(c.params.clone()),
            labels: c
                .clusters
                .iter()
                .enumerate()
                .map(|(i, members)| Label {
                    id: i as u32,
                    name: format!("label {i}"),
                    named_by: placeholder_source(),
                    tags: members.iter().map(|&t| c.tags[t].clone()).collect(),
                })
                .collect(),
            noise: c.noise.iter().map(|&t| c.tags[t].clone()).collect(),
            suggestions: Vec::new(),
        }
    }

    pub fn load(path: &Path) -> Result<LabelMap, LabelMapError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabelMapError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let map = LabelMap::from_toml(&text).map_err(|message| LabelMapError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        map.validate().map_err(|problem| LabelMapError::Invalid {
            path: path.to_path_buf(),
            problem,
        })?;
        Ok(map)
    }

    pub fn from_toml(text: &str) -> Result<LabelMap, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("a label map always serialises");
        format!(
            "# musav label map: edit names, move tags between labels or to `noise`, then `musav export`.\n\
             # Every tag may appear at most once. Unlisted tags are treated as noise.\n\n{body}"
        )
    }

    /// Validates, then writes atomically: the previous map stays intact if anything fails.
    pub fn save(&self, path: &Path) -> Result<(), LabelMapError> {
        self.validate().map_err(|problem| LabelMapError::Invalid {
            path: path.to_path_buf(),
            problem,
        })?;
        crate::fsio::write_atomic(path, self.to_toml().as_bytes()).map_err(|source| {
            LabelMapError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Structural rules: known version, unique ids, non-empty unique names, each tag at most once.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != FORMAT_VERSION {
            return Err(format!(
                "version {} is not supported (this musav reads version {FORMAT_VERSION})",
                self.version
            ));
        }
        let mut ids = HashMap::new();
        let mut names = HashMap::new();
        for l in &self.labels {
            if ids.insert(l.id, ()).is_some() {
                return Err(format!("label id {} is used twice", l.id));
            }
            let name = l.name.trim();
            if name.is_empty() {
                return Err(format!("label {} has an empty name", l.id));
            }
            if let Some(other) = names.insert(name.to_lowercase(), l.id) {
                return Err(format!(
                    "labels {other} and {} share the name {name:?}",
                    l.id
                ));
            }
        }
        let mut seen: HashMap<&str, String> = HashMap::new();
        let places = self
            .labels
            .iter()
            .flat_map(|l| {
                l.tags
                    .iter()
                    .map(move |t| (t.as_str(), format!("label {} ({})", l.id, l.name)))
            })
            .chain(self.noise.iter().map(|t| (t.as_str(), "noise".to_string())));
        for (tag, place) in places {
            if tag.trim().is_empty() {
                return Err(format!("an empty tag name in {place}"));
            }
            if let Some(first) = seen.insert(tag, place.clone()) {
                return Err(format!(
                    "tag {tag:?} appears twice: in {first} and in {place}"
                ));
            }
        }
        for s in &self.suggestions {
            if let Some(id) = s.label
                && !ids.contains_key(&id)
            {
                return Err(format!(
                    "suggestion for tag {:?} names unknown label id {id}",
                    s.tag
                ));
            }
        }
        Ok(())
    }

    /// Which map tags the dataset lacks and which dataset tags the map lacks.
    pub fn coverage(&self, dataset: &Dataset) -> Coverage {
        let in_map: Vec<&str> = self.all_tags().collect();
        let mut unknown: Vec<String> = in_map
            .iter()
            .filter(|t| dataset.tag_id(t).is_none())
            .map(|t| t.to_string())
            .collect();
        unknown.sort();
        let unmapped = dataset
            .tags
            .iter()
            .filter(|t| !in_map.contains(&t.as_str()))
            .cloned()
            .collect();
        Coverage { unknown, unmapped }
    }

    fn all_tags(&self) -> impl Iterator<Item = &str> {
        self.labels
            .iter()
            .flat_map(|l| l.tags.iter())
            .chain(self.noise.iter())
            .map(String::as_str)
    }

    /// Per dataset tag, what it maps to.
    pub fn assignment(&self, dataset: &Dataset) -> Vec<Assign> {
        let mut by_tag: HashMap<&str, Assign> = HashMap::new();
        for (i, l) in self.labels.iter().enumerate() {
            for t in &l.tags {
                by_tag.insert(t, Assign::Label(i));
            }
        }
        for t in &self.noise {
            by_tag.insert(t, Assign::Noise);
        }
        dataset
            .tags
            .iter()
            .map(|t| by_tag.get(t.as_str()).copied().unwrap_or(Assign::Unmapped))
            .collect()
    }

    /// The label a tag belongs to, if any.
    pub fn label_of_tag(&self, tag: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.tags.iter().any(|t| t == tag))
    }

    /// SHA-256 of the canonical serialisation (names, members, noise; not comments or formatting),
    /// recorded in exports and runs so a result can be traced to the exact map.
    pub fn hash(&self) -> String {
        let canon = serde_json::to_string(&(&self.labels, &self.noise)).expect("serialisable");
        let digest = Sha256::digest(canon.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Label id → name, for reports.
    pub fn names(&self) -> BTreeMap<u32, String> {
        self.labels.iter().map(|l| (l.id, l.name.clone())).collect()
    }

    /// What changed from this map to `after`, one line per change, for a person comparing two runs:
    /// renamed labels (matched by id), labels that appeared or went away, and tags whose place
    /// (a label, or noise) differs.
    pub fn changes_to(&self, after: &LabelMap) -> Vec<String> {
        let (before_names, after_names) = (self.names(), after.names());
        let mut out = Vec::new();
        for (id, name) in &before_names {
            match after_names.get(id) {
                Some(n) if n != name => out.push(format!("label {name:?} renamed {n:?}")),
                Some(_) => {}
                None => out.push(format!("label {name:?} removed")),
            }
        }
        for (id, name) in &after_names {
            if !before_names.contains_key(id) {
                out.push(format!("label {name:?} added"));
            }
        }
        let place = |m: &LabelMap, tag: &str| -> Option<String> {
            if let Some(l) = m.label_of_tag(tag) {
                Some(l.name.clone())
            } else if m.noise.iter().any(|t| t == tag) {
                Some("noise".to_string())
            } else {
                None
            }
        };
        let mut tags: Vec<&String> = self
            .labels
            .iter()
            .chain(&after.labels)
            .flat_map(|l| &l.tags)
            .chain(&self.noise)
            .chain(&after.noise)
            .collect();
        tags.sort();
        tags.dedup();
        for tag in tags {
            // Compare places by label id, so a renamed label does not make all its tags "move".
            let id = |m: &LabelMap| m.label_of_tag(tag).map(|l| l.id);
            let (pa, pb) = (place(self, tag), place(after, tag));
            if id(self) == id(after) && pa.is_some() == pb.is_some() {
                continue;
            }
            let show = |p: Option<String>| p.unwrap_or_else(|| "not in the map".to_string());
            out.push(format!("tag {tag}: {} → {}", show(pa), show(pb)));
        }
        out
    }

    /// Tag ids of a label's members in `dataset` (unknown tags skipped).
    pub fn member_ids(&self, label: usize, dataset: &Dataset) -> Vec<TagId> {
        self.labels[label]
            .tags
            .iter()
            .filter_map(|t| dataset.tag_id(t))
            .collect()
    }
}

/// The reviewed map shipped in `data/`.
pub fn default_labels_path() -> PathBuf {
    crate::dataset::default_data_dir().join("labels.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_renames_moves_and_noise_but_not_the_members_of_a_renamed_label() {
        let before = LabelMap::from_toml(
            r#"version = 1
noise = ["summer"]
[[labels]]
id = 0
name = "Calm"
tags = ["calm", "relaxing"]
[[labels]]
id = 1
name = "Happy"
tags = ["happy", "fun"]
[[labels]]
id = 2
name = "Dark"
tags = ["dark"]
"#,
        )
        .unwrap();
        let mut after = before.clone();
        after.labels[0].name = "Relaxed".into();
        after.labels[1].tags.retain(|t| t != "fun");
        after.noise.push("fun".into());
        after.noise.retain(|t| t != "summer");
        after.labels[1].tags.push("summer".into());
        after.labels.remove(2);
        after.noise.push("dark".into());
        assert_eq!(
            before.changes_to(&after),
            vec![
                "label \"Calm\" renamed \"Relaxed\"".to_string(),
                "label \"Dark\" removed".into(),
                "tag dark: Dark → noise".into(),
                "tag fun: Happy → noise".into(),
                "tag summer: noise → Happy".into(),
            ]
        );
        assert!(before.changes_to(&before).is_empty());
    }

    fn map() -> LabelMap {
        LabelMap {
            version: 1,
            settings: Some(CurationParams::default()),
            labels: vec![
                Label {
                    id: 0,
                    name: "Sad".into(),
                    named_by: "manual".into(),
                    tags: vec!["sad".into(), "dark".into()],
                },
                Label {
                    id: 1,
                    name: "Happy".into(),
                    named_by: "llm".into(),
                    tags: vec!["happy".into()],
                },
            ],
            noise: vec!["background".into()],
            suggestions: vec![NoiseSuggestion {
                tag: "background".into(),
                label: Some(1),
                reason: "x".into(),
            }],
        }
    }

    #[test]
    fn toml_round_trip() {
        let m = map();
        let back = LabelMap::from_toml(&m.to_toml()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.hash(), m.hash());
    }

    #[test]
    fn named_by_reads_old_strings_and_keeps_how_a_model_chose() {
        let text = r#"version = 1
[[labels]]
id = 0
name = "Sad"
named_by = "manual"
tags = ["sad"]
[[labels]]
id = 1
name = "Party"
named_by = { by = "llm", model = "SmolLM2", mode = "grounded", agreement = "2/3" }
tags = ["party"]
[[labels]]
id = 2
name = "Dark"
tags = ["dark"]
"#;
        let m = LabelMap::from_toml(text).unwrap();
        assert_eq!(m.labels[0].named_by, "manual");
        assert_eq!(m.labels[2].named_by, "placeholder");
        let by = &m.labels[1].named_by;
        assert_eq!(by, "llm");
        assert_eq!(
            (
                by.model.as_deref(),
                by.mode.as_deref(),
                by.agreement.as_deref()
            ),
            (Some("SmolLM2"), Some("grounded"), Some("2/3"))
        );
        assert_eq!(by.to_string(), "llm (SmolLM2, grounded, 2/3 agree)");
        let back = LabelMap::from_toml(&m.to_toml()).unwrap();
        assert_eq!(back, m);
        // A plain source is still written as a plain string, so older maps hash as before.
        assert!(
            m.to_toml().contains("named_by = \"manual\""),
            "{}",
            m.to_toml()
        );
        assert_eq!(
            serde_json::to_string(&m.labels[0].named_by).unwrap(),
            "\"manual\""
        );
        let e = LabelMap::from_toml(&text.replace("named_by = \"manual\"", "named_by = 3"))
            .unwrap_err();
        assert!(e.contains("named_by must be a string"), "{e}");
    }

    #[test]
    fn duplicate_tag_is_rejected_with_both_places() {
        let mut m = map();
        m.noise.push("sad".into());
        let e = m.validate().unwrap_err();
        assert!(
            e.contains("\"sad\"") && e.contains("label 0") && e.contains("noise"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_id_and_name_and_empty_name_are_rejected() {
        let mut m = map();
        m.labels[1].id = 0;
        assert!(m.validate().unwrap_err().contains("id 0"));
        let mut m = map();
        m.labels[1].name = "sad".into();
        assert!(m.validate().unwrap_err().contains("share the name"));
        let mut m = map();
        m.labels[1].name = "  ".into();
        assert!(m.validate().unwrap_err().contains("empty name"));
    }

    #[test]
    fn suggestion_to_unknown_label_is_rejected() {
        let mut m = map();
        m.suggestions[0].label = Some(9);
        assert!(m.validate().unwrap_err().contains("unknown label id 9"));
    }

    #[test]
    fn hash_changes_with_membership() {
        let a = map();
        let mut b = map();
        b.labels[0].tags.pop();
        b.noise.push("dark".into());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn save_refuses_invalid_map_and_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.toml");
        map().save(&p).unwrap();
        let before = std::fs::read(&p).unwrap();
        let mut bad = map();
        bad.noise.push("happy".into());
        assert!(bad.save(&p).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), before);
        assert_eq!(LabelMap::load(&p).unwrap(), map());
    }

    #[test]
    fn load_reports_file_for_parse_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("broken.toml");
        std::fs::write(&p, "version = 1\nlabels = [ { id = 0 ").unwrap();
        let e = LabelMap::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("broken.toml") && e.contains("not a valid label map"),
            "{e}"
        );
    }
}
