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
use super::candidates::{MAX_CANDIDATES, candidates, ranked_members};
use super::client::{CallError, ChatClient};
use super::fallback::{fallback_name, make_unique};
use super::parse::{NAME_PATTERN, check_free, parse_choice, parse_decision, parse_name};
use super::prompt::Prompts;
use super::settings::NamingMode;
use super::words::Vocabulary;
use super::{LlmError, LlmSettings};
use crate::curation::labels::{LabelMap, NamedBy, NoiseSuggestion};
use crate::curation::represent::cooccurrence;
use crate::dataset::Dataset;

pub const NAMED_BY_LLM: &str = "llm";
pub const NAMED_BY_FALLBACK: &str = "fallback";
/// Co-occurring tags shown to the model per prompt.
const COOCCURRING_SHOWN: usize = 8;
/// Member tags shown per group in the noise prompt.
const GROUP_TAGS_SHOWN: usize = 6;
/// Temperature of the answers after the first (deterministic) one: different enough to tell a
/// name the model keeps coming back to from a coin toss.
pub const SAMPLE_TEMPERATURE: f64 = 0.8;
/// Seed of the first sampled request; further ones count up, so reruns hit the cache.
const FIRST_SEED: u64 = 1;

/// What one naming run decided; [`apply`] writes it into a label map.
#[derive(Debug, Clone, Default)]
pub struct NamingOutcome {
    /// (label id, name, who chose it and how: `llm` with model, mode and agreement, or `fallback`).
    pub names: Vec<(u32, String, NamedBy)>,
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

/// What one label's naming question needs besides the request: how to check an answer.
enum Check {
    /// Grounded: the answer must be one of these.
    Choice(Vec<String>),
    /// Free: the answer must share a word with this vocabulary.
    Free(Vocabulary),
}

/// Names the labels whose ids are in `only` (all when `None`) and decides each noise tag, in the
/// naming mode of `settings`.
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
    let mode = settings.naming;
    let prompts = Prompts::load(&settings.prompts_dir, mode)?;
    let facts = Facts::new(dataset);
    let asker = Asker::new(settings)?;
    let mut out = NamingOutcome::default();
    let table_words = match mode {
        NamingMode::Grounded => Vocabulary::default(),
        NamingMode::Free => {
            let path = crate::dataset::va::default_va_path();
            Vocabulary::from_tag_table(&path).unwrap_or_else(|e| {
                out.warnings.push(format!(
                    "{e}; free-mode names are checked against the labels' tags only"
                ));
                Vocabulary::default()
            })
        }
    };

