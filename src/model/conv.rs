//! The weight gradient of a 2-D convolution as im2col + one gemm per batch item.
//!
//! burn computes it (on flex and ndarray alike) as a convolution of the input by the output gradient,
//! with batch and channel axes swapped: strided copies of both whole tensors, then an im2col whose
//! "kernel" is the full output plane and whose output is only kernel-sized (9 columns for a 3×3
//! conv). Here each batch item's input is unfolded once into `[in·kh·kw, positions]` rows and
//! multiplied by its `[out, positions]` output gradient with the `gemm` crate (the kernels flex's own
//! matmul uses): the same arithmetic as the forward pass, in the layout gemm runs fastest.

use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

/// Sizes of one convolution, input `[batch, c_in, h, w]`, output gradient `[batch, c_out, ho, wo]`.
#[derive(Debug, Clone, Copy)]
pub struct ConvShape {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub ho: usize,
    pub wo: usize,
    pub kernel: [usize; 2],
}

/// `d loss / d weight`, `[c_out, c_in, kh, kw]` row-major, for stride, padding and dilation of
/// `options` (groups must be 1).
pub fn weight_grad(x: &[f32], grad: &[f32], s: ConvShape, options: &ConvOptions<2>) -> Vec<f32> {
    assert_eq!(
        options.groups, 1,
        "grouped convolutions use burn's weight gradient"
    );
    let [kh, kw] = s.kernel;
    let ck = s.c_in * kh * kw;
    let l = s.ho * s.wo;
    let (x_len, g_len) = (s.c_in * s.h * s.w, s.c_out * l);
    assert_eq!(x.len(), s.batch * x_len, "input size");
    assert_eq!(grad.len(), s.batch * g_len, "output gradient size");
    let dw_len = s.c_out * ck;
    (0..s.batch)
        .into_par_iter()
        .fold(
            || (vec![0f32; dw_len], vec![0f32; ck * l]),
            |(mut dw, mut cols), b| {
                im2col(&x[b * x_len..][..x_len], s, options, &mut cols);
                let g = &grad[b * g_len..][..g_len];
                // dw[o, j] += Σ_p g[o, p] · cols[j, p]: lhs g is [c_out, l] row-major, rhs is
                // cols transposed ([l, ck], column stride l).
                // SAFETY: every pointer covers the extents given with its strides: dw is
                // c_out × ck (row stride ck), g is c_out × l (row stride l), cols is ck × l.
                unsafe {
                    gemm::gemm(
                        s.c_out,
                        ck,
                        l,
                        dw.as_mut_ptr(),
                        1,
                        ck as isize,
                        true,
                        g.as_ptr(),
                        1,
                        l as isize,
                        cols.as_ptr(),
                        l as isize,
                        1,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
                (dw, cols)
            },
        )
        .map(|(dw, _)| dw)
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            a
        })
        .unwrap_or_else(|| vec![0f32; dw_len])
}

/// Unfolds one item `[c_in, h, w]` into `cols`, `[c_in·kh·kw, ho·wo]`: row `(c, ky, kx)` holds the
/// input value each output position reads through that kernel tap (0 in the padding).
fn im2col(x: &[f32], s: ConvShape, options: &ConvOptions<2>, cols: &mut [f32]) {
    let [kh, kw] = s.kernel;
    let [sy, sx] = options.stride;
    let [py, px] = options.padding;
    let [dy, dx] = options.dilation;
    let l = s.ho * s.wo;
    for (j, row) in cols.chunks_exact_mut(l).enumerate() {
        let (c, ky, kx) = (j / (kh * kw), j / kw % kh, j % kw);
        let plane = &x[c * s.h * s.w..][..s.h * s.w];
        for (oy, out) in row.chunks_exact_mut(s.wo).enumerate() {
            let iy = (oy * sy + ky * dy) as isize - py as isize;
            if iy < 0 || iy >= s.h as isize {
                out.fill(0.0);
                continue;
            }
            let line = &plane[iy as usize * s.w..][..s.w];
            for (ox, o) in out.iter_mut().enumerate() {
                let ix = (ox * sx + kx * dx) as isize - px as isize;
                *o = if ix < 0 || ix >= s.w as isize {
                    0.0
                } else {
                    line[ix as usize]
                };
            }
        }
    }
}
