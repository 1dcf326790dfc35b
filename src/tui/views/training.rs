//! The training screen: the form and live progress (top left), the loss and validation macro-F1
//! curves (top right), and one result below: the stages, the validation report with its confusion
//! grid, the VA plane, or the comparison with the previous run.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Points};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Dataset, GraphType, LineGauge, Paragraph, Row, Table, Tabs, Widget,
};

use super::{fit, status};
use crate::retrain::Stage;
use crate::tui::app::training::{RunState, TRAIN_FIELDS, TRAIN_KEYS, TrainView, Training};
use crate::tui::app::{App, Mode};
use crate::tui::ui::{label_color, pane_block};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let [main, bar] = Layout::vertical([Constraint::Min(6), Constraint::Length(3)]).areas(area);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(main);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Fill(1)]).areas(top);
    let t = &app.training;
    form(app, t, left, buf);
    curves(t, right, buf);
    results(t, bottom, buf);
    status::render(app, bar, buf);
}

fn dim() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

fn state_line(t: &Training) -> Line<'static> {
    let (text, color) = match &t.state {
        RunState::Idle => ("ready: s starts".to_string(), Color::Gray),
        RunState::Running => (
            format!("running: {}", t.stage.map_or("starting", |s| s.describe())),
            Color::Cyan,
        ),
        RunState::Stopping => ("stopping after this step…".to_string(), Color::Yellow),
        RunState::Stopped => ("stopped: c continues".to_string(), Color::Yellow),
        RunState::Failed(e) => (format!("failed: {e}"), Color::Red),
        RunState::Done => ("finished".to_string(), Color::Green),
    };
    Line::styled(text, Style::new().fg(color).add_modifier(Modifier::BOLD))
}

fn form(app: &App, t: &Training, area: Rect, buf: &mut Buffer) {
    let block = pane_block(" Training ".into(), true);
    let inner = block.inner(area);
    block.render(area, buf);
    let w = inner.width as usize;
    let editing = matches!(app.mode, Mode::TrainField { .. });
    let mut lines: Vec<Line> = TRAIN_FIELDS
        .iter()
        .zip(&t.fields)
        .enumerate()
        .map(|(i, (name, value))| {
            let shown = if value.is_empty() { "(not set)" } else { value };
            let l = Line::raw(fit(&format!("{name:<14}{shown}"), w));
            if i == t.field && !editing {
                l.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                l
            }
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(state_line(t));
    if let Some(s) = &t.step {
        lines.push(Line::raw(fit(
            &format!(
                "epoch {}/{} · step {}/{} · loss {:.3}",
                s.epoch, s.epochs, s.step, s.steps, s.loss
            ),
            w,
        )));
    }
    let best = t.best().map_or("-".to_string(), |b| {
        format!("{:.3} (epoch {})", b.val_macro_f1, b.epoch)
    });
    let last = t
        .epochs
        .last()
        .map_or("-".to_string(), |e| format!("{:.3}", e.val_macro_f1));
    lines.push(Line::raw(fit(
        &format!("val macro-F1 {last} · best {best}"),
        w,
    )));
    if let Some((tr, va, sk)) = t.loaded {
        lines.push(Line::styled(
            fit(
                &format!("tracks: {tr} train · {va} validation · {sk} skipped"),
                w,
            ),
            dim(),
        ));
    }
    let used = lines.len() as u16;
    Paragraph::new(lines).render(inner, buf);
    if let Some(s) = &t.step
        && inner.height > used
    {
        let done = ((s.epoch - 1) * s.steps + s.step) as f64;
        let ratio = (done / (s.epochs * s.steps).max(1) as f64).clamp(0.0, 1.0);
        let eta = s.eta.as_secs();
        LineGauge::default()
            .ratio(ratio)
            .label(format!("ETA {}m{:02}s ", eta / 60, eta % 60))
            .filled_style(Style::new().fg(Color::Cyan))
            .render(
                Rect {
                    y: inner.y + used,
                    height: 1,
                    ..inner
                },
                buf,
            );
    }
}

fn curves(t: &Training, area: Rect, buf: &mut Buffer) {
    let [loss_area, f1_area] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area);
    let x_max = t
        .step
        .map_or(1.0, |s| s.epochs as f64)
        .max(t.epochs.last().map_or(1.0, |e| e.epoch as f64));
    let y_max = t
        .losses
        .iter()
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let axis_x = |title: &'static str| {
        Axis::default()
            .title(title)
            .bounds([0.0, x_max])
            .labels(["0".to_string(), format!("{x_max:.0}")])
            .style(dim())
    };
    let losses = Dataset::default()
        .name("step loss")
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::Yellow))
        .data(&t.losses);
    Chart::new(vec![losses])
        .block(pane_block(" Training loss ".into(), false))
        .x_axis(axis_x("epoch"))
        .y_axis(
            Axis::default()
                .bounds([0.0, y_max])
                .labels(["0".to_string(), format!("{y_max:.2}")])
                .style(dim()),
        )
        .render(loss_area, buf);
    let f1: Vec<(f64, f64)> = t
        .epochs
        .iter()
        .map(|e| (e.epoch as f64, e.val_macro_f1))
        .collect();
    let acc: Vec<(f64, f64)> = t
        .epochs
        .iter()
        .map(|e| (e.epoch as f64, e.val_accuracy))
        .collect();
    let sets = vec![
        Dataset::default()
            .name("macro-F1")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Green))
            .data(&f1),
        Dataset::default()
            .name("accuracy")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Blue))
            .data(&acc),
    ];
    Chart::new(sets)
        .block(pane_block(" Validation ".into(), false))
        .x_axis(axis_x("epoch"))
        .y_axis(
            Axis::default()
                .bounds([0.0, 1.0])
                .labels(["0", "1"])
                .style(dim()),
        )
        .render(f1_area, buf);
}

