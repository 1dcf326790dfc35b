//! Keys and mouse: which popup (mode) gets a key, what each normal-mode action does, and how a
//! click maps to a row. Everything here ends in an action method of [`App`].

use std::path::PathBuf;

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::{App, Dest, Mode, Pane, PickFor, SETTINGS_FIELDS, Screen};
use crate::curation::CurationParams;
use crate::tui::keys::Action;
use crate::tui::ui;

impl App {
    pub fn quit(&mut self) {
        if self.dirty() || self.training.running() {
            self.mode = Mode::ConfirmQuit;
        } else {
            self.should_quit = true;
        }
    }

    /// Quits after a confirmation; a running training is told to stop (its last finished epoch is
    /// checkpointed, so `c` in a later session, or `musav train --resume`, continues it).
    fn quit_now(&mut self) {
        if self.training.running() {
            self.stop_training();
        }
        self.should_quit = true;
    }

    pub fn handle_key(&mut self, ev: KeyEvent) {
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal_key(ev),
            Mode::Help => {}
            Mode::ConfirmQuit => match ev.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.quit_now(),
                KeyCode::Char('s') => {
                    if self.save().is_ok() {
                        self.quit_now();
                    }
                }
                _ => self.info("quit cancelled"),
            },
            Mode::ConfirmTrain => match ev.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.confirm_training(true),
                _ => self.confirm_training(false),
            },
            Mode::TrainField { field, mut buf } => match ev.code {
                KeyCode::Enter => {
                    self.training.fields[field] = buf.trim().to_string();
                    self.info(format!("{} set", super::training::TRAIN_FIELDS[field]));
                }
                KeyCode::Esc => self.info("unchanged"),
                _ => {
                    edit_line(&mut buf, &ev);
                    self.mode = Mode::TrainField { field, buf };
                }
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
        if self.screen == Screen::Train {
            self.training_key(ev);
            return;
        }
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
            Action::Train => self.open_training(),
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
        // The panes the mouse maps to are the review screen's; the training screen has none.
        if self.mode != Mode::Normal || self.screen == Screen::Train {
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
