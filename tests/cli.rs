//! The curation commands as a user runs them: real binary, real shipped data, temp directories.

mod util;

use std::path::Path;

use polars::prelude::*;
use util::{musav, run, snapshot};

const HEAD: &str = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n";

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in ["stats", "cluster", "export"] {
        let (ok, out, _) = run(musav().args([sub, "--help"]));
        assert!(ok, "{sub} --help");
        assert!(
            out.contains("Examples:") && out.contains(&format!("musav {sub}")),
            "{sub}: {out}"
        );
    }
}

#[test]
fn stats_prints_the_split0_histogram() {
    let (ok, out, err) = run(musav().arg("stats"));
    assert!(ok, "{err}");
    assert!(out.contains("tracks         17982"), "{out}");
    assert!(out.contains("distinct tags  56"));
    assert!(out.contains("1 → 9590") && out.contains("8 → 3"), "{out}");
    assert!(out.contains("melodic") && out.contains("697"));
}

#[test]
fn cluster_json_has_11_clusters_coordinates_and_noise() {
    let (ok, out, err) = run(musav().args(["cluster", "--format", "json", "--coords"]));
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["clusters"].as_array().unwrap().len(), 11);
    assert!(v["clusters"][0]["tags"][0]["pc1"].is_f64());
    let n: usize = v["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tags"].as_array().unwrap().len())
        .sum::<usize>()
        + v["noise"].as_array().unwrap().len();
    assert_eq!(n, 56);
}

#[test]
fn cluster_out_writes_a_loadable_map_and_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("m.toml");
    let (ok, _, err) = run(musav().args(["cluster", "--seed", "3", "--out"]).arg(&map));
    assert!(ok, "{err}");
    let first = std::fs::read(&map).unwrap();
    let m = musav::curation::labels::LabelMap::load(&map).unwrap();
    assert_eq!(m.labels.len(), 11);
    let (ok, _, err) = run(musav().args(["cluster", "--seed", "4", "--out"]).arg(&map));
    assert!(!ok && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&map).unwrap(), first);
}

fn read_csv(p: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(p.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap()
}

#[test]
fn export_writes_csv_parquet_noise_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let (ok, stdout, err) = run(musav().args(["export", "--out"]).arg(&out));
    assert!(ok, "{err}");
    assert!(
        stdout.contains("exported           7567 in 11 labels"),
        "{stdout}"
    );
    let csv = read_csv(&out.join("single_label.csv"));
    assert_eq!(csv.height(), 7_567);
    assert_eq!(
        csv.get_column_names()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        [
            "track_id",
            "artist_id",
            "album_id",
            "path",
            "duration",
            "tag",
            "label_id",
            "label",
            "split"
        ]
    );
    let pq = ParquetReader::new(std::fs::File::open(out.join("single_label.parquet")).unwrap())
        .finish()
        .unwrap();
    assert_eq!(pq.height(), csv.height());
    for col in ["track_id", "label"] {
        assert!(
            pq.column(col).unwrap().equals(csv.column(col).unwrap()),
            "parquet {col} differs from CSV"
        );
    }
    assert_eq!(pq.column("label_id").unwrap().n_unique().unwrap(), 11);
    assert_eq!(read_csv(&out.join("noise.csv")).height(), 2_023);
    let s = musav::export::read_summary(&out).unwrap();
    assert_eq!(
        (s.single_tag_tracks, s.noise_tracks, s.exported),
        (9_590, 2_023, 7_567)
    );
    assert!(musav::curation::labels::LabelMap::load(&out.join("labels.toml")).is_ok());
}

#[test]
fn export_refuses_to_overwrite_and_force_replaces_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    assert!(run(musav().args(["export", "--out"]).arg(&out)).0);
    std::fs::write(out.join("stale.txt"), "from an older export").unwrap();
    let before = snapshot(&out);
    let (ok, _, err) = run(musav().args(["export", "--out"]).arg(&out));
    assert!(!ok && err.contains("--force"), "{err}");
    assert_eq!(snapshot(&out), before);
    let (ok, _, err) = run(musav()
        .args(["export", "--force", "--policy", "same-label", "--out"])
        .arg(&out));
    assert!(ok, "{err}");
    assert!(!out.join("stale.txt").exists());
    assert!(musav::export::read_summary(&out).unwrap().added_by_policy > 0);
    // Nothing but the export itself is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Each bad input names file and line, and an existing export stays as it was.
#[test]
fn bad_inputs_give_clear_errors_and_leave_files_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    assert!(run(musav().args(["export", "--out"]).arg(&out)).0);
    let before = snapshot(&out);
    let cases = [
        ("missing-column", "t1\ta\tb\n", "PATH"),
        (
            "bad-duration",
            "t1\ta\tb\tp.mp3\tabc\tmood/theme---happy\n",
            "DURATION \"abc\"",
        ),
        (
            "duplicate",
            "t1\ta\tb\tp\t1\tmood/theme---happy\nt1\ta\tb\tp\t1\tmood/theme---sad\n",
            "appears twice",
        ),
        ("no-tags", "t1\ta\tb\tp\t1\n", "no tags"),
        ("prefix", "t1\ta\tb\tp\t1\tgenre---rock\n", "--tag-prefix"),
    ];
    for (name, body, needle) in cases {
        let tsv = dir.path().join(format!("{name}.tsv"));
        std::fs::write(&tsv, format!("{HEAD}{body}")).unwrap();
        let (ok, _, err) = run(musav()
            .args(["export", "--force", "--out"])
            .arg(&out)
            .arg("--data")
            .arg(&tsv));
        assert!(!ok, "{name} must fail");
        assert!(
            err.contains(&format!("{name}.tsv:")) && err.contains(needle),
            "{name}: {err}"
        );
        assert_eq!(snapshot(&out), before, "{name} changed the export");
    }
    let (ok, _, err) = run(musav()
        .args(["export", "--out"])
        .arg(dir.path().join("x"))
        .args(["--data", "/no/such/dir"]));
    assert!(
        !ok && err.contains("/no/such/dir") && err.contains("--data"),
        "{err}"
    );
}

#[test]
fn bad_label_map_is_named_and_export_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    assert!(run(musav().args(["export", "--out"]).arg(&out)).0);
    let before = snapshot(&out);
    let map = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(util::shipped_labels()).unwrap();
    std::fs::write(
        &map,
        text.replace("noise = [\"energetic\"", "noise = [\"dark\", \"energetic\""),
    )
    .unwrap();
    let (ok, _, err) = run(musav()
        .args(["export", "--force", "--out"])
        .arg(&out)
        .arg("--labels")
        .arg(&map));
    assert!(
        !ok && err.contains("bad.toml") && err.contains("\"dark\" appears twice"),
        "{err}"
    );
    assert_eq!(snapshot(&out), before);
    let (ok, _, err) = run(musav()
        .args(["export", "--out"])
        .arg(dir.path().join("y"))
        .args(["--labels", "/no/map.toml"]));
    assert!(!ok && err.contains("/no/map.toml"), "{err}");
}
