//! The relabel → retrain → compare loop as one call, so the review UI runs it without re-implementing
//! any stage: export the current label map, train the ResNet, validate it, train and validate the VA
//! head, and compare with the previous run. Each stage reports through `on_event` (the UI draws from
//! these events) and into the run's `log.txt`. Everything is written inside the new run directory,
//! so a failure at any stage leaves the label map and earlier runs as they were.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::curation::labels::LabelMap;
use crate::dataset::{Dataset, Split};
use crate::export::{self, Policy};
use crate::features::{Convention, FeatureSource};
use crate::model::resnet::VaInput;
use crate::train::artifacts::{LABELS_TOML, RunDir};
use crate::train::report::{self, Comparison, ValidationReport};
use crate::train::run::{Progress, Stop, TrainConfig, TrainInputs, train};
use crate::train::va::{VaSources, VaTrained, VaValidation, train_va, validate_va};
use crate::va::head::VaTrainConfig;

/// The export each run trains on, inside the run directory (so a run is self-contained).
pub const EXPORT_DIR: &str = "export";
/// The run's log: one line per stage, epoch and failure.
pub const LOG: &str = "log.txt";
/// The split the loop reports on; the test split stays untouched for a final `musav validate`.
pub const SPLIT: Split = Split::Validation;

/// What to run.
#[derive(Debug, Clone)]
pub struct RetrainPlan {
    /// Run directory to create (or to continue with `resume`).
    pub run: PathBuf,
    /// Official `.npy` mel-spectrograms, an audio root, or a synthetic corpus.
    pub features: PathBuf,
    /// Mel-spectrogram cache for audio sources.
    pub cache: Option<PathBuf>,
    pub config: TrainConfig,
    /// `train-va --unfreeze-last-block` after training.
    pub va_unfreeze: bool,
    /// `train-va --va-input`.
    pub va_input: VaInput,
    /// Continue a stopped run: its export and config are reused, the map is not exported again.
    pub resume: bool,
    /// The run to compare with (validated or not).
    pub previous: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Export,
    Train,
    Validate,
    TrainVa,
    ValidateVa,
    Compare,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Export,
        Stage::Train,
        Stage::Validate,
        Stage::TrainVa,
        Stage::ValidateVa,
        Stage::Compare,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Stage::Export => "exporting the label map",
            Stage::Train => "training the ResNet",
            Stage::Validate => "validating the ResNet",
            Stage::TrainVa => "training the VA head",
            Stage::ValidateVa => "validating the VA head",
            Stage::Compare => "comparing with the previous run",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// The VA stage's results for display.
#[derive(Debug)]
pub struct VaResult {
    pub trained: VaTrained,
    pub validation: VaValidation,
}

/// The two runs side by side, and what changed in the label map between them.
#[derive(Debug)]
pub struct Compared {
    pub comparison: Comparison,
    pub map_changes: Vec<String>,
}

/// What the loop reports while it runs.
#[derive(Debug)]
pub enum Event {
    Stage(Stage),
    Train(Progress),
    Validated(Box<ValidationReport>),
    Va(Box<VaResult>),
    Compared(Box<Compared>),
    /// Something worth knowing that does not stop the loop (e.g. no comparison possible).
    Note(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub run: PathBuf,
    /// `Cancelled` when the user stopped training (resumable); later stages did not run then.
    pub stop: Stop,
}

#[derive(Debug, thiserror::Error)]
#[error("{stage} failed: {message}")]
pub struct RetrainError {
    pub stage: Stage,
    pub message: String,
}

/// Tags an error with the stage it happened in.
fn at<E: std::fmt::Display>(stage: Stage) -> impl FnOnce(E) -> RetrainError {
    move |e| RetrainError {
        stage,
        message: e.to_string(),
    }
}

/// Appends to the run's log; a log that cannot be written must not stop the run.
struct Log(Option<std::fs::File>);

impl Log {
    fn open(run: &Path) -> Log {
        let file = std::fs::create_dir_all(run).ok().and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(run.join(LOG))
                .ok()
        });
        Log(file)
    }

    fn line(&mut self, text: &str) {
        if let Some(f) = &mut self.0 {
            let _ = writeln!(f, "{text}");
        }
    }
}

/// Runs the loop. `dataset` and `map` are exported first (unless resuming); `cancel` stops training
/// at the next step, keeping the last finished epoch's checkpoint.
pub fn run(
    plan: &RetrainPlan,
    dataset: &Dataset,
    map: &LabelMap,
    on_event: &mut dyn FnMut(Event),
    cancel: &AtomicBool,
) -> Result<Outcome, RetrainError> {
    // Refuse before anything is written: the log would otherwise land in someone else's run.
    let run_dir = RunDir::new(&plan.run);
    if !plan.resume && run_dir.exists() {
        return Err(RetrainError {
            stage: Stage::Export,
            message: format!(
                "{} already holds a run; choose another run directory",
                plan.run.display()
            ),
        });
    }
    let mut log = Log::open(&plan.run);
    let res = stages(plan, dataset, map, on_event, cancel, &mut log);
    match &res {
        Ok(o) => log.line(&format!("finished: {:?}", o.stop)),
        Err(e) => log.line(&format!("error: {e}")),
    }
    res
}

