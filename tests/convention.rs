//! The feature conventions (issue 16): the `mtg` recipe against Essentia's own output (fixtures
//! made by scripts/essentia-fixtures.sh with the MTG-Jamendo dataset's melspectrograms.py recipe),
//! runs that record their convention and refuse another, the cache keyed by it, and the point of it
//! all: a model trained on mtg `.npy` files predicts the same from the clips' audio.

mod util;

use std::path::{Path, PathBuf};

use musav::audio::mtg;
use musav::audio::npy::read_mel;
use musav::features::{Convention, FeatureSource};
use musav::train::artifacts::RunDir;
use musav::train::data;
use musav::train::run::{CpuBackend, predict_probs};
use ndarray::Array2;
use util::{export, musav, run};

fn essentia(name: &str) -> PathBuf {
    util::repo().join("tests/fixtures/essentia").join(name)
}

fn audio_fixture(name: &str) -> PathBuf {
    util::repo().join("tests/fixtures/audio").join(name)
}

/// Reads a `.npy` fixture of any float32 shape (the 12 kHz signals are 1-D).
fn signal(path: &Path) -> Vec<f32> {
    use ndarray_npy::ReadNpyExt;
    let bytes = std::fs::read(path).unwrap();
    ndarray::Array1::<f32>::read_npy(bytes.as_slice())
        .unwrap()
        .to_vec()
}

/// Parity figures of ours against Essentia's: (mean |Δ|, max |Δ|) over the values Essentia puts
/// above its floor and, when `range` is given, within `range` dB of the clip's peak; and the number
/// of values (all of them) where exactly one side is at the floor.
fn compare(ours: &Array2<f32>, reference: &Array2<f32>, range: Option<f32>) -> (f64, f64, usize) {
    assert_eq!(ours.dim(), reference.dim(), "shape (bands, frames)");
    let peak = reference.iter().copied().fold(f32::MIN, f32::max);
    let lowest = range.map_or(f32::MIN, |r| peak - r);
    let mut sum = 0.0f64;
    let mut max = 0.0f64;
    let mut n = 0usize;
    let mut floor_mismatch = 0;
    for (&a, &b) in ours.iter().zip(reference) {
        let (fa, fb) = (a == mtg::FLOOR_DB, b == mtg::FLOOR_DB);
        // A value at the floor on one side only counts unless both lie below the compared range.
        if fa != fb && a.max(b) >= lowest {
            floor_mismatch += 1;
        }
        if fa || fb || b < lowest {
            continue;
        }
        let d = f64::from((a - b).abs());
        sum += d;
        max = max.max(d);
        n += 1;
    }
    (sum / n.max(1) as f64, max, floor_mismatch)
}

/// Every clip Essentia analysed (WAV at 12, 44.1 and 48 kHz, stereo, MP3 at three rates, digital
/// silence, a clip shorter than one frame): same frame count, mean |Δ| < 0.05 dB, max < 0.5 dB,
/// and the same values at Essentia's −200 dB floor.
///
/// WAV decodes exactly on both sides, so every value is compared. An MP3 is decoded by nanomp3
/// here and by FFmpeg in Essentia, two float decoders whose rounding differs at about 1e-7 of full
/// scale: values more than 130 dB below the clip's peak are that rounding noise (up to 1.1 dB
/// apart at −134 dB on the stereo clip, 28 dB at −197 dB in the pure tone's empty bands), not the
/// recipe, and are left out of the figures for MP3s, and so is the floor there (in the tone's empty bands one
/// decoder's noise lands just above 1e-10 and the other's just below).
#[test]
fn mtg_matches_essentia_on_every_fixture_clip() {
    let clips = [
        audio_fixture("parity_stereo_44k.wav"),
        audio_fixture("parity_music_12k.wav"),
        essentia("stereo_48k.wav"),
        essentia("silence_44k.wav"),
        essentia("short_44k.wav"),
        audio_fixture("stereo_44k.mp3"),
        audio_fixture("stereo_32k.mp3"),
        audio_fixture("stereo_22k.mp3"),
        audio_fixture("tone_440.mp3"),
    ];
    let mut report = String::new();
    let mut failed = false;
    for clip in &clips {
        let stem = clip.file_stem().unwrap().to_str().unwrap();
        let mp3 = clip.extension().is_some_and(|e| e == "mp3");
        // The fixture is in the released files' layout (Fortran order), read by musav's reader.
        let reference = read_mel(&essentia(&format!("{stem}.essentia.npy"))).unwrap();
        let (samples, _) = Convention::Mtg.load(clip).unwrap();
        let ours = Convention::Mtg.mel(&samples);
        assert_eq!(ours.dim(), reference.dim(), "{stem}: frame count");
        let (mean, max, floor) = compare(&ours, &reference, mp3.then_some(130.0));
        report.push_str(&format!(
            "{stem}: {} frames, mean |Δ| {mean:.5} dB, max {max:.4} dB, floor mismatches {floor}\n",
            ours.ncols()
        ));
        failed |= !(mean < 0.05 && max < 0.5 && floor == 0);
    }
    eprint!("{report}");
    assert!(!failed, "{report}");
}

