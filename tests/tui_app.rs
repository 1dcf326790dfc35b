//! Every review action as a state transition on the shipped data (18k tracks, 56 tags, the
//! reviewed map): what changes, what the export would now give, and that undo brings it back.

mod util;

use std::sync::Arc;

use musav::curation::CurationParams;
use musav::curation::labels::{LabelMap, NoiseSuggestion};
use musav::dataset::Dataset;
use musav::export::{self, Policy};
use musav::tui::app::{App, Dest, Mode, Pane};
use musav::tui::jobs::JobOutput;
use musav::tui::keys::Action;
use musav::tui::{self, Namer, Naming, ReviewOptions};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

/// Names each requested label after its two biggest tags, and sends every noise tag to the label
/// holding the tag it co-occurs with most: a deterministic stand-in for the LLM built from the data.
struct DataNamer;

impl Namer for DataNamer {
    fn name(&self, ds: &Dataset, map: &LabelMap, only: Option<&[u32]>) -> Result<Naming, String> {
        let names = map
            .labels
            .iter()
            .filter(|l| only.is_none_or(|o| o.contains(&l.id)))
            .map(|l| (l.id, format!("{} + {}", l.tags[0], l.tags[1]), "llm".into()))
            .collect();
        let suggestions = if only.is_some() {
            Vec::new()
        } else {
            map.noise
                .iter()
                .map(|t| {
                    let id = ds.tag_id(t).unwrap();
                    let best = map
                        .labels
                        .iter()
                        .max_by_key(|l| {
                            l.tags
                                .iter()
                                .filter_map(|m| ds.tag_id(m))
                                .map(|m| {
                                    ds.tracks
                                        .iter()
                                        .filter(|tr| tr.tags.contains(&id) && tr.tags.contains(&m))
                                        .count()
                                })
                                .sum::<usize>()
                        })
                        .unwrap();
                    NoiseSuggestion {
                        tag: t.clone(),
                        label: Some(best.id),
                        reason: "co-occurs".into(),
                    }
                })
                .collect()
        };
        Ok(Naming {
            names,
            suggestions,
            warnings: Vec::new(),
        })
    }
}

struct FailingNamer;

impl Namer for FailingNamer {
    fn name(&self, _: &Dataset, _: &LabelMap, _: Option<&[u32]>) -> Result<Naming, String> {
        Err("HTTP 503 from the LLM endpoint".into())
    }
}

fn opts(dir: &std::path::Path) -> ReviewOptions {
    ReviewOptions {
        data: util::shipped_metadata(),
        tag_prefix: musav::dataset::DEFAULT_TAG_PREFIX.into(),
        labels: Some(util::shipped_labels()),
        save_to: Some(dir.join("labels.toml")),
        export_dir: dir.join("export"),
        keys: None,
        training: tui::TrainDefaults {
            runs: dir.join("runs"),
            ..Default::default()
        },
    }
}

fn app_with(namer: Arc<dyn Namer>) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = tui::load(&opts(dir.path()), namer, &|_| {}).unwrap();
    (App::new(s), dir)
}

fn app() -> (App, tempfile::TempDir) {
    app_with(Arc::new(DataNamer))
}

fn shipped() -> LabelMap {
    LabelMap::load(&util::shipped_labels()).unwrap()
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Runs the jobs the app requested on this thread and feeds their results back.
fn run_jobs(app: &mut App) {
    for job in app.take_jobs() {
        let (id, out) = job.run_here(&|_| {});
        app.on_job(id, out);
    }
}

#[test]
fn opens_the_shipped_map_with_the_export_counts() {
    let (app, _d) = app();
    assert_eq!(app.map, shipped());
    assert_eq!(app.summary.single_tag_tracks, 9590);
    assert_eq!(app.summary.noise_tracks, 2023);
    assert_eq!(app.summary.exported, 7567);
    assert!(!app.dirty());
    assert_eq!(app.curation.params, shipped().settings.unwrap());
}

#[test]
fn missing_labels_file_starts_from_a_clustering_draft() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.labels = Some(dir.path().join("new.toml"));
    o.save_to = None;
    let s = tui::load(&o, Arc::new(DataNamer), &|_| {}).unwrap();
    assert_eq!(s.save_path, dir.path().join("new.toml"));
    assert!(s.note.as_deref().unwrap().contains("clustering draft"));
    assert_eq!(s.map.labels.len(), CurationParams::default().k);
    assert_eq!(s.map.labels[0].name, "label 0");
}

