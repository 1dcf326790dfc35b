//! The seam between the terminal UI and LLM naming: the UI asks a [`Namer`] for names and noise
//! suggestions on a background thread and applies the answer as one undoable edit.
//!
//! A trait object keeps the UI testable without a network (tests pass a fake) and lets the real
//! client of [`crate::llm`] plug in as one implementation.

use std::collections::HashSet;

use crate::curation::labels::{LabelMap, NamedBy, NoiseSuggestion};
use crate::dataset::Dataset;

/// What a naming request produced: `(label id, name, source)` triples, where each noise tag belongs,
/// and remarks that did not stop the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Naming {
    pub names: Vec<(u32, String, NamedBy)>,
    pub suggestions: Vec<NoiseSuggestion>,
    pub warnings: Vec<String>,
}

/// Names labels (all, or only the ids in `only`) and says where noise tags belong.
pub trait Namer: Send + Sync {
    fn name(
        &self,
        dataset: &Dataset,
        map: &LabelMap,
        only: Option<&[u32]>,
    ) -> Result<Naming, String>;

    /// The naming mode (`grounded` or `free`) for the status bar; `None` when there is none.
    fn mode(&self) -> Option<&'static str> {
        None
    }
}

/// Used when no LLM is configured: every request fails with a message saying what to set.
#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

impl Namer for Unavailable {
    fn name(&self, _: &Dataset, _: &LabelMap, _: Option<&[u32]>) -> Result<Naming, String> {
        Err(self.0.clone())
    }
}

/// Applies a naming result to `map`, which may have changed while the request ran: names go only
/// to labels that still exist and would not clash with another label's name; suggestions only for
/// tags that are still noise and labels that still exist. Returns what was skipped.
///
/// Unlike [`crate::llm::apply`] (made for a map nobody edits meanwhile) this skips a clashing
/// name instead of producing a map that fails validation, and keeps earlier suggestions for tags
/// the answer does not mention, because in the UI the user keeps editing while the model thinks.
pub fn apply(map: &mut LabelMap, naming: &Naming) -> Vec<String> {
    let mut skipped = Vec::new();
    for (id, name, source) in &naming.names {
        let name = name.trim();
        let Some(i) = map.labels.iter().position(|l| l.id == *id) else {
            skipped.push(format!("label {id} no longer exists"));
            continue;
        };
        let clash = map
            .labels
            .iter()
            .any(|l| l.id != *id && l.name.trim().eq_ignore_ascii_case(name));
        if name.is_empty() || clash {
            skipped.push(format!("name {name:?} for label {id} is empty or taken"));
            continue;
        }
        map.labels[i].name = name.to_string();
        map.labels[i].named_by = source.clone();
    }
    if !naming.suggestions.is_empty() {
        let ids: HashSet<u32> = map.labels.iter().map(|l| l.id).collect();
        let noise: HashSet<&str> = map.noise.iter().map(String::as_str).collect();
        let fresh: Vec<NoiseSuggestion> = naming
            .suggestions
            .iter()
            .filter(|s| noise.contains(s.tag.as_str()) && s.label.is_none_or(|l| ids.contains(&l)))
            .cloned()
            .collect();
        let answered: HashSet<&str> = fresh.iter().map(|s| s.tag.as_str()).collect();
        map.suggestions
            .retain(|s| !answered.contains(s.tag.as_str()));
        map.suggestions.extend(fresh);
    }
    skipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curation::labels::Label;

    fn map() -> LabelMap {
        let label = |id: u32, name: &str, tags: &[&str]| Label {
            id,
            name: name.into(),
            named_by: "manual".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        LabelMap {
            version: 1,
            settings: None,
            labels: vec![label(0, "Sad", &["sad"]), label(1, "Happy", &["happy"])],
            noise: vec!["fast".into(), "cool".into()],
            suggestions: vec![NoiseSuggestion {
                tag: "cool".into(),
                label: Some(1),
                reason: "earlier".into(),
            }],
        }
    }

    #[test]
    fn clashing_or_vanished_names_are_skipped_and_the_rest_applied() {
        let mut m = map();
        let naming = Naming {
            names: vec![
                (0, "happy".into(), "llm".into()),
                (1, "Joyful".into(), "llm".into()),
                (7, "Ghost".into(), "llm".into()),
            ],
            suggestions: vec![
                NoiseSuggestion {
                    tag: "fast".into(),
                    label: Some(0),
                    reason: "tempo".into(),
                },
                NoiseSuggestion {
                    tag: "sad".into(),
                    label: Some(1),
                    reason: "not noise any more".into(),
                },
            ],
            warnings: vec![],
        };
        let skipped = apply(&mut m, &naming);
        assert_eq!(m.labels[0].name, "Sad");
        assert_eq!(m.labels[1].name, "Joyful");
        assert_eq!(m.labels[1].named_by, "llm");
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        // The earlier suggestion for `cool` stays; `sad` is no longer noise and gets none.
        let tags: Vec<&str> = m.suggestions.iter().map(|s| s.tag.as_str()).collect();
        assert_eq!(tags, ["cool", "fast"]);
        m.validate().unwrap();
    }
}
