//! Naming label clusters (and homing noise tags) through any OpenAI-compatible chat-completions
//! endpoint: llama.cpp's server, Ollama, vLLM or a hosted API.
//!
//! Layers, from pure to effectful: [`words`] (when two words are the same), [`candidates`] (the
//! names a grounded answer may choose), [`prompt`] (templates in `prompts/`), [`parse`] (find and
//! check the JSON in an answer), [`fallback`] (names without a model), [`quality`] (how a named map
//! compares with a reviewed one), [`cache`] (answers on disk), [`client`] (HTTP with retries),
//! [`naming`] (the use-case the CLI and the terminal UI call).

pub mod cache;
pub mod candidates;
pub mod client;
pub mod fallback;
pub mod naming;
pub mod parse;
pub mod prompt;
pub mod quality;
pub mod settings;
pub mod words;

use std::path::PathBuf;

pub use client::CallError;
pub use naming::{NamingOutcome, NamingStats, apply, name_labels};
pub use settings::{LlmFlags, LlmSettings, NamingMode, Secret};

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("{setting}: {problem}")]
    Setting { setting: String, problem: String },
    #[error("{path}: {problem}")]
    Prompt { path: PathBuf, problem: String },
    #[error("label id {id} is not in the label map (its ids: {known:?})")]
    UnknownLabel { id: u32, known: Vec<u32> },
    /// A refused key or a wrong model/URL: retrying or falling back would hide the mistake.
    #[error(transparent)]
    Endpoint(#[from] CallError),
}
