//! End to end on the real synthetic corpus (WAV → mel → ResNet) through the binary:
//! `musav synth`, `export`, `train`, `validate`, `train-va`, `validate-va`, `predict`, `compare`.
//!
//! The corpus is sized for the VA acceptance figures (issue 8), not for the classifier alone: all
//! eleven labels × 60 clips (396 train / 132 validation / 132 test), 128-frame chunks, the network's
//! last blocks wide enough (32, 64 channels, 64-wide embedding), six epochs, so that the frozen
//! embedding keeps what valence needs (README, "Valence–arousal", for the seeds measured). With four
//! labels the valence CCC sat at the 0.6 line; eleven labels are also the task musav is for.

mod util;

use util::{export, musav, run};

fn synth(out: &std::path::Path, per_label: &str, labels: &str) {
    util::synth(
        out,
        &format!("--per-label {per_label} --seconds 3 --labels-limit {labels}"),
    );
}

/// `musav validate --split test --format json` of a run.
fn validate_test(run_dir: &std::path::Path) -> serde_json::Value {
    let (ok, out, err) = run(musav()
        .arg("validate")
        .arg("--run")
        .arg(run_dir)
        .args(["--split", "test", "--format", "json"]));
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// validate-va's JSON report of the run's current head.
fn va_report(run_dir: &std::path::Path) -> serde_json::Value {
    let (ok, out, err) = run(musav().arg("validate-va").arg("--run").arg(run_dir));
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(run_dir.join("va_report_test.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    eprintln!("{out}");
    report
}

fn fig(report: &serde_json::Value, who: &str, dim: &str, what: &str) -> f64 {
    report[who][dim][what].as_f64().unwrap()
}

#[test]
fn trains_on_the_synthetic_corpus_validates_and_compares() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s);
    synth(&p("synth"), "60", "11");
    export(&p("synth"), &p("export"));
    let train = |export: &str, data: &str, out: &str, epochs: &str| {
        util::train(
            &p(export),
            &p(data),
            Some(&p(&format!("cache_{data}"))),
            &p(out),
            &format!(
                "--channels 8,8,16,32,64 --embedding 64 --chunk-frames 128 --batch-size 16 \
                 --lr 3e-3 --dropout 0.5 --epochs {epochs}"
            ),
        )
    };
    let (ok, out, err) = train("export", "synth", "run_a", "6");
    assert!(ok, "{err}");
    assert!(out.contains("best epoch"), "{out}");

    let report = validate_test(&p("run_a"));
    let out = report.to_string();
    let f1 = report["metrics"]["macro_f1"].as_f64().unwrap();
    // Eleven labels: chance is 0.09; the issue asks for at least three times that, this asks more.
    assert!(f1 >= 0.75, "test macro-F1 {f1}: {out}");
    assert_eq!(report["labels"].as_array().unwrap().len(), 11);
    assert!(p("run_a/confusion_test.png").exists());

    // The VA head on the frozen embedding alone (the head before issue 20), with the corpus's own
    // ground truth (va.csv), default loss.
    let (ok, out, err) = run(musav()
        .args([
            "train-va",
            "--unfreeze-last-block=false",
            "--va-input",
            "embedding",
            "--run",
        ])
        .arg(p("run_a")));
    assert!(ok, "{err}");
    assert!(out.contains("validation CCC"), "{out}");
    let va = va_report(&p("run_a"));
    assert_eq!(va["tracks"].as_u64(), Some(132), "{va}");
    for dim in ["valence", "arousal"] {
        // A constant prediction has no covariance with the truth: CCC 0 (the metric code can fail).
        let mean = fig(&va, "baseline_mean", dim, "ccc");
        assert!(mean.abs() < 1e-9, "{dim}: mean baseline CCC {mean}");
        // The acceptance figures: concordant, not shrunk toward the mean, and better than
        // both baselines (the label centroid knows the classifier's predicted class).
        let ccc = fig(&va, "model", dim, "ccc");
        let spread = fig(&va, "model", dim, "spread_ratio");
        let centroid = fig(&va, "baseline_label_centroid", dim, "ccc");
        assert!(ccc >= 0.6, "{dim}: CCC {ccc} < 0.6\n{va}");
        assert!(spread >= 0.7, "{dim}: spread ratio {spread} < 0.7\n{va}");
        assert!(
            ccc > centroid && ccc > mean,
            "{dim}: CCC {ccc} does not beat the label centroid {centroid} / the mean {mean}\n{va}"
        );
    }
    // Inside each predicted label the label-centroid baseline is constant: it adds nothing there,
    // and the report must say so with computed zeros (issue 20). The head's own figures are printed
    // for the README's table.
    for dim in ["valence", "arousal"] {
        for what in ["pearson", "residual_ccc"] {
            let base = fig(&va, "within_label_centroid", dim, what);
            assert!(base.abs() < 1e-12, "{dim} {what}: baseline {base}\n{va}");
            let model = fig(&va, "within_model", dim, what);
            assert!((-1.0..=1.0).contains(&model), "{dim} {what}: {model}");
            eprintln!("within label, {dim} {what}: model {model:.3}");
        }
    }
    assert!(p("run_a/va_plane_predictions.png").exists());
    // The default (CCC) loss against MSE on the same frozen embeddings: MSE is free to shrink
    // predictions toward the mean, the CCC loss is not, so the default keeps the larger spread.
    let (ok, _, err) = run(musav()
        .args([
            "train-va",
            "--unfreeze-last-block=false",
            "--va-input",
            "embedding",
            "--loss",
            "mse",
            "--run",
        ])
        .arg(p("run_a")));
    assert!(ok, "{err}");
    let mse = va_report(&p("run_a"));
    let mean_spread = |r: &serde_json::Value| {
        (fig(r, "model", "valence", "spread_ratio") + fig(r, "model", "arousal", "spread_ratio"))
            / 2.0
    };
    assert!(
        mean_spread(&va) > mean_spread(&mse),
        "spread ratio: default (ccc) {:.3} vs mse {:.3}\n{va}\n{mse}",
        mean_spread(&va),
        mean_spread(&mse)
    );

    // Issue 20's goal, on the frozen network: the head reading the blocks' output statistics beside
    // the embedding (the default input) knows where a track sits inside its label, on both axes,
    // and far better than the embedding alone (measured on this corpus and seed: valence within-
    // label r 0.376 against 0.207; scripts/va-options.sh gives 0.36-0.52 over six seeds).
    let (ok, out, err) = run(musav()
        .args(["train-va", "--unfreeze-last-block=false", "--run"])
        .arg(p("run_a")));
    assert!(ok, "{err}");
    assert!(out.contains("validation CCC"), "{out}");
    let levels = va_report(&p("run_a"));
    meets_the_within_label_goal(&levels);
    // With 132 tracks (12 per label) the sample alone moves the within-label r by about 0.1; the
    // report says how much (bootstrap of the tracks, predictions fixed).
    let sd = levels["sampling"]["valence"]["within_pearson"]
        .as_f64()
        .unwrap();
    assert!(
        (0.03..0.25).contains(&sd),
        "bootstrap SD of valence within r: {sd}\n{levels}"
    );
    let r = |report: &serde_json::Value, dim| fig(report, "within_model", dim, "pearson");
    assert!(
        r(&levels, "valence") > r(&va, "valence") + 0.05,
        "within-label r on valence: levels {:.3}, embedding alone {:.3}",
        r(&levels, "valence"),
        r(&va, "valence")
    );
    // predict and the server read the network the same way (no tail here).
    predict_gives_validate_va_s_points(&p, &levels);

    // Fine-tuning reads the tracks and checks them against the cached inputs: a cache that names
    // other tracks is refused with what to delete, and the head already there stays.
    let cache = p("run_a/embeddings_levels_train.json");
    let good = std::fs::read_to_string(&cache).unwrap();
    let mut stale: serde_json::Value = serde_json::from_str(&good).unwrap();
    stale["track_ids"][0] = serde_json::json!("track_that_is_not_in_the_export");
    std::fs::write(&cache, stale.to_string()).unwrap();
    let head_before = std::fs::read(p("run_a/va/va_head.json")).unwrap();
    let (ok, _, err) = run(musav()
        .args(["train-va", "--unfreeze-last-block", "--run"])
        .arg(p("run_a")));
    assert!(!ok);
    assert!(
        err.contains("embeddings_levels_train.json") && err.contains("delete"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(p("run_a/va/va_head.json")).unwrap(),
        head_before
    );
    std::fs::write(&cache, good).unwrap();

    // The default: the same input, then the head fine-tuned with its own copy of the last block
    // (kept because it beat the frozen head on validation here: its valence within-label r 0.357).
    // The class predictions stay the run's own.
    let (ok, out, err) = run(musav().args(["train-va", "--run"]).arg(p("run_a")));
    assert!(ok, "{err}");
    assert!(out.contains("fine-tuned the last block"), "{out}");
    assert!(p("run_a/va/va_tail.mpk").is_file());
    let tuned = va_report(&p("run_a"));
    meets_the_within_label_goal(&tuned);
    let again = validate_test(&p("run_a"));
    assert_eq!(again["metrics"]["macro_f1"].as_f64(), Some(f1));
    predict_gives_validate_va_s_points(&p, &tuned);

    // Back to the frozen embedding, with the head's own settings: the tail goes with the head it
    // belonged to, and the settings are the ones the head was built and trained with.
    let (ok, _, err) = run(musav()
        .args(["train-va", "--unfreeze-last-block=false", "--hidden", "32"])
        .args(["--dropout", "0.2", "--weight-decay", "1e-3", "--lr", "2e-3"])
        .args(["--patience", "5", "--run"])
        .arg(p("run_a")));
    assert!(ok, "{err}");
    assert!(!p("run_a/va/va_tail.mpk").exists());
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p(&format!("run_a/va/{name}"))).unwrap())
            .unwrap()
    };
    let (head, record) = (json("va_head.json"), json("train_va.json"));
    assert_eq!(head["config"]["hidden"], 32, "{head}");
    assert_eq!(head["config"]["dropout"], 0.2, "{head}");
    let cfg = &record["config"];
    assert_eq!(
        (
            &cfg["weight_decay"],
            &cfg["learning_rate"],
            &cfg["patience"]
        ),
        (
            &serde_json::json!(1e-3),
            &serde_json::json!(2e-3),
            &serde_json::json!(5)
        ),
        "{record}"
    );
    // A setting out of range is refused by name before anything is read or written.
    for (flag, value) in [
        ("--dropout", "1"),
        ("--lr", "0"),
        ("--weight-decay", "-1"),
        ("--hidden", "1"),
        ("--patience", "0"),
    ] {
        let (ok, _, err) = run(musav()
            .args(["train-va", &format!("{flag}={value}"), "--run"])
            .arg(p("run_a")));
        assert!(
            !ok && err.contains(&format!("{flag} must")),
            "{flag} {value}: {err}"
        );
        assert_eq!(
            json("va_head.json"),
            head,
            "{flag} {value} changed the head"
        );
    }

    // Prediction on unseen files: top labels with probabilities and a VA point per good file; a
    // bad file gets its own error and the exit code says so, while the others still come out.
    let mut wavs: Vec<_> = walk_wavs(&p("synth"));
    wavs.sort();
    let bad = p("not-audio.wav");
    std::fs::write(&bad, "this is text").unwrap();
    let (ok, out, err) = run(musav()
        .args(["predict", "--format", "json", "--run"])
        .arg(p("run_a"))
        .arg(&wavs[0])
        .arg(&bad)
        .arg(&wavs[1]));
    assert!(!ok && err.contains("not-audio.wav"), "{err}");
    let pred: serde_json::Value = serde_json::from_str(&out).unwrap();
    let preds = pred["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 2, "{out}");
    for p in preds {
        let top = p["labels"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        let probs: Vec<f64> = top.iter().map(|l| l["score"].as_f64().unwrap()).collect();
        assert!(
            probs.windows(2).all(|w| w[0] >= w[1]) && probs[0] <= 1.0,
            "{probs:?}"
        );
        let va = &p["va"];
        assert!(
            ["valence", "arousal"]
                .iter()
                .all(|k| va[k].as_f64().unwrap().is_finite())
        );
    }
    assert_eq!(pred["failed"].as_array().unwrap().len(), 1);

    // Compare two runs (one-epoch runs on a small corpus: compare only needs two validated runs).
    synth(&p("small"), "10", "4");
    export(&p("small"), &p("small_export"));
    let (ok, _, err) = train("small_export", "small", "run_b", "1");
    assert!(ok, "{err}");
    let (ok, _, err) = run(musav().arg("validate").arg("--run").arg(p("run_b")));
    assert!(ok, "{err}");
    let (ok, out, err) = run(musav().arg("compare").arg(p("run_a")).arg(p("run_b")));
    assert!(ok, "{err}");
    assert!(out.contains("macro-F1") && out.contains("F1 "), "{out}");

    // Comparing against a run that was never validated says what to run first.
    let (ok, _, err) = train("small_export", "small", "run_c", "1");
    assert!(ok, "{err}");
    let (ok, _, err) = run(musav().arg("compare").arg(p("run_a")).arg(p("run_c")));
    assert!(!ok);
    assert!(err.contains("musav validate --run"), "{err}");
}

/// `musav predict` reads the network as the saved head does (its input, its tail): its VA point
/// for each test file is the one validate-va computed for that track (a head fed the classifier's
/// embedding instead is off by more than 0.001 while its CCC stays within 0.01).
fn predict_gives_validate_va_s_points(
    p: &dyn Fn(&str) -> std::path::PathBuf,
    report: &serde_json::Value,
) {
    let clips = std::fs::read_to_string(p("synth/clips.csv")).unwrap();
    let test: Vec<(std::path::PathBuf, [f64; 2])> = clips
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.contains(&"test"))
        .map(|f| {
            let n: usize = f[0].trim_start_matches("track_").parse().unwrap();
            // The label may hold a comma inside quotes: valence and arousal are read from the end.
            let at = f.iter().position(|x| *x == "test").unwrap();
            (
                p(&format!("synth/{:02}/{n}.wav", n % 100)),
                [f[at + 1].parse().unwrap(), f[at + 2].parse().unwrap()],
            )
        })
        .collect();
    assert_eq!(test.len(), 132);
    let (ok, out, err) = run(musav()
        .args(["predict", "--format", "json", "--run"])
        .arg(p("run_a"))
        .args(test.iter().map(|(path, _)| path)));
    assert!(ok, "{err}");
    let answers: serde_json::Value = serde_json::from_str(&out).unwrap();
    let answers = answers["predictions"].as_array().unwrap();
    assert_eq!(answers.len(), test.len());
    let csv = std::fs::read_to_string(p("run_a/va_predictions_test.csv")).unwrap();
    assert!(
        csv.starts_with(
            "track_id,label,predicted_label,valence,arousal,valence_pred,arousal_pred\n"
        ),
        "{csv}"
    );
    // The predicted label is the classifier's: as many rows name another label than the true one
    // as validate counts errors on this split.
    let differ = csv
        .lines()
        .skip(1)
        .filter(|l| {
            let q: Vec<&str> = l.split('"').collect();
            q[1] != q[3]
        })
        .count();
    let m = &validate_test(&p("run_a"))["metrics"];
    let errors = m["tracks"].as_f64().unwrap() * (1.0 - m["accuracy"].as_f64().unwrap());
    assert_eq!(differ, errors.round() as usize, "{m}");
    let measured: std::collections::HashMap<String, [f64; 2]> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.rsplitn(3, ',').collect();
            let id = l.split(',').next().unwrap().to_string();
            (id, [f[1].parse().unwrap(), f[0].parse().unwrap()])
        })
        .collect();
    assert_eq!(measured.len(), test.len());
    for (a, (path, _)) in answers.iter().zip(&test) {
        let n: usize = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let want = measured[&format!("track_{n:07}")];
        for (j, dim) in ["valence", "arousal"].iter().enumerate() {
            // predict clamps to the head's [0, 1] scale; validate-va reports the raw output.
            let (got, want) = (a["va"][dim].as_f64().unwrap(), want[j].clamp(0.0, 1.0));
            assert!(
                (got - want).abs() < 1e-3,
                "{}: predict's {dim} {got:.4}, validate-va's {want:.4}",
                path.display()
            );
        }
    }
    for (j, dim) in ["valence", "arousal"].iter().enumerate() {
        let pred: Vec<f64> = answers
            .iter()
            .map(|a| a["va"][dim].as_f64().unwrap())
            .collect();
        let truth: Vec<f64> = test.iter().map(|(_, t)| t[j]).collect();
        let c = musav::va::metrics::ccc(&pred, &truth);
        let measured = fig(report, "model", dim, "ccc");
        assert!(
            (c - measured).abs() < 0.02,
            "{dim}: predict's CCC {c:.3} vs validate-va's {measured:.3}"
        );
    }
}

/// Issue 20's goal for a VA report on the test split: within-label Pearson r >= 0.3 on both axes,
/// valence CCC at least 0.05 above the label-centroid baseline, spread ratio >= 0.8 on both.
fn meets_the_within_label_goal(report: &serde_json::Value) {
    for dim in ["valence", "arousal"] {
        let spread = fig(report, "model", dim, "spread_ratio");
        assert!(
            spread >= 0.8,
            "{dim}: spread ratio {spread:.3} < 0.8\n{report}"
        );
        let r = fig(report, "within_model", dim, "pearson");
        assert!(r >= 0.3, "{dim}: within-label r {r:.3} < 0.3\n{report}");
    }
    let (ccc, centroid) = (
        fig(report, "model", "valence", "ccc"),
        fig(report, "baseline_label_centroid", "valence", "ccc"),
    );
    assert!(
        ccc >= centroid + 0.05,
        "valence CCC {ccc:.3} is not 0.05 above the label centroid's {centroid:.3}\n{report}"
    );
}

fn walk_wavs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_wavs(&p));
        } else if p.extension().is_some_and(|x| x == "wav") {
            out.push(p);
        }
    }
    out
}
