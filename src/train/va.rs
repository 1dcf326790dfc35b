//! Transfer to valence–arousal: each track's embedding from the trained (frozen) ResNet, its VA
//! target and the classifier's predicted class (for the label-centroid baseline).
//!
//! Embeddings are computed once per split and cached in the run directory (`embeddings_<split>.json`),
//! since the ResNet does not change while heads are tried.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::artifacts::{ArtifactError, RunDir, RunInfo};
use super::data::{self, Example, MelSource, Skipped};
use super::finetune::{Backbone, TailData, finetune_tail};
use super::run::{CpuBackend, TrainError, embed_tracks, predict_probs};
use crate::dataset::Split;
use crate::dataset::va::{VaTable, VaTableError};
use crate::features::{FeatureError, FeatureSource};
use crate::model::resnet::{EmbeddingTail, EmbeddingTailConfig, VaInput};
use crate::va::head::{
    TAIL_EMBEDDINGS_PREFIX, VaEpoch, VaError, VaModel, VaTrainConfig, train_head,
};
use crate::va::plot::{VaPoint, va_plane_png};
use crate::va::report::VaReport;
use crate::va::targets::{Targets, TargetsError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Embedded {
    pub track_ids: Vec<String>,
    pub tags: Vec<String>,
    pub classes: Vec<usize>,
    pub predicted: Vec<usize>,
    pub embeddings: Vec<Vec<f32>>,
    pub skipped: Vec<Skipped>,
}

/// One split ready for the head: rows of `x` and `y` match `track_ids`.
#[derive(Debug, Clone)]
pub struct VaSplit {
    pub track_ids: Vec<String>,
    pub classes: Vec<usize>,
    pub predicted: Vec<usize>,
    pub x: Array2<f32>,
    pub y: Array2<f32>,
    /// Tracks without a target (annotations that do not cover them).
    pub without_target: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum VaDataError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    Targets(#[from] TargetsError),
    #[error(transparent)]
    Features(#[from] FeatureError),
    #[error(transparent)]
    Table(#[from] VaTableError),
    #[error(transparent)]
    Head(#[from] VaError),
    #[error(
        "{path}: the cached embeddings do not match the run's features any more; delete the run's embeddings_*.json and va/{TAIL_EMBEDDINGS_PREFIX}*.json and run the command again"
    )]
    StaleEmbeddings { path: PathBuf },
    #[error("{path}: cannot draw the VA plane: {message}")]
    Plot { path: PathBuf, message: String },
}

/// The file `validate-va` draws into the run directory.
pub const VA_PLANE_PNG: &str = "va_plane_predictions.png";

pub fn va_report_json(split: Split) -> String {
    format!("va_report_{}.json", split.as_str())
}

/// Each track's truth and prediction, so a user can look at the tracks behind the figures.
pub fn va_predictions_csv(split: Split) -> String {
    format!("va_predictions_{}.csv", split.as_str())
}

/// What VA training and validation read: a trained run, its targets and its features. `None`
/// fields fall back to what the run recorded (features) or to the best target source available.
#[derive(Debug, Clone, Default)]
pub struct VaSources {
    pub run: PathBuf,
    /// Annotations CSV `track_id,valence,arousal`.
    pub targets: Option<PathBuf>,
    pub features: Option<PathBuf>,
    pub cache: Option<PathBuf>,
}

impl VaSources {
    fn features_root(&self) -> Result<PathBuf, VaDataError> {
        match &self.features {
            Some(p) => Ok(p.clone()),
            None => Ok(PathBuf::from(RunDir::new(&self.run).info()?.features)),
        }
    }

    /// The feature source: the one given, else the one the run was trained on; audio is read in
    /// the run's convention.
    pub fn source(&self) -> Result<FeatureSource, VaDataError> {
        let convention = RunDir::new(&self.run).info()?.convention;
        Ok(
            FeatureSource::open(&self.features_root()?, self.cache.as_deref())?
                .with_convention(convention),
        )
    }

    /// Targets by precedence: a given CSV, the synthetic corpus's own `va.csv` (its ground truth),
    /// the tag table.
    pub fn targets(&self) -> Result<Targets, VaDataError> {
        resolve_targets(self.targets.as_deref(), &self.features_root()?)
    }

    /// The training split and `other`, each paired with its targets, read from the network as
    /// `input` says (cached in the run).
    pub fn splits(&self, other: Split, input: VaInput) -> Result<(VaSplit, VaSplit), VaDataError> {
        let source = self.source()?;
        let targets = self.targets()?;
        let train = va_split(
            &embed_split(&self.run, Split::Train, &source, input)?,
            &targets,
        )?;
        let other = va_split(&embed_split(&self.run, other, &source, input)?, &targets)?;
        Ok((train, other))
    }
}

/// VA targets by precedence: `csv` when given, the synthetic corpus's own `va.csv` under
/// `features` (its ground truth), else the shipped tag table. `musav train --va-weight` and the VA
/// head read them the same way.
pub fn resolve_targets(csv: Option<&Path>, features: &Path) -> Result<Targets, VaDataError> {
    if let Some(csv) = csv {
        return Ok(Targets::load_csv(csv)?);
    }
    let synth = features.join(crate::synth::VA_CSV);
    if synth.is_file() {
        return Ok(Targets::load_csv(&synth)?);
    }
    Ok(Targets::Tags(VaTable::load_default()?))
}

/// A trained head, as `train_va` leaves it in `RUN_DIR/va/`.
#[derive(Debug)]
pub struct VaTrained {
    pub train_tracks: usize,
    pub validation_tracks: usize,
    pub without_target: usize,
    pub history: Vec<VaEpoch>,
    /// The epoch whose weights were kept (best validation mean CCC).
    pub best: Option<VaEpoch>,
    /// With `unfreeze_last_block`: the fine-tuning's epochs (0 = the head on the frozen
    /// embedding) and the one kept.
    pub finetune: Option<(Vec<VaEpoch>, VaEpoch)>,
    pub dir: PathBuf,
}

/// What `train_va` records beside the head (`va/train_va.json`): how it was trained.
#[derive(Debug, Serialize)]
struct TrainRecord<'a> {
    config: &'a VaTrainConfig,
    history: &'a [VaEpoch],
    finetune_history: Option<&'a [VaEpoch]>,
}

fn best_epoch(history: &[VaEpoch]) -> Option<VaEpoch> {
    history
        .iter()
        .max_by(|a, b| {
            (a.val_ccc_valence + a.val_ccc_arousal)
                .total_cmp(&(b.val_ccc_valence + b.val_ccc_arousal))
        })
        .cloned()
}

/// Trains the VA head on the run's frozen embeddings (train split, early stopping on validation),
/// with `unfreeze_last_block` then fine-tunes it with its own copy of the network's tail, and
/// saves it into the run directory.
pub fn train_va(src: &VaSources, cfg: &VaTrainConfig) -> Result<VaTrained, VaDataError> {
    let source = src.source()?;
    let targets = src.targets()?;
    // Fine-tuning reads the tracks themselves: each split is read once for it and the embeddings.
    let load = |split| {
        cfg.unfreeze_last_block
            .then(|| load_split(&src.run, split, &source))
            .transpose()
    };
    let (train_loaded, val_loaded) = (load(Split::Train)?, load(Split::Validation)?);
    let embedded = |split, loaded: &Option<LoadedSplit>| match loaded {
        Some(loaded) => embeddings_of(&src.run, split, loaded, cfg.input),
        None => embed_split(&src.run, split, &source, cfg.input),
    };
    let train = va_split(&embedded(Split::Train, &train_loaded)?, &targets)?;
    let val = va_split(&embedded(Split::Validation, &val_loaded)?, &targets)?;
    let (mut model, history) = train_head(&train.x, &train.y, &val.x, &val.y, cfg, |_| {})?;
    let best = best_epoch(&history);
    let mut finetune = None;
    if let (Some(train_split), Some(val_split)) = (train_loaded, val_loaded) {
        let info = train_split.info;
        let (train_ex, train_y) = with_targets(train_split.examples, &targets)?;
        let (val_ex, val_y) = with_targets(val_split.examples, &targets)?;
        let resnet = RunDir::new(&src.run).load_best::<CpuBackend>(&Default::default())?;
        let shape = EmbeddingTailConfig::of(&info.model).ok_or(VaError::NoTail)?;
        let (tuned, epochs) = finetune_tail(
            &Backbone {
                resnet: &resnet,
                tail: &shape,
                frames: info.chunk.frames,
                eval_batch: info.train.eval_batch,
            },
            &model,
            TailData {
                examples: &train_ex,
                targets: &train_y,
            },
            TailData {
                examples: &val_ex,
                targets: &val_y,
            },
            cfg,
        )?;
        model = tuned;
        let kept = best_epoch(&epochs).unwrap_or_else(|| epochs[0].clone());
        finetune = Some((epochs, kept));
    }
    let dir = src.run.join("va");
    model.save(&dir)?;
    RunDir::new(&dir).write_json(
        "train_va.json",
        &TrainRecord {
            config: cfg,
            history: &history,
            finetune_history: finetune.as_ref().map(|(h, _)| h.as_slice()),
        },
    )?;
    Ok(VaTrained {
        train_tracks: train.x.nrows(),
        validation_tracks: val.x.nrows(),
        without_target: train.without_target + val.without_target,
        history,
        best,
        finetune,
        dir,
    })
}

/// The examples that have a target, and their targets as rows.
fn with_targets(
    examples: Vec<Example>,
    targets: &Targets,
) -> Result<(Vec<Example>, Array2<f32>), VaDataError> {
    let mut kept = Vec::with_capacity(examples.len());
    let mut ys = Vec::with_capacity(examples.len() * 2);
    for e in examples {
        if let Some(t) = targets.target(&e.track.track_id, &e.track.tag)? {
            ys.extend([t[0] as f32, t[1] as f32]);
            kept.push(e);
        }
    }
    let y = Array2::from_shape_vec((kept.len(), 2), ys).expect("two values per kept example");
    Ok((kept, y))
}

/// The VA head's diagnosis on one split, as written to the run directory.
#[derive(Debug)]
pub struct VaValidation {
    pub report: VaReport,
    pub points: Vec<VaPoint>,
    pub labels: Vec<String>,
    pub json: PathBuf,
    pub png: PathBuf,
}

/// Evaluates the saved head on `split` against both baselines; writes `va_report_<split>.json` and
/// the VA-plane PNG into the run directory.
pub fn validate_va(src: &VaSources, split: Split) -> Result<VaValidation, VaDataError> {
    let model = VaModel::load(&src.run.join("va"))?;
    let (train, mut eval) = src.splits(split, model.input)?;
    if let Some(tail) = &model.tail {
        let emb = embed_split_tail(&src.run, split, &src.source()?, &tail.layers, model.input)?;
        eval = va_split(&emb, &src.targets()?)?;
    }
    let pred = model.predict(&eval.x);
    let rows = |a: &Array2<f32>| -> Vec<[f64; 2]> {
        a.rows()
            .into_iter()
            .map(|r| [r[0] as f64, r[1] as f64])
            .collect()
    };
    let (p, t) = (rows(&pred), rows(&eval.y));
    let run = RunDir::new(&src.run);
    let info = run.info()?;
    let report = VaReport::evaluate(
        split.as_str(),
        &p,
        &t,
        train_mean(&train),
        &centroids(&train, info.classes.len()),
        &eval.predicted,
    );
    let json = run.path(&va_report_json(split));
    run.write_json(&va_report_json(split), &report)?;
    // The predicted label is the one the within-label figures and the centroid baseline group by.
    let mut csv =
        String::from("track_id,label,predicted_label,valence,arousal,valence_pred,arousal_pred\n");
    let name = |c: usize| info.classes.names[c].replace('"', "\"\"");
    for (i, id) in eval.track_ids.iter().enumerate() {
        csv.push_str(&format!(
            "{id},\"{}\",\"{}\",{},{},{},{}\n",
            name(eval.classes[i]),
            name(eval.predicted[i]),
            t[i][0],
            t[i][1],
            p[i][0],
            p[i][1]
        ));
    }
    run.write_text(&va_predictions_csv(split), &csv)?;
    let points: Vec<VaPoint> = p
        .iter()
        .zip(&t)
        .zip(&eval.classes)
        .map(|((&pred, &truth), &label)| VaPoint { truth, pred, label })
        .collect();
    let png = run.path(VA_PLANE_PNG);
    va_plane_png(
        &png,
        &points,
        &info.classes.names,
        &report.model,
        &report.within_model,
        split.as_str(),
    )
    .map_err(|e| VaDataError::Plot {
        path: png.clone(),
        message: format!("{e:#}"),
    })?;
    Ok(VaValidation {
        report,
        points,
        labels: info.classes.names,
        json,
        png,
    })
}

/// The cache of a split's VA inputs of one kind (`embeddings_<split>.json` for the embedding alone,
/// the name runs had before the kind was a setting).
pub fn embeddings_json(split: Split, input: VaInput) -> String {
    match input {
        VaInput::Embedding => format!("embeddings_{}.json", split.as_str()),
        other => format!("embeddings_{}_{}.json", other.as_str(), split.as_str()),
    }
}

/// The split's VA inputs, from the cache in the run directory or computed (and cached) now.
pub fn embed_split(
    run_dir: &Path,
    split: Split,
    source: &dyn MelSource,
    input: VaInput,
) -> Result<Embedded, VaDataError> {
    if let Some(cached) = cached_embeddings(run_dir, split, input)? {
        return Ok(cached);
    }
    let loaded = load_split(run_dir, split, source)?;
    embed_and_cache(run_dir, split, &loaded, input)
}

/// The split's VA inputs from the run's cache, when it has them.
fn cached_embeddings(
    run_dir: &Path,
    split: Split,
    input: VaInput,
) -> Result<Option<Embedded>, VaDataError> {
    let run = RunDir::new(run_dir);
    let name = embeddings_json(split, input);
    Ok(if run.path(&name).exists() {
        Some(run.read_json(&name)?)
    } else {
        None
    })
}

/// A split's tracks read as the run was trained: what the embeddings and the fine-tuning both
/// read, so a caller needing both reads the features once.
struct LoadedSplit {
    examples: Vec<Example>,
    skipped: Vec<Skipped>,
    info: RunInfo,
}

fn load_split(
    run_dir: &Path,
    split: Split,
    source: &dyn MelSource,
) -> Result<LoadedSplit, VaDataError> {
    let info = RunDir::new(run_dir).info()?;
    let (tracks, _) = data::tracks_from_export(&info.export).map_err(TrainError::from)?;
    let wanted: Vec<_> = tracks.into_iter().filter(|t| t.split == split).collect();
    let (examples, skipped) = data::load(&wanted, source, &info.chunk);
    Ok(LoadedSplit {
        examples,
        skipped,
        info,
    })
}

/// The VA inputs of a loaded split through the run's network, written to the run's cache.
fn embed_and_cache(
    run_dir: &Path,
    split: Split,
    loaded: &LoadedSplit,
    input: VaInput,
) -> Result<Embedded, VaDataError> {
    let LoadedSplit {
        examples,
        skipped,
        info,
    } = loaded;
    let run = RunDir::new(run_dir);
    let model = run.load_best::<CpuBackend>(&Default::default())?;
    let k = info.classes.len();
    let probs = predict_probs(
        &model,
        examples,
        info.chunk.frames,
        info.train.eval_batch,
        k,
    );
    let emb = embed_tracks(
        &model,
        None,
        input,
        examples,
        info.chunk.frames,
        info.train.eval_batch,
        input.width(&info.model),
    );
    let argmax = |p: &Vec<f32>| {
        p.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i)
    };
    let out = Embedded {
        track_ids: examples.iter().map(|e| e.track.track_id.clone()).collect(),
        tags: examples.iter().map(|e| e.track.tag.clone()).collect(),
        classes: examples.iter().map(|e| e.track.class).collect(),
        predicted: probs.iter().map(argmax).collect(),
        embeddings: emb.rows().into_iter().map(|r| r.to_vec()).collect(),
        skipped: skipped.clone(),
    };
    run.write_json(&embeddings_json(split, input), &out)?;
    Ok(out)
}

/// The cached embeddings when there are, checked against a fresh load of the same split (the
/// export may have changed since they were written), else computed from that load.
fn embeddings_of(
    run_dir: &Path,
    split: Split,
    loaded: &LoadedSplit,
    input: VaInput,
) -> Result<Embedded, VaDataError> {
    let Some(cached) = cached_embeddings(run_dir, split, input)? else {
        return embed_and_cache(run_dir, split, loaded, input);
    };
    if loaded.examples.len() != cached.track_ids.len()
        || loaded
            .examples
            .iter()
            .zip(&cached.track_ids)
            .any(|(e, id)| &e.track.track_id != id)
    {
        return Err(VaDataError::StaleEmbeddings {
            path: RunDir::new(run_dir).path(&embeddings_json(split, input)),
        });
    }
    Ok(cached)
}

/// [`embed_split`] with each track's embedding taken through the VA head's fine-tuned `tail`
/// (cached in `RUN_DIR/va/`; a newly saved head removes the cache).
pub fn embed_split_tail(
    run_dir: &Path,
    split: Split,
    source: &dyn MelSource,
    tail: &EmbeddingTail<CpuBackend>,
    input: VaInput,
) -> Result<Embedded, VaDataError> {
    let va = RunDir::new(run_dir.join("va"));
    let name = format!("{TAIL_EMBEDDINGS_PREFIX}{}.json", split.as_str());
    if va.path(&name).exists() {
        return Ok(va.read_json(&name)?);
    }
    let loaded = load_split(run_dir, split, source)?;
    let base = embeddings_of(run_dir, split, &loaded, input)?;
    let LoadedSplit { examples, info, .. } = loaded;
    let model = RunDir::new(run_dir).load_best::<CpuBackend>(&Default::default())?;
    let emb = embed_tracks(
        &model,
        Some(tail),
        input,
        &examples,
        info.chunk.frames,
        info.train.eval_batch,
        input.width(&info.model),
    );
    let out = Embedded {
        embeddings: emb.rows().into_iter().map(|r| r.to_vec()).collect(),
        ..base
    };
    va.write_json(&name, &out)?;
    Ok(out)
}

/// Pairs a split's embeddings with VA targets; tracks the targets do not cover are left out.
pub fn va_split(emb: &Embedded, targets: &Targets) -> Result<VaSplit, VaDataError> {
    let width = emb.embeddings.first().map_or(0, Vec::len);
    let mut rows = Vec::new();
    let mut ys = Vec::new();
    for i in 0..emb.track_ids.len() {
        if let Some(t) = targets.target(&emb.track_ids[i], &emb.tags[i])? {
            rows.push(i);
            ys.push(t);
        }
    }
    let x = Array2::from_shape_fn((rows.len(), width), |(r, j)| emb.embeddings[rows[r]][j]);
    let y = Array2::from_shape_fn((rows.len(), 2), |(r, j)| ys[r][j] as f32);
    Ok(VaSplit {
        track_ids: rows.iter().map(|&i| emb.track_ids[i].clone()).collect(),
        classes: rows.iter().map(|&i| emb.classes[i]).collect(),
        predicted: rows.iter().map(|&i| emb.predicted[i]).collect(),
        x,
        y,
        without_target: emb.track_ids.len() - rows.len(),
    })
}

/// Each class's mean training target (the label-centroid baseline's points).
pub fn centroids(train: &VaSplit, classes: usize) -> Vec<[f64; 2]> {
    let mut sum = vec![[0.0f64; 2]; classes];
    let mut n = vec![0usize; classes];
    for (i, &c) in train.classes.iter().enumerate() {
        sum[c][0] += train.y[[i, 0]] as f64;
        sum[c][1] += train.y[[i, 1]] as f64;
        n[c] += 1;
    }
    let mean = train_mean(train);
    sum.iter()
        .zip(&n)
        .map(|(s, &k)| {
            if k == 0 {
                mean
            } else {
                [s[0] / k as f64, s[1] / k as f64]
            }
        })
        .collect()
}

pub fn train_mean(train: &VaSplit) -> [f64; 2] {
    let n = train.y.nrows().max(1) as f64;
    [
        train.y.column(0).iter().map(|&v| v as f64).sum::<f64>() / n,
        train.y.column(1).iter().map(|&v| v as f64).sum::<f64>() / n,
    ]
}