#[test]
fn digital_silence_is_essentias_floor() {
    let reference = read_mel(&essentia("silence_44k.essentia.npy")).unwrap();
    let (samples, _) = Convention::Mtg.load(&essentia("silence_44k.wav")).unwrap();
    let ours = Convention::Mtg.mel(&samples);
    let floor_frames = |m: &Array2<f32>| -> Vec<usize> {
        (0..m.ncols())
            .filter(|&t| m.column(t).iter().all(|&v| v == mtg::FLOOR_DB))
            .collect()
    };
    let silent = floor_frames(&reference);
    // 0.4 s of zeros at 12 kHz, minus the frames that reach into the tone on either side.
    assert!(silent.len() >= 15, "{silent:?}");
    assert_eq!(floor_frames(&ours), silent);
}

#[test]
fn linear_resampling_gives_essentias_12k_signal() {
    // WAV in, so decoding is exact on both sides: the resampler alone is compared.
    for (clip, stem) in [
        (audio_fixture("parity_stereo_44k.wav"), "parity_stereo_44k"),
        (essentia("stereo_48k.wav"), "stereo_48k"),
    ] {
        let reference = signal(&essentia(&format!("{stem}.essentia12k.npy")));
        let (ours, info) = Convention::Mtg.load(&clip).unwrap();
        assert_eq!(info.channels, 2);
        assert_eq!(ours.len(), reference.len(), "{stem}");
        let worst = ours
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "{stem}: max |Δ| {worst}");
    }
    // MP3: musav's decoder against Essentia's (FFmpeg), both trimming the encoder delay.
    let reference = signal(&essentia("stereo_44k.essentia12k.npy"));
    let (ours, _) = Convention::Mtg
        .load(&audio_fixture("stereo_44k.mp3"))
        .unwrap();
    assert_eq!(ours.len(), reference.len());
    let peak = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3 * peak, "max |Δ| {worst} of peak {peak}");
}

#[test]
fn mel_bands_are_essentias() {
    let reference = read_mel(&essentia("melbands.essentia.npy"));
    // 96 × 257 is a mel-spectrogram's shape too, so the strict reader takes it.
    let reference = reference.unwrap();
    let ours = mtg::filterbank();
    assert_eq!(ours.dim(), reference.dim());
    let mut worst = 0.0f32;
    for (&a, &b) in ours.iter().zip(&reference) {
        assert_eq!(a > 0.0, b > 0.0, "the same bins are inside each band");
        worst = worst.max((a - b).abs());
    }
    assert!(worst < 5e-7, "max |Δ| {worst}");
}

