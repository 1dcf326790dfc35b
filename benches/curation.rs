//! Load, represent + PCA, cluster and export on the shipped split-0 metadata.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use musav::curation::labels::{LabelMap, default_labels_path};
use musav::curation::{CurationParams, cluster, curate, reduce, represent};
use musav::dataset::{Dataset, LoadOptions, default_metadata_path};
use musav::export::{self, Policy};

fn bench(c: &mut Criterion) {
    let path = default_metadata_path();
    let opts = LoadOptions::default();
    let ds = Dataset::load(&path, &opts).expect("shipped data loads");
    let params = CurationParams::default();
    let map = LabelMap::load(&default_labels_path()).expect("shipped map loads");

    c.bench_function("load split-0", |b| {
        b.iter(|| Dataset::load(black_box(&path), &opts).unwrap())
    });
    c.bench_function("represent + PCA", |b| {
        b.iter(|| {
            let v = represent::tag_vectors(&ds, params.representation);
            reduce::pca(&v, params.components, params.seed).unwrap()
        })
    });
    let coords = reduce::pca(
        &represent::tag_vectors(&ds, params.representation),
        params.components,
        0,
    )
    .unwrap()
    .coords;
    c.bench_function("noise + k-means", |b| {
        b.iter(|| cluster::cluster(black_box(&coords), &params).unwrap())
    });
    c.bench_function("curate (all three)", |b| {
        b.iter(|| curate(&ds, &params).unwrap())
    });
    c.bench_function("export plan", |b| {
        b.iter(|| export::plan(&ds, &map, Policy::Strict))
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let plan = export::plan(&ds, &map, Policy::Strict);
    c.bench_function("export write (csv + parquet)", |b| {
        b.iter(|| export::write(&ds, &map, &plan, &out, true).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