    // Names.
    let targets: Vec<usize> = (0..map.labels.len())
        .filter(|&i| only.is_none_or(|ids| ids.contains(&map.labels[i].id)))
        .collect();
    let mut taken: HashSet<String> = map
        .labels
        .iter()
        .enumerate()
        .filter(|(i, _)| !targets.contains(i))
        .map(|(_, l)| l.name.trim().to_lowercase())
        .collect();
    let mut checks = Vec::new();
    let mut requests = Vec::new();
    for &i in &targets {
        let label = &map.labels[i];
        let members = facts.ranked(&label.tags);
        let co = facts.cooccurring(&label.tags);
        let values = [
            ("members", member_list(&members)),
            ("cooccurring", co.join(", ")),
        ];
        let (check, request) = match mode {
            NamingMode::Grounded => {
                let choices = candidates(&members, &taken, MAX_CANDIDATES);
                let mut values = values.to_vec();
                values.push(("candidates", choices.join(", ")));
                let text = render(&prompts.name, &values);
                let request = (!choices.is_empty())
                    .then(|| grounded_request(&settings.model, &text, &choices));
                (Check::Choice(choices), request)
            }
            NamingMode::Free => {
                let mut vocabulary = table_words.clone();
                vocabulary.extend(label.tags.iter().chain(&co).map(String::as_str));
                let text = render(&prompts.name, &values);
                (
                    Check::Free(vocabulary),
                    Some(name_request(&settings.model, &text)),
                )
            }
        };
        checks.push(check);
        requests.push(request);
    }
    let started = Instant::now();
    let answers = asker.ask_all(&requests)?;
    out.stats.naming_time = started.elapsed();
    let mut unanswered_names = 0;
    let mut final_names: Vec<String> = map.labels.iter().map(|l| l.name.clone()).collect();
    for ((&i, votes), check) in targets.iter().zip(&answers).zip(&checks) {
        let label = &map.labels[i];
        let judge = |text: &str| -> Result<String, String> {
            let name = match check {
                Check::Choice(c) => parse_choice(text, c),
                Check::Free(v) => parse_name(text).and_then(|n| check_free(&n, v).map(|()| n)),
            }
            .map_err(|e| e.to_string())?;
            if taken.contains(&name.to_lowercase()) {
                return Err(format!(
                    "the name {name:?} is already used by another label"
                ));
            }
            Ok(name)
        };
        let proposal = match votes {
            None => Err("no member tag makes a usable name".to_string()),
            Some(v) if v.silent => {
                unanswered_names += 1;
                Err(String::new())
            }
            Some(v) => v
                .decide(judge, |a: &String, b: &String| a.eq_ignore_ascii_case(b))
                .map(|(name, agree)| (name, agree, v.asked)),
        };
        let (name, by) = match proposal {
            Ok((name, agree, asked)) => (
                make_unique(name, label.id, &mut taken),
                NamedBy {
                    by: NAMED_BY_LLM.into(),
                    model: Some(settings.model.clone()),
                    mode: Some(mode.as_str().into()),
                    agreement: Some(format!("{agree}/{asked}")),
                },
            ),
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
                (name, NamedBy::from(NAMED_BY_FALLBACK))
            }
        };
        final_names[i] = name.clone();
        out.names.push((label.id, name, by));
    }

    // Noise decisions, against the final names; the answer is a label id or "noise".
    let ids: Vec<u32> = map.labels.iter().map(|l| l.id).collect();
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
            format!("- group {} ({n}): {}", l.id, shown.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let requests: Vec<Option<Value>> = map
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
            Some(decision_request(&settings.model, &text, &ids))
        })
        .collect();
    let started = Instant::now();
    let answers = asker.ask_all(&requests)?;
    out.stats.noise_time = started.elapsed();
    let mut unanswered_noise = 0;
    for (tag, votes) in map.noise.iter().zip(&answers) {
        let Some(votes) = votes.as_ref().filter(|v| !v.silent) else {
            unanswered_noise += 1;
            out.suggestions.push(stays_noise(tag, "no model answer"));
            continue;
        };
        let judge =
            |text: &str| parse_decision(text, &ids, &final_names).map_err(|e| e.to_string());
        let same = |a: &(Option<u32>, String), b: &(Option<u32>, String)| a.0 == b.0;
        let suggestion = match votes.decide(judge, same) {
            Ok(((label, reason), agree)) => NoiseSuggestion {
                tag: tag.clone(),
                label,
                reason: if votes.asked > 1 {
                    format!("{reason} ({agree}/{} agree)", votes.asked)
                        .trim_start()
                        .to_string()
                } else {
                    reason
                },
            },
            Err(e) => {
                out.warnings.push(format!(
                    "noise tag {tag:?}: model answer not used: {e}; it stays noise"
                ));
                stays_noise(tag, "model answer not usable")
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

fn render(template: &super::prompt::Template, values: &[(&str, String)]) -> String {
    let refs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    template.render(&refs)
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

/// A free naming request: deterministic sampling and a JSON schema that keeps small models on track.
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

/// A grounded naming request: the schema's `enum` lets the model answer only one of `candidates`.
pub fn grounded_request(model: &str, prompt: &str, candidates: &[String]) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0.0,
        "max_tokens": 48,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "label_choice",
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "enum": candidates}},
                    "required": ["name"]
                }
            }
        }
    })
}

