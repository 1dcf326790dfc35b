//! Pure handling of what a model says: find the JSON in it, check the name or decision it holds.
//!
//! Small models wrap JSON in code fences or prose and sometimes answer nonsense even under a JSON
//! schema, so every answer is checked here and a rejected answer falls back to a deterministic name.

use serde_json::Value;

use super::words::{Vocabulary, is_generic, words};

/// Longest accepted name, in characters (labels appear in plots, tables and the terminal UI).
pub const MAX_NAME_CHARS: usize = 32;
pub const MAX_NAME_WORDS: usize = 4;
/// JSON-schema pattern sent with naming requests; [`validate_name`] accepts everything it matches.
pub const NAME_PATTERN: &str = "^[A-Za-z][A-Za-z &-]{1,28}$";
/// A free-mode name needs this many letters ("Jm" is not a name anyone keeps).
pub const MIN_NAME_LETTERS: usize = 3;

/// Why an answer was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer holds no JSON object")]
    NoJson,
    #[error("the JSON answer has no string field {0:?}")]
    MissingField(&'static str),
    #[error("the name is empty")]
    Empty,
    #[error(
        "the name {0:?} is too long (at most {MAX_NAME_CHARS} characters, {MAX_NAME_WORDS} words)"
    )]
    TooLong(String),
    #[error("the name {0:?} has characters other than letters, digits, spaces and & - ' /")]
    BadChars(String),
    #[error("the name {0:?} is reserved")]
    Reserved(String),
    #[error("the group {0:?} is neither a group number nor \"noise\"")]
    UnknownGroup(String),
    #[error("the name {0:?} is too short (at least {MIN_NAME_LETTERS} letters)")]
    TooShort(String),
    #[error("the name {0:?} has only words that fit any label (music, song, mood, theme, ...)")]
    Generic(String),
    #[error(
        "the name {0:?} shares no word (or stem) with the label's tags, the tags they co-occur with or the tag table"
    )]
    Ungrounded(String),
    #[error("the name {0:?} is not one of the label's candidates")]
    NotACandidate(String),
}

/// The first JSON object in `text`: the whole text, inside a code fence, or amid prose.
pub fn extract_object(text: &str) -> Option<serde_json::Map<String, Value>> {
    text.char_indices()
        .filter(|&(_, c)| c == '{')
        .find_map(|(i, _)| {
            let mut it = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
            match it.next() {
                Some(Ok(Value::Object(m))) => Some(m),
                _ => None,
            }
        })
}

fn string_field(text: &str, field: &'static str) -> Result<String, AnswerError> {
    let obj = extract_object(text).ok_or(AnswerError::NoJson)?;
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(AnswerError::MissingField(field)),
    }
}

/// The checked label name in a naming answer.
pub fn parse_name(text: &str) -> Result<String, AnswerError> {
    validate_name(&string_field(text, "name")?)
}

/// Tidies a proposed name (whitespace, quotes, trailing dot, first letter upper case) and checks it.
pub fn validate_name(raw: &str) -> Result<String, AnswerError> {
    let words: Vec<&str> = raw
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '`' || c == '.')
        .split_whitespace()
        .collect();
    let name = words.join(" ");
    if name.is_empty() {
        return Err(AnswerError::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS || words.len() > MAX_NAME_WORDS {
        return Err(AnswerError::TooLong(name));
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '&' | '-' | '\'' | '/');
    if !name.chars().all(allowed) || !name.starts_with(char::is_alphanumeric) {
        return Err(AnswerError::BadChars(name));
    }
    let lower = name.to_lowercase();
    // "noise" would read as the noise bucket; the others are prompt words small models echo back.
    const RESERVED: &[&str] = &[
        "noise", "none", "name", "json", "label", "group", "tag", "tags",
    ];
    if RESERVED.contains(&lower.as_str()) || lower.starts_with("label ") {
        return Err(AnswerError::Reserved(name));
    }
    let mut chars = name.chars();
    Ok(match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name,
    })
}

