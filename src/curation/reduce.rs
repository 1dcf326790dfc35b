//! PCA with linfa-reduction.

use linfa::prelude::*;
use linfa_reduction::Pca;
use ndarray::{Array2, Axis};

use super::CurationError;

pub struct Reduced {
    /// One row per input row, `components` columns.
    pub coords: Array2<f64>,
    pub explained_variance_ratio: Vec<f64>,
}

pub fn pca(vectors: &Array2<f64>, components: usize, _seed: u64) -> Result<Reduced, CurationError> {
    let ds = DatasetBase::from(vectors.clone());
    let model = Pca::params(components)
        .whiten(false)
        .fit(&ds)
        .map_err(|e| CurationError::Pca(e.to_string()))?;
    let coords = model.predict(vectors);
    // linfa's ratio is relative to the kept components only (and its `explained_variance` divides
    // by the number of components, not samples); report σ² against the data's total sum of squares so
    // "how much do 10 components keep" has an honest answer.
    let total: f64 = vectors.var_axis(Axis(0), 0.0).sum() * vectors.nrows() as f64;
    Ok(Reduced {
        coords,
        explained_variance_ratio: model
            .singular_values()
            .iter()
            .map(|s| s * s / total)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a plane in 4-D: two components carry all the variance, one alone only part.
    #[test]
    fn explained_variance_is_relative_to_total() {
        let rows: Vec<f64> = (0..30)
            .flat_map(|i| {
                let t = i as f64;
                let s = ((i * 7) % 11) as f64;
                [t, 2.0 * t + s, -t, 0.5 * s]
            })
            .collect();
        let v = Array2::from_shape_vec((30, 4), rows).unwrap();
        let two = pca(&v, 2, 0).unwrap();
        let sum: f64 = two.explained_variance_ratio.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-6,
            "{:?}",
            two.explained_variance_ratio
        );
        assert!(two.explained_variance_ratio[0] > two.explained_variance_ratio[1]);
        let one = pca(&v, 1, 0).unwrap();
        assert!(
            one.explained_variance_ratio[0] < 0.999,
            "{:?}",
            one.explained_variance_ratio
        );
        assert_eq!(two.coords.dim(), (30, 2));
    }
}
