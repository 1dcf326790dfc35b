//! One module per pane or popup; each draws from `&App` into a buffer area.

pub mod details;
pub mod labels;
pub mod loading;
pub mod popups;
pub mod scatter;
pub mod status;
pub mod tags;
pub mod training;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use super::ui::list_offset;

/// Draws `lines` into `rows`, scrolled so that `sel` is visible and highlighted.
pub(crate) fn draw_list(
    lines: Vec<Line<'static>>,
    sel: Option<usize>,
    focused: bool,
    rows: Rect,
    buf: &mut Buffer,
) {
    let first = sel.map_or(0, |s| list_offset(s, rows.height as usize));
    let visible: Vec<Line> = lines
        .into_iter()
        .enumerate()
        .skip(first)
        .take(rows.height as usize)
        .map(|(i, l)| {
            if Some(i) == sel {
                let st = if focused {
                    Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
                } else {
                    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
                };
                l.patch_style(st)
            } else {
                l
            }
        })
        .collect();
    Paragraph::new(visible).render(rows, buf);
}

/// Cuts `s` to `w` characters, marking the cut with `…`.
pub(crate) fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('…');
    out
}
