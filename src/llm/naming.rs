//! The naming use-case: ask the model for a name per label and a home per noise tag, check every
//! answer, and fall back to deterministic names so that endpoint trouble never stops the pipeline.
//!
//! Only a wrong key or a wrong model/URL is an error (the user must fix it); everything else becomes
//! a warning line and a fallback. Nothing here touches the label map on disk: [`apply`] edits a map in
//! memory and the caller saves it atomically.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ndarray::Array2;
use serde_json::{Value, json};

use super::cache::Cache;
use super::client::{CallError, ChatClient};
use super::fallback::{fallback_name, make_unique};
use super::parse::{NAME_PATTERN, parse_decision, parse_name};
use super::prompt::Prompts;
use super::{LlmError, LlmSettings};
use crate::curation::labels::{LabelMap, NoiseSuggestion};
use crate::curation::represent::cooccurrence;
use crate::dataset::Dataset;

pub const NAMED_BY_LLM: &str = "llm";
pub const NAMED_BY_FALLBACK: &str = "fallback";
/// Co-occurring tags shown to the model per prompt.
const COOCCURRING_SHOWN: usize = 8;
/// Member tags shown per group in the noise prompt.
const GROUP_TAGS_SHOWN: usize = 6;

/// What one naming run decided; [`apply`] writes it into a label map.
#[derive(Debug, Clone, Default)]
pub struct NamingOutcome {
    /// (label id, name, named_by: `llm` or `fallback`).
    pub names: Vec<(u32, String, String)>,
    /// One per noise tag of the map: where it might belong (a suggestion, never applied silently).
    pub suggestions: Vec<NoiseSuggestion>,
    /// One line each; empty when every answer came from the model (or its cache) and was accepted.
    pub warnings: Vec<String>,
    pub stats: NamingStats,
}

/// Where the answers came from, for the report line and for tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamingStats {
    pub requests: usize,
    pub cache_hits: usize,
    /// Answers fetched from the endpoint in this run.
    pub fetched: usize,
    /// Wall time of the naming requests (all labels) and of the noise requests.
    pub naming_time: Duration,
    pub noise_time: Duration,
}

