//! How a map's names compare with a reviewed map's: the figures `scripts/name-quality.sh` prints
//! to tell whether a naming mode gives names a reviewer keeps.
//!
//! Two yes/no questions per label. Grounded: does a word of the name come from the label's member
//! tags (stems count, so "Dreamy" is grounded in `dream`)? Agrees: is a word of the name one of the
//! reviewed name's words (exact words, case and joiners such as "&" aside, so "Dream" does not
//! agree with "Sad & Dreamy")? Labels are matched by id.

use std::fmt::Write as _;

use super::words::{is_generic, same_word, words};
use crate::curation::labels::LabelMap;

#[derive(Debug, Clone, PartialEq)]
pub struct LabelQuality {
    pub id: u32,
    pub name: String,
    /// `llm`, `fallback`, ... with model, mode and agreement when known.
    pub named_by: String,
    /// The reviewed map's name for this id (empty when it has no such label).
    pub reviewed: String,
    pub grounded: bool,
    pub agrees: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    pub labels: Vec<LabelQuality>,
}

impl Quality {
    pub fn grounded(&self) -> usize {
        self.labels.iter().filter(|l| l.grounded).count()
    }

    pub fn agreeing(&self) -> usize {
        self.labels.iter().filter(|l| l.agrees).count()
    }

    /// A fixed-width table, one line per label, then the two figures.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:>5}  {:<24} {:<24} {:<8} {:<6} named by\n",
            "label", "name", "reviewed name", "grounded", "agrees"
        );
        let yes = |b: bool| if b { "yes" } else { "no" };
        for l in &self.labels {
            let _ = writeln!(
                s,
                "{:>5}  {:<24} {:<24} {:<8} {:<6} {}",
                l.id,
                l.name,
                l.reviewed,
                yes(l.grounded),
                yes(l.agrees),
                l.named_by
            );
        }
        let n = self.labels.len();
        let _ = writeln!(
            s,
            "grounded share {}/{n}, agreement with the reviewed names {}/{n}",
            self.grounded(),
            self.agreeing()
        );
        s
    }
}

/// Scores every label of `named` against `reviewed`.
pub fn score(named: &LabelMap, reviewed: &LabelMap) -> Quality {
    let labels = named
        .labels
        .iter()
        .map(|l| {
            let reviewed_name = reviewed
                .labels
                .iter()
                .find(|r| r.id == l.id)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            let name_words = words(&l.name);
            let member_words: Vec<String> = l.tags.iter().flat_map(|t| words(t)).collect();
            let grounded = name_words
                .iter()
                .filter(|w| !is_generic(w))
                .any(|w| member_words.iter().any(|m| same_word(w, m)));
            let reviewed_words = words(&reviewed_name);
            let agrees = name_words.iter().any(|w| reviewed_words.contains(w));
            LabelQuality {
                id: l.id,
                name: l.name.clone(),
                named_by: l.named_by.to_string(),
                reviewed: reviewed_name,
                grounded,
                agrees,
            }
        })
        .collect();
    Quality { labels }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(labels: &[(u32, &str, &[&str])]) -> LabelMap {
        let mut text = String::from("version = 1\n");
        for (id, name, tags) in labels {
            let tags: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
            text.push_str(&format!(
                "[[labels]]\nid = {id}\nname = {name:?}\ntags = [{}]\n",
                tags.join(", ")
            ));
        }
        LabelMap::from_toml(&text).unwrap()
    }

    #[test]
    fn grounded_uses_member_stems_and_agreement_needs_an_exact_word() {
        let reviewed = map(&[
            (0, "Sad & Dreamy", &["dream", "sad"]),
            (1, "Party & Games", &["party", "game"]),
            (2, "Slow & Heavy", &["slow", "heavy"]),
        ]);
        let named = map(&[
            (0, "Dream", &["dream", "sad"]),
            (1, "Party Songs", &["party", "game"]),
            (2, "Jonathan", &["slow", "heavy"]),
        ]);
        let q = score(&named, &reviewed);
        let flags: Vec<(bool, bool)> = q.labels.iter().map(|l| (l.grounded, l.agrees)).collect();
        assert_eq!(flags, [(true, false), (true, true), (false, false)]);
        assert_eq!((q.grounded(), q.agreeing()), (2, 1));
        let t = q.table();
        assert!(
            t.contains("grounded share 2/3, agreement with the reviewed names 1/3"),
            "{t}"
        );
        assert!(t.lines().nth(1).unwrap().contains("Sad & Dreamy"), "{t}");
    }

    #[test]
    fn a_label_the_reviewed_map_lacks_does_not_agree() {
        let reviewed = map(&[(0, "Sad", &["sad"])]);
        let named = map(&[(5, "Sad", &["sad"])]);
        let q = score(&named, &reviewed);
        assert_eq!(q.labels[0].reviewed, "");
        assert!(!q.labels[0].agrees && q.labels[0].grounded);
    }
}