/// A noise decision request: the schema lists the label ids (as strings) and "noise" as the only
/// choices, so an answer can never name a group that does not exist.
pub fn decision_request(model: &str, prompt: &str, ids: &[u32]) -> Value {
    let mut choices: Vec<String> = ids.iter().map(u32::to_string).collect();
    choices.push("noise".into());
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

/// The request for sampled answers: `base` with the sampling temperature, a seed and, when more
/// than one answer is wanted, `n`.
pub fn sampled_request(base: &Value, n: usize, seed: u64) -> Value {
    let mut r = base.clone();
    r["temperature"] = json!(SAMPLE_TEMPERATURE);
    r["seed"] = json!(seed);
    if n > 1 {
        r["n"] = json!(n);
    }
    r
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
        ranked_members(tags, |t| self.tracks(t))
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
    /// The choices of one reply (one, or several when `n` was honoured).
    Content(Vec<String>),
    /// No answer: offline, not configured or endpoint down (one warning line covers them all).
    None,
    /// This one request got an unusable reply.
    Failed(String),
}

/// The answers to one question: the deterministic one first, then the sampled ones.
struct Votes {
    answers: Vec<String>,
    /// Answers asked for (`samples`); the agreement is out of this.
    asked: usize,
    /// Why a request gave no usable reply, if one did not.
    failed: Option<String>,
    /// Not even the first answer came: offline, not configured or the endpoint down.
    silent: bool,
}

impl Votes {
    /// The answer most usable answers agree on (`same`), ties going to the earlier one (the
    /// deterministic answer comes first), with how many agreed; else why none was usable.
    fn decide<T: Clone>(
        &self,
        judge: impl Fn(&str) -> Result<T, String>,
        same: impl Fn(&T, &T) -> bool,
    ) -> Result<(T, usize), String> {
        let mut first_error = None;
        let mut tally: Vec<(T, usize)> = Vec::new();
        for a in &self.answers {
            match judge(a.as_str()) {
                Ok(v) => match tally.iter_mut().find(|(t, _)| same(t, &v)) {
                    Some((_, n)) => *n += 1,
                    None => tally.push((v, 1)),
                },
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let best = tally.iter().map(|(_, n)| *n).max().unwrap_or(0);
        match tally.into_iter().find(|(_, n)| *n == best) {
            Some(winner) => Ok(winner),
            None => Err(first_error
                .or_else(|| self.failed.clone())
                .unwrap_or_else(|| "no answer".into())),
        }
    }
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

    /// Votes per question in order (`None` where there is no question), at most `concurrency`
    /// questions in flight.
    fn ask_all(&self, questions: &[Option<Value>]) -> Result<Vec<Option<Votes>>, LlmError> {
        let next = AtomicUsize::new(0);
        let fatal: Mutex<Option<CallError>> = Mutex::new(None);
        let stop = AtomicBool::new(false);
        let slots: Vec<Mutex<Option<Votes>>> = questions.iter().map(|_| Mutex::new(None)).collect();
        let workers = self.settings.concurrency.min(questions.len()).max(1);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= questions.len() || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let Some(q) = &questions[i] else { continue };
                        let votes = match self.ask_votes(q) {
                            Ok(v) => v,
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                if let Ok(mut f) = fatal.lock() {
                                    f.get_or_insert(e);
                                }
                                self.no_votes()
                            }
                        };
                        if let Ok(mut slot) = slots[i].lock() {
                            *slot = Some(votes);
                        }
                    }
                });
            }
        });
        if let Some(e) = fatal.into_inner().ok().flatten() {
            return Err(LlmError::Endpoint(e));
        }
        Ok(questions
            .iter()
            .zip(slots)
            .map(|(q, m)| {
                q.as_ref().map(|_| {
                    m.into_inner()
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| self.no_votes())
                })
            })
            .collect())
    }

    fn no_votes(&self) -> Votes {
        Votes {
            answers: Vec::new(),
            asked: self.settings.samples,
            failed: None,
            silent: true,
        }
    }

    /// The deterministic answer, then `samples - 1` sampled ones: one request with `n` where the
    /// endpoint honours it, else (or for what it did not give) one request per seed.
    fn ask_votes(&self, base: &Value) -> Result<Votes, CallError> {
        let mut votes = Votes {
            answers: Vec::new(),
            asked: self.settings.samples,
            failed: None,
            silent: false,
        };
        match self.ask(base)? {
            Answer::Content(c) => votes.answers.extend(c.into_iter().take(1)),
            Answer::Failed(why) => votes.failed = Some(why),
            Answer::None => {
                votes.silent = true;
                return Ok(votes);
            }
        }
        let mut wanted = votes.asked - 1;
        let mut seed = FIRST_SEED;
        let mut n = wanted;
        while wanted > 0 {
            match self.ask(&sampled_request(base, n, seed))? {
                Answer::Content(c) => {
                    let got = c.len().clamp(1, wanted);
                    votes.answers.extend(c.into_iter().take(got));
                    wanted -= got;
                }
                Answer::Failed(why) => {
                    votes.failed.get_or_insert(why);
                    wanted -= 1;
                }
                Answer::None => break,
            }
            seed += 1;
            n = 1;
        }
        Ok(votes)
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
                if let Err(e) = self.cache.put(request, &reply.choices)
                    && let Ok(mut g) = self.cache_error.lock()
                {
                    g.get_or_insert(e.to_string());
                }
                Ok(Answer::Content(reply.choices))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn votes(answers: &[&str], asked: usize) -> Votes {
        Votes {
            answers: answers.iter().map(|a| a.to_string()).collect(),
            asked,
            failed: None,
            silent: false,
        }
    }

    fn judge(text: &str) -> Result<String, String> {
        if text.starts_with('!') {
            Err(format!("bad {text}"))
        } else {
            Ok(text.to_string())
        }
    }

    fn same() -> impl Fn(&String, &String) -> bool {
        |a, b| a.eq_ignore_ascii_case(b)
    }

    #[test]
    fn the_majority_wins_and_ties_go_to_the_deterministic_answer() {
        assert_eq!(
            votes(&["Sad", "Dark", "dark"], 3).decide(judge, same()),
            Ok(("Dark".into(), 2))
        );
        assert_eq!(
            votes(&["Sad", "Dark", "Love"], 3).decide(judge, same()),
            Ok(("Sad".into(), 1))
        );
        assert_eq!(
            votes(&["!x", "Dark", "Sad"], 3).decide(judge, same()),
            Ok(("Dark".into(), 1))
        );
        assert_eq!(
            votes(&["!x", "!y"], 3).decide(judge, same()),
            Err("bad !x".to_string())
        );
        let mut v = votes(&[], 3);
        v.failed = Some("HTTP 422".into());
        assert_eq!(v.decide(judge, same()), Err("HTTP 422".to_string()));
    }

    #[test]
    fn the_grounded_schema_is_an_enum_of_the_candidates() {
        let c = vec!["Sad".to_string(), "Sad & Dark".to_string()];
        let r = grounded_request("m", "p", &c);
        let name = &r["response_format"]["json_schema"]["schema"]["properties"]["name"];
        assert_eq!(name["enum"], json!(["Sad", "Sad & Dark"]));
        assert_eq!(name["type"], "string");
        assert!(name.get("pattern").is_none());
        assert_eq!(r["temperature"], 0.0);
        assert_eq!(
            r["response_format"]["json_schema"]["schema"]["required"],
            json!(["name"])
        );
    }

    #[test]
    fn the_noise_schema_offers_label_ids_and_noise_only() {
        let r = decision_request("m", "p", &[0, 3, 10]);
        let group = &r["response_format"]["json_schema"]["schema"]["properties"]["group"];
        assert_eq!(group["enum"], json!(["0", "3", "10", "noise"]));
    }

    #[test]
    fn sampled_requests_differ_from_the_base_by_temperature_seed_and_n() {
        let base = grounded_request("m", "p", &["Sad".to_string()]);
        let r = sampled_request(&base, 2, 7);
        assert_eq!(r["temperature"], SAMPLE_TEMPERATURE);
        assert_eq!((r["seed"].as_u64(), r["n"].as_u64()), (Some(7), Some(2)));
        assert!(sampled_request(&base, 1, 8).get("n").is_none());
        assert_eq!(r["response_format"], base["response_format"]);
    }
}
