use std::io::Write;
use std::path::PathBuf;

use crate::cli::Format;
use crate::train::predict::{Answer, PredictOptions, predict_files};

/// Predict mood labels (and a valence–arousal point) for audio files with a trained run
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  musav predict --run runs/synth song.mp3 other.wav\n  \
                        musav predict --run runs/synth --format json --top 5 *.wav\n\
                        The JSON answer per file is the one `musav serve` gives (scores, VA point, segments, warnings).\n\
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

/// One file's answer as JSON: the web API's `/v1/predict` answer (without `model`) plus `file`.
pub fn answer_json(file: &std::path::Path, answer: &Answer, top: usize) -> serde_json::Value {
    let mut v = serde_json::to_value(answer).unwrap_or_default();
    v["file"] = serde_json::json!(file);
    v["top_label"] = serde_json::to_value(answer.top()).unwrap_or_default();
    if let Some(labels) = v["labels"].as_array_mut() {
        labels.truncate(top.max(1));
    }
    v
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let results = predict_files(&args.run, &args.files, &PredictOptions::default())?;
    let mut out = std::io::stdout().lock();
    let mut preds = Vec::new();
    let mut failed = Vec::new();
    for r in &results {
        match &r.result {
            Ok(a) => preds.push((r.file.as_path(), a)),
            Err(e) => failed.push((r.file.as_path(), e.to_string())),
        }
    }
    if args.format == Format::Json {
        let preds: Vec<_> = preds
            .iter()
            .map(|(f, a)| answer_json(f, a, args.top))
            .collect();
        let failed: Vec<_> = failed
            .iter()
            .map(|(f, e)| serde_json::json!({"file": f, "error": e}))
            .collect();
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"predictions": preds, "failed": failed}),
        )?;
        writeln!(out)?;
    } else {
        for (file, a) in &preds {
            let labels: Vec<String> = a
                .labels
                .iter()
                .take(args.top.max(1))
                .map(|l| format!("{} {:.2}", l.label, l.score))
                .collect();
            let va = a.va.as_ref().map_or(String::new(), |v| {
                format!(
                    "  valence {:.2} arousal {:.2}{}",
                    v.valence,
                    v.arousal,
                    if v.clamped { " (clamped)" } else { "" }
                )
            });
            writeln!(out, "{}: {}{}", file.display(), labels.join(", "), va)?;
        }
    }
    for (file, a) in &preds {
        for w in &a.warnings {
            eprintln!("musav: {}: warning: {w}", file.display());
        }
    }
    for (file, e) in &failed {
        // Decode errors already name the file.
        if e.contains(&file.display().to_string()) {
            eprintln!("musav: {e}");
        } else {
            eprintln!("musav: {}: {e}", file.display());
        }
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
