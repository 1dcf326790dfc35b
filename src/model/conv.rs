//! 2-D convolutions for training, in NCHW throughout: the forward pass, the input gradient and the
//! weight gradient, each as gemms (the `gemm` crate, the kernels flex's own matmul uses) in the
//! layout they run fastest, their output written where it belongs.
//!
//! burn's CPU backends take slower paths for all three. flex's forward converts the whole input to
//! NHWC on one thread, allocates a result per 512-position tile and scatters it back to NCHW; its
//! input gradient is a transposed convolution with the same copies; its weight gradient is a
//! convolution of the input by the output gradient with batch and channel axes swapped (strided
//! copies of both tensors, then a 9-column gemm). Here the size-preserving 3×3 convolutions, where
//! most of the network's arithmetic is, take Winograd's minimal filtering for all three
//! ([`super::winograd`]); the others unfold each batch item's input once into `[in·kh·kw,
//! positions]` rows (im2col) and do one gemm per item. A 1×1 stride-1
//! convolution without padding skips the unfolding: the input already is its matrix.

use burn::tensor::ops::ConvOptions;
use burn::tensor::ops::conv::calculate_conv_output_size;
use rayon::prelude::*;

use super::reduce::fixed_order_sum;
use super::winograd;

/// Sizes of one convolution, input `[batch, c_in, h, w]`, output `[batch, c_out, ho, wo]`.
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

