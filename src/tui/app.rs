//! The review session's state and every way it can change. Each user action is a method here and a
//! state transition that tests drive directly; nothing in this module draws or reads the terminal.
//! Edits go through [`App::edit`], which validates the result, keeps the previous state for undo and
//! refreshes the counts an export would give, so the status bar is never stale.

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::layout::Rect;

mod edits;
mod input;
pub mod training;

pub use training::{RunState, TrainDefaults, TrainView, Trainer, Training};

use super::index::TagIndex;
use super::jobs::{Job, JobKind, JobOutput, JobWork};
use super::keys::KeyMap;
use super::namer::{self, Namer};
use crate::curation::Curation;
use crate::curation::labels::{Label, LabelMap};
use crate::dataset::Dataset;
use crate::export::{self, Policy, Summary};

/// The panes that hold a selection; focus cycles through them in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Labels,
    Members,
    Noise,
}

/// Where a tag can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// Index into `map.labels`.
    Label(usize),
    Noise,
}

/// What a pick list (a popup of destinations) is choosing for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickFor {
    MoveTag(String),
    MergeFrom(usize),
}

/// Which popup, if any, takes the keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    Rename {
        label: usize,
        buf: String,
    },
    Pick {
        purpose: PickFor,
        options: Vec<Dest>,
        sel: usize,
    },
    Settings {
        fields: [String; 4],
        field: usize,
    },
    Export {
        buf: String,
    },
    ConfirmQuit,
    /// "Save the unsaved edits and train with them?"
    ConfirmTrain,
    /// Editing one of the training form's fields.
    TrainField {
        field: usize,
        buf: String,
    },
}

/// The two screens: reviewing labels, and training on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Review,
    Train,
}

/// The names of the settings form's fields, in order.
pub const SETTINGS_FIELDS: [&str; 4] = ["components", "k", "noise threshold", "seed"];

/// The last message for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// One undo step: the label map and the clustering it was drawn from (re-clustering changes both).
#[derive(Debug, Clone)]
struct Snapshot {
    map: LabelMap,
    curation: Arc<Curation>,
}

/// Everything the review needs, produced by loading (see [`super::load`]).
pub struct Session {
    pub dataset: Arc<Dataset>,
    pub curation: Curation,
    pub map: LabelMap,
    /// Where `s` writes the map.
    pub save_path: PathBuf,
    /// Where `e` proposes to export.
    pub export_dir: PathBuf,
    pub namer: Arc<dyn Namer>,
    /// Shown in the status bar on the first frame (e.g. "started from a clustering draft").
    pub note: Option<String>,
    /// Shown instead, as an error, when something the user supplied was set aside (a bad key file).
    pub problem: Option<String>,
    pub keys: KeyMap,
    /// Where runs go and the training form's first values.
    pub training: TrainDefaults,
}

pub struct App {
    pub dataset: Arc<Dataset>,
    pub curation: Arc<Curation>,
    pub index: TagIndex,
    pub map: LabelMap,
    /// The map as last saved (or loaded); the session is dirty when `map` differs from it.
    saved: LabelMap,
    pub save_path: PathBuf,
    pub export_dir: PathBuf,
    pub summary: Summary,
    pub focus: Pane,
    pub label_sel: usize,
    pub member_sel: usize,
    pub noise_sel: usize,
    pub mode: Mode,
    pub message: Option<Message>,
    pub keys: KeyMap,
    /// Terminal size, kept so that mouse clicks can be mapped to panes.
    pub size: Rect,
    /// Spinner phase; advanced by ticks while jobs run.
    pub tick: usize,
    pub should_quit: bool,
    pub screen: Screen,
    pub training: Training,
    trainer: Arc<dyn Trainer>,
    undo: Vec<Snapshot>,
    redo: Vec<Snapshot>,
    namer: Arc<dyn Namer>,
    next_job: u64,
    /// Awaited jobs: the newest id per kind; results with other ids are stale.
    pending: Vec<(JobKind, u64)>,
    outbox: Vec<Job>,
}

