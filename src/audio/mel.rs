//! Mel-spectrograms in the MTG-Jamendo convention (12 kHz, frame 512, hop 256, 96 Slaney mel bands
//! with area-normalised triangles, power, dB), computed to match librosa's
//! `melspectrogram` + `power_to_db` so models trained on the released features accept musav's.
//!
//! Frames are centred as librosa does (`center=True`, zero padding), so frame `t` is centred on
//! sample `t * hop` and a clip of `n` samples has `1 + n / hop` frames.

use std::cell::RefCell;
use std::sync::Arc;

use ndarray::Array2;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};

/// Parameters of the mel-spectrogram; `Default` is the MTG-Jamendo convention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MelConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub fmin: f32,
    /// Upper edge of the top band; `None` is the Nyquist frequency.
    pub fmax: Option<f32>,
    /// Floor of the power before the logarithm (librosa's `amin`), so silence maps to -100 dB.
    pub amin: f32,
    /// Clip to this many dB below the loudest bin (librosa's `top_db`); `None` keeps everything.
    pub top_db: Option<f32>,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            sample_rate: super::TARGET_SAMPLE_RATE,
            n_fft: 512,
            hop: 256,
            n_mels: 96,
            fmin: 0.0,
            fmax: None,
            amin: 1e-10,
            top_db: None,
        }
    }
}

impl MelConfig {
    /// A short stable text naming every parameter, used in cache keys so a change invalidates.
    pub fn fingerprint(&self) -> String {
        format!(
            "sr{}-fft{}-hop{}-mels{}-fmin{}-fmax{:?}-amin{}-top{:?}",
            self.sample_rate,
            self.n_fft,
            self.hop,
            self.n_mels,
            self.fmin,
            self.fmax,
            self.amin,
            self.top_db
        )
    }

    /// Number of frames of a clip of `samples` samples.
    pub fn frames(&self, samples: usize) -> usize {
        1 + samples / self.hop
    }
}

/// The dB mel-spectrogram (`n_mels × frames`) of 12 kHz mono samples.
///
/// The extractor (FFT plan, window, filterbank) is built once per thread and configuration.
pub fn mel_spectrogram(samples_12k: &[f32], cfg: &MelConfig) -> Array2<f32> {
    thread_local! {
        static EXTRACTOR: RefCell<Option<MelExtractor>> = const { RefCell::new(None) };
    }
    EXTRACTOR.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.as_ref().is_none_or(|e| e.cfg != *cfg) {
            *cached = Some(MelExtractor::new(cfg));
        }
        cached.as_ref().expect("set above").compute(samples_12k)
    })
}

/// A reusable extractor: the FFT plan, window and filterbank are built once.
pub struct MelExtractor {
    cfg: MelConfig,
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    /// Per band: first FFT bin with a non-zero weight, and the weights from there on.
    filters: Vec<(usize, Vec<f32>)>,
}

impl MelExtractor {
    pub fn new(cfg: &MelConfig) -> MelExtractor {
        let fft = FftPlanner::new().plan_fft_forward(cfg.n_fft);
        MelExtractor {
            cfg: cfg.clone(),
            fft,
            window: hann_periodic(cfg.n_fft),
            filters: sparse(&mel_filterbank(cfg)),
        }
    }

    pub fn config(&self) -> &MelConfig {
        &self.cfg
    }

