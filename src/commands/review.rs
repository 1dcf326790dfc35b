use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::DataArgs;
use crate::tui::{self, ReviewOptions, namer::Unavailable};

/// Review the labels in a terminal UI: move tags, rename, merge, split, re-cluster, name, export
#[derive(Debug, Default, clap::Args)]
#[command(after_help = "Examples:\n  musav review\n  \
                        musav review --labels my_labels.toml\n  \
                        musav review --data my_tsvs/ --labels my_labels.toml --export-dir out/export\n\
                        Press ? inside for every key.")]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    /// Label map to open and save; a clustering draft when the file does not exist yet
    /// [default: the shipped data/labels.toml, saved to ./labels.toml]
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
}

impl Default for DataArgs {
    fn default() -> Self {
        DataArgs {
            data: None,
            tag_prefix: crate::dataset::DEFAULT_TAG_PREFIX.to_string(),
        }
    }
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
    };
    let namer = Arc::new(Unavailable(
        "no LLM client in this build; name labels with r (rename) instead".into(),
    ));
    tui::event::run(opts, namer)?;
    Ok(())
}
