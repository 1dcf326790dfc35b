//! Prediction for audio the model has never seen, the one path `musav predict` and `musav serve`
//! share: a run is loaded once into a [`Predictor`], and every file goes through
//! [`Predictor::predict_file`] (decode) and [`Predictor::predict_samples`] (mel, chunks, network).
//!
//! A file is cut into the non-overlapping chunks the network was trained on (the last one aligned to
//! the end) and run through the network a few chunks at a time, so a 15-minute track costs its
//! spectrogram plus one small batch of activations, never one giant batch. The file's label scores
//! are the chunks' softmax averaged, its VA point is the head applied to the averaged embedding (as
//! validation computes them); each chunk also keeps its own top label and VA point (the mood over
//! time). The VA point is clamped to the scale the head was trained on, and everything that makes an
//! answer doubtful is said in `warnings` instead of being hidden.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::activation::softmax;
use burn::tensor::{Tensor, TensorData};
use ndarray::{Array2, Axis, s};
use serde::Serialize;

use super::artifacts::{ArtifactError, LABELS_TOML, RunDir, RunInfo};
use super::run::CpuBackend;
use crate::audio::TARGET_SAMPLE_RATE;
use crate::audio::decode::{DecodeError, SourceInfo};
use crate::audio::mel::MelConfig;
use crate::curation::labels::LabelMap;
use crate::dataset::va::VaTable;
use crate::model::resnet::{ResNet, VaInput, va_features};
use crate::va::head::{VaError, VaModel};

/// Chunks per forward pass: small enough that the activations of the default network stay in the
/// tens of MB per request, large enough that the matrix kernels run at full speed.
pub const INFER_BATCH: usize = 8;

/// The VA scale of musav's targets (the shipped tag table and the synthetic corpus: both axes in
/// [0, 1]); a head's output outside it is clamped and the answer says so.
pub const VA_SCALE: [f32; 2] = [0.0, 1.0];

/// Below this RMS level (dBFS) of the 12 kHz signal the answer gets a near-silence warning.
const SILENCE_DBFS: f32 = -50.0;

/// The one place audio enters prediction: 12 kHz mono plus what the file was. Taking the run lets
/// the features follow the convention the run was trained with.
pub fn load_audio(path: &Path, info: &RunInfo) -> Result<(Vec<f32>, SourceInfo), DecodeError> {
    info.convention.load(path)
}

/// The name of the feature convention [`load_audio`] and the mel-spectrogram follow for this run
/// (`mtg` or `librosa`), for answers that describe the model's input.
pub fn feature_convention(info: &RunInfo) -> String {
    info.convention.to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    Va(#[from] VaError),
    #[error(
        "{path}: no trained weights (model.mpk); the run has not finished its first epoch, train it further"
    )]
    NoWeights { path: PathBuf },
}

/// Why one file got no answer; the others are unaffected.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(
        "{path}: {seconds:.2} s of audio is shorter than one {chunk_seconds:.2} s chunk, the least the model analyses"
    )]
    TooShort {
        path: PathBuf,
        seconds: f64,
        chunk_seconds: f64,
    },
    #[error("{path}: {seconds:.0} s of audio is longer than the limit of {max_seconds:.0} s")]
    TooLong {
        path: PathBuf,
        seconds: f64,
        max_seconds: f64,
    },
    #[error("{path}: the decoded audio holds non-finite samples (NaN or infinity); re-encode it")]
    NonFinite { path: PathBuf },
}

/// What a file shorter than one chunk gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortAudio {
    /// Repeated to fill one chunk, with a warning (as training does with short clips).
    Tile,
    /// Refused with [`AudioError::TooShort`].
    Refuse,
}

