//! 3×3 stride-1 convolutions by Winograd's minimal filtering (Lavin & Gray 2016, "Fast Algorithms
//! for Convolutional Neural Networks"): F(2×2, 3×3) gives each 2×2 output tile from a 4×4 input
//! tile through 16 element-wise products per channel pair instead of 36, so the gemms, which are
//! most of a convolution's cost, do 2.25× fewer multiply-adds. Most of the ResNet's arithmetic is in
//! its size-preserving 3×3 convolutions (every block's second one): forward, in the input gradient
//! (the same kind of convolution, by the flipped kernels with the channel axes swapped) and in the
//! weight gradient (F(3×3, 2×2): the kernel gradient of a tile is the correlation of its 4×4 input
//! with its 2×2 output gradient).
//!
//! Per batch item and block of tiles, the tiles are transformed into 16 matrices `[channels,
//! tiles]`, multiplied (one gemm per transformed position, the `gemm` crate) and transformed back.
//! The transforms use only 0, ±1 and ±½, so the rounding error stays at the level of a direct
//! convolution's in f32 (the tests compare with an f64 direct convolution at 1e-5).

use rayon::prelude::*;

use super::conv::with_scratch;
use super::reduce::fixed_order_sum;

/// Tiles per gemm (at least): a block is whole rows of tiles of one batch item, long enough for the
/// gemm crate's kernels to run near their peak (at 128 tiles the products ran at about half of it).
const MIN_BLOCK: usize = 256;

/// Whether this module computes the convolution: 3×3 kernel, stride 1, dilation 1, padding 1 (the
/// size-preserving convolution of the ResNet's blocks).
pub fn applies(
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
) -> bool {
    kernel == [3, 3] && stride == [1, 1] && padding == [1, 1] && dilation == [1, 1]
}

/// The 2×2 tile grid of an `h × w` plane and its split into jobs of whole tile rows.
#[derive(Debug, Clone, Copy)]
struct Tiling {
    h: usize,
    w: usize,
    /// Tile columns.
    tw: usize,
    /// Tile rows.
    th: usize,
    /// Tile rows per job.
    rows: usize,
}

impl Tiling {
    fn new(h: usize, w: usize) -> Self {
        let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
        Tiling {
            h,
            w,
            tw,
            th,
            rows: MIN_BLOCK.div_ceil(tw).min(th),
        }
    }

    fn blocks(&self) -> usize {
        self.th.div_ceil(self.rows)
    }

    /// Tile rows of block `blk`.
    fn block(&self, blk: usize) -> std::ops::Range<usize> {
        blk * self.rows..((blk + 1) * self.rows).min(self.th)
    }

    /// Tiles in the largest block.
    fn max_tiles(&self) -> usize {
        self.rows * self.tw
    }
}

/// Row buffers for the transforms: four padded input rows and their deinterleaved halves.
struct Rows {
    line: [Vec<f32>; 4],
    even: Vec<f32>,
    odd: Vec<f32>,
}

impl Rows {
    fn new(t: Tiling) -> Self {
        let wp = 2 * t.tw + 2;
        Rows {
            line: std::array::from_fn(|_| vec![0f32; wp]),
            even: vec![0f32; t.tw + 1],
            odd: vec![0f32; t.tw + 1],
        }
    }
}

/// `G g Gᵀ` for every (out, in) kernel of `weight` (`[c_out, c_in, 3, 3]`), laid out as 16 matrices
/// `[c_out, c_in]`, one per position of the 4×4 transformed tile.
fn transform_kernels(weight: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    let mut u = vec![0f32; 16 * c_out * c_in];
    for o in 0..c_out {
        for c in 0..c_in {
            let g = &weight[(o * c_in + c) * 9..][..9];
            // t = G g: 4×3.
            let mut t = [[0f32; 3]; 4];
            for k in 0..3 {
                let (g0, g1, g2) = (g[k], g[3 + k], g[6 + k]);
                t[0][k] = g0;
                t[1][k] = 0.5 * (g0 + g1 + g2);
                t[2][k] = 0.5 * (g0 - g1 + g2);
                t[3][k] = g2;
            }
            // (G g) Gᵀ: 4×4.
            for (i, row) in t.iter().enumerate() {
                let (a, b, d) = (row[0], row[1], row[2]);
                let v = [a, 0.5 * (a + b + d), 0.5 * (a - b + d), d];
                for (j, v) in v.into_iter().enumerate() {
                    u[((i * 4 + j) * c_out + o) * c_in + c] = v;
                }
            }
        }
    }
    u
}

