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

/// One instrument per label (cycled when a map has more labels than this table).
pub const INSTRUMENTS: [Instrument; 11] = [
    Instrument {
        name: "soft-piano",
        odd_only: false,
        register: 0,
        pluck_decay: Some(0.5),
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
        name: "flute",
        odd_only: true,
        register: 12,
        pluck_decay: None,
        drums: 0,
        vibrato: 0.15,
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
        name: "synth-lead",
        odd_only: false,
        register: 12,
        pluck_decay: Some(0.12),
        drums: 2,
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
        name: "bass-pluck",
        odd_only: false,
        register: -12,
        pluck_decay: Some(0.18),
        drums: 2,
        vibrato: 0.0,
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
    /// Peak amplitude, 0.1 (calm) to 0.85 (intense).
    pub gain: f32,
    /// MIDI note of the tonic before the instrument's register shift.
    pub root_midi: i32,
    pub instrument: Instrument,
}

/// Standard deviation of the per-clip jitter of the VA point.
pub const VA_JITTER: f64 = 0.06;

/// Designs one clip of a label: the clip's VA point is the tag's point pulled halfway to the
/// label's centre and jittered, and every property follows that jittered point, so a VA regressor
/// finds signal inside a label too.
pub fn design(
    label_id: u32,
    label_index: usize,
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
        gain: 0.1 + 0.75 * a,
        root_midi: rng.gen_range(48..60),
        instrument: INSTRUMENTS[label_index % INSTRUMENTS.len()],
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
        let c = design(0, 0, calm, "calm", calm, &mut rng);
        let w = design(1, 0, wild, "wild", wild, &mut rng);
        assert!(w.bpm > c.bpm + 50.0);
        assert!(w.notes_per_beat > c.notes_per_beat);
        assert!(w.gain > c.gain + 0.4);
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
        let s = design(0, 0, sad, "sad", sad, &mut rng);
        let h = design(1, 1, happy, "happy", happy, &mut rng);
        assert!(s.minor && !h.minor);
        assert!(s.dissonance > h.dissonance);
        assert!(h.brightness > s.brightness);
    }
}
