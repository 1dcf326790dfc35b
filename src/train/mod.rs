//! Training and evaluation of the mood ResNet: tracks and chunks ([`data`]), the hand-written loop
//! ([`run`]), the run directory ([`artifacts`]), classification figures ([`metrics`]) and the
//! validation report ([`report`]), and the
//! embeddings + targets the valence–arousal head learns from ([`va`]), and the head's optional
//! fine-tuned copy of the network's last block ([`finetune`]).

pub mod artifacts;
pub mod data;
pub mod finetune;
pub mod metrics;
pub mod predict;
pub mod report;
pub mod run;
pub mod va;