#[test]
fn rename_sets_name_and_source_and_undo_restores() {
    let (mut app, _d) = app();
    app.rename_label(0, "  Gloomy  ").unwrap();
    assert_eq!(app.map.labels[0].name, "Gloomy");
    assert_eq!(app.map.labels[0].named_by, "manual");
    assert_eq!(app.summary.per_label[0].name, "Gloomy");
    assert!(app.dirty());
    app.undo();
    assert_eq!(app.map, shipped());
    assert!(!app.dirty());
}

#[test]
fn rename_to_a_taken_or_empty_name_changes_nothing_and_says_why() {
    let (mut app, _d) = app();
    let other = app.map.labels[1].name.to_uppercase();
    assert!(app.rename_label(0, &other).is_err());
    let m = app.message.clone().unwrap();
    assert!(m.error && m.text.contains("share the name"), "{m:?}");
    assert!(app.rename_label(0, "   ").is_err());
    assert_eq!(app.map, shipped());
    assert!(!app.can_undo());
}

#[test]
fn moving_a_tag_to_noise_moves_its_single_tag_tracks_to_noise() {
    let (mut app, _d) = app();
    let tag = app.map.labels[0].tags[0].clone();
    let single = app.tag_single(&tag);
    assert!(single > 0);
    let before = app.summary.clone();
    app.move_tag(&tag, Dest::Noise).unwrap();
    assert!(app.map.noise.contains(&tag));
    assert!(!app.map.labels[0].tags.contains(&tag));
    assert_eq!(app.summary.noise_tracks, before.noise_tracks + single);
    assert_eq!(app.summary.exported, before.exported - single);
    assert_eq!(
        app.summary.per_label[0].tracks,
        before.per_label[0].tracks - single
    );
    // The status bar's counts are exactly what an export of this map gives.
    let plan = export::plan(&app.dataset, &app.map, Policy::Strict);
    assert_eq!(plan.summary, app.summary);
}

#[test]
fn a_noise_tag_moves_back_to_a_label() {
    let (mut app, _d) = app();
    let tag = app.map.noise[0].clone();
    let single = app.tag_single(&tag);
    let before = app.summary.per_label[3].tracks;
    app.move_tag(&tag, Dest::Label(3)).unwrap();
    assert!(!app.map.noise.contains(&tag));
    assert_eq!(app.map.labels[3].tags.last(), Some(&tag));
    assert_eq!(app.summary.per_label[3].tracks, before + single);
}

#[test]
fn merge_moves_all_tags_and_tracks_into_the_target() {
    let (mut app, _d) = app();
    let (a, b) = (app.map.labels[1].clone(), app.map.labels[4].clone());
    let (na, nb) = (
        app.summary.per_label[1].tracks,
        app.summary.per_label[4].tracks,
    );
    app.merge_labels(1, 4).unwrap();
    assert_eq!(app.map.labels.len(), 10);
    assert!(app.map.labels.iter().all(|l| l.id != a.id));
    let merged = app.map.labels.iter().position(|l| l.id == b.id).unwrap();
    assert_eq!(app.label_sel, merged);
    assert_eq!(
        app.map.labels[merged].tags.len(),
        a.tags.len() + b.tags.len()
    );
    assert_eq!(app.summary.per_label[merged].tracks, na + nb);
    assert_eq!(app.summary.exported, 7567);
    assert!(app.merge_labels(2, 2).is_err());
}

