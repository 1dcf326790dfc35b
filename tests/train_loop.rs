//! The training loop on in-memory spectrograms with class-dependent structure: it learns, its
//! checkpoint reloads to identical predictions, an interrupted run resumes from its epoch, and
//! tracks with missing or corrupt features are skipped and reported.

mod util;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use musav::dataset::Split;
use musav::train::artifacts::RunDir;
use musav::train::data::MemorySource;
use musav::train::report;
use musav::train::run::{
    Progress, Stop, TrainConfig, TrainInputs, TrainOutcome, predict_probs, train,
};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const LABELS: [(u32, &str); 4] = [(0, "calm"), (2, "dark"), (5, "happy"), (7, "epic")];

/// Class c: energy in its own band region, pulsing at its own rate, over noise.
fn mel(class: usize, frames: usize, rng: &mut StdRng) -> Array2<f32> {
    let lo = 10 + class * 20;
    let rate = 2 + 2 * class;
    Array2::from_shape_fn((96, frames), |(b, t)| {
        let noise: f32 = rng.gen_range(-6.0..6.0);
        let band = if (lo..lo + 14).contains(&b) {
            20.0
        } else {
            0.0
        };
        let pulse = if (t / rate).is_multiple_of(2) {
            8.0
        } else {
            0.0
        };
        -60.0 + noise + band + if band > 0.0 { pulse } else { 0.0 }
    })
}

/// Writes an export directory (CSV, summary, label map) and returns the features by path.
fn export(dir: &Path, per_class: [usize; 3]) -> MemorySource {
    let mut rng = StdRng::seed_from_u64(7);
    let mut csv =
        String::from("track_id,artist_id,album_id,path,duration,tag,label_id,label,split\n");
    let mut mels = HashMap::new();
    let mut n = 0;
    for (split, count) in ["train", "validation", "test"].iter().zip(per_class) {
        for (class, (id, name)) in LABELS.iter().enumerate() {
            for _ in 0..count {
                let path = format!("{:02}/{n}.mp3", n % 100);
                csv.push_str(&format!(
                    "track_{n},artist_{n},album_{n},{path},30.0,{name},{id},{name},{split}\n"
                ));
                let frames = rng.gen_range(30..80);
                mels.insert(path, mel(class, frames, &mut rng));
                n += 1;
            }
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("single_label.csv"), csv).unwrap();
    std::fs::write(
        dir.join("summary.json"),
        serde_json::json!({
            "policy": "strict", "single_tag_tracks": n, "noise_tracks": 0, "exported": n,
            "added_by_policy": 0, "labels": 4, "per_label": [], "per_split": {},
            "label_map_sha256": "abc123", "unmapped_tags": [], "sources": []
        })
        .to_string(),
    )
    .unwrap();
    std::fs::copy(util::shipped_labels(), dir.join("labels.toml")).unwrap();
    MemorySource(mels)
}

/// A new run's inputs: the export at `export`, its features from `source`, the run at `out`.
fn fresh_run<'a>(export: &'a Path, source: &'a MemorySource, out: &'a Path) -> TrainInputs<'a> {
    TrainInputs {
        export,
        features: "memory".into(),
        source,
        out,
        resume: false,
        va_targets: None,
        convention: Default::default(),
    }
}

fn small() -> TrainConfig {
    TrainConfig::new()
        .with_channels(vec![8, 8, 16, 16, 16])
        .with_embedding(16)
        .with_chunk_frames(32)
        .with_max_frames(64)
        .with_batch_size(8)
        .with_epochs(5)
        .with_patience(5)
        .with_learning_rate(3e-3)
        .with_dropout(0.1)
}

