//! The synthetic corpus: deterministic for a seed, MTG layout, labels that differ as designed and
//! are separable from their mel-spectrograms, VA ground truth that varies inside a label.

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use musav::audio::decode::load_mono_12k;
use musav::audio::mel::{MelConfig, mel_spectrogram};
use musav::curation::labels::{Label, LabelMap};
use musav::dataset::va::VaTable;
use musav::dataset::{Dataset, LoadOptions};
use musav::features::FeatureSource;
use musav::synth::{SynthConfig, generate};
use util::snapshot;

fn shipped_map() -> LabelMap {
    LabelMap::load(&util::shipped_labels()).unwrap()
}

fn cfg(out: &Path, per_label: usize, seconds: f32, limit: usize) -> SynthConfig {
    SynthConfig {
        out: out.to_path_buf(),
        per_label,
        seconds,
        seed: 42,
        labels_limit: Some(limit),
        ..SynthConfig::default()
    }
}

fn relative(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    snapshot(dir)
        .into_iter()
        .map(|(p, b)| (p.strip_prefix(dir).unwrap().to_path_buf(), b))
        .collect()
}

/// Rows of a CSV as header → value maps.
fn csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            head.iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn same_seed_same_corpus_other_seed_other_audio() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    let va = VaTable::load_default().unwrap();
    let c = cfg(&out, 4, 1.0, 2);
    generate(&c, &shipped_map(), &va).unwrap();
    let first = relative(&out);
    generate(&c, &shipped_map(), &va).unwrap();
    assert_eq!(first, relative(&out));
    generate(&SynthConfig { seed: 7, ..c }, &shipped_map(), &va).unwrap();
    let other = relative(&out);
    let wav = |s: &[(PathBuf, Vec<u8>)]| {
        s.iter()
            .find(|(p, _)| p.ends_with("01/1.wav"))
            .unwrap()
            .1
            .clone()
    };
    assert_ne!(wav(&first), wav(&other));
}

#[test]
fn corpus_loads_as_mtg_metadata_with_member_tags_and_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    let map = shipped_map();
    let report = generate(
        &cfg(&out, 5, 1.0, 3),
        &map,
        &VaTable::load_default().unwrap(),
    )
    .unwrap();
    assert_eq!(
        (report.clips, report.train, report.validation, report.test),
        (15, 9, 3, 3)
    );
    let ds = Dataset::load(&out, &LoadOptions::default()).unwrap();
    assert_eq!(ds.tracks.len(), 15);
    for t in &ds.tracks {
        assert_eq!(t.tags.len(), 1);
        let tag = &ds.tags[t.tags[0]];
        let label = map.label_of_tag(tag).expect("a member tag");
        assert!(label.id < 3 || map.labels.iter().take(3).any(|l| l.id == label.id));
        assert!(out.join(&t.path).is_file(), "{}", t.path);
    }
    assert!(matches!(
        FeatureSource::open(&out, None).unwrap(),
        FeatureSource::Audio { .. }
    ));
    let va = csv(&out.join("va.csv"));
    assert_eq!(va.len(), 15);
}

