//! Endpoint faults against a scripted local server: every fault ends in LLM names, fallback names
//! with a warning, or a clear error, and the label map on disk is never half-updated.

mod llm_util;

use std::process::Command;
use std::time::Duration;

use std::sync::Arc;

use llm_util::{Script, completion, completions, offered, serve, settings, shipped};
use musav::curation::labels::LabelMap;
use musav::llm::client::{CallError, ChatClient};
use musav::llm::naming::name_request;
use musav::llm::{LlmError, apply, name_labels};
use serde_json::{Value, json};

fn header(k: &str, v: &str) -> Vec<(String, String)> {
    vec![(k.to_string(), v.to_string())]
}

#[test]
fn a_500_is_retried_then_the_answer_is_used() {
    let server = serve(vec![Script::Raw(500, vec![], "boom".into())], Script::Good);
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| f.concurrency = Some(1));
    let client = ChatClient::new(&server.url, &s).unwrap();
    let reply = client
        .complete(&name_request("m", "These songs are tagged sad (3 songs)."))
        .unwrap();
    assert_eq!(reply.attempts, 2);
    assert_eq!(reply.content, "```json\n{\"name\": \"sad mood\"}\n```");
    assert_eq!(server.seen.lock().unwrap().len(), 2);
}

#[test]
fn a_429_waits_as_long_as_retry_after_says() {
    let server = serve(
        vec![Script::Raw(
            429,
            header("Retry-After", "1"),
            "slow down".into(),
        )],
        Script::Good,
    );
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |_| {});
    let reply = ChatClient::new(&server.url, &s)
        .unwrap()
        .complete(&name_request("m", "These songs are tagged calm."))
        .unwrap();
    // The configured backoff is 1 ms, so a 1 s wait can only come from the header.
    assert_eq!(reply.waits, vec![Duration::from_secs(1)]);
}

#[test]
fn retries_run_out_on_persistent_5xx() {
    let server = serve(vec![], Script::Raw(503, vec![], "down".into()));
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| f.retries = Some(2));
    let e = ChatClient::new(&server.url, &s)
        .unwrap()
        .complete(&name_request("m", "x"))
        .unwrap_err();
    assert!(
        matches!(e, CallError::Unavailable { attempts: 3, .. }),
        "{e}"
    );
    assert_eq!(server.seen.lock().unwrap().len(), 3);
}

#[test]
fn a_server_without_schema_support_is_asked_again_without_it() {
    let server = serve(
        vec![Script::Raw(
            400,
            vec![],
            "response_format not supported".into(),
        )],
        Script::Good,
    );
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |_| {});
    let client = ChatClient::new(&server.url, &s).unwrap();
    client.complete(&name_request("m", "tagged sad")).unwrap();
    client.complete(&name_request("m", "tagged dark")).unwrap();
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].get("response_format").is_some());
    assert!(seen[1].get("response_format").is_none());
    assert!(seen[2].get("response_format").is_none());
}

#[test]
fn a_hanging_endpoint_times_out_and_every_label_gets_a_fallback_name() {
    let (ds, map) = shipped();
    let server = serve(vec![], Script::Hang);
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| {
        f.timeout = Some(Duration::from_millis(300));
        f.retries = Some(1);
    });
    let out = name_labels(&ds, &map, &s, None).unwrap();
    assert_eq!(out.names.len(), map.labels.len());
    assert!(out.names.iter().all(|(_, _, by)| by == "fallback"));
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("timeout"), "{}", out.warnings[0]);
    assert_eq!(out.suggestions.len(), map.noise.len());
    assert!(out.suggestions.iter().all(|s| s.label.is_none()));
    // Once the endpoint is known to be down, the other requests do not wait out their own timeouts.
    assert!(server.seen.lock().unwrap().len() <= 2 * s.concurrency);
}