/// The kernel of the input gradient of a stride-1 3×3 convolution: `[c_in, c_out, 3, 3]`, each
/// kernel rotated by 180°.
pub fn flip_kernels(weight: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    let mut f = vec![0f32; weight.len()];
    for o in 0..c_out {
        for c in 0..c_in {
            let src = &weight[(o * c_in + c) * 9..][..9];
            let dst = &mut f[(c * c_out + o) * 9..][..9];
            for (k, d) in dst.iter_mut().enumerate() {
                *d = src[8 - k];
            }
        }
    }
    f
}

/// The padded-by-1, stride-1 convolution `[batch, c_out, h, w]` of `x` (`[batch, c_in, h, w]`) by
/// `weight` (`[c_out, c_in, 3, 3]`), no bias.
pub fn conv3x3(x: &[f32], weight: &[f32], dims: [usize; 4], c_out: usize) -> Vec<f32> {
    assert_eq!(weight.len(), c_out * dims[1] * 9, "weight size");
    conv3x3_transformed(x, &transform_kernels(weight, c_out, dims[1]), dims, c_out)
}

/// [`conv3x3`] for weights that stay the same from call to call (a prediction's network): their
/// transformed kernels are kept and reused. Transforming them cost more than the convolution itself
/// on the last blocks' small planes (a 256 × 256 kernel for a 1 × 2 plane): skipping it cut a
/// prediction's inference time by a fifth (README, "Benchmark"), with identical results.
pub fn conv3x3_reusing_kernels(
    x: &[f32],
    weight: &[f32],
    dims: [usize; 4],
    c_out: usize,
) -> Vec<f32> {
    assert_eq!(weight.len(), c_out * dims[1] * 9, "weight size");
    conv3x3_transformed(x, &KERNELS.get(weight, c_out, dims[1]), dims, c_out)
}

/// Empties the kept transforms of [`conv3x3_reusing_kernels`]. Training calls it after each
/// validation pass: the weights it validated change at the next step, so their kernels would never
/// be asked for again, yet sat in memory up to the cache's bound (a 40-epoch run's peak RSS was
/// ~110 MB higher than without the cache, and no faster). A model still in use only pays one
/// transform again.
pub fn forget_reused_kernels() {
    KERNELS.lock().clear();
}

/// Floats the kept transforms take now (weights and their transforms): the memory
/// [`forget_reused_kernels`] gives back.
pub fn reused_kernel_floats() -> usize {
    KERNELS.lock().iter().map(CachedKernels::floats).sum()
}

/// Transformed kernels of recent weights, looked up by the weights' bits (never by address: an
/// allocator may hand a freed weight's memory to another). Bounded by its size: a served model's
/// 3×3 kernels take ~14 MB with their copies, and a replaced model's are evicted as the new one's
/// arrive.
struct KernelCache(std::sync::Mutex<std::collections::VecDeque<CachedKernels>>);

struct CachedKernels {
    c_out: usize,
    c_in: usize,
    weight: std::sync::Arc<[f32]>,
    transformed: std::sync::Arc<[f32]>,
}

impl CachedKernels {
    fn floats(&self) -> usize {
        self.weight.len() + self.transformed.len()
    }
}

/// Floats the cache holds at most (weights and their transforms): 128 MB.
const KERNEL_CACHE_FLOATS: usize = 32 << 20;

static KERNELS: KernelCache = KernelCache(std::sync::Mutex::new(std::collections::VecDeque::new()));

