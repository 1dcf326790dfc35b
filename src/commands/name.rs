use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::DataArgs;
use crate::curation::labels::{LabelMap, default_labels_path};
use crate::llm::{self, LlmFlags, LlmSettings, Secret};

/// Name each label of a label map (and suggest a home for each noise tag) with an LLM
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    MUSAV_LLM_URL=http://127.0.0.1:8080/v1 MUSAV_LLM_MODEL=SmolLM2-135M-Instruct musav name --labels my_labels.toml\n  \
    musav name --labels my_labels.toml --offline          # names from each label's two most frequent tags\n  \
    musav name --labels my_labels.toml --only 3,5 --refresh\n  \
    musav name --llm-naming free --dry-run --score-against data/labels.toml\n\n\
    Modes: `grounded` (default) lets the model choose among names made of each label's member tags\n\
    (a JSON-schema enum), so even a small model gives names a reviewer can trace; `free` lets it write\n\
    its own, rejected unless they share a word with the tags. Each question is asked --llm-samples\n\
    times (the first deterministic) and the name most answers agree on is kept; the map records it\n\
    as named_by = { by = \"llm\", model, mode, agreement }.\n\n\
    Settings: flags, then MUSAV_LLM_URL / MUSAV_LLM_MODEL / MUSAV_LLM_API_KEY / MUSAV_LLM_NAMING /\n\
    MUSAV_LLM_SAMPLES, then the TOML file --llm-config (or MUSAV_LLM_CONFIG, or\n\
    ~/.config/musav/llm.toml). Answers are cached under $MUSAV_CACHE/llm (default\n\
    ~/.cache/musav/llm): a rerun is instant and works offline.\n\
    Noise suggestions are written to the map's `suggestions` for you to accept or reject; no tag is moved.")]
pub struct Args {
    /// Label map to name, rewritten in place (atomically) [default: data/labels.toml]
    #[arg(long, value_name = "MAP")]
    pub labels: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Name only these label ids (comma-separated); noise tags are always decided
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub only: Option<Vec<u32>>,
    /// Print the names and suggestions without writing the map
    #[arg(long)]
    pub dry_run: bool,
    /// Also print how the names compare with this reviewed map's (grounded share, agreement)
    #[arg(long, value_name = "MAP")]
    pub score_against: Option<PathBuf>,
    #[command(flatten)]
    pub llm: LlmArgs,
}

/// Endpoint settings as flags (see [`LlmFlags`]).
#[derive(Debug, Clone, clap::Args)]
pub struct LlmArgs {
    /// Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1 [env: MUSAV_LLM_URL]
    #[arg(long, value_name = "URL")]
    pub llm_url: Option<String>,
    /// Model name sent with each request [env: MUSAV_LLM_MODEL]
    #[arg(long, value_name = "NAME")]
    pub llm_model: Option<String>,
    /// API key (prefer the environment: flags show up in process lists) [env: MUSAV_LLM_API_KEY]
    #[arg(long, value_name = "KEY")]
    pub llm_api_key: Option<String>,
    /// TOML file with url, model, api_key, timeout_secs, retries, concurrency, backoff_ms, cache_dir
    #[arg(long, value_name = "FILE")]
    pub llm_config: Option<PathBuf>,
    /// Seconds to wait for one answer [default: 60]
    #[arg(long, value_name = "SECS")]
    pub llm_timeout: Option<f64>,
    /// Retries after 429, 5xx, timeouts and connection errors [default: 3]
    #[arg(long, value_name = "N")]
    pub llm_retries: Option<u32>,
    /// Requests in flight at once [default: 2]
    #[arg(long, value_name = "N")]
    pub llm_concurrency: Option<usize>,
    /// First retry delay in milliseconds, doubled per retry [default: 500]
    #[arg(long, value_name = "MS", hide = true)]
    pub llm_backoff_ms: Option<u64>,
    /// Directory of cached answers [default: $MUSAV_CACHE/llm]
    #[arg(long, value_name = "DIR")]
    pub llm_cache: Option<PathBuf>,
    /// Directory holding name_grounded.txt, name_free.txt and place_noise.txt [default: prompts/]
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
    /// grounded: choose among names made of the member tags; free: the model's own words
    /// [env: MUSAV_LLM_NAMING] [default: grounded]
    #[arg(long, value_name = "MODE", value_parser = ["grounded", "free"])]
    pub llm_naming: Option<String>,
    /// Answers per question, the first deterministic; the one most agree on is kept
    /// [env: MUSAV_LLM_SAMPLES] [default: 3]
    #[arg(long, value_name = "N")]
    pub llm_samples: Option<usize>,
    /// Never contact the endpoint: cached answers, else names from each label's members
    #[arg(long)]
    pub offline: bool,
    /// Ask the endpoint again instead of using cached answers
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
}

