//! The handlers, thin: take the request apart, call the library through the state, map the result
//! to the JSON contract (`/work/serve-contract.md` at the time of writing; README "Web API").

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::card::ModelCard;
use super::error::{ApiError, ErrorBody, ErrorDetail};
use super::state::{Admission, AppState, Served};
use super::upload::{self, Upload};
use super::watch;
use crate::train::predict::{
    Answer, AudioSummary, LabelScore, PredictOptions, Segment, ShortAudio, Timing, VaAnswer,
};

/// At most this many files per batch request.
pub const MAX_BATCH: usize = 25;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ready {
    pub status: String,
    pub run: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelRef {
    pub run: String,
    pub label_map_sha256: String,
}

/// The answer for one file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PredictAnswer {
    /// The single label (the first of `labels`).
    pub top_label: LabelScore,
    /// The `top_k` best classes, highest score first.
    pub labels: Vec<LabelScore>,
    /// Without a VA head: null.
    pub va: Option<VaAnswer>,
    /// One per analysed chunk; empty with `segments=false`.
    pub segments: Vec<Segment>,
    pub audio: AudioSummary,
    pub model: ModelRef,
    pub timing_ms: Timing,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchItem {
    Ok {
        file: String,
        ok: Box<PredictAnswer>,
    },
    Error {
        file: String,
        error: ErrorDetail,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    /// In the order of the parts.
    pub results: Vec<BatchItem>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReloadAnswer {
    /// The run now served.
    pub run: String,
    /// The run served before.
    pub previous: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PredictQuery {
    /// Labels in the answer (default 3; at most the number of classes are given).
    pub top_k: Option<usize>,
    /// Per-chunk segments in the answer (default true).
    pub segments: Option<bool>,
}

#[derive(Debug, Clone, Copy)]
struct Wanted {
    top_k: usize,
    segments: bool,
}

fn wanted(q: Result<Query<PredictQuery>, QueryRejection>) -> Result<Wanted, ApiError> {
    let Query(q) = q.map_err(|e| {
        ApiError::bad_request(
            "bad_query",
            format!(
                "{}; top_k is a positive number, segments is true or false",
                e.body_text()
            ),
        )
    })?;
    let top_k = q.top_k.unwrap_or(3);
    if top_k == 0 {
        return Err(ApiError::bad_request(
            "bad_query",
            "top_k must be at least 1",
        ));
    }
    Ok(Wanted {
        top_k,
        segments: q.segments.unwrap_or(true),
    })
}

fn to_dto(answer: Answer, served: &Served, w: Wanted) -> PredictAnswer {
    let mut labels = answer.labels;
    let top_label = labels[0].clone();
    labels.truncate(w.top_k);
    PredictAnswer {
        top_label,
        labels,
        va: answer.va,
        segments: if w.segments {
            answer.segments
        } else {
            Vec::new()
        },
        audio: answer.audio,
        model: ModelRef {
            run: served.run(),
            label_map_sha256: served.predictor.info.label_map_sha256.clone(),
        },
        timing_ms: answer.timing_ms,
        warnings: answer.warnings,
    }
}

fn options(st: &AppState) -> PredictOptions {
    PredictOptions {
        short: ShortAudio::Refuse,
        max_seconds: Some(st.limits.max_seconds),
    }
}

/// A place for the request, or the early answer (not ready, busy) with its body drained.
fn admit(st: &AppState, req: Request, limit: u64) -> Result<(Request, Admission), ApiError> {
    let admitted = st
        .current()
        .ok_or(ApiError::NotReady)
        .and_then(|_| st.admit());
    match admitted {
        Ok(a) => Ok((req, a)),
        Err(e) => {
            upload::linger(req.into_body(), limit);
            Err(e)
        }
    }
}

fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/"))
}

async fn multipart(req: Request) -> Result<Multipart, ApiError> {
    Multipart::from_request(req, &()).await.map_err(|e| {
        ApiError::bad_request(
            "bad_multipart",
            format!("malformed multipart/form-data: {}", e.body_text()),
        )
    })
}

/// Process alive.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Ready to predict: a model is loaded.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, body = Ready),
    (status = 503, description = "no model loaded yet", body = ErrorBody)))]
pub async fn readyz(State(st): State<Arc<AppState>>) -> Result<Json<Ready>, ApiError> {
    let served = st.current().ok_or(ApiError::NotReady)?;
    Ok(Json(Ready {
        status: "ready".into(),
        run: served.run(),
    }))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics.render(),
    )
        .into_response()
}

/// The model card of the served run.
#[utoipa::path(get, path = "/v1/model", security(("bearer" = [])), responses(
    (status = 200, body = ModelCard),
    (status = 401, body = ErrorBody),
    (status = 503, body = ErrorBody)))]
pub async fn model(State(st): State<Arc<AppState>>) -> Result<Json<ModelCard>, ApiError> {
    Ok(Json(st.card()?))
}