fn results(t: &Training, area: Rect, buf: &mut Buffer) {
    let block = pane_block(" Results ".into(), false);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 2 {
        return;
    }
    let [tabs, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
    let sel = TrainView::ALL
        .iter()
        .position(|v| *v == t.view)
        .unwrap_or(0);
    Tabs::new(TrainView::ALL.iter().map(|v| v.title()))
        .select(sel)
        .highlight_style(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
        .render(tabs, buf);
    match t.view {
        TrainView::Progress => progress(t, body, buf),
        TrainView::Report => report(t, body, buf),
        TrainView::Va => va(t, body, buf),
        TrainView::Compare => compare(t, body, buf),
    }
}

fn progress(t: &Training, area: Rect, buf: &mut Buffer) {
    let current = t
        .stage
        .and_then(|s| Stage::ALL.iter().position(|x| *x == s));
    let mut lines: Vec<Line> = Stage::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (mark, style) = match (current, &t.state) {
                (_, RunState::Done) if *s != Stage::Compare || t.compared.is_some() => {
                    ("✓", Style::new().fg(Color::Green))
                }
                (Some(c), _) if i < c => ("✓", Style::new().fg(Color::Green)),
                (Some(c), RunState::Running | RunState::Stopping) if i == c => (
                    "▶",
                    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                ),
                (Some(c), RunState::Failed(_)) if i == c => ("✗", Style::new().fg(Color::Red)),
                _ => ("·", dim()),
            };
            Line::styled(format!("{mark} {}", s.describe()), style)
        })
        .collect();
    if let Some(run) = &t.run {
        lines.push(Line::styled(
            format!(
                "run {} · log {}",
                run.display(),
                run.join(crate::retrain::LOG).display()
            ),
            dim(),
        ));
    }
    for n in &t.notes {
        lines.push(Line::styled(n.clone(), Style::new().fg(Color::Yellow)));
    }
    let keys: Vec<String> = TRAIN_KEYS
        .iter()
        .map(|(k, what)| format!("{k} {what}"))
        .collect();
    lines.push(Line::styled(keys.join(" · "), dim()));
    Paragraph::new(lines)
        .wrap(ratatui::widgets::Wrap { trim: true })
        .render(area, buf);
}

fn waiting(area: Rect, buf: &mut Buffer, what: &str) {
    Paragraph::new(Line::styled(what.to_string(), dim())).render(area, buf);
}

