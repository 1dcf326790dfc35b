//! musav: curate MTG-Jamendo mood/theme tags into a single-label set, then retrain and validate a
//! mood model on it.
//!
//! Data flows one way: [`dataset`] (load) → [`curation`] (represent, reduce, cluster, label map) →
//! [`export`] (the single-label set).

pub mod audio;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod curation;
pub mod dataset;
pub mod export;
pub mod features;
pub mod fsio;
pub mod llm;
pub mod model;
pub mod plot;
pub mod retrain;
pub mod serve;
pub mod synth;
pub mod train;
pub mod tui;
pub mod va;
