//! The labels pane: each label's name, number of tags and tracks an export would give it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{draw_list, fit};
use crate::tui::app::{App, Pane};
use crate::tui::ui::{label_color, list_rows, pane_block};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus == Pane::Labels;
    let block = pane_block(format!(" Labels ({}) ", app.map.labels.len()), focused);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let name_w = (inner.width as usize).saturating_sub(13).max(4);
    let header = format!("{:<name_w$} {:>4} {:>6}", "name", "tags", "tracks");
    Paragraph::new(Line::styled(
        fit(&header, inner.width as usize),
        Style::new().add_modifier(Modifier::DIM),
    ))
    .render(Rect { height: 1, ..inner }, buf);
    let lines = app
        .map
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let tracks = app.summary.per_label.get(i).map_or(0, |c| c.tracks);
            Line::from(vec![
                Span::styled("■", Style::new().fg(label_color(i))),
                Span::raw(format!(
                    "{:<w$} {:>4} {:>6}",
                    fit(&l.name, name_w - 1),
                    l.tags.len(),
                    tracks,
                    w = name_w - 1
                )),
            ])
        })
        .collect();
    draw_list(
        lines,
        Some(app.label_sel),
        focused,
        list_rows(Pane::Labels, area),
        buf,
    );
}
