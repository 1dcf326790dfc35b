use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::features::{Convention, FeatureSource};
use crate::train::artifacts::RunDir;
use crate::train::run::{Balance, Progress, Stop, TrainConfig, TrainInputs, train};
use crate::va::targets::Targets;

/// Train the mood ResNet on an export's single-label set
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    musav train --export out/synth-export --features out/synth --out runs/synth\n  \
    musav train --export out/export --features ~/mtg/melspecs --out runs/a --epochs 60\n  \
    musav train --export out/export --features ~/mtg/melspecs --out runs/a --resume\n  \
    musav train --export out/export --features ~/mtg/melspecs --out runs/a --resume --epochs 80\n\
    The run directory records the label map and its hash, the export summary, the config, the\n\
    feature convention, the per-epoch metrics (metrics.csv), the best model and the last checkpoint.\n\
    Every later use of the run (predict, validate, train-va, the review UI) computes features in\n\
    the run's convention.")]
pub struct Args {
    /// Export directory written by `musav export`
    #[arg(long, value_name = "DIR")]
    pub export: PathBuf,
    /// Official .npy mel-spectrograms, an audio root, or a synthetic corpus directory
    #[arg(long, value_name = "SRC")]
    pub features: PathBuf,
    /// Cache directory for mel-spectrograms computed from audio
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// How features are computed from audio (for .npy input: how the files were made).
    /// [default: mtg for a new run; with --resume, the run's own]
    #[arg(long, value_enum)]
    pub convention: Option<Convention>,
    /// Run directory to create (or to continue with --resume)
    #[arg(long, value_name = "RUN_DIR")]
    pub out: PathBuf,
    /// Continue an interrupted run from its last checkpoint (its saved config wins, except that
    /// --epochs can raise the epoch budget)
    #[arg(long)]
    pub resume: bool,
    /// Epochs to train [default: 40]; with --resume, a larger value than the run's extends it
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    /// Epochs without a better validation macro-F1 before stopping
    #[arg(long, default_value_t = 8)]
    pub patience: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Class-imbalance handling
    #[arg(long, value_enum, default_value_t = Balance::Weighted)]
    pub balance: Balance,
    /// Frames per chunk (141 ≈ 3 s)
    #[arg(long, default_value_t = 141)]
    pub chunk_frames: usize,
    /// Channels of each residual block, comma-separated
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "64,64,128,128,128,128,256"
    )]
    pub channels: Vec<usize>,
    /// Width of the embedding layer
    #[arg(long, default_value_t = 256)]
    pub embedding: usize,
    #[arg(long, default_value_t = 0.5)]
    pub dropout: f64,
    /// Weight of an auxiliary valence–arousal loss trained with the classes (0 = off): the
    /// embedding then carries VA inside each label for `musav train-va`
    #[arg(long, default_value_t = 0.0, value_name = "W")]
    pub va_weight: f64,
    /// VA annotations `track_id,valence,arousal` for --va-weight [default: the corpus's va.csv,
    /// else the tag table]
    #[arg(long, value_name = "CSV")]
    pub va_targets: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let run_dir = RunDir::new(&args.out);
    let convention = if args.resume && run_dir.exists() {
        Convention::for_run(&args.out, run_dir.info()?.convention, args.convention)?
    } else {
        args.convention.unwrap_or_default()
    };
    let source =
        FeatureSource::open(&args.features, args.cache.as_deref())?.with_convention(convention);
    let config = TrainConfig::new()
        .with_epochs(args.epochs.unwrap_or(40))
        .with_batch_size(args.batch_size)
        .with_learning_rate(args.lr)
        .with_weight_decay(args.weight_decay)
        .with_patience(args.patience)
        .with_seed(args.seed)
        .with_balance(args.balance)
        .with_chunk_frames(args.chunk_frames)
        .with_max_frames(16 * args.chunk_frames)
        .with_channels(args.channels.clone())
        .with_embedding(args.embedding)
        .with_dropout(args.dropout)
        .with_va_weight((args.va_weight != 0.0).then_some(args.va_weight));
    let va_targets = match &args.va_targets {
        Some(csv) => Some(Targets::load_csv(csv)?),
        None => None,
    };
    if args.resume
        && let Some(n) = args.epochs
        && RunDir::new(&args.out).exists()
        && RunDir::new(&args.out).extend_epochs(n)?
    {
        println!("extended {} to {n} epochs", args.out.display());
    }
    let inputs = TrainInputs {
        export: &args.export,
        features: args.features.display().to_string(),
        source: &source,
        out: &args.out,
        resume: args.resume,
        va_targets: va_targets.as_ref(),
        convention,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} steps · {msg} · ETA {eta}",
        )?
        .progress_chars("=> "),
    );
    // Ctrl-C stops at the next step and keeps the last finished epoch's checkpoint (resumable); a
    // second Ctrl-C exits at once.
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        let out = args.out.clone();
        ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "\nstopping after this step; continue later with --resume --out {} (Ctrl-C again quits now)",
                out.display()
            );
        })?;
    }
    let outcome = train(
        &inputs,
        &config,
        |p| {
            match p {
            Progress::Loaded {
                train,
                validation,
                skipped,
                start_epoch,
            } => bar.suspend(|| {
                println!(
                    "{train} training and {validation} validation tracks, {skipped} skipped; starting at epoch {start_epoch}"
                )
            }),
            Progress::Step {
                epoch,
                epochs,
                step,
                steps,
                loss,
                eta,
            } => {
                bar.set_length(*steps as u64);
                bar.set_position(*step as u64);
                bar.set_prefix(format!("{epoch}/{epochs}"));
                bar.set_message(format!("loss {loss:.3} · run ETA {}s", eta.as_secs()));
            }
            // Printed outside the bar so the lines also reach logs when stdout is not a terminal.
            Progress::Epoch(e) => bar.suspend(|| {
                println!(
                    "epoch {:3}  loss {:.3}  val acc {:.3}  bal. acc {:.3}  macro-F1 {:.3}{}",
                    e.epoch,
                    e.train_loss,
                    e.val_accuracy,
                    e.val_balanced_accuracy,
                    e.val_macro_f1,
                    if e.best { "  (best)" } else { "" }
                )
            }),
        }
        },
        &cancel,
    )?;
    bar.finish_and_clear();
    if outcome.model.is_none() {
        println!(
            "stopped before the first epoch ended; nothing trained yet. Continue: musav train --export {} --features {} --out {} --resume",
            args.export.display(),
            args.features.display(),
            args.out.display()
        );
        return Ok(());
    }
    let why = match outcome.stop {
        Stop::MaxEpochs => "last epoch reached",
        Stop::EarlyStopping => "early stopping",
        Stop::Cancelled => "cancelled",
    };
    println!(
        "best epoch {} (validation macro-F1 {:.3}); stopped: {why}; {} tracks skipped{}",
        outcome.best_epoch,
        outcome.best_macro_f1,
        outcome.skipped.len(),
        if outcome.skipped.is_empty() {
            String::new()
        } else {
            format!(" (see {})", args.out.join("skipped.csv").display())
        }
    );
    println!(
        "next: musav validate --run {} --split test",
        args.out.display()
    );
    Ok(())
}
