//! Valence–arousal: metrics that expose regression to the mean, the head trained on frozen mood
//! embeddings, the baselines it must beat, and the VA-plane plot.

pub mod head;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod targets;
