//! `musav validate` and `musav compare`: a run's figures on one split (text, JSON, confusion PNG),
//! and what changed between two runs, metric by metric and label by label.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::artifacts::{ArtifactError, RunDir};
use super::data::{self, MelSource, Skipped};
use super::metrics::{self, Metrics};
use super::run::{CpuBackend, TrainError, predict_probs};
use crate::dataset::Split;
use crate::plot::register_font;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationReport {
    pub run: PathBuf,
    pub split: Split,
    pub label_map_sha256: String,
    pub labels: Vec<String>,
    pub best_epoch: Option<usize>,
    pub metrics: Metrics,
    pub skipped: Vec<Skipped>,
}

pub fn report_json(split: Split) -> String {
    format!("report_{}.json", split.as_str())
}

pub fn confusion_png(split: Split) -> String {
    format!("confusion_{}.png", split.as_str())
}

/// Evaluates the run's best model on `split` of the export it was trained on.
pub fn validate(
    run_dir: &Path,
    split: Split,
    source: &dyn MelSource,
) -> Result<ValidationReport, TrainError> {
    let run = RunDir::new(run_dir);
    let info = run.info()?;
    let (tracks, classes) = data::tracks_from_export(&info.export)?;
    if classes != info.classes {
        return Err(TrainError::ClassesChanged {
            export: info.export.clone(),
            now: classes.names,
            then: info.classes.names,
        });
    }
    let wanted: Vec<_> = tracks.into_iter().filter(|t| t.split == split).collect();
    let (examples, skipped) = data::load(&wanted, source, &info.chunk);
    let model = run.load_best::<CpuBackend>(&Default::default())?;
    let probs = predict_probs(
        &model,
        &examples,
        info.chunk.frames,
        info.train.eval_batch,
        classes.len(),
    );
    let truth: Vec<usize> = examples.iter().map(|e| e.track.class).collect();
    let best_epoch = run
        .read_json::<super::artifacts::LoopState>(&format!(
            "{}/{}",
            super::artifacts::CHECKPOINT,
            super::artifacts::STATE_JSON
        ))
        .ok()
        .map(|s| s.best_epoch);
    let metrics = metrics::evaluate(&truth, &probs, classes.len());
    Ok(ValidationReport {
        run: run_dir.to_path_buf(),
        split,
        label_map_sha256: info.label_map_sha256,
        labels: classes.names,
        best_epoch,
        metrics,
        skipped,
    })
}

impl ValidationReport {
    pub fn text(&self) -> String {
        let m = &self.metrics;
        let mut out = format!(
            "{} on {} ({} tracks, {} skipped)\n\
             accuracy {:.3}  balanced accuracy {:.3}  macro-F1 {:.3}  top-3 {:.3}\n\n",
            self.run.display(),
            self.split.as_str(),
            m.tracks,
            self.skipped.len(),
            m.accuracy,
            m.balanced_accuracy,
            m.macro_f1,
            m.top3_accuracy
        );
        let w = self
            .labels
            .iter()
            .map(|l| l.len())
            .max()
            .unwrap_or(5)
            .max(5);
        out.push_str(&format!(
            "{:w$}  precision  recall     F1  support\n",
            "label"
        ));
        for (name, s) in self.labels.iter().zip(&m.per_class) {
            out.push_str(&format!(
                "{name:w$}  {:9.3}  {:6.3}  {:5.3}  {:7}\n",
                s.precision, s.recall, s.f1, s.support
            ));
        }
        out.push_str("\nconfusion (rows: true, columns: predicted, in label order)\n");
        for (name, row) in self.labels.iter().zip(&m.confusion) {
            out.push_str(&format!("{name:w$}"));
            for v in row {
                out.push_str(&format!(" {v:5}"));
            }
            out.push('\n');
        }
        for s in &self.skipped {
            out.push_str(&format!(
                "skipped {} ({}): {}\n",
                s.track_id, s.path, s.reason
            ));
        }
        out
    }

