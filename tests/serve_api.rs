//! `musav serve` in-process (tower `oneshot` on the router `app` builds): every route, every error
//! status of the contract, and the JSON shapes, on a tiny trained run with a VA head.

mod serve_util;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use musav::serve::state::Served;
use musav::serve::{AppState, Limits, RunSource, app};
use serde_json::Value;
use tower::ServiceExt;

fn served(dir: &Path) -> Served {
    Served::load(dir).unwrap()
}

fn state_with(limits: Limits, key: Option<&str>, model: Option<&Path>) -> Arc<AppState> {
    let fx = serve_util::fixture();
    let st = AppState::new(limits, key, Some(RunSource::Run(fx.run_a())));
    if let Some(dir) = model {
        st.swap(served(dir));
    }
    Arc::new(st)
}

fn ready_state() -> Arc<AppState> {
    let fx = serve_util::fixture();
    state_with(Limits::default(), None, Some(&fx.run_a()))
}

async fn send(app: Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, json)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn raw(uri: &str, content_type: &str, bytes: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes))
        .unwrap()
}

fn multipart(uri: &str, parts: &[(&str, &str, &[u8])]) -> Request<Body> {
    let (ct, body) = serve_util::multipart_body(parts);
    raw(uri, &ct, body)
}

fn wav_bytes() -> Vec<u8> {
    std::fs::read(&serve_util::fixture().wavs()[0]).unwrap()
}

