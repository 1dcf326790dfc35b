//! Details of the selected tag: its counts, sample tracks and the tags it co-occurs with most.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::fit;
use crate::tui::app::App;
use crate::tui::ui::pane_block;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let block = pane_block(" Details ".into(), false);
    let inner = block.inner(area);
    block.render(area, buf);
    let w = inner.width as usize;
    let Some(tag) = app.selected_tag() else {
        Paragraph::new("no tag selected").render(inner, buf);
        return;
    };
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "{tag}: {} tracks, {} single-tag",
                app.tag_tracks(&tag),
                app.tag_single(&tag)
            ),
            w,
        ),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if let Some((label, reason)) = app.suggestion_for(&tag) {
        let to = label.map_or("stays noise".to_string(), |l| format!("→ {}", l.name));
        lines.push(Line::raw(fit(&format!("LLM: {to} {reason}"), w)));
    }
    let Some(id) = app.dataset.tag_id(&tag) else {
        lines.push(Line::raw("not in the data"));
        Paragraph::new(lines).render(inner, buf);
        return;
    };
    let co: Vec<String> = app
        .index
        .top_cooccurring(id, 5)
        .into_iter()
        .map(|(t, n)| format!("{} {n}", app.dataset.tags[t]))
        .collect();
    lines.push(Line::raw(fit(&format!("with: {}", co.join(", ")), w)));
    let rows = (inner.height as usize).saturating_sub(lines.len());
    for &i in app.index.sample_tracks(id, rows) {
        let t = &app.dataset.tracks[i];
        let secs = t.duration.round() as u64;
        lines.push(Line::raw(fit(
            &format!(
                "{} {} {} {}:{:02}",
                short(&t.id),
                short(&t.artist),
                short(&t.album),
                secs / 60,
                secs % 60
            ),
            w,
        )));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .render(inner, buf);
}

/// `track_0000948` → `t948`, `artist_000087` → `ar87`, `album_000149` → `al149`: the zero padding
/// goes so that a sample fits on one line at 80 columns.
fn short(id: &str) -> String {
    match id.split_once('_') {
        Some((kind, num)) => {
            let num = num.trim_start_matches('0');
            let kind = match kind {
                "track" => "t",
                "artist" => "ar",
                "album" => "al",
                other => other,
            };
            format!("{kind}{}", if num.is_empty() { "0" } else { num })
        }
        None => id.to_string(),
    }
}
