use std::path::PathBuf;

use crate::model::resnet::VaInput;
use crate::train::va::{VaSources, train_va};
use crate::va::head::{VaLoss, VaTrainConfig};

/// Train the valence–arousal head on a trained run's ResNet embeddings (then fine-tune its own copy of the last block)
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    musav train-va --run runs/synth\n  \
    musav train-va --run runs/a --targets my_va.csv --loss mse\n  \
    musav train-va --run runs/a --unfreeze-last-block=false --va-input embedding\n\
    Targets: --targets CSV (track_id,valence,arousal), else the corpus's va.csv when the features are a\n\
    synthetic corpus, else the mean of each track's tags in data/tag_va.tsv. The head goes to RUN_DIR/va/.")]
pub struct Args {
    #[command(flatten)]
    pub inputs: VaInputs,
    /// ccc does not reward shrinking toward the mean; mse does
    #[arg(long, value_enum, default_value_t = VaLoss::Ccc)]
    pub loss: VaLoss,
    #[arg(long, default_value_t = 300)]
    pub epochs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Width of the head's first hidden layer (the second is half of it)
    #[arg(long, default_value_t = VaTrainConfig::new().hidden)]
    pub hidden: usize,
    /// Dropout after each hidden layer
    #[arg(long, default_value_t = VaTrainConfig::new().dropout)]
    pub dropout: f64,
    /// AdamW weight decay of the head
    #[arg(long, default_value_t = VaTrainConfig::new().weight_decay)]
    pub weight_decay: f64,
    /// Learning rate of the head
    #[arg(long, default_value_t = VaTrainConfig::new().learning_rate, value_name = "LR")]
    pub lr: f64,
    /// Epochs without a better validation mean CCC before the head's training stops
    #[arg(long, default_value_t = VaTrainConfig::new().patience)]
    pub patience: usize,
    /// After training the head, fine-tune it together with its own copy of the ResNet's last
    /// block and embedding (the classifier keeps the originals); kept only if validation CCC
    /// improves. `--unfreeze-last-block=false`: the head on the frozen embedding only
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value_t = VaTrainConfig::new().unfreeze_last_block, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub unfreeze_last_block: bool,
    /// Learning rate of that fine-tuning
    #[arg(long, default_value_t = VaTrainConfig::new().finetune_learning_rate, value_name = "LR")]
    pub finetune_lr: f64,
    /// What the head reads from the network: levels = the embedding and every residual block's
    /// output's mean and standard deviation over frequency and time; embedding = the embedding alone
    #[arg(long, value_enum, default_value_t = VaTrainConfig::new().input)]
    pub va_input: VaInput,
}

/// What both VA commands read: the run, its targets and its features.
#[derive(Debug, clap::Args)]
pub struct VaInputs {
    /// Run directory made by `musav train`
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Annotations CSV `track_id,valence,arousal`
    #[arg(long, value_name = "CSV")]
    pub targets: Option<PathBuf>,
    /// Feature source [default: the one the run was trained on]
    #[arg(long, value_name = "SRC")]
    pub features: Option<PathBuf>,
    /// Cache directory for mel-spectrograms computed from audio
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

impl VaInputs {
    pub fn sources(&self) -> VaSources {
        VaSources {
            run: self.run.clone(),
            targets: self.targets.clone(),
            features: self.features.clone(),
            cache: self.cache.clone(),
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.finetune_lr.is_finite() && args.finetune_lr > 0.0) {
        anyhow::bail!(
            "--finetune-lr must be a positive number, not {}",
            args.finetune_lr
        );
    }
    if !(args.lr.is_finite() && args.lr > 0.0) {
        anyhow::bail!("--lr must be a positive number, not {}", args.lr);
    }
    if !(args.weight_decay.is_finite() && args.weight_decay >= 0.0) {
        anyhow::bail!(
            "--weight-decay must be 0 or more, not {}",
            args.weight_decay
        );
    }
    if !(0.0..1.0).contains(&args.dropout) {
        anyhow::bail!("--dropout must be in [0, 1), not {}", args.dropout);
    }
    if args.patience == 0 {
        anyhow::bail!("--patience must be at least 1 epoch");
    }
    if args.hidden < 2 {
        anyhow::bail!("--hidden must be at least 2, not {}", args.hidden);
    }
    let cfg = VaTrainConfig::new()
        .with_loss(args.loss)
        .with_epochs(args.epochs)
        .with_seed(args.seed)
        .with_hidden(args.hidden)
        .with_dropout(args.dropout)
        .with_weight_decay(args.weight_decay)
        .with_learning_rate(args.lr)
        .with_patience(args.patience)
        .with_unfreeze_last_block(args.unfreeze_last_block)
        .with_finetune_learning_rate(args.finetune_lr)
        .with_input(args.va_input);
    let t = train_va(&args.inputs.sources(), &cfg)?;
    println!(
        "{} training and {} validation tracks with targets ({} without)",
        t.train_tracks, t.validation_tracks, t.without_target
    );
    if let Some(b) = &t.best {
        println!(
            "best epoch {} of {}: validation CCC valence {:.3}, arousal {:.3}",
            b.epoch,
            t.history.len(),
            b.val_ccc_valence,
            b.val_ccc_arousal
        );
    }
    if let Some((epochs, kept)) = &t.finetune {
        if kept.epoch == 0 {
            println!(
                "fine-tuning the last block ({} epochs) did not beat the frozen embedding on validation: kept the head on it",
                epochs.len() - 1
            );
        } else {
            println!(
                "fine-tuned the last block: kept epoch {} of {}: validation CCC valence {:.3}, arousal {:.3}",
                kept.epoch,
                epochs.len() - 1,
                kept.val_ccc_valence,
                kept.val_ccc_arousal
            );
        }
    }
    println!(
        "wrote {}; next: musav validate-va --run {}",
        t.dir.display(),
        args.inputs.run.display()
    );
    Ok(())
}
