//! The training screen's state and transitions: the form, starting, stopping and resuming a run of
//! the retrain loop ([`crate::retrain`]) as a background job, and folding its updates into what the
//! screen draws (progress, curves, the reports). The loop itself runs behind [`Trainer`], so tests
//! drive every transition with a scripted trainer that reports over the same channel.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Mode};
use crate::curation::labels::LabelMap;
use crate::dataset::Dataset;
use crate::features::FeatureSource;
use crate::model::resnet::VaInput;
use crate::retrain::{self, Compared, Event, Outcome, RetrainPlan, Stage, VaResult};
use crate::train::artifacts::RunDir;
use crate::train::report::ValidationReport;
use crate::train::run::{EpochRecord, Progress, Stop, TrainConfig};
use crate::tui::jobs::{JobKind, JobOutput};
use crate::va::head::VaTrainConfig;

/// Runs the retrain loop; the real one is [`Retrainer`].
pub trait Trainer: Send + Sync {
    fn run(
        &self,
        plan: &RetrainPlan,
        dataset: &Dataset,
        map: &LabelMap,
        on_event: &mut dyn FnMut(Event),
        cancel: &AtomicBool,
    ) -> Result<Outcome, String>;
}

/// The library's loop.
pub struct Retrainer;

impl Trainer for Retrainer {
    fn run(
        &self,
        plan: &RetrainPlan,
        dataset: &Dataset,
        map: &LabelMap,
        on_event: &mut dyn FnMut(Event),
        cancel: &AtomicBool,
    ) -> Result<Outcome, String> {
        retrain::run(plan, dataset, map, on_event, cancel).map_err(|e| e.to_string())
    }
}

/// Where runs go and what the form starts with (from `musav review`'s flags).
#[derive(Debug, Clone)]
pub struct TrainDefaults {
    /// New runs are `runs/run-001`, `runs/run-002`, …; the newest earlier one is compared with.
    pub runs: PathBuf,
    pub features: Option<PathBuf>,
    pub cache: Option<PathBuf>,
    pub epochs: usize,
    pub width: usize,
    pub seed: u64,
    /// `musav train --va-weight`: the auxiliary VA loss (0 = classes only).
    pub va_weight: f64,
    /// `musav train-va --unfreeze-last-block`: the VA head fine-tunes its own copy of the last block.
    pub va_unfreeze: bool,
    /// `musav train-va --va-input`: what the VA head reads from the network.
    pub va_input: VaInput,
}

impl Default for TrainDefaults {
    fn default() -> Self {
        TrainDefaults {
            runs: PathBuf::from("runs"),
            features: None,
            cache: None,
            epochs: 40,
            width: 64,
            seed: 42,
            va_weight: 0.0,
            va_unfreeze: VaTrainConfig::new().unfreeze_last_block,
            va_input: VaTrainConfig::new().input,
        }
    }
}

/// The mel-spectrogram cache under the runs directory when `--cache` is not given.
pub const MEL_CACHE: &str = "mel-cache";

/// The form's fields, in order.
pub const TRAIN_FIELDS: [&str; 8] = [
    "features",
    "run directory",
    "epochs",
    "width",
    "seed",
    "VA weight",
    "VA last block",
    "VA input",
];

/// The "VA last block" field's values: `train-va` on the frozen embedding, or fine-tuning.
pub const VA_BLOCK_VALUES: [&str; 2] = ["frozen", "fine-tune"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    Idle,
    Running,
    /// Stop requested; the loop ends at its next step.
    Stopping,
    /// Stopped by the user; `c` continues it.
    Stopped,
    Failed(String),
    Done,
}

/// Which result the lower half shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainView {
    Progress,
    Report,
    Va,
    Compare,
}

impl TrainView {
    pub const ALL: [TrainView; 4] = [
        TrainView::Progress,
        TrainView::Report,
        TrainView::Va,
        TrainView::Compare,
    ];

    pub fn title(self) -> &'static str {
        match self {
            TrainView::Progress => "Progress",
            TrainView::Report => "Report",
            TrainView::Va => "VA plane",
            TrainView::Compare => "Compare",
        }
    }
}

/// The latest step of the current epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps: usize,
    pub loss: f64,
    pub eta: Duration,
}

