//! Where the LLM lives and how patiently musav talks to it.
//!
//! Each setting comes from the first source that has it: flags, then the environment
//! (`MUSAV_LLM_URL`, `MUSAV_LLM_MODEL`, `MUSAV_LLM_API_KEY`, ...), then a TOML config file, then a
//! default. The API key is wrapped in [`Secret`] so that no `Debug` print or log line ever shows it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::LlmError;

/// A value that must never be printed (the API key).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The raw value, only for the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Settings as given on the command line (or by the terminal UI); `None` means "not given here".
#[derive(Debug, Clone, Default)]
pub struct LlmFlags {
    pub url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<Secret>,
    /// TOML config file; else `MUSAV_LLM_CONFIG`, else `~/.config/musav/llm.toml` when it exists.
    pub config: Option<PathBuf>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub concurrency: Option<usize>,
    /// First retry delay; doubled per retry.
    pub backoff: Option<Duration>,
    pub cache_dir: Option<PathBuf>,
    pub prompts_dir: Option<PathBuf>,
    pub offline: bool,
    pub refresh: bool,
    /// `grounded` or `free`; else `MUSAV_LLM_NAMING`, the config's `naming`, `grounded`.
    pub naming: Option<String>,
    /// Answers per question; else `MUSAV_LLM_SAMPLES`, the config's `samples`, 3.
    pub samples: Option<usize>,
}

/// How a label's name is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamingMode {
    /// The model chooses among names built from the label's own member tags (a JSON-schema `enum`):
    /// a small model cannot invent junk, and every name is one a reviewer can trace to the tags.
    #[default]
    Grounded,
    /// The model writes a name; it must share a word with the label's tags, the tags they co-occur
    /// with or the tag table. For large models whose own words are worth having.
    Free,
}

impl NamingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NamingMode::Grounded => "grounded",
            NamingMode::Free => "free",
        }
    }

    pub fn parse(s: &str) -> Option<NamingMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "grounded" => Some(NamingMode::Grounded),
            "free" => Some(NamingMode::Free),
            _ => None,
        }
    }
}

impl fmt::Display for NamingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Resolved settings: what the client and the naming use-case run with.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// Base URL of the OpenAI-compatible API (`http://127.0.0.1:8080/v1`); `None`: not configured.
    pub url: Option<String>,
    pub model: String,
    pub api_key: Option<Secret>,
    /// Per request, connection included.
    pub timeout: Duration,
    /// Extra attempts after a 429, 5xx, timeout or connection error.
    pub retries: u32,
    pub backoff: Duration,
    /// Longest wait musav accepts from a `Retry-After` header or the backoff.
    pub max_wait: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub cache_dir: PathBuf,
    pub prompts_dir: PathBuf,
    /// Never contact the endpoint: cached answers, else deterministic names.
    pub offline: bool,
    /// Ignore cached answers (fresh answers are still cached).
    pub refresh: bool,
    pub naming: NamingMode,
    /// Answers asked for per question (1: one deterministic answer); the name most of them agree
    /// on is kept.
    pub samples: usize,
}

/// The config file's fields; all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    url: Option<String>,
    model: Option<String>,
    api_key: Option<String>,
    timeout_secs: Option<f64>,
    retries: Option<u32>,
    concurrency: Option<usize>,
    backoff_ms: Option<u64>,
    cache_dir: Option<PathBuf>,
    prompts_dir: Option<PathBuf>,
    naming: Option<String>,
    samples: Option<usize>,
}

pub const DEFAULT_MODEL: &str = "default";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
const DEFAULT_CONCURRENCY: usize = 2;
pub const DEFAULT_SAMPLES: usize = 3;
/// More answers than this cost time without changing the majority.
pub const MAX_SAMPLES: usize = 9;

