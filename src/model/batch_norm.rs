//! Training-mode batch norm as one fused operation (forward and backward kernels).
//!
//! Built from tensor ops, batch norm costs about ten passes over the activation forward and as many
//! backward (broadcasts, reductions over non-contiguous axes, their autodiff bookkeeping); on burn's
//! flex backend the network's batch norms took longer than its convolutions (`MUSAV_BENCH_OPS=1
//! scripts/bench-train.sh`: 102 ms forward + backward at 16 × 64 × 48 × 71, 24.5 ms fused). Here the
//! statistics, the normalisation and the gradient are each one pass over `[batch, channels,
//! positions]`, parallel with rayon; `super::ops` wires them into burn's autodiff.

//! The data is `[batch, channels, positions]` row-major: rows of one channel are `positions` long and
//! `channels` rows apart. Sums run in 16 f32 lanes per row (which the compiler vectorises) and in f64
//! across rows.

use rayon::prelude::*;

const LANES: usize = 16;

/// Sum of `f(i)` over one row, in lanes.
#[inline(always)]
fn row_sum(n: usize, f: impl Fn(usize) -> f32) -> f64 {
    let mut acc = [0f32; LANES];
    let full = n / LANES * LANES;
    for base in (0..full).step_by(LANES) {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += f(base + l);
        }
    }
    let tail: f32 = (full..n).map(&f).sum();
    acc.iter().map(|&a| a as f64).sum::<f64>() + tail as f64
}

/// `(y, mean, var)`: the normalised output and each channel's batch mean and biased variance.
pub fn forward(
    x: &[f32],
    [b, c, n]: [usize; 3],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let count = (b * n) as f64;
    let row = |bi: usize, ch: usize| &x[(bi * c + ch) * n..][..n];
    // Two passes (mean, then centred squares): E[x²] - E[x]² loses the variance of activations
    // whose mean is large against their spread.
    let (mean, var): (Vec<f32>, Vec<f32>) = (0..c)
        .into_par_iter()
        .map(|ch| {
            let mean = (0..b)
                .map(|bi| {
                    let r = row(bi, ch);
                    row_sum(n, |i| r[i])
                })
                .sum::<f64>()
                / count;
            let m = mean as f32;
            let var = (0..b)
                .map(|bi| {
                    let r = row(bi, ch);
                    row_sum(n, |i| (r[i] - m) * (r[i] - m))
                })
                .sum::<f64>()
                / count;
            (m, var as f32)
        })
        .unzip();
    let (scale, shift): (Vec<f32>, Vec<f32>) = (0..c)
        .map(|ch| {
            let s = gamma[ch] as f64 / (var[ch] as f64 + epsilon).sqrt();
            (s as f32, (beta[ch] as f64 - mean[ch] as f64 * s) as f32)
        })
        .unzip();
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(n)
        .zip(x.par_chunks(n))
        .enumerate()
        .for_each(|(r, (yr, xr))| {
            let (s, t) = (scale[r % c], shift[r % c]);
            for (yv, &xv) in yr.iter_mut().zip(xr) {
                *yv = xv * s + t;
            }
        });
    (y, mean, var)
}

/// `(dx, dgamma, dbeta)` for the output gradient `grad`.
pub fn backward(
    x: &[f32],
    [b, c, n]: [usize; 3],
    gamma: &[f32],
    mean: &[f32],
    var: &[f32],
    epsilon: f64,
    grad: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let count = (b * n) as f64;
    let at = |bi: usize, ch: usize| (bi * c + ch) * n;
    // Per channel: Σ dy and Σ dy·(x - mean).
    let (sum_dy, sum_dy_xc): (Vec<f64>, Vec<f64>) = (0..c)
        .into_par_iter()
        .map(|ch| {
            let m = mean[ch];
            (0..b).fold((0.0, 0.0), |(s, sx), bi| {
                let (xr, gr) = (&x[at(bi, ch)..][..n], &grad[at(bi, ch)..][..n]);
                (
                    s + row_sum(n, |i| gr[i]),
                    sx + row_sum(n, |i| gr[i] * (xr[i] - m)),
                )
            })
        })
        .unzip();
    let inv_std: Vec<f64> = var
        .iter()
        .map(|&v| 1.0 / (v as f64 + epsilon).sqrt())
        .collect();
    let dgamma: Vec<f32> = (0..c)
        .map(|ch| (sum_dy_xc[ch] * inv_std[ch]) as f32)
        .collect();
    let dbeta: Vec<f32> = sum_dy.iter().map(|&s| s as f32).collect();
    // dx = g·is·(dy - Σdy/M - (x - mean)·is²·Σdy(x - mean)/M) = a·dy + k·(x - mean) + d.
    let coef: Vec<(f32, f32, f32, f32)> = (0..c)
        .map(|ch| {
            let (g, is) = (gamma[ch] as f64, inv_std[ch]);
            let a = g * is;
            let k = -g * is * is * is * sum_dy_xc[ch] / count;
            let d = -a * sum_dy[ch] / count;
            (a as f32, k as f32, d as f32, mean[ch])
        })
        .collect();
    let mut dx = vec![0f32; x.len()];
    dx.par_chunks_mut(n)
        .zip(x.par_chunks(n).zip(grad.par_chunks(n)))
        .enumerate()
        .for_each(|(r, (dr, (xr, gr)))| {
            let (a, k, d, m) = coef[r % c];
            for ((dv, &xv), &gv) in dr.iter_mut().zip(xr).zip(gr) {
                *dv = a * gv + k * (xv - m) + d;
            }
        });
    (dx, dgamma, dbeta)
}
