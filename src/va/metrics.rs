//! Agreement between predicted and true VA values, per dimension.
//!
//! CCC (Lin's concordance) is the headline: unlike Pearson's r it punishes predictions that are
//! shrunk toward the mean, and the **spread ratio** std(pred)/std(true) names that failure directly
//! (a model that regresses to the mean has a ratio far below 1 even when r looks fine).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DimMetrics {
    pub ccc: f64,
    pub pearson: f64,
    pub rmse: f64,
    pub r2: f64,
    /// mean(pred) − mean(true).
    pub bias: f64,
    /// std(pred) / std(true).
    pub spread_ratio: f64,
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Population variance and covariance (divide by n), as in Lin's definition of the CCC.
fn moments(pred: &[f64], truth: &[f64]) -> (f64, f64, f64, f64, f64) {
    let (mp, mt) = (mean(pred), mean(truth));
    let n = pred.len() as f64;
    let vp = pred.iter().map(|p| (p - mp).powi(2)).sum::<f64>() / n;
    let vt = truth.iter().map(|t| (t - mt).powi(2)).sum::<f64>() / n;
    let cov = pred
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - mp) * (t - mt))
        .sum::<f64>()
        / n;
    (mp, mt, vp, vt, cov)
}

/// Lin's concordance correlation coefficient; 0 when both series are constant.
pub fn ccc(pred: &[f64], truth: &[f64]) -> f64 {
    let (mp, mt, vp, vt, cov) = moments(pred, truth);
    let denom = vp + vt + (mp - mt).powi(2);
    if denom == 0.0 { 0.0 } else { 2.0 * cov / denom }
}

/// Pearson's r; 0 when either series is constant (no linear relation can be measured).
pub fn pearson(pred: &[f64], truth: &[f64]) -> f64 {
    let (_, _, vp, vt, cov) = moments(pred, truth);
    if vp == 0.0 || vt == 0.0 {
        0.0
    } else {
        cov / (vp * vt).sqrt()
    }
}

pub fn rmse(pred: &[f64], truth: &[f64]) -> f64 {
    (pred
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t).powi(2))
        .sum::<f64>()
        / pred.len() as f64)
        .sqrt()
}

/// Coefficient of determination against the truth's own mean.
pub fn r2(pred: &[f64], truth: &[f64]) -> f64 {
    let mt = mean(truth);
    let ss_res: f64 = pred.iter().zip(truth).map(|(p, t)| (t - p).powi(2)).sum();
    let ss_tot: f64 = truth.iter().map(|t| (t - mt).powi(2)).sum();
    if ss_tot == 0.0 {
        0.0
    } else {
        1.0 - ss_res / ss_tot
    }
}

pub fn spread_ratio(pred: &[f64], truth: &[f64]) -> f64 {
    let (_, _, vp, vt, _) = moments(pred, truth);
    if vt == 0.0 { 0.0 } else { (vp / vt).sqrt() }
}

/// All figures for one dimension. Panics on empty or unequal-length input (a caller bug).
pub fn dim_metrics(pred: &[f64], truth: &[f64]) -> DimMetrics {
    assert!(
        !pred.is_empty() && pred.len() == truth.len(),
        "metrics need equal, non-empty series"
    );
    DimMetrics {
        ccc: ccc(pred, truth),
        pearson: pearson(pred, truth),
        rmse: rmse(pred, truth),
        r2: r2(pred, truth),
        bias: mean(pred) - mean(truth),
        spread_ratio: spread_ratio(pred, truth),
    }
}

/// What a predictor adds inside a label, where "classify, then place the track at its label's
/// centre" adds nothing: both figures are exactly 0 for that baseline, so any value above 0 is
/// VA information the embedding carries beyond the class.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WithinLabel {
    /// Pearson's r between prediction and truth inside each label, averaged over the labels with
    /// at least [`MIN_GROUP`] tracks, weighted by their track counts.
    pub pearson: f64,
    /// CCC of the residuals once each track's label centroid is subtracted from both prediction
    /// and truth.
    pub residual_ccc: f64,
}

/// Fewer tracks than this in a label give no usable correlation; such labels are left out of the
/// average (their residuals still count in `residual_ccc`).
pub const MIN_GROUP: usize = 3;

