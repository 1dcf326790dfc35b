//! The training screen as state transitions, driven by a scripted trainer that reports over the same
//! job channel the real retrain loop uses (`Jobs::spawn`, updates then a final result): form checks,
//! the save-first question, live progress, stop and resume, failure, and what is drawn at the end.

mod util;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use musav::curation::labels::LabelMap;
use musav::dataset::{Dataset, Split};
use musav::retrain::{Compared, Event, Outcome, RetrainPlan, Stage, VaResult};
use musav::train::metrics;
use musav::train::report::{ValidationReport, compare_reports};
use musav::train::run::{EpochRecord, Progress, Stop};
use musav::train::va::{VaTrained, VaValidation};
use musav::tui::app::training::VA_BLOCK_VALUES;
use musav::tui::app::{App, Mode, RunState, Screen, TrainView, Trainer};
use musav::tui::jobs::Jobs;
use musav::tui::namer::Unavailable;
use musav::tui::{self, ReviewOptions, TrainDefaults};
use musav::va::plot::VaPoint;
use musav::va::report::VaReport;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

const LABELS: [&str; 3] = ["Calm", "Dark", "Happy"];

fn report(run: &std::path::Path, good: bool) -> ValidationReport {
    // 12 tracks, 4 per class; the "good" model gets 11 right, the other 8.
    let truth: Vec<usize> = (0..12).map(|i| i % 3).collect();
    let wrong = if good { 1 } else { 4 };
    let probs: Vec<Vec<f32>> = truth
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let p = if i < wrong { (t + 1) % 3 } else { t };
            (0..3).map(|c| if c == p { 0.8 } else { 0.1 }).collect()
        })
        .collect();
    ValidationReport {
        run: run.to_path_buf(),
        split: Split::Validation,
        label_map_sha256: if good { "b".repeat(64) } else { "a".repeat(64) },
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        best_epoch: Some(2),
        metrics: metrics::evaluate(&truth, &probs, 3),
        skipped: Vec::new(),
    }
}

fn va_result(run: &std::path::Path) -> VaResult {
    let points: Vec<VaPoint> = (0..12)
        .map(|i| {
            let v = 0.2 + 0.05 * i as f64;
            VaPoint {
                truth: [v, 1.0 - v],
                pred: [v + 0.02, 0.98 - v],
                label: i % 3,
            }
        })
        .collect();
    let pred: Vec<[f64; 2]> = points.iter().map(|p| p.pred).collect();
    let truth: Vec<[f64; 2]> = points.iter().map(|p| p.truth).collect();
    let classes: Vec<usize> = points.iter().map(|p| p.label).collect();
    let report = VaReport::evaluate(
        "validation",
        &pred,
        &truth,
        [0.5, 0.5],
        &[[0.3, 0.7], [0.5, 0.5], [0.7, 0.3]],
        &classes,
    );
    VaResult {
        trained: VaTrained {
            train_tracks: 40,
            validation_tracks: 12,
            without_target: 0,
            history: Vec::new(),
            best: None,
            finetune: None,
            dir: run.join("va"),
        },
        validation: VaValidation {
            report,
            points,
            labels: LABELS.iter().map(|s| s.to_string()).collect(),
            json: run.join("va_report_validation.json"),
            png: run.join("va_plane_predictions.png"),
        },
    }
}

fn epoch(e: usize, f1: f64) -> EpochRecord {
    EpochRecord {
        epoch: e,
        learning_rate: 1e-3,
        train_loss: 1.0 / e as f64,
        val_accuracy: f1 + 0.05,
        val_balanced_accuracy: f1,
        val_macro_f1: f1,
        val_top3_accuracy: 1.0,
        seconds: 1.0,
        best: true,
    }
}

/// What the scripted trainer does after its first step.
#[derive(Clone, Copy)]
enum Script {
    /// Two epochs, then every later stage.
    Finish,
    /// Waits for the stop request, then ends cancelled.
    UntilStopped,
    /// Fails while training.
    Fail,
}

