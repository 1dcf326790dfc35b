use crate::dataset::Split;
use crate::train::va::validate_va;

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
    let v = validate_va(&args.inputs.sources(), Split::from(args.split))?;
    print!("{}", v.report.table());
    println!("wrote {} and {}", v.json.display(), v.png.display());
    Ok(())
}
