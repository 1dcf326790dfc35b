//! From a point in the valence–arousal plane to musical properties, so a synthetic mood sounds like
//! its tags: arousal drives tempo, note density and loudness; valence drives mode and consonance;
//! both drive brightness. Each label also gets its own instrument (timbre, register, envelope,
//! drums), so labels whose tags sit close in the VA plane still sound different.

use rand::Rng;
use serde::Serialize;

use crate::dataset::va::Va;

/// A timbre family: what makes a label recognisable beyond its VA point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Instrument {
    pub name: &'static str,
    /// Only odd harmonics (clarinet-like, hollow) instead of all of them.
    pub odd_only: bool,
    /// Semitones added to the clip's root.
    pub register: i32,
    /// Plucked notes decay with this time constant (s); `None` is a sustained pad.
    pub pluck_decay: Option<f32>,
    /// 0: no drums, 1: kick on the beat, 2: kick and hi-hat on every note.
    pub drums: u8,
    /// Vibrato depth in semitones (at 5.5 Hz).
    pub vibrato: f32,
}

/// The instruments, from the calmest (sustained, no drums) to the most energetic (short notes,
/// kick and hi-hat); labels get them in the order of their arousal.
pub const INSTRUMENTS: [Instrument; 11] = [
    Instrument {
        name: "flute",
        odd_only: true,
        register: 12,
        pluck_decay: None,
        drums: 0,
        vibrato: 0.15,
    },
    Instrument {
        name: "strings",
        odd_only: false,
        register: 0,
        pluck_decay: None,
        drums: 0,
        vibrato: 0.25,
    },
    Instrument {
        name: "soft-piano",
        odd_only: false,
        register: 0,
        pluck_decay: Some(0.5),
        drums: 0,
        vibrato: 0.0,
    },
    Instrument {
        name: "clarinet",
        odd_only: true,
        register: 0,
        pluck_decay: None,
        drums: 0,
        vibrato: 0.05,
    },
    Instrument {
        name: "music-box",
        odd_only: false,
        register: 24,
        pluck_decay: Some(0.25),
        drums: 0,
        vibrato: 0.0,
    },
    Instrument {
        name: "brass-pad",
        odd_only: false,
        register: -12,
        pluck_decay: None,
        drums: 1,
        vibrato: 0.0,
    },
    Instrument {
        name: "organ",
        odd_only: true,
        register: -12,
        pluck_decay: None,
        drums: 1,
        vibrato: 0.0,
    },
    Instrument {
        name: "marimba",
        odd_only: true,
        register: 12,
        pluck_decay: Some(0.08),
        drums: 1,
        vibrato: 0.0,
    },
    Instrument {
        name: "guitar",
        odd_only: false,
        register: 0,
        pluck_decay: Some(0.3),
        drums: 2,
        vibrato: 0.0,
    },
    Instrument {
        name: "bass-pluck",
        odd_only: false,
        register: -12,
        pluck_decay: Some(0.18),
        drums: 2,
        vibrato: 0.0,
    },
    Instrument {
        name: "synth-lead",
        odd_only: false,
        register: 12,
        pluck_decay: Some(0.12),
        drums: 2,
        vibrato: 0.0,
    },
];

/// Everything needed to render one clip; written to `clips.csv` so tests can check the design.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipDesign {
    pub label_id: u32,
    pub tag: String,
    pub va: Va,
    /// Beats per minute: 60 (arousal 0) to 180 (arousal 1).
    pub bpm: f32,
    /// Notes per beat, 1 to 4, rising with arousal.
    pub notes_per_beat: u32,
    /// Minor mode below valence 0.5.
    pub minor: bool,
    /// Probability that a chord carries a dissonant extra note (semitone or tritone).
    pub dissonance: f32,
    /// 0 (dull: steep harmonic roll-off) to 1 (bright: slow roll-off).
    pub brightness: f32,
    /// RMS level, 0.03 (calm, about -30 dBFS) to 0.25 (intense, about -12 dBFS); a clip whose
    /// peaks would clip is turned down instead.
    pub gain: f32,
    /// MIDI note of the tonic before the instrument's register shift.
    pub root_midi: i32,
    pub instrument: Instrument,
}

