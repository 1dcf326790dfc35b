//! The VA evaluation: the model against the two baselines that the earlier model's failure is
//! measured by, so "beats regression to the mean" is a number, not an impression.

use serde::{Deserialize, Serialize};

use super::metrics::{DimMetrics, WithinLabel, dim_metrics, within_label};

/// Figures for both dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VaMetrics {
    pub valence: DimMetrics,
    pub arousal: DimMetrics,
}

impl VaMetrics {
    pub fn of(pred: &[[f64; 2]], truth: &[[f64; 2]]) -> VaMetrics {
        let col = |a: &[[f64; 2]], j: usize| a.iter().map(|p| p[j]).collect::<Vec<_>>();
        VaMetrics {
            valence: dim_metrics(&col(pred, 0), &col(truth, 0)),
            arousal: dim_metrics(&col(pred, 1), &col(truth, 1)),
        }
    }

    pub fn mean_ccc(&self) -> f64 {
        (self.valence.ccc + self.arousal.ccc) / 2.0
    }
}

/// [`WithinLabel`] for both dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WithinVa {
    pub valence: WithinLabel,
    pub arousal: WithinLabel,
}

impl WithinVa {
    /// Labels are the classifier's predicted classes: the ones whose centroids the label-centroid
    /// baseline places tracks at, so that baseline scores exactly 0 here.
    pub fn of(
        pred: &[[f64; 2]],
        truth: &[[f64; 2]],
        predicted_class: &[usize],
        centroids: &[[f64; 2]],
    ) -> WithinVa {
        let col = |a: &[[f64; 2]], j: usize| a.iter().map(|p| p[j]).collect::<Vec<_>>();
        let dim = |j: usize| {
            within_label(
                &col(pred, j),
                &col(truth, j),
                predicted_class,
                &col(centroids, j),
            )
        };
        WithinVa {
            valence: dim(0),
            arousal: dim(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaReport {
    pub split: String,
    pub tracks: usize,
    pub model: VaMetrics,
    /// Every track gets the training set's mean VA point.
    pub baseline_mean: VaMetrics,
    /// Every track gets the VA point of its predicted class (the class's mean training target).
    pub baseline_label_centroid: VaMetrics,
    /// What the head adds inside each predicted label (reports written before this field load
    /// with zeros).
    #[serde(default)]
    pub within_model: WithinVa,
    /// The same figures for the label-centroid baseline: 0 by construction, computed rather than
    /// assumed so the report shows it.
    #[serde(default)]
    pub within_label_centroid: WithinVa,
}

impl VaReport {
    /// `centroids[c]` is class c's mean training target; `predicted_class[i]` the classifier's choice.
    pub fn evaluate(
        split: &str,
        pred: &[[f64; 2]],
        truth: &[[f64; 2]],
        train_mean: [f64; 2],
        centroids: &[[f64; 2]],
        predicted_class: &[usize],
    ) -> VaReport {
        let mean_pred = vec![train_mean; truth.len()];
        let centroid_pred: Vec<[f64; 2]> = predicted_class.iter().map(|&c| centroids[c]).collect();
        VaReport {
            split: split.to_string(),
            tracks: truth.len(),
            model: VaMetrics::of(pred, truth),
            baseline_mean: VaMetrics::of(&mean_pred, truth),
            baseline_label_centroid: VaMetrics::of(&centroid_pred, truth),
            within_model: WithinVa::of(pred, truth, predicted_class, centroids),
            within_label_centroid: WithinVa::of(&centroid_pred, truth, predicted_class, centroids),
        }
    }

    /// A fixed-width table for the terminal.
    pub fn table(&self) -> String {
        let mut s = format!(
            "VA on {} ({} tracks)\n{:<16} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}\n",
            self.split, self.tracks, "predictor", "dim", "CCC", "r", "RMSE", "R²", "bias", "spread"
        );
        for (name, m) in [
            ("model", &self.model),
            ("mean baseline", &self.baseline_mean),
            ("label centroid", &self.baseline_label_centroid),
        ] {
            for (dim, d) in [("V", &m.valence), ("A", &m.arousal)] {
                s.push_str(&format!(
                    "{:<16} {:>4} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3}\n",
                    name, dim, d.ccc, d.pearson, d.rmse, d.r2, d.bias, d.spread_ratio
                ));
            }
        }
        s.push_str(&format!(
            "within each predicted label: {:<10} {:>9} {:>9}\n",
            "", "r", "resid CCC"
        ));
        for (name, w) in [
            ("model", &self.within_model),
            ("label centroid", &self.within_label_centroid),
        ] {
            for (dim, d) in [("V", &w.valence), ("A", &w.arousal)] {
                s.push_str(&format!(
                    "{:<16} {:>4} {:>19.3} {:>9.3}\n",
                    name, dim, d.pearson, d.residual_ccc
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mean baseline is the failure mode in its purest form: CCC 0, spread 0.
    #[test]
    fn mean_baseline_scores_zero_ccc_and_centroids_score_between() {
        let truth: Vec<[f64; 2]> = (0..40)
            .map(|i| {
                let c = (i % 4) as f64;
                [0.2 * c + 0.01 * (i as f64 % 3.0), 0.8 - 0.15 * c]
            })
            .collect();
        let classes: Vec<usize> = (0..40).map(|i| i % 4).collect();
        let centroids: Vec<[f64; 2]> = (0..4)
            .map(|c| [0.2 * c as f64 + 0.01, 0.8 - 0.15 * c as f64])
            .collect();
        let r = VaReport::evaluate("test", &truth, &truth, [0.3, 0.575], &centroids, &classes);
        assert!(r.baseline_mean.valence.ccc.abs() < 1e-9);
        assert!(r.baseline_mean.arousal.spread_ratio.abs() < 1e-9);
        assert!((r.model.mean_ccc() - 1.0).abs() < 1e-9);
        let c = r.baseline_label_centroid.valence.ccc;
        assert!(c > 0.9 && c < 1.0, "{c}");
        assert!(r.table().contains("label centroid"));
        // A perfect model follows the truth inside each label; the baseline cannot.
        assert!((r.within_model.valence.pearson - 1.0).abs() < 1e-9);
        assert!(r.within_label_centroid.valence.pearson.abs() < 1e-12);
        assert!(r.within_label_centroid.arousal.residual_ccc.abs() < 1e-12);
        assert!(r.table().contains("within each predicted label"));
    }
}
