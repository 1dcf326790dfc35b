//! Frames drawn on ratatui's `TestBackend`, asserted on the buffer's text: what each pane shows for
//! the shipped data, the popups, and that small and resized terminals still draw.

mod util;

use std::sync::Arc;

use musav::curation::labels::LabelMap;
use musav::dataset::Dataset;
use musav::tui::app::{App, Pane};
use musav::tui::keys::Action;
use musav::tui::{self, Namer, Naming, ReviewOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

struct Never;

impl Namer for Never {
    fn name(&self, _: &Dataset, _: &LabelMap, _: Option<&[u32]>) -> Result<Naming, String> {
        Err("LLM unavailable in this test".into())
    }
}

fn app() -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let o = ReviewOptions {
        data: util::shipped_metadata(),
        tag_prefix: musav::dataset::DEFAULT_TAG_PREFIX.into(),
        labels: Some(util::shipped_labels()),
        save_to: Some(dir.path().join("labels.toml")),
        export_dir: dir.path().join("export"),
        keys: None,
        training: tui::TrainDefaults {
            runs: dir.path().join("runs"),
            ..Default::default()
        },
    };
    let s = tui::load(&o, Arc::new(Never), &|_| {}).unwrap();
    (App::new(s), dir)
}

fn draw(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    lines(t.backend().buffer())
}

