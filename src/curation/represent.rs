//! Tag vectors built from the metadata alone.

use ndarray::Array2;

use super::Representation;
use crate::dataset::Dataset;

/// One row per tag; see [`Representation`] for what the columns mean.
pub fn tag_vectors(dataset: &Dataset, repr: Representation) -> Array2<f64> {
    let n = dataset.tags.len();
    match repr {
        Representation::Incidence => {
            let mut m = Array2::<f64>::zeros((n, dataset.tracks.len()));
            for (j, t) in dataset.tracks.iter().enumerate() {
                for &g in &t.tags {
                    m[[g, j]] = 1.0;
                }
            }
            normalise_rows(m)
        }
        Representation::Cooccurrence | Representation::Ppmi => {
            let (count, _) = dataset.tag_counts();
            let co = cooccurrence(dataset);
            let mut m = Array2::<f64>::zeros((n, n));
            if repr == Representation::Cooccurrence {
                for i in 0..n {
                    for j in 0..n {
                        if i != j && count[i] > 0 {
                            m[[i, j]] = co[[i, j]] / count[i] as f64;
                        }
                    }
                }
            } else {
                let total = dataset.tracks.len() as f64;
                for i in 0..n {
                    for j in 0..n {
                        if i != j && co[[i, j]] > 0.0 {
                            let pmi =
                                (co[[i, j]] * total / (count[i] as f64 * count[j] as f64)).ln();
                            m[[i, j]] = pmi.max(0.0);
                        }
                    }
                }
            }
            normalise_rows(m)
        }
    }
}

/// Tracks on which both tags occur (diagonal: tracks of the tag).
pub fn cooccurrence(dataset: &Dataset) -> Array2<f64> {
    let n = dataset.tags.len();
    let mut co = Array2::<f64>::zeros((n, n));
    for t in &dataset.tracks {
        for &a in &t.tags {
            for &b in &t.tags {
                co[[a, b]] += 1.0;
            }
        }
    }
    co
}

fn normalise_rows(mut m: Array2<f64>) -> Array2<f64> {
    for mut row in m.rows_mut() {
        let norm = row.dot(&row).sqrt();
        if norm > 0.0 {
            row /= norm;
        }
    }
    m
}
