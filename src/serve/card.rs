//! The model card (`GET /v1/model`): what a client needs to trust and use the served run, read
//! once when the run is loaded: classes with their member tags, the VA head and its scale, the
//! input convention, the run's own validation figures, and the server's limits.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::curation::labels::LabelMap;
use crate::dataset::Split;
use crate::train::artifacts::{CHECKPOINT, LABELS_TOML, LoopState, RunDir, STATE_JSON};
use crate::train::predict::{Predictor, VA_SCALE, feature_convention};
use crate::train::report::{ValidationReport, report_json};
use crate::train::va::va_report_json;
use crate::va::report::VaReport;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClassCard {
    pub id: u32,
    pub name: String,
    /// The MTG tags the label was made of.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MoodPoint {
    pub word: String,
    pub valence: f32,
    pub arousal: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VaCard {
    pub loaded: bool,
    /// What the head reads from the network: "levels" (the embedding and every block's output's
    /// mean and standard deviation) or "embedding" (heads trained before that setting); null without a head.
    pub input: Option<String>,
    /// [low, high] of both axes.
    pub scale: [f32; 2],
    /// The shipped tag VA table's points the nearest-mood words come from; empty without a head.
    pub moods: Vec<MoodPoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InputCard {
    pub convention: String,
    pub sample_rate: u32,
    pub n_mels: usize,
    pub chunk_frames: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VaFigures {
    pub valence_ccc: f64,
    pub arousal_ccc: f64,
    pub valence_spread: f64,
    pub arousal_spread: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ValidationCard {
    pub macro_f1: f64,
    pub accuracy: f64,
    pub va: Option<VaFigures>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LimitsCard {
    pub max_upload_mb: u64,
    pub max_seconds: f64,
    pub timeout_s: f64,
    pub workers: usize,
    pub queue: usize,
    pub api_key_required: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelCard {
    /// The run directory's name.
    pub run: String,
    pub label_map_sha256: String,
    /// In the network's output order.
    pub classes: Vec<ClassCard>,
    pub va: VaCard,
    pub input: InputCard,
    /// The run's validation-split figures, when it was validated (or from its best epoch).
    pub validation: Option<ValidationCard>,
    pub limits: LimitsCard,
    pub version: String,
}

/// The card of a loaded run; `limits` are the server's.
pub fn model_card(p: &Predictor, limits: LimitsCard) -> ModelCard {
    let run = RunDir::new(&p.dir);
    let map = LabelMap::load(&run.path(LABELS_TOML)).ok();
    let classes = p
        .info
        .classes
        .label_ids
        .iter()
        .zip(&p.info.classes.names)
        .map(|(&id, name)| ClassCard {
            id,
            name: name.clone(),
            tags: map
                .as_ref()
                .and_then(|m| m.labels.iter().find(|l| l.id == id))
                .map(|l| l.tags.clone())
                .unwrap_or_default(),
        })
        .collect();
    ModelCard {
        run: p.run_name(),
        label_map_sha256: p.info.label_map_sha256.clone(),
        classes,
        va: VaCard {
            loaded: p.has_va(),
            input: p.va_input().map(|i| i.as_str().to_string()),
            scale: VA_SCALE,
            moods: p
                .moods()
                .iter()
                .map(|(w, q)| MoodPoint {
                    word: w.clone(),
                    valence: q[0],
                    arousal: q[1],
                })
                .collect(),
        },
        input: InputCard {
            convention: feature_convention(&p.info),
            sample_rate: crate::audio::TARGET_SAMPLE_RATE,
            n_mels: p.info.chunk.n_mels,
            chunk_frames: p.info.chunk.frames,
        },
        validation: validation(&run),
        limits,
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// `report_validation.json` when `musav validate` (or the retrain loop) wrote it, else the best
/// epoch's validation figures from the training loop; VA figures from `va_report_validation.json`.
fn validation(run: &RunDir) -> Option<ValidationCard> {
    let va = run
        .read_json::<VaReport>(&va_report_json(Split::Validation))
        .ok()
        .map(|r| VaFigures {
            valence_ccc: r.model.valence.ccc,
            arousal_ccc: r.model.arousal.ccc,
            valence_spread: r.model.valence.spread_ratio,
            arousal_spread: r.model.arousal.spread_ratio,
        });
    if let Ok(r) = run.read_json::<ValidationReport>(&report_json(Split::Validation)) {
        return Some(ValidationCard {
            macro_f1: r.metrics.macro_f1,
            accuracy: r.metrics.accuracy,
            va,
        });
    }
    let state: LoopState = RunDir::new(run.path(CHECKPOINT))
        .read_json(STATE_JSON)
        .ok()?;
    let best = state.history.iter().find(|e| e.epoch == state.best_epoch)?;
    Some(ValidationCard {
        macro_f1: best.val_macro_f1,
        accuracy: best.val_accuracy,
        va,
    })
}