#[test]
fn split_reclusters_a_label_into_two_that_keep_every_tag() {
    let (mut app, _d) = app();
    let old = app.map.labels[1].clone();
    app.split_label(1).unwrap();
    assert_eq!(app.map.labels.len(), 12);
    let (a, b) = (&app.map.labels[1], &app.map.labels[2]);
    assert_eq!(a.name, old.name);
    assert_eq!(b.name, format!("{} (split)", old.name));
    assert!(!a.tags.is_empty() && !b.tags.is_empty());
    let mut all: Vec<_> = a.tags.iter().chain(&b.tags).cloned().collect();
    let mut want = old.tags.clone();
    all.sort();
    want.sort();
    assert_eq!(all, want);
    assert_eq!(app.summary.exported, 7567);
    // A two-tag label splits into singles; a single tag cannot split.
    let last = app.map.labels.len() - 1;
    assert_eq!(app.map.labels[last].tags.len(), 2);
    app.split_label(last).unwrap();
    assert!(app.split_label(last).is_err());
}

#[test]
fn recluster_replaces_the_draft_keeps_matching_names_and_undo_restores_the_scatter() {
    let (mut app, _d) = app();
    let params = CurationParams {
        k: 8,
        ..app.curation.params.clone()
    };
    app.recluster(params.clone()).unwrap();
    assert_eq!(app.map.labels.len(), 8);
    assert_eq!(app.curation.params, params);
    let kept = app
        .map
        .labels
        .iter()
        .filter(|l| shipped().labels.iter().any(|o| o.name == l.name))
        .count();
    assert!(kept > 0, "no name carried over: {:?}", app.map.names());
    app.map.validate().unwrap();
    app.undo();
    assert_eq!(app.map, shipped());
    assert_eq!(app.curation.params.k, 11);
    app.redo();
    assert_eq!(app.curation.params.k, 8);
}

#[test]
fn recluster_with_bad_settings_reports_and_changes_nothing() {
    let (mut app, _d) = app();
    let bad = CurationParams {
        k: 80,
        ..app.curation.params.clone()
    };
    assert!(app.recluster(bad).is_err());
    assert!(app.message.clone().unwrap().text.contains("--k 80"));
    assert_eq!(app.map, shipped());
    assert_eq!(app.curation.params.k, 11);
    assert!(!app.can_undo());
}

#[test]
fn settings_form_runs_reclustering_from_typed_values() {
    let (mut app, _d) = app();
    app.perform(Action::Recluster);
    app.handle_key(code(KeyCode::Down)); // k
    app.handle_key(ctrl('u'));
    app.handle_key(key('9'));
    app.handle_key(code(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.map.labels.len(), 9);
    // A non-number keeps the form open with the reason.
    app.perform(Action::Recluster);
    app.handle_key(ctrl('u'));
    app.handle_key(key('x'));
    app.handle_key(code(KeyCode::Enter));
    assert!(matches!(app.mode, Mode::Settings { .. }));
    assert!(app.message.clone().unwrap().text.contains("components"));
}

#[test]
fn undo_redo_walks_the_history_and_a_new_edit_drops_redo() {
    let (mut app, _d) = app();
    app.rename_label(0, "A").unwrap();
    app.rename_label(1, "B").unwrap();
    app.undo();
    assert_eq!(app.map.labels[1].name, shipped().labels[1].name);
    assert_eq!(app.map.labels[0].name, "A");
    app.redo();
    assert_eq!(app.map.labels[1].name, "B");
    app.undo();
    app.rename_label(2, "C").unwrap();
    assert!(!app.can_redo());
    app.undo();
    app.undo();
    assert_eq!(app.map, shipped());
    app.undo();
    assert_eq!(app.message.clone().unwrap().text, "nothing to undo");
}

#[test]
fn save_writes_a_loadable_map_and_clears_unsaved() {
    let (mut app, dir) = app();
    app.rename_label(0, "Gloomy").unwrap();
    app.save().unwrap();
    assert!(!app.dirty());
    let back = LabelMap::load(&dir.path().join("labels.toml")).unwrap();
    assert_eq!(back.labels, app.map.labels);
    assert_eq!(back.settings.as_ref(), Some(&app.curation.params));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "a temp file was left behind");
}

#[test]
fn failed_save_keeps_the_edits_unsaved_and_names_the_file() {
    let (mut app, dir) = app();
    // The parent is a file, so no directory can be made there.
    std::fs::write(dir.path().join("blocker"), "x").unwrap();
    app.save_path = dir.path().join("blocker/labels.toml");
    app.rename_label(0, "Gloomy").unwrap();
    assert!(app.save().is_err());
    assert!(app.dirty());
    let m = app.message.clone().unwrap();
    assert!(m.error && m.text.contains("blocker/labels.toml"), "{m:?}");
}

