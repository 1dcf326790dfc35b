use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use crate::features::run::{export_tracks, extract_all, write_report};
use crate::features::{Convention, FeatureSource};

/// Extract (and cache) the mel-spectrogram of every exported track
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  musav features --export out/export --audio-root ~/mtg-jamendo/audio --cache out/mel-cache\n  \
                        musav features --export out/synth-export --audio-root out/synth --cache out/synth-cache\n\
                        Unreadable files, and files well short of the export's duration, are skipped and listed in the\n\
                        report (default: CACHE/skipped.tsv); files the decoder doubts (a stream that ends early) are\n\
                        kept and listed with kind `warning`. Train with the same --convention."
)]
pub struct Args {
    /// Export directory (from `musav export`)
    #[arg(long, value_name = "DIR")]
    pub export: PathBuf,
    /// Directory the PATH column is relative to (MTG audio, or a `musav synth` corpus)
    #[arg(long, value_name = "DIR")]
    pub audio_root: PathBuf,
    /// Cache directory for the per-track mel-spectrograms
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    /// Where to list skipped files [default: CACHE/skipped.tsv]
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// How features are computed: mtg (the released .npy files' recipe) or librosa
    #[arg(long, value_enum, default_value_t)]
    pub convention: Convention,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.audio_root.is_dir() {
        anyhow::bail!(
            "{}: no such directory; pass --audio-root with the directory the export's paths are relative to",
            args.audio_root.display()
        );
    }
    let tracks = export_tracks(&args.export)?;
    let source = FeatureSource::Audio {
        root: args.audio_root.clone(),
        cache: Some(args.cache.clone()),
        convention: args.convention,
    };
    let bar = ProgressBar::new(tracks.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tracks  {elapsed} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let summary = extract_all(&source, &tracks, || bar.inc(1));
    bar.finish_and_clear();
    let report = args
        .report
        .clone()
        .unwrap_or_else(|| args.cache.join("skipped.tsv"));
    write_report(&report, &summary)?;
    let warned = if summary.warned.is_empty() {
        String::new()
    } else {
        format!(", {} kept with a warning", summary.warned.len())
    };
    println!(
        "{} tracks: {} extracted, {} cached, {} skipped{warned} (listed in {}); {} convention",
        tracks.len(),
        summary.extracted,
        summary.cached,
        summary.skipped.len(),
        report.display(),
        args.convention
    );
    Ok(())
}
