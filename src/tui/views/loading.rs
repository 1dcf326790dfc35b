//! The start-up screen, drawn before the data has loaded so that the first frame comes at once.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget};

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn render(stage: &str, tick: usize, area: Rect, buf: &mut Buffer) {
    let [_, mid, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(4),
        Constraint::Fill(1),
    ])
    .areas(area);
    Paragraph::new(vec![
        Line::styled(
            format!("{} musav review", SPINNER[tick % SPINNER.len()]),
            Style::new().fg(Color::Cyan),
        ),
        Line::raw(format!("{stage}…")),
    ])
    .centered()
    .block(Block::new())
    .render(mid, buf);
}