#[test]
fn malformed_replies_fall_back_with_a_warning_per_label() {
    let (ds, map) = shipped();
    let server = serve(vec![], Script::Raw(200, vec![], "{\"choices\": [".into()));
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |_| {});
    let out = name_labels(&ds, &map, &s, None).unwrap();
    assert!(out.names.iter().all(|(_, _, by)| by == "fallback"));
    let about_labels = out
        .warnings
        .iter()
        .filter(|w| w.starts_with("label "))
        .count();
    assert_eq!(about_labels, map.labels.len(), "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("not a chat completion"),
        "{}",
        out.warnings[0]
    );
    // Nothing unusable is cached.
    assert_eq!(
        std::fs::read_dir(cache.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

#[test]
fn prose_without_json_and_duplicate_names_fall_back_per_label() {
    let (ds, map) = shipped();
    let server = serve(
        vec![Script::Content("I would call it Sad.".into())],
        // A word of the tag table: grounded for every label, so only the duplicate check bites.
        Script::Content("{\"name\": \"Sad\"}".into()),
    );
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| {
        f.concurrency = Some(1);
        f.naming = Some("free".into());
        f.samples = Some(1);
    });
    let out = name_labels(&ds, &map, &s, None).unwrap();
    let llm: Vec<_> = out.names.iter().filter(|(_, _, by)| by == "llm").collect();
    assert_eq!(llm.len(), 1, "{:?}", out.names);
    assert_eq!(llm[0].1, "Sad");
    assert!(
        out.warnings.iter().any(|w| w.contains("no JSON")),
        "{:?}",
        out.warnings
    );
    assert!(
        out.warnings.iter().any(|w| w.contains("already used")),
        "{:?}",
        out.warnings
    );
    let mut m = map.clone();
    apply(&mut m, &out);
    m.validate().unwrap();
}

#[test]
fn a_refused_key_is_an_error_that_names_the_setting() {
    let (ds, map) = shipped();
    let server = serve(vec![], Script::Raw(401, vec![], "invalid api key".into()));
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |_| {});
    let e = name_labels(&ds, &map, &s, None).unwrap_err();
    assert!(matches!(
        e,
        LlmError::Endpoint(CallError::Unauthorized { status: 401, .. })
    ));
    assert!(e.to_string().contains("MUSAV_LLM_API_KEY"), "{e}");
    // Not retried: a wrong key does not get better.
    assert!(server.seen.lock().unwrap().len() <= s.concurrency);
}

