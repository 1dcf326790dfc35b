use std::path::PathBuf;

use crate::train::va::{VaSources, train_va};
use crate::va::head::{VaLoss, VaTrainConfig};

/// Train the valence–arousal head on a trained run's frozen ResNet embeddings
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    musav train-va --run runs/synth\n  \
    musav train-va --run runs/a --targets my_va.csv --loss mse\n\
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
    let cfg = VaTrainConfig::new()
        .with_loss(args.loss)
        .with_epochs(args.epochs)
        .with_seed(args.seed);
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
    println!(
        "wrote {}; next: musav validate-va --run {}",
        t.dir.display(),
        args.inputs.run.display()
    );
    Ok(())
}