fn lines(buf: &Buffer) -> Vec<String> {
    let a = buf.area;
    (a.y..a.y + a.height)
        .map(|y| {
            (a.x..a.x + a.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

fn screen(lines: &[String]) -> String {
    lines.join("\n")
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn full_frame_at_80x24_shows_every_pane_and_the_export_counts() {
    let (app, _d) = app();
    let l = draw(&app, 80, 24);
    let s = screen(&l);
    assert!(l[0].contains("Labels (11)"), "{s}");
    assert!(s.contains("Tags of Dark & …"), "{s}");
    assert!(s.contains("Noise (9)"), "{s}");
    assert!(s.contains("PCA"), "{s}");
    assert!(s.contains("Details"), "{s}");
    // Labels pane row: name, tags, tracks this label would export.
    let row = l.iter().find(|r| r.contains("Epic & Cinem")).unwrap();
    assert!(row.contains("   8   1180"), "{row}");
    // Members of the first label with their track counts.
    assert!(s.contains("│dark         1202│"), "{s}");
    assert_eq!(
        l[21].trim_end(),
        "export single-tag 9590 · noise 2023 · exported 7567 in 11 labels · saved"
    );
    assert_eq!(
        l[22].trim_end(),
        "per label 1272 1180 928 901 799 731 517 509 266 245 219"
    );
    assert!(l[23].contains("? help"), "{}", l[23]);
}

#[test]
fn details_pane_shows_sample_tracks_and_cooccurring_tags() {
    let (mut app, _d) = app();
    app.focus = Pane::Noise;
    let tag = app.selected_tag().unwrap();
    let l = draw(&app, 120, 40);
    let s = screen(&l);
    let id = app.dataset.tag_id(&tag).unwrap();
    let first = &app.dataset.tracks[app.index.sample_tracks(id, 1)[0]];
    let num = first
        .id
        .trim_start_matches("track_")
        .trim_start_matches('0');
    assert!(
        s.contains(&format!("{tag}: {} tracks", app.tag_tracks(&tag))),
        "{s}"
    );
    assert!(s.contains(&format!("t{num} ar")), "{s}");
    let (co, n) = app.index.top_cooccurring(id, 1)[0];
    assert!(
        s.contains(&format!("with: {} {n}", app.dataset.tags[co])),
        "{s}"
    );
    // The scatter names the selected tag.
    assert!(s.contains(&format!("◆{tag}")), "{s}");
}

#[test]
fn an_edit_shows_as_unsaved_with_new_counts_and_the_message() {
    let (mut app, _d) = app();
    app.perform(Action::NextPane);
    app.perform(Action::ToNoise);
    let l = draw(&app, 100, 30);
    assert!(l[27].contains("noise 2649"), "{}", l[27]);
    assert!(l[27].contains("exported 6941"), "{}", l[27]);
    assert!(l[27].contains("● unsaved"), "{}", l[27]);
    assert!(l[28].starts_with("per label 646 1180 "), "{}", l[28]);
    assert!(l[29].contains("moved dark to noise"), "{}", l[29]);
}

#[test]
fn help_overlay_lists_every_action() {
    let (mut app, _d) = app();
    app.handle_key(key('?'));
    let s = screen(&draw(&app, 80, 24));
    for (a, _) in &app.keys.bindings {
        let d = a.describe();
        let prefix: String = d.chars().take(40).collect();
        assert!(s.contains(&prefix), "help misses {d:?}:\n{s}");
    }
    assert!(s.contains("C-r U"), "{s}");
    app.handle_key(key('x'));
    assert!(!screen(&draw(&app, 80, 24)).contains("Keys (any key closes)"));
}

#[test]
fn popups_show_their_input() {
    let (mut app, _d) = app();
    app.handle_key(key('r'));
    app.handle_key(key('!'));
    let s = screen(&draw(&app, 80, 24));
    assert!(s.contains("Rename label"), "{s}");
    assert!(s.contains("Dark & Romantic!▏"), "{s}");
    app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    app.handle_key(key('M'));
    let s = screen(&draw(&app, 80, 24));
    assert!(s.contains("Merge Dark & Romantic into"), "{s}");
    app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    app.handle_key(key('c'));
    let s = screen(&draw(&app, 80, 24));
    assert!(s.contains("Re-cluster"), "{s}");
    assert!(s.contains("noise threshold  1.4"), "{s}");
    app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    app.rename_label(0, "Gloomy").unwrap();
    app.handle_key(key('q'));
    let s = screen(&draw(&app, 80, 24));
    assert!(s.contains("y quit without saving"), "{s}");
}

#[test]
fn a_running_job_shows_a_spinner_and_its_failure_shows_in_red() {
    let (mut app, _d) = app();
    app.perform(Action::NameLabel);
    let l = draw(&app, 80, 24);
    assert!(l[23].contains("asking the LLM…"), "{}", l[23]);
    for job in app.take_jobs() {
        let (id, out) = job.run_here(&|_| {});
        app.on_job(id, out);
    }
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| f.render_widget(&app, f.area())).unwrap();
    let buf = t.backend().buffer();
    let row: String = (0..80).map(|x| buf[(x, 23)].symbol()).collect();
    assert!(row.contains("LLM naming failed"), "{row}");
    assert_eq!(buf[(0, 23)].fg, ratatui::style::Color::Red);
}

#[test]
fn tiny_and_resized_terminals_still_draw() {
    let (mut app, _d) = app();
    for (w, h) in [(20, 6), (40, 12), (80, 24), (200, 60), (1, 1)] {
        app.resize(w, h);
        let l = draw(&app, w, h);
        assert_eq!(l.len(), h as usize);
        assert!(l.iter().all(|r| r.chars().count() == w as usize), "{w}x{h}");
        let s = screen(&l);
        if h >= 12 {
            // The title of the labels pane on the first row, and the status bar's counts at
            // the bottom: a view drawn at the wrong size or place gets these wrong.
            assert!(l[0].contains("Labels"), "{w}x{h}:\n{s}");
            let status = &l[h as usize - 3];
            let want = "export single-tag 9590 · noise 2023";
            let shown: String = want.chars().take(w as usize).collect();
            assert!(status.starts_with(&shown), "{w}x{h}:\n{s}");
        }
        if w >= 200 {
            // Room for every label's full name.
            for label in &app.map.labels {
                assert!(s.contains(&label.name), "{}:\n{s}", label.name);
            }
        }
    }
    app.handle_key(key('?'));
    let s = screen(&draw(&app, 30, 8));
    assert!(s.contains("Keys"), "{s}");
}

#[test]
fn loading_screen_says_what_it_is_doing() {
    let mut buf = Buffer::empty(Rect::new(0, 0, 60, 10));
    tui::views::loading::render("clustering the tags", 3, buf.area, &mut buf);
    let s = screen(&lines(&buf));
    assert!(s.contains("musav review"), "{s}");
    assert!(s.contains("clustering the tags…"), "{s}");
}

#[test]
fn status_bar_alone_renders_exact_text() {
    let (app, _d) = app();
    let mut buf = Buffer::empty(Rect::new(0, 0, 73, 3));
    tui::views::status::render(&app, buf.area, &mut buf);
    let want = Buffer::with_lines([
        "export single-tag 9590 · noise 2023 · exported 7567 in 11 labels · saved",
        "per label 1272 1180 928 901 799 731 517 509 266 245 219",
        "? help · r rename · m move · x noise · u undo · s save · t train · q quit",
    ]);
    let got: Vec<String> = lines(&buf);
    assert_eq!(got, lines(&want));
}

#[test]
fn scatter_marks_noise_and_the_selected_labels_tags() {
    let (mut app, _d) = app();
    let mut buf = Buffer::empty(Rect::new(0, 0, 60, 24));
    tui::views::scatter::render(&app, buf.area, &mut buf);
    // Inside the border only: the title itself explains the × mark.
    let count = |buf: &Buffer, sym: &str| {
        (1..23)
            .flat_map(|y| (1..59).map(move |x| (x, y)))
            .filter(|&p| buf[p].symbol() == sym)
            .count()
    };
    // Every noise tag is an ×, unless another mark landed on the same cell.
    let noise = app.noise().len();
    let crosses = count(&buf, "×");
    assert!(
        crosses > 0 && crosses <= noise,
        "{crosses} × for {noise} noise tags"
    );
    // The first label has 4 tags: the selected one is named, the other 3 are ● (or overlap).
    let dots = count(&buf, "●");
    assert!((1..=3).contains(&dots), "{dots}");
    // Moving every tag of label 0 to noise leaves no ● and more ×.
    for t in app.map.labels[0].tags.clone() {
        app.move_tag(&t, musav::tui::app::Dest::Noise).unwrap();
    }
    let mut buf = Buffer::empty(Rect::new(0, 0, 60, 24));
    tui::views::scatter::render(&app, buf.area, &mut buf);
    assert_eq!(count(&buf, "●"), 0);
    assert!(count(&buf, "×") > crosses);
}

#[test]
fn a_map_without_labels_draws_and_every_action_is_refused_gracefully() {
    let (mut app, _d) = app();
    app.edit("everything to noise", |m| {
        let tags: Vec<String> = m.labels.drain(..).flat_map(|l| l.tags).collect();
        m.noise.extend(tags);
        m.suggestions.clear();
        Ok(())
    })
    .unwrap();
    assert_eq!(app.summary.exported, 0);
    // Each action on a missing label (or, in the empty tags pane, a missing tag) opens nothing,
    // changes nothing, and says why in red on the status line.
    for (focus, action, why) in [
        (Pane::Labels, Action::Rename, "no label to rename"),
        (Pane::Labels, Action::Merge, "merge needs two labels"),
        (Pane::Labels, Action::Split, "no label selected"),
        (Pane::Labels, Action::NameLabel, "no label selected"),
        (
            Pane::Members,
            Action::Move,
            "select a tag first (Tab to the tags or noise pane)",
        ),
        (Pane::Members, Action::ToNoise, "select a tag first"),
    ] {
        app.focus = focus;
        app.message = None;
        let before = app.map.clone();
        app.perform(action);
        assert_eq!(app.mode, musav::tui::app::Mode::Normal, "{action:?}");
        assert_eq!(app.map, before, "{action:?}");
        assert!(app.take_jobs().is_empty(), "{action:?} started a job");
        let m = app.message.as_ref().expect("a refusal says why");
        assert!(m.error, "{action:?}: {}", m.text);
        assert_eq!(m.text, why, "{action:?}");
        let l = draw(&app, 80, 24);
        assert!(l[23].starts_with(why), "{action:?}: {}", l[23]);
    }
    // Moving in an empty list keeps the selection where it is.
    app.focus = Pane::Labels;
    app.perform(Action::Down);
    assert_eq!(app.label_sel, 0);
    let s = screen(&draw(&app, 80, 24));
    assert!(s.contains("Labels (0)"), "{s}");
    assert!(s.contains("Noise (56)"), "{s}");
    assert!(s.contains("exported 0 in 0 labels"), "{s}");
}
