//! Drawing: `impl Widget for &App` lays out the panes and hands each to its view in [`super::views`].
//! Drawing reads the app and nothing else (no I/O, no state change), so a frame is a pure function
//! of the state and tests can assert on a `TestBackend` buffer.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType, Borders, Widget};

use super::app::{App, Mode, Pane, Screen};
use super::views;

/// Where each pane sits for a terminal of a given size; shared by drawing and mouse handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub labels: Rect,
    pub members: Rect,
    pub noise: Rect,
    pub scatter: Rect,
    pub details: Rect,
    pub status: Rect,
}

impl Areas {
    pub fn new(area: Rect) -> Areas {
        let [main, status] =
            Layout::vertical([Constraint::Min(6), Constraint::Length(3)]).areas(area);
        let [left, mid, right] = Layout::horizontal([
            Constraint::Percentage(40),
            Constraint::Percentage(24),
            Constraint::Fill(1),
        ])
        .areas(main);
        let [members, noise] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Fill(1)]).areas(mid);
        let [scatter, details] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(right);
        Areas {
            labels: left,
            members,
            noise,
            scatter,
            details,
            status,
        }
    }
}

/// The rows of a list pane that hold list items (inside the border, below any header).
pub fn list_rows(pane: Pane, rect: Rect) -> Rect {
    let inner = Block::bordered().inner(rect);
    let header = u16::from(pane == Pane::Labels);
    Rect {
        y: inner.y + header.min(inner.height),
        height: inner.height.saturating_sub(header),
        ..inner
    }
}

/// First visible row of a list of `height` rows so that row `sel` is visible (lists are drawn
/// from the top each frame, so the offset depends on the selection only).
pub fn list_offset(sel: usize, height: usize) -> usize {
    if height == 0 {
        return sel;
    }
    (sel + 1).saturating_sub(height)
}

/// A pane's frame; the focused pane stands out.
pub fn pane_block(title: String, focused: bool) -> Block<'static> {
    let (style, kind) = if focused {
        (
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            BorderType::Thick,
        )
    } else {
        (Style::new().fg(Color::DarkGray), BorderType::Plain)
    };
    Block::new()
        .borders(Borders::ALL)
        .border_type(kind)
        .border_style(style)
        .title(title)
}

/// Colour of label `i` in the scatter and the labels pane.
pub fn label_color(i: usize) -> Color {
    const PALETTE: [Color; 12] = [
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
    ];
    PALETTE[i % PALETTE.len()]
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if self.screen == Screen::Train {
            views::training::render(self, area, buf);
        } else {
            let a = Areas::new(area);
            views::labels::render(self, a.labels, buf);
            views::tags::render_members(self, a.members, buf);
            views::tags::render_noise(self, a.noise, buf);
            views::scatter::render(self, a.scatter, buf);
            views::details::render(self, a.details, buf);
            views::status::render(self, a.status, buf);
        }
        match &self.mode {
            Mode::Normal => {}
            Mode::Help => views::popups::help(self, area, buf),
            Mode::Rename { buf: text, .. } => views::popups::line_input(
                "Rename label",
                text,
                "Enter saves · Esc cancels · C-u clears",
                area,
                buf,
            ),
            Mode::Export { buf: text } => views::popups::line_input(
                "Export to directory",
                text,
                "Enter exports (the directory must not exist) · Esc cancels",
                area,
                buf,
            ),
            Mode::Pick {
                purpose,
                options,
                sel,
            } => views::popups::pick(self, purpose, options, *sel, area, buf),
            Mode::Settings { fields, field } => views::popups::settings(fields, *field, area, buf),
            Mode::ConfirmQuit => views::popups::confirm_quit(self, area, buf),
            Mode::ConfirmTrain => views::popups::confirm_train(self, area, buf),
            Mode::TrainField { field, buf: text } => views::popups::line_input(
                crate::tui::app::training::TRAIN_FIELDS[*field],
                text,
                "Enter sets · Esc cancels · C-u clears",
                area,
                buf,
            ),
        }
    }
}
