//! The retrain loop's failure paths: whatever goes wrong, the label map and earlier runs are left
//! byte for byte as they were, the error names the stage and the cause, and the run's log says so.
//! (The whole loop succeeding is exercised through the UI in tests/tui_e2e.rs.)

mod util;

use std::sync::atomic::AtomicBool;

use musav::curation::labels::LabelMap;
use musav::dataset::{Dataset, LoadOptions};
use musav::model::resnet::VaInput;
use musav::retrain::{self, Event, LOG, RetrainPlan, Stage};
use musav::train::run::TrainConfig;

fn shipped() -> (Dataset, LabelMap) {
    let ds = Dataset::load(&util::shipped_metadata(), &LoadOptions::default()).unwrap();
    (ds, LabelMap::load(&util::shipped_labels()).unwrap())
}

#[test]
fn a_missing_feature_source_fails_at_training_and_touches_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, map) = shipped();
    let map_file = tmp.path().join("labels.toml");
    map.save(&map_file).unwrap();
    // An earlier run (any files) must come out unchanged.
    let earlier = tmp.path().join("runs/run-001");
    std::fs::create_dir_all(earlier.join("va")).unwrap();
    std::fs::write(earlier.join("run.json"), "{}").unwrap();
    std::fs::write(earlier.join("va/head.mpk"), "weights").unwrap();
    let before = (util::snapshot(&earlier), std::fs::read(&map_file).unwrap());

    let run = tmp.path().join("runs/run-002");
    let plan = RetrainPlan {
        run: run.clone(),
        features: tmp.path().join("no-such-features"),
        cache: None,
        config: TrainConfig::new().with_width(4).with_epochs(1),
        va_unfreeze: false,
        va_input: VaInput::Levels,
        resume: false,
        previous: Some(earlier.clone()),
    };
    let mut stages = Vec::new();
    let err = retrain::run(
        &plan,
        &ds,
        &map,
        &mut |e| {
            if let Event::Stage(s) = e {
                stages.push(s)
            }
        },
        &AtomicBool::new(false),
    )
    .unwrap_err();
    assert_eq!(err.stage, Stage::Train);
    assert_eq!(stages, [Stage::Export, Stage::Train]);
    let msg = err.to_string();
    assert!(msg.starts_with("training the ResNet failed"), "{msg}");
    assert!(msg.contains("no-such-features"), "{msg}");
    assert_eq!(
        (util::snapshot(&earlier), std::fs::read(&map_file).unwrap()),
        before
    );
    // The export happened inside the new run, and the log tells the story.
    assert!(run.join("export/single_label.csv").exists());
    let log = std::fs::read_to_string(run.join(LOG)).unwrap();
    assert!(log.contains("exported 7567 tracks in 11 labels"), "{log}");
    assert!(log.contains("error: training the ResNet failed"), "{log}");
}

#[test]
fn an_existing_run_is_never_reused_for_a_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, map) = shipped();
    let run = tmp.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("run.json"), "{\"mine\": true}").unwrap();
    let before = util::snapshot(&run);
    let plan = RetrainPlan {
        run: run.clone(),
        features: tmp.path().to_path_buf(),
        cache: None,
        config: TrainConfig::new(),
        va_unfreeze: false,
        va_input: VaInput::Levels,
        resume: false,
        previous: None,
    };
    let err = retrain::run(&plan, &ds, &map, &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert!(err.to_string().contains("already holds a run"), "{err}");
    assert_eq!(util::snapshot(&run), before);
}