fn report(t: &Training, area: Rect, buf: &mut Buffer) {
    let Some(r) = &t.report else {
        return waiting(
            area,
            buf,
            "the validation report appears when training ends",
        );
    };
    let m = &r.metrics;
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    Paragraph::new(Line::raw(format!(
        "{} · {} tracks · accuracy {:.3} · balanced {:.3} · macro-F1 {:.3} · top-3 {:.3}",
        r.split.as_str(),
        m.tracks,
        m.accuracy,
        m.balanced_accuracy,
        m.macro_f1,
        m.top3_accuracy
    )))
    .render(head, buf);
    let [table, grid] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(body);
    let name_w = (table.width as usize).saturating_sub(32).clamp(6, 28);
    let rows = r
        .labels
        .iter()
        .zip(&m.per_class)
        .enumerate()
        .map(|(i, (n, s))| {
            Row::new(vec![
                Cell::from(fit(&format!("{} {n}", i + 1), name_w))
                    .style(Style::new().fg(label_color(i))),
                Cell::from(format!("{:.3}", s.precision)),
                Cell::from(format!("{:.3}", s.recall)),
                Cell::from(format!("{:.3}", s.f1)),
                Cell::from(format!("{}", s.support)),
            ])
        });
    Table::new(
        rows,
        [
            Constraint::Length(name_w as u16),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(7),
        ],
    )
    .header(Row::new(["label", "prec", "recall", "F1", "support"]).style(dim()))
    .render(table, buf);
    confusion(&r.labels, &m.confusion, grid, buf);
}

/// The confusion matrix as a shaded grid: rows true labels, columns predicted (numbered as in the
/// table), each cell shaded by its share of the row.
fn confusion(labels: &[String], matrix: &[Vec<usize>], area: Rect, buf: &mut Buffer) {
    let k = labels.len();
    if k == 0 || area.height < 2 {
        return;
    }
    let name_w = 12u16.min(area.width / 3);
    let cell_w = ((area.width.saturating_sub(name_w)) / k as u16).clamp(1, 5);
    buf.set_string(
        area.x,
        area.y,
        fit("confusion · true ↓ · predicted →", area.width as usize),
        dim(),
    );
    let header = area.y + 1;
    for j in 0..k {
        let x = area.x + name_w + j as u16 * cell_w;
        if x + cell_w <= area.right() && cell_w >= 2 && header < area.bottom() {
            buf.set_string(
                x,
                header,
                format!("{:>w$}", j + 1, w = cell_w as usize),
                dim(),
            );
        }
    }
    for (i, (name, row)) in labels.iter().zip(matrix).enumerate() {
        let y = header + 1 + i as u16;
        if y >= area.bottom() {
            break;
        }
        buf.set_string(
            area.x,
            y,
            fit(&format!("{} {name}", i + 1), name_w as usize - 1),
            Style::new().fg(label_color(i)),
        );
        let total = row.iter().sum::<usize>().max(1) as f64;
        for (j, &v) in row.iter().enumerate() {
            let x = area.x + name_w + j as u16 * cell_w;
            if x + cell_w > area.right() {
                break;
            }
            let share = v as f64 / total;
            // xterm's grey ramp: 232 (near black) … 255 (near white).
            let shade = 232 + (share * 23.0).round() as u8;
            let fg = if share > 0.5 {
                Color::Black
            } else {
                Color::White
            };
            let text = if cell_w >= 2 {
                format!("{:>w$}", v, w = cell_w as usize)
            } else {
                " ".into()
            };
            let mut style = Style::new().bg(Color::Indexed(shade)).fg(fg);
            if i == j {
                style = style.add_modifier(Modifier::BOLD);
            }
            buf.set_string(x, y, text, style);
        }
    }
}

