//! `musav serve` as users run it: the real binary on 127.0.0.1 port 0, driven with reqwest (and a
//! raw socket where reqwest would hide what the server does). Answers equal `musav predict`'s for
//! WAV, MP3, OGG and FLAC; bad input never stops the server; the key; overload; SIGTERM during a
//! request; reload while a client keeps asking.

mod serve_util;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::{Body, Client};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

/// A running `musav serve`; stopped (by its own pid) when dropped.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = serve_util::musav();
        cmd.arg("serve")
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("MUSAV_API_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("musav serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let base = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}: {}", log.lock().unwrap()))
            .to_string();
        Server { child, base, log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    fn wait_ready(&self, client: &Client) -> Value {
        let t0 = Instant::now();
        loop {
            if let Ok(r) = client.get(self.url("/readyz")).send()
                && r.status() == 200
            {
                return r.json().unwrap();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "never ready: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The log once it holds `line`: a request's line is written after its answer is sent, so
    /// the client can read the answer before the line is there (CI once caught exactly that).
    fn log_with(&self, line: &str) -> String {
        let t0 = Instant::now();
        loop {
            let log = self.log();
            if log.contains(line) {
                return log;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "no {line:?} in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(t0.elapsed() < within, "did not exit: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

fn post_raw(c: &Client, url: &str, ct: &str, bytes: Vec<u8>) -> (u16, Value) {
    let r = c
        .post(url)
        .header(CONTENT_TYPE, ct)
        .body(bytes)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn post_file(c: &Client, url: &str, ct: &str, path: &Path) -> (u16, Value) {
    post_raw(c, url, ct, std::fs::read(path).unwrap())
}

fn post_multipart(c: &Client, url: &str, parts: &[(&str, &str, &[u8])]) -> (u16, Value) {
    let (ct, body) = serve_util::multipart_body(parts);
    post_raw(c, url, &ct, body)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn every_format_answers_as_musav_predict_does() {
    let fx = serve_util::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let wav = fx.wavs()[1].clone();
    let files: Vec<(PathBuf, &str)> = vec![
        (wav.clone(), "audio/wav"),
        (serve_util::encode(&wav, "mp3", tmp.path()), "audio/mpeg"),
        (serve_util::encode(&wav, "ogg", tmp.path()), "audio/ogg"),
        (serve_util::encode(&wav, "flac", tmp.path()), "audio/flac"),
    ];
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let cli = serve_util::cli_predict(&fx.run_a(), &paths, 10);
    assert_eq!(cli.len(), 4);
    let run_a = fx.run_a();
    let server = Server::start(&["--run", run_a.to_str().unwrap()], &[]);
    let c = client();
    server.wait_ready(&c);
    let url = server.url("/v1/predict?top_k=10");
    for ((path, ct), want) in files.iter().zip(&cli) {
        let (s, raw) = post_file(&c, &url, ct, path);
        assert_eq!(s, 200, "{}: {raw}", path.display());
        serve_util::assert_same_scores(&raw, want, 1e-5);
        assert_eq!(
            raw["segments"].as_array().unwrap().len(),
            want["segments"].as_array().unwrap().len()
        );
        assert_eq!(raw["warnings"], want["warnings"], "{}", path.display());
        let name = path.file_name().unwrap().to_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let (s, mp) = post_multipart(&c, &url, &[("audio", name, &bytes)]);
        assert_eq!(s, 200, "{mp}");
        serve_util::assert_same_scores(&mp, want, 1e-5);
        // Sniffed from the bytes alone.
        let (s, oct) = post_file(&c, &url, "application/octet-stream", path);
        assert_eq!(s, 200, "{oct}");
        serve_util::assert_same_scores(&oct, want, 1e-5);
    }
    // The encodings are of one clip: the same single label throughout.
    let top: Vec<&Value> = cli.iter().map(|a| &a["top_label"]["id"]).collect();
    assert!(top.iter().all(|t| *t == top[0]), "{top:?}");

    // A batch with one good and one bad part.
    let good = std::fs::read(&files[1].0).unwrap();
    let (s, v) = post_multipart(
        &c,
        &server.url("/v1/predict/batch?top_k=10"),
        &[
            ("audio", "good.mp3", &good),
            ("audio", "bad.mp3", b"ID3 but nothing after"),
        ],
    );
    assert_eq!(s, 200, "{v}");
    serve_util::assert_same_scores(&v["results"][0]["ok"], &cli[1], 1e-5);
    assert_eq!(v["results"][1]["error"]["code"], "unsupported_audio", "{v}");
    server.log_with("POST /v1/predict/batch 200");
}

/// Sends headers declaring `declared` bytes and only a few of them; returns the status line.
fn declared_too_long(addr: &str, declared: u64) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /v1/predict HTTP/1.1\r\nHost: {addr}\r\nContent-Type: audio/wav\r\nContent-Length: {declared}\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let n = s
        .read(&mut buf)
        .expect("an answer before the body was sent");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn bad_inputs_get_clear_errors_and_the_server_keeps_serving() {
    let fx = serve_util::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let run_a = fx.run_a();
    let server = Server::start(
        &[
            "--run",
            run_a.to_str().unwrap(),
            "--max-upload-mb",
            "2",
            "--max-seconds",
            "60",
        ],
        &[],
    );
    let c = client();
    server.wait_ready(&c);
    let url = server.url("/v1/predict");
    let wav = fx.wavs()[0].clone();
    let mp3 = std::fs::read(serve_util::encode(&wav, "mp3", tmp.path())).unwrap();
    let short = tmp.path().join("short.wav");
    serve_util::tiled_wav(&wav, 1.0, &short);
    let long = tmp.path().join("long.wav");
    serve_util::tiled_wav(&wav, 70.0, &long);
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "/v1/predict",
            "audio/wav",
            b"just text".to_vec(),
            415,
            "unsupported_audio",
        ),
        (
            "/v1/predict",
            "audio/mpeg",
            mp3[..400].to_vec(),
            415,
            "unsupported_audio",
        ),
        (
            "/v1/predict",
            "audio/mpeg",
            Vec::new(),
            415,
            "unsupported_audio",
        ),
        (
            "/v1/predict",
            "text/plain",
            b"hello".to_vec(),
            415,
            "unsupported_audio",
        ),
        (
            "/v1/predict",
            "audio/wav",
            std::fs::read(&short).unwrap(),
            422,
            "unusable_audio",
        ),
        (
            "/v1/predict",
            "audio/wav",
            std::fs::read(&long).unwrap(),
            422,
            "unusable_audio",
        ),
        (
            "/v1/predict?top_k=-1",
            "audio/mpeg",
            mp3.clone(),
            400,
            "bad_query",
        ),
        (
            "/v1/predict",
            "multipart/form-data; boundary=zz",
            b"--zz\r\nbroken".to_vec(),
            400,
            "bad_multipart",
        ),
        (
            "/v1/predict",
            "audio/wav",
            vec![1u8; 3 << 20],
            413,
            "payload_too_large",
        ),
    ];
    for (path, ct, body, status, want) in cases {
        let (s, v) = post_raw(&c, &server.url(path), ct, body);
        assert_eq!((s, code(&v)), (status, want), "{path} {ct}: {v}");
        let (s, v) = post_raw(&c, &url, "audio/mpeg", mp3.clone());
        assert_eq!(s, 200, "after a {status}: {v}");
    }
    // A declared length over the limit is refused before the body is sent.
    let line = declared_too_long(&server.addr(), 1 << 30);
    assert!(line.contains("413"), "{line}");
    let (s, _) = post_raw(&c, &url, "audio/mpeg", mp3);
    assert_eq!(s, 200);
    // One log line per request; no key material, no paths of uploads.
    server.log_with("POST /v1/predict 415");
    server.log_with("POST /v1/predict 413");
}

#[test]
fn the_key_is_required_on_v1_when_set() {
    let fx = serve_util::fixture();
    let run_a = fx.run_a();
    let key = "k3y-for-tests-only";
    let server = Server::start(
        &["--run", run_a.to_str().unwrap()],
        &[("MUSAV_API_KEY", key)],
    );
    let c = client();
    server.wait_ready(&c);
    let wav = std::fs::read(&fx.wavs()[0]).unwrap();
    let send = |auth: Option<&str>| {
        let mut r = c
            .post(server.url("/v1/predict"))
            .header(CONTENT_TYPE, "audio/wav")
            .body(wav.clone());
        if let Some(a) = auth {
            r = r.header(AUTHORIZATION, a);
        }
        let r = r.send().unwrap();
        (
            r.status().as_u16(),
            r.json::<Value>().unwrap_or(Value::Null),
        )
    };
    let (s, v) = send(None);
    assert_eq!((s, code(&v)), (401, "unauthorized"));
    let (s, v) = send(Some("Bearer wrong"));
    assert_eq!((s, code(&v)), (401, "unauthorized"));
    let (s, v) = send(Some(&format!("Bearer {key}")));
    assert_eq!(s, 200, "{v}");
    assert_eq!(c.get(server.url("/healthz")).send().unwrap().status(), 200);
    assert_eq!(c.get(server.url("/metrics")).send().unwrap().status(), 200);
    // Every request's line is in (the last one sent), and none holds the key.
    let log = server.log_with("GET /metrics 200");
    assert!(!log.contains(key), "the key must never be logged");
}

#[test]
fn sixteen_at_once_with_a_queue_of_four_get_answers_or_503_only() {
    let fx = serve_util::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let run_a = fx.run_a();
    let server = Server::start(
        &[
            "--run",
            run_a.to_str().unwrap(),
            "--workers",
            "1",
            "--queue",
            "4",
        ],
        &[],
    );
    let c = client();
    server.wait_ready(&c);
    // A minute of audio keeps the one worker busy while the others arrive.
    let long = serve_util::tiled_wav(&fx.wavs()[0], 60.0, &tmp.path().join("long.wav"));
    let bytes = Arc::new(std::fs::read(long).unwrap());
    let barrier = Arc::new(Barrier::new(16));
    let url = server.url("/v1/predict");
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let (bytes, barrier, url) = (bytes.clone(), barrier.clone(), url.clone());
            std::thread::spawn(move || {
                let c = client();
                barrier.wait();
                let r = c
                    .post(&url)
                    .header(CONTENT_TYPE, "audio/wav")
                    .body(bytes.to_vec())
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                let retry = r.headers().contains_key("retry-after");
                let v: Value = r.json().unwrap();
                (status, retry, v)
            })
        })
        .collect();
    let results: Vec<(u16, bool, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let busy = results
        .iter()
        .filter(|r| r.0 == 503 && r.1 && code(&r.2) == "busy")
        .count();
    assert_eq!(ok + busy, 16, "only answers and 503 busy: {results:?}");
    assert!(ok >= 1 && busy >= 1, "{ok} answered, {busy} refused");
    for _ in 0..3 {
        let (s, _) = post_raw(&c, &url, "audio/wav", bytes.to_vec());
        assert_eq!(s, 200);
    }
}

/// Yields `total` bytes of a WAV slowly, so the request is still in flight when the test acts.
struct Slow {
    data: Vec<u8>,
    pos: usize,
    pause: Duration,
}

impl Read for Slow {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.data.len() {
            return Ok(0);
        }
        std::thread::sleep(self.pause);
        let n = buf.len().min(16 << 10).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let fx = serve_util::fixture();
    let run_a = fx.run_a();
    let mut server = Server::start(&["--run", run_a.to_str().unwrap()], &[]);
    let c = client();
    server.wait_ready(&c);
    let data = std::fs::read(&fx.wavs()[0]).unwrap();
    let len = data.len() as u64;
    let url = server.url("/v1/predict");
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    let request = std::thread::spawn(move || {
        let slow = Slow {
            data,
            pos: 0,
            pause: Duration::from_millis(150),
        };
        flag.store(true, Ordering::SeqCst);
        let r = client()
            .post(&url)
            .header(CONTENT_TYPE, "audio/wav")
            .body(Body::sized(slow, len))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(400));
    server.signal("-TERM");
    let (status, answer) = request.join().unwrap();
    assert_eq!(status, 200, "{answer}\n{}", server.log());
    assert_eq!(answer["model"]["run"], "run_a");
    let exit = server.wait_exit(Duration::from_secs(30));
    assert!(exit.success(), "{exit:?}\n{}", server.log());
    assert!(server.log().contains("stopping"), "{}", server.log());
}

#[test]
fn a_finished_run_replaces_the_served_one_without_a_failed_request() {
    let fx = serve_util::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    serve_util::copy_dir(&fx.run_a(), &runs.join("run_a"));
    let server = Server::start(&["--runs", runs.to_str().unwrap(), "--poll-s", "0.2"], &[]);
    let c = client();
    assert_eq!(server.wait_ready(&c)["run"], "run_a");
    let wav = std::fs::read(&fx.wavs()[0]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::<(u16, String)>::new()));
    let looper = {
        let (stop, seen, url, wav) = (
            stop.clone(),
            seen.clone(),
            server.url("/v1/predict"),
            wav.clone(),
        );
        std::thread::spawn(move || {
            let c = client();
            while !stop.load(Ordering::SeqCst) {
                let (s, v) = post_raw(&c, &url, "audio/wav", wav.clone());
                let run = v["model"]["run"].as_str().unwrap_or("").to_string();
                seen.lock().unwrap().push((s, run));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    // A retrain finishing: the run appears whole (staged, then renamed into place).
    let staged = tmp.path().join("staging-b");
    serve_util::copy_dir(&fx.run_b(), &staged);
    std::fs::rename(&staged, runs.join("run_b")).unwrap();
    let t0 = Instant::now();
    while !seen.lock().unwrap().iter().any(|(_, r)| r == "run_b") {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "never switched: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));

    // A broken run is refused with its reason; B keeps answering.
    let staged = tmp.path().join("staging-c");
    std::fs::create_dir_all(&staged).unwrap();
    std::fs::write(staged.join("run.json"), "{ truncated").unwrap();
    std::fs::write(staged.join("model.mpk"), "not weights").unwrap();
    std::fs::rename(&staged, runs.join("run_c")).unwrap();
    let r = c.post(server.url("/v1/model/reload")).send().unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().unwrap();
    assert_eq!(code(&v), "run_refused", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("run_c"),
        "{v}"
    );
    std::thread::sleep(Duration::from_millis(600));
    stop.store(true, Ordering::SeqCst);
    looper.join().unwrap();

    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().all(|(s, _)| *s == 200),
        "a request failed: {seen:?}"
    );
    let first_b = seen.iter().position(|(_, r)| r == "run_b").unwrap();
    assert!(
        first_b > 0 && seen[..first_b].iter().all(|(_, r)| r == "run_a"),
        "{seen:?}"
    );
    assert!(
        seen[first_b..].iter().all(|(_, r)| r == "run_b"),
        "{seen:?}"
    );
    assert_eq!(server.wait_ready(&c)["run"], "run_b");
}

/// npm's audio-lena (one real recording, 44.1 kHz mono, in many encodings), which scripts/test.sh
/// installs into the cache.
fn lena_dir() -> PathBuf {
    let cache = std::env::var_os("MUSAV_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/musav")
        });
    cache.join("npm-audio/node_modules/audio-lena")
}

#[test]
fn a_real_recording_in_every_encoding_answers_as_musav_predict_does() {
    let dir = lena_dir();
    assert!(
        dir.join("lena.wav").is_file(),
        "{}: missing; scripts/test.sh installs npm's audio-lena there",
        dir.display()
    );
    let fx = serve_util::fixture();
    let names = ["lena.wav", "lena.mp3", "lena.ogg", "lena.flac"];
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    let cli = serve_util::cli_predict(&fx.run_a(), &paths, 10);
    assert_eq!(cli.len(), 4);
    let run_a = fx.run_a();
    let server = Server::start(&["--run", run_a.to_str().unwrap()], &[]);
    let c = client();
    server.wait_ready(&c);
    let url = server.url("/v1/predict?top_k=10");
    let mut answers = Vec::new();
    for (path, want) in paths.iter().zip(&cli) {
        let (s, v) = post_file(&c, &url, "application/octet-stream", path);
        assert_eq!(s, 200, "{}: {v}", path.display());
        serve_util::assert_same_scores(&v, want, 1e-5);
        assert_eq!(v["audio"]["sample_rate"], 44100, "{v}");
        assert_eq!(v["audio"]["channels"], 1, "{v}");
        let seconds = v["audio"]["duration_s"].as_f64().unwrap();
        assert!((seconds - 541_184.0 / 44_100.0).abs() < 0.1, "{seconds}");
        assert!(v["audio"]["chunks"].as_u64().unwrap() >= 4, "{v}");
        answers.push(v);
    }
    // WAV and FLAC hold the same samples: the same answer, up to the two decoders' integer-to-float
    // scaling (measured: 8e-6 on valence).
    serve_util::assert_same_scores(&answers[0], &answers[3], 1e-4);
    // Encodings musav does not decode are refused, and the server goes on.
    for other in ["lena.opus", "lena.m4a"] {
        let (s, v) = post_file(&c, &url, "application/octet-stream", &dir.join(other));
        assert_eq!((s, code(&v)), (415, "unsupported_audio"), "{other}: {v}");
    }
    let (s, _) = post_file(&c, &url, "audio/mpeg", &dir.join("lena.mp3"));
    assert_eq!(s, 200);
}