/// The first `seconds` of the fixture's first WAV.
fn short_wav(seconds: f32, dir: &Path) -> Vec<u8> {
    let mut r = hound::WavReader::open(&serve_util::fixture().wavs()[0]).unwrap();
    let spec = r.spec();
    let n = (seconds * spec.sample_rate as f32) as usize * spec.channels as usize;
    let samples: Vec<i32> = r.samples::<i32>().take(n).map(Result::unwrap).collect();
    let path = dir.join("short.wav");
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    std::fs::read(path).unwrap()
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn health_is_open_and_readiness_waits_for_a_model() {
    let st = state_with(Limits::default(), None, None);
    let (s, _, v) = send(app(st.clone()), get("/healthz")).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, h, v) = send(app(st.clone()), get("/readyz")).await;
    assert_error(s, &v, StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert!(h.contains_key(header::RETRY_AFTER));
    let (s, _, v) = send(
        app(st.clone()),
        raw("/v1/predict", "audio/wav", wav_bytes()),
    )
    .await;
    assert_error(s, &v, StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    let (s, _, v) = send(app(st.clone()), get("/v1/model")).await;
    assert_error(s, &v, StatusCode::SERVICE_UNAVAILABLE, "not_ready");

    st.swap(served(&serve_util::fixture().run_a()));
    let (s, _, v) = send(app(st.clone()), get("/readyz")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, serde_json::json!({"status": "ready", "run": "run_a"}));
}

#[tokio::test]
async fn the_model_card_describes_the_run_and_the_limits() {
    let st = ready_state();
    let (s, _, v) = send(app(st), get("/v1/model")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["run"], "run_a");
    assert!(!v["label_map_sha256"].as_str().unwrap().is_empty());
    let classes = v["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 3, "{v}");
    for c in classes {
        assert!(c["id"].is_u64() && c["name"].is_string(), "{c}");
        assert!(!c["tags"].as_array().unwrap().is_empty(), "{c}");
    }
    assert_eq!(v["va"]["loaded"], true);
    assert_eq!(v["va"]["input"], "levels");
    assert_eq!(v["va"]["scale"], serde_json::json!([0.0, 1.0]));
    let moods = v["va"]["moods"].as_array().unwrap();
    assert!(!moods.is_empty());
    assert!(
        moods
            .iter()
            .all(|m| m["word"].is_string() && m["valence"].is_f64())
    );
    assert_eq!(
        v["input"],
        // The test runs are trained with the default convention, which the card reports from run.json.
        serde_json::json!({"convention": "mtg", "sample_rate": 12000, "n_mels": 96, "chunk_frames": 141})
    );
    let f1 = v["validation"]["macro_f1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&f1), "{v}");
    assert_eq!(v["limits"]["max_upload_mb"], 50);
    assert_eq!(v["limits"]["workers"], 2);
    assert_eq!(v["limits"]["queue"], 8);
    assert_eq!(v["limits"]["api_key_required"], false);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn predict_answers_raw_and_multipart_alike_with_the_full_shape() {
    let st = ready_state();
    let wav = wav_bytes();
    let (s, _, v) = send(
        app(st.clone()),
        raw("/v1/predict?top_k=3", "audio/wav", wav.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let labels = v["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 3);
    assert_eq!(v["top_label"], labels[0]);
    let scores: Vec<f64> = labels
        .iter()
        .map(|l| l["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(
        (scores.iter().sum::<f64>() - 1.0).abs() < 1e-4,
        "all 3 classes: {scores:?}"
    );
    let va = &v["va"];
    for k in ["valence", "arousal"] {
        assert!((0.0..=1.0).contains(&va[k].as_f64().unwrap()), "{va}");
    }
    assert!(va["clamped"].is_boolean());
    assert!(va["quadrant"].as_str().unwrap().contains("valence"));
    assert_eq!(va["nearest_moods"].as_array().unwrap().len(), 3);
    // 7 s at 12 kHz: 329 frames, chunks of 141 at 0, 141 and (aligned to the end) 188.
    assert_eq!(v["audio"]["chunks"], 3, "{v}");
    assert_eq!(v["audio"]["sample_rate"], 12000);
    assert_eq!(v["audio"]["channels"], 1);
    assert!((v["audio"]["duration_s"].as_f64().unwrap() - 7.0).abs() < 0.01);
    let segs = v["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 3);
    assert_eq!(segs[0]["start_s"], 0.0);
    assert!((segs[1]["start_s"].as_f64().unwrap() - 141.0 * 256.0 / 12000.0).abs() < 1e-3);
    assert!(segs[2]["end_s"].as_f64().unwrap() <= 7.0);
    for seg in segs {
        assert!(seg["top_label"].is_string() && seg["score"].is_f64() && seg["valence"].is_f64());
    }
    assert_eq!(v["model"]["run"], "run_a");
    assert!(v["model"]["label_map_sha256"].is_string());
    for k in ["decode", "features", "inference", "total"] {
        assert!(v["timing_ms"][k].as_f64().unwrap() >= 0.0, "{v}");
    }
    assert!(v["warnings"].is_array());

    let (s, _, m) = send(
        app(st.clone()),
        multipart("/v1/predict?top_k=3", &[("audio", "clip.wav", &wav)]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    serve_util::assert_same_scores(&v, &m, 1e-6);

    // Sniffed from the bytes when the type says nothing; fewer labels and no segments on request.
    let (s, _, o) = send(
        app(st),
        raw(
            "/v1/predict?top_k=2&segments=false",
            "application/octet-stream",
            wav,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["labels"].as_array().unwrap().len(), 2);
    assert_eq!(o["segments"], serde_json::json!([]));
    assert_eq!(o["top_label"], v["top_label"]);
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let st = ready_state();
    let wav = wav_bytes();
    for q in ["top_k=0", "top_k=abc", "segments=maybe"] {
        let (s, _, v) = send(
            app(st.clone()),
            raw(&format!("/v1/predict?{q}"), "audio/wav", wav.clone()),
        )
        .await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, "bad_query");
    }
    let (s, _, v) = send(
        app(st.clone()),
        multipart("/v1/predict", &[("file", "clip.wav", &wav)]),
    )
    .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "missing_audio");
    let (s, _, v) = send(
        app(st.clone()),
        raw(
            "/v1/predict",
            "multipart/form-data; boundary=xyz",
            b"this is not multipart at all".to_vec(),
        ),
    )
    .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "bad_multipart");
    let (s, _, v) = send(
        app(st.clone()),
        raw("/v1/predict", "multipart/form-data", wav.clone()),
    )
    .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "bad_multipart");
    let (s, _, v) = send(app(st), raw("/v1/predict/batch", "audio/wav", wav)).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "bad_multipart");
}

#[tokio::test]
async fn the_key_guards_v1_only_and_must_match() {
    let fx = serve_util::fixture();
    let st = state_with(Limits::default(), Some("let-me-in"), Some(&fx.run_a()));
    let with_key = |key: Option<&str>| {
        let mut r = Request::get("/v1/model");
        if let Some(k) = key {
            r = r.header(header::AUTHORIZATION, k);
        }
        r.body(Body::empty()).unwrap()
    };
    for bad in [
        None,
        Some("Bearer nope"),
        Some("Bearer let-me-i"),
        Some("let-me-in"),
    ] {
        let (s, _, v) = send(app(st.clone()), with_key(bad)).await;
        assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let (s, _, v) = send(app(st.clone()), with_key(Some("Bearer let-me-in"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["limits"]["api_key_required"], true);
    let (s, _, v) = send(
        app(st.clone()),
        raw("/v1/predict", "audio/wav", wav_bytes()),
    )
    .await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app(st.clone())
        .oneshot(
            Request::post("/v1/model/reload")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    for open in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/",
        "/app.js",
        "/style.css",
        "/openapi.json",
    ] {
        let resp = app(st.clone()).oneshot(get(open)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413() {
    let fx = serve_util::fixture();
    let limits = Limits {
        max_upload_mb: 1,
        ..Limits::default()
    };
    let st = state_with(limits, None, Some(&fx.run_a()));
    let mut big = wav_bytes();
    big.resize((1 << 20) + 10, 0);
    // Declared too long: refused from the header (tests/serve_socket.rs sends an endless body).
    let req = Request::post("/v1/predict")
        .header(header::CONTENT_TYPE, "audio/wav")
        .header(header::CONTENT_LENGTH, big.len().to_string())
        .body(Body::from(big.clone()))
        .unwrap();
    let (s, _, v) = send(app(st.clone()), req).await;
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Without a declared length: counted as it streams in, raw and multipart.
    let (s, _, v) = send(
        app(st.clone()),
        raw("/v1/predict", "audio/wav", big.clone()),
    )
    .await;
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (s, _, v) = send(
        app(st.clone()),
        multipart("/v1/predict", &[("audio", "big.wav", &big)]),
    )
    .await;
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // And the server still answers.
    let (s, _, _) = send(app(st), raw("/v1/predict", "audio/wav", wav_bytes())).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn what_is_not_audio_is_415() {
    let st = ready_state();
    let tmp = tempfile::tempdir().unwrap();
    let mp3 = serve_util::encode(&serve_util::fixture().wavs()[0], "mp3", tmp.path());
    let truncated = std::fs::read(&mp3).unwrap()[..300].to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("audio/wav", b"this is a text file, not audio".to_vec()),
        ("text/plain", wav_bytes()),
        (
            "application/octet-stream",
            b"plain words, no magic bytes".to_vec(),
        ),
        ("audio/mpeg", Vec::new()),
        ("audio/mpeg", truncated),
    ];
    for (ct, bytes) in cases {
        let (s, _, v) = send(app(st.clone()), raw("/v1/predict", ct, bytes)).await;
        assert_error(
            s,
            &v,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_audio",
        );
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(!msg.contains("/tmp"), "no server paths in answers: {msg}");
    }
    let resp = app(st.clone())
        .oneshot(
            Request::post("/v1/predict")
                .body(Body::from(wav_bytes()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no Content-Type"
    );
    let (s, _, _) = send(app(st), raw("/v1/predict", "audio/wav", wav_bytes())).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn decodable_but_unusable_audio_is_422() {
    let fx = serve_util::fixture();
    let limits = Limits {
        max_seconds: 5.0,
        ..Limits::default()
    };
    let st = state_with(limits, None, Some(&fx.run_a()));
    let tmp = tempfile::tempdir().unwrap();
    let (s, _, v) = send(
        app(st.clone()),
        raw("/v1/predict", "audio/wav", short_wav(1.0, tmp.path())),
    )
    .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "unusable_audio");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shorter than one"),
        "{v}"
    );
    let (s, _, v) = send(
        app(st.clone()),
        raw("/v1/predict", "audio/wav", wav_bytes()),
    )
    .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "unusable_audio");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than"),
        "{v}"
    );
    let (s, _, v) = send(
        app(st),
        raw("/v1/predict", "audio/wav", short_wav(4.0, tmp.path())),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["audio"]["chunks"], 2);
}

#[tokio::test]
async fn a_full_queue_is_503_with_retry_after() {
    let fx = serve_util::fixture();
    let limits = Limits {
        workers: 1,
        queue: 1,
        ..Limits::default()
    };
    let st = state_with(limits, None, Some(&fx.run_a()));
    let held = (st.admit().unwrap(), st.admit().unwrap());
    let (s, h, v) = send(
        app(st.clone()),
        raw("/v1/predict", "audio/wav", wav_bytes()),
    )
    .await;
    assert_error(s, &v, StatusCode::SERVICE_UNAVAILABLE, "busy");
    assert_eq!(h[header::RETRY_AFTER], "1");
    let (ct, body) = serve_util::multipart_body(&[("audio", "a.wav", &wav_bytes())]);
    let (s, _, v) = send(app(st.clone()), raw("/v1/predict/batch", &ct, body)).await;
    assert_error(s, &v, StatusCode::SERVICE_UNAVAILABLE, "busy");
    drop(held);
    let (s, _, _) = send(app(st), raw("/v1/predict", "audio/wav", wav_bytes())).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_request_over_the_time_limit_is_504() {
    let fx = serve_util::fixture();
    let limits = Limits {
        timeout: Duration::from_millis(1),
        ..Limits::default()
    };
    let st = state_with(limits, None, Some(&fx.run_a()));
    let (s, _, v) = send(app(st), raw("/v1/predict", "audio/wav", wav_bytes())).await;
    assert_error(s, &v, StatusCode::GATEWAY_TIMEOUT, "timeout");
}

#[tokio::test]
async fn a_batch_answers_each_part_and_one_bad_file_fails_alone() {
    let st = ready_state();
    let wav = wav_bytes();
    let (s, _, v) = send(
        app(st.clone()),
        multipart(
            "/v1/predict/batch?top_k=1",
            &[
                ("audio", "good.wav", &wav),
                ("audio", "notes.txt", b"not audio"),
                ("audio", "again.wav", &wav),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["file"], "good.wav");
    assert_eq!(r[0]["ok"]["labels"].as_array().unwrap().len(), 1);
    assert_eq!(r[1]["file"], "notes.txt");
    assert_eq!(r[1]["error"]["code"], "unsupported_audio");
    assert!(r[1].get("ok").is_none());
    assert_eq!(r[2]["ok"]["top_label"], r[0]["ok"]["top_label"]);

    let many: Vec<(&str, &str, &[u8])> = (0..26).map(|_| ("audio", "x.wav", &wav[..64])).collect();
    let (s, _, v) = send(app(st.clone()), multipart("/v1/predict/batch", &many)).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "too_many_files");
    let (s, _, v) = send(
        app(st),
        multipart("/v1/predict/batch", &[("other", "x.wav", &wav)]),
    )
    .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "missing_audio");
}

#[tokio::test]
async fn reload_swaps_runs_and_refuses_a_broken_one() {
    let fx = serve_util::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("run.json"), "{\"not\": \"a run\"}").unwrap();
    std::fs::write(broken.join("model.mpk"), "garbage").unwrap();

    let st = AppState::new(
        Limits::default(),
        None,
        Some(RunSource::Run(broken.clone())),
    );
    st.swap(served(&fx.run_a()));
    let st = Arc::new(st);
    let post = || {
        Request::post("/v1/model/reload")
            .body(Body::empty())
            .unwrap()
    };
    let (s, _, v) = send(app(st.clone()), post()).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "run_refused");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("run.json"),
        "{v}"
    );
    let (_, _, v) = send(app(st.clone()), get("/readyz")).await;
    assert_eq!(v["run"], "run_a", "A keeps serving");

    let st = AppState::new(Limits::default(), None, Some(RunSource::Run(fx.run_b())));
    st.swap(served(&fx.run_a()));
    let st = Arc::new(st);
    let (s, _, v) = send(app(st.clone()), post()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, serde_json::json!({"run": "run_b", "previous": "run_a"}));
    let (_, _, v) = send(
        app(st.clone()),
        raw("/v1/predict", "audio/wav", wav_bytes()),
    )
    .await;
    assert_eq!(v["model"]["run"], "run_b");
    let (_, _, m) = send(app(st), get("/metrics")).await;
    assert!(
        m.as_str()
            .unwrap()
            .contains("musav_model_run{run=\"run_b\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn metrics_openapi_page_and_unknown_routes() {
    let st = ready_state();
    send(
        app(st.clone()),
        raw("/v1/predict", "audio/wav", wav_bytes()),
    )
    .await;
    send(
        app(st.clone()),
        raw("/v1/predict", "text/plain", b"x".to_vec()),
    )
    .await;
    let resp = app(st.clone()).oneshot(get("/metrics")).await.unwrap();
    assert!(
        resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("text")
    );
    let (_, _, m) = send(app(st.clone()), get("/metrics")).await;
    let m = m.as_str().unwrap().to_string();
    for want in [
        "musav_http_requests_total{method=\"POST\",route=\"/v1/predict\",status=\"200\"} 1",
        "musav_http_requests_total{method=\"POST\",route=\"/v1/predict\",status=\"415\"} 1",
        "musav_http_request_duration_seconds_bucket",
        "musav_http_requests_in_flight",
        "musav_queue_depth",
        "musav_model_run{run=\"run_a\"} 1",
    ] {
        assert!(m.contains(want), "{want} not in\n{m}");
    }
    let (s, _, doc) = send(app(st.clone()), get("/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/v1/predict",
        "/v1/predict/batch",
        "/v1/model",
        "/v1/model/reload",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from openapi.json"
        );
    }
    assert!(doc["paths"]["/v1/predict"]["post"]["responses"]["415"].is_object());
    assert!(doc["components"]["schemas"]["PredictAnswer"].is_object());
    let resp = app(st.clone()).oneshot(get("/")).await.unwrap();
    assert!(
        resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let (s, _, v) = send(app(st.clone()), get("/v2/nothing")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, _, v) = send(app(st), get("/v1/predict")).await;
    assert_error(s, &v, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}
