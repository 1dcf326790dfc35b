use crate::dataset::Split;
use crate::train::artifacts::RunDir;
use crate::train::va::{centroids, train_mean};
use crate::va::head::VaModel;
use crate::va::plot::{VaPoint, va_plane_png};
use crate::va::report::VaReport;

use super::validate::SplitArg;

/// Diagnose the VA head: CCC, r, RMSE, R², bias and spread ratio, against two baselines, plus the plane PNG
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  musav validate-va --run runs/synth --split test\n\
    Writes RUN_DIR/va_report_<split>.json and RUN_DIR/va_plane_predictions.png."
)]
pub struct Args {
    #[command(flatten)]
    pub inputs: super::train_va::VaInputs,
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let split = Split::from(args.split);
    let (train, eval) = args.inputs.splits(split)?;
    let model = VaModel::load(&args.inputs.run.join("va"))?;
    let pred = model.predict(&eval.x);
    let rows = |a: &ndarray::Array2<f32>| -> Vec<[f64; 2]> {
        a.rows()
            .into_iter()
            .map(|r| [r[0] as f64, r[1] as f64])
            .collect()
    };
    let (p, t) = (rows(&pred), rows(&eval.y));
    let info = RunDir::new(&args.inputs.run).info()?;
    let report = VaReport::evaluate(
        split.as_str(),
        &p,
        &t,
        train_mean(&train),
        &centroids(&train, info.classes.len()),
        &eval.predicted,
    );
    print!("{}", report.table());
    let run = RunDir::new(&args.inputs.run);
    run.write_json(&format!("va_report_{}.json", split.as_str()), &report)?;
    let points: Vec<VaPoint> = p
        .iter()
        .zip(&t)
        .zip(&eval.classes)
        .map(|((&pred, &truth), &label)| VaPoint { truth, pred, label })
        .collect();
    let png = args.inputs.run.join("va_plane_predictions.png");
    va_plane_png(
        &png,
        &points,
        &info.classes.names,
        &report.model,
        split.as_str(),
    )?;
    println!("wrote {}", png.display());
    Ok(())
}
