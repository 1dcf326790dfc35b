//! Re-clustering for the review loop. A full [`curation::curate`] spends about a third of its time
//! building tag vectors and PCA, which depend only on the representation and the number of
//! components; when only k, the seed or the noise threshold change (the usual "try another
//! setting"), the previous run's PCA coordinates are reused and only the clustering step runs.
//! The result is the same [`Curation`] that `curate` gives (a test checks this).

use std::sync::OnceLock;

use crate::curation::{self, Curation, CurationError, CurationParams};
use crate::dataset::{Dataset, TagId};

/// Runs `f` on a one-thread rayon pool. Clustering 56 tags is too small to gain from threads, and
/// on a busy machine rayon's workers make it slower (benches/tui.rs: 47 ms on one thread against
/// 75 ms on the global pool at load 7 on 2 cores); the UI waits for it, so the steadier one wins.
pub fn on_one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "musav-recluster".into())
            .build()
            .ok()
    });
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// The tag coordinates (representation + PCA) and counts without clustering, for opening an
/// existing map: the map already says which tag goes where, so k-means (the slowest step) would
/// only delay the first frame. `clusters` and `noise` stay empty.
pub fn layout_only(dataset: &Dataset, params: &CurationParams) -> Result<Curation, CurationError> {
    params.check_for(dataset.tags.len())?;
    let vectors = curation::represent::tag_vectors(dataset, params.representation);
    let reduced = curation::reduce::pca(&vectors, params.components, params.seed)?;
    let (tag_tracks, tag_single) = dataset.tag_counts();
    Ok(Curation {
        params: params.clone(),
        tags: dataset.tags.clone(),
        tag_tracks,
        tag_single,
        coords: reduced.coords,
        explained_variance_ratio: reduced.explained_variance_ratio,
        clusters: Vec::new(),
        noise: Vec::new(),
    })
}

pub fn recluster(
    dataset: &Dataset,
    prev: &Curation,
    params: &CurationParams,
) -> Result<Curation, CurationError> {
    let same_space = prev.params.representation == params.representation
        && prev.params.components == params.components
        && prev.coords.nrows() == dataset.tags.len();
    if !same_space {
        return curation::curate(dataset, params);
    }
    params.check_for(dataset.tags.len())?;
    let assignment = curation::cluster::cluster(&prev.coords, params)?;
    let tag_tracks = &prev.tag_tracks;
    let tag_single = &prev.tag_single;
    // Same order as `curate`: tags by track count, clusters by single-tag tracks.
    let by_count =
        |v: &mut Vec<TagId>| v.sort_by(|&a, &b| tag_tracks[b].cmp(&tag_tracks[a]).then(a.cmp(&b)));
    let mut clusters = vec![Vec::new(); params.k];
    let mut noise = Vec::new();
    for (tag, a) in assignment.iter().enumerate() {
        match a {
            Some(c) => clusters[*c].push(tag),
            None => noise.push(tag),
        }
    }
    clusters.retain(|c| !c.is_empty());
    clusters.iter_mut().for_each(by_count);
    clusters.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.iter().map(|&t| tag_single[t]).sum::<usize>()),
            c[0],
        )
    });
    by_count(&mut noise);
    Ok(Curation {
        params: params.clone(),
        clusters,
        noise,
        ..prev.clone()
    })
}