/// Names the labels whose ids are in `only` (all when `None`) and decides each noise tag.
///
/// Never fails for endpoint trouble: falls back deterministically and reports a warning. Fails only
/// for user errors: an unknown id in `only`, a broken prompt template, a refused key, a wrong model.
pub fn name_labels(
    dataset: &Dataset,
    map: &LabelMap,
    settings: &LlmSettings,
    only: Option<&[u32]>,
) -> Result<NamingOutcome, LlmError> {
    if let Some(ids) = only
        && let Some(&bad) = ids
            .iter()
            .find(|id| !map.labels.iter().any(|l| l.id == **id))
    {
        return Err(LlmError::UnknownLabel {
            id: bad,
            known: map.labels.iter().map(|l| l.id).collect(),
        });
    }
    let prompts = Prompts::load(&settings.prompts_dir)?;
    let facts = Facts::new(dataset);
    let asker = Asker::new(settings)?;
    let mut out = NamingOutcome::default();

    // Names.
    let targets: Vec<usize> = (0..map.labels.len())
        .filter(|&i| only.is_none_or(|ids| ids.contains(&map.labels[i].id)))
        .collect();
    let requests: Vec<Value> = targets
        .iter()
        .map(|&i| {
            let label = &map.labels[i];
            let members = facts.ranked(&label.tags);
            let text = prompts.cluster.render(&[
                ("members", &member_list(&members)),
                ("cooccurring", &facts.cooccurring(&label.tags).join(", ")),
            ]);
            name_request(&settings.model, &text)
        })
        .collect();
    let started = Instant::now();
    let answers = asker.ask_all(&requests)?;
    out.stats.naming_time = started.elapsed();
    let mut taken: HashSet<String> = map
        .labels
        .iter()
        .enumerate()
        .filter(|(i, _)| !targets.contains(i))
        .map(|(_, l)| l.name.trim().to_lowercase())
        .collect();
    let mut unanswered_names = 0;
    let mut final_names: Vec<String> = map.labels.iter().map(|l| l.name.clone()).collect();
    for (&i, answer) in targets.iter().zip(&answers) {
        let label = &map.labels[i];
        let proposal = match answer {
            Answer::Content(text) => match parse_name(text) {
                Ok(name) if !taken.contains(&name.to_lowercase()) => Ok(name),
                Ok(name) => Err(format!(
                    "the name {name:?} is already used by another label"
                )),
                Err(e) => Err(e.to_string()),
            },
            Answer::Failed(why) => Err(why.clone()),
            Answer::None => {
                unanswered_names += 1;
                Err(String::new())
            }
        };
        let (name, by) = match proposal {
            Ok(name) => (make_unique(name, label.id, &mut taken), NAMED_BY_LLM),
            Err(why) => {
                let name = make_unique(
                    fallback_name(label.id, &facts.ranked(&label.tags)),
                    label.id,
                    &mut taken,
                );
                if !why.is_empty() {
                    out.warnings.push(format!(
                        "label {} ({}): model answer not used: {why}; named it {name:?} from its most frequent tags",
                        label.id,
                        label.tags.join(", ")
                    ));
                }
                (name, NAMED_BY_FALLBACK)
            }
        };
        final_names[i] = name.clone();
        out.names.push((label.id, name, by.to_string()));
    }

    // Noise decisions, against the final names.
    let groups_text = map
        .labels
        .iter()
        .zip(&final_names)
        .map(|(l, n)| {
            let shown: Vec<String> = facts
                .ranked(&l.tags)
                .into_iter()
                .take(GROUP_TAGS_SHOWN)
                .map(|(t, _)| t)
                .collect();
            format!("- {n}: {}", shown.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let requests: Vec<Value> = map
        .noise
        .iter()
        .map(|tag| {
            let tracks = facts.tracks(tag).to_string();
            let co = facts.cooccurring(std::slice::from_ref(tag)).join(", ");
            let text = prompts.noise.render(&[
                ("tag", tag),
                ("tracks", &tracks),
                ("cooccurring", &co),
                ("groups", &groups_text),
            ]);
            decision_request(&settings.model, &text, &final_names)
        })
        .collect();
    let started = Instant::now();
    let answers = asker.ask_all(&requests)?;
    out.stats.noise_time = started.elapsed();
    let mut unanswered_noise = 0;
    for (tag, answer) in map.noise.iter().zip(&answers) {
        let suggestion = match answer {
            Answer::Content(text) => match parse_decision(text, &final_names) {
                Ok((group, reason)) => NoiseSuggestion {
                    tag: tag.clone(),
                    label: group.map(|g| map.labels[g].id),
                    reason,
                },
                Err(e) => {
                    out.warnings.push(format!(
                        "noise tag {tag:?}: model answer not used: {e}; it stays noise"
                    ));
                    stays_noise(tag, "model answer not usable")
                }
            },
            Answer::Failed(why) => {
                out.warnings.push(format!(
                    "noise tag {tag:?}: no usable model answer: {why}; it stays noise"
                ));
                stays_noise(tag, "model answer not usable")
            }
            Answer::None => {
                unanswered_noise += 1;
                stays_noise(tag, "no model answer")
            }
        };
        out.suggestions.push(suggestion);
    }

    if unanswered_names + unanswered_noise > 0 {
        out.warnings.insert(
            0,
            format!(
                "LLM {}: named {unanswered_names} label(s) from their most frequent tags and left {unanswered_noise} noise tag(s) undecided",
                asker.why_silent()
            ),
        );
    }
    if let Some(e) = asker.cache_error.lock().ok().and_then(|g| g.clone()) {
        out.warnings.push(format!(
            "cannot write the LLM cache in {}: {e}; answers will be fetched again next time",
            settings.cache_dir.display()
        ));
    }
    out.stats.requests = asker.requests.load(Ordering::Relaxed);
    out.stats.cache_hits = asker.hits.load(Ordering::Relaxed);
    out.stats.fetched = asker.fetched.load(Ordering::Relaxed);
    Ok(out)
}

/// Writes names and noise suggestions into `map`; tags are never moved.
pub fn apply(map: &mut LabelMap, outcome: &NamingOutcome) {
    for (id, name, by) in &outcome.names {
        if let Some(l) = map.labels.iter_mut().find(|l| l.id == *id) {
            l.name = name.clone();
            l.named_by = by.clone();
        }
    }
    map.suggestions = outcome
        .suggestions
        .iter()
        .filter(|s| map.noise.contains(&s.tag))
        .filter(|s| {
            s.label
                .is_none_or(|id| map.labels.iter().any(|l| l.id == id))
        })
        .cloned()
        .collect();
}

fn stays_noise(tag: &str, why: &str) -> NoiseSuggestion {
    NoiseSuggestion {
        tag: tag.to_string(),
        label: None,
        reason: format!("{why}; stays noise"),
    }
}

/// A naming request: deterministic sampling and a JSON schema that keeps small models on track.
pub fn name_request(model: &str, prompt: &str) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0.0,
        "max_tokens": 32,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "label_name",
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "pattern": NAME_PATTERN}},
                    "required": ["name"]
                }
            }
        }
    })
}