    /// Writes `report_<split>.json` and `confusion_<split>.png` into the run directory.
    pub fn write(&self, run_dir: &Path) -> Result<(), ArtifactError> {
        let run = RunDir::new(run_dir);
        run.write_json(&report_json(self.split), self)?;
        let png = run.path(&confusion_png(self.split));
        draw_confusion(&png, &self.labels, &self.metrics.confusion, &self.title()).map_err(
            |message| ArtifactError::Record {
                path: png.clone(),
                message,
            },
        )
    }

    fn title(&self) -> String {
        format!(
            "{} · macro-F1 {:.3} · balanced acc. {:.3}",
            self.split.as_str(),
            self.metrics.macro_f1,
            self.metrics.balanced_accuracy
        )
    }
}

/// Row-normalised confusion heat map with counts, drawn to a temp file and renamed into place.
fn draw_confusion(
    path: &Path,
    labels: &[String],
    confusion: &[Vec<usize>],
    title: &str,
) -> Result<(), String> {
    register_font();
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".confusion.")
        .suffix(".png")
        .tempfile_in(dir)
        .map_err(|e| e.to_string())?;
    let k = labels.len().max(1);
    let cell = 56i32;
    let (left, top) = (190i32, 60i32);
    let size = (
        (left + cell * k as i32 + 20) as u32,
        (top + cell * k as i32 + 170) as u32,
    );
    {
        let root = BitMapBackend::new(tmp.path(), size).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        root.draw_text(
            title,
            &("sans-serif", 18).into_font().color(&BLACK),
            (10, 15),
        )
        .map_err(e)?;
        for (i, row) in confusion.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            let y = top + cell * i as i32;
            root.draw_text(
                &labels[i],
                &("sans-serif", 14).into_font().color(&BLACK),
                (10, y + cell / 2 - 7),
            )
            .map_err(e)?;
            for (j, &v) in row.iter().enumerate() {
                let x = left + cell * j as i32;
                let share = v as f64 / total;
                let shade = (255.0 * (1.0 - share)) as u8;
                let fill = RGBColor(shade, shade, 255);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    fill.filled(),
                ))
                .map_err(e)?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    BLACK.stroke_width(1),
                ))
                .map_err(e)?;
                let color = if share > 0.5 { WHITE } else { BLACK };
                root.draw_text(
                    &v.to_string(),
                    &("sans-serif", 14).into_font().color(&color),
                    (x + 8, y + cell / 2 - 7),
                )
                .map_err(e)?;
            }
        }
        let below = top + cell * k as i32 + 8;
        for (j, name) in labels.iter().enumerate() {
            let x = left + cell * j as i32 + cell / 2 - 7;
            root.draw_text(
                name,
                &("sans-serif", 14)
                    .into_font()
                    .transform(FontTransform::Rotate90)
                    .color(&BLACK),
                (x, below),
            )
            .map_err(e)?;
        }
        root.draw_text(
            "rows: true label · columns: predicted · shade: share of the row",
            &("sans-serif", 13).into_font().color(&BLACK),
            (10, top - 22),
        )
        .map_err(e)?;
        root.present().map_err(e)?;
    }
    tmp.persist(path).map_err(|e| e.error.to_string())?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{path}: no {split} report; run `musav validate --run {run} --split {split}` first")]
    MissingReport {
        path: PathBuf,
        run: String,
        split: &'static str,
    },
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

/// A run's saved report on `split` (written by `validate`).
pub fn load_report(run: &Path, split: Split) -> Result<ValidationReport, CompareError> {
    let path = run.join(report_json(split));
    if !path.exists() {
        return Err(CompareError::MissingReport {
            path,
            run: run.display().to_string(),
            split: split.as_str(),
        });
    }
    Ok(RunDir::new(run).read_json(&report_json(split))?)
}