    pub fn compute(&self, samples: &[f32]) -> Array2<f32> {
        let n = self.cfg.n_fft;
        let hop = self.cfg.hop;
        let half = n / 2;
        let frames = self.cfg.frames(samples.len());
        let bins = half + 1;
        let n_mels = self.cfg.n_mels;
        let mut out = vec![0.0f32; n_mels * frames];

        // Frame t of the zero-padded signal: samples[t·hop - half ..][..n], windowed, into `dst`.
        let frame = |t: usize, dst: &mut [f32]| {
            let start = (t * hop) as isize - half as isize;
            if start >= 0 && start as usize + n <= samples.len() {
                let src = &samples[start as usize..start as usize + n];
                for ((d, s), w) in dst.iter_mut().zip(src).zip(&self.window) {
                    *d = s * w;
                }
            } else {
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
        };

        // Two real frames share one complex FFT (one as real, one as imaginary part): half the
        // work. Pairs are done one at a time in small buffers that stay in cache.
        let mut buf = vec![Complex32::new(0.0, 0.0); n];
        let mut scratch = vec![Complex32::new(0.0, 0.0); self.fft.get_inplace_scratch_len()];
        let (mut x0, mut x1) = (vec![0.0f32; n], vec![0.0f32; n]);
        let (mut p0, mut p1) = (vec![0.0f32; bins], vec![0.0f32; bins]);
        for t0 in (0..frames).step_by(2) {
            let t1 = t0 + 1;
            frame(t0, &mut x0);
            if t1 < frames {
                frame(t1, &mut x1);
            } else {
                x1.fill(0.0);
            }
            for ((c, &re), &im) in buf.iter_mut().zip(&x0).zip(&x1) {
                *c = Complex32::new(re, im);
            }
            self.fft.process_with_scratch(&mut buf, &mut scratch);
            // Z = X0 + i·X1 with X0, X1 Hermitian: X0[k] = (Z[k] + Z*[n-k]) / 2,
            // X1[k] = (Z[k] - Z*[n-k]) / 2i.
            for k in 0..bins {
                let a = buf[k];
                let b = buf[if k == 0 { 0 } else { n - k }].conj();
                p0[k] = (a + b).norm_sqr() * 0.25;
                p1[k] = (a - b).norm_sqr() * 0.25;
            }
            for (m, (start, w)) in self.filters.iter().enumerate() {
                let (mut s0, mut s1) = (0.0f32, 0.0f32);
                for ((wk, a), b) in w.iter().zip(&p0[*start..]).zip(&p1[*start..]) {
                    s0 += wk * a;
                    s1 += wk * b;
                }
                let row = &mut out[m * frames..(m + 1) * frames];
                row[t0] = s0;
                if t1 < frames {
                    row[t1] = s1;
                }
            }
        }
        to_db(&mut out, self.cfg.amin, self.cfg.top_db);
        Array2::from_shape_vec((n_mels, frames), out)
            .unwrap_or_else(|_| Array2::zeros((n_mels, frames)))
    }
}

/// `10·log10(max(amin, x))`, optionally clipped `top_db` below the maximum (librosa's `power_to_db`
/// with `ref=1.0`).
fn to_db(values: &mut [f32], amin: f32, top_db: Option<f32>) {
    if amin >= f32::MIN_POSITIVE {
        for v in values.iter_mut() {
            *v = db(v.max(amin));
        }
    } else {
        for v in values.iter_mut() {
            *v = 10.0 * v.max(amin).log10();
        }
    }
    if let Some(top) = top_db {
        let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in values.iter_mut() {
            *v = v.max(max - top);
        }
    }
}

/// `10·log10(x)` for `x` ≥ `f32::MIN_POSITIVE` (or +∞), within a few f32 ulps of libm's
/// (|error| < 5e-5 dB) at a fraction of its cost (inlined, no call): the exponent from the bits,
/// `ln` of the mantissa (in [√½, √2]) from the atanh series in `s = t / (2 + t)`, |s| ≤ 0.172, cut
/// where the next term is below 1e-9. No libm fallback inside: LLVM would hoist the call out of
/// the branch and pay it for every value.
fn db(x: f32) -> f32 {
    debug_assert!(x >= f32::MIN_POSITIVE, "{x}");
    if x == f32::INFINITY {
        return x;
    }
    const TEN_LOG10_2: f32 = 10.0 * std::f32::consts::LOG10_2;
    const TEN_LOG10_E: f32 = 10.0 * std::f32::consts::LOG10_E;
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    if m > std::f32::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let t = m - 1.0;
    let s = t / (2.0 + t);
    let s2 = s * s;
    let ln = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))));
    e as f32 * TEN_LOG10_2 + ln * TEN_LOG10_E
}

/// The periodic Hann window (scipy `get_window('hann', n, fftbins=True)`), librosa's default.
fn hann_periodic(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32)
        .collect()
}

/// Hz → mel on the Slaney scale: linear below 1 kHz, logarithmic above.
pub fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

/// Inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// The `n_mels × (n_fft/2+1)` filterbank of librosa's `filters.mel(htk=False, norm='slaney')`:
/// triangles between consecutive mel points, each scaled to unit area so wide high bands do not
/// dominate.
pub fn mel_filterbank(cfg: &MelConfig) -> Array2<f32> {
    let bins = cfg.n_fft / 2 + 1;
    let sr = f64::from(cfg.sample_rate);
    let fmax = cfg.fmax.map_or(sr / 2.0, f64::from);
    let fftfreqs: Vec<f64> = (0..bins)
        .map(|k| k as f64 * sr / cfg.n_fft as f64)
        .collect();
    let (lo, hi) = (hz_to_mel(f64::from(cfg.fmin)), hz_to_mel(fmax));
    let points = cfg.n_mels + 2;
    let mel_f: Vec<f64> = (0..points)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (points - 1) as f64))
        .collect();
    let mut w = Array2::<f32>::zeros((cfg.n_mels, bins));
    for m in 0..cfg.n_mels {
        let (f0, f1, f2) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (f2 - f0);
        for (k, &f) in fftfreqs.iter().enumerate() {
            let lower = (f - f0) / (f1 - f0);
            let upper = (f2 - f) / (f2 - f1);
            let v = lower.min(upper).max(0.0);
            w[(m, k)] = (v * enorm) as f32;
        }
    }
    w
}

