use std::path::PathBuf;

use anyhow::bail;

use crate::curation::labels::{LabelMap, default_labels_path};
use crate::dataset::va::{VaTable, default_va_path};
use crate::synth::{SynthConfig, generate};

/// Write a synthetic labelled corpus (WAV clips, MTG-format split TSVs, ground-truth VA)
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  musav synth --out out/synth\n  \
                        musav synth --out out/synth-small --per-label 10 --seconds 3 --labels-limit 4\n  \
                        musav export --data out/synth --out out/synth-export")]
pub struct Args {
    /// Corpus directory to write (must not exist unless --force)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Clips per label
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub per_label: usize,
    /// Length of each clip in seconds
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    pub seconds: f32,
    /// Random seed: the same seed gives the same corpus, byte for byte
    #[arg(long, value_name = "K", default_value_t = 42)]
    pub seed: u64,
    /// Sample rate of the WAVs (12000 is the rate features are computed at)
    #[arg(long, value_name = "HZ", default_value_t = crate::audio::TARGET_SAMPLE_RATE)]
    pub sample_rate: u32,
    /// Use only the first N labels of the map
    #[arg(long, value_name = "N")]
    pub labels_limit: Option<usize>,
    /// Label map [default: the reviewed data/labels.toml]
    #[arg(long, value_name = "MAP")]
    pub labels: Option<PathBuf>,
    /// Tag valence/arousal table [default: data/tag_va.tsv]
    #[arg(long, value_name = "TSV")]
    pub va: Option<PathBuf>,
    /// Replace an existing corpus directory
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.out.exists() && !args.force {
        bail!(
            "{}: already exists; pass --force to replace it, or choose another --out",
            args.out.display()
        );
    }
    let map = LabelMap::load(&args.labels.clone().unwrap_or_else(default_labels_path))?;
    let va = VaTable::load(&args.va.clone().unwrap_or_else(default_va_path))?;
    let cfg = SynthConfig {
        out: args.out,
        per_label: args.per_label,
        seconds: args.seconds,
        seed: args.seed,
        sample_rate: args.sample_rate,
        labels_limit: args.labels_limit,
    };
    let r = generate(&cfg, &map, &va)?;
    println!(
        "wrote {} clips ({} train, {} validation, {} test) for {} labels to {}",
        r.clips,
        r.train,
        r.validation,
        r.test,
        r.labels.len(),
        r.dir.display()
    );
    for l in &r.labels {
        println!(
            "  {:>2} {:<24} valence {:.2} arousal {:.2}  {}",
            l.id, l.name, l.centre.valence, l.centre.arousal, l.instrument.name
        );
    }
    Ok(())
}
