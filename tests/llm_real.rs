//! Naming the shipped clusters with a real model behind llama.cpp's OpenAI-compatible server.
//!
//! Start it with `eval "$(scripts/llm-server.sh start)"` (sets MUSAV_TEST_LLM_URL and
//! MUSAV_TEST_LLM_MODEL). Under CI a missing server is a failure; elsewhere the test says why it
//! skips. Name quality is measured by `scripts/name-quality.sh`, not here: these tests check what
//! must hold whatever the model says.

mod llm_util;

use std::collections::HashSet;
use std::process::Command;

use llm_util::{Script, serve, settings, shipped};
use musav::curation::labels::LabelMap;
use musav::llm::candidates::label_candidates;
use musav::llm::parse::{check_free, validate_name};
use musav::llm::words::Vocabulary;
use musav::llm::{apply, name_labels};

fn endpoint() -> Option<(String, String)> {
    let url = std::env::var("MUSAV_TEST_LLM_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let model = std::env::var("MUSAV_TEST_LLM_MODEL").unwrap_or_else(|_| "default".into());
    match url {
        Some(u) => Some((u, model)),
        None if std::env::var_os("CI").is_some() => panic!(
            "CI is set but MUSAV_TEST_LLM_URL is not: run `scripts/llm-server.sh install` and \
             `eval \"$(scripts/llm-server.sh start)\"` before the tests"
        ),
        None => {
            eprintln!(
                "skipping: MUSAV_TEST_LLM_URL is not set (eval \"$(scripts/llm-server.sh start)\")"
            );
            None
        }
    }
}

/// Grounded (the default): every label gets a distinct name that is one of its own candidates,
/// every noise answer is a label id or "noise", and a rerun needs no server.
#[test]
fn a_real_model_names_every_shipped_cluster_and_a_rerun_needs_no_server() {
    let Some((url, model)) = endpoint() else {
        return;
    };
    let (ds, map) = shipped();
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&url), cache.path(), |f| {
        f.model = Some(model.clone());
        f.timeout = Some(std::time::Duration::from_secs(120));
    });
    let first = name_labels(&ds, &map, &s, None).unwrap();
    for w in &first.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("names: {:?}", first.names);
    eprintln!("stats: {:?}", first.stats);

    // Every label named by the model with one of its own candidates, all distinct.
    assert_eq!(first.names.len(), map.labels.len());
    let mut seen = HashSet::new();
    for (id, name, by) in &first.names {
        let label = map.labels.iter().find(|l| l.id == *id).unwrap();
        assert!(seen.insert(name.to_lowercase()), "duplicate name {name:?}");
        assert_eq!(by.as_str(), "llm", "label {id}: {:?}", first.warnings);
        assert_eq!(by.mode.as_deref(), Some("grounded"));
        assert_eq!(by.model.as_deref(), Some(model.as_str()));
        let candidates = label_candidates(&ds, &label.tags);
        assert!(
            candidates.contains(name),
            "label {id}: {name:?} is not among {candidates:?}"
        );
    }
    // A decision for every noise tag, each a label id or "noise" (no answer rejected).
    let noise: Vec<&str> = first.suggestions.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(
        noise,
        map.noise.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(
        !first.warnings.iter().any(|w| w.starts_with("noise tag")),
        "{:?}",
        first.warnings
    );
    for s in &first.suggestions {
        assert!(
            s.label
                .is_none_or(|id| map.labels.iter().any(|l| l.id == id)),
            "{s:?}"
        );
    }
    assert_eq!(first.stats.fetched, first.stats.requests);
    let mut named = map.clone();
    apply(&mut named, &first);
    named.validate().unwrap();

    // Rerun against a port where nothing listens: every answer comes from the cache.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let s2 = settings(Some(&dead_url), cache.path(), |f| {
        f.model = Some(model.clone())
    });
    let second = name_labels(&ds, &map, &s2, None).unwrap();
    eprintln!("cached rerun: {:?}", second.stats);
    assert_eq!(second.names, first.names);
    assert_eq!(second.suggestions, first.suggestions);
    assert_eq!(second.stats.cache_hits, second.stats.requests);
    assert_eq!(second.stats.fetched, 0);
}