#[test]
fn quit_asks_when_unsaved_and_only_y_drops_the_edits() {
    let (mut app, _d) = app();
    app.handle_key(key('q'));
    assert!(app.should_quit, "a clean session quits at once");
    let (mut app, dir) = self::app();
    app.rename_label(0, "Gloomy").unwrap();
    app.handle_key(key('q'));
    assert_eq!(app.mode, Mode::ConfirmQuit);
    app.handle_key(key('n'));
    assert!(!app.should_quit && app.mode == Mode::Normal);
    app.handle_key(key('q'));
    app.handle_key(key('s'));
    assert!(app.should_quit);
    assert!(dir.path().join("labels.toml").exists());
}

#[test]
fn rename_by_keys() {
    let (mut app, _d) = app();
    app.handle_key(key('j'));
    app.handle_key(key('r'));
    assert!(matches!(app.mode, Mode::Rename { label: 1, .. }));
    app.handle_key(ctrl('u'));
    for c in "Big Screen".chars() {
        app.handle_key(key(c));
    }
    app.handle_key(code(KeyCode::Backspace));
    app.handle_key(key('n'));
    app.handle_key(code(KeyCode::Enter));
    assert_eq!(app.map.labels[1].name, "Big Screen");
    assert_eq!(app.mode, Mode::Normal);
    // Esc cancels without an edit.
    app.handle_key(key('r'));
    app.handle_key(key('x'));
    app.handle_key(code(KeyCode::Esc));
    assert_eq!(app.map.labels[1].name, "Big Screen");
}