/// Everything the training screen shows.
#[derive(Debug)]
pub struct Training {
    pub fields: [String; TRAIN_FIELDS.len()],
    pub field: usize,
    pub state: RunState,
    pub stage: Option<Stage>,
    /// The run being trained (or last trained).
    pub run: Option<PathBuf>,
    /// The run it is compared with.
    pub previous: Option<PathBuf>,
    pub loaded: Option<(usize, usize, usize)>,
    pub step: Option<StepInfo>,
    /// Step losses, x = epochs done (fractional).
    pub losses: Vec<(f64, f64)>,
    pub epochs: Vec<EpochRecord>,
    pub report: Option<ValidationReport>,
    pub va: Option<VaResult>,
    pub compared: Option<Compared>,
    pub notes: Vec<String>,
    pub view: TrainView,
    pub defaults: TrainDefaults,
    cancel: Arc<AtomicBool>,
}

impl Training {
    pub fn new(defaults: TrainDefaults) -> Training {
        let fields = [
            defaults
                .features
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            next_run_dir(&defaults.runs).display().to_string(),
            defaults.epochs.to_string(),
            defaults.width.to_string(),
            defaults.seed.to_string(),
            defaults.va_weight.to_string(),
            VA_BLOCK_VALUES[usize::from(defaults.va_unfreeze)].to_string(),
            defaults.va_input.as_str().to_string(),
        ];
        Training {
            fields,
            field: 0,
            state: RunState::Idle,
            stage: None,
            run: None,
            previous: None,
            loaded: None,
            step: None,
            losses: Vec::new(),
            epochs: Vec::new(),
            report: None,
            va: None,
            compared: None,
            notes: Vec::new(),
            view: TrainView::Progress,
            defaults,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn running(&self) -> bool {
        matches!(self.state, RunState::Running | RunState::Stopping)
    }

    /// Best validation macro-F1 so far and its epoch.
    pub fn best(&self) -> Option<&EpochRecord> {
        self.epochs
            .iter()
            .max_by(|a, b| a.val_macro_f1.total_cmp(&b.val_macro_f1))
    }

    /// The plan the form describes, or what is wrong with it.
    pub fn plan(&self, resume: bool) -> Result<RetrainPlan, String> {
        let [
            features,
            run,
            epochs,
            width,
            seed,
            va_weight,
            va_block,
            va_input,
        ] = &self.fields;
        let features = features.trim();
        if features.is_empty() {
            return Err("set the feature source (official .npy directory, audio root or synthetic corpus): ↑↓ to the field, Enter to edit".into());
        }
        // Checked now (a quick scan), so a wrong path is reported before anything is exported.
        FeatureSource::open(Path::new(features), None).map_err(|e| e.to_string())?;
        let run = PathBuf::from(run.trim());
        if run.as_os_str().is_empty() {
            return Err("set the run directory".into());
        }
        let num = |name: &str, v: &str| -> Result<u64, String> {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name} must be a positive whole number, not {v:?}"))
        };
        let epochs = num("epochs", epochs)? as usize;
        let width = num("width", width)? as usize;
        let seed = seed
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("seed must be a whole number, not {seed:?}"))?;
        let va_weight = va_weight
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|w| w.is_finite() && *w >= 0.0)
            .ok_or_else(|| {
                format!("VA weight must be a number ≥ 0 (0 = classes only), not {va_weight:?}")
            })?;
        let va_unfreeze = match VA_BLOCK_VALUES
            .iter()
            .position(|v| v.eq_ignore_ascii_case(va_block.trim()))
        {
            Some(i) => i == 1,
            None => {
                return Err(format!(
                    "VA last block must be {} or {}, not {va_block:?}",
                    VA_BLOCK_VALUES[0], VA_BLOCK_VALUES[1]
                ));
            }
        };
        let va_input = [VaInput::Levels, VaInput::Embedding]
            .into_iter()
            .find(|i| i.as_str().eq_ignore_ascii_case(va_input.trim()))
            .ok_or_else(|| format!("VA input must be levels or embedding, not {va_input:?}"))?;
        if !resume && RunDir::new(&run).exists() {
            return Err(format!(
                "{} already holds a run; choose another run directory",
                run.display()
            ));
        }
        let config = TrainConfig::new()
            .with_epochs(epochs)
            .with_seed(seed)
            .with_width(width)
            .with_va_weight((va_weight > 0.0).then_some(va_weight));
        let previous = self
            .run
            .clone()
            .filter(|p| *p != run && finished(p))
            .or_else(|| newest_run(&self.defaults.runs, &run));
        Ok(RetrainPlan {
            run,
            features: PathBuf::from(features),
            // Spectrograms computed from audio are kept between runs: a relabeling does not change them.
            cache: Some(
                self.defaults
                    .cache
                    .clone()
                    .unwrap_or_else(|| self.defaults.runs.join(MEL_CACHE)),
            ),
            config,
            va_unfreeze,
            va_input,
            resume,
            previous,
        })
    }

    /// Folds one update of the loop into the screen's state.
    pub fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Stage(s) => self.stage = Some(s),
            Event::Train(Progress::Loaded {
                train,
                validation,
                skipped,
                ..
            }) => self.loaded = Some((train, validation, skipped)),
            Event::Train(Progress::Step {
                epoch,
                epochs,
                step,
                steps,
                loss,
                eta,
            }) => {
                self.step = Some(StepInfo {
                    epoch,
                    epochs,
                    step,
                    steps,
                    loss,
                    eta,
                });
                let x = (epoch - 1) as f64 + step as f64 / steps.max(1) as f64;
                self.losses.push((x, loss));
            }
            Event::Train(Progress::Epoch(e)) => {
                // A resumed run repeats no epoch; a replayed one replaces it.
                self.epochs.retain(|r| r.epoch != e.epoch);
                self.epochs.push(e);
            }
            Event::Validated(r) => {
                self.report = Some(*r);
                self.view = TrainView::Report;
            }
            Event::Va(v) => {
                self.va = Some(*v);
                self.view = TrainView::Va;
            }
            Event::Compared(c) => {
                self.compared = Some(*c);
                self.view = TrainView::Compare;
            }
            Event::Note(n) => self.notes.push(n),
        }
    }
}