impl KernelCache {
    fn get(&self, weight: &[f32], c_out: usize, c_in: usize) -> std::sync::Arc<[f32]> {
        // Compared outside the lock: a copy is megabytes and the other workers may be looking too.
        let candidates: Vec<_> = self
            .lock()
            .iter()
            .filter(|e| (e.c_out, e.c_in) == (c_out, c_in))
            .map(|e| (e.weight.clone(), e.transformed.clone()))
            .collect();
        if let Some((_, u)) = candidates.into_iter().find(|(w, _)| same_bits(w, weight)) {
            return u;
        }
        let transformed: std::sync::Arc<[f32]> = transform_kernels(weight, c_out, c_in).into();
        let entry = CachedKernels {
            c_out,
            c_in,
            weight: weight.into(),
            transformed: transformed.clone(),
        };
        let mut cache = self.lock();
        let mut total: usize =
            cache.iter().map(CachedKernels::floats).sum::<usize>() + entry.floats();
        while total > KERNEL_CACHE_FLOATS {
            match cache.pop_front() {
                Some(old) => total -= old.floats(),
                None => break,
            }
        }
        if entry.floats() <= KERNEL_CACHE_FLOATS {
            cache.push_back(entry);
        }
        transformed
    }

    #[cfg(test)]
    fn holds(&self, weight: &[f32]) -> bool {
        self.lock().iter().any(|e| same_bits(&e.weight, weight))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<CachedKernels>> {
        // The cache holds no invariant a panicking holder could break half-way.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// [`conv3x3`] with the kernels already transformed (`[16, c_out, c_in]`).
fn conv3x3_transformed(
    x: &[f32],
    u: &[f32],
    [batch, c_in, h, w]: [usize; 4],
    c_out: usize,
) -> Vec<f32> {
    assert_eq!(x.len(), batch * c_in * h * w, "input size");
    assert_eq!(u.len(), 16 * c_out * c_in, "transformed kernels' size");
    let t = Tiling::new(h, w);
    let plane = h * w;
    let mut y = vec![0f32; batch * c_out * plane];
    let out = SendPtr(y.as_mut_ptr());
    let blocks = t.blocks();
    let (va, mb) = (16 * c_in * t.max_tiles(), 16 * c_out * t.max_tiles());
    (0..batch * blocks).into_par_iter().for_each(|job| {
        with_scratch(va, mb, |v, m| {
            let mut rows = Rows::new(t);
            let (b, tile_rows) = (job / blocks, t.block(job % blocks));
            let n = tile_rows.len() * t.tw;
            let xb = &x[b * c_in * plane..][..c_in * plane];
            input_tiles(xb, c_in, t, tile_rows.clone(), v, &mut rows);
            for xi in 0..16 {
                // m[xi] (c_out × n) = u[xi] (c_out × c_in) · v[xi] (c_in × n).
                // SAFETY: each pointer covers its matrix at the strides given.
                unsafe {
                    gemm::gemm(
                        c_out,
                        n,
                        c_in,
                        m.as_mut_ptr().add(xi * c_out * n),
                        1,
                        n as isize,
                        false,
                        u.as_ptr().add(xi * c_out * c_in),
                        1,
                        c_in as isize,
                        v.as_ptr().add(xi * c_in * n),
                        1,
                        n as isize,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
            // SAFETY: jobs write disjoint outputs: their own item's rows of their tile rows.
            let yb = unsafe {
                std::slice::from_raw_parts_mut(out.get().add(b * c_out * plane), c_out * plane)
            };
            output_tiles(m, c_out, t, tile_rows, yb, &mut rows);
        })
    });
    y
}

/// `d loss / d weight` (`[c_out, c_in, 3, 3]`) of [`conv3x3`] for the output gradient `grad`
/// (`[batch, c_out, h, w]`), by F(3×3, 2×2): per tile, the 3×3 kernel gradient is the correlation of
/// the 4×4 input tile with the 2×2 output-gradient tile, so the 16 transformed products summed over
/// all tiles are 16 gemms `[c_out, tiles] · [tiles, c_in]`, transformed back once at the end.
pub fn weight_grad3x3(
    x: &[f32],
    grad: &[f32],
    [batch, c_in, h, w]: [usize; 4],
    c_out: usize,
) -> Vec<f32> {
    assert_eq!(x.len(), batch * c_in * h * w, "input size");
    assert_eq!(grad.len(), batch * c_out * h * w, "output gradient size");
    let t = Tiling::new(h, w);
    let plane = h * w;
    let blocks = t.blocks();
    let m = fixed_order_sum(batch * blocks, 16 * c_out * c_in, |m, job| {
        with_scratch(
            16 * c_in * t.max_tiles(),
            16 * c_out * t.max_tiles(),
            |v, e| {
                let mut rows = Rows::new(t);
                let (b, tile_rows) = (job / blocks, t.block(job % blocks));
                let n = tile_rows.len() * t.tw;
                let xb = &x[b * c_in * plane..][..c_in * plane];
                let gb = &grad[b * c_out * plane..][..c_out * plane];
                input_tiles(xb, c_in, t, tile_rows.clone(), v, &mut rows);
                grad_tiles(gb, c_out, t, tile_rows, e, &mut rows);
                for xi in 0..16 {
                    // m[xi] (c_out × c_in) += e[xi] (c_out × n) · v[xi]ᵀ (n × c_in).
                    // SAFETY: each pointer covers its matrix at the strides given.
                    unsafe {
                        gemm::gemm(
                            c_out,
                            c_in,
                            n,
                            m.as_mut_ptr().add(xi * c_out * c_in),
                            1,
                            c_in as isize,
                            true,
                            e.as_ptr().add(xi * c_out * n),
                            1,
                            n as isize,
                            v.as_ptr().add(xi * c_in * n),
                            n as isize,
                            1,
                            1.0,
                            1.0,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    }
                }
            },
        );
    });
    // Aᵀ m A with F(3×3, 2×2)'s Aᵀ = [[1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, 1]].
    let mut dw = vec![0f32; c_out * c_in * 9];
    let stride = c_out * c_in;
    for oc in 0..stride {
        let at = |k: usize| m[k * stride + oc];
        let col = |k: usize| (at(k), at(4 + k), at(8 + k), at(12 + k));
        let t: [[f32; 4]; 3] = [
            std::array::from_fn(|k| {
                let (a, b, c, _) = col(k);
                a + b + c
            }),
            std::array::from_fn(|k| {
                let (_, b, c, _) = col(k);
                b - c
            }),
            std::array::from_fn(|k| {
                let (_, b, c, d) = col(k);
                b + c + d
            }),
        ];
        let out = &mut dw[oc * 9..][..9];
        for (r, row) in t.iter().enumerate() {
            out[r * 3] = row[0] + row[1] + row[2];
            out[r * 3 + 1] = row[1] - row[2];
            out[r * 3 + 2] = row[1] + row[2] + row[3];
        }
    }
    dw
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: the pointer is only used to write disjoint ranges from different threads.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Splits `src` (`2·half` long or more) into its even- and odd-indexed elements.
#[inline(always)]
fn deinterleave(src: &[f32], even: &mut [f32], odd: &mut [f32]) {
    for ((pair, e), o) in src.chunks_exact(2).zip(even.iter_mut()).zip(odd.iter_mut()) {
        *e = pair[0];
        *o = pair[1];
    }
}

/// `Bᵀ d B` of the 4×4 input tiles of tile rows `tile_rows` of every channel of `x` (`[c_in, h,
/// w]`), into `v`: 16 matrices `[c_in, n]`, tiles row-major. Both passes run along whole rows: the
/// row transform on four padded input rows, the column transform on their even and odd halves.
fn input_tiles(
    x: &[f32],
    c_in: usize,
    t: Tiling,
    tile_rows: std::ops::Range<usize>,
    v: &mut [f32],
    r: &mut Rows,
) {
    let (h, w, tw) = (t.h, t.w, t.tw);
    let n = tile_rows.len() * tw;
    let stride = c_in * n;
    for c in 0..c_in {
        let plane = &x[c * h * w..][..h * w];
        for ty in tile_rows.clone() {
            // Input rows 2ty-1 .. 2ty+2, columns -1 .. 2tw at index column + 1; outside is 0.
            for (k, line) in r.line.iter_mut().enumerate() {
                let yy = (2 * ty + k) as isize - 1;
                line.fill(0.0);
                if yy >= 0 && (yy as usize) < h {
                    line[1..=w].copy_from_slice(&plane[yy as usize * w..][..w]);
                }
            }
            // Bᵀ d in place: rows (d0 - d2, d1 + d2, d2 - d1, d1 - d3).
            let [l0, l1, l2, l3] = &mut r.line;
            for (((a, b), c), d) in l0
                .iter_mut()
                .zip(l1.iter_mut())
                .zip(l2.iter_mut())
                .zip(l3.iter_mut())
            {
                let (d0, d1, d2, d3) = (*a, *b, *c, *d);
                *a = d0 - d2;
                *b = d1 + d2;
                *c = d2 - d1;
                *d = d1 - d3;
            }
            let base = c * n + (ty - tile_rows.start) * tw;
            for (row, line) in r.line.iter().enumerate() {
                deinterleave(line, &mut r.even, &mut r.odd);
                let (e, o) = (&r.even, &r.odd);
                // (·) B on columns 2tx .. 2tx+3: a = e[tx], b = o[tx], c = e[tx+1], d = o[tx+1].
                let out = |k: usize| (row * 4 + k) * stride + base;
                for (i, dst) in v[out(0)..][..tw].iter_mut().enumerate() {
                    *dst = e[i] - e[i + 1];
                }
                for (i, dst) in v[out(1)..][..tw].iter_mut().enumerate() {
                    *dst = o[i] + e[i + 1];
                }
                for (i, dst) in v[out(2)..][..tw].iter_mut().enumerate() {
                    *dst = e[i + 1] - o[i];
                }
                for (i, dst) in v[out(3)..][..tw].iter_mut().enumerate() {
                    *dst = o[i] - o[i + 1];
                }
            }
        }
    }
}

/// `G' e G'ᵀ` of the 2×2 output-gradient tiles of tile rows `tile_rows` of every channel of `g`
/// (`[c_out, h, w]`), into `e`: 16 matrices `[c_out, n]`. F(3×3, 2×2)'s input transform differs from
/// F(2×2, 3×3)'s only in the sign of its last row, so [`input_tiles`] serves both and that sign moves
/// here: `G'` is `[[1, 0], [½, ½], [½, -½], [0, -1]]`. Positions past an odd edge are 0.
fn grad_tiles(
    g: &[f32],
    c_out: usize,
    t: Tiling,
    tile_rows: std::ops::Range<usize>,
    e: &mut [f32],
    r: &mut Rows,
) {
    let (h, w, tw) = (t.h, t.w, t.tw);
    let n = tile_rows.len() * tw;
    let stride = c_out * n;
    for o in 0..c_out {
        let plane = &g[o * h * w..][..h * w];
        for ty in tile_rows.clone() {
            for (k, line) in r.line[..2].iter_mut().enumerate() {
                let yy = 2 * ty + k;
                line.fill(0.0);
                if yy < h {
                    line[..w].copy_from_slice(&plane[yy * w..][..w]);
                }
            }
            // G' d in place on rows: (e0, ½(e0 + e1), ½(e0 - e1), -e1).
            let [l0, l1, l2, l3] = &mut r.line;
            for (((a, b), c), d) in l0
                .iter_mut()
                .zip(l1.iter_mut())
                .zip(l2.iter_mut())
                .zip(l3.iter_mut())
            {
                let (e0, e1) = (*a, *b);
                *b = 0.5 * (e0 + e1);
                *c = 0.5 * (e0 - e1);
                *d = -e1;
            }
            let base = o * n + (ty - tile_rows.start) * tw;
            for (row, line) in r.line.iter().enumerate() {
                deinterleave(line, &mut r.even, &mut r.odd);
                let (ev, od) = (&r.even, &r.odd);
                let out = |k: usize| (row * 4 + k) * stride + base;
                e[out(0)..][..tw].copy_from_slice(&ev[..tw]);
                for (i, dst) in e[out(1)..][..tw].iter_mut().enumerate() {
                    *dst = 0.5 * (ev[i] + od[i]);
                }
                for (i, dst) in e[out(2)..][..tw].iter_mut().enumerate() {
                    *dst = 0.5 * (ev[i] - od[i]);
                }
                for (i, dst) in e[out(3)..][..tw].iter_mut().enumerate() {
                    *dst = -od[i];
                }
            }
        }
    }
}

/// `Aᵀ m A` of the products `m` (16 matrices `[c_out, n]`) into the 2×2 output tiles of tile rows
/// `tile_rows` of `y` (`[c_out, h, w]`), cropping the tiles that overhang an odd edge.
fn output_tiles(
    m: &[f32],
    c_out: usize,
    t: Tiling,
    tile_rows: std::ops::Range<usize>,
    y: &mut [f32],
    r: &mut Rows,
) {
    let (h, w, tw) = (t.h, t.w, t.tw);
    let n = tile_rows.len() * tw;
    let stride = c_out * n;
    for o in 0..c_out {
        for ty in tile_rows.clone() {
            let base = o * n + (ty - tile_rows.start) * tw;
            let at = |xi: usize| &m[xi * stride + base..][..tw];
            // Aᵀ m on rows: line[2k + 0] = m0k + m1k + m2k, line[2k + 1] = m1k - m2k - m3k, for
            // each column k of the tile, kept in r.line[k] as (row 0 | row 1) halves.
            for k in 0..4 {
                let (a, b, c, d) = (at(k), at(4 + k), at(8 + k), at(12 + k));
                let (top, bottom) = r.line[k].split_at_mut(tw);
                for i in 0..tw {
                    top[i] = a[i] + b[i] + c[i];
                    bottom[i] = b[i] - c[i] - d[i];
                }
            }
            for row in 0..2 {
                let yy = 2 * ty + row;
                if yy >= h {
                    break;
                }
                let col = |k: usize| &r.line[k][row * tw..][..tw];
                let (c0, c1, c2, c3) = (col(0), col(1), col(2), col(3));
                let dst = &mut y[(o * h + yy) * w..][..w];
                // · A on columns: x = 2tx gets c0 + c1 + c2, x = 2tx + 1 gets c1 - c2 - c3.
                for (i, pair) in dst.chunks_mut(2).enumerate() {
                    pair[0] = c0[i] + c1[i] + c2[i];
                    if let Some(second) = pair.get_mut(1) {
                        *second = c1[i] - c2[i] - c3[i];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: padded-by-1 stride-1 3×3 cross-correlation, in f64.
    fn direct(
        x: &[f32],
        weight: &[f32],
        [batch, c_in, h, w]: [usize; 4],
        c_out: usize,
    ) -> Vec<f64> {
        let mut y = vec![0f64; batch * c_out * h * w];
        for b in 0..batch {
            for o in 0..c_out {
                for yy in 0..h {
                    for xx in 0..w {
                        let mut acc = 0f64;
                        for c in 0..c_in {
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (iy, ix) = (
                                        yy as isize + ky as isize - 1,
                                        xx as isize + kx as isize - 1,
                                    );
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    acc += x[((b * c_in + c) * h + iy as usize) * w + ix as usize]
                                        as f64
                                        * weight[((o * c_in + c) * 3 + ky) * 3 + kx] as f64;
                                }
                            }
                        }
                        y[((b * c_out + o) * h + yy) * w + xx] = acc;
                    }
                }
            }
        }
        y
    }

    fn values(n: usize, seed: u64) -> Vec<f32> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
    }

    #[test]
    fn matches_the_direct_convolution_on_odd_and_even_sizes() {
        // Odd sizes crop the last tiles; 1×1 and 2×3 planes are all padding but one tile; 40 × 37
        // with 3 items spans several tile blocks.
        for (shape, c_out) in [
            ([2, 3, 5, 7], 4),
            ([1, 2, 1, 1], 3),
            ([2, 1, 2, 3], 2),
            ([3, 5, 40, 37], 6),
            ([1, 4, 6, 8], 4),
        ] {
            let [batch, c_in, h, w] = shape;
            let x = values(batch * c_in * h * w, 1);
            let k = values(c_out * c_in * 9, 2);
            let want = direct(&x, &k, shape, c_out);
            let got = conv3x3(&x, &k, shape, c_out);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (*g as f64 - w).abs() < 1e-5 * (1.0 + w.abs()),
                    "{shape:?} at {i}: {g} vs {w}"
                );
            }
        }
    }

    /// Reused kernels give the bits of freshly transformed ones, and a weight changed in place
    /// (same address, as after an optimiser step) is transformed again, not served stale.
    #[test]
    fn reused_kernels_give_the_same_bits_and_follow_changed_weights() {
        let (shape, c_out) = ([2, 3, 9, 7], 5);
        let [batch, c_in, h, w] = shape;
        let x = values(batch * c_in * h * w, 6);
        let mut k = values(c_out * c_in * 9, 7);
        let first = conv3x3(&x, &k, shape, c_out);
        for _ in 0..2 {
            assert_eq!(conv3x3_reusing_kernels(&x, &k, shape, c_out), first);
        }
        let kept = k[4];
        k[4] = kept + 0.5;
        let changed = conv3x3(&x, &k, shape, c_out);
        assert_ne!(changed, first);
        assert_eq!(conv3x3_reusing_kernels(&x, &k, shape, c_out), changed);
        k[4] = kept;
        assert_eq!(conv3x3_reusing_kernels(&x, &k, shape, c_out), first);
    }

    /// Forgotten kernels leave the cache, and the next call transforms them again to the same bits.
    #[test]
    fn forgotten_kernels_leave_the_cache_and_come_back_the_same() {
        let (shape, c_out) = ([1, 4, 8, 6], 3);
        let [batch, c_in, h, w] = shape;
        let x = values(batch * c_in * h * w, 8);
        let k = values(c_out * c_in * 9, 9);
        let first = conv3x3_reusing_kernels(&x, &k, shape, c_out);
        assert!(KERNELS.holds(&k));
        forget_reused_kernels();
        assert!(!KERNELS.holds(&k));
        assert_eq!(conv3x3_reusing_kernels(&x, &k, shape, c_out), first);
        assert!(KERNELS.holds(&k));
    }

    #[test]
    fn flipped_kernels_give_the_transposed_convolution() {
        // <conv(x, k), g> = <x, conv(g, flip(k))> for the size-preserving convolution.
        let (shape, c_out) = ([2, 3, 6, 5], 4);
        let [batch, c_in, h, w] = shape;
        let x = values(batch * c_in * h * w, 3);
        let k = values(c_out * c_in * 9, 4);
        let g = values(batch * c_out * h * w, 5);
        let y = conv3x3(&x, &k, shape, c_out);
        let dx = conv3x3(
            &g,
            &flip_kernels(&k, c_out, c_in),
            [batch, c_out, h, w],
            c_in,
        );
        let lhs: f64 = y.iter().zip(&g).map(|(a, b)| *a as f64 * *b as f64).sum();
        let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!(
            (lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }

    #[test]
    fn weight_gradient_matches_the_definition() {
        // dW[o, c, ky, kx] = Σ g[o, y, x] · x_pad[c, y + ky - 1, x + kx - 1].
        for (shape, c_out) in [([2, 3, 5, 7], 4), ([3, 2, 40, 37], 3), ([1, 1, 1, 2], 2)] {
            let [batch, c_in, h, w] = shape;
            let x = values(batch * c_in * h * w, 6);
            let g = values(batch * c_out * h * w, 7);
            let got = weight_grad3x3(&x, &g, shape, c_out);
            for o in 0..c_out {
                for c in 0..c_in {
                    for k in 0..9 {
                        let (ky, kx) = (k / 3, k % 3);
                        let mut want = 0f64;
                        for b in 0..batch {
                            for yy in 0..h {
                                for xx in 0..w {
                                    let (iy, ix) = (
                                        yy as isize + ky as isize - 1,
                                        xx as isize + kx as isize - 1,
                                    );
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    want += g[((b * c_out + o) * h + yy) * w + xx] as f64
                                        * x[((b * c_in + c) * h + iy as usize) * w + ix as usize]
                                            as f64;
                                }
                            }
                        }
                        let got = got[(o * c_in + c) * 9 + k] as f64;
                        assert!(
                            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "{shape:?} o{o} c{c} k{k}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