#[test]
fn move_by_keys_through_the_pick_list() {
    let (mut app, _d) = app();
    app.handle_key(code(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Members);
    app.handle_key(code(KeyCode::Down));
    let tag = app.selected_tag().unwrap();
    app.handle_key(key('m'));
    let Mode::Pick { options, .. } = app.mode.clone() else {
        panic!("no pick list: {:?}", app.mode)
    };
    assert!(
        !options.contains(&Dest::Label(0)),
        "its own label is offered"
    );
    assert_eq!(options.last(), Some(&Dest::Noise));
    app.handle_key(key('j'));
    app.handle_key(code(KeyCode::Enter));
    assert!(app.map.labels[2].tags.contains(&tag));
    // x sends the selected tag to noise.
    app.handle_key(key('x'));
    assert_eq!(app.map.noise.len(), shipped().noise.len() + 1);
}

#[test]
fn selection_stays_in_range_and_labels_reset_the_member_row() {
    let (mut app, _d) = app();
    app.perform(Action::Bottom);
    assert_eq!(app.label_sel, 10);
    app.perform(Action::Down);
    assert_eq!(app.label_sel, 10);
    app.focus_step(true);
    app.perform(Action::Bottom);
    let last_members = app.member_sel;
    assert_eq!(last_members, app.members().len() - 1);
    app.focus_step(false);
    app.perform(Action::Up);
    assert_eq!(app.member_sel, 0);
    app.focus_step(false);
    assert_eq!(app.focus, Pane::Noise);
}

#[test]
fn a_click_selects_the_row_under_the_pointer() {
    let (mut app, _d) = app();
    app.resize(100, 30);
    let areas = musav::tui::ui::Areas::new(ratatui::layout::Rect::new(0, 0, 100, 30));
    // Labels: border row, header row, then labels.
    app.handle_mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: areas.labels.x + 3,
        row: areas.labels.y + 2 + 4,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!((app.focus, app.label_sel), (Pane::Labels, 4));
    app.handle_mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: areas.noise.x + 2,
        row: areas.noise.y + 1 + 2,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!((app.focus, app.noise_sel), (Pane::Noise, 2));
    assert_eq!(app.selected_tag().unwrap(), shipped().noise[2]);
}

#[test]
fn llm_naming_runs_as_a_job_and_is_one_undoable_edit() {
    let (mut app, _d) = app();
    app.perform(Action::NameLabel);
    assert!(app.busy().is_some());
    assert_eq!(app.map, shipped(), "nothing changes before the answer");
    run_jobs(&mut app);
    assert!(app.busy().is_none());
    let l = &app.map.labels[0];
    assert_eq!(l.name, format!("{} + {}", l.tags[0], l.tags[1]));
    assert_eq!(l.named_by, "llm");
    assert_eq!(app.map.labels[1].name, shipped().labels[1].name);
    app.undo();
    assert_eq!(app.map, shipped());
}

#[test]
fn naming_all_places_noise_and_a_suggestion_can_be_accepted() {
    let (mut app, _d) = app();
    app.perform(Action::NameAll);
    run_jobs(&mut app);
    assert_eq!(app.map.suggestions.len(), shipped().noise.len());
    app.focus = Pane::Noise;
    let tag = app.selected_tag().unwrap();
    let target = app.map.suggestions[0].label.unwrap();
    app.perform(Action::AcceptSuggestion);
    let l = app.map.labels.iter().find(|l| l.id == target).unwrap();
    assert!(l.tags.contains(&tag));
    assert!(app.map.suggestions.iter().all(|s| s.tag != tag));
}

#[test]
fn a_failed_llm_request_shows_in_the_status_and_changes_nothing() {
    let (mut app, _d) = app_with(Arc::new(FailingNamer));
    app.perform(Action::NameAll);
    run_jobs(&mut app);
    let m = app.message.clone().unwrap();
    assert!(m.error && m.text.contains("HTTP 503"), "{m:?}");
    assert_eq!(app.map, shipped());
    assert!(!app.can_undo());
}

#[test]
fn only_the_newest_naming_request_is_applied() {
    let (mut app, _d) = app();
    app.perform(Action::NameLabel);
    let first = app.take_jobs();
    app.perform(Action::NameAll);
    let second = app.take_jobs();
    for job in first {
        let (id, out) = job.run_here(&|_| {});
        app.on_job(id, out);
    }
    assert_eq!(app.map, shipped(), "a superseded answer was applied");
    assert!(app.busy().is_some());
    for job in second {
        let (id, out) = job.run_here(&|_| {});
        app.on_job(id, out);
    }
    assert!(app.map.labels.iter().all(|l| l.named_by == "llm"));
}

#[test]
fn naming_answer_for_a_label_merged_away_meanwhile_is_skipped() {
    let (mut app, _d) = app();
    app.perform(Action::NameAll);
    let jobs = app.take_jobs();
    app.merge_labels(0, 1).unwrap();
    for job in jobs {
        let (id, out) = job.run_here(&|_| {});
        app.on_job(id, out);
    }
    assert_eq!(app.map.labels.len(), 10);
    assert!(
        app.message
            .clone()
            .unwrap()
            .text
            .contains("no longer exists")
    );
}

#[test]
fn export_from_the_ui_writes_what_the_status_bar_shows() {
    let (mut app, dir) = app();
    let tag = app.map.labels[2].tags[0].clone();
    app.move_tag(&tag, Dest::Noise).unwrap();
    app.perform(Action::Export);
    app.handle_key(code(KeyCode::Enter));
    run_jobs(&mut app);
    let m = app.message.clone().unwrap();
    assert!(!m.error, "{m:?}");
    let written = export::read_summary(&dir.path().join("export")).unwrap();
    assert_eq!(written.exported, app.summary.exported);
    assert_eq!(written.noise_tracks, app.summary.noise_tracks);
    assert_eq!(written.per_label, app.summary.per_label);
    // A second export to the same directory refuses and says so.
    app.request_export(dir.path().join("export"));
    run_jobs(&mut app);
    let m = app.message.clone().unwrap();
    assert!(
        m.error && m.text.contains("already exists") && m.text.contains("another directory"),
        "{m:?}"
    );
}

#[test]
fn export_job_output_for_a_stale_id_is_ignored() {
    let (mut app, _d) = app();
    app.on_job(99, JobOutput::Export(Err("boom".into())));
    assert!(app.message.is_none());
}

#[test]
fn opening_a_map_places_the_tags_as_curate_does_without_clustering() {
    let (app, _d) = app();
    let full = musav::curation::curate(&app.dataset, &app.curation.params).unwrap();
    assert_eq!(app.curation.coords, full.coords);
    assert_eq!(app.curation.tag_tracks, full.tag_tracks);
    assert_eq!(app.curation.tag_single, full.tag_single);
    assert!(app.curation.clusters.is_empty());
}

#[test]
fn fast_reclustering_gives_what_curate_gives() {
    let (app, _d) = app();
    let base = app.curation.params.clone();
    for p in [
        CurationParams {
            k: 7,
            ..base.clone()
        },
        CurationParams {
            seed: 3,
            ..base.clone()
        },
        CurationParams {
            noise_threshold: 1.8,
            k: 12,
            ..base.clone()
        },
        CurationParams {
            components: 6,
            ..base.clone()
        },
    ] {
        let fast = musav::tui::recluster::recluster(&app.dataset, &app.curation, &p).unwrap();
        let full = musav::curation::curate(&app.dataset, &p).unwrap();
        assert_eq!(fast.clusters, full.clusters, "{p:?}");
        assert_eq!(fast.noise, full.noise, "{p:?}");
        assert_eq!(fast.params, full.params);
        assert_eq!(fast.coords, full.coords);
    }
}

#[test]
fn a_key_file_rebinds_and_a_bad_one_is_reported_with_defaults_kept() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, "rename = [\"R\"]\n").unwrap();
    let mut o = opts(dir.path());
    o.keys = Some(keys.clone());
    let mut app = App::new(tui::load(&o, Arc::new(DataNamer), &|_| {}).unwrap());
    app.handle_key(key('r'));
    assert_eq!(app.mode, Mode::Normal);
    app.handle_key(key('R'));
    assert!(matches!(app.mode, Mode::Rename { .. }));

    std::fs::write(&keys, "rename = [\"Hyper-r\"]\n").unwrap();
    let mut app = App::new(tui::load(&o, Arc::new(DataNamer), &|_| {}).unwrap());
    let m = app.message.clone().unwrap();
    assert!(
        m.error && m.text.contains("keys.toml") && m.text.contains("Hyper-r"),
        "{m:?}"
    );
    app.handle_key(key('r'));
    assert!(matches!(app.mode, Mode::Rename { .. }));
}