/// Plays the loop's events in the real order; records the plans it was given.
struct Scripted {
    script: Script,
    plans: Mutex<Vec<RetrainPlan>>,
}

impl Scripted {
    fn new(script: Script) -> Arc<Scripted> {
        Arc::new(Scripted {
            script,
            plans: Mutex::new(Vec::new()),
        })
    }
}

impl Trainer for Scripted {
    fn run(
        &self,
        plan: &RetrainPlan,
        _ds: &Dataset,
        map: &LabelMap,
        on_event: &mut dyn FnMut(Event),
        cancel: &AtomicBool,
    ) -> Result<Outcome, String> {
        self.plans.lock().unwrap().push(plan.clone());
        std::fs::create_dir_all(&plan.run).unwrap();
        on_event(Event::Stage(Stage::Export));
        on_event(Event::Stage(Stage::Train));
        on_event(Event::Train(Progress::Loaded {
            train: 40,
            validation: 12,
            skipped: 1,
            start_epoch: 1,
        }));
        let step = |e: usize, s: usize| {
            Event::Train(Progress::Step {
                epoch: e,
                epochs: 2,
                step: s,
                steps: 3,
                loss: 2.0 / (e * 3 + s) as f64,
                eta: Duration::from_secs(30),
            })
        };
        on_event(step(1, 1));
        match self.script {
            Script::Fail => {
                return Err(format!(
                    "training the ResNet failed: {}: no such feature source",
                    plan.features.display()
                ));
            }
            Script::UntilStopped => {
                let start = Instant::now();
                while !cancel.load(Ordering::Relaxed) {
                    assert!(start.elapsed() < Duration::from_secs(20), "never stopped");
                    std::thread::sleep(Duration::from_millis(5));
                }
                return Ok(Outcome {
                    run: plan.run.clone(),
                    stop: Stop::Cancelled,
                });
            }
            Script::Finish => {}
        }
        for s in 2..=3 {
            on_event(step(1, s));
        }
        on_event(Event::Train(Progress::Epoch(epoch(1, 0.5))));
        for s in 1..=3 {
            on_event(step(2, s));
        }
        on_event(Event::Train(Progress::Epoch(epoch(2, 0.8))));
        on_event(Event::Stage(Stage::Validate));
        let now = report(&plan.run, true);
        on_event(Event::Validated(Box::new(now.clone())));
        on_event(Event::Stage(Stage::TrainVa));
        on_event(Event::Stage(Stage::ValidateVa));
        on_event(Event::Va(Box::new(va_result(&plan.run))));
        if let Some(prev) = &plan.previous {
            on_event(Event::Stage(Stage::Compare));
            let mut before = map.clone();
            before.labels[0].name = "Old name".into();
            on_event(Event::Compared(Box::new(Compared {
                comparison: compare_reports(prev, &report(prev, false), &plan.run, &now),
                map_changes: before.changes_to(map),
            })));
        }
        std::fs::write(plan.run.join("model.mpk"), b"model").unwrap();
        std::fs::write(plan.run.join("run.json"), b"{}").unwrap();
        Ok(Outcome {
            run: plan.run.clone(),
            stop: Stop::MaxEpochs,
        })
    }
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

struct Fixture {
    app: App,
    jobs: Jobs,
    dir: tempfile::TempDir,
    features: PathBuf,
}

fn fixture(trainer: Arc<dyn Trainer>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    // A directory the feature-source check accepts (one .npy file); the scripted trainer reads none.
    let features = dir.path().join("features");
    std::fs::create_dir_all(features.join("00")).unwrap();
    std::fs::write(features.join("00/1.npy"), b"not read").unwrap();
    let opts = ReviewOptions {
        data: util::shipped_metadata(),
        tag_prefix: musav::dataset::DEFAULT_TAG_PREFIX.into(),
        labels: Some(util::shipped_labels()),
        save_to: Some(dir.path().join("labels.toml")),
        export_dir: dir.path().join("export"),
        keys: None,
        training: TrainDefaults {
            runs: dir.path().join("runs"),
            features: Some(features.clone()),
            epochs: 2,
            width: 4,
            ..TrainDefaults::default()
        },
    };
    let s = tui::load(&opts, Arc::new(Unavailable("offline".into())), &|_| {}).unwrap();
    Fixture {
        app: App::new(s).with_trainer(trainer),
        jobs: Jobs::default(),
        dir,
        features,
    }
}

impl Fixture {
    /// Hands requested jobs to real background threads, as the event loop does.
    fn spawn(&mut self) {
        for job in self.app.take_jobs() {
            self.jobs.spawn(job);
        }
    }

