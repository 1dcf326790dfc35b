//! Audio decoding, mel parity with librosa, the feature source and the extraction run, on committed
//! fixtures (made by scripts/mel-parity.sh fixtures) and on files written here.

mod util;

use std::path::{Path, PathBuf};

use musav::audio::decode::{decode_mono, load_mono_12k, load_mono_12k_with_info};
use musav::audio::mel::{MelConfig, mel_spectrogram};
use musav::audio::npy::read_mel;
use musav::audio::resample::resample;
use musav::features::FeatureSource;
use musav::features::run::{TrackRef, extract_all, write_report};
use ndarray::{Array2, s};
use util::{musav, run};

// The bounds below are about 2-3 times the figures measured on these fixtures (the tests print
// them; measured 2026-12-03), so a systematic error of a fraction of a dB fails.

fn fixture(name: &str) -> PathBuf {
    util::repo().join("tests/fixtures/audio").join(name)
}

/// Mean and max |difference| in dB, leaving out `edge` frames at each end.
fn diff(
    a: &Array2<f32>,
    b: &Array2<f32>,
    bands: std::ops::Range<usize>,
    edge: usize,
) -> (f32, f32) {
    assert_eq!(a.dim(), b.dim());
    let n = a.ncols();
    let d = (&a.slice(s![bands.clone(), edge..n - edge]) - &b.slice(s![bands, edge..n - edge]))
        .mapv(f32::abs);
    (d.mean().unwrap(), d.fold(0.0f32, |m, &v| m.max(v)))
}

#[test]
fn mel_matches_librosa_on_12k_audio() {
    let ours = mel_spectrogram(
        &load_mono_12k(&fixture("parity_music_12k.wav")).unwrap(),
        &MelConfig::default(),
    );
    let reference = read_mel(&fixture("parity_music_12k.librosa.npy")).unwrap();
    let (mean, max) = diff(&ours, &reference, 0..96, 2);
    eprintln!("12 kHz parity: mean {mean:.5} dB, max {max:.5} dB");
    // Measured: mean 0.00001 dB, max 0.00018 dB (float rounding only).
    assert!(mean < 3e-5 && max < 5e-4, "mean {mean} max {max}");
}

#[test]
fn mel_matches_librosa_on_resampled_stereo_44k_audio() {
    let ours = mel_spectrogram(
        &load_mono_12k(&fixture("parity_stereo_44k.wav")).unwrap(),
        &MelConfig::default(),
    );
    let reference = read_mel(&fixture("parity_stereo_44k.librosa.npy")).unwrap();
    let (mean, _) = diff(&ours, &reference, 0..96, 2);
    // All bands, the top two (in the anti-aliasing transition) too: the resampler's filter follows
    // soxr HQ's transition band.
    let (mean_low, max_low) = diff(&ours, &reference, 0..94, 2);
    let (mean_top, max_top) = diff(&ours, &reference, 94..96, 2);
    eprintln!(
        "44.1 kHz parity: mean {mean:.5} dB; bands 0-93 mean {mean_low:.5} max {max_low:.5} dB; \
         bands 94-95 mean {mean_top:.5} max {max_top:.5} dB"
    );
    // Measured: mean 0.00039 dB; bands 0-93 max 0.0017 dB; bands 94-95 mean 0.015, max 0.087 dB.
    assert!(mean < 0.001, "mean {mean}");
    assert!(max_low < 0.005, "max below 5.6 kHz {max_low}");
    assert!(
        mean_top < 0.04 && max_top < 0.2,
        "top two bands: mean {mean_top} max {max_top}"
    );
}

