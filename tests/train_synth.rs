//! End to end on the real synthetic corpus (WAV → mel → ResNet) through the binary:
//! `musav synth`, `export`, `train`, `validate`, `compare`.

mod util;

use util::{musav, run};

#[test]
fn trains_on_the_synthetic_corpus_validates_and_compares() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s);
    let (ok, _, err) = run(musav()
        .args([
            "synth",
            "--per-label",
            "20",
            "--seconds",
            "3",
            "--labels-limit",
            "4",
            "--out",
        ])
        .arg(p("synth")));
    assert!(ok, "{err}");
    let (ok, _, err) = run(musav()
        .arg("export")
        .arg("--data")
        .arg(p("synth"))
        .arg("--out")
        .arg(p("export")));
    assert!(ok, "{err}");
    let train = |out: &str, epochs: &str| {
        run(musav()
            .arg("train")
            .arg("--export")
            .arg(p("export"))
            .arg("--features")
            .arg(p("synth"))
            .arg("--cache")
            .arg(p("cache"))
            .arg("--out")
            .arg(p(out))
            .args([
                "--channels",
                "8,8,16,16,16",
                "--embedding",
                "16",
                "--chunk-frames",
                "64",
            ])
            .args([
                "--batch-size",
                "8",
                "--lr",
                "3e-3",
                "--dropout",
                "0.1",
                "--epochs",
                epochs,
            ]))
    };
    let (ok, out, err) = train("run_a", "8");
    assert!(ok, "{err}");
    assert!(out.contains("best epoch"), "{out}");

    let (ok, out, err) = run(musav()
        .arg("validate")
        .arg("--run")
        .arg(p("run_a"))
        .args(["--split", "test", "--format", "json"]));
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f1 = report["metrics"]["macro_f1"].as_f64().unwrap();
    // Four labels: chance is 0.25; the issue asks for at least three times that.
    assert!(f1 >= 0.75, "test macro-F1 {f1}: {out}");
    assert_eq!(report["labels"].as_array().unwrap().len(), 4);
    assert!(p("run_a/confusion_test.png").exists());

    // The VA head on the frozen embeddings, with the corpus's own ground truth (va.csv).
    let (ok, out, err) = run(musav().arg("train-va").arg("--run").arg(p("run_a")));
    assert!(ok, "{err}");
    assert!(out.contains("validation CCC"), "{out}");
    let (ok, out, err) = run(musav().arg("validate-va").arg("--run").arg(p("run_a")));
    assert!(ok, "{err}");
    let va: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("run_a/va_report_test.json")).unwrap())
            .unwrap();
    // A constant prediction has no covariance with the truth: CCC 0 (the metric code can fail).
    for dim in ["valence", "arousal"] {
        let c = va["baseline_mean"][dim]["ccc"].as_f64().unwrap();
        assert!(c.abs() < 1e-9, "{dim}: {c} {out}");
        assert!(
            va["model"][dim]["spread_ratio"].as_f64().unwrap() > 0.0,
            "{out}"
        );
    }
    assert!(p("run_a/va_plane_predictions.png").exists());

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
        let top = p["top"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        let probs: Vec<f64> = top
            .iter()
            .map(|l| l["probability"].as_f64().unwrap())
            .collect();
        assert!(
            probs.windows(2).all(|w| w[0] >= w[1]) && probs[0] <= 1.0,
            "{probs:?}"
        );
        let va = p["va"].as_array().unwrap();
        assert!(va.iter().all(|v| v.as_f64().unwrap().is_finite()));
    }
    assert_eq!(pred["failed"].as_array().unwrap().len(), 1);

    let (ok, _, err) = train("run_b", "1");
    assert!(ok, "{err}");
    let (ok, _, err) = run(musav().arg("validate").arg("--run").arg(p("run_b")));
    assert!(ok, "{err}");
    let (ok, out, err) = run(musav().arg("compare").arg(p("run_a")).arg(p("run_b")));
    assert!(ok, "{err}");
    assert!(out.contains("macro-F1") && out.contains("F1 "), "{out}");

    // Comparing against a run that was never validated says what to run first.
    let (ok, _, err) = train("run_c", "1");
    assert!(ok, "{err}");
    let (ok, _, err) = run(musav().arg("compare").arg(p("run_a")).arg(p("run_c")));
    assert!(!ok);
    assert!(err.contains("musav validate --run"), "{err}");
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
