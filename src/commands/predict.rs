use std::io::Write;
use std::path::PathBuf;

use crate::cli::Format;
use crate::train::predict::predict_files;

/// Predict mood labels (and a valence–arousal point) for audio files with a trained run
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  musav predict --run runs/synth song.mp3 other.wav\n  \
                        musav predict --run runs/synth --format json --top 5 *.wav\n\
                        A file that cannot be decoded gets its own error line; the others still come out (exit 1 if any failed)."
)]
pub struct Args {
    /// Run directory made by `musav train` (and `musav train-va` for VA)
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Audio files (.wav, .mp3, .ogg, .flac)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Labels shown per file
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (preds, failed) = predict_files(&args.run, &args.files, args.top)?;
    let mut out = std::io::stdout().lock();
    if args.format == Format::Json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"predictions": preds, "failed": failed}),
        )?;
        writeln!(out)?;
    } else {
        for p in &preds {
            let labels: Vec<String> = p
                .top
                .iter()
                .map(|l| format!("{} {:.2}", l.label, l.probability))
                .collect();
            let va = p.va.map_or(String::new(), |v| {
                format!("  valence {:.2} arousal {:.2}", v[0], v[1])
            });
            writeln!(out, "{}: {}{}", p.file.display(), labels.join(", "), va)?;
        }
    }
    for f in &failed {
        eprintln!("musav: {}: {}", f.file.display(), f.error);
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} files could not be read (listed above)",
            failed.len(),
            args.files.len()
        );
    }
    Ok(())
}