/// Mood labels, VA point and mood over time of one audio file (multipart field `audio`, or the raw
/// bytes with `Content-Type: audio/*` or `application/octet-stream`).
#[utoipa::path(post, path = "/v1/predict", security(("bearer" = [])), params(PredictQuery),
    request_body(content = Vec<u8>, content_type = "audio/mpeg",
        description = "the audio bytes (audio/wav, audio/ogg, audio/flac, application/octet-stream, or multipart/form-data with a field `audio`)"),
    responses(
        (status = 200, body = PredictAnswer),
        (status = 400, description = "malformed multipart, no `audio` field, bad query", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, description = "over --max-upload-mb", body = ErrorBody),
        (status = 415, description = "not decodable audio", body = ErrorBody),
        (status = 422, description = "shorter than one chunk, or longer than --max-seconds", body = ErrorBody),
        (status = 503, description = "busy or not ready; see Retry-After", body = ErrorBody),
        (status = 504, description = "over --timeout-s", body = ErrorBody)))]
pub async fn predict(
    State(st): State<Arc<AppState>>,
    query: Result<Query<PredictQuery>, QueryRejection>,
    req: Request,
) -> Result<Json<PredictAnswer>, ApiError> {
    let w = wanted(query)?;
    let limit = st.limits.max_upload_bytes();
    let (req, admission) = admit(&st, req, limit)?;
    let upload = if is_multipart(&req) {
        let mut mp = multipart(req).await?;
        let mut found = None;
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| upload::multipart_error(e, limit))?
        {
            if field.name() == Some("audio") {
                found = Some(upload::receive_part(field, limit).await??);
                break;
            }
        }
        found.ok_or_else(|| {
            ApiError::bad_request(
                "missing_audio",
                "the multipart form has no `audio` field; send the file as `audio`",
            )
        })?
    } else {
        let (parts, body) = req.into_parts();
        upload::receive_raw(&parts.headers, body, limit).await?
    };
    let opts = options(&st);
    let dto = st
        .run_model(admission, move |served| {
            let result = served.predictor.predict_file(&upload.path, &opts);
            drop(upload);
            result.map(|a| to_dto(a, served, w))
        })
        .await??;
    Ok(Json(dto))
}

/// Several files at once (parts named `audio`, at most 25): an answer or an error per part, in order.
#[utoipa::path(post, path = "/v1/predict/batch", security(("bearer" = [])), params(PredictQuery),
    request_body(content_type = "multipart/form-data", description = "parts named `audio`"),
    responses(
        (status = 200, body = BatchAnswer),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 503, body = ErrorBody),
        (status = 504, body = ErrorBody)))]
pub async fn predict_batch(
    State(st): State<Arc<AppState>>,
    query: Result<Query<PredictQuery>, QueryRejection>,
    req: Request,
) -> Result<Json<BatchAnswer>, ApiError> {
    let w = wanted(query)?;
    let limit = st.limits.max_upload_bytes();
    if !is_multipart(&req) {
        upload::linger(req.into_body(), limit);
        return Err(ApiError::bad_request(
            "bad_multipart",
            "a batch is multipart/form-data with one `audio` part per file",
        ));
    }
    let (req, admission) = admit(&st, req, limit)?;
    let mut mp = multipart(req).await?;
    let mut parts: Vec<(String, Result<Upload, ApiError>)> = Vec::new();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| upload::multipart_error(e, limit))?
    {
        if field.name() != Some("audio") {
            continue;
        }
        if parts.len() == MAX_BATCH {
            return Err(ApiError::bad_request(
                "too_many_files",
                format!("a batch holds at most {MAX_BATCH} files; split it"),
            ));
        }
        let name = field.file_name().unwrap_or("upload").to_string();
        parts.push((name, upload::receive_part(field, limit).await?));
    }
    if parts.is_empty() {
        return Err(ApiError::bad_request(
            "missing_audio",
            "the multipart form has no `audio` part; send each file as `audio`",
        ));
    }
    let opts = options(&st);
    let results = st
        .run_model(admission, move |served| {
            parts
                .into_iter()
                .map(|(file, upload)| {
                    let answer = upload.and_then(|u| {
                        served
                            .predictor
                            .predict_file(&u.path, &opts)
                            .map_err(ApiError::from)
                    });
                    match answer {
                        Ok(a) => BatchItem::Ok {
                            file,
                            ok: Box::new(to_dto(a, served, w)),
                        },
                        Err(e) => BatchItem::Error {
                            file,
                            error: e.body().error,
                        },
                    }
                })
                .collect()
        })
        .await?;
    Ok(Json(BatchAnswer { results }))
}

/// Load the run again, or the newest finished run under `--runs`; a run that fails to load is
/// refused and the old model keeps serving.
#[utoipa::path(post, path = "/v1/model/reload", security(("bearer" = [])), responses(
    (status = 200, body = ReloadAnswer),
    (status = 401, body = ErrorBody),
    (status = 422, description = "the run cannot be loaded; the old model keeps serving", body = ErrorBody)))]
pub async fn reload(State(st): State<Arc<AppState>>) -> Result<Json<ReloadAnswer>, ApiError> {
    let r = watch::reload(&st).await?;
    Ok(Json(ReloadAnswer {
        run: r.run,
        previous: r.previous,
    }))
}

pub async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::json(),
    )
        .into_response()
}

pub async fn page() -> Html<&'static str> {
    Html(include_str!("page/index.html"))
}

pub async fn page_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("page/app.js"),
    )
        .into_response()
}

pub async fn page_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("page/style.css"),
    )
        .into_response()
}

pub async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(req.uri().path().to_string())
}

pub async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} {}", req.method(), req.uri().path()))
}
