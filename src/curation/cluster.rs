//! k-means on PCA coordinates, then noise: tags that no cluster really holds.

use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array2, ArrayView1};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

use super::{CurationError, CurationParams};

/// Cluster index per row, `None` for noise.
pub fn cluster(
    coords: &Array2<f64>,
    params: &CurationParams,
) -> Result<Vec<Option<usize>>, CurationError> {
    let rng = Xoshiro256Plus::seed_from_u64(params.seed);
    let ds = DatasetBase::from(coords.clone());
    let model = KMeans::params_with_rng(params.k, rng)
        .n_runs(16)
        .max_n_iterations(500)
        .tolerance(1e-8)
        .fit(&ds)
        .map_err(|e| CurationError::KMeans(e.to_string()))?;
    let labels = model.predict(coords);
    let centroids = model.centroids();
    let n = coords.nrows();
    let dist_to_centroid: Vec<f64> = (0..n)
        .map(|i| dist(coords.row(i), centroids.row(labels[i])))
        .collect();
    let mut sorted = dist_to_centroid.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[n / 2];
    let radius = params.noise_threshold * median;
    Ok((0..n)
        .map(|i| {
            let far_from_centre = dist_to_centroid[i] > radius;
            let has_neighbour = (0..n).any(|j| {
                j != i && labels[j] == labels[i] && dist(coords.row(i), coords.row(j)) <= radius
            });
            (!far_from_centre && has_neighbour).then_some(labels[i])
        })
        .collect())
}

fn dist(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}
