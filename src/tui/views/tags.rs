//! The tags panes: the selected label's member tags, and the noise tags (with the LLM's suggestion
//! of where each belongs, when it gave one).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{draw_list, fit};
use crate::tui::app::{App, Pane};
use crate::tui::ui::{list_rows, pane_block};

pub fn render_members(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus == Pane::Members;
    let title = match app.map.labels.get(app.label_sel) {
        Some(l) => format!(" Tags of {} ", l.name),
        None => " Tags ".to_string(),
    };
    let block = pane_block(fit(&title, area.width.saturating_sub(2) as usize), focused);
    let inner = block.inner(area);
    block.render(area, buf);
    let w = (inner.width as usize).saturating_sub(6).max(3);
    let lines = app
        .members()
        .iter()
        .map(|t| Line::raw(format!("{:<w$} {:>5}", fit(t, w), app.tag_tracks(t))))
        .collect();
    let sel = (!app.members().is_empty()).then_some(app.member_sel);
    draw_list(lines, sel, focused, list_rows(Pane::Members, area), buf);
}

pub fn render_noise(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus == Pane::Noise;
    let noise = app.noise();
    let block = pane_block(format!(" Noise ({}) ", noise.len()), focused);
    let inner = block.inner(area);
    block.render(area, buf);
    let w = (inner.width as usize).saturating_sub(6).max(3);
    let lines = noise
        .iter()
        .map(|t| {
            let mut spans = vec![Span::raw(format!(
                "{:<w$} {:>5}",
                fit(t, w),
                app.tag_tracks(t)
            ))];
            if let Some((Some(l), _)) = app.suggestion_for(t) {
                spans.push(Span::styled(
                    format!(" → {}", l.name),
                    Style::new().fg(Color::Yellow),
                ));
            }
            Line::from(spans)
        })
        .collect();
    let sel = (!noise.is_empty()).then_some(app.noise_sel);
    draw_list(lines, sel, focused, list_rows(Pane::Noise, area), buf);
}
