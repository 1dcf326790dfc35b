//! A synthetic labelled corpus in MTG-Jamendo layout, so training, VA regression and the demos
//! run on a machine without the real audio: WAV clips whose musical properties follow their tags'
//! valence/arousal, split files in the MTG TSV format, and each clip's ground-truth VA.
//!
//! Deterministic for a seed: every clip draws from its own RNG seeded by (seed, clip index), so the
//! parallel rendering order does not matter.

pub mod design;
pub mod render;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

use crate::curation::labels::LabelMap;
use crate::dataset::va::{Va, VaTable};
use crate::dataset::{DEFAULT_TAG_PREFIX, SPLIT_FILES, Split};
use crate::features::SYNTH_MARKER;
use design::{ClipDesign, Instrument, design};

/// Ground-truth valence/arousal per track.
pub const VA_CSV: &str = "va.csv";
/// Every clip's design (tempo, mode, brightness, ...), for checks and curiosity.
pub const CLIPS_CSV: &str = "clips.csv";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthConfig {
    pub out: PathBuf,
    pub per_label: usize,
    pub seconds: f32,
    pub seed: u64,
    pub sample_rate: u32,
    /// Use only the first N labels of the map (small corpora for tests).
    pub labels_limit: Option<usize>,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            out: PathBuf::from("out/synth"),
            per_label: 20,
            seconds: 5.0,
            seed: 42,
            sample_rate: crate::audio::TARGET_SAMPLE_RATE,
            labels_limit: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthLabel {
    pub id: u32,
    pub name: String,
    pub centre: Va,
    pub instrument: Instrument,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthReport {
    pub dir: PathBuf,
    pub clips: usize,
    pub train: usize,
    pub validation: usize,
    pub test: usize,
    pub labels: Vec<SynthLabel>,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error(
        "--per-label must be at least 1 and --seconds above 0.5 (got {per_label} and {seconds})"
    )]
    Size { per_label: usize, seconds: f32 },
    #[error("--sample-rate {0} is outside 8000..=48000 Hz")]
    SampleRate(u32),
    #[error(
        "the label map has no labels (or --labels-limit is 0); pass a map made by `musav cluster`"
    )]
    NoLabels,
    #[error(
        "label {label:?}: none of its tags ({tags}) is in the valence/arousal table; add them to data/tag_va.tsv or move them to another label"
    )]
    NoVa { label: String, tags: String },
    #[error("{path}: cannot write the corpus: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot encode WAV: {reason}")]
    Wav { path: PathBuf, reason: String },
}

struct Clip {
    number: usize,
    label: usize,
    split: Split,
    design: ClipDesign,
}

impl Clip {
    fn track_id(&self) -> String {
        format!("track_{:07}", self.number)
    }
    fn rel_path(&self) -> String {
        format!("{:02}/{}.wav", self.number % 100, self.number)
    }
}

/// Official splits are roughly 60/20/20; each label gets at least one clip in validation and in
/// test, so every split holds every label.
fn split_of(index: usize, per_label: usize) -> Split {
    let held_out = ((per_label as f64 * 0.2).round() as usize).max(1);
    if index + held_out >= per_label {
        Split::Test
    } else if index + 2 * held_out >= per_label {
        Split::Validation
    } else {
        Split::Train
    }
}