#[test]
fn mel_matches_librosa_on_mp3() {
    // librosa reads MP3 through libsndfile/mpg123; musav's decoder must give the same samples,
    // aligned (encoder delay trimmed), for the mel-spectrograms to agree. The stereo fixtures
    // (joint stereo, clicks that make LAME switch to short blocks, hiss up to 16 kHz) go through
    // MPEG-1 at 44.1 and 32 kHz and MPEG-2 at 22.05 kHz. Bounds per fixture (mean, max dB), from
    // measured mean/max of 0.0091/0.31 (tone), 0.00034/0.054, 0.00033/0.074 and 0.00069/0.25.
    for (name, mean_bound, max_bound) in [
        ("tone_440", 0.025, 0.75),
        ("stereo_44k", 0.001, 0.15),
        ("stereo_32k", 0.001, 0.2),
        ("stereo_22k", 0.002, 0.6),
    ] {
        let ours = mel_spectrogram(
            &load_mono_12k(&fixture(&format!("{name}.mp3"))).unwrap(),
            &MelConfig::default(),
        );
        let reference = read_mel(&fixture(&format!("{name}.librosa.npy"))).unwrap();
        let (mean, max) = diff(&ours, &reference, 0..96, 2);
        eprintln!("{name}.mp3 parity: mean {mean:.5} dB, max {max:.5} dB");
        assert!(
            mean < mean_bound && max < max_bound,
            "{name}: mean {mean} max {max}"
        );
    }
}

#[test]
fn mp3_decoding_agrees_with_symphonias_independent_decoder() {
    // symphonia's MP3 decoder is a separate implementation, and with gapless on it reads the
    // LAME header by its own code: the same length and, sample for sample, the same signal.
    // Measured: samples within 1.3e-6 of the peak; mel mean/max 0.0077/0.20 dB on the tone (its
    // upper bands sit at the -100 dB floor, where rounding moves whole dB), 0.00002-0.00004 /
    // 0.002-0.021 dB on the stereo fixtures. Bounds per fixture (mean, max dB):
    for (name, mean_bound, max_bound) in [
        ("tone_440", 0.02, 0.5),
        ("stereo_44k", 1e-4, 0.005),
        ("stereo_32k", 1e-4, 0.015),
        ("stereo_22k", 1e-4, 0.05),
    ] {
        let path = fixture(&format!("{name}.mp3"));
        let ours = decode_mono(&path).unwrap();
        let theirs = symphonia_gapless(&path);
        assert_eq!(ours.samples.len(), theirs.len(), "{name}");
        let peak = theirs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = ours
            .samples
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let cfg = MelConfig::default();
        let at12 = |x: &[f32]| resample(x, ours.sample_rate, 12_000).unwrap();
        let (mean, max) = diff(
            &mel_spectrogram(&at12(&ours.samples), &cfg),
            &mel_spectrogram(&at12(&theirs), &cfg),
            0..96,
            2,
        );
        eprintln!(
            "{name}.mp3 nanomp3 vs symphonia: max |sample diff| {:.2e} of the peak, mel mean \
             {mean:.5} dB, max {max:.5} dB",
            err / peak
        );
        assert!(err < 3e-6 * peak, "{name}: {err} (peak {peak})");
        assert!(
            mean < mean_bound && max < max_bound,
            "{name}: mean {mean} max {max}"
        );
    }
}

/// `path` decoded by symphonia with its gapless trimming, channels averaged.
fn symphonia_gapless(path: &Path) -> Vec<f32> {
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::formats::FormatOptions;
    let mss = symphonia::core::io::MediaSourceStream::new(
        Box::new(std::fs::File::open(path).unwrap()),
        Default::default(),
    );
    let opts = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let mut format = symphonia::default::get_probe()
        .format(&Default::default(), mss, &opts, &Default::default())
        .unwrap()
        .format;
    let track = format.default_track().unwrap();
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &Default::default())
        .unwrap();
    let mut out = Vec::new();
    while let Ok(packet) = format.next_packet() {
        let audio = decoder.decode(&packet).unwrap();
        let spec = *audio.spec();
        let channels = spec.channels.count();
        let mut buf = SampleBuffer::<f32>::new(audio.capacity() as u64, spec);
        buf.copy_interleaved_ref(audio);
        out.extend(
            buf.samples()
                .chunks_exact(channels)
                .map(|c| c.iter().sum::<f32>() / channels as f32),
        );
    }
    out
}

