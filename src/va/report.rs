//! The VA evaluation: the model against the two baselines that the earlier model's failure is
//! measured by, so "beats regression to the mean" is a number, not an impression.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::metrics::{DimMetrics, WithinLabel, ccc, dim_metrics, within_label};

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
    /// How far the model's figures move with the sample of tracks alone (absent in reports
    /// written before it).
    #[serde(default)]
    pub sampling: Option<VaSampling>,
}

/// Standard deviations of the model's figures over a bootstrap of the evaluated tracks: each
/// resample draws, inside every predicted label, as many tracks as it has, with replacement; the
/// predictions stay fixed. A test split of 88 tracks (8 per label) moves the within-label r by
/// about 0.1 on its own, so a figure this close to a threshold says little either way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VaSampling {
    pub resamples: usize,
    pub valence: SamplingSd,
    pub arousal: SamplingSd,
}

/// One dimension's bootstrap standard deviations.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SamplingSd {
    pub ccc: f64,
    /// Of the model's CCC minus the label-centroid baseline's on the same resample.
    pub ccc_over_centroid: f64,
    pub within_pearson: f64,
}

/// Enough for a standard deviation to two digits; the seed makes the report reproducible.
const RESAMPLES: usize = 500;
const RESAMPLE_SEED: u64 = 20;

impl VaSampling {
    fn of(
        pred: &[[f64; 2]],
        truth: &[[f64; 2]],
        centroids: &[[f64; 2]],
        predicted_class: &[usize],
    ) -> Option<VaSampling> {
        let classes = predicted_class.iter().max()? + 1;
        let mut members = vec![Vec::new(); classes];
        for (i, &c) in predicted_class.iter().enumerate() {
            members[c].push(i);
        }
        let centres: [Vec<f64>; 2] =
            std::array::from_fn(|j| centroids.iter().map(|c| c[j]).collect());
        let mut rng = StdRng::seed_from_u64(RESAMPLE_SEED);
        let mut figures = vec![[[0.0; 3]; 2]; RESAMPLES];
        let mut sample = Vec::with_capacity(truth.len());
        for f in figures.iter_mut() {
            sample.clear();
            for m in members.iter().filter(|m| !m.is_empty()) {
                sample.extend((0..m.len()).map(|_| m[rng.gen_range(0..m.len())]));
            }
            let classes: Vec<usize> = sample.iter().map(|&i| predicted_class[i]).collect();
            for (j, dim) in f.iter_mut().enumerate() {
                let col = |a: &[[f64; 2]]| sample.iter().map(|&i| a[i][j]).collect::<Vec<_>>();
                let (p, t) = (col(pred), col(truth));
                let c: Vec<f64> = classes.iter().map(|&k| centres[j][k]).collect();
                let model = ccc(&p, &t);
                *dim = [
                    model,
                    model - ccc(&c, &t),
                    within_label(&p, &t, &classes, &centres[j]).pearson,
                ];
            }
        }
        let sd = |j: usize, k: usize| {
            let xs: Vec<f64> = figures.iter().map(|f| f[j][k]).collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt()
        };
        let dim = |j: usize| SamplingSd {
            ccc: sd(j, 0),
            ccc_over_centroid: sd(j, 1),
            within_pearson: sd(j, 2),
        };
        Some(VaSampling {
            resamples: RESAMPLES,
            valence: dim(0),
            arousal: dim(1),
        })
    }
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
            sampling: VaSampling::of(pred, truth, centroids, predicted_class),
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
        if let Some(b) = &self.sampling {
            s.push_str(&format!(
                "how far the sample alone moves the model's figures (bootstrap SD, {} resamples):\n{:<16} {:>4} {:>7} {:>13} {:>9}\n",
                b.resamples, "", "dim", "CCC", "over centroid", "within r"
            ));
            for (dim, d) in [("V", &b.valence), ("A", &b.arousal)] {
                s.push_str(&format!(
                    "{:<16} {:>4} {:>7.3} {:>13.3} {:>9.3}\n",
                    "model", dim, d.ccc, d.ccc_over_centroid, d.within_pearson
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

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

    /// The bootstrap's spread is the test sample's: none for a predictor equal to the truth, and
    /// for a noisy one several times smaller with ten times the tracks per label (√10 for a
    /// standard error; more here, as eight tracks give each label's r a wide, skewed spread).
    #[test]
    fn sample_spread_is_zero_for_the_truth_and_shrinks_with_more_tracks() {
        let corpus = |per_label: usize, seed: u64| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut noise = || rng.gen_range(-0.1..0.1);
            let (mut truth, mut pred, mut classes) = (vec![], vec![], vec![]);
            for c in 0..11 {
                for _ in 0..per_label {
                    let t = [0.06 * c as f64 + noise(), 0.8 - 0.05 * c as f64 + noise()];
                    truth.push(t);
                    pred.push([t[0] + noise(), t[1] + noise()]);
                    classes.push(c);
                }
            }
            let centroids: Vec<[f64; 2]> = (0..11)
                .map(|c| [0.06 * c as f64, 0.8 - 0.05 * c as f64])
                .collect();
            (truth, pred, classes, centroids)
        };
        let (truth, _, classes, centroids) = corpus(8, 1);
        let exact = VaReport::evaluate("test", &truth, &truth, [0.3, 0.5], &centroids, &classes);
        let b = exact.sampling.expect("tracks to resample");
        assert_eq!(b.resamples, RESAMPLES);
        assert!(
            b.valence.ccc < 1e-12 && b.valence.within_pearson < 1e-12,
            "{b:?}"
        );
        assert!(b.valence.ccc_over_centroid > 0.0, "{b:?}");
        let sd = |per_label| {
            let (truth, pred, classes, centroids) = corpus(per_label, 2);
            let r = VaReport::evaluate("test", &pred, &truth, [0.3, 0.5], &centroids, &classes);
            let w = r.within_model.valence.pearson;
            assert!(w > 0.4 && w < 0.9, "within r {w}");
            r.sampling.unwrap().valence.within_pearson
        };
        let (small, large) = (sd(8), sd(80));
        assert!(small > 0.04 && small < 0.2, "8 per label: {small}");
        let ratio = small / large;
        assert!(
            ratio > 2.5 && ratio < 6.0,
            "8 vs 80 per label: {small} / {large}"
        );
        assert!(exact.table().contains("bootstrap SD, 500 resamples"));
    }
}
