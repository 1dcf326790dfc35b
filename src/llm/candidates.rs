//! The names a grounded answer may choose from, built from a label's own member tags.
//!
//! A small model asked to invent a name invents junk ("Jm", "Song of the Day"); asked to choose
//! among names made of the label's tags it picks a usable one. Every candidate passes the same
//! validation as a model's free answer, so whatever the model chooses is a name musav accepts.

use std::collections::HashSet;

use super::parse::{MAX_NAME_CHARS, validate_name};
use crate::dataset::Dataset;

/// More choices than this dilute a small model's attention without adding names worth having.
pub const MAX_CANDIDATES: usize = 16;

/// Candidates for a label whose members are `members` (tag, tracks), most frequent first: each
/// member's display form, then the ordered pairs "A & B" (A the more frequent), pairs of the most
/// frequent members first; duplicates (ignoring case) and names in `taken` (lower case: other
/// labels' names) skipped; at most `cap`.
pub fn candidates(members: &[(String, usize)], taken: &HashSet<String>, cap: usize) -> Vec<String> {
    let mut distinct = HashSet::new();
    let shown: Vec<String> = members
        .iter()
        .filter_map(|(t, _)| validate_name(&display(t)).ok())
        .filter(|n| distinct.insert(n.to_lowercase()))
        .collect();
    let singles = shown.iter().cloned();
    // (0,1), (0,2), (1,2), (0,3), (1,3), (2,3), ...: a pair waits for its less frequent member.
    let pairs = (1..shown.len())
        .flat_map(|j| (0..j).map(move |i| (i, j)))
        .map(|(i, j)| format!("{} & {}", shown[i], shown[j]))
        .filter(|p| p.chars().count() <= MAX_NAME_CHARS)
        .filter_map(|p| validate_name(&p).ok());
    let mut seen: HashSet<String> = taken.clone();
    singles
        .chain(pairs)
        .filter(|c| seen.insert(c.to_lowercase()))
        .take(cap)
        .collect()
}

/// A label's members as (tag, tracks), most frequent first, ties by name: the order of the
/// candidates, the prompts and the fallback name.
pub fn ranked_members(tags: &[String], tracks_of: impl Fn(&str) -> usize) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = tags.iter().map(|t| (t.clone(), tracks_of(t))).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// The candidates a grounded run offers for a label with these member tags when no other label's
/// name is in the way (for tests and for people checking a run).
pub fn label_candidates(dataset: &Dataset, tags: &[String]) -> Vec<String> {
    let counts = dataset.tag_counts().0;
    let members = ranked_members(tags, |t| dataset.tag_id(t).map_or(0, |i| counts[i]));
    candidates(&members, &HashSet::new(), MAX_CANDIDATES)
}

/// How a tag reads in a name: words capitalised, `_` and `-` as spaces (`hip-hop` → `Hip Hop`).
pub fn display(tag: &str) -> String {
    tag.split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_uppercase().chain(cs).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(tags: &[&str]) -> Vec<(String, usize)> {
        tags.iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), 100 - i))
            .collect()
    }

    #[test]
    fn singles_in_member_order_then_pairs_of_the_most_frequent_first() {
        let c = candidates(&m(&["dark", "love", "romantic"]), &HashSet::new(), 99);
        assert_eq!(
            c,
            [
                "Dark",
                "Love",
                "Romantic",
                "Dark & Love",
                "Dark & Romantic",
                "Love & Romantic"
            ]
        );
    }

    #[test]
    fn the_cap_keeps_the_singles_and_the_first_pairs() {
        let tags = [
            "film",
            "epic",
            "adventure",
            "movie",
            "action",
            "dramatic",
            "trailer",
            "powerful",
        ];
        let c = candidates(&m(&tags), &HashSet::new(), MAX_CANDIDATES);
        assert_eq!(c.len(), MAX_CANDIDATES);
        assert_eq!(
            c[..8],
            [
                "Film",
                "Epic",
                "Adventure",
                "Movie",
                "Action",
                "Dramatic",
                "Trailer",
                "Powerful"
            ]
        );
        assert_eq!(
            c[8..11],
            ["Film & Epic", "Film & Adventure", "Epic & Adventure"]
        );
        assert_eq!(c[15], "Epic & Action");
        assert_eq!(
            candidates(&m(&tags), &HashSet::new(), 3),
            ["Film", "Epic", "Adventure"]
        );
    }

    #[test]
    fn display_forms_and_overlong_or_invalid_names_are_handled() {
        assert_eq!(display("hip-hop"), "Hip Hop");
        assert_eq!(display("easy_listening"), "Easy Listening");
        let long = "orchestralsoundtrackmusical";
        let c = candidates(&m(&[long, "sad", "{}", "noise"]), &HashSet::new(), 99);
        // `{}` has no letters and `noise` is reserved; the long pair exceeds the name limit.
        assert_eq!(c, ["Orchestralsoundtrackmusical", "Sad"]);
    }

    #[test]
    fn duplicates_and_names_other_labels_hold_are_skipped() {
        let taken: HashSet<String> = ["sad & calm".to_string()].into();
        let c = candidates(&m(&["sad", "Sad", "calm", "dark"]), &taken, 99);
        assert_eq!(c, ["Sad", "Calm", "Dark", "Sad & Dark", "Calm & Dark"]);
    }
}