/// The instrument of each of `n` labels given their arousal: ranked from calm to energetic and
/// spread over the whole table, so a small corpus still spans distinct timbres. With more labels
/// than instruments, neighbours in arousal share one.
pub fn instruments_by_arousal(arousal: &[f64]) -> Vec<Instrument> {
    let n = arousal.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| arousal[a].total_cmp(&arousal[b]).then(a.cmp(&b)));
    let mut out = vec![INSTRUMENTS[0]; n];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = INSTRUMENTS[rank * (INSTRUMENTS.len() - 1) / (n - 1).max(1)];
    }
    out
}

/// Standard deviation of the per-clip jitter of the VA point.
pub const VA_JITTER: f64 = 0.06;

/// Designs one clip of a label: the clip's VA point is the tag's point pulled halfway to the
/// label's centre and jittered, and every property follows that jittered point, so a VA regressor
/// finds signal inside a label too.
pub fn design(
    label_id: u32,
    instrument: Instrument,
    centre: Va,
    tag: &str,
    tag_va: Va,
    rng: &mut impl Rng,
) -> ClipDesign {
    let mut jitter =
        |base: f64, c: f64| (0.5 * base + 0.5 * c + VA_JITTER * gaussian(rng)).clamp(0.02, 0.98);
    let va = Va {
        valence: jitter(tag_va.valence, centre.valence),
        arousal: jitter(tag_va.arousal, centre.arousal),
    };
    let (v, a) = (va.valence as f32, va.arousal as f32);
    ClipDesign {
        label_id,
        tag: tag.to_string(),
        va,
        bpm: 60.0 + 120.0 * a,
        notes_per_beat: 1 + (a * 3.99).floor() as u32,
        minor: v < 0.5,
        dissonance: (0.9 * (1.0 - v) - 0.2).clamp(0.0, 0.8),
        brightness: (0.55 * a + 0.45 * v).clamp(0.0, 1.0),
        gain: 0.03 + 0.22 * a,
        root_midi: rng.gen_range(48..60),
        instrument,
    }
}

/// A standard normal draw (Box–Muller), to avoid a dependency for one distribution.
pub fn gaussian(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn arousal_raises_tempo_density_and_loudness() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let calm = Va {
            valence: 0.5,
            arousal: 0.1,
        };
        let wild = Va {
            valence: 0.5,
            arousal: 0.9,
        };
        let c = design(0, INSTRUMENTS[0], calm, "calm", calm, &mut rng);
        let w = design(1, INSTRUMENTS[0], wild, "wild", wild, &mut rng);
        assert!(w.bpm > c.bpm + 50.0);
        assert!(w.notes_per_beat > c.notes_per_beat);
        assert!(w.gain > 2.0 * c.gain);
    }

    #[test]
    fn calmer_labels_get_calmer_instruments() {
        let got = instruments_by_arousal(&[0.6, 0.2, 0.4]);
        assert_eq!(got[1], INSTRUMENTS[0]);
        assert_eq!(got[2], INSTRUMENTS[5]);
        assert_eq!(got[0], INSTRUMENTS[10]);
        assert!(got[0].drums > got[1].drums);
    }

    #[test]
    fn valence_sets_mode_and_consonance() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let sad = Va {
            valence: 0.15,
            arousal: 0.5,
        };
        let happy = Va {
            valence: 0.9,
            arousal: 0.5,
        };
        let s = design(0, INSTRUMENTS[0], sad, "sad", sad, &mut rng);
        let h = design(1, INSTRUMENTS[1], happy, "happy", happy, &mut rng);
        assert!(s.minor && !h.minor);
        assert!(s.dissonance > h.dissonance);
        assert!(h.brightness > s.brightness);
    }
}