#[test]
fn a_file_cut_short_decodes_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    for (name, seconds) in [("stereo_44k.mp3", 2.0), ("parity_stereo_44k.wav", 1.0)] {
        let (whole, info) = load_mono_12k_with_info(&fixture(name)).unwrap();
        assert!(info.warnings.is_empty(), "{name}: {:?}", info.warnings);
        assert_eq!(whole.len(), (seconds * 12_000.0) as usize, "{name}");
        let bytes = std::fs::read(fixture(name)).unwrap();
        let cut = dir.path().join(name);
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 5]).unwrap();
        let (part, info) = load_mono_12k_with_info(&cut).unwrap();
        assert_eq!(info.sample_rate, 44_100);
        assert_eq!(info.channels, 2);
        let kept = part.len() as f64 / whole.len() as f64;
        assert!((0.3..0.45).contains(&kept), "{name}: kept {kept}");
        assert_eq!(info.warnings.len(), 1, "{name}: {:?}", info.warnings);
        let w = &info.warnings[0];
        assert!(w.contains("cut short"), "{w}");
        assert!(w.contains(&format!("of the {seconds:.2} s")), "{w}");
    }
}

fn write_wav(path: &Path, spec: hound::WavSpec, frames: &[Vec<f32>]) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for frame in frames {
        for &v in frame {
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => w.write_sample(v).unwrap(),
                (_, 8) => w.write_sample((v * 127.0).round() as i8).unwrap(),
                (_, 16) => w.write_sample((v * 32767.0).round() as i16).unwrap(),
                (_, bits) => w
                    .write_sample((f64::from(v) * ((1i64 << (bits - 1)) - 1) as f64).round() as i32)
                    .unwrap(),
            }
        }
    }
    w.finalize().unwrap();
}

#[test]
fn decodes_every_wav_sample_format_and_downmixes() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2205;
    let signal: Vec<f32> = (0..n)
        .map(|i| 0.8 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 22_050.0).sin())
        .collect();
    // Channel gains; the mono mix is their mean times the signal.
    let gains = [1.0f32, 0.5, -0.25];
    for (bits, format, channels, tol) in [
        (8, hound::SampleFormat::Int, 1, 0.015),
        (16, hound::SampleFormat::Int, 2, 1e-4),
        (24, hound::SampleFormat::Int, 3, 1e-5),
        (32, hound::SampleFormat::Int, 2, 1e-5),
        (32, hound::SampleFormat::Float, 3, 1e-6),
    ] {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 22_050,
            bits_per_sample: bits,
            sample_format: format,
        };
        let frames: Vec<Vec<f32>> = signal
            .iter()
            .map(|&v| gains[..channels as usize].iter().map(|g| g * v).collect())
            .collect();
        let path = dir.path().join(format!("{bits}-{format:?}-{channels}.wav"));
        write_wav(&path, spec, &frames);
        let mono = decode_mono(&path).unwrap();
        assert_eq!(mono.sample_rate, 22_050);
        assert_eq!(mono.samples.len(), n, "{}", path.display());
        let mix = gains[..channels as usize].iter().sum::<f32>() / f32::from(channels);
        let err = mono
            .samples
            .iter()
            .zip(&signal)
            .map(|(a, b)| (a - b * mix).abs())
            .fold(0.0f32, f32::max);
        assert!(err < tol, "{}: max error {err}", path.display());
    }
}