impl ConvShape {
    /// The shape of `x: [batch, c_in, h, w]` convolved by `weight: [c_out, c_in, kh, kw]`.
    pub fn new(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Self {
        let [batch, c_in, h, w] = x;
        let [c_out, w_in, kh, kw] = weight;
        assert_eq!(
            options.groups, 1,
            "musav's convolutions are not grouped (groups = 1)"
        );
        assert_eq!(c_in, w_in, "input channels of the input and the weight");
        let out = |n: usize, k: usize, i: usize| {
            calculate_conv_output_size(
                k,
                options.stride[i],
                options.padding[i],
                options.dilation[i],
                n,
            )
        };
        ConvShape {
            batch,
            c_in,
            h,
            w,
            c_out,
            ho: out(h, kh, 0),
            wo: out(w, kw, 1),
            kernel: [kh, kw],
        }
    }

    /// Rows of the unfolded input: one per input channel and kernel tap.
    fn taps(&self) -> usize {
        self.c_in * self.kernel[0] * self.kernel[1]
    }

    fn positions(&self) -> usize {
        self.ho * self.wo
    }

    fn x_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    fn y_len(&self) -> usize {
        self.c_out * self.positions()
    }

    /// Whether the forward pass and the input gradient go through [`winograd`].
    fn winograd(&self, options: &ConvOptions<2>) -> bool {
        winograd::applies(
            self.kernel,
            options.stride,
            options.padding,
            options.dilation,
        )
    }

    /// Whether the unfolded input is the input itself.
    fn pointwise(&self, options: &ConvOptions<2>) -> bool {
        self.kernel == [1, 1] && options.stride == [1, 1] && options.padding == [0, 0]
    }
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` with `accumulate`), each matrix given by its pointer
/// and its (row, column) strides.
///
/// # Safety
/// Every pointer must cover its matrix at the strides given: `dst` m × n, `lhs` m × k, `rhs` k × n.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm(
    [m, n, k]: [usize; 3],
    dst: (*mut f32, usize, usize),
    lhs: (*const f32, usize, usize),
    rhs: (*const f32, usize, usize),
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            dst.2 as isize,
            dst.1 as isize,
            accumulate,
            lhs.0,
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0,
            rhs.2 as isize,
            rhs.1 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// How a batch is spread over threads: one item per task when there are enough items, otherwise
/// the items in turn, each gemm on every thread (inference often sees one or two chunks).
fn per_item(batch: usize) -> Option<gemm::Parallelism> {
    if batch >= rayon::current_num_threads() {
        None
    } else {
        Some(gemm::Parallelism::Rayon(0))
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<[Vec<f32>; 2]> = const { std::cell::RefCell::new([Vec::new(), Vec::new()]) };
}

/// Runs `f` on two scratch buffers of `a` and `b` floats (contents unspecified) that each thread
/// keeps between calls: im2col and Winograd buffers are megabytes, and a fresh zeroed allocation
/// per batch item cost a pass over memory (or page faults) each time. A call nested on the same
/// thread (a rayon worker stealing work inside `f`) gets buffers of its own.
pub(super) fn with_scratch<R>(
    a: usize,
    b: usize,
    f: impl FnOnce(&mut [f32], &mut [f32]) -> R,
) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => {
            let [x, y] = &mut *bufs;
            for (buf, len) in [(&mut *x, a), (&mut *y, b)] {
                if buf.len() < len {
                    buf.resize(len, 0.0);
                }
            }
            f(&mut x[..a], &mut y[..b])
        }
        Err(_) => f(&mut vec![0f32; a], &mut vec![0f32; b]),
    })
}

/// Runs `f(item, out_chunk, scratch, parallelism)` for every batch item, in parallel over items or
/// with parallel gemms (see [`per_item`]); `scratch` is a reusable buffer of `scratch_len` floats.
fn for_each_item(
    out: &mut [f32],
    chunk: usize,
    scratch_len: usize,
    f: impl Fn(usize, &mut [f32], &mut [f32], gemm::Parallelism) + Sync,
) {
    let batch = out.len() / chunk.max(1);
    match per_item(batch) {
        None => out.par_chunks_mut(chunk).enumerate().for_each(|(b, o)| {
            with_scratch(scratch_len, 0, |scratch, _| {
                f(b, o, scratch, gemm::Parallelism::None)
            })
        }),
        Some(par) => {
            for (b, o) in out.chunks_mut(chunk).enumerate() {
                with_scratch(scratch_len, 0, |scratch, _| f(b, o, scratch, par));
            }
        }
    }
}

/// The convolution `[batch, c_out, ho, wo]` of `x` by `weight` (`[c_out, c_in, kh, kw]`), no bias.
pub fn forward(x: &[f32], weight: &[f32], s: ConvShape, options: &ConvOptions<2>) -> Vec<f32> {
    if s.winograd(options) {
        return winograd::conv3x3(x, weight, [s.batch, s.c_in, s.h, s.w], s.c_out);
    }
    forward_unfolded(x, weight, s, options)
}

/// Output positions per item up to which [`forward_reusing_kernels`] unfolds the whole batch into
/// one gemm: on the last blocks' planes (15 positions and fewer on the default network) a gemm per
/// item, or Winograd's per tile, reads the whole weight matrix to make a handful of columns.
const SMALL_PLANE: usize = 32;

/// [`forward`] for weights that stay the same between calls (prediction, validation): the
/// Winograd kernels are transformed once per weight ([`winograd::conv3x3_reusing_kernels`]), and
/// small planes go through one gemm for the whole batch ([`forward_batched`]).
pub fn forward_reusing_kernels(
    x: &[f32],
    weight: &[f32],
    s: ConvShape,
    options: &ConvOptions<2>,
) -> Vec<f32> {
    if s.batch > 1 && s.positions() <= SMALL_PLANE {
        return forward_batched(x, weight, s, options);
    }
    if s.winograd(options) {
        return winograd::conv3x3_reusing_kernels(x, weight, [s.batch, s.c_in, s.h, s.w], s.c_out);
    }
    forward_by_row_blocks(x, weight, s, options)
}

/// Unfolded floats per block of [`forward_by_row_blocks`]: 256 KB, so that a block stays in a
/// core's L2 cache between im2col writing it and the gemm reading it.
const BLOCK_FLOATS: usize = 64 * 1024;

/// [`forward_unfolded`] a few output rows at a time: unfolding a whole item first (2 MB for the
/// second block's strided convolution on the default network) wrote it out to memory and read it
/// back for the gemm.
fn forward_by_row_blocks(
    x: &[f32],
    weight: &[f32],
    s: ConvShape,
    options: &ConvOptions<2>,
) -> Vec<f32> {
    let rows = BLOCK_FLOATS / (s.taps() * s.wo).max(1);
    forward_unfolded_by_rows(x, weight, s, options, rows)
}

/// [`forward`] by im2col + gemm with the items side by side: `[c_out, taps] · [taps, batch·positions]`,
/// so the weights are read once for the batch.
fn forward_batched(x: &[f32], weight: &[f32], s: ConvShape, options: &ConvOptions<2>) -> Vec<f32> {
    let (ck, l) = (s.taps(), s.positions());
    let n = s.batch * l;
    assert_eq!(x.len(), s.batch * s.x_len(), "input size");
    assert_eq!(weight.len(), s.c_out * ck, "weight size");
    let mut y = vec![0f32; s.batch * s.y_len()];
    with_scratch(ck * n, s.c_out * n, |cols, prod| {
        for (b, xb) in x.chunks_exact(s.x_len()).enumerate() {
            im2col(xb, s, options, &mut cols[b * l..], n);
        }
        // prod[o, b·l + p] = Σ_j weight[o, j] · cols[j, b·l + p].
        // SAFETY: prod is c_out × n (row stride n), weight c_out × ck (row stride ck), cols ck × n.
        unsafe {
            gemm(
                [s.c_out, n, ck],
                (prod.as_mut_ptr(), n, 1),
                (weight.as_ptr(), ck, 1),
                (cols.as_ptr(), n, 1),
                false,
                gemm::Parallelism::Rayon(0),
            );
        }
        for (b, yb) in y.chunks_exact_mut(s.y_len()).enumerate() {
            for (o, out) in yb.chunks_exact_mut(l).enumerate() {
                out.copy_from_slice(&prod[o * n + b * l..][..l]);
            }
        }
    });
    y
}

/// [`forward`] by im2col + gemm, whatever the kernel.
pub fn forward_unfolded(
    x: &[f32],
    weight: &[f32],
    s: ConvShape,
    options: &ConvOptions<2>,
) -> Vec<f32> {
    forward_unfolded_by_rows(x, weight, s, options, s.ho)
}

/// [`forward_unfolded`] by blocks of `rows` output rows, each unfolded and multiplied in turn (a
/// pointwise convolution, which needs no unfolding, in one block).
fn forward_unfolded_by_rows(
    x: &[f32],
    weight: &[f32],
    s: ConvShape,
    options: &ConvOptions<2>,
    rows: usize,
) -> Vec<f32> {
    let (ck, l) = (s.taps(), s.positions());
    assert_eq!(x.len(), s.batch * s.x_len(), "input size");
    assert_eq!(weight.len(), s.c_out * ck, "weight size");
    let pointwise = s.pointwise(options);
    let rows = if pointwise { s.ho } else { rows }.clamp(1, s.ho.max(1));
    let mut y = vec![0f32; s.batch * s.y_len()];
    let scratch = if pointwise { 0 } else { ck * rows * s.wo };
    for_each_item(&mut y, s.y_len(), scratch, |b, y, cols, par| {
        let xb = &x[b * s.x_len()..][..s.x_len()];
        for first in (0..s.ho).step_by(rows) {
            let block = first..(first + rows).min(s.ho);
            let n = block.len() * s.wo;
            let rhs = if pointwise {
                xb
            } else {
                im2col_rows(xb, s, options, cols, n, block);
                &*cols
            };
            // y[o, first·wo + p] = Σ_j weight[o, j] · rhs[j, p].
            // SAFETY: y's block is c_out × n at row stride l, weight c_out × ck (row stride ck),
            // rhs ck × n.
            unsafe {
                gemm(
                    [s.c_out, n, ck],
                    (y.as_mut_ptr().add(first * s.wo), l, 1),
                    (weight.as_ptr(), ck, 1),
                    (rhs.as_ptr(), n, 1),
                    false,
                    par,
                );
            }
        }
    });
    y
}

/// `d loss / d x`, `[batch, c_in, h, w]`, for the output gradient `grad` of [`forward`].
pub fn input_grad(
    grad: &[f32],
    weight: &[f32],
    s: ConvShape,
    options: &ConvOptions<2>,
) -> Vec<f32> {
    if s.winograd(options) {
        // The input gradient of a size-preserving 3×3 convolution is one too, by the flipped
        // kernels with the channel axes swapped.
        let flipped = winograd::flip_kernels(weight, s.c_out, s.c_in);
        return winograd::conv3x3(grad, &flipped, [s.batch, s.c_out, s.h, s.w], s.c_in);
    }
    input_grad_unfolded(grad, weight, s, options)
}

/// [`input_grad`] by gemm + col2im, whatever the kernel.
pub fn input_grad_unfolded(
    grad: &[f32],
    weight: &[f32],
    s: ConvShape,
    options: &ConvOptions<2>,
) -> Vec<f32> {
    let (ck, l) = (s.taps(), s.positions());
    assert_eq!(grad.len(), s.batch * s.y_len(), "output gradient size");
    assert_eq!(weight.len(), s.c_out * ck, "weight size");
    let pointwise = s.pointwise(options);
    let mut dx = vec![0f32; s.batch * s.x_len()];
    for_each_item(
        &mut dx,
        s.x_len(),
        if pointwise { 0 } else { ck * l },
        |b, dx, dcols, par| {
            let g = &grad[b * s.y_len()..][..s.y_len()];
            let dst = if pointwise { &mut *dx } else { &mut *dcols };
            // dcols[j, p] = Σ_o weight[o, j] · g[o, p]: lhs is weight transposed.
            // SAFETY: dst is ck × l (row stride l), weightᵀ ck × c_out (column stride ck), g
            // c_out × l.
            unsafe {
                gemm(
                    [ck, l, s.c_out],
                    (dst.as_mut_ptr(), l, 1),
                    (weight.as_ptr(), 1, ck),
                    (g.as_ptr(), l, 1),
                    false,
                    par,
                );
            }
            if !pointwise {
                col2im(dcols, s, options, dx);
            }
        },
    );
    dx
}

/// `d loss / d weight`, `[c_out, c_in, kh, kw]`, for the output gradient `grad` of [`forward`].
pub fn weight_grad(x: &[f32], grad: &[f32], s: ConvShape, options: &ConvOptions<2>) -> Vec<f32> {
    if s.winograd(options) {
        return winograd::weight_grad3x3(x, grad, [s.batch, s.c_in, s.h, s.w], s.c_out);
    }
    weight_grad_unfolded(x, grad, s, options)
}

/// [`weight_grad`] by im2col + gemm, whatever the kernel.
pub fn weight_grad_unfolded(
    x: &[f32],
    grad: &[f32],
    s: ConvShape,
    options: &ConvOptions<2>,
) -> Vec<f32> {
    let (ck, l) = (s.taps(), s.positions());
    assert_eq!(x.len(), s.batch * s.x_len(), "input size");
    assert_eq!(grad.len(), s.batch * s.y_len(), "output gradient size");
    let pointwise = s.pointwise(options);
    let dw_len = s.c_out * ck;
    // dw[o, j] += Σ_p g[o, p] · cols[j, p]: rhs is cols transposed ([l, ck], column stride l).
    let accumulate = |dw: &mut [f32], cols: &mut [f32], b: usize, par| {
        let xb = &x[b * s.x_len()..][..s.x_len()];
        let rhs = if pointwise {
            xb
        } else {
            im2col(xb, s, options, cols, s.positions());
            &*cols
        };
        let g = &grad[b * s.y_len()..][..s.y_len()];
        // SAFETY: dw is c_out × ck (row stride ck), g c_out × l (row stride l), colsᵀ l × ck.
        unsafe {
            gemm(
                [s.c_out, ck, l],
                (dw.as_mut_ptr(), ck, 1),
                (g.as_ptr(), l, 1),
                (rhs.as_ptr(), 1, l),
                true,
                par,
            );
        }
    };
    let scratch = if pointwise { 0 } else { ck * l };
    match per_item(s.batch) {
        None => fixed_order_sum(s.batch, dw_len, |dw, b| {
            with_scratch(scratch, 0, |cols, _| {
                accumulate(dw, cols, b, gemm::Parallelism::None)
            });
        }),
        Some(par) => {
            let mut dw = vec![0f32; dw_len];
            for b in 0..s.batch {
                with_scratch(scratch, 0, |cols, _| accumulate(&mut dw, cols, b, par));
            }
            dw
        }
    }
}

/// For kernel offset `offset` (tap position minus padding) along an axis of `n` inputs and `no`
/// outputs at `stride`: the outputs whose input `o · stride + offset` lies inside, as a range.
fn inside(offset: isize, stride: usize, n: usize, no: usize) -> std::ops::Range<usize> {
    let s = stride as isize;
    let lo = if offset < 0 { (-offset + s - 1) / s } else { 0 };
    let hi = if (n as isize) > offset {
        ((n as isize - offset + s - 1) / s).min(no as isize)
    } else {
        0
    };
    let lo = lo.min(no as isize);
    lo as usize..(hi.max(lo)) as usize
}

/// Where one row of the unfolded matrix (input channel `c`, one kernel tap) reads the input.
struct Tap {
    c: usize,
    /// Input row of output row `oy` is `oy · stride + off_y`.
    off_y: isize,
    /// Output rows and columns whose input lies inside (not in the padding).
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    /// Input column of output column `cols.start`.
    ix0: usize,
}

fn taps(s: ConvShape, options: &ConvOptions<2>) -> impl Iterator<Item = Tap> {
    let [kh, kw] = s.kernel;
    let [sy, sx] = options.stride;
    let [py, px] = options.padding;
    let [dy, dx] = options.dilation;
    (0..s.taps()).map(move |j| {
        let (c, ky, kx) = (j / (kh * kw), j / kw % kh, j % kw);
        let off_x = (kx * dx) as isize - px as isize;
        let off_y = (ky * dy) as isize - py as isize;
        let cols = inside(off_x, sx, s.w, s.wo);
        Tap {
            c,
            off_y,
            rows: if cols.is_empty() {
                0..0
            } else {
                inside(off_y, sy, s.h, s.ho)
            },
            ix0: ((cols.start * sx) as isize + off_x) as usize,
            cols,
        }
    })
}

/// Unfolds one item `[c_in, h, w]` into `cols`, `[c_in·kh·kw, ho·wo]` at row stride `ld`: row
/// `(c, ky, kx)` holds the input value each output position reads through that kernel tap (0 in the
/// padding).
fn im2col(x: &[f32], s: ConvShape, options: &ConvOptions<2>, cols: &mut [f32], ld: usize) {
    im2col_rows(x, s, options, cols, ld, 0..s.ho);
}

/// [`im2col`] for the output rows `out_rows` only: `cols` is `[c_in·kh·kw, out_rows.len()·wo]`.
fn im2col_rows(
    x: &[f32],
    s: ConvShape,
    options: &ConvOptions<2>,
    cols: &mut [f32],
    ld: usize,
    out_rows: std::ops::Range<usize>,
) {
    let sx = options.stride[1];
    let sy = options.stride[0] as isize;
    // Where a tap reads depends on the kernel position only: work it out once per position, not
    // per channel and block.
    let per_channel = s.kernel[0] * s.kernel[1];
    let geometry: Vec<Tap> = taps(s, options).take(per_channel).collect();
    for c in 0..s.c_in {
        for (k, tap) in geometry.iter().enumerate() {
            let j = c * per_channel + k;
            let row = &mut cols[j * ld..][..out_rows.len() * s.wo];
            let n = tap.cols.len();
            for (oy, out) in out_rows.clone().zip(row.chunks_exact_mut(s.wo)) {
                if !tap.rows.contains(&oy) {
                    out.fill(0.0);
                    continue;
                }
                let iy = (oy as isize * sy + tap.off_y) as usize;
                let line = &x[(c * s.h + iy) * s.w + tap.ix0..];
                out[..tap.cols.start].fill(0.0);
                out[tap.cols.end..].fill(0.0);
                let out = &mut out[tap.cols.clone()];
                match sx {
                    1 => out.copy_from_slice(&line[..n]),
                    // Pairs, so that the compiler turns the gather into vector shuffles (the
                    // last value may be the input's last, with no partner).
                    2 => {
                        let (body, last) = out.split_at_mut(n - 1);
                        for (o, pair) in body.iter_mut().zip(line.chunks_exact(2)) {
                            *o = pair[0];
                        }
                        last[0] = line[2 * (n - 1)];
                    }
                    _ => {
                        for (o, v) in out.iter_mut().zip(line.iter().step_by(sx)) {
                            *o = *v;
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds each unfolded gradient back onto the input value it was read
/// from, into `dx`, `[c_in, h, w]`, which must be zero on entry.
fn col2im(dcols: &[f32], s: ConvShape, options: &ConvOptions<2>, dx: &mut [f32]) {
    let sx = options.stride[1];
    let sy = options.stride[0] as isize;
    for (tap, row) in taps(s, options).zip(dcols.chunks_exact(s.positions())) {
        let n = tap.cols.len();
        for oy in tap.rows.clone() {
            let iy = (oy as isize * sy + tap.off_y) as usize;
            let line = &mut dx[(tap.c * s.h + iy) * s.w + tap.ix0..];
            let g = &row[oy * s.wo..][tap.cols.clone()];
            if sx == 1 {
                for (d, v) in line[..n].iter_mut().zip(g) {
                    *d += v;
                }
            } else {
                for (d, v) in line.iter_mut().step_by(sx).zip(g) {
                    *d += v;
                }
            }
        }
    }
}