#[test]
fn the_two_conventions_differ_where_the_issue_says() {
    // Essentia-style values span further down (−200 floor, no amin) and one more frame.
    let clip = audio_fixture("parity_stereo_44k.wav");
    let (m_samples, _) = Convention::Mtg.load(&clip).unwrap();
    let (l_samples, _) = Convention::Librosa.load(&clip).unwrap();
    let mtg_mel = Convention::Mtg.mel(&m_samples);
    let librosa_mel = Convention::Librosa.mel(&l_samples);
    // 44100 samples → 12001 (mtg) and 12000 (librosa) at 12 kHz: 48 frames against 47.
    assert_eq!(mtg_mel.ncols(), mtg::frame_count(m_samples.len()));
    assert_eq!(librosa_mel.ncols(), 1 + l_samples.len() / 256);
    assert_ne!(mtg_mel.ncols(), librosa_mel.ncols());
}

#[test]
fn the_cache_keeps_conventions_apart() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir_all(&audio).unwrap();
    std::fs::copy(audio_fixture("parity_stereo_44k.wav"), audio.join("a.wav")).unwrap();
    let cache = dir.path().join("cache");
    let mtg_src = FeatureSource::open(&audio, Some(&cache)).unwrap();
    assert_eq!(
        mtg_src.convention(),
        Some(Convention::Mtg),
        "mtg by default"
    );
    let librosa_src = mtg_src.clone().with_convention(Convention::Librosa);
    let (m, hit) = mtg_src.mel_with_status("a.wav").unwrap();
    assert!(!hit);
    // The other convention does not read the mtg entry...
    let (l, hit) = librosa_src.mel_with_status("a.wav").unwrap();
    assert!(!hit);
    assert_ne!(m.dim(), l.dim());
    // ...and each finds its own next time.
    assert_eq!(mtg_src.mel_with_status("a.wav").unwrap(), (m, true));
    assert_eq!(librosa_src.mel_with_status("a.wav").unwrap(), (l, true));
}

#[test]
fn a_run_json_without_a_convention_is_a_librosa_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    // A run.json as musav wrote it before conventions were recorded.
    let info = serde_json::json!({
        "export": "out/export",
        "features": "out/synth",
        "label_map_sha256": "abc",
        "classes": {"label_ids": [0, 1], "names": ["calm", "dark"]},
        "model": serde_json::to_value(musav::train::run::TrainConfig::new().model(2)).unwrap(),
        "train": serde_json::to_value(musav::train::run::TrainConfig::new()).unwrap(),
        "chunk": serde_json::to_value(musav::train::run::TrainConfig::new().chunk()).unwrap(),
    });
    std::fs::write(run.join("run.json"), info.to_string()).unwrap();
    assert_eq!(
        RunDir::new(run).info().unwrap().convention,
        Convention::Librosa
    );
}

fn synth(out: &Path, rate: &str) {
    util::synth(
        out,
        &format!("--per-label 6 --seconds 3 --labels-limit 3 --sample-rate {rate}"),
    );
}

fn train(export: &Path, features: &Path, out: &Path, extra: &[&str]) -> (bool, String, String) {
    let epochs = if extra.contains(&"--epochs") {
        ""
    } else {
        "--epochs 2"
    };
    let args = format!(
        "--channels 8,8,16 --embedding 16 --chunk-frames 64 --batch-size 8 --lr 3e-3 {epochs} {}",
        extra.join(" ")
    );
    util::train(export, features, None, out, &args)
}

/// Class probabilities of every exported track, read from `source` through `run`'s model.
fn probabilities(run_dir: &Path, export: &Path, source: &FeatureSource) -> Vec<Vec<f32>> {
    let run = RunDir::new(run_dir);
    let info = run.info().unwrap();
    let model = run.load_best::<CpuBackend>(&Default::default()).unwrap();
    let (tracks, classes) = data::tracks_from_export(export).unwrap();
    let (examples, skipped) = data::load(&tracks, source, &info.chunk);
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(examples.len(), tracks.len());
    predict_probs(
        &model,
        &examples,
        info.chunk.frames,
        info.train.eval_batch,
        classes.len(),
    )
}