/// `runs/run-NNN` with the first number not taken.
pub fn next_run_dir(runs: &Path) -> PathBuf {
    (1..)
        .map(|i| runs.join(format!("run-{i:03}")))
        .find(|p| !p.exists())
        .expect("a free run number")
}

/// A run that got as far as a model (a failed or stopped-early run has nothing to compare).
fn finished(run: &Path) -> bool {
    RunDir::new(run).path("model.mpk").exists()
}

/// The most recently modified finished run under `runs`, other than `except`.
pub fn newest_run(runs: &Path, except: &Path) -> Option<PathBuf> {
    std::fs::read_dir(runs)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p != except && finished(p))
        .filter_map(|p| {
            let t = std::fs::metadata(p.join(crate::train::artifacts::RUN_JSON))
                .and_then(|m| m.modified())
                .ok()?;
            Some((t, p))
        })
        .max()
        .map(|(_, p)| p)
}

impl App {
    pub fn open_training(&mut self) {
        self.screen = super::Screen::Train;
    }

    pub fn close_training(&mut self) {
        self.screen = super::Screen::Review;
    }

    /// Starts a new run with the form's settings; unsaved edits are never trained silently: the
    /// user is asked to save them first.
    pub fn start_training(&mut self) {
        if self.training.running() {
            self.error("a run is already going; x stops it");
            return;
        }
        if let Err(e) = self.training.plan(false) {
            self.error(e);
            return;
        }
        if self.dirty() {
            self.mode = Mode::ConfirmTrain;
            return;
        }
        self.launch(false);
    }

    /// The answer to "save before training?": `true` saves and starts.
    pub fn confirm_training(&mut self, save: bool) {
        if !save {
            self.info("training not started; the label map is unchanged");
            return;
        }
        if self.save().is_ok() {
            self.launch(false);
        }
    }

    /// Continues a stopped (or failed) run from its last checkpoint.
    pub fn resume_training(&mut self) {
        if !matches!(self.training.state, RunState::Stopped | RunState::Failed(_)) {
            self.error("nothing to continue: only a stopped run can be resumed");
            return;
        }
        match &self.training.run {
            Some(run) if RunDir::new(run).exists() => {
                self.training.fields[1] = run.display().to_string();
                self.launch(true);
            }
            _ => self.error("the stopped run never started training; press s to start anew"),
        }
    }