/// One row of a comparison: a metric in run A and run B (`None` where a run lacks it, e.g. a
/// label only one of the maps has).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub name: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// Counts print without decimals.
    pub count: bool,
}

impl CompareRow {
    /// B − A, when both runs have the metric.
    pub fn delta(&self) -> Option<f64> {
        Some(self.b? - self.a?)
    }

    /// The cells as the table prints them: `[A, B, B−A]`.
    pub fn cells(&self) -> [String; 3] {
        let f = |v: Option<f64>| match v {
            None => "-".to_string(),
            Some(v) if self.count => format!("{v:.0}"),
            Some(v) => format!("{v:.3}"),
        };
        let d = match self.delta() {
            None => "-".to_string(),
            Some(d) if self.count => format!("{d:+.0}"),
            Some(d) => format!("{d:+.3}"),
        };
        [f(self.a), f(self.b), d]
    }
}

/// Two runs' reports on one split, metric by metric; per-label F1 is matched by label name.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub a: PathBuf,
    pub b: PathBuf,
    pub split: Split,
    pub sha_a: String,
    pub sha_b: String,
    pub rows: Vec<CompareRow>,
}

impl Comparison {
    /// The table `musav compare` prints (and the review UI shows).
    pub fn text(&self) -> String {
        let short = |s: &str| s.get(..12).unwrap_or(s).to_string();
        let mut out = format!(
            "A: {} (label map {}…)\nB: {} (label map {}…)\nsplit: {}\n\n{:28} {:>8} {:>8} {:>8}\n",
            self.a.display(),
            short(&self.sha_a),
            self.b.display(),
            short(&self.sha_b),
            self.split.as_str(),
            "metric",
            "A",
            "B",
            "B-A"
        );
        for r in &self.rows {
            let [a, b, d] = r.cells();
            out.push_str(&format!("{:28} {a:>8} {b:>8} {d:>8}\n", r.name));
        }
        out
    }
}

/// Compares two validated runs (each needs `report_<split>.json`, written by `validate`).
pub fn compare(a: &Path, b: &Path, split: Split) -> Result<Comparison, CompareError> {
    Ok(compare_reports(
        a,
        &load_report(a, split)?,
        b,
        &load_report(b, split)?,
    ))
}

/// The comparison of two reports (of the same split) of runs `a` and `b`.
pub fn compare_reports(
    a: &Path,
    ra: &ValidationReport,
    b: &Path,
    rb: &ValidationReport,
) -> Comparison {
    let (ma, mb) = (&ra.metrics, &rb.metrics);
    let row = |name: &str, a: Option<f64>, b: Option<f64>| CompareRow {
        name: name.to_string(),
        a,
        b,
        count: false,
    };
    let mut rows = vec![CompareRow {
        name: "tracks".into(),
        a: Some(ma.tracks as f64),
        b: Some(mb.tracks as f64),
        count: true,
    }];
    for (name, x, y) in [
        ("accuracy", ma.accuracy, mb.accuracy),
        (
            "balanced accuracy",
            ma.balanced_accuracy,
            mb.balanced_accuracy,
        ),
        ("macro-F1", ma.macro_f1, mb.macro_f1),
        ("top-3 accuracy", ma.top3_accuracy, mb.top3_accuracy),
    ] {
        rows.push(row(name, Some(x), Some(y)));
    }
    let names: BTreeSet<&String> = ra.labels.iter().chain(&rb.labels).collect();
    let f1 = |r: &ValidationReport, n: &String| -> Option<f64> {
        r.labels
            .iter()
            .position(|l| l == n)
            .map(|i| r.metrics.per_class[i].f1)
    };
    for n in names {
        rows.push(row(&format!("F1 {n}"), f1(ra, n), f1(rb, n)));
    }
    Comparison {
        a: a.to_path_buf(),
        b: b.to_path_buf(),
        split: rb.split,
        sha_a: ra.label_map_sha256.clone(),
        sha_b: rb.label_map_sha256.clone(),
        rows,
    }
}
