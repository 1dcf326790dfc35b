//! From tags to label groups: represent each tag as a vector built from the data, reduce the vectors
//! with PCA, cluster them with k-means and set apart the tags that belong to no cluster (noise).
//!
//! Data flows one way: [`represent`] → [`reduce`] → [`cluster`]; [`curate`] runs all three with one
//! checked [`CurationParams`] so that a run is reproducible from its settings alone.

pub mod cluster;
pub mod labels;
pub mod params;
pub mod reduce;
pub mod represent;

use ndarray::Array2;
use serde::Serialize;

use crate::dataset::{Dataset, TagId};
pub use params::{CurationError, CurationParams, Representation};

/// Everything one curation run produced, enough to draw, review and write a label map.
#[derive(Debug, Clone, Serialize)]
pub struct Curation {
    pub params: CurationParams,
    /// Tag names, indexed by [`TagId`].
    pub tags: Vec<String>,
    /// Tracks per tag (all tracks).
    pub tag_tracks: Vec<usize>,
    /// Single-tag tracks per tag.
    pub tag_single: Vec<usize>,
    /// PCA coordinates, one row per tag (`components` columns).
    #[serde(skip)]
    pub coords: Array2<f64>,
    pub explained_variance_ratio: Vec<f64>,
    /// Member tags of each cluster, most frequent first.
    pub clusters: Vec<Vec<TagId>>,
    /// Tags in no cluster, most frequent first.
    pub noise: Vec<TagId>,
}

impl Curation {
    /// The first two PCA coordinates of a tag (for the scatter plots).
    pub fn xy(&self, tag: TagId) -> (f64, f64) {
        // Tags that never co-occur (e.g. a synthetic corpus, one tag per track) leave no component.
        let row = self.coords.row(tag);
        let at = |i: usize| row.get(i).copied().unwrap_or(0.0);
        (at(0), at(1))
    }

    /// Cluster index of a tag, `None` for noise.
    pub fn cluster_of(&self, tag: TagId) -> Option<usize> {
        self.clusters.iter().position(|c| c.contains(&tag))
    }
}

/// Runs represent → PCA → noise + k-means on a dataset.
pub fn curate(dataset: &Dataset, params: &CurationParams) -> Result<Curation, CurationError> {
    cluster_layout(&layout(dataset, params)?, params)
}

/// Represent → PCA only: the tag coordinates and counts, with `clusters` and `noise` empty. Opening an
/// existing map needs no clustering (the map already groups the tags).
pub fn layout(dataset: &Dataset, params: &CurationParams) -> Result<Curation, CurationError> {
    params.check_for(dataset.tags.len())?;
    let vectors = represent::tag_vectors(dataset, params.representation);
    let reduced = reduce::pca(&vectors, params.components, params.seed)?;
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

/// Noise + k-means on an earlier run's PCA coordinates. Only `k`, `seed` and `noise_threshold` of
/// `params` take effect: the coordinates fix the representation and the components, so trying
/// another k costs a clustering, not a new PCA.
pub fn cluster_layout(
    layout: &Curation,
    params: &CurationParams,
) -> Result<Curation, CurationError> {
    params.check_for(layout.tags.len())?;
    let assignment = cluster::cluster(&layout.coords, params)?;
    let (tag_tracks, tag_single) = (&layout.tag_tracks, &layout.tag_single);
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
    // Order clusters by size of their single-tag audience, so label ids are stable across runs
    // that find the same groups.
    clusters.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.iter().map(|&t| tag_single[t]).sum::<usize>()),
            c[0],
        )
    });
    by_count(&mut noise);
    Ok(Curation {
        params: CurationParams {
            representation: layout.params.representation,
            components: layout.params.components,
            ..params.clone()
        },
        clusters,
        noise,
        ..layout.clone()
    })
}
