//! Command line: clap definitions and one dispatch; each subcommand lives in [`crate::commands`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::dataset::{Dataset, LoadOptions};

#[derive(Debug, Parser)]
#[command(
    name = "musav",
    version,
    about = "Curate MTG-Jamendo mood tags into a single-label set; retrain and validate the mood model",
    long_about = None,
    after_help = "Exit codes: 0 success, 1 failure (the message says which file or setting and what to do).\n\
                  Typical flow: musav stats → musav cluster --out my_labels.toml → musav export --labels my_labels.toml --out out/export"
)]
pub struct Cli {
    /// Without a subcommand, musav opens `review`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Stats(commands::stats::Args),
    Cluster(commands::cluster::Args),
    Export(commands::export::Args),
    Review(commands::review::Args),
    Name(commands::name::Args),
    Predict(commands::predict::Args),
    Synth(commands::synth::Args),
    Mel(commands::mel::Args),
    Features(commands::features::Args),
    Train(commands::train::Args),
    Validate(commands::validate::Args),
    Compare(commands::compare::Args),
    TrainVa(commands::train_va::Args),
    ValidateVa(commands::validate_va::Args),
    Serve(commands::serve::Args),
}

/// Where the metadata comes from (shared by every command that reads it).
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// A directory holding autotagging_moodtheme-{train,validation,test}.tsv, or one MTG-format TSV
    /// file [default: the shipped split-0 in data/]
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Prefix every tag must carry; it is stripped from tag names
    #[arg(long, value_name = "PREFIX", default_value = crate::dataset::DEFAULT_TAG_PREFIX)]
    pub tag_prefix: String,
}

impl DataArgs {
    pub fn load(&self) -> anyhow::Result<Dataset> {
        let path = self
            .data
            .clone()
            .unwrap_or_else(crate::dataset::default_metadata_path);
        Ok(Dataset::load(
            &path,
            &LoadOptions {
                tag_prefix: self.tag_prefix.clone(),
            },
        )?)
    }
}

/// Output format for commands that can serve scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    // `musav` alone opens the review UI.
    let Some(command) = cli.command else {
        return commands::review::run_default();
    };
    match command {
        Command::Stats(a) => commands::stats::run(a),
        Command::Cluster(a) => commands::cluster::run(a),
        Command::Export(a) => commands::export::run(a),
        Command::Review(a) => commands::review::run(a),
        Command::Name(a) => commands::name::run(a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Synth(a) => commands::synth::run(a),
        Command::Mel(a) => commands::mel::run(a),
        Command::Features(a) => commands::features::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Validate(a) => commands::validate::run(a),
        Command::Compare(a) => commands::compare::run(a),
        Command::TrainVa(a) => commands::train_va::run(a),
        Command::ValidateVa(a) => commands::validate_va::run(a),
        Command::Serve(a) => commands::serve::run(a),
    }
}
