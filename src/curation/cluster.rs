//! Noise first, then k-means: a tag whose nearest neighbour (in PCA space) lies much farther away
//! than is typical has no group to belong to; it is set apart (DBSCAN's notion of noise), and k-means
//! then splits the remaining tags into exactly `k` clusters. Doing it in this order keeps the number
//! of clusters fixed, which a threshold applied after k-means cannot promise (it can empty a cluster).

use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array2, ArrayView1, Axis};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

use super::{CurationError, CurationParams};

/// Cluster index per row, `None` for noise.
pub fn cluster(
    coords: &Array2<f64>,
    params: &CurationParams,
) -> Result<Vec<Option<usize>>, CurationError> {
    let n = coords.nrows();
    let noise = isolated(coords, params.noise_threshold);
    let kept: Vec<usize> = (0..n).filter(|&i| !noise[i]).collect();
    if kept.len() < params.k {
        return Err(CurationError::TooMuchNoise {
            kept: kept.len(),
            k: params.k,
        });
    }
    let points = coords.select(Axis(0), &kept);
    let rng = Xoshiro256Plus::seed_from_u64(params.seed);
    let model = KMeans::params_with_rng(params.k, rng)
        .n_runs(32)
        .max_n_iterations(500)
        .tolerance(1e-10)
        .fit(&DatasetBase::from(points.clone()))
        .map_err(|e| CurationError::KMeans(e.to_string()))?;
    let labels = model.predict(&points);
    let mut out = vec![None; n];
    for (j, &i) in kept.iter().enumerate() {
        out[i] = Some(labels[j]);
    }
    Ok(out)
}

/// Rows whose nearest other row is farther than `threshold` × the median nearest-neighbour distance.
pub fn isolated(coords: &Array2<f64>, threshold: f64) -> Vec<bool> {
    let n = coords.nrows();
    let nearest: Vec<f64> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| j != i)
                .map(|j| dist(coords.row(i), coords.row(j)))
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let mut sorted = nearest.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(n / 2).copied().unwrap_or(0.0);
    nearest.iter().map(|&d| d > threshold * median).collect()
}

fn dist(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curation::Representation;
    use rand::{Rng, SeedableRng};

    fn params(k: usize) -> CurationParams {
        CurationParams {
            representation: Representation::Ppmi,
            components: 2,
            k,
            seed: 7,
            noise_threshold: 3.0,
        }
    }

    /// Three tight blobs plus two far-away points: the blobs become the clusters, the loners noise.
    #[test]
    fn blobs_cluster_and_loners_are_noise() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let mut rows = Vec::new();
        for &(x, y) in &centres {
            for _ in 0..8 {
                rows.push([x + rng.gen_range(-0.5..0.5), y + rng.gen_range(-0.5..0.5)]);
            }
        }
        rows.push([30.0, 30.0]);
        rows.push([-25.0, 12.0]);
        let coords = Array2::from_shape_vec((rows.len(), 2), rows.concat()).unwrap();
        let a = cluster(&coords, &params(3)).unwrap();
        assert_eq!(a[24], None);
        assert_eq!(a[25], None);
        for b in 0..3 {
            let first = a[b * 8].unwrap();
            assert!(
                (b * 8..b * 8 + 8).all(|i| a[i] == Some(first)),
                "blob {b} split: {a:?}"
            );
        }
        let distinct: std::collections::BTreeSet<_> = a.iter().flatten().collect();
        assert_eq!(distinct.len(), 3);
    }

    #[test]
    fn too_much_noise_is_an_error_not_fewer_clusters() {
        let coords = Array2::from_shape_vec(
            (6, 2),
            vec![
                0.0, 0.0, 0.1, 0.0, 0.0, 0.1, 0.1, 0.1, 50.0, 50.0, -50.0, 40.0,
            ],
        )
        .unwrap();
        assert_eq!(
            isolated(&coords, 3.0),
            [false, false, false, false, true, true]
        );
        assert!(cluster(&coords, &params(4)).is_ok());
        let e = cluster(&coords, &params(5)).unwrap_err();
        assert!(e.to_string().contains("--noise-threshold"), "{e}");
    }
}