/// A grounded answer: the candidate the model chose, in the candidate's own spelling. An endpoint
/// that ignored the schema's `enum` may answer anything, hence the check.
pub fn parse_choice(text: &str, candidates: &[String]) -> Result<String, AnswerError> {
    let name = validate_name(&string_field(text, "name")?)?;
    candidates
        .iter()
        .find(|c| c.eq_ignore_ascii_case(&name))
        .cloned()
        .ok_or(AnswerError::NotACandidate(name))
}

/// The stricter check of a free-mode name (already through [`validate_name`]): enough letters, a
/// word that is not filler, and a word grounded in `vocabulary`.
pub fn check_free(name: &str, vocabulary: &Vocabulary) -> Result<(), AnswerError> {
    if name.chars().filter(|c| c.is_alphabetic()).count() < MIN_NAME_LETTERS {
        return Err(AnswerError::TooShort(name.to_string()));
    }
    let ws = words(name);
    let content: Vec<&String> = ws.iter().filter(|w| !is_generic(w)).collect();
    if content.is_empty() {
        return Err(AnswerError::Generic(name.to_string()));
    }
    if content.iter().any(|w| vocabulary.find(w).is_some()) {
        Ok(())
    } else {
        Err(AnswerError::Ungrounded(name.to_string()))
    }
}

