//! The review session's state and every way it can change. Each user action is a method here and a
//! state transition that tests drive directly; nothing in this module draws or reads the terminal.
//! Edits go through [`App::edit`], which validates the result, keeps the previous state for undo and
//! refreshes the counts an export would give, so the status bar is never stale.

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::index::TagIndex;
use super::jobs::{Job, JobKind, JobOutput};
use super::keys::{Action, KeyMap};
use super::namer::{self, Namer};
use super::ui;
use crate::curation::labels::{Label, LabelMap};
use crate::curation::{self, Curation, CurationParams};
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
            undo: Vec::new(),
            redo: Vec::new(),
            namer: s.namer,
            next_job: 0,
            pending: Vec::new(),
            outbox: Vec::new(),
        }
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

    pub fn rename_label(&mut self, label: usize, name: &str) -> Result<(), String> {
        let name = name.trim().to_string();
        self.edit(&format!("renamed label to {name:?}"), |m| {
            let l = m
                .labels
                .get_mut(label)
                .ok_or_else(|| format!("no label #{label}"))?;
            l.name = name;
            l.named_by = "manual".into();
            Ok(())
        })
    }

    /// Moves `tag` out of wherever it is (a label, noise, or unmentioned) to `dest`.
    pub fn move_tag(&mut self, tag: &str, dest: Dest) -> Result<(), String> {
        let what = match dest {
            Dest::Label(i) => format!(
                "moved {tag} to {}",
                self.map.labels.get(i).map_or("?", |l| l.name.as_str())
            ),
            Dest::Noise => format!("moved {tag} to noise"),
        };
        let tag = tag.to_string();
        self.edit(&what, |m| {
            if let Dest::Label(i) = dest
                && i >= m.labels.len()
            {
                return Err(format!("no label #{i}"));
            }
            for l in &mut m.labels {
                l.tags.retain(|t| *t != tag);
            }
            m.noise.retain(|t| *t != tag);
            m.suggestions.retain(|s| s.tag != tag);
            match dest {
                Dest::Label(i) => m.labels[i].tags.push(tag),
                Dest::Noise => m.noise.push(tag),
            }
            Ok(())
        })
    }

    /// Moves every tag of label `from` into label `into` and removes `from`.
    pub fn merge_labels(&mut self, from: usize, into: usize) -> Result<(), String> {
        let n = self.map.labels.len();
        if from >= n || into >= n || from == into {
            let e = "merge needs two different labels".to_string();
            self.error(e.clone());
            return Err(e);
        }
        let what = format!(
            "merged {} into {}",
            self.map.labels[from].name, self.map.labels[into].name
        );
        self.edit(&what, |m| {
            let gone = m.labels.remove(from);
            let into = if into > from { into - 1 } else { into };
            m.labels[into].tags.extend(gone.tags);
            m.suggestions.retain(|s| s.label != Some(gone.id));
            Ok(())
        })?;
        self.label_sel = if into > from { into - 1 } else { into };
        self.clamp();
        Ok(())
    }

    /// Splits a label in two by k-means (k = 2) on its tags' PCA coordinates; the part holding the
    /// label's biggest tag keeps the name, the other becomes a new label.
    pub fn split_label(&mut self, label: usize) -> Result<(), String> {
        let Some(l) = self.map.labels.get(label) else {
            return Err("no label selected".into());
        };
        let ids: Vec<usize> = l
            .tags
            .iter()
            .filter_map(|t| self.dataset.tag_id(t))
            .collect();
        if ids.len() < 2 {
            let e = format!("{} has fewer than two tags; nothing to split", l.name);
            self.error(e.clone());
            return Err(e);
        }
        let coords = self.curation.coords.select(ndarray::Axis(0), &ids);
        let params = CurationParams {
            k: 2,
            // Every member already belongs to the label: none may become noise here.
            noise_threshold: f64::MAX,
            ..self.curation.params.clone()
        };
        let parts = match curation::cluster::cluster(&coords, &params) {
            Ok(p) => p,
            Err(e) => {
                self.error(format!("split: {e}"));
                return Err(e.to_string());
            }
        };
        let first = parts[0];
        let names: Vec<String> = ids.iter().map(|&t| self.dataset.tags[t].clone()).collect();
        let (keep, other): (Vec<_>, Vec<_>) =
            names.into_iter().zip(parts).partition(|(_, p)| *p == first);
        let keep: Vec<String> = keep.into_iter().map(|(t, _)| t).collect();
        let other: Vec<String> = other.into_iter().map(|(t, _)| t).collect();
        let old_name = l.name.clone();
        let new_id = self
            .map
            .labels
            .iter()
            .map(|l| l.id)
            .max()
            .map_or(0, |m| m + 1);
        let mut new_name = format!("{old_name} (split)");
        let mut n = 2;
        while self
            .map
            .labels
            .iter()
            .any(|l| l.name.eq_ignore_ascii_case(&new_name))
        {
            new_name = format!("{old_name} (split {n})");
            n += 1;
        }
        self.edit(
            &format!("split {old_name}: {} + {} tags", keep.len(), other.len()),
            |m| {
                m.labels[label].tags = keep;
                m.labels.insert(
                    label + 1,
                    Label {
                        id: new_id,
                        name: new_name,
                        named_by: "placeholder".into(),
                        tags: other,
                    },
                );
                Ok(())
            },
        )
    }

    /// Re-runs clustering with `params` (reusing the PCA when only k, seed or threshold changed,
    /// see [`super::recluster`]) and replaces the map by the new draft. A new label keeps
    /// the name of an old one when they share most of their tags (Jaccard ≥ 0.5), so re-clustering
    /// with a new seed does not throw the naming work away.
    pub fn recluster(&mut self, params: CurationParams) -> Result<(), String> {
        let c = match super::recluster::recluster(&self.dataset, &self.curation, &params) {
            Ok(c) => c,
            Err(e) => {
                self.error(format!("re-cluster: {e}"));
                return Err(e.to_string());
            }
        };
        let mut next = LabelMap::from_curation(&c);
        carry_names(&self.map, &mut next);
        let what = format!(
            "re-clustered: {} labels, {} noise tags (components {}, k {}, threshold {}, seed {})",
            next.labels.len(),
            next.noise.len(),
            params.components,
            params.k,
            params.noise_threshold,
            params.seed
        );
        let old_curation = std::mem::replace(&mut self.curation, Arc::new(c));
        let res = self.edit(&what, |m| {
            *m = next;
            Ok(())
        });
        match res {
            Ok(()) => {
                if let Some(s) = self.undo.last_mut() {
                    s.curation = old_curation;
                }
                Ok(())
            }
            Err(e) => {
                self.curation = old_curation;
                Err(e)
            }
        }
    }

    /// Moves the selected noise tag to the label the LLM suggested.
    pub fn accept_suggestion(&mut self, tag: &str) -> Result<(), String> {
        let target = self
            .map
            .suggestions
            .iter()
            .find(|s| s.tag == tag)
            .and_then(|s| s.label)
            .and_then(|id| self.map.labels.iter().position(|l| l.id == id));
        match target {
            Some(i) => self.move_tag(tag, Dest::Label(i)),
            None => {
                let e = format!("no label suggested for {tag}; press N to ask the LLM");
                self.error(e.clone());
                Err(e)
            }
        }
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

    fn request(&mut self, kind: JobKind, work: Box<dyn FnOnce() -> JobOutput + Send>) {
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
            Box::new(move || JobOutput::Naming(namer.name(&ds, &map, only.as_deref()))),
        );
        self.info(what);
    }

    pub fn request_export(&mut self, dir: PathBuf) {
        let (ds, map) = (self.dataset.clone(), self.map.clone());
        self.request(
            JobKind::Export,
            Box::new(move || {
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
        self.pending.remove(pos);
        match out {
            JobOutput::Naming(Err(e)) => self.error(format!("LLM naming failed: {e}")),
            JobOutput::Naming(Ok(naming)) => {
                let mut skipped = Vec::new();
                let n = naming.names.len();
                let s = naming.suggestions.len();
                let res = self.edit(&format!("LLM named {n} label(s), {s} suggestion(s)"), |m| {
                    skipped = namer::apply(m, &naming);
                    Ok(())
                });
                let notes: Vec<String> = naming.warnings.into_iter().chain(skipped).collect();
                if res.is_ok() && !notes.is_empty() {
                    self.info(format!(
                        "LLM named {n} label(s), {s} suggestion(s); note: {}",
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

    // ----- input -----

    pub fn quit(&mut self) {
        if self.dirty() {
            self.mode = Mode::ConfirmQuit;
        } else {
            self.should_quit = true;
        }
    }

    pub fn handle_key(&mut self, ev: KeyEvent) {
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal_key(ev),
            Mode::Help => {}
            Mode::ConfirmQuit => match ev.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.should_quit = true,
                KeyCode::Char('s') => {
                    if self.save().is_ok() {
                        self.should_quit = true;
                    }
                }
                _ => self.info("quit cancelled"),
            },
            Mode::Rename { label, mut buf } => match ev.code {
                KeyCode::Enter => {
                    if self.rename_label(label, &buf).is_err() {
                        self.mode = Mode::Rename { label, buf };
                    }
                }
                KeyCode::Esc => self.info("rename cancelled"),
                _ => {
                    edit_line(&mut buf, &ev);
                    self.mode = Mode::Rename { label, buf };
                }
            },
            Mode::Export { mut buf } => match ev.code {
                KeyCode::Enter if !buf.trim().is_empty() => {
                    let dir = PathBuf::from(buf.trim());
                    self.export_dir = dir.clone();
                    self.request_export(dir);
                }
                KeyCode::Esc => self.info("export cancelled"),
                _ => {
                    edit_line(&mut buf, &ev);
                    self.mode = Mode::Export { buf };
                }
            },
            Mode::Pick {
                purpose,
                options,
                mut sel,
            } => match ev.code {
                KeyCode::Enter => {
                    if let Some(&dest) = options.get(sel) {
                        self.apply_pick(&purpose, dest);
                    }
                }
                KeyCode::Esc | KeyCode::Char('q') => self.info("cancelled"),
                code => {
                    match code {
                        KeyCode::Up | KeyCode::Char('k') => sel = sel.saturating_sub(1),
                        KeyCode::Down | KeyCode::Char('j') => {
                            sel = (sel + 1).min(options.len().saturating_sub(1))
                        }
                        _ => {}
                    }
                    self.mode = Mode::Pick {
                        purpose,
                        options,
                        sel,
                    };
                }
            },
            Mode::Settings { mut fields, field } => match ev.code {
                KeyCode::Enter => match parse_settings(&fields, &self.curation.params) {
                    Ok(p) => {
                        if self.recluster(p).is_err() {
                            self.mode = Mode::Settings { fields, field };
                        }
                    }
                    Err(e) => {
                        self.error(e);
                        self.mode = Mode::Settings { fields, field };
                    }
                },
                KeyCode::Esc => self.info("re-cluster cancelled"),
                KeyCode::Up | KeyCode::BackTab => {
                    self.mode = Mode::Settings {
                        fields,
                        field: field.saturating_sub(1),
                    }
                }
                KeyCode::Down | KeyCode::Tab => {
                    self.mode = Mode::Settings {
                        fields,
                        field: (field + 1).min(SETTINGS_FIELDS.len() - 1),
                    }
                }
                _ => {
                    edit_line(&mut fields[field], &ev);
                    self.mode = Mode::Settings { fields, field };
                }
            },
        }
    }

    fn apply_pick(&mut self, purpose: &PickFor, dest: Dest) {
        match (purpose, dest) {
            (PickFor::MoveTag(tag), d) => {
                let _ = self.move_tag(tag, d);
            }
            (PickFor::MergeFrom(from), Dest::Label(into)) => {
                let _ = self.merge_labels(*from, into);
            }
            (PickFor::MergeFrom(_), Dest::Noise) => self.error("a label cannot merge into noise"),
        }
    }

    fn normal_key(&mut self, ev: KeyEvent) {
        if let Some(a) = self.keys.action(&ev) {
            self.perform(a);
        }
    }

    /// Runs one normal-mode action (keys and tests come through here).
    pub fn perform(&mut self, a: Action) {
        match a {
            Action::Quit => self.quit(),
            Action::Help => self.mode = Mode::Help,
            Action::Up => self.select_by(-1),
            Action::Down => self.select_by(1),
            Action::Top => self.select_edge(false),
            Action::Bottom => self.select_edge(true),
            Action::NextPane => self.focus_step(true),
            Action::PrevPane => self.focus_step(false),
            Action::Rename => match self.map.labels.get(self.label_sel) {
                Some(l) => {
                    self.mode = Mode::Rename {
                        label: self.label_sel,
                        buf: l.name.clone(),
                    }
                }
                None => self.error("no label to rename"),
            },
            Action::Move => match self.selected_tag() {
                Some(tag) => {
                    let here = self.place_of(&tag);
                    let mut options: Vec<Dest> =
                        (0..self.map.labels.len()).map(Dest::Label).collect();
                    options.push(Dest::Noise);
                    options.retain(|d| *d != here);
                    self.mode = Mode::Pick {
                        purpose: PickFor::MoveTag(tag),
                        options,
                        sel: 0,
                    };
                }
                None => self.error("select a tag first (Tab to the tags or noise pane)"),
            },
            Action::ToNoise => match self.selected_tag() {
                Some(tag) if self.place_of(&tag) != Dest::Noise => {
                    let _ = self.move_tag(&tag, Dest::Noise);
                }
                Some(tag) => self.info(format!("{tag} is already noise; m moves it to a label")),
                None => self.error("select a tag first"),
            },
            Action::Merge => {
                if self.map.labels.len() < 2 {
                    self.error("merge needs two labels");
                } else {
                    let from = self.label_sel;
                    let options = (0..self.map.labels.len())
                        .filter(|&i| i != from)
                        .map(Dest::Label)
                        .collect();
                    self.mode = Mode::Pick {
                        purpose: PickFor::MergeFrom(from),
                        options,
                        sel: 0,
                    };
                }
            }
            Action::Split => {
                let _ = self.split_label(self.label_sel);
            }
            Action::Recluster => {
                let p = &self.curation.params;
                self.mode = Mode::Settings {
                    fields: [
                        p.components.to_string(),
                        p.k.to_string(),
                        p.noise_threshold.to_string(),
                        p.seed.to_string(),
                    ],
                    field: 0,
                };
            }
            Action::NameLabel => match self.map.labels.get(self.label_sel) {
                Some(l) => {
                    let id = l.id;
                    self.request_naming(Some(vec![id]));
                }
                None => self.error("no label selected"),
            },
            Action::NameAll => self.request_naming(None),
            Action::AcceptSuggestion => match (self.focus, self.selected_tag()) {
                (Pane::Noise, Some(tag)) => {
                    let _ = self.accept_suggestion(&tag);
                }
                _ => self.error("select a noise tag first (Tab to the noise pane)"),
            },
            Action::Undo => self.undo(),
            Action::Redo => self.redo(),
            Action::Save => {
                let _ = self.save();
            }
            Action::Export => {
                self.mode = Mode::Export {
                    buf: self.export_dir.display().to_string(),
                }
            }
        }
    }

    /// Where a tag is now: its label, or noise (a tag the map does not mention counts as noise).
    fn place_of(&self, tag: &str) -> Dest {
        self.map
            .labels
            .iter()
            .position(|l| l.tags.iter().any(|t| t == tag))
            .map_or(Dest::Noise, Dest::Label)
    }

    pub fn resize(&mut self, width: u16, height: u16) {
        self.size = Rect::new(0, 0, width, height);
    }

    /// A left click selects the row under the pointer and focuses its pane; the wheel scrolls.
    pub fn handle_mouse(&mut self, ev: MouseEvent) {
        if self.mode != Mode::Normal {
            return;
        }
        let pos = Position::new(ev.column, ev.row);
        let areas = ui::Areas::new(self.size);
        let hit = [
            (Pane::Labels, areas.labels),
            (Pane::Members, areas.members),
            (Pane::Noise, areas.noise),
        ]
        .into_iter()
        .find(|(_, r)| r.contains(pos));
        let Some((pane, rect)) = hit else {
            return;
        };
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = pane;
                let rows = ui::list_rows(pane, rect);
                if rows.contains(pos) {
                    let first = ui::list_offset(*self.sel_mut(pane), rows.height as usize);
                    let row = first + (ev.row - rows.y) as usize;
                    if row < self.len_of(pane) {
                        *self.sel_mut(pane) = row;
                        if pane == Pane::Labels {
                            self.member_sel = 0;
                        }
                    }
                }
            }
            MouseEventKind::ScrollDown => {
                self.focus = pane;
                self.select_by(1);
            }
            MouseEventKind::ScrollUp => {
                self.focus = pane;
                self.select_by(-1);
            }
            _ => {}
        }
    }
}

/// Line editing shared by the text popups: type, Backspace, Ctrl-U clears, Ctrl-W drops a word.
fn edit_line(buf: &mut String, ev: &KeyEvent) {
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    match ev.code {
        KeyCode::Char('u') if ctrl => buf.clear(),
        KeyCode::Char('w') if ctrl => {
            let t = buf.trim_end().len();
            let cut = buf[..t].rfind(' ').map_or(0, |i| i + 1);
            buf.truncate(cut);
        }
        KeyCode::Char(c) if !ctrl => buf.push(c),
        KeyCode::Backspace => {
            buf.pop();
        }
        _ => {}
    }
}

fn parse_settings(fields: &[String; 4], base: &CurationParams) -> Result<CurationParams, String> {
    let num = |i: usize| -> Result<usize, String> {
        fields[i].trim().parse().map_err(|_| {
            format!(
                "{} must be a whole number (got {:?})",
                SETTINGS_FIELDS[i], fields[i]
            )
        })
    };
    let p = CurationParams {
        components: num(0)?,
        k: num(1)?,
        noise_threshold: fields[2].trim().parse().map_err(|_| {
            format!(
                "noise threshold must be a number such as 1.4 (got {:?})",
                fields[2]
            )
        })?,
        seed: fields[3]
            .trim()
            .parse()
            .map_err(|_| format!("seed must be a whole number (got {:?})", fields[3]))?,
        ..base.clone()
    };
    p.check().map_err(|e| e.to_string())?;
    Ok(p)
}

/// Gives each label of `next` the name of the `old` label it overlaps most, when they share at
/// least half of their combined tags and the name is still free.
fn carry_names(old: &LabelMap, next: &mut LabelMap) {
    let mut used: Vec<String> = Vec::new();
    for l in &mut next.labels {
        let best = old
            .labels
            .iter()
            .map(|o| {
                let inter = o.tags.iter().filter(|t| l.tags.contains(t)).count();
                let union = o.tags.len() + l.tags.len() - inter;
                (inter as f64 / union.max(1) as f64, o)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((j, o)) = best
            && j >= 0.5
            && !used.contains(&o.name.to_lowercase())
        {
            l.name = o.name.clone();
            l.named_by = o.named_by.clone();
            used.push(o.name.to_lowercase());
        }
    }
    // Placeholder names ("label 3") may now collide with a carried name; renumber those.
    for i in 0..next.labels.len() {
        let name = next.labels[i].name.to_lowercase();
        let clash = next
            .labels
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && o.name.to_lowercase() == name);
        if clash && next.labels[i].named_by == "placeholder" {
            let mut n = next.labels[i].id;
            loop {
                let cand = format!("label {n}");
                if !next
                    .labels
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(&cand))
                {
                    next.labels[i].name = cand;
                    break;
                }
                n += 1;
            }
        }
    }
}