impl LlmSettings {
    /// Resolves flags → environment (read through `env`, so tests and the UI can supply their own)
    /// → config file → defaults.
    pub fn resolve(
        flags: &LlmFlags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LlmSettings, LlmError> {
        let env_nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let config_path = flags
            .config
            .clone()
            .or_else(|| env_nonempty("MUSAV_LLM_CONFIG").map(PathBuf::from));
        let file = match &config_path {
            Some(p) => read_config(p)?,
            None => match default_config_path(env).filter(|p| p.exists()) {
                Some(p) => read_config(&p)?,
                None => FileConfig::default(),
            },
        };
        let setting = |name: &str, value: &str| {
            let source = match &config_path {
                Some(p) => format!("{} or {name}", p.display()),
                None => name.to_string(),
            };
            LlmError::Setting {
                setting: source,
                problem: format!("{value:?} is not valid"),
            }
        };
        let env_parse = |k: &str| -> Result<Option<f64>, LlmError> {
            env_nonempty(k)
                .map(|v| v.trim().parse::<f64>().map_err(|_| setting(k, &v)))
                .transpose()
        };

        let url = flags
            .url
            .clone()
            .or_else(|| env_nonempty("MUSAV_LLM_URL"))
            .or(file.url)
            .map(|u| u.trim().trim_end_matches('/').to_string());
        if let Some(u) = &url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(LlmError::Setting {
                setting: "--llm-url / MUSAV_LLM_URL".into(),
                problem: format!(
                    "{u:?} is not an http(s) URL; give the API base, e.g. http://127.0.0.1:8080/v1"
                ),
            });
        }
        let model = flags
            .model
            .clone()
            .or_else(|| env_nonempty("MUSAV_LLM_MODEL"))
            .or(file.model)
            .unwrap_or_else(|| DEFAULT_MODEL.to_string());
        let api_key = flags
            .api_key
            .clone()
            .or_else(|| env_nonempty("MUSAV_LLM_API_KEY").map(Secret::new))
            .or(file.api_key.map(Secret::new));
        let timeout = match flags.timeout {
            Some(t) => t,
            None => match env_parse("MUSAV_LLM_TIMEOUT_SECS")?.or(file.timeout_secs) {
                Some(s) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
                Some(s) => return Err(setting("MUSAV_LLM_TIMEOUT_SECS", &s.to_string())),
                None => DEFAULT_TIMEOUT,
            },
        };
        let retries = match flags.retries {
            Some(r) => r,
            None => match env_parse("MUSAV_LLM_RETRIES")? {
                Some(r) if r >= 0.0 && r.fract() == 0.0 => r as u32,
                Some(r) => return Err(setting("MUSAV_LLM_RETRIES", &r.to_string())),
                None => file.retries.unwrap_or(DEFAULT_RETRIES),
            },
        };
        let concurrency = flags
            .concurrency
            .or(file.concurrency)
            .unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            return Err(LlmError::Setting {
                setting: "--llm-concurrency".into(),
                problem: "0 requests at a time cannot make progress; use 1 or more".into(),
            });
        }
        let backoff = flags
            .backoff
            .or(file.backoff_ms.map(Duration::from_millis))
            .unwrap_or(DEFAULT_BACKOFF);
        let cache_dir = flags
            .cache_dir
            .clone()
            .or_else(|| env_nonempty("MUSAV_LLM_CACHE").map(PathBuf::from))
            .or(file.cache_dir)
            .unwrap_or_else(|| musav_cache_dir(env).join("llm"));
        let prompts_dir = flags
            .prompts_dir
            .clone()
            .or_else(|| env_nonempty("MUSAV_PROMPTS_DIR").map(PathBuf::from))
            .or(file.prompts_dir)
            .unwrap_or_else(default_prompts_dir);
        let naming_source = if flags.naming.is_some() {
            "--llm-naming"
        } else if env_nonempty("MUSAV_LLM_NAMING").is_some() {
            "MUSAV_LLM_NAMING"
        } else {
            "the LLM config's naming"
        };
        let naming = match flags
            .naming
            .clone()
            .or_else(|| env_nonempty("MUSAV_LLM_NAMING"))
            .or(file.naming)
        {
            None => NamingMode::default(),
            Some(v) => NamingMode::parse(&v).ok_or_else(|| LlmError::Setting {
                setting: naming_source.into(),
                problem: format!("{v:?} is not a naming mode; use grounded or free"),
            })?,
        };
        let samples = match flags.samples {
            Some(n) => n as f64,
            None => match env_parse("MUSAV_LLM_SAMPLES")? {
                Some(n) => n,
                None => file.samples.unwrap_or(DEFAULT_SAMPLES) as f64,
            },
        };
        if !(1.0..=MAX_SAMPLES as f64).contains(&samples) || samples.fract() != 0.0 {
            return Err(LlmError::Setting {
                setting: "--llm-samples / MUSAV_LLM_SAMPLES".into(),
                problem: format!(
                    "{samples} answers per question: use a whole number from 1 (one deterministic answer) to {MAX_SAMPLES}"
                ),
            });
        }
        Ok(LlmSettings {
            url,
            model,
            api_key,
            timeout,
            retries,
            backoff,
            max_wait: Duration::from_secs(30),
            concurrency,
            cache_dir,
            prompts_dir,
            offline: flags.offline,
            refresh: flags.refresh,
            naming,
            samples: samples as usize,
        })
    }

    /// [`LlmSettings::resolve`] with the process environment.
    pub fn from_env(flags: &LlmFlags) -> Result<LlmSettings, LlmError> {
        LlmSettings::resolve(flags, &|k| std::env::var(k).ok())
    }
}

fn read_config(path: &Path) -> Result<FileConfig, LlmError> {
    let text = std::fs::read_to_string(path).map_err(|e| LlmError::Setting {
        setting: path.display().to_string(),
        problem: format!(
            "cannot read the LLM config file: {e}; fix the path (--llm-config / MUSAV_LLM_CONFIG)"
        ),
    })?;
    toml::from_str(&text).map_err(|e| LlmError::Setting {
        setting: path.display().to_string(),
        problem: format!(
            "not a valid LLM config ({}); known keys: url, model, api_key, timeout_secs, retries, concurrency, backoff_ms, cache_dir, prompts_dir, naming, samples",
            e.to_string().trim_end()
        ),
    })
}

