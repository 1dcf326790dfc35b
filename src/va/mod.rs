//! Valence–arousal: targets, metrics that expose regression to the mean, the head trained on frozen
//! mood embeddings, baselines and the VA-plane plot.

pub mod head;
pub mod metrics;
