//! Names without a model: deterministic, from a label's own members, so the pipeline never waits
//! on (or stops for) an LLM and a rerun gives the same names.

use std::collections::HashSet;

use super::parse::{MAX_NAME_CHARS, validate_name};

/// A name from the two most frequent member tags ("Relaxing & Dream"), or one when two are too long.
///
/// `members` are (tag, tracks); ties in the count go to the alphabetically first tag.
pub fn fallback_name(id: u32, members: &[(String, usize)]) -> String {
    let mut sorted: Vec<&(String, usize)> = members.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let words: Vec<String> = sorted.iter().take(2).map(|(t, _)| title(t)).collect();
    let candidates = [
        words.join(" & "),
        words.first().cloned().unwrap_or_default(),
    ];
    candidates
        .iter()
        .filter(|c| c.chars().count() <= MAX_NAME_CHARS)
        .find_map(|c| validate_name(c).ok())
        .unwrap_or_else(|| format!("Group {id}"))
}

/// `name`, or `name (id)` when its lower-case form is already taken; records the result in `taken`.
pub fn make_unique(name: String, id: u32, taken: &mut HashSet<String>) -> String {
    let name = if taken.contains(&name.to_lowercase()) {
        format!("{name} ({id})")
    } else {
        name
    };
    taken.insert(name.to_lowercase());
    name
}

fn title(tag: &str) -> String {
    let mut chars = tag.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
        pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn two_most_frequent_members_in_order() {
        let members = m(&[("calm", 457), ("relaxing", 1350), ("dream", 951)]);
        assert_eq!(fallback_name(0, &members), "Relaxing & Dream");
        assert_eq!(fallback_name(0, &m(&[("dark", 10)])), "Dark");
        assert_eq!(
            fallback_name(0, &m(&[("b", 5), ("a", 5), ("c", 1)])),
            "A & B"
        );
    }

    #[test]
    fn empty_or_unusable_members_still_give_a_name() {
        assert_eq!(fallback_name(4, &[]), "Group 4");
        assert_eq!(fallback_name(2, &m(&[("{}", 3)])), "Group 2");
        let long = "averyveryverylongtagnamethatexceedsthelimit";
        assert_eq!(fallback_name(1, &m(&[(long, 9), ("sad", 1)])), "Group 1");
    }

    #[test]
    fn duplicates_get_the_label_id() {
        let mut taken = HashSet::new();
        assert_eq!(make_unique("Sad".into(), 0, &mut taken), "Sad");
        assert_eq!(make_unique("sad".into(), 3, &mut taken), "sad (3)");
    }
}
