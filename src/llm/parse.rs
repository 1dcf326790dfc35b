//! Pure handling of what a model says: find the JSON in it, check the name or decision it holds.
//!
//! Small models wrap JSON in code fences or prose and sometimes answer nonsense even under a JSON
//! schema, so every answer is checked here and a rejected answer falls back to a deterministic name.

use serde_json::Value;

/// Longest accepted name, in characters (labels appear in plots, tables and the terminal UI).
pub const MAX_NAME_CHARS: usize = 32;
pub const MAX_NAME_WORDS: usize = 4;
/// JSON-schema pattern sent with naming requests; [`validate_name`] accepts everything it matches.
pub const NAME_PATTERN: &str = "^[A-Za-z][A-Za-z &-]{1,28}$";

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
    #[error("the group {0:?} is neither a group name nor \"noise\"")]
    UnknownGroup(String),
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

/// A noise-tag decision: the index into `groups` the model chose, or `None` for "stays noise".
/// Also returns the model's short reason (possibly empty).
pub fn parse_decision(
    text: &str,
    groups: &[String],
) -> Result<(Option<usize>, String), AnswerError> {
    let obj = extract_object(text).ok_or(AnswerError::NoJson)?;
    let reason = match obj.get("reason") {
        Some(Value::String(s)) => s.split_whitespace().collect::<Vec<_>>().join(" "),
        _ => String::new(),
    };
    let group = match obj.get("group") {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Null) => return Ok((None, reason)),
        _ => return Err(AnswerError::MissingField("group")),
    };
    let key = group.to_lowercase();
    if matches!(key.as_str(), "noise" | "none" | "") {
        return Ok((None, reason));
    }
    match groups.iter().position(|g| g.to_lowercase() == key) {
        Some(i) => Ok((Some(i), reason)),
        None => Err(AnswerError::UnknownGroup(group)),
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
    fn decisions_map_to_groups_or_noise() {
        let groups = vec!["Sad".to_string(), "Happy".to_string()];
        assert_eq!(
            parse_decision(r#"{"group": "happy", "reason": "upbeat  mood"}"#, &groups).unwrap(),
            (Some(1), "upbeat mood".to_string())
        );
        assert_eq!(
            parse_decision(r#"{"group": "noise"}"#, &groups).unwrap(),
            (None, String::new())
        );
        assert_eq!(
            parse_decision(r#"{"group": null, "reason": "x"}"#, &groups)
                .unwrap()
                .0,
            None
        );
        assert_eq!(
            parse_decision(r#"{"group": "Jazz"}"#, &groups),
            Err(AnswerError::UnknownGroup("Jazz".into()))
        );
        assert_eq!(parse_decision("no", &groups), Err(AnswerError::NoJson));
    }
}