    /// Feeds updates to the app until `done` holds.
    fn pump_until(&mut self, done: impl Fn(&App) -> bool) {
        let start = Instant::now();
        while !done(&self.app) {
            assert!(start.elapsed() < Duration::from_secs(30), "timed out");
            if let Some((id, out)) = self.jobs.wait(Duration::from_millis(50)) {
                self.app.on_job(id, out);
            }
        }
    }

    fn draw(&self, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| f.render_widget(&self.app, f.area())).unwrap();
        let buf = t.backend().buffer();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[test]
fn t_opens_the_form_with_the_defaults_and_esc_returns() {
    let mut f = fixture(Scripted::new(Script::Finish));
    f.app.handle_key(key('t'));
    assert_eq!(f.app.screen, Screen::Train);
    let t = &f.app.training;
    assert_eq!(t.fields[0], f.features.display().to_string());
    assert_eq!(
        t.fields[1],
        f.dir.path().join("runs/run-001").display().to_string()
    );
    // epochs, width, seed, VA weight (the auxiliary loss is off by default), and the VA head's
    // last block as `train-va` does by default.
    assert_eq!(t.fields[2..6], ["2", "4", "42", "0"]);
    let unfreeze = musav::va::head::VaTrainConfig::new().unfreeze_last_block;
    assert_eq!(t.fields[6], VA_BLOCK_VALUES[usize::from(unfreeze)]);
    // What the VA head reads, as `train-va` does by default.
    assert_eq!(t.fields[7], "levels");
    let s = f.draw(120, 40);
    assert!(s.contains("run directory"), "{s}");
    assert!(s.contains("VA input"), "{s}");
    assert!(s.contains("ready: s starts"), "{s}");
    // A click lands on no review pane while the training screen is shown.
    let sel = (f.app.focus, f.app.label_sel);
    f.app.handle_mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 5,
        row: 6,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!((f.app.focus, f.app.label_sel), sel);
    f.app.handle_key(code(KeyCode::Esc));
    assert_eq!(f.app.screen, Screen::Review);
}

#[test]
fn bad_settings_are_refused_with_a_message_and_start_nothing() {
    let mut f = fixture(Scripted::new(Script::Finish));
    f.app.handle_key(key('t'));
    // epochs: edit the field to something that is not a number.
    f.app.handle_key(code(KeyCode::Down));
    f.app.handle_key(code(KeyCode::Down));
    f.app.handle_key(code(KeyCode::Enter));
    assert!(matches!(f.app.mode, Mode::TrainField { field: 2, .. }));
    f.app
        .handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    for c in "many".chars() {
        f.app.handle_key(key(c));
    }
    f.app.handle_key(code(KeyCode::Enter));
    assert_eq!(f.app.training.fields[2], "many");
    f.app.handle_key(key('s'));
    let m = f.app.message.clone().unwrap();
    assert!(
        m.error && m.text.contains("epochs must be a positive whole number"),
        "{m:?}"
    );
    assert!(f.app.take_jobs().is_empty());
    // A feature source that does not exist is named.
    f.app.training.fields[2] = "2".into();
    f.app.training.fields[0] = "/no/such/features".into();
    f.app.handle_key(key('s'));
    let m = f.app.message.clone().unwrap();
    assert!(m.error && m.text.contains("/no/such/features"), "{m:?}");
    // The VA head's last block is one of two words.
    f.app.training.fields[0] = f.features.display().to_string();
    f.app.training.fields[6] = "maybe".into();
    f.app.handle_key(key('s'));
    let m = f.app.message.clone().unwrap();
    assert!(
        m.error && m.text.contains("VA last block must be frozen or fine-tune"),
        "{m:?}"
    );
    // So is what the head reads.
    f.app.training.fields[6] = "frozen".into();
    f.app.training.fields[7] = "everything".into();
    f.app.handle_key(key('s'));
    let m = f.app.message.clone().unwrap();
    assert!(
        m.error && m.text.contains("VA input must be levels or embedding"),
        "{m:?}"
    );
    assert_eq!(f.app.training.state, RunState::Idle);
}

#[test]
fn a_run_reports_live_then_shows_report_va_and_comparison() {
    let trainer = Scripted::new(Script::Finish);
    let mut f = fixture(trainer.clone());
    f.app.handle_key(key('t'));
    f.app.handle_key(key('s'));
    assert_eq!(f.app.training.state, RunState::Running);
    f.spawn();
    f.pump_until(|a| a.training.state == RunState::Done);
    let t = &f.app.training;
    assert_eq!(t.loaded, Some((40, 12, 1)));
    assert_eq!(t.losses.len(), 6);
    assert_eq!(t.epochs.len(), 2);
    assert_eq!(t.best().unwrap().epoch, 2);
    assert!(t.report.is_some() && t.va.is_some());
    // No earlier run: nothing to compare with, and the view stays on the VA plane.
    assert!(t.compared.is_none());
    assert_eq!(t.view, TrainView::Va);
    let first = f.dir.path().join("runs/run-001");
    assert_eq!(t.run.as_deref(), Some(first.as_path()));
    assert_eq!(
        t.fields[1],
        f.dir.path().join("runs/run-002").display().to_string()
    );
    let plan = trainer.plans.lock().unwrap()[0].clone();
    assert_eq!(plan.config.epochs, 2);
    assert_eq!(plan.config.channels, [4, 4, 8, 8, 8, 8, 16]);
    assert!(!plan.resume && plan.previous.is_none());
    assert_eq!(
        plan.va_unfreeze,
        musav::va::head::VaTrainConfig::new().unfreeze_last_block
    );
    assert_eq!(plan.va_input, musav::model::resnet::VaInput::Levels);
    let s = f.draw(120, 40);
    assert!(s.contains("model CCC V"), "{s}");
    assert!(s.contains("finished"), "{s}");

    // The second run is compared with the first; its VA head fine-tunes the last block and reads
    // the embedding alone (the field takes either case).
    f.app.training.fields[6] = "fine-tune".into();
    f.app.training.fields[7] = "Embedding".into();
    f.app.handle_key(key('s'));
    f.spawn();
    f.pump_until(|a| a.training.state == RunState::Done && a.training.compared.is_some());
    let plan = trainer.plans.lock().unwrap()[1].clone();
    assert_eq!(plan.previous.as_deref(), Some(first.as_path()));
    assert!(plan.va_unfreeze);
    assert_eq!(plan.va_input, musav::model::resnet::VaInput::Embedding);
    assert_eq!(f.app.training.view, TrainView::Compare);
    let s = f.draw(120, 40);
    assert!(s.contains("macro-F1"), "{s}");
    assert!(s.contains("label \"Old name\" renamed"), "{s}");
    // The report view: per-label table and the confusion grid with the names.
    f.app.handle_key(code(KeyCode::BackTab));
    f.app.handle_key(code(KeyCode::BackTab));
    assert_eq!(f.app.training.view, TrainView::Report);
    let s = f.draw(120, 40);
    assert!(s.contains("confusion · true ↓ · predicted →"), "{s}");
    for l in LABELS {
        assert!(s.contains(l), "{l} missing:\n{s}");
    }
}

#[test]
fn unsaved_edits_are_saved_only_when_the_user_says_so() {
    let trainer = Scripted::new(Script::Finish);
    let mut f = fixture(trainer.clone());
    let first = f.app.map.labels[0].name.clone();
    f.app.rename_label(0, "Edited").unwrap();
    assert!(f.app.dirty());
    f.app.handle_key(key('t'));
    f.app.handle_key(key('s'));
    assert_eq!(f.app.mode, Mode::ConfirmTrain);
    f.app.handle_key(key('n'));
    assert!(f.app.take_jobs().is_empty());
    assert!(f.app.dirty());
    assert!(!f.dir.path().join("labels.toml").exists());
    f.app.handle_key(key('s'));
    f.app.handle_key(key('y'));
    assert!(!f.app.dirty());
    let saved = LabelMap::load(&f.dir.path().join("labels.toml")).unwrap();
    assert_eq!(saved.labels[0].name, "Edited");
    assert_ne!(first, "Edited");
    f.spawn();
    f.pump_until(|a| a.training.state == RunState::Done);
    assert_eq!(trainer.plans.lock().unwrap().len(), 1);
}

#[test]
fn a_stopped_run_resumes_in_the_same_directory() {
    let trainer = Scripted::new(Script::UntilStopped);
    let mut f = fixture(trainer.clone());
    f.app.handle_key(key('t'));
    f.app.handle_key(key('s'));
    f.spawn();
    f.pump_until(|a| a.training.step.is_some());
    assert!(f.app.busy().is_some());
    f.app.handle_key(key('x'));
    assert_eq!(f.app.training.state, RunState::Stopping);
    f.pump_until(|a| a.training.state == RunState::Stopped);
    assert!(f.app.busy().is_none());
    assert!(f.app.message.as_ref().unwrap().text.contains("c continues"));
    // Resuming needs the run to exist on disk (the real loop writes run.json first).
    let run = f.app.training.run.clone().unwrap();
    std::fs::write(run.join("run.json"), b"{}").unwrap();
    f.app.handle_key(key('c'));
    assert_eq!(f.app.training.state, RunState::Running);
    f.spawn();
    f.pump_until(|a| a.training.step.is_some());
    f.app.handle_key(key('x'));
    f.pump_until(|a| a.training.state == RunState::Stopped);
    let plans = trainer.plans.lock().unwrap();
    assert_eq!(plans.len(), 2);
    assert!(!plans[0].resume && plans[1].resume);
    assert_eq!(plans[0].run, plans[1].run);
}

#[test]
fn a_failure_shows_in_the_status_bar_and_changes_no_file() {
    let mut f = fixture(Scripted::new(Script::Fail));
    f.app.save().unwrap();
    let map = std::fs::read(f.dir.path().join("labels.toml")).unwrap();
    f.app.handle_key(key('t'));
    f.app.handle_key(key('s'));
    f.spawn();
    f.pump_until(|a| matches!(a.training.state, RunState::Failed(_)));
    let m = f.app.message.clone().unwrap();
    assert!(
        m.error && m.text.contains("no such feature source"),
        "{m:?}"
    );
    assert_eq!(
        std::fs::read(f.dir.path().join("labels.toml")).unwrap(),
        map
    );
    let s = f.draw(120, 40);
    assert!(s.contains("failed: training the ResNet failed"), "{s}");
    assert!(s.contains("✗ training the ResNet"), "{s}");
}

#[test]
fn quitting_while_training_asks_and_then_stops_the_run() {
    let mut f = fixture(Scripted::new(Script::UntilStopped));
    f.app.handle_key(key('t'));
    f.app.handle_key(key('s'));
    f.spawn();
    f.pump_until(|a| a.training.step.is_some());
    f.app.handle_key(key('q'));
    assert_eq!(f.app.mode, Mode::ConfirmQuit);
    let s = f.draw(120, 40);
    assert!(s.contains("A run is training"), "{s}");
    f.app.handle_key(key('y'));
    assert!(f.app.should_quit);
    // The loop hears the stop and ends cancelled.
    f.pump_until(|a| a.training.state == RunState::Stopped);
}