/// The real naming client, offline (no endpoint, empty cache): every label gets the deterministic
/// fallback name built from its two biggest tags, as one undoable edit, with the reason noted.
#[test]
fn the_llm_client_offline_names_every_label_through_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let flags = musav::llm::LlmFlags {
        offline: true,
        cache_dir: Some(dir.path().join("cache")),
        prompts_dir: Some(util::repo().join("prompts")),
        ..Default::default()
    };
    let settings = musav::llm::LlmSettings::resolve(&flags, &|_| None).unwrap();
    let (mut app, _d) = app_with(Arc::new(musav::tui::llm_namer::LlmNamer { settings }));
    app.perform(Action::NameAll);
    run_jobs(&mut app);
    let m = app.message.clone().unwrap();
    assert!(!m.error, "{m:?}");
    assert!(m.text.contains("offline"), "{m:?}");
    assert!(app.map.labels.iter().all(|l| l.named_by == "fallback"));
    // "Dark & Romantic" holds dark (1202 tracks) and love (909): "Dark & Love".
    assert_eq!(app.map.labels[0].name, "Dark & Love");
    app.undo();
    assert_eq!(app.map, shipped());
}

/// Re-clustering runs on a one-thread pool; the groups must be those of `curate` on rayon's pool.
#[test]
fn reclustering_in_the_app_gives_the_groups_curate_gives() {
    let (mut app, _d) = app();
    let p = CurationParams {
        k: 9,
        seed: 5,
        ..app.curation.params.clone()
    };
    app.recluster(p.clone()).unwrap();
    let draft = LabelMap::from_curation(&musav::curation::curate(&app.dataset, &p).unwrap());
    let groups = |m: &LabelMap| m.labels.iter().map(|l| l.tags.clone()).collect::<Vec<_>>();
    assert_eq!(groups(&app.map), groups(&draft));
    assert_eq!(app.map.noise, draft.noise);
}
