use std::path::{Path, PathBuf};

use crate::dataset::Split;
use crate::dataset::va::VaTable;
use crate::features::FeatureSource;
use crate::train::artifacts::RunDir;
use crate::train::va::{VaSplit, embed_split, va_split};
use crate::va::head::{VaLoss, VaTrainConfig, train_head};
use crate::va::targets::Targets;

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

/// The run's feature source, unless overridden.
pub fn source(
    run: &Path,
    features: Option<&Path>,
    cache: Option<&Path>,
) -> anyhow::Result<FeatureSource> {
    let info = RunDir::new(run).info()?;
    let path = features.map_or_else(|| PathBuf::from(&info.features), Path::to_path_buf);
    Ok(FeatureSource::open(&path, cache)?)
}

/// Targets by precedence: a given CSV, the synthetic corpus's own `va.csv`, the tag table.
pub fn targets(run: &Path, csv: Option<&Path>, features: Option<&Path>) -> anyhow::Result<Targets> {
    if let Some(csv) = csv {
        return Ok(Targets::load_csv(csv)?);
    }
    let info = RunDir::new(run).info()?;
    let root = features.map_or_else(|| PathBuf::from(&info.features), Path::to_path_buf);
    let synth = root.join(crate::synth::VA_CSV);
    if synth.is_file() {
        return Ok(Targets::load_csv(&synth)?);
    }
    Ok(Targets::Tags(VaTable::load_default()?))
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
    /// The training split and `other`, each paired with its targets (embeddings cached in the run).
    pub fn splits(&self, other: Split) -> anyhow::Result<(VaSplit, VaSplit)> {
        let source = source(&self.run, self.features.as_deref(), self.cache.as_deref())?;
        let targets = targets(&self.run, self.targets.as_deref(), self.features.as_deref())?;
        let train = va_split(&embed_split(&self.run, Split::Train, &source)?, &targets)?;
        let other = va_split(&embed_split(&self.run, other, &source)?, &targets)?;
        Ok((train, other))
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (train, val) = args.inputs.splits(Split::Validation)?;
    println!(
        "{} training and {} validation tracks with targets ({} and {} without)",
        train.x.nrows(),
        val.x.nrows(),
        train.without_target,
        val.without_target
    );
    let cfg = VaTrainConfig::new()
        .with_loss(args.loss)
        .with_epochs(args.epochs)
        .with_seed(args.seed);
    let (model, history) = train_head(&train.x, &train.y, &val.x, &val.y, &cfg, |_| {})?;
    let best = history.iter().max_by(|a, b| {
        (a.val_ccc_valence + a.val_ccc_arousal).total_cmp(&(b.val_ccc_valence + b.val_ccc_arousal))
    });
    let dir = args.inputs.run.join("va");
    model.save(&dir)?;
    if let Some(b) = best {
        println!(
            "best epoch {} of {}: validation CCC valence {:.3}, arousal {:.3}",
            b.epoch,
            history.len(),
            b.val_ccc_valence,
            b.val_ccc_arousal
        );
    }
    println!(
        "wrote {}; next: musav validate-va --run {}",
        dir.display(),
        args.inputs.run.display()
    );
    Ok(())
}
