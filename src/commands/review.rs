use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;

use crate::cli::DataArgs;
use crate::commands::name::LlmArgs;
use crate::llm::LlmSettings;
use crate::model::resnet::VaInput;
use crate::tui::llm_namer::LlmNamer;
use crate::tui::namer::{Namer, Unavailable};
use crate::tui::{self, ReviewOptions, TrainDefaults};
use crate::va::head::VaTrainConfig;

/// Review the labels in a terminal UI: move tags, rename, merge, split, re-cluster, name, export
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  musav review\n  \
                        musav review --labels my_labels.toml\n  \
                        musav review --data my_tsvs/ --labels my_labels.toml --export-dir out/export\n  \
                        MUSAV_LLM_URL=http://127.0.0.1:8080/v1 musav review --labels my_labels.toml\n  \
                        musav review --data out/synth --labels my_labels.toml --features out/synth --runs runs\n\
                        Press ? inside for every key; n / N ask the LLM (settings as for musav name); t opens the\n\
                        training screen (export → train → validate → VA head → compare with the last run).")]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    /// Label map to open and save; a clustering draft when the file does not exist yet
    /// [default: ./labels.toml when it exists (a review saved earlier), else the shipped
    /// data/labels.toml, saved to ./labels.toml]
    #[arg(long, value_name = "MAP")]
    pub labels: Option<PathBuf>,
    /// Save the map here instead of the --labels file
    #[arg(long, value_name = "MAP")]
    pub save_to: Option<PathBuf>,
    /// Directory the export key proposes
    #[arg(long, value_name = "DIR", default_value = "out/export")]
    pub export_dir: PathBuf,
    /// Key file (TOML, `rename = ["r", "F2"]`) patching the default keys
    /// [default: ~/.config/musav/keys.toml when it exists]
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Where the training screen (t) puts runs: DIR/run-001, DIR/run-002, …
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs: PathBuf,
    /// The training screen's feature source: official .npy mel-spectrograms, an audio root, or a
    /// synthetic corpus (musav synth)
    #[arg(long, value_name = "SRC")]
    pub features: Option<PathBuf>,
    /// Cache for mel-spectrograms computed from audio
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// The training screen's first value for epochs
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// The training screen's first value for the network width (channels of the first block)
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The training screen's first value for the auxiliary VA loss weight (`musav train --va-weight`)
    #[arg(long, default_value_t = 0.0, value_name = "W")]
    pub va_weight: f64,
    /// The training screen's first value for `train-va --unfreeze-last-block`
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value_t = VaTrainConfig::new().unfreeze_last_block, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub unfreeze_last_block: bool,
    /// The training screen's first value for `train-va --va-input`
    #[arg(long, value_enum, default_value_t = VaTrainConfig::new().input)]
    pub va_input: VaInput,
}

/// `musav` with no subcommand: review with every default.
pub fn run_default() -> anyhow::Result<()> {
    #[derive(Parser)]
    struct Bare {
        #[command(flatten)]
        args: Args,
    }
    run(Bare::parse_from(["musav"]).args)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = ReviewOptions {
        data: args
            .data
            .data
            .clone()
            .unwrap_or_else(crate::dataset::default_metadata_path),
        tag_prefix: args.data.tag_prefix.clone(),
        labels: args.labels,
        save_to: args.save_to,
        export_dir: args.export_dir,
        keys: args.keys.or_else(tui::keys::default_path),
        training: TrainDefaults {
            runs: args.runs,
            features: args.features,
            cache: args.cache,
            epochs: args.epochs,
            width: args.width,
            seed: args.seed,
            va_weight: args.va_weight,
            va_unfreeze: args.unfreeze_last_block,
            va_input: args.va_input,
        },
    };
    // A broken LLM setting must not keep the review from opening: it is reported when n is pressed.
    let namer: Arc<dyn Namer> = match LlmSettings::from_env(&args.llm.flags()?) {
        Ok(settings) => Arc::new(LlmNamer { settings }),
        Err(e) => Arc::new(Unavailable(format!("{e}; rename labels with r meanwhile"))),
    };
    tui::event::run(opts, namer)?;
    Ok(())
}
