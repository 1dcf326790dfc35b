//! The curation pipeline on the real shipped split-0 metadata.

mod util;

use std::collections::{BTreeMap, BTreeSet};

use musav::curation::labels::LabelMap;
use musav::curation::{CurationParams, curate};
use musav::dataset::{Dataset, LoadOptions, Split};
use musav::export::{self, Policy};

fn split0() -> Dataset {
    Dataset::load(&util::shipped_metadata(), &LoadOptions::default()).unwrap()
}

#[test]
fn split0_counts_match_the_published_facts() {
    let ds = split0();
    let s = ds.stats();
    assert_eq!(s.tracks, 17_982);
    assert_eq!(s.distinct_tags, 56);
    let hist: Vec<(usize, usize)> = s.tags_per_track.into_iter().collect();
    assert_eq!(
        hist,
        vec![
            (1, 9_590),
            (2, 5_062),
            (3, 1_924),
            (4, 927),
            (5, 336),
            (6, 123),
            (7, 17),
            (8, 3)
        ]
    );
    for absent in ["ambiental", "horror", "mellow"] {
        assert!(ds.tag_id(absent).is_none(), "{absent} is not in split-0");
    }
    let single: BTreeMap<_, _> = s
        .per_tag
        .iter()
        .map(|t| (t.tag.as_str(), t.single_tag_tracks))
        .collect();
    assert_eq!(single["melodic"], 697);
    assert_eq!(single["holiday"], 14);
    assert_eq!(
        s.per_split[&Split::Train] + s.per_split[&Split::Validation] + s.per_split[&Split::Test],
        17_982
    );
}

