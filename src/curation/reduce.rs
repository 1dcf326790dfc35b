//! PCA with linfa-reduction.

use linfa::prelude::*;
use linfa_reduction::Pca;
use ndarray::Array2;

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
    Ok(Reduced {
        coords,
        explained_variance_ratio: model.explained_variance_ratio().to_vec(),
    })
}
