//! Single-label classification figures. Balanced accuracy and macro-F1 matter more than accuracy
//! here: the largest label has ~50× the tracks of the smallest, so a model that ignores small labels
//! can still look accurate.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// True tracks of this class.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub tracks: usize,
    pub accuracy: f64,
    /// Mean per-class recall over classes with support.
    pub balanced_accuracy: f64,
    /// Mean per-class F1 over classes with support.
    pub macro_f1: f64,
    pub top3_accuracy: f64,
    pub per_class: Vec<LabelScores>,
    /// `confusion[true][predicted]` track counts.
    pub confusion: Vec<Vec<usize>>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Figures from true classes and per-track class probabilities (`probs[i].len()` = classes).
pub fn evaluate(truth: &[usize], probs: &[Vec<f32>], classes: usize) -> Metrics {
    let mut confusion = vec![vec![0usize; classes]; classes];
    let mut top3 = 0;
    for (&t, p) in truth.iter().zip(probs) {
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
        if let Some(&pred) = order.first() {
            confusion[t][pred] += 1;
        }
        if order.iter().take(3).any(|&c| c == t) {
            top3 += 1;
        }
    }
    let n = truth.len();
    let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
    let per_class: Vec<LabelScores> = (0..classes)
        .map(|c| {
            let tp = confusion[c][c];
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = confusion.iter().map(|row| row[c]).sum();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            LabelScores {
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let with_support: Vec<&LabelScores> = per_class.iter().filter(|s| s.support > 0).collect();
    let mean = |f: fn(&LabelScores) -> f64| {
        if with_support.is_empty() {
            0.0
        } else {
            with_support.iter().map(|s| f(s)).sum::<f64>() / with_support.len() as f64
        }
    };
    Metrics {
        tracks: n,
        accuracy: ratio(correct, n),
        balanced_accuracy: mean(|s| s.recall),
        macro_f1: mean(|s| s.f1),
        top3_accuracy: ratio(top3, n),
        per_class,
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn onehot(c: usize, k: usize) -> Vec<f32> {
        let mut v = vec![0.1; k];
        v[c] = 0.9;
        v
    }

    /// Hand-computed: truth [0,0,0,1,2,2], predicted [0,0,1,1,2,0].
    #[test]
    fn hand_computed_example() {
        let truth = [0, 0, 0, 1, 2, 2];
        let pred = [0, 0, 1, 1, 2, 0];
        let probs: Vec<Vec<f32>> = pred.iter().map(|&p| onehot(p, 4)).collect();
        let m = evaluate(&truth, &probs, 4);
        assert_eq!(m.confusion[0], vec![2, 1, 0, 0]);
        assert_eq!(m.confusion[2], vec![1, 0, 1, 0]);
        assert_abs_diff_eq!(m.accuracy, 4.0 / 6.0, epsilon = 1e-12);
        // class 0: P 2/3 R 2/3; class 1: P 1/2 R 1; class 2: P 1 R 1/2; class 3 has no support.
        assert_abs_diff_eq!(m.per_class[1].precision, 0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(
            m.balanced_accuracy,
            (2.0 / 3.0 + 1.0 + 0.5) / 3.0,
            epsilon = 1e-12
        );
        let f1 = [2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0];
        assert_abs_diff_eq!(m.macro_f1, f1.iter().sum::<f64>() / 3.0, epsilon = 1e-12);
        assert_eq!(m.per_class[3].support, 0);
    }

    #[test]
    fn top3_counts_the_true_class_among_the_three_best() {
        let probs = vec![vec![0.4, 0.3, 0.2, 0.1], vec![0.4, 0.3, 0.2, 0.1]];
        let m = evaluate(&[2, 3], &probs, 4);
        assert_abs_diff_eq!(m.top3_accuracy, 0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(m.accuracy, 0.0, epsilon = 1e-12);
    }
}
