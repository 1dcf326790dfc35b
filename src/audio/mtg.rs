//! The `mtg` feature convention: the numbers the released MTG-Jamendo `.npy` mel-spectrograms hold,
//! as the dataset's own script made them with Essentia, reproduced here from the definitions and
//! from Essentia's measured behaviour (scripts/essentia_fixtures.py; tests/convention.rs checks
//! the result against Essentia's own output).
//!
//! The recipe, step by step:
//! 1. the decoded mono signal at its own rate (channels averaged), resampled to 12 kHz by linear
//!    interpolation (Essentia's `resampleQuality=4`, libsamplerate's linear converter): output `k`
//!    is the input at position `k·step − 1` (`step` = input rate / 12 kHz; the sample before the
//!    first is the first), and outputs continue while that position's integer part is inside the
//!    signal. No anti-alias filter: what lies above 6 kHz folds back into the band, and the
//!    released features carry that fold.
//! 2. frames of 512 samples every 256, the first centred on sample 0 (zero padding either side):
//!    a signal of `n > 0` samples has `⌈n / 256⌉ + 1` frames, one more than librosa's `center=True`
//!    gives when 256 does not divide `n`.
//! 3. the symmetric Hann window `0.5 − 0.5·cos(2πi / 511)`, not normalised;
//! 4. the magnitude spectrum (257 bins), squared: power;
//! 5. 96 triangular bands, edges equally spaced on the Slaney mel scale from 0 to 6000 Hz, weights
//!    linear in Hz between the edges, each triangle scaled to unit area (`2 / (f_hi − f_lo)`);
//! 6. `20·log10` of each band's power, and −200 dB where the power is below 1e-10 (Essentia's
//!    `lin2db` floor of −100 dB, doubled); no clamp against the maximum.

use std::cell::RefCell;
use std::sync::Arc;

use ndarray::Array2;
use rustfft::{Fft, FftPlanner};

use super::TARGET_SAMPLE_RATE;
use super::mel::band_power;

/// Samples per frame.
pub const FRAME: usize = 512;
/// Samples between frame starts.
pub const HOP: usize = 256;
/// Mel bands.
pub const BANDS: usize = 96;
/// Band power below this maps to [`FLOOR_DB`].
pub const SILENCE_POWER: f32 = 1e-10;
/// The value of a band whose power is below [`SILENCE_POWER`] (digital silence).
pub const FLOOR_DB: f32 = -200.0;
/// Names every step above, for cache keys: a change to the recipe changes it.
pub const FINGERPRINT: &str = "mtg-essentia-linear12k-f512-h256-centred-hannsym-mag2-mel96slaney-unittri-0-6000-2lin2db-floor200";

/// Number of frames of a 12 kHz signal of `samples` samples.
pub fn frame_count(samples: usize) -> usize {
    if samples == 0 {
        0
    } else {
        samples.div_ceil(HOP) + 1
    }
}

/// Seconds of audio a mel-spectrogram of `frames` frames covers (for duration checks).
pub fn seconds(frames: usize) -> f64 {
    frames.saturating_sub(2) as f64 * HOP as f64 / f64::from(TARGET_SAMPLE_RATE)
}

/// Resamples `samples` (at `rate` Hz) to 12 kHz by linear interpolation, as Essentia's MonoLoader
/// does with `resampleQuality=4`. A 12 kHz input is returned as it is.
///
/// The step is `1 / ratio` in double precision with the ratio `12000 / rate` rounded to single
/// precision (Essentia keeps it as a `float`): over a long track that rounding moves positions by
/// a few hundredths of a sample, and it decides the output length where a position falls on the
/// last sample. The position is kept as a whole index plus a fraction, the fraction accumulated
/// step by step, so the length agrees with Essentia's to the sample.
pub fn resample_linear(samples: &[f32], rate: u32) -> Vec<f32> {
    let mut out = Vec::with_capacity(
        (samples.len() as f64 * f64::from(TARGET_SAMPLE_RATE) / f64::from(rate.max(1))) as usize
            + 2,
    );
    LinearStream::new(rate).push(samples, &mut out);
    out
}

/// [`resample_linear`] fed piece by piece (an MP3 frame at a time), so a long file never exists
/// whole at its own rate: the output of all pieces equals `resample_linear` of their concatenation.
#[derive(Debug, Clone)]
pub struct LinearStream {
    /// `None`: the input is already at 12 kHz (or has no rate) and passes through.
    step: Option<f64>,
    /// Input samples received so far.
    seen: usize,
    /// The last of them (the left end of an interpolation that spans two pieces).
    last: f32,
    /// The next output's right input sample (absolute index) and its fraction from the left one;
    /// `None` until the first sample arrives.
    next: Option<(usize, f64)>,
}