impl App {
    pub fn new(s: Session) -> App {
        let summary = export::plan(&s.dataset, &s.map, Policy::Strict).summary;
        let index = TagIndex::build(&s.dataset);
        App {
            index,
            curation: Arc::new(s.curation),
            dataset: s.dataset,
            saved: s.map.clone(),
            map: s.map,
            save_path: s.save_path,
            export_dir: s.export_dir,
            summary,
            focus: Pane::Labels,
            label_sel: 0,
            member_sel: 0,
            noise_sel: 0,
            mode: Mode::Normal,
            message: match (s.problem, s.note) {
                (Some(text), _) => Some(Message { text, error: true }),
                (None, Some(text)) => Some(Message { text, error: false }),
                (None, None) => None,
            },
            keys: s.keys,
            size: Rect::new(0, 0, 80, 24),
            tick: 0,
            should_quit: false,
            screen: Screen::Review,
            training: Training::new(s.training),
            trainer: Arc::new(training::Retrainer),
            undo: Vec::new(),
            redo: Vec::new(),
            namer: s.namer,
            next_job: 0,
            pending: Vec::new(),
            outbox: Vec::new(),
        }
    }

    /// Replaces the retrain loop (tests use a scripted one).
    pub fn with_trainer(mut self, trainer: Arc<dyn Trainer>) -> App {
        self.trainer = trainer;
        self
    }

    // ----- queries used by rendering -----

    pub fn dirty(&self) -> bool {
        self.map != self.saved
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// The job being awaited, if any (the spinner shows it).
    pub fn busy(&self) -> Option<JobKind> {
        self.pending.first().map(|(k, _)| *k)
    }

    /// How `n`/`N` ask for names (`grounded` or `free`), when the namer says.
    pub fn naming_mode(&self) -> Option<&'static str> {
        self.namer.mode()
    }

    /// The tags of the selected label, in map order.
    pub fn members(&self) -> &[String] {
        self.map
            .labels
            .get(self.label_sel)
            .map_or(&[][..], |l| &l.tags[..])
    }

    /// Noise tags: those the map calls noise, then dataset tags it does not mention (which an
    /// export also treats as noise).
    pub fn noise(&self) -> Vec<String> {
        let mut v = self.map.noise.clone();
        v.extend(self.summary.unmapped_tags.iter().cloned());
        v
    }

    /// Tracks carrying `tag` in the data (0 for a tag the data does not have).
    pub fn tag_tracks(&self, tag: &str) -> usize {
        self.dataset
            .tag_id(tag)
            .map_or(0, |t| self.curation.tag_tracks.get(t).copied().unwrap_or(0))
    }

    /// Single-tag tracks of `tag`: what it contributes to an export.
    pub fn tag_single(&self, tag: &str) -> usize {
        self.dataset
            .tag_id(tag)
            .map_or(0, |t| self.curation.tag_single.get(t).copied().unwrap_or(0))
    }

    /// The tag the details pane describes: the selected noise tag when the noise pane has focus,
    /// otherwise the selected member of the selected label.
    pub fn selected_tag(&self) -> Option<String> {
        match self.focus {
            Pane::Noise => self.noise().get(self.noise_sel).cloned(),
            Pane::Labels | Pane::Members => self.members().get(self.member_sel).cloned(),
        }
    }

    /// The LLM's suggestion for a noise tag, as a label name.
    pub fn suggestion_for(&self, tag: &str) -> Option<(Option<&Label>, &str)> {
        let s = self.map.suggestions.iter().find(|s| s.tag == tag)?;
        let label = s
            .label
            .and_then(|id| self.map.labels.iter().find(|l| l.id == id));
        Some((label, s.reason.as_str()))
    }

    // ----- messages -----