/// A noise decision request: the schema lists the group names and "noise" as the only choices.
pub fn decision_request(model: &str, prompt: &str, groups: &[String]) -> Value {
    let mut choices: Vec<&str> = groups.iter().map(String::as_str).collect();
    choices.push("noise");
    json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0.0,
        "max_tokens": 40,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "noise_decision",
                "schema": {
                    "type": "object",
                    "properties": {
                        "group": {"type": "string", "enum": choices},
                        "reason": {"type": "string", "maxLength": 32}
                    },
                    "required": ["group", "reason"]
                }
            }
        }
    })
}

/// `relaxing (1350 songs), dream (951 songs)`: small models follow a sentence better than a list.
fn member_list(members: &[(String, usize)]) -> String {
    members
        .iter()
        .map(|(t, n)| format!("{t} ({n} songs)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Track counts and co-occurrence, computed once per run.
struct Facts<'a> {
    dataset: &'a Dataset,
    tracks: Vec<usize>,
    co: Array2<f64>,
}

impl<'a> Facts<'a> {
    fn new(dataset: &'a Dataset) -> Facts<'a> {
        Facts {
            dataset,
            tracks: dataset.tag_counts().0,
            co: cooccurrence(dataset),
        }
    }

    fn tracks(&self, tag: &str) -> usize {
        self.dataset.tag_id(tag).map_or(0, |t| self.tracks[t])
    }

    /// (tag, tracks), most frequent first, ties by name.
    fn ranked(&self, tags: &[String]) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> =
            tags.iter().map(|t| (t.clone(), self.tracks(t))).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Tags outside `group` sharing the most tracks with its members.
    fn cooccurring(&self, group: &[String]) -> Vec<String> {
        let ids: Vec<usize> = group
            .iter()
            .filter_map(|t| self.dataset.tag_id(t))
            .collect();
        let mut scored: Vec<(usize, f64)> = (0..self.dataset.tags.len())
            .filter(|t| !ids.contains(t))
            .map(|t| (t, ids.iter().map(|&m| self.co[[m, t]]).sum::<f64>()))
            .filter(|&(_, s)| s > 0.0)
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
            .into_iter()
            .take(COOCCURRING_SHOWN)
            .map(|(t, _)| self.dataset.tags[t].clone())
            .collect()
    }
}

enum Answer {
    Content(String),
    /// No answer: offline, not configured or endpoint down (one warning line covers them all).
    None,
    /// This one request got an unusable reply.
    Failed(String),
}

/// Cache first, then the endpoint; remembers when the endpoint is down so that the remaining
/// requests fall back at once instead of each waiting out its retries.
struct Asker<'a> {
    settings: &'a LlmSettings,
    client: Option<ChatClient>,
    cache: Cache,
    silent: Mutex<Option<String>>,
    cache_error: Mutex<Option<String>>,
    requests: AtomicUsize,
    hits: AtomicUsize,
    fetched: AtomicUsize,
}

impl<'a> Asker<'a> {
    fn new(settings: &'a LlmSettings) -> Result<Asker<'a>, LlmError> {
        let (client, silent) = match (&settings.url, settings.offline) {
            (_, true) => (None, Some("offline (--offline)".to_string())),
            (None, false) => (
                None,
                Some("not configured (set --llm-url or MUSAV_LLM_URL)".to_string()),
            ),
            (Some(url), false) => match ChatClient::new(url, settings) {
                Ok(c) => (Some(c), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        Ok(Asker {
            settings,
            client,
            cache: Cache::new(&settings.cache_dir),
            silent: Mutex::new(silent),
            cache_error: Mutex::new(None),
            requests: AtomicUsize::new(0),
            hits: AtomicUsize::new(0),
            fetched: AtomicUsize::new(0),
        })
    }

    fn why_silent(&self) -> String {
        self.silent
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or_else(|| "gave no usable answer to some requests".into())
    }

    fn is_silent(&self) -> bool {
        self.silent.lock().map(|g| g.is_some()).unwrap_or(true)
    }

    /// Answers in request order, at most `concurrency` requests in flight.
    fn ask_all(&self, requests: &[Value]) -> Result<Vec<Answer>, LlmError> {
        let next = AtomicUsize::new(0);
        let fatal: Mutex<Option<CallError>> = Mutex::new(None);
        let stop = AtomicBool::new(false);
        let slots: Vec<Mutex<Option<Answer>>> = requests.iter().map(|_| Mutex::new(None)).collect();
        let workers = self.settings.concurrency.min(requests.len()).max(1);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= requests.len() || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let answer = match self.ask(&requests[i]) {
                            Ok(a) => a,
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                if let Ok(mut f) = fatal.lock() {
                                    f.get_or_insert(e);
                                }
                                Answer::None
                            }
                        };
                        if let Ok(mut slot) = slots[i].lock() {
                            *slot = Some(answer);
                        }
                    }
                });
            }
        });
        if let Some(e) = fatal.into_inner().ok().flatten() {
            return Err(LlmError::Endpoint(e));
        }
        Ok(slots
            .into_iter()
            .map(|m| m.into_inner().ok().flatten().unwrap_or(Answer::None))
            .collect())
    }

    fn ask(&self, request: &Value) -> Result<Answer, CallError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !self.settings.refresh
            && let Some(content) = self.cache.get(request)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Answer::Content(content));
        }
        let Some(client) = &self.client else {
            return Ok(Answer::None);
        };
        if self.is_silent() {
            return Ok(Answer::None);
        }
        match client.complete(request) {
            Ok(reply) => {
                self.fetched.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = self.cache.put(request, &reply.content)
                    && let Ok(mut g) = self.cache_error.lock()
                {
                    g.get_or_insert(e.to_string());
                }
                Ok(Answer::Content(reply.content))
            }
            Err(e) if e.is_user_error() => Err(e),
            Err(e @ CallError::Unavailable { .. }) => {
                if let Ok(mut g) = self.silent.lock() {
                    g.get_or_insert(e.to_string());
                }
                Ok(Answer::None)
            }
            // One bad reply (malformed, rejected): only this request falls back.
            Err(e) => Ok(Answer::Failed(e.to_string())),
        }
    }
}