fn default_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("musav").join("llm.toml"))
}

fn musav_cache_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    env("MUSAV_CACHE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache").join("musav")))
        .unwrap_or_else(|| PathBuf::from(".musav-cache"))
}

/// `prompts/` beside the shipped data (the crate root), so the binary finds it from any directory.
pub fn default_prompts_dir() -> PathBuf {
    let data = crate::dataset::default_data_dir();
    match data.parent() {
        Some(p) if p.join("prompts").is_dir() => p.join("prompts"),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("prompts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn flags_beat_env_beat_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("llm.toml");
        std::fs::write(
            &cfg,
            "url = \"http://file/v1\"\nmodel = \"file-model\"\napi_key = \"file-key\"\nretries = 7\n",
        )
        .unwrap();
        let env = env_of(&[("MUSAV_LLM_MODEL", "env-model"), ("HOME", "/nonexistent")]);
        let flags = LlmFlags {
            url: Some("http://flag:1/v1/".into()),
            config: Some(cfg),
            ..LlmFlags::default()
        };
        let s = LlmSettings::resolve(&flags, &env).unwrap();
        assert_eq!(s.url.as_deref(), Some("http://flag:1/v1"));
        assert_eq!(s.model, "env-model");
        assert_eq!(s.api_key.as_ref().map(Secret::expose), Some("file-key"));
        assert_eq!(s.retries, 7);
    }

    #[test]
    fn api_key_never_appears_in_debug_output() {
        let env = env_of(&[
            ("MUSAV_LLM_API_KEY", "sk-very-secret"),
            ("HOME", "/nonexistent"),
        ]);
        let s = LlmSettings::resolve(&LlmFlags::default(), &env).unwrap();
        assert_eq!(s.api_key.as_ref().unwrap().expose(), "sk-very-secret");
        let shown = format!(
            "{s:?} {:?}",
            LlmFlags {
                api_key: s.api_key.clone(),
                ..Default::default()
            }
        );
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn bad_url_and_unknown_config_key_name_the_setting() {
        let env = env_of(&[
            ("MUSAV_LLM_URL", "localhost:8080"),
            ("HOME", "/nonexistent"),
        ]);
        let e = LlmSettings::resolve(&LlmFlags::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("MUSAV_LLM_URL") && e.contains("http"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("llm.toml");
        std::fs::write(&cfg, "modle = \"x\"\n").unwrap();
        let flags = LlmFlags {
            config: Some(cfg),
            ..Default::default()
        };
        let e = LlmSettings::resolve(&flags, &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("llm.toml") && e.contains("modle"), "{e}");
    }

    #[test]
    fn naming_mode_and_samples_resolve_and_bad_values_name_the_setting() {
        let s = LlmSettings::resolve(&LlmFlags::default(), &env_of(&[("HOME", "/nonexistent")]))
            .unwrap();
        assert_eq!(
            (s.naming, s.samples),
            (NamingMode::Grounded, DEFAULT_SAMPLES)
        );
        let env = env_of(&[("MUSAV_LLM_NAMING", "Free"), ("MUSAV_LLM_SAMPLES", "5")]);
        let s = LlmSettings::resolve(&LlmFlags::default(), &env).unwrap();
        assert_eq!((s.naming, s.samples), (NamingMode::Free, 5));
        let flags = LlmFlags {
            naming: Some("grounded".into()),
            samples: Some(1),
            ..Default::default()
        };
        let s = LlmSettings::resolve(&flags, &env).unwrap();
        assert_eq!((s.naming, s.samples), (NamingMode::Grounded, 1));

        let e = LlmSettings::resolve(
            &LlmFlags::default(),
            &env_of(&[("MUSAV_LLM_NAMING", "wild")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("MUSAV_LLM_NAMING") && e.contains("grounded or free"),
            "{e}"
        );
        let flags = LlmFlags {
            samples: Some(0),
            ..Default::default()
        };
        let e = LlmSettings::resolve(&flags, &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--llm-samples"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("llm.toml");
        std::fs::write(&cfg, "naming = \"free\"\nsamples = 1\n").unwrap();
        let flags = LlmFlags {
            config: Some(cfg),
            ..Default::default()
        };
        let s = LlmSettings::resolve(&flags, &env_of(&[])).unwrap();
        assert_eq!((s.naming, s.samples), (NamingMode::Free, 1));
    }

    #[test]
    fn zero_concurrency_and_bad_timeout_are_rejected() {
        let flags = LlmFlags {
            concurrency: Some(0),
            ..Default::default()
        };
        assert!(LlmSettings::resolve(&flags, &env_of(&[])).is_err());
        let env = env_of(&[("MUSAV_LLM_TIMEOUT_SECS", "-1")]);
        let e = LlmSettings::resolve(&LlmFlags::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("MUSAV_LLM_TIMEOUT_SECS"), "{e}");
    }
}
