//! The 2-D PCA scatter of every tag, coloured by its current label; noise tags are drawn as `×`
//! apart from the clusters, the selected label's tags as `●`, and the selected tag is named on the
//! plot.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::Widget;
use ratatui::widgets::canvas::{Canvas, Points};

use crate::curation::labels::Assign;
use crate::tui::app::App;
use crate::tui::ui::{label_color, pane_block};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let c = &app.curation;
    let n = c.coords.nrows();
    let xy: Vec<(f64, f64)> = (0..n).map(|t| c.xy(t)).collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &xy {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if n == 0 {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    let pad = |a: f64, b: f64| ((b - a).abs() * 0.05).max(1e-6);
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let assign = app.map.assignment(&app.dataset);
    let selected = app.selected_tag().and_then(|t| app.dataset.tag_id(&t));
    let labels = app.map.labels.len();
    let canvas = Canvas::default()
        .block(pane_block(" PCA 1 × 2 (× noise) ".into(), false))
        .marker(Marker::Braille)
        .x_bounds([x0 - px, x1 + px])
        .y_bounds([y0 - py, y1 + py])
        .paint(|ctx| {
            for l in 0..labels {
                let pts: Vec<(f64, f64)> = xy
                    .iter()
                    .enumerate()
                    .filter(|(t, _)| assign.get(*t) == Some(&Assign::Label(l)))
                    .map(|(_, p)| *p)
                    .collect();
                ctx.draw(&Points {
                    coords: &pts,
                    color: label_color(l),
                });
            }
            ctx.layer();
            for (t, &(x, y)) in xy.iter().enumerate() {
                if !matches!(assign.get(t), Some(Assign::Label(_))) {
                    ctx.print(x, y, Span::styled("×", Style::new().fg(Color::Gray)));
                }
            }
            // The selected label's tags stand out from the braille dots of the others.
            let current = app.label_sel;
            for (t, &(x, y)) in xy.iter().enumerate() {
                if assign.get(t) == Some(&Assign::Label(current)) && Some(t) != selected {
                    ctx.print(
                        x,
                        y,
                        Span::styled(
                            "●",
                            Style::new()
                                .fg(label_color(current))
                                .add_modifier(Modifier::BOLD),
                        ),
                    );
                }
            }
            if let Some(t) = selected
                && let Some(&(x, y)) = xy.get(t)
            {
                let color = match assign.get(t) {
                    Some(Assign::Label(l)) => label_color(*l),
                    _ => Color::White,
                };
                ctx.print(
                    x,
                    y,
                    Span::styled(
                        format!("◆{}", app.dataset.tags[t]),
                        Style::new()
                            .fg(color)
                            .add_modifier(Modifier::BOLD | Modifier::REVERSED),
                    ),
                );
            }
        });
    canvas.render(area, buf);
}