fn stages(
    plan: &RetrainPlan,
    dataset: &Dataset,
    map: &LabelMap,
    on_event: &mut dyn FnMut(Event),
    cancel: &AtomicBool,
    log: &mut Log,
) -> Result<Outcome, RetrainError> {
    let enter = |stage: Stage, log: &mut Log, on_event: &mut dyn FnMut(Event)| {
        log.line(&format!("stage: {stage}"));
        on_event(Event::Stage(stage));
    };
    let export_dir = plan.run.join(EXPORT_DIR);

    enter(Stage::Export, log, on_event);
    if plan.resume {
        log.line("resuming: the run's own export is reused");
    } else {
        let p = export::plan(dataset, map, Policy::Strict);
        export::write(dataset, map, &p, &export_dir, false).map_err(at(Stage::Export))?;
        log.line(&format!(
            "exported {} tracks in {} labels (label map {})",
            p.summary.exported,
            p.summary.labels,
            map.hash()
        ));
    }

    enter(Stage::Train, log, on_event);
    // A resume may train further than the run was first set to (the form's epochs).
    if plan.resume
        && RunDir::new(&plan.run)
            .extend_epochs(plan.config.epochs)
            .map_err(at(Stage::Train))?
    {
        log.line(&format!("epoch budget raised to {}", plan.config.epochs));
    }
    // A new run computes features in the default convention; a resumed one in its own.
    let run_dir = RunDir::new(&plan.run);
    let convention = if plan.resume && run_dir.exists() {
        run_dir.info().map_err(at(Stage::Train))?.convention
    } else {
        Convention::default()
    };
    let source = FeatureSource::open(&plan.features, plan.cache.as_deref())
        .map_err(at(Stage::Train))?
        .with_convention(convention);
    let inputs = TrainInputs {
        export: &export_dir,
        features: plan.features.display().to_string(),
        source: &source,
        out: &plan.run,
        resume: plan.resume,
        va_targets: None,
        convention,
    };
    let outcome = train(
        &inputs,
        &plan.config,
        |p| {
            if let Progress::Epoch(e) = p {
                log.line(&format!(
                    "epoch {}: loss {:.4}, validation macro-F1 {:.4}{}",
                    e.epoch,
                    e.train_loss,
                    e.val_macro_f1,
                    if e.best { " (best)" } else { "" }
                ));
            }
            on_event(Event::Train(p.clone()));
        },
        cancel,
    )
    .map_err(at(Stage::Train))?;
    if !outcome.skipped.is_empty() {
        let note = format!(
            "{} tracks skipped (missing or corrupt features; see {})",
            outcome.skipped.len(),
            plan.run.join("skipped.csv").display()
        );
        log.line(&note);
        on_event(Event::Note(note));
    }
    if outcome.stop == Stop::Cancelled || cancel.load(Ordering::Relaxed) {
        return Ok(Outcome {
            run: plan.run.clone(),
            stop: Stop::Cancelled,
        });
    }

    enter(Stage::Validate, log, on_event);
    let validated = report::validate(&plan.run, SPLIT, &source).map_err(at(Stage::Validate))?;
    validated.write(&plan.run).map_err(at(Stage::Validate))?;
    log.line(&format!(
        "validation: accuracy {:.4}, macro-F1 {:.4}",
        validated.metrics.accuracy, validated.metrics.macro_f1
    ));
    on_event(Event::Validated(Box::new(validated.clone())));

    enter(Stage::TrainVa, log, on_event);
    let sources = VaSources {
        run: plan.run.clone(),
        targets: None,
        features: Some(plan.features.clone()),
        cache: plan.cache.clone(),
    };
    let va_cfg = VaTrainConfig::new()
        .with_seed(plan.config.seed)
        .with_unfreeze_last_block(plan.va_unfreeze)
        .with_input(plan.va_input);
    let trained = train_va(&sources, &va_cfg).map_err(at(Stage::TrainVa))?;

    enter(Stage::ValidateVa, log, on_event);
    let validation = validate_va(&sources, SPLIT).map_err(at(Stage::ValidateVa))?;
    let m = &validation.report.model;
    log.line(&format!(
        "VA: CCC valence {:.4}, arousal {:.4}; spread ratio valence {:.4}, arousal {:.4}",
        m.valence.ccc, m.arousal.ccc, m.valence.spread_ratio, m.arousal.spread_ratio
    ));
    on_event(Event::Va(Box::new(VaResult {
        trained,
        validation,
    })));

    if let Some(prev) = &plan.previous {
        enter(Stage::Compare, log, on_event);
        match compare_with(prev, plan, &validated) {
            Ok(c) => on_event(Event::Compared(Box::new(c))),
            // An old run that can no longer be evaluated does not make the new one a failure.
            Err(e) => {
                let note = format!("no comparison with {}: {e}", prev.display());
                log.line(&note);
                on_event(Event::Note(note));
            }
        }
    }
    Ok(Outcome {
        run: plan.run.clone(),
        stop: outcome.stop,
    })
}

/// The previous run's report on the loop's split: its saved one, else evaluated now (in memory:
/// the earlier run is not written to), reading spectrograms through this run's cache.
fn compare_with(
    prev: &Path,
    plan: &RetrainPlan,
    validated: &ValidationReport,
) -> Result<Compared, String> {
    let run = plan.run.as_path();
    let earlier = match report::load_report(prev, SPLIT) {
        Ok(r) => r,
        Err(_) => {
            let info = RunDir::new(prev).info().map_err(|e| e.to_string())?;
            // In the earlier run's own convention: its model knows no other.
            let source = FeatureSource::open(Path::new(&info.features), plan.cache.as_deref())
                .map_err(|e| e.to_string())?
                .with_convention(info.convention);
            report::validate(prev, SPLIT, &source).map_err(|e| e.to_string())?
        }
    };
    let comparison = report::compare_reports(prev, &earlier, run, validated);
    let maps = |dir: &Path| LabelMap::load(&dir.join(LABELS_TOML));
    let map_changes = match (maps(prev), maps(run)) {
        (Ok(a), Ok(b)) => a.changes_to(&b),
        (Err(e), _) | (_, Err(e)) => vec![format!("label maps not compared: {e}")],
    };
    Ok(Compared {
        comparison,
        map_changes,
    })
}
