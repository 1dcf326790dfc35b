use std::path::PathBuf;

use crate::dataset::Split;
use crate::train::report::compare;

use super::validate::SplitArg;

/// Show what changed between two runs (e.g. before and after a relabeling), metric by metric
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
    musav validate --run runs/a && musav validate --run runs/b && musav compare runs/a runs/b")]
pub struct Args {
    #[arg(value_name = "RUN_A")]
    pub a: PathBuf,
    #[arg(value_name = "RUN_B")]
    pub b: PathBuf,
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    print!(
        "{}",
        compare(&args.a, &args.b, Split::from(args.split))?.text()
    );
    Ok(())
}