impl LinearStream {
    pub fn new(rate: u32) -> LinearStream {
        let step = (rate != TARGET_SAMPLE_RATE && rate != 0)
            .then(|| 1.0 / f64::from(TARGET_SAMPLE_RATE as f32 / rate as f32));
        LinearStream {
            step,
            seen: 0,
            last: 0.0,
            next: None,
        }
    }

    /// Appends the 12 kHz samples that `piece` completes to `out`.
    pub fn push(&mut self, piece: &[f32], out: &mut Vec<f32>) {
        let Some(step) = self.step else {
            out.extend_from_slice(piece);
            return;
        };
        let Some(&first) = piece.first() else {
            return;
        };
        let (mut index, mut frac) = match self.next {
            Some(next) => next,
            None => {
                // Before the first sample: the interpolation runs from the first sample to itself.
                let mut frac = 0.0f64;
                while frac < 1.0 {
                    out.push(first);
                    frac += step;
                }
                let whole = frac as usize;
                (whole, frac - whole as f64)
            }
        };
        // About `len / step` outputs, reserved at once: the loop below then never grows `out`.
        out.reserve((piece.len() as f64 / step) as usize + 2);
        let base = self.seen;
        let end = base + piece.len();
        // The integer part of `frac + step` (frac in [0, 1)) is `floor(step)` or one more, so a
        // comparison finds it: the same number as `floor`, with a shorter dependency from one
        // output's position to the next (that chain, not the arithmetic, bounds this loop).
        let lo = step.floor();
        let hi = lo + 1.0;
        let advance = |index: &mut usize, frac: &mut f64| {
            let t = *frac + step;
            let whole = if t >= hi { hi } else { lo };
            *frac = t - whole;
            *index += whole as usize;
        };
        while index < end {
            let i = index - base;
            // At `i == 0` the left sample is the previous piece's last.
            let a = f64::from(if i > 0 { piece[i - 1] } else { self.last });
            let b = f64::from(piece[i]);
            out.push((a + frac * (b - a)) as f32);
            advance(&mut index, &mut frac);
        }
        self.next = Some((index, frac));
        self.seen += piece.len();
        self.last = piece[piece.len() - 1];
    }
}

/// The mtg mel-spectrogram (`96 × frames`, dB) of a 12 kHz signal.
pub fn mel_spectrogram(samples_12k: &[f32]) -> Array2<f32> {
    thread_local! {
        static EXTRACTOR: RefCell<Option<Extractor>> = const { RefCell::new(None) };
    }
    EXTRACTOR.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(Extractor::new)
            .compute(samples_12k)
    })
}

/// The symmetric Hann window of [`FRAME`] samples (zero at both ends).
pub fn window() -> Vec<f32> {
    let last = (FRAME - 1) as f64;
    (0..FRAME)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / last).cos()) as f32)
        .collect()
}

/// Hz → mel on the Slaney scale (linear below 1 kHz, logarithmic above), in single precision as
/// Essentia computes its band edges.
fn hz_to_mel(hz: f32) -> f32 {
    let f_sp = 200.0f32 / 3.0;
    let log_step = 6.4f32.ln() / 27.0;
    if hz < 1000.0 {
        hz / f_sp
    } else {
        1000.0 / f_sp + (hz / 1000.0).ln() / log_step
    }
}

fn mel_to_hz(mel: f32) -> f32 {
    let f_sp = 200.0f32 / 3.0;
    let log_step = 6.4f32.ln() / 27.0;
    let min_log_mel = 1000.0 / f_sp;
    if mel < min_log_mel {
        mel * f_sp
    } else {
        1000.0 * ((mel - min_log_mel) * log_step).exp()
    }
}

/// The band weights, `96 × 257`: row `b` is the triangle from edge `b` over edge `b + 1` to edge
/// `b + 2`, scaled to unit area (within 2e-7 of Essentia's weights, tests/convention.rs).
pub fn filterbank() -> Array2<f32> {
    let bins = FRAME / 2 + 1;
    let nyquist = TARGET_SAMPLE_RATE as f32 / 2.0;
    let low = hz_to_mel(0.0);
    let high = hz_to_mel(nyquist);
    let spacing = (high - low) / (BANDS + 1) as f32;
    // Accumulated step by step in single precision, as Essentia does: the top edge lands at
    // 6000.02 Hz, so the Nyquist bin keeps a sliver of the last band.
    let mut mel = low;
    let edges: Vec<f32> = (0..BANDS + 2)
        .map(|_| {
            let hz = mel_to_hz(mel);
            mel += spacing;
            hz
        })
        .collect();
    let bin_hz = nyquist / (bins - 1) as f32;
    Array2::from_shape_fn((BANDS, bins), |(b, j)| {
        let (lo, mid, hi) = (edges[b], edges[b + 1], edges[b + 2]);
        let f = j as f32 * bin_hz;
        let rise = if f >= lo && f < mid {
            (f - lo) / (mid - lo)
        } else if f >= mid && f < hi {
            (hi - f) / (hi - mid)
        } else {
            0.0
        };
        rise * (2.0 / (hi - lo))
    })
}