#[test]
fn full_list_loads_as_single_file_without_splits() {
    let ds = Dataset::load(
        &util::shipped_metadata().join("autotagging_moodtheme.tsv"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.tracks.len(), 18_486);
    assert_eq!(ds.tags.len(), 59);
    assert!(ds.tracks.iter().all(|t| t.split.is_none()));
}

#[test]
fn default_curation_gives_11_clusters_and_noise_and_is_deterministic() {
    let ds = split0();
    let p = CurationParams::default();
    let a = curate(&ds, &p).unwrap();
    assert_eq!(a.clusters.len(), 11);
    assert!(!a.noise.is_empty());
    let members: usize = a.clusters.iter().map(Vec::len).sum();
    assert_eq!(
        members + a.noise.len(),
        56,
        "every tag is in one cluster or noise"
    );
    let b = curate(&ds, &p).unwrap();
    assert_eq!(LabelMap::from_curation(&a), LabelMap::from_curation(&b));
    // Tags that co-occur strongly land together.
    let ids = |n: &str| ds.tag_id(n).unwrap();
    assert_eq!(a.cluster_of(ids("film")), a.cluster_of(ids("movie")));
    assert_eq!(
        a.cluster_of(ids("christmas")),
        a.cluster_of(ids("children"))
    );
    assert_ne!(a.cluster_of(ids("film")), a.cluster_of(ids("christmas")));
}

#[test]
fn explained_variance_grows_with_components() {
    let ds = split0();
    let ev = |c| {
        let p = CurationParams {
            components: c,
            ..CurationParams::default()
        };
        curate(&ds, &p)
            .unwrap()
            .explained_variance_ratio
            .iter()
            .sum::<f64>()
    };
    let (a, b) = (ev(2), ev(10));
    assert!(0.0 < a && a < b && b <= 1.0 + 1e-9, "{a} {b}");
}

#[test]
fn reviewed_map_reproduces_the_original_study() {
    let ds = split0();
    let map = LabelMap::load(&util::shipped_labels()).unwrap();
    assert_eq!(
        map.coverage(&ds),
        Default::default(),
        "the map covers exactly split-0's 56 tags"
    );
    let plan = export::plan(&ds, &map, Policy::Strict);
    let s = &plan.summary;
    assert_eq!(s.labels, 11);
    assert_eq!(s.single_tag_tracks, 9_590);
    assert_eq!(s.noise_tracks, 2_023);
    assert_eq!(s.exported, 7_567);
    assert_eq!(s.exported + s.noise_tracks, s.single_tag_tracks);
    assert_eq!(s.per_label.iter().map(|l| l.tracks).sum::<usize>(), 7_567);
    assert!(s.per_label.iter().all(|l| l.tracks > 0));
    assert_eq!(s.per_split.values().sum::<usize>(), 7_567);
}

#[test]
fn shipped_map_is_the_default_draft_plus_the_two_documented_moves() {
    // data/labels.toml says: drafted by `musav cluster` with the default settings, names written
    // by hand, "summer" and "travel" moved to noise. Nothing else may differ from the draft, so the
    // 11 / 2,023 / 7,567 figures come from the pipeline, not from a hand-made map.
    let ds = split0();
    let draft = LabelMap::from_curation(&curate(&ds, &CurationParams::default()).unwrap());
    let shipped = LabelMap::load(&util::shipped_labels()).unwrap();
    let set = |tags: &[String]| -> BTreeSet<String> { tags.iter().cloned().collect() };
    let moved = ["summer", "travel"];

    assert_eq!(
        set(&draft.noise),
        set(&[
            "cool",
            "energetic",
            "fast",
            "melodic",
            "retro",
            "space",
            "sport"
        ]
        .map(String::from))
    );
    let mut expected_noise = set(&draft.noise);
    expected_noise.extend(moved.map(String::from));
    assert_eq!(set(&shipped.noise), expected_noise);
    assert_eq!(shipped.noise.len(), 9, "no tag listed twice");
    assert_eq!(shipped.settings, draft.settings);

    assert_eq!(shipped.labels.len(), draft.labels.len());
    let mut seen_moved = Vec::new();
    for (s, d) in shipped.labels.iter().zip(&draft.labels) {
        assert_eq!(s.id, d.id);
        let mut kept = set(&d.tags);
        for m in moved {
            if kept.remove(m) {
                seen_moved.push(m);
            }
        }
        assert_eq!(set(&s.tags), kept, "label {} ({})", s.id, s.name);
        assert_eq!(
            s.tags.len(),
            kept.len(),
            "label {}: a tag listed twice",
            s.id
        );
        assert_eq!(s.named_by, "manual", "label {}", s.id);
        assert_ne!(s.name, d.name, "label {} keeps its placeholder name", s.id);
    }
    seen_moved.sort();
    assert_eq!(
        seen_moved, moved,
        "both moved tags came from the draft's labels"
    );
}

#[test]
fn exported_plus_noise_is_single_tag_for_any_map() {
    let ds = split0();
    for seed in [1, 2, 3] {
        for nt in [1.2, 1.4, 2.0] {
            let p = CurationParams {
                seed,
                noise_threshold: nt,
                ..CurationParams::default()
            };
            let map = LabelMap::from_curation(&curate(&ds, &p).unwrap());
            let s = export::plan(&ds, &map, Policy::Strict).summary;
            assert_eq!(
                s.exported + s.noise_tracks,
                9_590,
                "seed {seed} threshold {nt}"
            );
        }
    }
}

#[test]
fn same_label_policy_adds_only_consistent_multi_tag_tracks() {
    let ds = split0();
    let map = LabelMap::load(&util::shipped_labels()).unwrap();
    let strict = export::plan(&ds, &map, Policy::Strict);
    let more = export::plan(&ds, &map, Policy::SameLabel);
    assert!(more.summary.added_by_policy > 0);
    assert_eq!(
        more.summary.exported,
        strict.summary.exported + more.summary.added_by_policy
    );
    for r in &more.rows {
        let t = &ds.tracks[r.track];
        for &g in &t.tags {
            assert_eq!(
                map.label_of_tag(&ds.tags[g]).map(|l| l.id),
                Some(map.labels[r.label].id)
            );
        }
    }
}

#[test]
fn label_map_round_trips_through_disk() {
    let map = LabelMap::load(&util::shipped_labels()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("copy.toml");
    map.save(&p).unwrap();
    let back = LabelMap::load(&p).unwrap();
    assert_eq!(back, map);
    assert_eq!(back.hash(), map.hash());
}