#[derive(Debug, Clone, Copy)]
pub struct PredictOptions {
    pub short: ShortAudio,
    /// Longer decoded audio is refused with [`AudioError::TooLong`].
    pub max_seconds: Option<f64>,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            short: ShortAudio::Tile,
            max_seconds: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LabelScore {
    pub id: u32,
    pub label: String,
    pub score: f32,
}

/// A point on the valence–arousal plane, on [`VA_SCALE`].
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VaAnswer {
    pub valence: f32,
    pub arousal: f32,
    /// The head's output was outside the scale and was clamped to it.
    pub clamped: bool,
    /// "high valence, low arousal" and so on, split at the middle of the scale.
    pub quadrant: String,
    /// The tags of the shipped VA table nearest to the point, nearest first.
    pub nearest_moods: Vec<String>,
}

/// One analysed chunk: the mood over time.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    pub top_label: String,
    pub score: f32,
    pub valence: Option<f32>,
    pub arousal: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AudioSummary {
    /// Length of the decoded audio.
    pub duration_s: f64,
    /// The file's own rate and channel count (before the 12 kHz mono conversion).
    pub sample_rate: u32,
    pub channels: u16,
    /// Chunks the network analysed.
    pub chunks: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct Timing {
    pub decode: f64,
    pub features: f64,
    pub inference: f64,
    pub total: f64,
}

/// The full answer for one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// Every class, highest score first (scores sum to 1).
    pub labels: Vec<LabelScore>,
    /// `None` when the run has no VA head.
    pub va: Option<VaAnswer>,
    pub segments: Vec<Segment>,
    pub audio: AudioSummary,
    /// Milliseconds per stage.
    pub timing_ms: Timing,
    /// What makes the answer doubtful, in plain words; empty when nothing does.
    pub warnings: Vec<String>,
}

impl Answer {
    /// The single label: the highest-scoring class.
    pub fn top(&self) -> &LabelScore {
        &self.labels[0]
    }
}

/// A trained run ready to predict: network, VA head, classes and the tag points for mood words.
#[derive(Debug)]
pub struct Predictor {
    pub dir: PathBuf,
    pub info: RunInfo,
    model: ResNet<CpuBackend>,
    va: Option<VaModel>,
    mel: MelConfig,
    /// Tag → VA point for the tags of the run's label map that the shipped table knows.
    moods: Vec<(String, [f32; 2])>,
}

impl Predictor {
    /// Loads `run_dir`'s best weights, and its VA head when `run_dir/va/` holds one.
    pub fn load(run_dir: &Path) -> Result<Predictor, LoadError> {
        let run = RunDir::new(run_dir);
        let info = run.info()?;
        if !run.path("model.mpk").is_file() {
            return Err(LoadError::NoWeights {
                path: run_dir.to_path_buf(),
            });
        }
        let model = run.load_best::<CpuBackend>(&Default::default())?;
        let va_dir = run_dir.join("va");
        let va = if va_dir.join("va_head.json").exists() {
            Some(VaModel::load(&va_dir)?)
        } else {
            None
        };
        let mel = MelConfig {
            n_mels: info.chunk.n_mels,
            ..MelConfig::default()
        };
        Ok(Predictor {
            dir: run_dir.to_path_buf(),
            moods: mood_points(&run.path(LABELS_TOML)),
            info,
            model,
            va,
            mel,
        })
    }