fn top(p: &[f32]) -> usize {
    (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap()
}

fn max_delta(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The point of the convention: `.npy` files made with the mtg recipe (by `musav mel`), a run
/// trained on them (which records `mtg`), then the same clips' audio through that run in the
/// run's convention: the same probabilities (max |Δp| ≤ 1e-5) and the same top label for every
/// clip. The librosa convention through the same run shows the skew this prevents.
#[test]
fn a_run_trained_on_mtg_npy_files_predicts_the_same_from_audio() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s);
    // 44.1 kHz clips, so the linear resampler is part of the path.
    synth(&p("synth"), "44100");
    export(&p("synth"), &p("export"));
    let (tracks, _) = data::tracks_from_export(&p("export")).unwrap();
    for t in &tracks {
        let npy = p("npy").join(&t.path).with_extension("npy");
        std::fs::create_dir_all(npy.parent().unwrap()).unwrap();
        let (ok, _, err) = run(musav()
            .arg("mel")
            .arg(p("synth").join(&t.path))
            .arg("--out")
            .arg(&npy)
            .args(["--convention", "mtg"]));
        assert!(ok, "{err}");
    }
    let (ok, out, err) = train(&p("export"), &p("npy"), &p("run"), &[]);
    assert!(ok, "{out}{err}");
    let info = RunDir::new(p("run")).info().unwrap();
    assert_eq!(
        info.convention,
        Convention::Mtg,
        ".npy input is mtg by default"
    );

    let from_npy = probabilities(
        &p("run"),
        &p("export"),
        &FeatureSource::open(&p("npy"), None).unwrap(),
    );
    let audio = FeatureSource::open(&p("synth"), None)
        .unwrap()
        .with_convention(info.convention);
    let from_audio = probabilities(&p("run"), &p("export"), &audio);
    let delta = max_delta(&from_npy, &from_audio);
    assert!(delta <= 1e-5, "max |Δp| {delta}");
    for (i, (a, b)) in from_npy.iter().zip(&from_audio).enumerate() {
        assert_eq!(top(a), top(b), "track {i}: {a:?} against {b:?}");
    }
    let skewed = probabilities(
        &p("run"),
        &p("export"),
        &audio.clone().with_convention(Convention::Librosa),
    );
    let skew = max_delta(&from_npy, &skewed);
    eprintln!("max |Δp|: mtg audio {delta:e}, librosa audio {skew:.4}");
    assert!(
        skew > 100.0 * delta.max(1e-7),
        "librosa {skew}, mtg {delta}"
    );

    // Resuming with the other convention is refused, naming both.
    let (ok, _, err) = train(
        &p("export"),
        &p("npy"),
        &p("run"),
        &["--resume", "--convention", "librosa"],
    );
    assert!(!ok);
    assert!(err.contains("mtg") && err.contains("librosa"), "{err}");
    assert!(err.contains(&p("run").display().to_string()), "{err}");
}

#[test]
fn a_librosa_run_records_it_and_mel_says_which() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s);
    synth(&p("synth"), "12000");
    export(&p("synth"), &p("export"));
    let (ok, out, err) = train(
        &p("export"),
        &p("synth"),
        &p("run"),
        &["--convention", "librosa", "--epochs", "1"],
    );
    assert!(ok, "{out}{err}");
    assert_eq!(
        RunDir::new(p("run")).info().unwrap().convention,
        Convention::Librosa
    );
    let text = std::fs::read_to_string(p("run/run.json")).unwrap();
    assert!(text.contains("\"convention\": \"librosa\""), "{text}");

    let (ok, out, err) = run(musav()
        .arg("mel")
        .arg(audio_fixture("parity_stereo_44k.wav"))
        .arg("--out")
        .arg(p("m.npy")));
    assert!(ok, "{err}");
    assert!(out.contains("mtg convention"), "{out}");
    assert_eq!(read_mel(&p("m.npy")).unwrap().ncols(), 48);
}
