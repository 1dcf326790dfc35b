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
}