/// [`WithinLabel`] for one dimension. `groups[i]` is track i's label and `centroids[g]` that
/// label's centre (on the training split). Panics on unequal lengths (a caller bug).
pub fn within_label(
    pred: &[f64],
    truth: &[f64],
    groups: &[usize],
    centroids: &[f64],
) -> WithinLabel {
    assert!(
        pred.len() == truth.len() && pred.len() == groups.len(),
        "within-label metrics need one label per track"
    );
    let labels = groups.iter().max().map_or(0, |&g| g + 1);
    let (mut weighted, mut weight) = (0.0, 0usize);
    for g in 0..labels {
        let members: Vec<usize> = (0..groups.len()).filter(|&i| groups[i] == g).collect();
        if members.len() < MIN_GROUP {
            continue;
        }
        let p: Vec<f64> = members.iter().map(|&i| pred[i]).collect();
        let t: Vec<f64> = members.iter().map(|&i| truth[i]).collect();
        weighted += pearson(&p, &t) * members.len() as f64;
        weight += members.len();
    }
    let residual = |x: &[f64]| -> Vec<f64> {
        x.iter()
            .zip(groups)
            .map(|(v, &g)| v - centroids[g])
            .collect()
    };
    WithinLabel {
        pearson: if weight == 0 {
            0.0
        } else {
            weighted / weight as f64
        },
        residual_ccc: if pred.is_empty() {
            0.0
        } else {
            ccc(&residual(pred), &residual(truth))
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    /// pred = [1,2,3], truth = [2,4,6]: means 2 and 4, var 2/3 and 8/3, cov 4/3.
    /// CCC = 2·(4/3) / (2/3 + 8/3 + 4) = (8/3)/(22/3) = 4/11.
    #[test]
    fn hand_computed_values() {
        let (p, t) = ([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]);
        let m = dim_metrics(&p, &t);
        assert_abs_diff_eq!(m.ccc, 4.0 / 11.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.pearson, 1.0, epsilon = 1e-12);
        // errors 1, 2, 3 → mean square 14/3
        assert_abs_diff_eq!(m.rmse, (14.0f64 / 3.0).sqrt(), epsilon = 1e-12);
        // ss_res = 14, ss_tot = 8 → 1 − 14/8
        assert_abs_diff_eq!(m.r2, 1.0 - 14.0 / 8.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.bias, -2.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.spread_ratio, 0.5, epsilon = 1e-12);
    }

    #[test]
    fn perfect_prediction() {
        let t = [0.1, 0.5, 0.9, 0.3];
        let m = dim_metrics(&t, &t);
        assert_abs_diff_eq!(m.ccc, 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.r2, 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.rmse, 0.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.spread_ratio, 1.0, epsilon = 1e-12);
    }

    /// The failure musav must detect: right direction, shrunk to the mean.
    #[test]
    fn shrunk_predictions_keep_pearson_but_lose_ccc_and_spread() {
        let t = [0.1, 0.3, 0.5, 0.7, 0.9];
        let shrunk: Vec<f64> = t.iter().map(|v| 0.5 + 0.1 * (v - 0.5)).collect();
        let m = dim_metrics(&shrunk, &t);
        assert_abs_diff_eq!(m.pearson, 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.spread_ratio, 0.1, epsilon = 1e-12);
        // CCC = 2·0.1·v / (0.01·v + v) = 0.2/1.01
        assert_abs_diff_eq!(m.ccc, 0.2 / 1.01, epsilon = 1e-12);
    }

    #[test]
    fn constant_prediction_gives_zero_ccc_and_r() {
        let t = [0.2, 0.4, 0.6];
        let m = dim_metrics(&[0.4, 0.4, 0.4], &t);
        assert_abs_diff_eq!(m.ccc, 0.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.pearson, 0.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.spread_ratio, 0.0, epsilon = 1e-12);
        assert_abs_diff_eq!(m.r2, 0.0, epsilon = 1e-12);
    }

    /// The label-centroid predictor is constant inside each label and its residuals are all 0, so
    /// it scores exactly 0 on both figures; a predictor that follows the truth inside each label
    /// scores 1.
    #[test]
    fn within_label_figures_isolate_what_the_class_does_not_explain() {
        let groups = [0, 0, 0, 0, 1, 1, 1, 1];
        let centroids = [0.2, 0.7];
        let truth = [0.1, 0.15, 0.25, 0.3, 0.6, 0.65, 0.75, 0.8];
        let baseline: Vec<f64> = groups.iter().map(|&g| centroids[g]).collect();
        let b = within_label(&baseline, &truth, &groups, &centroids);
        assert_eq!(b.pearson, 0.0);
        assert_eq!(b.residual_ccc, 0.0);
        let exact = within_label(&truth, &truth, &groups, &centroids);
        assert_abs_diff_eq!(exact.pearson, 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(exact.residual_ccc, 1.0, epsilon = 1e-12);
        // Right order inside label 0, reversed inside label 1 (4 tracks each): r = (1 − 1) / 2.
        let mixed = [0.1, 0.15, 0.25, 0.3, 0.8, 0.75, 0.65, 0.6];
        let m = within_label(&mixed, &truth, &groups, &centroids);
        assert_abs_diff_eq!(m.pearson, 0.0, epsilon = 1e-12);
        // Whole-set Pearson would still be high: the labels' centres carry it.
        assert!(pearson(&mixed, &truth) > 0.8);
    }

    #[test]
    fn labels_too_small_for_a_correlation_are_left_out_of_the_average() {
        // Label 1 has two tracks in reverse order; only label 0 (r = 1) is averaged.
        let groups = [0, 0, 0, 1, 1];
        let truth = [0.1, 0.2, 0.3, 0.6, 0.8];
        let pred = [0.1, 0.2, 0.3, 0.8, 0.6];
        let w = within_label(&pred, &truth, &groups, &[0.2, 0.7]);
        assert_abs_diff_eq!(w.pearson, 1.0, epsilon = 1e-12);
        assert!(w.residual_ccc < 1.0);
    }
}