fn label(id: u32, name: &str, tags: &[&str]) -> Label {
    Label {
        id,
        name: name.into(),
        named_by: "manual".into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

/// Mean RMS and mean positive spectral flux (onset strength) per clip.
fn loudness_and_onsets(path: &Path) -> (f32, f32) {
    let x = load_mono_12k(path).unwrap();
    let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let m = mel_spectrogram(&x, &MelConfig::default());
    let mut flux = 0.0;
    for t in 1..m.ncols() {
        flux += (0..m.nrows())
            .map(|b| (m[(b, t)] - m[(b, t - 1)]).max(0.0))
            .sum::<f32>();
    }
    (rms, flux / m.ncols() as f32)
}

#[test]
fn arousal_makes_clips_louder_and_denser_and_valence_sets_the_mode() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    let map = LabelMap {
        version: 1,
        settings: None,
        labels: vec![
            label(0, "Calm", &["calm", "meditative"]),
            label(1, "Fun", &["fun", "sexy"]),
            label(2, "Sad", &["sad", "melancholic"]),
        ],
        noise: vec![],
        suggestions: vec![],
    };
    generate(
        &cfg(&out, 6, 3.0, 3),
        &map,
        &VaTable::load_default().unwrap(),
    )
    .unwrap();
    let clips = csv(&out.join("clips.csv"));
    let mut per_label: BTreeMap<String, Vec<(f32, f32)>> = BTreeMap::new();
    for c in &clips {
        let n: usize = c["track_id"].trim_start_matches("track_").parse().unwrap();
        let path = out.join(format!("{:02}/{n}.wav", n % 100));
        per_label
            .entry(c["label_id"].clone())
            .or_default()
            .push(loudness_and_onsets(&path));
        let (v, a): (f32, f32) = (c["valence"].parse().unwrap(), c["arousal"].parse().unwrap());
        let bpm: f32 = c["bpm"].parse().unwrap();
        assert!((bpm - (60.0 + 120.0 * a)).abs() < 0.1, "{c:?}");
        assert_eq!(c["minor"] == "true", v < 0.5, "{c:?}");
    }
    let mean = |l: &str, f: fn(&(f32, f32)) -> f32| {
        per_label[l].iter().map(f).sum::<f32>() / per_label[l].len() as f32
    };
    assert!(
        mean("1", |p| p.0) > 2.0 * mean("0", |p| p.0),
        "Fun is louder than Calm"
    );
    assert!(
        mean("1", |p| p.1) > 1.5 * mean("0", |p| p.1),
        "Fun has more onsets than Calm"
    );
    let minor = |l: &str| {
        clips
            .iter()
            .filter(|c| c["label_id"] == l && c["minor"] == "true")
            .count()
    };
    assert_eq!(minor("1"), 0);
    assert!(minor("2") >= 5, "Sad clips are in minor");
}

#[test]
fn va_ground_truth_varies_inside_a_label() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    generate(
        &cfg(&out, 10, 1.0, 2),
        &shipped_map(),
        &VaTable::load_default().unwrap(),
    )
    .unwrap();
    let clips = csv(&out.join("clips.csv"));
    for l in ["0", "1"] {
        let a: Vec<f64> = clips
            .iter()
            .filter(|c| c["label_id"] == l)
            .map(|c| c["arousal"].parse().unwrap())
            .collect();
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        let sd = (a.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
        assert!(sd > 0.02, "label {l}: arousal sd {sd}");
    }
    let va = csv(&out.join("va.csv"));
    assert_eq!(va.len(), 20);
    assert!(
        va.iter()
            .zip(&clips)
            .all(|(v, c)| v["arousal"] == c["arousal"] && v["track_id"] == c["track_id"])
    );
}

/// Per-clip summary of a mel-spectrogram: band means and standard deviations over time.
fn summary(path: &Path) -> Vec<f32> {
    let m = mel_spectrogram(&load_mono_12k(path).unwrap(), &MelConfig::default());
    let mut f = Vec::new();
    for row in m.rows() {
        let mean = row.mean().unwrap();
        f.push(mean);
        f.push((row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / row.len() as f32).sqrt());
    }
    f
}

#[test]
fn shipped_labels_are_separable_by_nearest_centroid_on_mel_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    generate(
        &cfg(&out, 10, 2.0, 6),
        &shipped_map(),
        &VaTable::load_default().unwrap(),
    )
    .unwrap();
    let clips = csv(&out.join("clips.csv"));
    let data: Vec<(String, String, Vec<f32>)> = clips
        .iter()
        .map(|c| {
            let n: usize = c["track_id"].trim_start_matches("track_").parse().unwrap();
            (
                c["label_id"].clone(),
                c["split"].clone(),
                summary(&out.join(format!("{:02}/{n}.wav", n % 100))),
            )
        })
        .collect();
    let mut centroids: BTreeMap<&str, (Vec<f32>, usize)> = BTreeMap::new();
    for (l, split, f) in &data {
        if split == "train" {
            let e = centroids.entry(l).or_insert((vec![0.0; f.len()], 0));
            e.0.iter_mut().zip(f).for_each(|(a, b)| *a += b);
            e.1 += 1;
        }
    }
    let held: Vec<_> = data.iter().filter(|d| d.1 != "train").collect();
    let correct = held
        .iter()
        .filter(|(l, _, f)| {
            let best = centroids
                .iter()
                .map(|(k, (sum, n))| {
                    let d: f32 = sum
                        .iter()
                        .zip(f)
                        .map(|(s, v)| (s / *n as f32 - v).powi(2))
                        .sum();
                    (*k, d)
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap()
                .0;
            best == l.as_str()
        })
        .count();
    let acc = correct as f32 / held.len() as f32;
    eprintln!(
        "nearest-centroid accuracy on held-out synthetic clips: {acc:.2} ({correct}/{})",
        held.len()
    );
    assert!(acc >= 0.8, "accuracy {acc}");
}

#[test]
fn synth_command_refuses_an_existing_dir_and_rejects_tiny_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = util::run(util::musav().arg("synth").arg("--out").arg(dir.path()));
    assert!(!ok && err.contains("--force"), "{err}");
    let (ok, _, err) = util::run(
        util::musav()
            .args(["synth", "--per-label", "2", "--out"])
            .arg(dir.path().join("x"))
            .arg("--force"),
    );
    assert!(!ok && err.contains("--per-label"), "{err}");
}
