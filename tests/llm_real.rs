//! Naming the shipped clusters with a real model behind llama.cpp's OpenAI-compatible server.
//!
//! Start it with `eval "$(scripts/llm-server.sh start)"` (sets MUSAV_TEST_LLM_URL and
//! MUSAV_TEST_LLM_MODEL). Under CI a missing server is a failure; elsewhere the test says why it
//! skips.

mod llm_util;

use std::collections::HashSet;

use llm_util::{settings, shipped};
use musav::llm::parse::validate_name;
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

    // Structure: one valid, distinct name per label; a decision for every noise tag.
    assert_eq!(first.names.len(), map.labels.len());
    let mut seen = HashSet::new();
    for (id, name, by) in &first.names {
        assert!(map.labels.iter().any(|l| l.id == *id));
        assert!(seen.insert(name.to_lowercase()), "duplicate name {name:?}");
        assert!(by == "llm" || by == "fallback", "{by}");
        if by == "llm" {
            assert_eq!(validate_name(name).as_deref(), Ok(name.as_str()));
        }
    }
    assert!(
        first.names.iter().any(|(_, _, by)| by == "llm"),
        "the model named no label: {:?}",
        first.warnings
    );
    let noise: Vec<&str> = first.suggestions.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(
        noise,
        map.noise.iter().map(String::as_str).collect::<Vec<_>>()
    );
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