#[test]
fn unknown_label_id_in_only_is_rejected() {
    let (ds, map) = shipped();
    let cache = tempfile::tempdir().unwrap();
    let s = settings(None, cache.path(), |_| {});
    let e = name_labels(&ds, &map, &s, Some(&[99]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("label id 99"), "{e}");
}

// --- through the binary: the map on disk is either unchanged or fully updated ---

fn musav_name(map: &std::path::Path, url: &str, home: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_musav"))
        .args(["name", "--labels"])
        .arg(map)
        .args([
            "--llm-url",
            url,
            "--llm-model",
            "test-model",
            "--llm-backoff-ms",
            "1",
        ])
        .args(["--llm-timeout", "2", "--llm-retries", "1"])
        .env("HOME", home)
        .env("MUSAV_CACHE", home.join("cache"))
        .env_remove("MUSAV_LLM_URL")
        .env_remove("MUSAV_LLM_MODEL")
        .env_remove("MUSAV_LLM_API_KEY")
        .env_remove("MUSAV_LLM_CONFIG")
        .output()
        .unwrap()
}

fn draft(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
    let p = dir.join("labels.toml");
    shipped().1.save(&p).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    (p, bytes)
}

#[test]
fn cli_401_leaves_the_map_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (p, before) = draft(dir.path());
    let server = serve(vec![], Script::Raw(401, vec![], "no".into()));
    let out = musav_name(&p, &server.url, dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused the API key") && err.contains("MUSAV_LLM_API_KEY"),
        "{err}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn cli_404_names_the_model_and_leaves_the_map_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (p, before) = draft(dir.path());
    let server = serve(vec![], Script::Raw(404, vec![], "model not found".into()));
    let out = musav_name(&p, &server.url, dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"test-model\"") && err.contains("--llm-model"),
        "{err}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn cli_with_a_flaky_endpoint_writes_a_complete_map_then_reruns_from_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = draft(dir.path());
    let server = serve(vec![Script::Raw(500, vec![], "x".into())], Script::Good);
    let out = musav_name(&p, &server.url, dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = LabelMap::load(&p).unwrap();
    assert!(
        first.labels.iter().all(|l| l.named_by == "llm"),
        "{:?}",
        first.labels
    );
    // Grounded by default: the fake endpoint chooses the first candidate, the most frequent
    // member's display form, and every one of the three answers agrees.
    let tag = &first.labels[0].tags[0];
    let expected = format!("{}{}", tag[..1].to_uppercase(), &tag[1..]);
    assert_eq!(first.labels[0].name, expected);
    let by = &first.labels[0].named_by;
    assert_eq!(
        (
            by.model.as_deref(),
            by.mode.as_deref(),
            by.agreement.as_deref()
        ),
        (Some("test-model"), Some("grounded"), Some("3/3"))
    );
    assert_eq!(first.suggestions.len(), first.noise.len());
    assert!(
        first
            .suggestions
            .iter()
            .all(|s| s.label == Some(first.labels[0].id))
    );
    // Tags are never moved by naming.
    assert_eq!(first.noise, shipped().1.noise);

    // Second run: a dead URL, yet the same names, all from the cache.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let requests_before = server.seen.lock().unwrap().len();
    let out = musav_name(&p, &dead_url, dir.path());
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 from the endpoint"), "{stdout}");
    assert!(out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("warning"));
    assert_eq!(LabelMap::load(&p).unwrap(), first);
    assert_eq!(server.seen.lock().unwrap().len(), requests_before);
}

#[test]
fn cli_offline_names_every_label_from_its_members_in_one_warning_line() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = draft(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_musav"))
        .args(["name", "--offline", "--labels"])
        .arg(&p)
        .env("HOME", dir.path())
        .env("MUSAV_CACHE", dir.path().join("cache"))
        .env_remove("MUSAV_LLM_URL")
        .env_remove("MUSAV_LLM_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("offline"), "{err}");
    let map = LabelMap::load(&p).unwrap();
    let draft_map = shipped().1;
    for (named, before) in map.labels.iter().zip(&draft_map.labels) {
        assert_eq!(named.named_by, "fallback");
        assert_eq!(named.tags, before.tags);
        // Members are ordered by track count, so the first member leads the name.
        let first = &before.tags[0];
        assert!(
            named.name.to_lowercase().starts_with(first.as_str()),
            "{} / {first}",
            named.name
        );
    }
    assert_eq!(map.suggestions.len(), map.noise.len());
}

#[test]
fn cli_dry_run_does_not_touch_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let (p, before) = draft(dir.path());
    let server = serve(vec![], Script::Good);
    let out = Command::new(env!("CARGO_BIN_EXE_musav"))
        .args([
            "name",
            "--dry-run",
            "--llm-model",
            "m",
            "--llm-url",
            &server.url,
            "--labels",
        ])
        .arg(&p)
        .env("HOME", dir.path())
        .env("MUSAV_CACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[llm (m, grounded, 3/3 agree)]"),
        "{stdout}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

// --- naming modes, several answers, noise ids ---

/// The grounded candidates a request offers (the schema's enum).
fn names_offered(request: &Value) -> Vec<String> {
    offered(request, "name").expect("a grounded request offers candidates")
}

fn is_naming(request: &Value) -> bool {
    request["response_format"]["json_schema"]["name"] == "label_choice"
        || request["messages"][0]["content"]
            .as_str()
            .is_some_and(|p| p.contains("describes the songs best"))
}

#[test]
fn grounded_requests_offer_the_members_as_an_enum_and_the_answer_is_kept_with_its_provenance() {
    let (ds, map) = shipped();
    let server = serve(vec![], Script::Good);
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| f.samples = Some(1));
    let out = name_labels(&ds, &map, &s, None).unwrap();
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let seen = server.seen.lock().unwrap();
    for label in &map.labels {
        let request = seen
            .iter()
            .filter(|r| is_naming(r))
            .find(|r| {
                let c = names_offered(r);
                c.len() >= label.tags.len().min(2) && c[0].eq_ignore_ascii_case(&label.tags[0])
            })
            .unwrap_or_else(|| panic!("no request offers label {}'s tags", label.id));
        let c = names_offered(request);
        // Singles in track-count order (the map lists members that way), then pairs.
        for (cand, tag) in c.iter().zip(&label.tags) {
            assert!(cand.eq_ignore_ascii_case(tag), "{c:?} / {:?}", label.tags);
        }
        if label.tags.len() >= 2 {
            assert!(c.iter().any(|x| x.contains(" & ")), "{c:?}");
        }
        let prompt = request["messages"][0]["content"].as_str().unwrap();
        assert!(prompt.contains(&c.join(", ")), "{prompt}");
        let (_, name, by) = out.names.iter().find(|(id, _, _)| *id == label.id).unwrap();
        assert_eq!(name, &c[0]);
        assert_eq!(by.as_str(), "llm");
        assert_eq!(by.mode.as_deref(), Some("grounded"));
        assert_eq!(by.agreement.as_deref(), Some("1/1"));
    }
    // Noise questions offer the label ids and "noise", and the answer (an id) is kept as one.
    let noise = seen.iter().find(|r| !is_naming(r)).unwrap();
    let mut want: Vec<String> = map.labels.iter().map(|l| l.id.to_string()).collect();
    want.push("noise".into());
    assert_eq!(offered(noise, "group").unwrap(), want);
    assert!(
        out.suggestions
            .iter()
            .all(|s| s.label == Some(map.labels[0].id))
    );
}

#[test]
fn an_answer_outside_the_candidates_falls_back_with_the_reason() {
    let (ds, map) = shipped();
    // An endpoint that ignores the schema and answers in its own words.
    let server = serve(vec![], Script::Content("{\"name\": \"Jonathan\"}".into()));
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| f.samples = Some(1));
    let out = name_labels(&ds, &map, &s, Some(&[0])).unwrap();
    assert_eq!(out.names[0].2.as_str(), "fallback");
    assert!(
        out.warnings
            .iter()
            .any(|w| w.starts_with("label 0") && w.contains("not one of the label's candidates")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn free_mode_rejects_ungrounded_generic_and_short_names_each_with_its_reason() {
    let (ds, map) = shipped();
    let answers = ["Jonathan", "Moods and Themes", "Jm"];
    for (i, answer) in answers.iter().enumerate() {
        let server = serve(vec![], Script::Content(json!({"name": answer}).to_string()));
        let cache = tempfile::tempdir().unwrap();
        let s = settings(Some(&server.url), cache.path(), |f| {
            f.naming = Some("free".into());
            f.samples = Some(1);
        });
        let out = name_labels(&ds, &map, &s, Some(&[i as u32])).unwrap();
        assert_eq!(out.names[0].2.as_str(), "fallback", "{answer}");
        let reason = ["shares no word", "fit any label", "too short"][i];
        assert!(
            out.warnings.iter().any(|w| w.contains(reason)),
            "{answer}: {:?}",
            out.warnings
        );
    }
    // A name in the label's own words passes.
    let server = serve(vec![], Script::Good);
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| {
        f.naming = Some("free".into())
    });
    let out = name_labels(&ds, &map, &s, None).unwrap();
    assert!(
        out.names.iter().all(|(_, _, by)| by == "llm"),
        "{:?}",
        out.warnings
    );
    assert_eq!(out.names[0].2.mode.as_deref(), Some("free"));
}

#[test]
fn several_answers_come_from_one_request_with_n_where_the_server_honours_it() {
    let (ds, map) = shipped();
    let server = serve(vec![], Script::Good);
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| f.samples = Some(3));
    let out = name_labels(&ds, &map, &s, Some(&[2])).unwrap();
    assert_eq!(out.names[0].2.agreement.as_deref(), Some("3/3"));
    let seen = server.seen.lock().unwrap();
    let naming: Vec<&Value> = seen.iter().filter(|r| is_naming(r)).collect();
    assert_eq!(naming.len(), 2, "{naming:?}");
    assert_eq!(naming[0]["temperature"], 0.0);
    assert!(naming[0].get("n").is_none());
    assert_eq!(naming[1]["n"], 2);
    assert!(naming[1]["temperature"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_server_that_ignores_or_rejects_n_is_asked_again_with_other_seeds_and_the_majority_wins() {
    let (ds, map) = shipped();
    // Rejects `n` with a 400; the deterministic answer is the first candidate, every sampled one
    // the second: the second wins two to one.
    let reply: llm_util::Reply = Arc::new(|r: &Value| {
        if r.get("n").is_some() {
            return (400, "{\"error\": \"n must be 1\"}".into());
        }
        if !is_naming(r) {
            return (
                200,
                completion(&json!({"group": "noise", "reason": "x"}).to_string()),
            );
        }
        let c = names_offered(r);
        let pick = if r["temperature"] == 0.0 {
            &c[0]
        } else {
            &c[1]
        };
        (200, completions(&[json!({"name": pick}).to_string()]))
    });
    let server = serve(vec![], Script::Reply(reply));
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| {
        f.samples = Some(3);
        f.concurrency = Some(1);
    });
    let out = name_labels(&ds, &map, &s, Some(&[1])).unwrap();
    let (_, name, by) = &out.names[0];
    let second = {
        let seen = server.seen.lock().unwrap();
        names_offered(seen.iter().find(|r| is_naming(r)).unwrap())[1].clone()
    };
    assert_eq!(name, &second);
    assert_eq!(by.agreement.as_deref(), Some("2/3"));
    let seen = server.seen.lock().unwrap();
    let naming: Vec<&Value> = seen.iter().filter(|r| is_naming(r)).collect();
    // Deterministic, then n=2 (rejected) and the same without n, then one more seed.
    assert_eq!(naming.len(), 4, "{naming:?}");
    assert_eq!(naming[1]["n"], 2);
    assert!(naming[2].get("n").is_none() && naming[3].get("n").is_none());
    assert_ne!(naming[2]["seed"], naming[3]["seed"]);
    // Later requests do not ask for n again.
    assert!(seen.iter().skip(2).all(|r| r.get("n").is_none()));
    // Noise answers were "noise": every tag stays, with the agreement in the reason.
    assert!(out.suggestions.iter().all(|s| s.label.is_none()));
    assert!(
        out.suggestions[0].reason.contains("3/3 agree"),
        "{:?}",
        out.suggestions[0]
    );

    // A rerun is answered from the cache alone and decides the same.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let s2 = settings(Some(&dead_url), cache.path(), |f| f.samples = Some(3));
    let again = name_labels(&ds, &map, &s2, Some(&[1])).unwrap();
    assert_eq!(again.names, out.names);
    assert_eq!(again.stats.fetched, 0);
}

#[test]
fn a_noise_answer_naming_an_unknown_label_id_stays_noise_with_a_warning() {
    let (ds, map) = shipped();
    let reply: llm_util::Reply = Arc::new(|r: &Value| {
        let content = if is_naming(r) {
            json!({"name": names_offered(r)[0]})
        } else {
            json!({"group": "99", "reason": "x"})
        };
        (200, completion(&content.to_string()))
    });
    let server = serve(vec![], Script::Reply(reply));
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&server.url), cache.path(), |f| f.samples = Some(1));
    let out = name_labels(&ds, &map, &s, None).unwrap();
    assert!(out.suggestions.iter().all(|s| s.label.is_none()));
    let about_noise = out
        .warnings
        .iter()
        .filter(|w| w.starts_with("noise tag") && w.contains("\"99\""))
        .count();
    assert_eq!(about_noise, map.noise.len(), "{:?}", out.warnings);
}