/// Frequency of the strongest DFT bin of `x` (sampled at `sr`), between 50 and 2000 Hz.
fn dominant_hz(x: &[f32], sr: f32) -> f32 {
    let n = x.len();
    (50..2000)
        .step_by(2)
        .map(|f| {
            let w = 2.0 * std::f32::consts::PI * f as f32 / sr;
            let (re, im) = x
                .iter()
                .enumerate()
                .fold((0.0f32, 0.0f32), |(r, i), (k, &v)| {
                    (r + v * (w * k as f32).cos(), i + v * (w * k as f32).sin())
                });
            (f as f32, (re * re + im * im) / n as f32)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
        .0
}

#[test]
fn decodes_a_real_mp3() {
    let path = fixture("tone_440.mp3");
    let mono = decode_mono(&path).unwrap();
    assert_eq!(mono.sample_rate, 44_100);
    // Exactly the second that was encoded: LAME's delay and padding are trimmed (gapless), as
    // libsndfile/mpg123 trim them for librosa.
    assert_eq!(mono.samples.len(), 44_100);
    let hz = dominant_hz(&mono.samples[10_000..14_410], 44_100.0);
    assert!((hz - 440.0).abs() <= 4.0, "{hz}");
    let at12 = load_mono_12k(&path).unwrap();
    assert_eq!(at12.len(), 12_000);
    assert!((dominant_hz(&at12[3000..4200], 12_000.0) - 440.0).abs() <= 10.0);
}

#[test]
fn npy_source_reads_released_features_by_mtg_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("48")).unwrap();
    std::fs::copy(
        fixture("parity_music_12k.librosa.npy"),
        dir.path().join("48/948.npy"),
    )
    .unwrap();
    let src = FeatureSource::open(dir.path(), None).unwrap();
    assert_eq!(
        src,
        FeatureSource::Npy {
            root: dir.path().to_path_buf()
        }
    );
    let m = src.mel("48/948.mp3").unwrap();
    assert_eq!(
        m,
        read_mel(&fixture("parity_music_12k.librosa.npy")).unwrap()
    );
    let missing = src.mel("48/949.mp3").unwrap_err();
    assert_eq!(missing.kind(), "missing");
    assert!(missing.to_string().contains("949.npy"), "{missing}");
}

#[test]
fn cache_hits_and_invalidates_when_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir_all(audio.join("01")).unwrap();
    std::fs::copy(fixture("parity_music_12k.wav"), audio.join("01/1.wav")).unwrap();
    let cache = dir.path().join("cache");
    let src = FeatureSource::open(&audio, Some(&cache)).unwrap();
    assert!(matches!(src, FeatureSource::Audio { .. }));

    let (first, hit) = src.mel_with_status("01/1.wav").unwrap();
    assert!(!hit);
    let (again, hit) = src.mel_with_status("01/1.wav").unwrap();
    assert!(hit);
    assert_eq!(first, again);

    // Entries are not fsynced: an entry a power loss left empty (or cut short) is a miss, and is
    // written again.
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "npy"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let full = std::fs::read(&entries[0]).unwrap();
    for len in [0, full.len() / 2] {
        std::fs::write(&entries[0], &full[..len]).unwrap();
        let (rebuilt, hit) = src.mel_with_status("01/1.wav").unwrap();
        assert!(!hit, "an entry of {len} bytes read as a hit");
        assert_eq!(rebuilt, first);
        assert_eq!(std::fs::read(&entries[0]).unwrap(), full);
    }

    // A different file under the same name (new size and mtime) is recomputed.
    std::fs::copy(fixture("parity_stereo_44k.wav"), audio.join("01/1.wav")).unwrap();
    let (changed, hit) = src.mel_with_status("01/1.wav").unwrap();
    assert!(!hit);
    assert_ne!(changed.dim(), first.dim());
    assert!(src.mel_with_status("01/1.wav").unwrap().1);
}

