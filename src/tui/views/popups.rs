//! Popups drawn over the panes: help, text input, pick lists, re-cluster settings, quit check.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use super::{draw_list, fit};
use crate::tui::app::training::TRAIN_KEYS;
use crate::tui::app::{App, Dest, PickFor, SETTINGS_FIELDS, Screen};

/// A centred rectangle of at most `w`×`h`, clipped to `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    let [r] = Layout::horizontal([Constraint::Length(w)])
        .flex(ratatui::layout::Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(h)])
        .flex(ratatui::layout::Flex::Center)
        .areas(r);
    r
}

fn frame(title: &str, area: Rect, buf: &mut Buffer) -> Rect {
    Clear.render(area, buf);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(Color::Cyan))
        .title(format!(" {title} "));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

pub fn help(app: &App, area: Rect, buf: &mut Buffer) {
    if app.screen == Screen::Train {
        return train_help(area, buf);
    }
    let rows = app.keys.bindings.len() as u16 + 3;
    let r = centered(area, 72, rows);
    let inner = frame("Keys (any key closes)", r, buf);
    let mut lines: Vec<Line> = app
        .keys
        .bindings
        .iter()
        .map(|(a, keys)| {
            let k: Vec<String> = keys.iter().map(|k| k.label()).collect();
            Line::raw(fit(
                &format!("{:<14} {}", k.join(" "), a.describe()),
                inner.width as usize,
            ))
        })
        .collect();
    lines.push(Line::styled(
        fit(
            "mouse: click selects · wheel scrolls · popups: ↑↓ Enter Esc",
            inner.width as usize,
        ),
        Style::new().add_modifier(Modifier::DIM),
    ));
    Paragraph::new(lines).render(inner, buf);
}

fn train_help(area: Rect, buf: &mut Buffer) {
    let r = centered(area, 72, TRAIN_KEYS.len() as u16 + 2);
    let inner = frame("Training keys (any key closes)", r, buf);
    let lines: Vec<Line> = TRAIN_KEYS
        .iter()
        .map(|(k, what)| Line::raw(fit(&format!("{k:<14} {what}"), inner.width as usize)))
        .collect();
    Paragraph::new(lines).render(inner, buf);
}

pub fn line_input(title: &str, text: &str, hint: &str, area: Rect, buf: &mut Buffer) {
    let r = centered(area, 60, 5);
    let inner = frame(title, r, buf);
    let w = inner.width as usize;
    // Show the end of a long value: that is where the cursor is.
    let shown: String = {
        let n = text.chars().count();
        text.chars().skip((n + 2).saturating_sub(w)).collect()
    };
    Paragraph::new(vec![
        Line::styled(
            format!("{shown}▏"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
        Line::styled(fit(hint, w), Style::new().add_modifier(Modifier::DIM)),
    ])
    .render(inner, buf);
}

pub fn pick(
    app: &App,
    purpose: &PickFor,
    options: &[Dest],
    sel: usize,
    area: Rect,
    buf: &mut Buffer,
) {
    let title = match purpose {
        PickFor::MoveTag(t) => format!("Move {t} to"),
        PickFor::MergeFrom(i) => format!(
            "Merge {} into",
            app.map.labels.get(*i).map_or("?", |l| l.name.as_str())
        ),
    };
    let r = centered(area, 40, options.len() as u16 + 2);
    let inner = frame(&title, r, buf);
    let lines = options
        .iter()
        .map(|d| {
            Line::raw(match d {
                Dest::Label(i) => app
                    .map
                    .labels
                    .get(*i)
                    .map_or("?".into(), |l| l.name.clone()),
                Dest::Noise => "noise".into(),
            })
        })
        .collect();
    draw_list(lines, Some(sel), true, inner, buf);
}

pub fn settings(fields: &[String; 4], field: usize, area: Rect, buf: &mut Buffer) {
    let r = centered(area, 50, 8);
    let inner = frame("Re-cluster", r, buf);
    let mut lines: Vec<Line> = SETTINGS_FIELDS
        .iter()
        .zip(fields)
        .enumerate()
        .map(|(i, (name, value))| {
            let cursor = if i == field { "▏" } else { "" };
            let l = Line::raw(format!("{name:<16} {value}{cursor}"));
            if i == field {
                l.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                l
            }
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        fit("↑↓ field · Enter runs · Esc cancels", inner.width as usize),
        Style::new().add_modifier(Modifier::DIM),
    ));
    Paragraph::new(lines).render(inner, buf);
}

pub fn confirm_quit(app: &App, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    if app.dirty() {
        lines.push(Line::raw("The label map has edits that are not saved."));
    }
    if app.training.running() {
        lines.push(Line::raw(
            "A run is training: quitting stops it (c resumes it later).",
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        if app.dirty() {
            "y quit without saving · s save and quit · other: stay"
        } else {
            "y quit · other: stay"
        },
        Style::new().add_modifier(Modifier::BOLD),
    ));
    let r = centered(area, 64, lines.len() as u16 + 2);
    let inner = frame("Quit?", r, buf);
    Paragraph::new(lines).render(inner, buf);
}

/// Training exports the current map: unsaved edits are saved first, or nothing starts.
pub fn confirm_train(app: &App, area: Rect, buf: &mut Buffer) {
    let r = centered(area, 64, 6);
    let inner = frame("Unsaved edits", r, buf);
    Paragraph::new(vec![
        Line::raw("Training exports the label map with its unsaved edits."),
        Line::raw(fit(
            &format!("y: save {} and train", app.save_path.display()),
            inner.width as usize,
        )),
        Line::raw(""),
        Line::styled(
            "y save and train · other: cancel (nothing is written)",
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ])
    .render(inner, buf);
}