/// Runs `inputs` (a resume) to the end; returns the epoch it said it starts at, and the outcome.
fn resume(inputs: &TrainInputs<'_>, cfg: &TrainConfig) -> (Option<usize>, TrainOutcome) {
    let mut start = None;
    let outcome = train(
        inputs,
        cfg,
        |p| {
            if let Progress::Loaded { start_epoch, .. } = p {
                start = Some(*start_epoch);
            }
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    (start, outcome)
}

#[test]
fn learns_well_above_chance_and_the_checkpoint_reloads_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let (export_dir, out) = (tmp.path().join("export"), tmp.path().join("run"));
    let source = export(&export_dir, [16, 6, 6]);
    let inputs = fresh_run(&export_dir, &source, &out);
    let mut epochs_seen = 0;
    let outcome = train(
        &inputs,
        &small(),
        |p| {
            if let Progress::Epoch(_) = p {
                epochs_seen += 1
            }
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(epochs_seen, outcome.history.len());
    assert!(outcome.skipped.is_empty());

    // Test split, through the same path `musav validate` takes: ≥ 3× chance (4 classes).
    let rep = report::validate(&out, Split::Test, &source).unwrap();
    assert!(
        rep.metrics.macro_f1 >= 0.75,
        "test macro-F1 {} (history {:?})",
        rep.metrics.macro_f1,
        outcome.history
    );
    assert_eq!(rep.labels, ["calm", "dark", "happy", "epic"]);
    rep.write(&out).unwrap();
    assert!(out.join("confusion_test.png").metadata().unwrap().len() > 1000);

    // The reloaded checkpoint predicts exactly what the in-memory best model predicts.
    let info = RunDir::new(&out).info().unwrap();
    let tracks = musav::train::data::tracks_from_export(&export_dir)
        .unwrap()
        .0;
    let (examples, _) = musav::train::data::load(&tracks, &source, &info.chunk);
    let reloaded = RunDir::new(&out)
        .load_best::<musav::train::run::CpuBackend>(&Default::default())
        .unwrap();
    let a = predict_probs(
        outcome.model.as_ref().expect("a trained model"),
        &examples,
        32,
        64,
        4,
    );
    let b = predict_probs(&reloaded, &examples, 32, 64, 4);
    assert_eq!(a, b);

    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), outcome.history.len() + 1);
    for f in [
        "run.json",
        "labels.toml",
        "export_summary.json",
        "model.mpk",
        "report_test.json",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // A second run into the same directory is refused rather than overwriting it.
    let again = train(&inputs, &small(), |_| {}, &AtomicBool::new(false));
    assert!(again.unwrap_err().to_string().contains("--resume"));
}

#[test]
fn an_interrupted_run_resumes_from_its_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let (export_dir, out) = (tmp.path().join("export"), tmp.path().join("run"));
    let source = export(&export_dir, [6, 3, 0]);
    let mut inputs = fresh_run(&export_dir, &source, &out);
    let cfg = small().with_epochs(3).with_patience(10);
    let cancel = AtomicBool::new(false);
    let first = train(
        &inputs,
        &cfg,
        |p| {
            if let Progress::Epoch(e) = p
                && e.epoch == 2
            {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .unwrap();
    assert_eq!(first.stop, Stop::Cancelled);
    assert_eq!(first.history.len(), 2);

    inputs.resume = true;
    let (start, second) = resume(&inputs, &cfg);
    assert_eq!(start, Some(3));
    assert_eq!(second.stop, Stop::MaxEpochs);
    let epochs: Vec<usize> = second.history.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, [1, 2, 3]);
    // The first two epochs are kept as they were (up to the JSON round trip of the floats).
    for (a, b) in second.history[..2].iter().zip(&first.history) {
        assert_eq!(a.epoch, b.epoch);
        assert!((a.train_loss - b.train_loss).abs() < 1e-9);
        assert_eq!(a.val_macro_f1, b.val_macro_f1);
    }

    // A finished run can be extended: a larger budget, never a smaller one.
    let run = RunDir::new(&out);
    assert!(!run.extend_epochs(2).unwrap());
    assert!(run.extend_epochs(4).unwrap());
    let (start, third) = resume(&inputs, &cfg);
    assert_eq!(start, Some(4));
    let epochs: Vec<usize> = third.history.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, [1, 2, 3, 4]);
}

#[test]
fn a_run_stopped_before_its_first_epoch_ends_has_no_model_and_resumes_from_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let (export_dir, out) = (tmp.path().join("export"), tmp.path().join("run"));
    let source = export(&export_dir, [6, 3, 0]);
    let mut inputs = fresh_run(&export_dir, &source, &out);
    let cfg = small().with_epochs(1);
    let cancel = AtomicBool::new(false);
    let stopped = train(
        &inputs,
        &cfg,
        |p| {
            if let Progress::Step { step: 1, .. } = p {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .expect("a stop is not an error");
    assert_eq!(stopped.stop, Stop::Cancelled);
    assert!(stopped.history.is_empty() && stopped.model.is_none());
    assert!(!RunDir::new(&out).has_checkpoint());

    inputs.resume = true;
    let (start, resumed) = resume(&inputs, &cfg);
    assert_eq!(start, Some(1));
    assert_eq!(resumed.history.len(), 1);
    assert!(resumed.model.is_some());
}

#[test]
fn missing_and_corrupt_features_are_skipped_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut source = export(&tmp.path().join("export"), [6, 3, 0]);
    let mut paths: Vec<String> = source.0.keys().cloned().collect();
    paths.sort();
    source.0.remove(&paths[0]);
    source.0.get_mut(&paths[1]).unwrap()[[3, 3]] = f32::NAN;
    *source.0.get_mut(&paths[2]).unwrap() = Array2::zeros((40, 50));
    let out = tmp.path().join("run");
    let outcome = train(
        &fresh_run(&tmp.path().join("export"), &source, &out),
        &small().with_epochs(1),
        |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(outcome.skipped.len(), 3);
    assert_eq!(outcome.history.len(), 1);
    let report = std::fs::read_to_string(out.join("skipped.csv")).unwrap();
    assert!(report.contains("no features for"), "{report}");
    assert!(report.contains("non-finite"), "{report}");
    assert!(report.contains("40 mel bands"), "{report}");
}

/// What a training run did, to the bit: its per-epoch losses, and its best model's logits for one
/// fixed input (the saved file holds random parameter ids, so weights are compared by what they
/// compute).
fn fingerprint(
    dir: &Path,
    source: &MemorySource,
    cfg: &TrainConfig,
    name: &str,
) -> (Vec<u64>, Vec<u32>) {
    let (export_dir, out) = (dir.join("export"), dir.join(name));
    let inputs = fresh_run(&export_dir, source, &out);
    let outcome = train(&inputs, cfg, |_| {}, &AtomicBool::new(false)).unwrap();
    let losses: Vec<u64> = outcome
        .history
        .iter()
        .map(|e| e.train_loss.to_bits())
        .collect();
    let model = outcome.model.unwrap();
    let input = burn::tensor::Tensor::<musav::train::run::CpuBackend, 3>::from_data(
        burn::tensor::TensorData::new(
            (0..2 * 96 * 32)
                .map(|i| ((i % 97) as f32 - 48.0) / 10.0)
                .collect::<Vec<_>>(),
            [2, 96, 32],
        ),
        &Default::default(),
    );
    let logits: Vec<u32> = model
        .forward(input)
        .into_data()
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    (losses, logits)
}

/// Issue 20: two runs of one command used to differ (rayon summed the weight gradients in
/// whatever grouping work-stealing produced). With a fixed summation order, the same seed gives
/// the same run, bit for bit.
#[test]
fn the_same_seed_gives_the_same_run_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let source = export(&tmp.path().join("export"), [8, 4, 4]);
    let cfg = small().with_epochs(2);
    let (loss_a, model_a) = fingerprint(tmp.path(), &source, &cfg, "a");
    let (loss_b, model_b) = fingerprint(tmp.path(), &source, &cfg, "b");
    assert_eq!(loss_a, loss_b, "training losses differ between two runs");
    assert_eq!(
        model_a, model_b,
        "the trained weights differ between two runs"
    );
}

/// burn's CPU backend draws every random number (initial weights, dropout masks) from one
/// generator per process: a training started while another runs in the same process (a test
/// harness's threads, a library user's) must still be the one its seed gives.
#[test]
fn a_training_beside_another_is_still_the_one_its_seed_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let source = export(&tmp.path().join("export"), [8, 4, 4]);
    let cfg = small().with_epochs(2);
    let alone = fingerprint(tmp.path(), &source, &cfg, "alone");
    let other = small().with_epochs(2).with_seed(cfg.seed + 1);
    let beside = std::thread::scope(|s| {
        let running = s.spawn(|| fingerprint(tmp.path(), &source, &other, "other"));
        let beside = fingerprint(tmp.path(), &source, &cfg, "beside");
        running.join().unwrap();
        beside
    });
    assert!(
        alone == beside,
        "a training beside another drew other random numbers"
    );
}

/// Each epoch's validation leaves no transformed kernels behind: the weights it validated change at
/// the next step, so they would never be asked for again, and sat in memory up to the cache's bound
/// (a 40-epoch run peaked at 493 MB RSS with them, 382 MB without). The cache is process-wide:
/// nextest, the project's runner, gives this test a process of its own.
#[test]
fn validation_leaves_no_transformed_kernels_behind() {
    use musav::model::winograd::reused_kernel_floats;
    let tmp = tempfile::tempdir().unwrap();
    let (export_dir, out) = (tmp.path().join("export"), tmp.path().join("run"));
    let source = export(&export_dir, [8, 4, 4]);
    let inputs = fresh_run(&export_dir, &source, &out);
    let mut held = Vec::new();
    let outcome = train(
        &inputs,
        &small().with_epochs(2),
        |p| {
            if let Progress::Epoch(_) = p {
                held.push(reused_kernel_floats());
            }
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(held, [0, 0], "floats kept after each epoch's validation");
    // The same prediction path does keep them (so the zeros above are the emptying's doing).
    let tracks = musav::train::data::tracks_from_export(&export_dir)
        .unwrap()
        .0;
    let (examples, _) = musav::train::data::load(&tracks, &source, &small().chunk());
    predict_probs(outcome.model.as_ref().unwrap(), &examples, 32, 64, 4);
    assert!(reused_kernel_floats() > 0);
}

/// The auxiliary VA loss (issue 20): the run records its weight, the network gains a VA output
/// that learns the targets, and the run resumes like any other.
#[test]
fn the_auxiliary_va_loss_trains_records_and_resumes() {
    use musav::va::targets::Targets;
    let tmp = tempfile::tempdir().unwrap();
    let (export_dir, out) = (tmp.path().join("export"), tmp.path().join("run"));
    let source = export(&export_dir, [12, 4, 4]);
    // A target per track that follows its class (as tags would) plus a per-track part.
    let csv = std::fs::read_to_string(tmp.path().join("export/single_label.csv")).unwrap();
    let mut targets = HashMap::new();
    for (i, line) in csv.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let class = LABELS.iter().position(|(_, n)| *n == f[5]).unwrap() as f64;
        targets.insert(
            f[0].to_string(),
            [0.2 + 0.2 * class, 0.3 + 0.05 * (i % 5) as f64],
        );
    }
    let targets = Targets::Annotations(targets);
    let cfg = small().with_epochs(2).with_va_weight(Some(0.5));
    let mut inputs = TrainInputs {
        va_targets: Some(&targets),
        ..fresh_run(&export_dir, &source, &out)
    };
    let outcome = train(&inputs, &cfg, |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(outcome.history.len(), 2);
    let info = RunDir::new(&out).info().unwrap();
    assert_eq!(info.train.va_weight, Some(0.5));
    assert_eq!(info.model.va_output, Some(true));
    // The best model reloads with its VA output, and it answers for an embedding.
    let model = outcome.model.unwrap();
    let device = Default::default();
    let emb = burn::tensor::Tensor::<musav::train::run::CpuBackend, 2>::zeros([3, 16], &device);
    let va = model.va(emb).expect("the network has a VA output");
    assert_eq!(va.dims(), [3, 2]);
    // Resume to a third epoch with the same targets.
    inputs.resume = true;
    assert!(RunDir::new(&out).extend_epochs(3).unwrap());
    let (start, more) = resume(&inputs, &cfg);
    assert_eq!(start, Some(3));
    assert_eq!(more.history.len(), 3);

    // Without targets for the tracks, the run refuses to start and says what to pass.
    let none = Targets::Annotations(HashMap::new());
    let err = train(
        &TrainInputs {
            va_targets: Some(&none),
            ..fresh_run(&export_dir, &source, &tmp.path().join("run_none"))
        },
        &cfg,
        |_| {},
        &AtomicBool::new(false),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("--va-weight") && err.contains("--va-targets"),
        "{err}"
    );
}
