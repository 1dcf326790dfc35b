//! The HTTP side: one chat-completions request, with timeouts, retries and honest errors.
//!
//! Endpoint trouble (timeouts, refused connections, 429, 5xx) is retried with exponential backoff,
//! honouring `Retry-After`; when retries run out it is reported as [`CallError::Unavailable`], which
//! the naming use-case turns into fallback names. A wrong key (401/403) or a wrong model or URL (404)
//! is the user's to fix, so it is reported as such and never retried.
//!
//! Two request features are optional: a server that rejects several choices per request (`n`) is
//! asked for one from then on (the caller asks again with other seeds), and one that rejects
//! `response_format` is asked without a schema.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::Value;

use super::settings::{LlmSettings, Secret};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error(
        "{url} refused the API key (HTTP {status}); set the right key with --llm-api-key or MUSAV_LLM_API_KEY"
    )]
    Unauthorized { url: String, status: u16 },
    #[error(
        "{url} answered 404 for model {model:?} ({body}); check --llm-model / MUSAV_LLM_MODEL and that --llm-url ends at the API base (e.g. http://127.0.0.1:8080/v1)"
    )]
    NotFound {
        url: String,
        model: String,
        body: String,
    },
    #[error("{url} is unavailable after {attempts} attempt(s): {detail}")]
    Unavailable {
        url: String,
        attempts: u32,
        detail: String,
    },
    #[error("{url} rejected the request (HTTP {status}): {body}")]
    Rejected {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url} sent a reply that is not a chat completion: {detail}")]
    Malformed { url: String, detail: String },
}

impl CallError {
    /// Errors the user must fix; everything else falls back.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            CallError::Unauthorized { .. } | CallError::NotFound { .. }
        )
    }
}

/// A successful completion and how it was obtained.
#[derive(Debug, Clone)]
pub struct Reply {
    /// `choices[0].message.content`.
    pub content: String,
    /// Every choice's content, `content` first (one, unless `n` was asked for and honoured).
    pub choices: Vec<String>,
    pub attempts: u32,
    /// The waits chosen before each retry (from `Retry-After` or the backoff).
    pub waits: Vec<Duration>,
}

pub struct ChatClient {
    http: Client,
    endpoint: String,
    model: String,
    api_key: Option<Secret>,
    retries: u32,
    backoff: Duration,
    max_wait: Duration,
    /// Set once the server rejected `response_format`; later requests go without it.
    no_schema: AtomicBool,
    /// Set once the server rejected `n`; later requests ask for one choice.
    no_n: AtomicBool,
}

enum Step {
    Done(Result<Vec<String>, CallError>),
    Retry { wait: Duration, detail: String },
    DropSchema,
    DropN,
}

impl ChatClient {
    pub fn new(url: &str, settings: &LlmSettings) -> Result<ChatClient, CallError> {
        let endpoint = if url.ends_with("/chat/completions") {
            url.to_string()
        } else {
            format!("{}/chat/completions", url.trim_end_matches('/'))
        };
        let http = Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| CallError::Unavailable {
                url: endpoint.clone(),
                attempts: 0,
                detail: format!("cannot set up the HTTP client: {e}"),
            })?;
        Ok(ChatClient {
            http,
            endpoint,
            model: settings.model.clone(),
            api_key: settings.api_key.clone(),
            retries: settings.retries,
            backoff: settings.backoff,
            max_wait: settings.max_wait,
            no_schema: AtomicBool::new(false),
            no_n: AtomicBool::new(false),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one chat-completions request body, retrying endpoint trouble.
    pub fn complete(&self, request: &Value) -> Result<Reply, CallError> {
        let mut body = request.clone();
        if let Some(o) = body.as_object_mut() {
            if self.no_schema.load(Ordering::Relaxed) {
                o.remove("response_format");
            }
            if self.no_n.load(Ordering::Relaxed) {
                o.remove("n");
            }
        }
        let mut attempts = 0;
        let mut waits = Vec::new();
        loop {
            attempts += 1;
            let step = match self.send(&body) {
                Ok(resp) => self.judge(resp, &body, waits.len() as u32),
                Err(e) => Step::Retry {
                    wait: self.backoff_for(waits.len() as u32),
                    detail: describe(&e),
                },
            };
            match step {
                Step::Done(r) => {
                    return r.map(|choices| Reply {
                        content: choices[0].clone(),
                        choices,
                        attempts,
                        waits,
                    });
                }
                Step::DropN => {
                    self.no_n.store(true, Ordering::Relaxed);
                    if let Some(o) = body.as_object_mut() {
                        o.remove("n");
                    }
                }
                Step::DropSchema => {
                    self.no_schema.store(true, Ordering::Relaxed);
                    if let Some(o) = body.as_object_mut() {
                        o.remove("response_format");
                    }
                }
                Step::Retry { wait, detail } => {
                    if waits.len() as u32 >= self.retries {
                        return Err(CallError::Unavailable {
                            url: self.endpoint.clone(),
                            attempts,
                            detail,
                        });
                    }
                    let wait = wait.min(self.max_wait);
                    std::thread::sleep(wait);
                    waits.push(wait);
                }
            }
        }
    }

    fn send(&self, body: &Value) -> reqwest::Result<Response> {
        let mut req = self.http.post(&self.endpoint).json(body);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k.expose());
        }
        req.send()
    }