    pub fn info(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
        });
    }

    // ----- selection -----

    fn len_of(&self, pane: Pane) -> usize {
        match pane {
            Pane::Labels => self.map.labels.len(),
            Pane::Members => self.members().len(),
            Pane::Noise => self.noise().len(),
        }
    }

    fn sel_mut(&mut self, pane: Pane) -> &mut usize {
        match pane {
            Pane::Labels => &mut self.label_sel,
            Pane::Members => &mut self.member_sel,
            Pane::Noise => &mut self.noise_sel,
        }
    }

    /// Moves the focused pane's selection by `delta`, staying inside the list.
    pub fn select_by(&mut self, delta: isize) {
        let len = self.len_of(self.focus);
        let focus = self.focus;
        let sel = self.sel_mut(focus);
        let max = len.saturating_sub(1) as isize;
        *sel = (*sel as isize + delta).clamp(0, max) as usize;
        if focus == Pane::Labels {
            self.member_sel = 0;
        }
    }

    pub fn select_edge(&mut self, last: bool) {
        let len = self.len_of(self.focus);
        let focus = self.focus;
        *self.sel_mut(focus) = if last { len.saturating_sub(1) } else { 0 };
        if focus == Pane::Labels {
            self.member_sel = 0;
        }
    }

    pub fn focus_step(&mut self, forward: bool) {
        let order = [Pane::Labels, Pane::Members, Pane::Noise];
        let i = order.iter().position(|p| *p == self.focus).unwrap_or(0);
        let n = order.len();
        self.focus = order[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
    }

    /// Keeps every selection inside its list after the lists changed.
    fn clamp(&mut self) {
        for p in [Pane::Labels, Pane::Members, Pane::Noise] {
            let len = self.len_of(p);
            let sel = self.sel_mut(p);
            *sel = (*sel).min(len.saturating_sub(1));
        }
    }

    // ----- edits -----

    /// Applies `f` to a copy of the map; keeps it only if the result is a valid map, recording the
    /// old state for undo. The error (shown in the status bar) leaves everything unchanged.
    pub fn edit(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut LabelMap) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut next = self.map.clone();
        let res = f(&mut next).and_then(|()| next.validate());
        if let Err(e) = res {
            // `what` describes the edit as done; it was not, and the reason says why.
            self.error(format!("{e}; nothing changed"));
            return Err(e);
        }
        let old = Snapshot {
            map: std::mem::replace(&mut self.map, next),
            curation: self.curation.clone(),
        };
        self.undo.push(old);
        self.redo.clear();
        self.after_change();
        self.info(what.to_string());
        Ok(())
    }

    fn after_change(&mut self) {
        self.summary = export::plan(&self.dataset, &self.map, Policy::Strict).summary;
        self.clamp();
    }

    pub fn undo(&mut self) {
        self.step_history(true);
    }

    pub fn redo(&mut self) {
        self.step_history(false);
    }

    fn step_history(&mut self, back: bool) {
        let (from, word) = if back {
            (&mut self.undo, "undo")
        } else {
            (&mut self.redo, "redo")
        };
        let Some(s) = from.pop() else {
            self.info(format!("nothing to {word}"));
            return;
        };
        let current = Snapshot {
            map: std::mem::replace(&mut self.map, s.map),
            curation: std::mem::replace(&mut self.curation, s.curation),
        };
        if back {
            self.redo.push(current);
        } else {
            self.undo.push(current);
        }
        self.after_change();
        self.info(word);
    }

    /// Writes the map atomically; the settings of the clustering it came from go with it.
    pub fn save(&mut self) -> Result<(), String> {
        let mut map = self.map.clone();
        map.settings = Some(self.curation.params.clone());
        match map.save(&self.save_path) {
            Ok(()) => {
                self.saved = self.map.clone();
                self.info(format!("saved {}", self.save_path.display()));
                Ok(())
            }
            Err(e) => {
                self.error(e.to_string());
                Err(e.to_string())
            }
        }
    }

    // ----- background jobs -----

    fn request(&mut self, kind: JobKind, work: JobWork) {
        self.next_job += 1;
        let id = self.next_job;
        self.pending.retain(|(k, _)| *k != kind);
        self.pending.push((kind, id));
        self.outbox.push(Job { id, kind, work });
    }

    /// Jobs requested since the last call, for the event loop to run.
    pub fn take_jobs(&mut self) -> Vec<Job> {
        std::mem::take(&mut self.outbox)
    }

    /// Asks the namer for the given labels (`None`: all, plus where noise tags belong).
    pub fn request_naming(&mut self, only: Option<Vec<u32>>) {
        let (ds, map, namer) = (self.dataset.clone(), self.map.clone(), self.namer.clone());
        let what = match &only {
            Some(ids) => format!("asking the LLM to name {} label(s)…", ids.len()),
            None => "asking the LLM to name all labels and place noise tags…".to_string(),
        };
        self.request(
            JobKind::Naming,
            Box::new(move |_| JobOutput::Naming(namer.name(&ds, &map, only.as_deref()))),
        );
        self.info(what);
    }

    pub fn request_export(&mut self, dir: PathBuf) {
        let (ds, map) = (self.dataset.clone(), self.map.clone());
        self.request(
            JobKind::Export,
            Box::new(move |_| {
                let plan = export::plan(&ds, &map, Policy::Strict);
                let res = match export::write(&ds, &map, &plan, &dir, false) {
                    Ok(()) => Ok((dir, plan.summary)),
                    // The CLI's advice (--force) does not apply here.
                    Err(export::ExportError::Exists(p)) => Err(format!(
                        "{}: an export already exists there; press e and choose another directory",
                        p.display()
                    )),
                    Err(e) => Err(e.to_string()),
                };
                JobOutput::Export(res)
            }),
        );
        self.info("exporting…");
    }

    /// Takes a finished job's result; stale results (superseded requests) are ignored.
    pub fn on_job(&mut self, id: u64, out: JobOutput) {
        let Some(pos) = self.pending.iter().position(|(_, i)| *i == id) else {
            return;
        };
        if out.is_final() {
            self.pending.remove(pos);
        }
        match out {
            JobOutput::Retrain(ev) => self.training.on_event(*ev),
            JobOutput::Retrained(res) => self.on_retrained(res),
            JobOutput::Naming(Err(e)) => self.error(format!("LLM naming failed: {e}")),
            JobOutput::Naming(Ok(naming)) => {
                let mut skipped = Vec::new();
                let n = naming.names.len();
                let s = naming.suggestions.len();
                let by_model = naming.names.iter().filter(|(_, _, by)| by == "llm").count();
                let how = match self.namer.mode() {
                    Some(mode) => format!(" ({by_model} by the model, {mode})"),
                    None => String::new(),
                };
                let res = self.edit(
                    &format!("LLM named {n} label(s){how}, {s} suggestion(s)"),
                    |m| {
                        skipped = namer::apply(m, &naming);
                        Ok(())
                    },
                );
                let notes: Vec<String> = naming.warnings.into_iter().chain(skipped).collect();
                if res.is_ok() && !notes.is_empty() {
                    self.info(format!(
                        "LLM named {n} label(s){how}, {s} suggestion(s); note: {}",
                        notes.join("; ")
                    ));
                }
            }
            JobOutput::Export(Ok((dir, s))) => self.info(format!(
                "exported {} tracks in {} labels to {}",
                s.exported,
                s.labels,
                dir.display()
            )),
            JobOutput::Export(Err(e)) => self.error(format!("export failed: {e}")),
        }
    }

    /// Advances the spinner; the loop calls it on every tick while a job runs.
    pub fn on_tick(&mut self) {
        if self.busy().is_some() {
            self.tick = self.tick.wrapping_add(1);
        }
    }
}
