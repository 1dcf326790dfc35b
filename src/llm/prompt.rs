//! Prompt templates: plain text files in `prompts/` that people edit without recompiling.
//!
//! Templating is deliberately tiny: `{name}` is replaced by a value, any other brace (such as the
//! JSON example in a prompt) is kept. A template that lacks a placeholder musav fills, or uses one
//! it does not know, is rejected with the file name, because a silently ignored edit is worse.

use std::path::{Path, PathBuf};

use super::LlmError;
use super::settings::NamingMode;

pub const GROUNDED_TEMPLATE: &str = "name_grounded.txt";
pub const FREE_TEMPLATE: &str = "name_free.txt";
pub const NOISE_TEMPLATE: &str = "place_noise.txt";

/// Placeholders each template must contain.
const GROUNDED_KEYS: &[&str] = &["members", "cooccurring", "candidates"];
const FREE_KEYS: &[&str] = &["members", "cooccurring"];
const NOISE_KEYS: &[&str] = &["tag", "tracks", "cooccurring", "groups"];

/// The templates one naming run uses, checked.
#[derive(Debug, Clone)]
pub struct Prompts {
    /// The naming template of the run's mode.
    pub name: Template,
    pub noise: Template,
}

impl Prompts {
    /// Loads the naming template of `mode` (a directory need not hold the other mode's) and the
    /// noise template.
    pub fn load(dir: &Path, mode: NamingMode) -> Result<Prompts, LlmError> {
        let (file, keys) = match mode {
            NamingMode::Grounded => (GROUNDED_TEMPLATE, GROUNDED_KEYS),
            NamingMode::Free => (FREE_TEMPLATE, FREE_KEYS),
        };
        Ok(Prompts {
            name: Template::load(&dir.join(file), keys)?,
            noise: Template::load(&dir.join(NOISE_TEMPLATE), NOISE_KEYS)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Template {
    pub path: PathBuf,
    text: String,
}

impl Template {
    /// Reads and checks a template against the placeholders its caller will fill.
    pub fn load(path: &Path, keys: &[&str]) -> Result<Template, LlmError> {
        let text = std::fs::read_to_string(path).map_err(|e| LlmError::Prompt {
            path: path.to_path_buf(),
            problem: format!(
                "cannot read the prompt template: {e}; restore it from the repository or point --prompts at a directory holding {GROUNDED_TEMPLATE} (or {FREE_TEMPLATE} for --llm-naming free) and {NOISE_TEMPLATE}"
            ),
        })?;
        Template::parse(path, text, keys)
    }

    pub fn parse(path: &Path, text: String, keys: &[&str]) -> Result<Template, LlmError> {
        let problem = |problem: String| LlmError::Prompt {
            path: path.to_path_buf(),
            problem,
        };
        let used = placeholders(&text);
        if let Some(unknown) = used.iter().find(|u| !keys.contains(&u.as_str())) {
            return Err(problem(format!(
                "unknown placeholder {{{unknown}}}; this template may use {}",
                keys.iter()
                    .map(|k| format!("{{{k}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if let Some(missing) = keys.iter().find(|k| !used.iter().any(|u| u == *k)) {
            return Err(problem(format!(
                "placeholder {{{missing}}} is missing; the model would not see that information"
            )));
        }
        Ok(Template {
            path: path.to_path_buf(),
            text,
        })
    }

    /// Fills every `{key}`; values are inserted verbatim (never re-scanned).
    pub fn render(&self, values: &[(&str, &str)]) -> String {
        let mut out = String::with_capacity(self.text.len() + 256);
        let mut rest = self.text.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match placeholder_at(after).and_then(|k| values.iter().find(|(n, _)| *n == k)) {
                Some((k, v)) => {
                    out.push_str(v);
                    rest = &after[k.len() + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The identifier of a `{identifier}` starting right after an opening brace.
fn placeholder_at(s: &str) -> Option<&str> {
    let end = s.find('}')?;
    let key = &s[..end];
    let ok = !key.is_empty()
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    ok.then_some(key)
}

fn placeholders(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(k) = placeholder_at(rest) {
            keys.push(k.to_string());
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders_and_keeps_json_braces() {
        let t = Template::parse(
            Path::new("t.txt"),
            "Tags: {members}\nAnswer like {\"name\": \"Calm\"} {members}".into(),
            &["members"],
        )
        .unwrap();
        assert_eq!(
            t.render(&[("members", "sad {x}")]),
            "Tags: sad {x}\nAnswer like {\"name\": \"Calm\"} sad {x}"
        );
    }

    #[test]
    fn unknown_and_missing_placeholders_name_the_file() {
        let e = Template::parse(Path::new("p/name.txt"), "{membres}".into(), &["members"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("p/name.txt") && e.contains("{membres}"), "{e}");
        let e = Template::parse(Path::new("p/name.txt"), "no keys".into(), &["members"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("{members} is missing"), "{e}");
    }

    #[test]
    fn shipped_prompts_load_for_both_modes() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let p = Prompts::load(&dir, NamingMode::Grounded).unwrap();
        let text = p.noise.render(&[
            ("tag", "sport"),
            ("tracks", "297"),
            ("cooccurring", "energetic"),
            ("groups", "- group 7 (Happy): happy, fun"),
        ]);
        assert!(text.contains("\"sport\" is on 297 songs") && text.contains("group 7 (Happy)"));
        assert!(!text.contains("{tag}"));
        let text = p.name.render(&[
            ("members", "sad (9 songs)"),
            ("cooccurring", "dark"),
            ("candidates", "Sad, Dark"),
        ]);
        assert!(
            text.contains("Sad, Dark") && text.contains("sad (9 songs)"),
            "{text}"
        );
        let free = Prompts::load(&dir, NamingMode::Free).unwrap();
        assert!(free.name.path.ends_with(FREE_TEMPLATE));
    }

    #[test]
    fn a_directory_without_the_modes_template_names_the_file_and_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(NOISE_TEMPLATE),
            "{tag}{tracks}{cooccurring}{groups}",
        )
        .unwrap();
        std::fs::write(dir.path().join(FREE_TEMPLATE), "{members}{cooccurring}").unwrap();
        assert!(Prompts::load(dir.path(), NamingMode::Free).is_ok());
        let e = Prompts::load(dir.path(), NamingMode::Grounded)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(GROUNDED_TEMPLATE) && e.contains("--prompts"),
            "{e}"
        );
    }
}