fn sparse(w: &Array2<f32>) -> Vec<(usize, Vec<f32>)> {
    w.rows()
        .into_iter()
        .map(|row| {
            let first = row.iter().position(|&v| v != 0.0).unwrap_or(0);
            let last = row.iter().rposition(|&v| v != 0.0).map_or(first, |l| l + 1);
            (
                first,
                row.iter().skip(first).take(last - first).copied().collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_is_linear_below_1khz() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-9);
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-9);
        for hz in [50.0, 999.0, 1000.0, 3000.0, 6000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
    }

    #[test]
    fn frame_count_follows_centred_framing() {
        let cfg = MelConfig::default();
        let m = mel_spectrogram(&vec![0.0; 12_000], &cfg);
        assert_eq!(m.dim(), (96, 1 + 12_000 / 256));
        // Silence sits at the amin floor.
        assert!(m.iter().all(|&v| (v + 100.0).abs() < 1e-4));
    }

    #[test]
    fn a_tone_peaks_in_the_band_holding_its_frequency() {
        let cfg = MelConfig::default();
        let x: Vec<f32> = (0..12_000)
            .map(|i| (2.0 * std::f32::consts::PI * 2000.0 * i as f32 / 12_000.0).sin())
            .collect();
        let m = mel_spectrogram(&x, &cfg);
        let col = m.column(20);
        let peak = col
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap();
        let mels: Vec<f64> = (0..98)
            .map(|i| mel_to_hz(hz_to_mel(6000.0) * i as f64 / 97.0))
            .collect();
        // The peak band's triangle spans 2 kHz.
        assert!(
            mels[peak] <= 2000.0 && mels[peak + 2] >= 2000.0,
            "peak {peak}"
        );
    }

    #[test]
    fn fast_db_matches_libm() {
        let mut worst = 0.0f32;
        let mut x = 1e-10f32;
        while x < 1e6 {
            let r2 = std::f32::consts::SQRT_2;
            for v in [
                x,
                x * 1.000_001,
                x * r2,
                x * r2.next_up(),
                x * r2.next_down(),
            ] {
                let d = (db(v) - 10.0 * v.log10()).abs();
                worst = worst.max(d);
            }
            x *= 1.013;
        }
        // A few f32 ulps at up to ±100 dB (one ulp at 64 dB is 7.6e-6).
        assert!(worst < 5e-5, "max |error| {worst} dB");
        assert_eq!(db(1.0), 0.0);
        assert_eq!(db(f32::INFINITY), f32::INFINITY);
        let mut v = [0.0, 1e-20, 1.0];
        to_db(&mut v, 0.0, None);
        assert_eq!(v[0], f32::NEG_INFINITY);
        assert!((v[1] + 200.0).abs() < 1e-3 && v[2] == 0.0, "{v:?}");
    }

    #[test]
    fn paired_fft_matches_single_frames() {
        // Odd and even frames go through different halves of the packed FFT; both must agree with
        // a plain per-frame computation.
        let cfg = MelConfig::default();
        let x: Vec<f32> = (0..3000)
            .map(|i| ((i * 7919) % 113) as f32 / 113.0 - 0.5)
            .collect();
        let m = mel_spectrogram(&x, &cfg);
        let fb = mel_filterbank(&cfg);
        let win = hann_periodic(512);
        let fft = FftPlanner::new().plan_fft_forward(512);
        for t in [0usize, 1, 5, 6, 11] {
            let mut buf: Vec<Complex32> = (0..512)
                .map(|i| {
                    let pos = (t * 256 + i) as isize - 256;
                    let s = if pos < 0 {
                        0.0
                    } else {
                        x.get(pos as usize).copied().unwrap_or(0.0)
                    };
                    Complex32::new(s * win[i], 0.0)
                })
                .collect();
            fft.process(&mut buf);
            for b in 0..96 {
                let p: f32 = (0..257).map(|k| fb[(b, k)] * buf[k].norm_sqr()).sum();
                let db = 10.0 * p.max(1e-10).log10();
                assert!(
                    (db - m[(b, t)]).abs() < 1e-3,
                    "frame {t} band {b}: {db} vs {}",
                    m[(b, t)]
                );
            }
        }
    }
}
