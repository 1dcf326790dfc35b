use std::path::PathBuf;

use crate::cli::Format;
use crate::dataset::Split;
use crate::features::FeatureSource;
use crate::train::artifacts::RunDir;
use crate::train::report::{confusion_png, report_json, validate};

/// Evaluate a run's best model on one split: metrics, confusion matrix (text + PNG), JSON report
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    musav validate --run runs/synth --split test\n  \
    musav validate --run runs/a --split validation --format json\n\
    Writes RUN_DIR/report_<split>.json and RUN_DIR/confusion_<split>.png.")]
pub struct Args {
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// Feature source [default: the one the run was trained on]
    #[arg(long, value_name = "SRC")]
    pub features: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SplitArg {
    Train,
    Validation,
    Test,
}

impl From<SplitArg> for Split {
    fn from(s: SplitArg) -> Split {
        match s {
            SplitArg::Train => Split::Train,
            SplitArg::Validation => Split::Validation,
            SplitArg::Test => Split::Test,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let info = RunDir::new(&args.run).info()?;
    let features = args
        .features
        .clone()
        .unwrap_or_else(|| PathBuf::from(&info.features));
    // Audio is read in the run's convention: its model knows no other.
    let source =
        FeatureSource::open(&features, args.cache.as_deref())?.with_convention(info.convention);
    let split = Split::from(args.split);
    let report = validate(&args.run, split, &source)?;
    report.write(&args.run)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => {
            print!("{}", report.text());
            println!(
                "wrote {} and {}",
                args.run.join(report_json(split)).display(),
                args.run.join(confusion_png(split)).display()
            );
        }
    }
    Ok(())
}
