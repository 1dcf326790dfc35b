//! Shared by the `llm_*` test binaries: the shipped data as a label map, isolated settings, and a
//! scripted local HTTP server standing in for an OpenAI-compatible endpoint.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use musav::curation::labels::LabelMap;
use musav::curation::{CurationParams, curate};
use musav::dataset::{Dataset, LoadOptions, default_metadata_path};
use musav::llm::{LlmFlags, LlmSettings};
use serde_json::{Value, json};

pub fn shipped() -> (Dataset, LabelMap) {
    let ds = Dataset::load(&default_metadata_path(), &LoadOptions::default()).unwrap();
    let c = curate(&ds, &CurationParams::default()).unwrap();
    let map = LabelMap::from_curation(&c);
    (ds, map)
}

/// Settings that read nothing from the process environment or the user's config.
pub fn settings(url: Option<&str>, cache: &Path, tweak: impl FnOnce(&mut LlmFlags)) -> LlmSettings {
    let mut flags = LlmFlags {
        url: url.map(str::to_string),
        model: Some("test-model".into()),
        cache_dir: Some(cache.to_path_buf()),
        backoff: Some(Duration::from_millis(1)),
        timeout: Some(Duration::from_secs(10)),
        retries: Some(2),
        ..LlmFlags::default()
    };
    tweak(&mut flags);
    LlmSettings::resolve(&flags, &|_| None).unwrap()
}

/// A reply computed from the request: (status, raw body).
pub type Reply = Arc<dyn Fn(&Value) -> (u16, String) + Send + Sync>;

/// What the fake endpoint does with one request.
#[derive(Clone)]
pub enum Script {
    /// 200 with a chat completion whose content comes from [`good_content`], as many choices as
    /// the request's `n` asks for.
    Good,
    /// 200 with a chat completion holding this content (one choice, whatever `n` says).
    Content(String),
    /// Any status, extra headers, raw body.
    Raw(u16, Vec<(String, String)>, String),
    /// Read the request, never answer (until the test ends).
    Hang,
    /// A reply that depends on the request.
    Reply(Reply),
    /// Pass the request on to a real endpoint (its API base) and its reply back.
    Forward(String),
    /// Read the request and close the connection without a reply, as a server that died does.
    Close,
}

pub struct FakeServer {
    pub url: String,
    /// Bodies of the requests received, in order.
    pub seen: Arc<Mutex<Vec<Value>>>,
}

/// Serves `script` in order, then `then` for every further request.
pub fn serve(script: Vec<Script>, then: Script) -> FakeServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let queue = Arc::new(Mutex::new(VecDeque::from(script)));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let step = queue.lock().unwrap().pop_front().unwrap_or(then.clone());
            let log = log.clone();
            std::thread::spawn(move || handle(conn, step, &log));
        }
    });
    FakeServer { url, seen }
}

fn handle(mut conn: TcpStream, step: Script, log: &Mutex<Vec<Value>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut len = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let request: Value = serde_json::from_slice(&body).unwrap();
    log.lock().unwrap().push(request.clone());
    let (status, headers, text) = match step {
        Script::Good => {
            let n = request.get("n").and_then(Value::as_u64).unwrap_or(1) as usize;
            (200, vec![], completions(&vec![good_content(&request); n]))
        }
        Script::Content(c) => (200, vec![], completion(&c)),
        Script::Raw(s, h, b) => (s, h, b),
        Script::Hang => {
            std::thread::sleep(Duration::from_secs(30));
            return;
        }
        Script::Reply(f) => {
            let (s, b) = f(&request);
            (s, vec![], b)
        }
        Script::Forward(base) => {
            let resp = reqwest::blocking::Client::new()
                .post(format!("{base}/chat/completions"))
                .json(&request)
                .timeout(Duration::from_secs(300))
                .send();
            match resp {
                Ok(r) => (r.status().as_u16(), vec![], r.text().unwrap_or_default()),
                Err(_) => return,
            }
        }
        Script::Close => return,
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        text.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(text.as_bytes());
}

pub fn completion(content: &str) -> String {
    completions(&[content.to_string()])
}

/// A chat completion with one choice per content.
pub fn completions(contents: &[String]) -> String {
    let choices: Vec<Value> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"index": i, "message": {"role": "assistant", "content": c}}))
        .collect();
    json!({ "choices": choices }).to_string()
}

/// The `enum` the request's schema offers for `field`, if any.
pub fn offered(request: &Value, field: &str) -> Option<Vec<String>> {
    request["response_format"]["json_schema"]["schema"]["properties"][field]["enum"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
}

/// A plausible answer: a grounded question gets its first candidate, a free one "<first listed
/// member> mood"; a noise tag goes to the first group offered.
pub fn good_content(request: &Value) -> String {
    let prompt = request["messages"][0]["content"].as_str().unwrap();
    let schema = request["response_format"]["json_schema"]["name"].as_str();
    if schema == Some("noise_decision") || prompt.contains("Which group") {
        let first_group = offered(request, "group")
            .map(|g| g[0].clone())
            .or_else(|| {
                prompt.lines().find_map(|l| {
                    l.strip_prefix("- group ")
                        .and_then(|g| g.split(' ').next())
                        .map(str::to_string)
                })
            })
            .unwrap();
        json!({"group": first_group, "reason": "test"}).to_string()
    } else if let Some(candidates) = offered(request, "name") {
        json!({"name": candidates[0]}).to_string()
    } else {
        let first = prompt
            .split("tagged ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .unwrap();
        format!("```json\n{{\"name\": \"{first} mood\"}}\n```")
    }
}