    pub fn stop_training(&mut self) {
        if self.training.state == RunState::Running {
            self.training.cancel.store(true, Ordering::Relaxed);
            self.training.state = RunState::Stopping;
            self.info("stopping after the current step…");
        } else {
            self.error("no run to stop");
        }
    }

    fn launch(&mut self, resume: bool) {
        let plan = match self.training.plan(resume) {
            Ok(p) => p,
            Err(e) => {
                self.error(e);
                return;
            }
        };
        let t = &mut self.training;
        if !resume {
            t.epochs.clear();
            t.losses.clear();
        }
        t.report = None;
        t.va = None;
        t.compared = None;
        t.notes.clear();
        t.step = None;
        t.stage = None;
        t.view = TrainView::Progress;
        t.state = RunState::Running;
        t.run = Some(plan.run.clone());
        t.previous = plan.previous.clone();
        t.cancel = Arc::new(AtomicBool::new(false));
        let cancel = t.cancel.clone();
        let (ds, map, trainer) = (self.dataset.clone(), self.map.clone(), self.trainer.clone());
        let what = format!(
            "{} {}",
            if resume { "resuming" } else { "training" },
            plan.run.display()
        );
        self.request(
            JobKind::Retrain,
            Box::new(move |send| {
                let mut forward = |ev: Event| send(JobOutput::Retrain(Box::new(ev)));
                JobOutput::Retrained(trainer.run(&plan, &ds, &map, &mut forward, &cancel))
            }),
        );
        self.info(what);
    }

    /// The loop's end.
    pub(super) fn on_retrained(&mut self, res: Result<Outcome, String>) {
        let t = &mut self.training;
        match res {
            Ok(o) if o.stop == Stop::Cancelled => {
                t.state = RunState::Stopped;
                self.info(format!(
                    "stopped {}; c continues it from its last finished epoch",
                    o.run.display()
                ));
            }
            Ok(o) => {
                t.state = RunState::Done;
                t.stage = None;
                let f1 = t.report.as_ref().map_or(f64::NAN, |r| r.metrics.macro_f1);
                // The next run gets a fresh directory; this one becomes the one to compare with.
                t.fields[1] = next_run_dir(&t.defaults.runs).display().to_string();
                self.info(format!(
                    "finished {}: validation macro-F1 {f1:.3}; log in {}",
                    o.run.display(),
                    o.run.join(retrain::LOG).display()
                ));
            }
            Err(e) => {
                t.state = RunState::Failed(e.clone());
                self.error(e);
            }
        }
    }

    /// Keys of the training screen (popups are handled before this).
    pub(super) fn training_key(&mut self, ev: KeyEvent) {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        match ev.code {
            KeyCode::Char('c') if ctrl => self.quit(),
            KeyCode::Char('q') => self.quit(),
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Esc | KeyCode::Char('t') => self.close_training(),
            KeyCode::Up | KeyCode::Char('k') => {
                self.training.field = self.training.field.saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.training.field = (self.training.field + 1).min(TRAIN_FIELDS.len() - 1)
            }
            KeyCode::Enter => {
                let field = self.training.field;
                self.mode = Mode::TrainField {
                    field,
                    buf: self.training.fields[field].clone(),
                };
            }
            KeyCode::Char('s') => self.start_training(),
            KeyCode::Char('x') => self.stop_training(),
            KeyCode::Char('c') => self.resume_training(),
            KeyCode::Tab | KeyCode::Right | KeyCode::Char('l') => self.cycle_view(true),
            KeyCode::BackTab | KeyCode::Left | KeyCode::Char('h') => self.cycle_view(false),
            _ => {}
        }
    }

    pub fn cycle_view(&mut self, forward: bool) {
        let all = TrainView::ALL;
        let i = all
            .iter()
            .position(|v| *v == self.training.view)
            .unwrap_or(0);
        let n = all.len();
        self.training.view = all[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
    }
}

/// The training screen's keys, for its footer and the help overlay (the match in
/// `training_key` is the other half of this table).
pub const TRAIN_KEYS: [(&str, &str); 9] = [
    ("↑↓ j k", "choose a setting"),
    ("Enter", "edit the setting"),
    ("s", "export the map and start training"),
    ("x", "stop the run (keeps its last epoch)"),
    ("c", "continue a stopped run"),
    ("Tab ← →", "progress / report / VA plane / compare"),
    ("t Esc", "back to the labels"),
    ("?", "help"),
    ("q", "quit"),
];