/// `20·log10(power)`, or [`FLOOR_DB`] below [`SILENCE_POWER`].
fn to_db(power: f32) -> f32 {
    if power < SILENCE_POWER {
        FLOOR_DB
    } else {
        2.0 * (10.0 * power.log10())
    }
}

/// FFT plan, window and bands, built once per thread.
struct Extractor {
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    /// Per band: the first bin with a non-zero weight, and the weights from there on.
    bands: Vec<(usize, Vec<f32>)>,
}

impl Extractor {
    fn new() -> Extractor {
        let bank = filterbank();
        let bands = bank
            .rows()
            .into_iter()
            .map(|row| {
                let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w > 0.0).unwrap_or(0);
                (
                    first,
                    row.iter()
                        .skip(first)
                        .take(last + 1 - first)
                        .copied()
                        .collect(),
                )
            })
            .collect();
        Extractor {
            fft: FftPlanner::new().plan_fft_forward(FRAME),
            window: window(),
            bands,
        }
    }

    /// Frame `t` (starting at sample `t·HOP − HOP`, zero outside the signal), windowed.
    fn frame(&self, samples: &[f32], t: usize, dst: &mut [f32]) {
        let start = (t * HOP) as isize - HOP as isize;
        // Most frames lie inside the signal: one vectorisable product, no per-sample checks.
        if let Some(inside) = usize::try_from(start)
            .ok()
            .and_then(|s| samples.get(s..s + dst.len()))
        {
            for ((d, s), w) in dst.iter_mut().zip(inside).zip(&self.window) {
                *d = s * w;
            }
            return;
        }
        for (i, (d, w)) in dst.iter_mut().zip(&self.window).enumerate() {
            let pos = start + i as isize;
            let s = if pos < 0 {
                0.0
            } else {
                samples.get(pos as usize).copied().unwrap_or(0.0)
            };
            *d = s * w;
        }
    }

    fn compute(&self, samples: &[f32]) -> Array2<f32> {
        let frames = frame_count(samples.len());
        let mut out = vec![0.0f32; BANDS * frames];
        let bands: Vec<(usize, &[f32])> = self
            .bands
            .iter()
            .map(|(first, weights)| (*first, weights.as_slice()))
            .collect();
        band_power(
            self.fft.as_ref(),
            frames,
            |t, dst| self.frame(samples, t, dst),
            &bands,
            &mut out,
        );
        out.iter_mut().for_each(|v| *v = to_db(*v));
        Array2::from_shape_vec((BANDS, frames), out)
            .unwrap_or_else(|_| Array2::zeros((BANDS, frames)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_are_essentias() {
        // Measured with Essentia's FrameGenerator(frameSize=512, hopSize=256, startFromZero=False).
        for (n, frames) in [
            (0, 0),
            (1, 2),
            (100, 2),
            (256, 2),
            (257, 3),
            (512, 3),
            (513, 4),
            (1000, 5),
            (120_000, 470),
        ] {
            assert_eq!(frame_count(n), frames, "{n} samples");
            assert_eq!(mel_spectrogram(&vec![0.1; n]).dim(), (BANDS, frames));
        }
    }

    #[test]
    fn linear_resampling_reads_the_input_one_sample_late() {
        // A ramp makes each output its own input position (plus one).
        let ramp: Vec<f32> = (0..48_000).map(|i| i as f32 + 1.0).collect();
        let out = resample_linear(&ramp, 48_000);
        assert_eq!(out.len(), 12_000);
        assert_eq!(out[0], 1.0);
        for (k, v) in out.iter().enumerate().skip(1) {
            assert_eq!(*v, (4 * k) as f32, "output {k}");
        }
        let out = resample_linear(&ramp[..44_100], 44_100);
        // Essentia gives 12001: position 12000·3.675 − 1 = 44099 is the last input sample.
        assert_eq!(out.len(), 12_001);
        for (k, v) in out.iter().enumerate().skip(1) {
            let at = k as f64 * 3.675 - 1.0;
            assert!((f64::from(*v) - (at + 1.0)).abs() < 0.02, "output {k}: {v}");
        }
    }

    #[test]
    fn streamed_pieces_give_the_whole_signal_s_output() {
        let x: Vec<f32> = (0..20_011)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        for rate in [8_000, 12_000, 22_050, 44_100, 48_000] {
            let whole = resample_linear(&x, rate);
            // Uneven pieces, empty ones and single samples among them.
            for sizes in [&[1152usize][..], &[1, 0, 3, 577, 2], &[20_011]] {
                let mut out = Vec::new();
                let mut stream = LinearStream::new(rate);
                let (mut at, mut k) = (0, 0);
                while at < x.len() {
                    let end = (at + sizes[k % sizes.len()]).min(x.len());
                    stream.push(&x[at..end], &mut out);
                    (at, k) = (end, k + 1);
                }
                assert_eq!(out, whole, "{rate} Hz, pieces {sizes:?}");
            }
        }
    }

    #[test]
    fn every_output_is_the_definition_s_to_the_bit() {
        // The definition, written plainly: the position advances by `step` and `floor` splits it.
        fn by_definition(x: &[f32], rate: u32) -> Vec<f32> {
            let step = 1.0 / f64::from(TARGET_SAMPLE_RATE as f32 / rate as f32);
            let mut out = Vec::new();
            let mut pos = 0.0f64;
            while pos < 1.0 {
                out.push(x[0]);
                pos += step;
            }
            let (mut index, mut frac) = (pos.floor() as usize, pos - pos.floor());
            while index < x.len() {
                let (a, b) = (f64::from(x[index - 1]), f64::from(x[index]));
                out.push((a + frac * (b - a)) as f32);
                frac += step;
                index += frac.floor() as usize;
                frac -= frac.floor();
            }
            out
        }
        // Five minutes at each of eight rates: millions of steps of the accumulated fraction, each of which
        // `floor` and the comparison must split alike.
        let x: Vec<f32> = (0..48_000 * 300u64)
            .map(|i| (i * 7919 % 10_007) as f32 / 5_003.5 - 1.0)
            .collect();
        // 6 kHz: a step of exactly 0.5, so positions land on whole samples (`frac + step == 1`).
        for rate in [6_000, 8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000] {
            let n = rate as usize * 300;
            let got = resample_linear(&x[..n], rate);
            let want = by_definition(&x[..n], rate);
            assert_eq!(got.len(), want.len(), "{rate} Hz");
            let first_diff = got
                .iter()
                .zip(&want)
                .position(|(g, w)| g.to_bits() != w.to_bits());
            assert_eq!(first_diff, None, "{rate} Hz");
        }
    }

    #[test]
    fn lengths_match_essentia_at_the_edges() {
        // (rate, input samples, Essentia's MonoLoader output samples), measured.
        for (rate, n, expected) in [
            (44_100, 1, 1),
            (44_100, 441, 121),
            (44_100, 100_000, 27_211),
            (32_000, 8, 4),
            (32_000, 1000, 376),
            (32_000, 4097, 1537),
            (48_000, 4, 1),
            (48_000, 144_123, 36_031),
            (8_000, 1, 2),
            (22_050, 66_273, 36_067),
        ] {
            let x = vec![0.5f32; n];
            assert_eq!(resample_linear(&x, rate).len(), expected, "{rate} Hz, {n}");
        }
        let x = [0.25f32, -0.5];
        assert_eq!(resample_linear(&x, 12_000), x);
    }

    #[test]
    fn bands_are_unit_area_triangles_up_to_nyquist() {
        let bank = filterbank();
        let bin_hz = 6000.0 / 256.0;
        for (b, row) in bank.rows().into_iter().enumerate() {
            let area: f32 = row.sum() * bin_hz;
            // A band about 56 Hz wide (below 1 kHz) samples its triangle at two or three 23 Hz
            // bins; the wider ones above come closer to the continuous area.
            let tolerance = match b {
                0..40 => 0.12,
                40..60 => 0.07,
                _ => 0.015,
            };
            assert!((area - 1.0).abs() < tolerance, "band {b}: area {area}");
            assert!(row.iter().all(|&w| w >= 0.0));
        }
        assert!(bank.column(0).iter().all(|&w| w == 0.0), "0 Hz is an edge");
    }

    #[test]
    fn silence_is_minus_200_and_a_full_scale_tone_is_loud() {
        let mel = mel_spectrogram(&vec![0.0; 2000]);
        assert!(mel.iter().all(|&v| v == FLOOR_DB));
        let tone: Vec<f32> = (0..12_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 12_000.0).sin())
            .collect();
        let mel = mel_spectrogram(&tone);
        let peak = mel.column(20).iter().copied().fold(f32::MIN, f32::max);
        // Magnitude ≈ 128 at the peak bin (window sum 255.5 / 2): power ≈ 1.6e4, weighted by a
        // band about 56 Hz wide (peak weight ≈ 0.036): about 55 dB.
        assert!(peak > 30.0 && peak < 70.0, "{peak}");
    }
}
