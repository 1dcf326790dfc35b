//! Renders a [`ClipDesign`] to samples: a melody and a chord pad from one wavetable whose harmonic
//! roll-off is the clip's brightness, optional drums, then scaled to the clip's loudness.
//!
//! A wavetable per clip (not per-sample additive synthesis) keeps thousands of clips cheap, and its
//! harmonics stop below Nyquist so nothing aliases.

use rand::Rng;

use super::design::ClipDesign;

const TABLE: usize = 2048;
const MAJOR: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];
/// Chord roots (scale degrees) of the four-bar progression: I–IV–V–vi, or i–iv–v–VI in minor.
const PROGRESSION: [usize; 4] = [0, 3, 4, 5];

fn midi_hz(m: f32) -> f32 {
    440.0 * 2f32.powf((m - 69.0) / 12.0)
}

/// One period of the clip's timbre, peak-normalised.
fn wavetable(d: &ClipDesign, top_hz: f32, sr: f32) -> Vec<f32> {
    let max_h = ((0.45 * sr / top_hz).floor() as usize).clamp(1, 40);
    let rolloff = 3.0 - 2.3 * d.brightness;
    let mut t = vec![0.0f32; TABLE];
    for h in 1..=max_h {
        if d.instrument.odd_only && h % 2 == 0 {
            continue;
        }
        let amp = (h as f32).powf(-rolloff);
        for (i, v) in t.iter_mut().enumerate() {
            *v += amp * (2.0 * std::f32::consts::PI * (h * i) as f32 / TABLE as f32).sin();
        }
    }
    let peak = t.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
    t.iter_mut().for_each(|v| *v /= peak);
    t
}

/// Adds one note of the wavetable to `out`.
#[allow(clippy::too_many_arguments)]
fn note(
    out: &mut [f32],
    table: &[f32],
    d: &ClipDesign,
    start: usize,
    len: usize,
    midi: f32,
    amp: f32,
    sr: f32,
) {
    let hz = midi_hz(midi);
    let attack = if d.instrument.pluck_decay.is_some() {
        0.004
    } else {
        0.06
    };
    let release = 0.03;
    let dur = len as f32 / sr;
    let mut phase = 0.0f32;
    let end = (start + len).min(out.len());
    for (i, o) in out[start.min(end)..end].iter_mut().enumerate() {
        let t = i as f32 / sr;
        let env_a = (t / attack).min(1.0);
        let env_r = ((dur - t) / release).clamp(0.0, 1.0);
        let env_d = d.instrument.pluck_decay.map_or(1.0, |tau| (-t / tau).exp());
        let vib = if d.instrument.vibrato > 0.0 {
            2f32.powf(d.instrument.vibrato / 12.0 * (2.0 * std::f32::consts::PI * 5.5 * t).sin())
        } else {
            1.0
        };
        phase = (phase + hz * vib / sr).fract();
        let idx = phase * TABLE as f32;
        let i0 = idx as usize % TABLE;
        let frac = idx - idx.floor();
        let s = table[i0] * (1.0 - frac) + table[(i0 + 1) % TABLE] * frac;
        *o += amp * env_a * env_r * env_d * s;
    }
}

fn kick(out: &mut [f32], start: usize, sr: f32, amp: f32) {
    let len = (0.15 * sr) as usize;
    let mut phase = 0.0f32;
    for (i, o) in out.iter_mut().skip(start).take(len).enumerate() {
        let t = i as f32 / sr;
        let hz = 50.0 + 90.0 * (-t / 0.03).exp();
        phase += hz / sr;
        *o += amp * (-t / 0.08).exp() * (2.0 * std::f32::consts::PI * phase).sin();
    }
}

fn hat(out: &mut [f32], start: usize, sr: f32, amp: f32, rng: &mut impl Rng) {
    let len = (0.04 * sr) as usize;
    let mut prev = 0.0f32;
    for (i, o) in out.iter_mut().skip(start).take(len).enumerate() {
        let t = i as f32 / sr;
        let white: f32 = rng.gen_range(-1.0..1.0);
        // First difference: a crude high-pass, so the hat sits in the top bands.
        let hp = white - prev;
        prev = white;
        *o += amp * (-t / 0.012).exp() * hp;
    }
}

/// `seconds` of the clip at `sample_rate`.
pub fn render(d: &ClipDesign, seconds: f32, sample_rate: u32, rng: &mut impl Rng) -> Vec<f32> {
    let sr = sample_rate as f32;
    let n = (seconds * sr).round() as usize;
    let mut out = vec![0.0f32; n];
    let scale = if d.minor { MINOR } else { MAJOR };
    let root = d.root_midi + d.instrument.register;
    let table = wavetable(d, midi_hz((root + 26) as f32), sr);

    let beat = 60.0 / d.bpm;
    let step = beat / d.notes_per_beat as f32;
    let step_len = (step * sr) as usize;
    let bar_len = (4.0 * beat * sr) as usize;

    // Chord pad, one chord per bar, an octave below the melody.
    let mut bar = 0;
    while bar * bar_len < n {
        let degree = PROGRESSION[bar % PROGRESSION.len()];
        let chord_root = root - 12 + scale[degree];
        let mut voices: Vec<i32> = (0..3)
            .map(|k| root - 12 + scale[(degree + 2 * k) % 7] + 12 * (((degree + 2 * k) / 7) as i32))
            .collect();
        if rng.gen_bool(f64::from(d.dissonance)) {
            voices.push(chord_root + if rng.gen_bool(0.5) { 1 } else { 6 });
        }
        for v in voices {
            note(
                &mut out,
                &table,
                d,
                bar * bar_len,
                bar_len,
                v as f32,
                0.18,
                sr,
            );
        }
        bar += 1;
    }

    // Melody: a random walk on the scale, with rests.
    let mut degree: i32 = 7;
    let mut t = 0;
    let mut k = 0;
    while t < n {
        if !rng.gen_bool(0.15) {
            degree = (degree + rng.gen_range(-2..=2)).clamp(0, 14);
            let midi = root + scale[(degree % 7) as usize] + 12 * (degree / 7);
            note(
                &mut out,
                &table,
                d,
                t,
                (step_len as f32 * 0.9) as usize,
                midi as f32,
                0.5,
                sr,
            );
        }
        if d.instrument.drums >= 1 && k % d.notes_per_beat as usize == 0 {
            kick(&mut out, t, sr, 0.6);
        }
        if d.instrument.drums >= 2 {
            hat(&mut out, t, sr, 0.25, rng);
        }
        t += step_len.max(1);
        k += 1;
    }

    let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
    let g = d.gain / peak;
    for v in out.iter_mut() {
        // A faint noise floor, as in any recording.
        *v = *v * g + 1e-3 * rng.gen_range(-1.0f32..1.0);
    }
    out
}
