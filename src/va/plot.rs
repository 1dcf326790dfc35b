//! The VA-plane picture: truth and predictions on valence (x) / arousal (y), coloured by label, with
//! each cloud's mean and ±1 std box, so a collapse toward the centre is visible at a glance.

use std::path::Path;

use plotters::prelude::*;

use super::report::{VaMetrics, WithinVa};
use crate::plot::{palette, register_font};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VaPoint {
    pub truth: [f64; 2],
    pub pred: [f64; 2],
    pub label: usize,
}

fn mean_std(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = v.clone().count().max(1) as f64;
    let m = v.clone().sum::<f64>() / n;
    (m, (v.map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt())
}

/// Writes the PNG atomically (drawn to a temp file beside `path`, then renamed).
pub fn va_plane_png(
    path: &Path,
    points: &[VaPoint],
    label_names: &[String],
    metrics: &VaMetrics,
    within: &WithinVa,
    title: &str,
) -> anyhow::Result<()> {
    register_font();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(".va_plane.")
        .suffix(".png")
        .tempfile_in(dir)?;
    {
        let root = BitMapBackend::new(tmp.path(), (1000, 900)).into_drawing_area();
        root.fill(&WHITE)?;
        let caption = format!(
            "{title}   valence CCC {:.2} spread {:.2} · arousal CCC {:.2} spread {:.2}",
            metrics.valence.ccc,
            metrics.valence.spread_ratio,
            metrics.arousal.ccc,
            metrics.arousal.spread_ratio
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_desc("valence")
            .y_desc("arousal")
            .label_style(("sans-serif", 15))
            .draw()?;
        for p in points {
            let c = palette(p.label);
            chart.draw_series(std::iter::once(Circle::new(
                (p.truth[0], p.truth[1]),
                3,
                c.stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(Circle::new(
                (p.pred[0], p.pred[1]),
                3,
                c.filled(),
            )))?;
        }
        for (which, style, get) in [
            (
                "truth (hollow dots)",
                BLACK.stroke_width(2),
                (|p: &VaPoint| p.truth) as fn(&VaPoint) -> [f64; 2],
            ),
            (
                "prediction (filled dots)",
                RED.stroke_width(3),
                |p: &VaPoint| p.pred,
            ),
        ] {
            let (mx, sx) = mean_std(points.iter().map(|p| get(p)[0]));
            let (my, sy) = mean_std(points.iter().map(|p| get(p)[1]));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(mx - sx, my - sy), (mx + sx, my + sy)],
                    style,
                )))?
                .label(format!(
                    "{which}: mean ({mx:.2}, {my:.2}), ±1 std ({sx:.2}, {sy:.2})"
                ))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], style));
            chart.draw_series(std::iter::once(Cross::new((mx, my), 8, style)))?;
        }
        // The whole-set CCC is mostly the labels' centres; this line is what the head adds inside
        // a label (0 for "classify, then place at the centroid").
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(format!(
                "within label: r V {:.2} A {:.2} · residual CCC V {:.2} A {:.2}",
                within.valence.pearson,
                within.arousal.pearson,
                within.valence.residual_ccc,
                within.arousal.residual_ccc
            ))
            .legend(|(x, y)| Cross::new((x + 9, y), 5, BLACK.stroke_width(1)));
        let mut present: Vec<usize> = points.iter().map(|p| p.label).collect();
        present.sort_unstable();
        present.dedup();
        for l in present {
            let name = label_names
                .get(l)
                .cloned()
                .unwrap_or_else(|| format!("label {l}"));
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label(name)
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, palette(l).filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_with_both_clouds() {
        let pts: Vec<VaPoint> = (0..60)
            .map(|i| {
                let t = [(i % 10) as f64 / 10.0, (i / 6) as f64 / 10.0];
                VaPoint {
                    truth: t,
                    pred: [0.5 + 0.1 * (t[0] - 0.5), 0.5 + 0.3 * (t[1] - 0.5)],
                    label: i % 3,
                }
            })
            .collect();
        let truth: Vec<[f64; 2]> = pts.iter().map(|p| p.truth).collect();
        let pred: Vec<[f64; 2]> = pts.iter().map(|p| p.pred).collect();
        let m = VaMetrics::of(&pred, &truth);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("va_plane_predictions.png");
        va_plane_png(
            &path,
            &pts,
            &["a".into(), "b".into(), "c".into()],
            &m,
            &WithinVa::default(),
            "test",
        )
        .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