fn va(t: &Training, area: Rect, buf: &mut Buffer) {
    let Some(v) = &t.va else {
        return waiting(
            area,
            buf,
            "the VA plane appears when the VA head is trained",
        );
    };
    let rep = &v.validation.report;
    let (m, c, b) = (&rep.model, &rep.baseline_label_centroid, &rep.baseline_mean);
    let legend = vec![
        Line::from(vec![
            Span::styled("● predictions ", Style::new().fg(Color::Cyan)),
            Span::styled("· truth  ", Style::new().fg(Color::Gray)),
            Span::raw(format!(
                "model CCC V {:.2} A {:.2} · spread V {:.2} A {:.2}",
                m.valence.ccc, m.arousal.ccc, m.valence.spread_ratio, m.arousal.spread_ratio
            )),
        ]),
        Line::styled(
            format!(
                "label centroid CCC V {:.2} A {:.2} · mean CCC V {:.2} A {:.2} · {} tracks",
                c.valence.ccc, c.arousal.ccc, b.valence.ccc, b.arousal.ccc, rep.tracks
            ),
            dim(),
        ),
        Line::from(format!(
            "within label: r V {:.2} A {:.2} · residual CCC V {:.2} A {:.2} · label centroid r V {:.2} A {:.2}",
            rep.within_model.valence.pearson,
            rep.within_model.arousal.pearson,
            rep.within_model.valence.residual_ccc,
            rep.within_model.arousal.residual_ccc,
            rep.within_label_centroid.valence.pearson,
            rep.within_label_centroid.arousal.pearson
        )),
        Line::styled(
            format!(
                "{} · {}",
                v.validation.png.display(),
                v.validation.json.display()
            ),
            dim(),
        ),
    ];
    let [head, plot] = Layout::vertical([Constraint::Length(4), Constraint::Fill(1)]).areas(area);
    Paragraph::new(legend).render(head, buf);
    let pts = &v.validation.points;
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in pts {
        for q in [p.truth, p.pred] {
            x0 = x0.min(q[0]);
            x1 = x1.max(q[0]);
            y0 = y0.min(q[1]);
            y1 = y1.max(q[1]);
        }
    }
    if pts.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let pad = |a: f64, b: f64| ((b - a).abs() * 0.05).max(1e-3);
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let labels = v.validation.labels.len();
    Canvas::default()
        .block(Block::new().title(Line::styled("valence → · arousal ↑", dim())))
        .marker(Marker::Braille)
        .x_bounds([x0 - px, x1 + px])
        .y_bounds([y0 - py, y1 + py])
        .paint(|ctx| {
            let truth: Vec<(f64, f64)> = pts.iter().map(|p| (p.truth[0], p.truth[1])).collect();
            ctx.draw(&Points {
                coords: &truth,
                color: Color::DarkGray,
            });
            ctx.layer();
            for l in 0..labels {
                let pred: Vec<(f64, f64)> = pts
                    .iter()
                    .filter(|p| p.label == l)
                    .map(|p| (p.pred[0], p.pred[1]))
                    .collect();
                ctx.draw(&Points {
                    coords: &pred,
                    color: label_color(l),
                });
            }
        })
        .render(plot, buf);
}

fn compare(t: &Training, area: Rect, buf: &mut Buffer) {
    let Some(c) = &t.compared else {
        let why = if t.state == RunState::Done {
            "no earlier run to compare with: the next run will be compared with this one"
        } else {
            "the comparison with the previous run appears at the end"
        };
        return waiting(area, buf, why);
    };
    let cmp = &c.comparison;
    let [head, body] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(area);
    Paragraph::new(vec![
        Line::raw(fit(
            &format!(
                "A {}  →  B {} ({})",
                cmp.a.display(),
                cmp.b.display(),
                cmp.split.as_str()
            ),
            head.width as usize,
        )),
        Line::styled(
            fit(
                &format!(
                    "label maps {}… → {}…",
                    cmp.sha_a.get(..12).unwrap_or(&cmp.sha_a),
                    cmp.sha_b.get(..12).unwrap_or(&cmp.sha_b)
                ),
                head.width as usize,
            ),
            dim(),
        ),
    ])
    .render(head, buf);
    let [table, changes] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Fill(1)]).areas(body);
    let rows = cmp.rows.iter().map(|r| {
        let [a, b, d] = r.cells();
        // Every metric here is better when higher.
        let color = match r.delta() {
            Some(d) if d > 1e-9 => Color::Green,
            Some(d) if d < -1e-9 => Color::Red,
            _ => Color::Gray,
        };
        Row::new(vec![
            Cell::from(r.name.clone()),
            Cell::from(a),
            Cell::from(b),
            Cell::from(d).style(Style::new().fg(color).add_modifier(Modifier::BOLD)),
        ])
    });
    Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
        ],
    )
    .header(Row::new(["metric", "A", "B", "B-A"]).style(dim()))
    .render(table, buf);
    let mut lines = vec![Line::styled("label map changes A → B", dim())];
    if c.map_changes.is_empty() {
        lines.push(Line::raw("none (same label map)"));
    }
    lines.extend(c.map_changes.iter().map(|s| Line::raw(s.clone())));
    Paragraph::new(lines)
        .wrap(ratatui::widgets::Wrap { trim: true })
        .render(changes, buf);
}
