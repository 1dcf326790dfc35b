//! Speed of the review UI on the full shipped data (18k tracks, 56 tags): re-clustering plus a
//! redraw must stay under 50 ms so that trying other settings feels instant, and an edit plus redraw
//! far below that. Frames go to a `TestBackend` at 120×40, which does the same layout and buffer
//! work as a real terminal minus the escape codes.
//!
//! Run: `cargo bench --profile dev --bench tui` (the dev profile already optimises dependencies;
//! a `--release` build gives lower figures).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use musav::curation::CurationParams;
use musav::tui::app::{App, Dest};
use musav::tui::namer::Unavailable;
use musav::tui::{self, ReviewOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app(dir: &std::path::Path) -> App {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let opts = ReviewOptions {
        data: root.join("data/mtg-jamendo-moodtheme"),
        tag_prefix: musav::dataset::DEFAULT_TAG_PREFIX.into(),
        labels: Some(root.join("data/labels.toml")),
        save_to: Some(dir.join("labels.toml")),
        export_dir: dir.join("export"),
        keys: None,
        training: tui::TrainDefaults {
            runs: dir.join("runs"),
            ..Default::default()
        },
    };
    let s = tui::load(&opts, Arc::new(Unavailable("bench".into())), &|_| {})
        .expect("the shipped data loads");
    App::new(s)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    let base = app.curation.params.clone();

    // Reference: the full pipeline, which re-clustering falls back to when the PCA must change.
    c.bench_function("curate_full", |b| {
        b.iter(|| musav::curation::curate(&app.dataset, black_box(&base)).expect("curate"))
    });
    c.bench_function("redraw_120x40", |b| {
        b.iter(|| {
            term.draw(|f| f.render_widget(&app, f.area()))
                .expect("draw");
        })
    });

    let mut seed = 0u64;
    c.bench_function("recluster_and_redraw_120x40", |b| {
        b.iter(|| {
            seed += 1;
            let p = CurationParams {
                seed,
                ..base.clone()
            };
            app.recluster(black_box(p)).expect("re-cluster");
            term.draw(|f| f.render_widget(&app, f.area()))
                .expect("draw");
        })
    });

    // The same work on rayon's global pool, to show why App uses a one-thread pool.
    c.bench_function("recluster_global_pool_and_redraw_120x40", |b| {
        b.iter(|| {
            seed += 1;
            let p = CurationParams {
                seed,
                ..base.clone()
            };
            let c = musav::tui::recluster::recluster(&app.dataset, &app.curation, black_box(&p))
                .expect("re-cluster");
            black_box(c);
            term.draw(|f| f.render_widget(&app, f.area()))
                .expect("draw");
        })
    });

    let tag = app.map.labels[0].tags[0].clone();
    let mut to_noise = true;
    c.bench_function("move_tag_and_redraw_120x40", |b| {
        b.iter(|| {
            let dest = if to_noise {
                Dest::Noise
            } else {
                Dest::Label(0)
            };
            to_noise = !to_noise;
            app.move_tag(&tag, dest).expect("move");
            term.draw(|f| f.render_widget(&app, f.area()))
                .expect("draw");
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