/// Free mode: every name the model gives and musav keeps passes the stricter check; the rest fall
/// back with a reason. Prints the names (the README's free-mode table comes from the script).
#[test]
fn free_mode_keeps_only_grounded_model_names() {
    let Some((url, model)) = endpoint() else {
        return;
    };
    let (ds, map) = shipped();
    let cache = tempfile::tempdir().unwrap();
    let s = settings(Some(&url), cache.path(), |f| {
        f.model = Some(model.clone());
        f.timeout = Some(std::time::Duration::from_secs(120));
        f.naming = Some("free".into());
    });
    let out = name_labels(&ds, &map, &s, None).unwrap();
    eprintln!("free names: {:?}", out.names);
    let table = Vocabulary::from_tag_table(&musav::dataset::va::default_va_path()).unwrap();
    let mut seen = HashSet::new();
    for (id, name, by) in &out.names {
        assert!(seen.insert(name.to_lowercase()), "duplicate name {name:?}");
        let label = map.labels.iter().find(|l| l.id == *id).unwrap();
        if by == "llm" {
            assert_eq!(by.mode.as_deref(), Some("free"));
            assert_eq!(validate_name(name).as_deref(), Ok(name.as_str()));
            let mut v = table.clone();
            v.extend(label.tags.iter().map(String::as_str));
            // The co-occurring tags are in the table too, so members and table suffice here.
            assert_eq!(check_free(name, &v), Ok(()), "{name:?}");
        } else {
            assert_eq!(by.as_str(), "fallback");
            assert!(
                out.warnings
                    .iter()
                    .any(|w| w.starts_with(&format!("label {id} "))),
                "label {id} fell back without a reason: {:?}",
                out.warnings
            );
        }
    }
    let mut named = map.clone();
    apply(&mut named, &out);
    named.validate().unwrap();
}

/// The server goes away after a few answers (a proxy in front of it stops answering): `musav name`
/// still writes a whole map, the early labels named by the model, the rest from their tags.
#[test]
fn the_map_stays_whole_when_the_server_dies_mid_run() {
    let Some((url, model)) = endpoint() else {
        return;
    };
    let proxy = serve(vec![Script::Forward(url); 6], Script::Close);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("labels.toml");
    let draft = shipped().1;
    draft.save(&p).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_musav"))
        .args(["name", "--labels"])
        .arg(&p)
        .args(["--llm-url", &proxy.url, "--llm-model", &model])
        .args([
            "--llm-timeout",
            "120",
            "--llm-retries",
            "1",
            "--llm-backoff-ms",
            "1",
        ])
        .args(["--llm-concurrency", "1"])
        .env("HOME", dir.path())
        .env("MUSAV_CACHE", dir.path().join("cache"))
        .env_remove("MUSAV_LLM_URL")
        .env_remove("MUSAV_LLM_CONFIG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("unavailable")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    let named = LabelMap::load(&p).unwrap();
    assert_eq!(named.labels.len(), draft.labels.len());
    let by: Vec<&str> = named.labels.iter().map(|l| l.named_by.as_str()).collect();
    // Six answers: the deterministic and the sampled request of the first three labels.
    assert_eq!(by[..3], ["llm", "llm", "llm"], "{err}");
    assert!(by[3..].iter().all(|b| *b == "fallback"), "{by:?}");
    for (a, b) in named.labels.iter().zip(&draft.labels) {
        assert_eq!(a.tags, b.tags);
    }
    assert_eq!(named.noise, draft.noise);
    assert_eq!(named.suggestions.len(), named.noise.len());
}