/// A noise-tag decision: the label id the model chose (from `ids`), or `None` for "stays noise".
/// Also returns the model's short reason (possibly empty). The schema asks for an id as a string;
/// a number, or a group's name (`names`, in the order of `ids`) from an endpoint without schema
/// support, is accepted too.
pub fn parse_decision(
    text: &str,
    ids: &[u32],
    names: &[String],
) -> Result<(Option<u32>, String), AnswerError> {
    let obj = extract_object(text).ok_or(AnswerError::NoJson)?;
    let reason = match obj.get("reason") {
        Some(Value::String(s)) => s.split_whitespace().collect::<Vec<_>>().join(" "),
        _ => String::new(),
    };
    let group = match obj.get("group") {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Null) => return Ok((None, reason)),
        _ => return Err(AnswerError::MissingField("group")),
    };
    let key = group.to_lowercase();
    if matches!(key.as_str(), "noise" | "none" | "") {
        return Ok((None, reason));
    }
    let bare = key.strip_prefix("group").map_or(key.as_str(), str::trim);
    if let Ok(id) = bare.parse::<u32>()
        && ids.contains(&id)
    {
        return Ok((Some(id), reason));
    }
    match names.iter().position(|g| g.to_lowercase() == key) {
        Some(i) if i < ids.len() => Ok((Some(ids[i]), reason)),
        _ => Err(AnswerError::UnknownGroup(group)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_from_plain_fenced_and_prose_answers() {
        assert_eq!(parse_name(r#"{"name": "Sad"}"#).unwrap(), "Sad");
        assert_eq!(
            parse_name("```json\n{\"name\": \"calm  waters\"}\n```").unwrap(),
            "Calm waters"
        );
        assert_eq!(
            parse_name("Sure! Here it is: {\"name\": \"Epic Film\"} Hope that helps {ok}.")
                .unwrap(),
            "Epic Film"
        );
    }

    #[test]
    fn no_json_or_missing_field_is_rejected() {
        assert_eq!(parse_name("The name is Sad."), Err(AnswerError::NoJson));
        assert_eq!(parse_name("{\"name\": "), Err(AnswerError::NoJson));
        assert_eq!(
            parse_name(r#"{"title": "Sad"}"#),
            Err(AnswerError::MissingField("name"))
        );
        assert_eq!(
            parse_name(r#"{"name": 3}"#),
            Err(AnswerError::MissingField("name"))
        );
    }

    #[test]
    fn empty_overlong_odd_and_reserved_names_are_rejected() {
        assert_eq!(validate_name("  \"\" "), Err(AnswerError::Empty));
        assert!(matches!(
            validate_name("a name that goes on and on and on forever"),
            Err(AnswerError::TooLong(_))
        ));
        assert!(matches!(
            validate_name("one two three four five"),
            Err(AnswerError::TooLong(_))
        ));
        assert_eq!(validate_name("Sad\nHappy").unwrap(), "Sad Happy");
        assert!(matches!(
            validate_name("Sad: happy"),
            Err(AnswerError::BadChars(_))
        ));
        assert!(matches!(
            validate_name("{x}"),
            Err(AnswerError::BadChars(_))
        ));
        assert!(matches!(
            validate_name("Noise"),
            Err(AnswerError::Reserved(_))
        ));
        assert!(matches!(
            validate_name("label 3"),
            Err(AnswerError::Reserved(_))
        ));
        assert_eq!(validate_name("rock & roll").unwrap(), "Rock & roll");
    }

    #[test]
    fn decisions_map_to_label_ids_or_noise() {
        let ids = [4, 7];
        let names = vec!["Sad".to_string(), "Happy".to_string()];
        let d = |t: &str| parse_decision(t, &ids, &names);
        assert_eq!(
            d(r#"{"group": "7", "reason": "upbeat  mood"}"#).unwrap(),
            (Some(7), "upbeat mood".to_string())
        );
        assert_eq!(d(r#"{"group": 4}"#).unwrap().0, Some(4));
        assert_eq!(d(r#"{"group": "group 4"}"#).unwrap().0, Some(4));
        assert_eq!(d(r#"{"group": "happy"}"#).unwrap().0, Some(7));
        assert_eq!(d(r#"{"group": "noise"}"#).unwrap(), (None, String::new()));
        assert_eq!(d(r#"{"group": null, "reason": "x"}"#).unwrap().0, None);
        assert_eq!(
            d(r#"{"group": "Jazz"}"#),
            Err(AnswerError::UnknownGroup("Jazz".into()))
        );
        assert_eq!(
            d(r#"{"group": "3"}"#),
            Err(AnswerError::UnknownGroup("3".into()))
        );
        assert_eq!(d("no"), Err(AnswerError::NoJson));
    }

    #[test]
    fn a_choice_must_be_a_candidate_and_comes_back_in_its_spelling() {
        let c = vec!["Movie & Adventure".to_string(), "Epic".to_string()];
        assert_eq!(
            parse_choice(r#"{"name": "movie & adventure"}"#, &c).unwrap(),
            "Movie & Adventure"
        );
        assert_eq!(
            parse_choice(r#"{"name": "Cinematic"}"#, &c),
            Err(AnswerError::NotACandidate("Cinematic".into()))
        );
        assert_eq!(parse_choice(r#"{"name": ""}"#, &c), Err(AnswerError::Empty));
    }

    #[test]
    fn free_names_are_rejected_for_each_reason() {
        let v = Vocabulary::new(["melancholic", "dark", "love", "soft"]);
        assert_eq!(
            check_free("Jm", &v),
            Err(AnswerError::TooShort("Jm".into()))
        );
        assert_eq!(
            check_free("Moods and Themes", &v),
            Err(AnswerError::Generic("Moods and Themes".into()))
        );
        assert_eq!(
            check_free("Song of the Day", &v),
            Err(AnswerError::Generic("Song of the Day".into()))
        );
        assert_eq!(
            check_free("Jonathan", &v),
            Err(AnswerError::Ungrounded("Jonathan".into()))
        );
        // A filler word beside a grounded one is fine; stems count.
        assert_eq!(check_free("Melancholy Songs", &v), Ok(()));
        assert_eq!(check_free("Softly", &v), Ok(()));
        assert_eq!(check_free("Lovely Darkness", &v), Ok(()));
        for e in [
            AnswerError::TooShort("Jm".into()),
            AnswerError::Generic("Songs".into()),
            AnswerError::Ungrounded("Jonathan".into()),
        ] {
            assert!(e.to_string().contains("the name \""), "{e}");
        }
    }
}