    /// The run directory's name, as answers and logs name the model.
    pub fn run_name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.dir.display().to_string())
    }

    pub fn has_va(&self) -> bool {
        self.va.is_some()
    }

    /// What the VA head reads from the network, when there is one.
    pub fn va_input(&self) -> Option<VaInput> {
        self.va.as_ref().map(|v| v.input)
    }

    /// The tag points nearest-mood answers choose from (empty without a VA head).
    pub fn moods(&self) -> &[(String, [f32; 2])] {
        if self.va.is_some() { &self.moods } else { &[] }
    }

    /// Seconds of audio in one chunk.
    pub fn chunk_seconds(&self) -> f64 {
        ((self.info.chunk.frames - 1) * self.mel.hop) as f64 / TARGET_SAMPLE_RATE as f64
    }

    /// Decodes `path` through [`load_audio`] and predicts.
    pub fn predict_file(&self, path: &Path, opts: &PredictOptions) -> Result<Answer, AudioError> {
        let t0 = Instant::now();
        let (samples, source) = load_audio(path, &self.info)?;
        let decode = ms(t0);
        let mut answer = self.predict_samples(path, &samples, &source, opts)?;
        answer.timing_ms.decode = decode;
        answer.timing_ms.total = ms(t0);
        Ok(answer)
    }

    /// The answer for decoded 12 kHz mono `samples`; `path` only names the file in errors.
    pub fn predict_samples(
        &self,
        path: &Path,
        samples: &[f32],
        source: &SourceInfo,
        opts: &PredictOptions,
    ) -> Result<Answer, AudioError> {
        let t0 = Instant::now();
        let seconds = samples.len() as f64 / TARGET_SAMPLE_RATE as f64;
        if let Some(max_seconds) = opts.max_seconds
            && seconds > max_seconds
        {
            return Err(AudioError::TooLong {
                path: path.to_path_buf(),
                seconds,
                max_seconds,
            });
        }
        if samples.iter().any(|v| !v.is_finite()) {
            return Err(AudioError::NonFinite {
                path: path.to_path_buf(),
            });
        }
        let mut warnings = source.warnings.clone();
        let rms = (samples
            .iter()
            .map(|&v| (v as f64) * (v as f64))
            .sum::<f64>()
            / samples.len().max(1) as f64)
            .sqrt();
        let dbfs = 20.0 * rms.max(1e-12).log10();
        if dbfs < SILENCE_DBFS as f64 {
            warnings.push(format!(
                "the audio is near-silent ({dbfs:.0} dBFS RMS): the mood and VA point are guesses"
            ));
        }
        let frames = self.info.chunk.frames;
        let mut mel = self.info.convention.mel(samples);
        if mel.ncols() < frames {
            if opts.short == ShortAudio::Refuse {
                return Err(AudioError::TooShort {
                    path: path.to_path_buf(),
                    seconds,
                    chunk_seconds: self.chunk_seconds(),
                });
            }
            warnings.push(format!(
                "the audio ({seconds:.2} s) is shorter than one {:.2} s chunk: it was repeated to fill one",
                self.chunk_seconds()
            ));
            let idx: Vec<usize> = (0..frames).map(|i| i % mel.ncols()).collect();
            mel = mel.select(Axis(1), &idx);
        }
        if let Some((mean, std)) = self.info.chunk.norm {
            mel.mapv_inplace(|v| (v - mean) / std);
        }
        let starts = chunk_starts(mel.ncols(), frames);
        let features = ms(t0);

        let t1 = Instant::now();
        let scored = self.run_chunks(&mel, &starts);
        let k = self.info.classes.len();
        let n = starts.len() as f32;
        let mut mean_probs = vec![0f32; k];
        for p in &scored.probs {
            for (m, v) in mean_probs.iter_mut().zip(p) {
                *m += v / n;
            }
        }
        let file_va = self.va.as_ref().map(|head| {
            let mean = scored
                .embeddings
                .mean_axis(Axis(0))
                .unwrap_or_else(|| ndarray::Array1::zeros(scored.embeddings.ncols()));
            let p = head.predict(&mean.insert_axis(Axis(0)));
            [p[[0, 0]], p[[0, 1]]]
        });
        let inference = ms(t1);

        let va = file_va.map(|p| self.va_answer(p, &mut warnings));
        let hop_s = self.mel.hop as f64 / TARGET_SAMPLE_RATE as f64;
        let segments = starts
            .iter()
            .enumerate()
            .map(|(i, &st)| {
                let best = argmax(&scored.probs[i]);
                let point = scored
                    .chunk_va
                    .as_ref()
                    .map(|p| clamp_va([p[[i, 0]], p[[i, 1]]]).0);
                Segment {
                    start_s: round_ms(st as f64 * hop_s).min(seconds),
                    end_s: round_ms((st + frames - 1) as f64 * hop_s).min(seconds),
                    top_label: self.info.classes.names[best].clone(),
                    score: scored.probs[i][best],
                    valence: point.map(|p| p[0]),
                    arousal: point.map(|p| p[1]),
                }
            })
            .collect();
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| mean_probs[b].total_cmp(&mean_probs[a]).then(a.cmp(&b)));
        Ok(Answer {
            labels: order
                .into_iter()
                .map(|c| LabelScore {
                    id: self.info.classes.label_ids[c],
                    label: self.info.classes.names[c].clone(),
                    score: mean_probs[c],
                })
                .collect(),
            va,
            segments,
            audio: AudioSummary {
                duration_s: round_ms(seconds),
                sample_rate: source.sample_rate,
                channels: source.channels,
                chunks: starts.len(),
            },
            timing_ms: Timing {
                decode: 0.0,
                features,
                inference,
                total: ms(t0),
            },
            warnings,
        })
    }

    /// Softmax and embedding of every chunk, [`INFER_BATCH`] chunks per forward pass.
    fn run_chunks(&self, mel: &Array2<f32>, starts: &[usize]) -> Scored {
        let frames = self.info.chunk.frames;
        let (bands, k) = (mel.nrows(), self.info.classes.len());
        let input = self.va.as_ref().map_or(VaInput::Embedding, |v| v.input);
        let width = input.width(&self.info.model);
        let device = Default::default();
        let mut probs = Vec::with_capacity(starts.len());
        let mut embeddings = Array2::<f32>::zeros((starts.len(), width));
        for (b, part) in starts.chunks(INFER_BATCH).enumerate() {
            let mut buf = Vec::with_capacity(part.len() * bands * frames);
            for &st in part {
                buf.extend(mel.slice(s![.., st..st + frames]).iter().copied());
            }
            let x = Tensor::<CpuBackend, 3>::from_data(
                TensorData::new(buf, [part.len(), bands, frames]),
                &device,
            );
            // One trunk pass for both: the classifier's embedding, and the VA head's input
            // (through its own fine-tuned tail when it has one).
            let (trunk, stats) = self.model.trunk_for(x, input);
            let tail = self.va.as_ref().and_then(|v| v.tail.as_ref());
            // The last block's statistics come from whichever last block feeds the head.
            let own = if tail.is_some() {
                VaInput::Embedding
            } else {
                input
            };
            let (emb, last) = self.model.embed_trunk_levels(trunk.clone(), own);
            let va_emb = match tail {
                Some(tail) => {
                    let (e, l) = tail.layers.forward_levels(trunk, input);
                    va_features(input, e, &stats, l)
                }
                None => va_features(input, emb.clone(), &stats, last),
            };
            let p = softmax(self.model.classify(emb), 1);
            let p: Vec<f32> = p.into_data().to_vec().unwrap_or_default();
            let e: Vec<f32> = va_emb.into_data().to_vec().unwrap_or_default();
            for row in 0..part.len() {
                probs.push(p[row * k..(row + 1) * k].to_vec());
                let dst = b * INFER_BATCH + row;
                for j in 0..width {
                    embeddings[[dst, j]] = e[row * width + j];
                }
            }
        }
        let chunk_va = self.va.as_ref().map(|head| head.predict(&embeddings));
        Scored {
            probs,
            embeddings,
            chunk_va,
        }
    }

    fn va_answer(&self, raw: [f32; 2], warnings: &mut Vec<String>) -> VaAnswer {
        let (p, clamped) = clamp_va(raw);
        if clamped {
            warnings.push(format!(
                "the VA head's output (valence {:.2}, arousal {:.2}) is outside its training scale [{}, {}]: clamped",
                raw[0], raw[1], VA_SCALE[0], VA_SCALE[1]
            ));
        }
        let mid = (VA_SCALE[0] + VA_SCALE[1]) / 2.0;
        let side = |v: f32| if v >= mid { "high" } else { "low" };
        let mut near: Vec<(f32, &str)> = self
            .moods
            .iter()
            .map(|(w, q)| ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2), w.as_str()))
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        VaAnswer {
            valence: p[0],
            arousal: p[1],
            clamped,
            quadrant: format!("{} valence, {} arousal", side(p[0]), side(p[1])),
            nearest_moods: near.iter().take(3).map(|(_, w)| w.to_string()).collect(),
        }
    }
}