    fn backoff_for(&self, retry: u32) -> Duration {
        self.backoff.saturating_mul(1u32 << retry.min(16))
    }

    fn judge(&self, resp: Response, body: &Value, retry: u32) -> Step {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = match resp.text() {
            Ok(t) => t,
            Err(e) => {
                return Step::Retry {
                    wait: self.backoff_for(retry),
                    detail: describe(&e),
                };
            }
        };
        let url = self.endpoint.clone();
        let done = |r| Step::Done(r);
        match status {
            s if s.is_success() => {
                done(choices_of(&text).map_err(|detail| CallError::Malformed { url, detail }))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                done(Err(CallError::Unauthorized {
                    url,
                    status: status.as_u16(),
                }))
            }
            StatusCode::NOT_FOUND => done(Err(CallError::NotFound {
                url,
                model: self.model.clone(),
                body: snippet(&text),
            })),
            StatusCode::BAD_REQUEST if body.get("n").and_then(Value::as_u64).unwrap_or(1) > 1 => {
                Step::DropN
            }
            StatusCode::BAD_REQUEST if body.get("response_format").is_some() => Step::DropSchema,
            s if s == StatusCode::TOO_MANY_REQUESTS
                || s == StatusCode::REQUEST_TIMEOUT
                || s.is_server_error() =>
            {
                Step::Retry {
                    wait: retry_after.unwrap_or_else(|| self.backoff_for(retry)),
                    detail: format!("HTTP {}: {}", s.as_u16(), snippet(&text)),
                }
            }
            s => done(Err(CallError::Rejected {
                url,
                status: s.as_u16(),
                body: snippet(&text),
            })),
        }
    }
}

/// `choices[0].message.content` of a chat-completions reply.
pub fn content_of(text: &str) -> Result<String, String> {
    choices_of(text).map(|mut c| c.swap_remove(0))
}

/// Every `choices[i].message.content` of a chat-completions reply (at least the first).
pub fn choices_of(text: &str) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("{e} in {:?}", snippet(text)))?;
    let first = v
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no choices[0].message.content in {:?}", snippet(text)))?;
    let rest = v["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .skip(1)
        .filter_map(|c| c.pointer("/message/content").and_then(Value::as_str));
    Ok(std::iter::once(first)
        .chain(rest)
        .map(str::to_string)
        .collect())
}

fn snippet(text: &str) -> String {
    let t: String = text.trim().chars().take(200).collect();
    if t.is_empty() { "empty body".into() } else { t }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer before the timeout (raise --llm-timeout for a slow model)".into()
    } else if e.is_connect() {
        "cannot connect (is the server running?)".into()
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s.push_str(&format!(": {inner}"));
            src = inner.source();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_taken_from_the_first_choice() {
        let ok = r#"{"choices":[{"message":{"role":"assistant","content":"{\"name\":\"Sad\"}"}}]}"#;
        assert_eq!(content_of(ok).unwrap(), "{\"name\":\"Sad\"}");
        assert!(content_of("<html>").unwrap_err().contains("<html>"));
        assert!(
            content_of(r#"{"choices":[]}"#)
                .unwrap_err()
                .contains("choices[0]")
        );
        let two = r#"{"choices":[{"message":{"content":"a"}},{"message":{"content":"b"}}]}"#;
        assert_eq!(choices_of(two).unwrap(), ["a", "b"]);
    }

    #[test]
    fn only_key_and_model_errors_stop_the_pipeline() {
        let u = CallError::Unauthorized {
            url: "u".into(),
            status: 401,
        };
        assert!(u.is_user_error());
        assert!(u.to_string().contains("MUSAV_LLM_API_KEY"));
        let d = CallError::Unavailable {
            url: "u".into(),
            attempts: 3,
            detail: "x".into(),
        };
        assert!(!d.is_user_error());
    }
}
