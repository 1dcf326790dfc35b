//! Re-clustering for the review loop. A full [`curation::curate`] spends about a third of its time
//! building tag vectors and PCA, which depend only on the representation and the number of
//! components; when only k, the seed or the noise threshold change (the usual "try another
//! setting"), the previous run's PCA coordinates are reused and only the clustering step runs.
//! The result is the same [`Curation`] that `curate` gives (a test checks this).

use std::sync::OnceLock;

use crate::curation::{self, Curation, CurationError, CurationParams};
use crate::dataset::Dataset;

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

/// The tag coordinates without clustering, for opening an existing map (see [`curation::layout`]).
pub fn layout_only(dataset: &Dataset, params: &CurationParams) -> Result<Curation, CurationError> {
    curation::layout(dataset, params)
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
    curation::cluster_layout(prev, params)
}