struct Scored {
    probs: Vec<Vec<f32>>,
    /// Per chunk, the VA head's input (as its `VaInput` says; through its fine-tuned tail when it has one).
    embeddings: Array2<f32>,
    chunk_va: Option<Array2<f32>>,
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i)
}

/// The point clamped to [`VA_SCALE`], and whether it had to be.
pub fn clamp_va(p: [f32; 2]) -> ([f32; 2], bool) {
    let c = p.map(|v| v.clamp(VA_SCALE[0], VA_SCALE[1]));
    (c, c != p)
}

/// Start frames of the non-overlapping chunks covering `n` frames, the last aligned to the end
/// (the chunks validation averages over).
pub fn chunk_starts(n: usize, frames: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let st = start.min(n.saturating_sub(frames));
        out.push(st);
        if st + frames >= n {
            return out;
        }
        start += frames;
    }
}

/// The VA points of the tags in the run's label map (labels and noise) that the shipped table knows.
fn mood_points(labels_toml: &Path) -> Vec<(String, [f32; 2])> {
    let (Ok(map), Ok(table)) = (LabelMap::load(labels_toml), VaTable::load_default()) else {
        return Vec::new();
    };
    let mut tags: Vec<&String> = map
        .labels
        .iter()
        .flat_map(|l| &l.tags)
        .chain(&map.noise)
        .collect();
    tags.sort();
    tags.dedup();
    tags.into_iter()
        .filter_map(|t| {
            table
                .get(t)
                .map(|p| (t.clone(), [p.valence as f32, p.arousal as f32]))
        })
        .collect()
}

/// A file's answer, or why it has none, for commands that predict many files.
#[derive(Debug)]
pub struct FileResult {
    pub file: PathBuf,
    pub result: Result<Answer, AudioError>,
}

/// Loads the run once and predicts each file in turn; one bad file never stops the others.
pub fn predict_files(
    run_dir: &Path,
    files: &[PathBuf],
    opts: &PredictOptions,
) -> Result<Vec<FileResult>, LoadError> {
    let predictor = Predictor::load(run_dir)?;
    Ok(files
        .iter()
        .map(|f| FileResult {
            file: f.clone(),
            result: predictor.predict_file(f, opts),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_spectrogram_without_overlap_but_the_last() {
        assert_eq!(chunk_starts(141, 141), [0]);
        assert_eq!(chunk_starts(300, 141), [0, 141, 159]);
        assert_eq!(chunk_starts(282, 141), [0, 141]);
    }

    #[test]
    fn va_is_clamped_to_the_scale_and_says_so() {
        assert_eq!(clamp_va([0.2, 0.7]), ([0.2, 0.7], false));
        assert_eq!(clamp_va([-0.1, 1.72]), ([0.0, 1.0], true));
    }
}