#[test]
fn extraction_skips_and_reports_bad_files_without_aborting() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("audio");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(fixture("parity_music_12k.wav"), root.join("good.wav")).unwrap();
    let bytes = std::fs::read(fixture("parity_music_12k.wav")).unwrap();
    std::fs::write(root.join("truncated.wav"), &bytes[..bytes.len() / 3]).unwrap();
    let mp3 = std::fs::read(fixture("tone_440.mp3")).unwrap();
    std::fs::write(root.join("cut.mp3"), &mp3[..mp3.len() / 2]).unwrap();
    std::fs::write(
        root.join("text.mp3"),
        "this is a text file, not an MP3\n".repeat(50),
    )
    .unwrap();
    // (path, promised duration): the cut MP3 decodes without error but is half a second short.
    let tracks: Vec<TrackRef> = [
        ("good.wav", Some(3.0)),
        // Decodes (with a warning) the second that is there; the metadata's 3 s expose it.
        ("truncated.wav", Some(3.0)),
        ("text.mp3", None),
        ("missing.mp3", None),
        ("cut.mp3", Some(1.0)),
    ]
    .iter()
    .enumerate()
    .map(|(i, (p, d))| TrackRef {
        id: format!("track_{i}"),
        path: p.to_string(),
        duration: *d,
    })
    .collect();
    let src = FeatureSource::Audio {
        root: root.clone(),
        cache: Some(dir.path().join("cache")),
        convention: Default::default(),
    };
    let summary = extract_all(&src, &tracks, || {});
    assert_eq!((summary.extracted, summary.cached), (1, 0));
    let kinds: Vec<(&str, &str)> = summary
        .skipped
        .iter()
        .map(|s| (s.track_id.as_str(), s.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("track_1", "corrupt"),
            ("track_2", "unsupported"),
            ("track_3", "missing"),
            ("track_4", "corrupt")
        ]
    );

    let report = dir.path().join("skipped.tsv");
    write_report(&report, &summary).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.contains("truncated: 0.5 s"), "{text}");
    assert!(text.contains("truncated: 1.0 s"), "{text}");
    assert!(
        text.contains("truncated.wav") && text.contains("text.mp3") && text.contains("missing.mp3")
    );

    let rerun = extract_all(&src, &tracks, || {});
    assert_eq!(
        (rerun.extracted, rerun.cached, rerun.skipped.len()),
        (0, 1, 4)
    );
}

#[test]
fn mel_command_writes_the_library_result() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.npy");
    let (ok, stdout, err) = run(musav()
        .arg("mel")
        .arg(fixture("parity_stereo_44k.wav"))
        .arg("--out")
        .arg(&out)
        .args(["--convention", "librosa"]));
    assert!(ok, "{err}");
    assert!(stdout.contains("96 bands"), "{stdout}");
    let expected = mel_spectrogram(
        &load_mono_12k(&fixture("parity_stereo_44k.wav")).unwrap(),
        &MelConfig::default(),
    );
    assert_eq!(read_mel(&out).unwrap(), expected);
    // An existing output is kept unless --force.
    let (ok, _, err) = run(musav()
        .arg("mel")
        .arg(fixture("parity_stereo_44k.wav"))
        .arg("--out")
        .arg(&out));
    assert!(!ok && err.contains("--force"), "{err}");
}

#[test]
fn features_command_extracts_then_hits_the_cache_on_synth_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let export = dir.path().join("export");
    let cache = dir.path().join("cache");
    let (ok, _, err) = run(musav()
        .args([
            "synth",
            "--per-label",
            "3",
            "--seconds",
            "1",
            "--labels-limit",
            "2",
            "--out",
        ])
        .arg(&corpus));
    assert!(ok, "{err}");
    let (ok, _, err) = run(musav()
        .arg("export")
        .arg("--data")
        .arg(&corpus)
        .arg("--out")
        .arg(&export));
    assert!(ok, "{err}");
    let features = || {
        run(musav()
            .arg("features")
            .arg("--export")
            .arg(&export)
            .arg("--audio-root")
            .arg(&corpus)
            .arg("--cache")
            .arg(&cache))
    };
    let (ok, out, err) = features();
    assert!(ok, "{err}");
    assert!(
        out.contains("6 tracks: 6 extracted, 0 cached, 0 skipped"),
        "{out}"
    );
    let (ok, out, err) = features();
    assert!(ok, "{err}");
    assert!(out.contains("0 extracted, 6 cached, 0 skipped"), "{out}");
    assert_eq!(
        std::fs::read_to_string(cache.join("skipped.tsv"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}
