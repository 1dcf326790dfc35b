//! The status bar: what an export would give right now (totals, then tracks per label in the
//! labels' colours), unsaved edits, and the last message (or a spinner while a job runs).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::tui::app::App;
use crate::tui::jobs::JobKind;
use crate::tui::keys::Action;
use crate::tui::ui::label_color;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let s = &app.summary;
    let mut counts = vec![
        Span::styled("export ", Style::new().add_modifier(Modifier::DIM)),
        Span::raw(format!(
            "single-tag {} · noise {} · exported {} in {} labels",
            s.single_tag_tracks, s.noise_tracks, s.exported, s.labels
        )),
    ];
    if app.dirty() {
        counts.push(Span::styled(
            " · ● unsaved",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    } else {
        counts.push(Span::styled(" · saved", Style::new().fg(Color::Green)));
    }
    let mut per_label = vec![Span::styled(
        "per label ",
        Style::new().add_modifier(Modifier::DIM),
    )];
    for (i, l) in s.per_label.iter().enumerate() {
        per_label.push(Span::styled(
            format!("{} ", l.tracks),
            Style::new().fg(label_color(i)),
        ));
    }
    let third = if let Some(kind) = app.busy() {
        let mut spans = vec![
            Span::styled(
                SPINNER[app.tick % SPINNER.len()],
                Style::new().fg(Color::Cyan),
            ),
            Span::raw(match (kind, app.naming_mode()) {
                (JobKind::Naming, Some(mode)) => format!(" {} ({mode} naming)…", kind.describe()),
                _ => format!(" {}…", kind.describe()),
            }),
        ];
        // A run takes long: its latest message (e.g. a failed export of another job) stays visible.
        if let Some(m) = &app.message {
            let style = if m.error {
                Style::new().fg(Color::Red)
            } else {
                Style::new().add_modifier(Modifier::DIM)
            };
            spans.push(Span::styled(format!(" · {}", m.text), style));
        }
        Line::from(spans)
    } else if let Some(m) = &app.message {
        let style = if m.error {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        Line::styled(m.text.clone(), style)
    } else {
        let k = |a| app.keys.hint(a);
        let naming = app
            .naming_mode()
            .map(|m| format!(" · {} name ({m})", k(Action::NameLabel)))
            .unwrap_or_default();
        Line::styled(
            format!(
                "{} help · {} rename · {} move · {} noise · {} undo · {} save · {} train · {} quit{naming}",
                k(Action::Help),
                k(Action::Rename),
                k(Action::Move),
                k(Action::ToNoise),
                k(Action::Undo),
                k(Action::Save),
                k(Action::Train),
                k(Action::Quit)
            ),
            Style::new().add_modifier(Modifier::DIM),
        )
    };
    Paragraph::new(vec![Line::from(counts), Line::from(per_label), third]).render(area, buf);
}