impl LlmArgs {
    pub fn flags(&self) -> anyhow::Result<LlmFlags> {
        let timeout = match self.llm_timeout {
            Some(s) if s > 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
            Some(s) => anyhow::bail!("--llm-timeout {s}: give a positive number of seconds"),
            None => None,
        };
        Ok(LlmFlags {
            url: self.llm_url.clone(),
            model: self.llm_model.clone(),
            api_key: self.llm_api_key.clone().map(Secret::new),
            config: self.llm_config.clone(),
            timeout,
            retries: self.llm_retries,
            concurrency: self.llm_concurrency,
            backoff: self.llm_backoff_ms.map(Duration::from_millis),
            cache_dir: self.llm_cache.clone(),
            prompts_dir: self.prompts.clone(),
            offline: self.offline,
            refresh: self.refresh,
            naming: self.llm_naming.clone(),
            samples: self.llm_samples,
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let settings = LlmSettings::from_env(&args.llm.flags()?)?;
    let path = args.labels.clone().unwrap_or_else(default_labels_path);
    let mut map = LabelMap::load(&path)?;
    let reviewed = args
        .score_against
        .as_deref()
        .map(LabelMap::load)
        .transpose()?;
    let ds = args.data.load()?;
    let outcome = llm::name_labels(&ds, &map, &settings, args.only.as_deref())?;
    for w in &outcome.warnings {
        eprintln!("musav: warning: {w}");
    }
    llm::apply(&mut map, &outcome);

    let mut out = std::io::stdout().lock();
    for (id, name, by) in &outcome.names {
        let tags = map
            .labels
            .iter()
            .find(|l| l.id == *id)
            .map(|l| l.tags.join(", "))
            .unwrap_or_default();
        writeln!(out, "label {id:>2}  {name:<24} [{by}]  {tags}")?;
    }
    let names = map.names();
    for s in &outcome.suggestions {
        let target = match s.label {
            Some(id) => format!("→ {}", names.get(&id).map_or("?", String::as_str)),
            None => "stays noise".to_string(),
        };
        writeln!(out, "noise {:<16} {target}  ({})", s.tag, s.reason)?;
    }
    let st = &outcome.stats;
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e3 / n.max(1) as f64;
    writeln!(
        out,
        "{} naming, {} answer(s) per question; {} requests: {} from cache, {} from the endpoint; naming {:.0} ms ({:.0} ms per label), noise {:.0} ms",
        settings.naming,
        settings.samples,
        st.requests,
        st.cache_hits,
        st.fetched,
        st.naming_time.as_secs_f64() * 1e3,
        per(st.naming_time, outcome.names.len()),
        st.noise_time.as_secs_f64() * 1e3
    )?;
    if let Some(reviewed) = &reviewed {
        write!(out, "{}", llm::quality::score(&map, reviewed).table())?;
    }
    if args.dry_run {
        eprintln!("dry run: {} left unchanged", path.display());
    } else {
        map.save(&path)?;
        eprintln!(
            "wrote {} (names, and noise suggestions to accept or reject)",
            path.display()
        );
    }
    Ok(())
}