/// Writes the corpus into `cfg.out` (replaced atomically as a whole).
pub fn generate(
    cfg: &SynthConfig,
    map: &LabelMap,
    va: &VaTable,
) -> Result<SynthReport, SynthError> {
    if cfg.per_label < 3 || cfg.seconds.is_nan() || cfg.seconds < 0.5 {
        return Err(SynthError::Size {
            per_label: cfg.per_label,
            seconds: cfg.seconds,
        });
    }
    if !(8000..=48_000).contains(&cfg.sample_rate) {
        return Err(SynthError::SampleRate(cfg.sample_rate));
    }
    let labels = synth_labels(cfg, map, va)?;

    let clips: Vec<Clip> = labels
        .iter()
        .enumerate()
        .flat_map(|(li, label)| {
            let usable: Vec<&str> = label
                .tags
                .iter()
                .map(String::as_str)
                .filter(|t| va.get(t).is_some())
                .collect();
            (0..cfg.per_label).map(move |j| {
                let number = li * cfg.per_label + j + 1;
                let mut rng = clip_rng(cfg.seed, number, 0);
                let tag = usable[j % usable.len()];
                let tag_va = va.get(tag).unwrap_or(label.centre);
                Clip {
                    number,
                    label: li,
                    split: split_of(j, cfg.per_label),
                    design: design(label.id, li, label.centre, tag, tag_va, &mut rng),
                }
            })
        })
        .collect();

    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SynthError::Io { path, source }
    };
    let staging = crate::fsio::staging_dir(&cfg.out).map_err(io(&cfg.out))?;
    let root = staging.path().to_path_buf();

    clips.par_iter().try_for_each(|clip| {
        let mut rng = clip_rng(cfg.seed, clip.number, 1);
        let samples = render::render(&clip.design, cfg.seconds, cfg.sample_rate, &mut rng);
        let path = root.join(clip.rel_path());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let bytes = wav_bytes(&samples, cfg.sample_rate).map_err(|reason| SynthError::Wav {
            path: path.clone(),
            reason,
        })?;
        std::fs::write(&path, bytes).map_err(io(&path))
    })?;

    for (split, file) in SPLIT_FILES {
        let mut tsv = String::from("TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n");
        for c in clips.iter().filter(|c| c.split == split) {
            tsv.push_str(&format!(
                "{}\tartist_{:06}\talbum_{:06}\t{}\t{:.1}\t{DEFAULT_TAG_PREFIX}{}\n",
                c.track_id(),
                c.number,
                c.number,
                c.rel_path(),
                cfg.seconds,
                c.design.tag
            ));
        }
        let path = root.join(file);
        std::fs::write(&path, tsv).map_err(io(&path))?;
    }

    let mut va_csv = String::from("track_id,valence,arousal\n");
    let mut clips_csv = String::from(
        "track_id,label_id,label,tag,split,valence,arousal,bpm,notes_per_beat,minor,dissonance,brightness,gain,root_midi,instrument\n",
    );
    for c in &clips {
        let d = &c.design;
        va_csv.push_str(&format!(
            "{},{:.4},{:.4}\n",
            c.track_id(),
            d.va.valence,
            d.va.arousal
        ));
        clips_csv.push_str(&format!(
            "{},{},\"{}\",{},{},{:.4},{:.4},{:.2},{},{},{:.3},{:.3},{:.3},{},{}\n",
            c.track_id(),
            d.label_id,
            labels[c.label].name.replace('"', "'"),
            d.tag,
            c.split.as_str(),
            d.va.valence,
            d.va.arousal,
            d.bpm,
            d.notes_per_beat,
            d.minor,
            d.dissonance,
            d.brightness,
            d.gain,
            d.root_midi,
            d.instrument.name
        ));
    }
    for (name, text) in [(VA_CSV, va_csv), (CLIPS_CSV, clips_csv)] {
        let path = root.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }

    let count = |s: Split| clips.iter().filter(|c| c.split == s).count();
    let mut report = SynthReport {
        dir: cfg.out.clone(),
        clips: clips.len(),
        train: count(Split::Train),
        validation: count(Split::Validation),
        test: count(Split::Test),
        labels,
    };
    let marker = serde_json::json!({
        "generator": "musav synth",
        "config": cfg,
        "label_map_hash": map.hash(),
        "report": &report,
    });
    let path = root.join(SYNTH_MARKER);
    let text = serde_json::to_string_pretty(&marker).unwrap_or_default();
    std::fs::write(&path, text).map_err(io(&path))?;

    crate::fsio::replace_dir(&root, &cfg.out).map_err(io(&cfg.out))?;
    report.dir = cfg.out.clone();
    Ok(report)
}

/// The labels to synthesise, each with the mean VA point of its tags.
fn synth_labels(
    cfg: &SynthConfig,
    map: &LabelMap,
    va: &VaTable,
) -> Result<Vec<SynthLabel>, SynthError> {
    let limit = cfg.labels_limit.unwrap_or(usize::MAX);
    let labels: Vec<SynthLabel> = map
        .labels
        .iter()
        .take(limit)
        .enumerate()
        .map(|(i, l)| {
            let centre =
                va.mean(l.tags.iter().map(String::as_str))
                    .ok_or_else(|| SynthError::NoVa {
                        label: l.name.clone(),
                        tags: l.tags.join(", "),
                    })?;
            Ok(SynthLabel {
                id: l.id,
                name: l.name.clone(),
                centre,
                instrument: design::INSTRUMENTS[i % design::INSTRUMENTS.len()],
                tags: l.tags.clone(),
            })
        })
        .collect::<Result<_, SynthError>>()?;
    if labels.is_empty() {
        return Err(SynthError::NoLabels);
    }
    Ok(labels)
}

/// An RNG for one clip and purpose (0: design, 1: rendering), independent of thread scheduling.
fn clip_rng(seed: u64, number: usize, stream: u64) -> Xoshiro256PlusPlus {
    let mix = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((number as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(stream.wrapping_mul(0x94D0_49BB_1331_11EB));
    Xoshiro256PlusPlus::seed_from_u64(mix)
}

/// 16-bit PCM mono WAV bytes.
fn wav_bytes(samples: &[f32], sample_rate: u32) -> Result<Vec<u8>, String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).map_err(|e| e.to_string())?;
        for &s in samples {
            let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            w.write_sample(v).map_err(|e| e.to_string())?;
        }
        w.finalize().map_err(|e| e.to_string())?;
    }
    Ok(cursor.into_inner())
}
