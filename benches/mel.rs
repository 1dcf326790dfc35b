//! The feature pipeline per stage on 30 s of audio (inputs built outside the timed closures):
//! decoding (16-bit stereo WAV at 44.1 and 22.05 kHz, decode + downmix; an MP3 when
//! `MUSAV_BENCH_MP3` names a 30 s file, e.g. one written by scripts/bench-mel.sh, decoded alone
//! and as the feature path takes it, streamed into the resampler), resampling to 12 kHz, and the
//! mel-spectrogram (STFT + mel + dB).

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use musav::audio::decode::{decode_mono_into, load_mono_12k_into};
use musav::audio::mel::{MelConfig, MelExtractor};
use musav::audio::resample::resample_into;

fn tone(sr: u32, seconds: usize) -> Vec<f32> {
    (0..sr as usize * seconds)
        .map(|i| {
            let t = i as f32 / sr as f32;
            (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.3 * (2.0 * std::f32::consts::PI * 1760.0 * t).sin()
        })
        .collect()
}

fn write_stereo_wav(path: &Path, sr: u32, x: &[f32]) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: sr,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &v in x {
        let s = (v * 0.5 * 32767.0) as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s / 2).unwrap();
    }
    w.finalize().unwrap();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut decode = c.benchmark_group("decode 30 s to mono");
    let mut files = Vec::new();
    for sr in [44_100u32, 22_050] {
        let path = dir.path().join(format!("{sr}.wav"));
        write_stereo_wav(&path, sr, &tone(sr, 30));
        files.push((format!("wav {sr}"), path));
    }
    if let Some(mp3) = std::env::var_os("MUSAV_BENCH_MP3") {
        files.push(("mp3".to_string(), mp3.into()));
    }
    let mut buf = Vec::new();
    for (name, path) in &files {
        decode.bench_function(name.as_str(), |b| {
            b.iter(|| decode_mono_into(black_box(path), &mut buf).unwrap())
        });
    }
    if let Some((_, mp3)) = files.iter().find(|(name, _)| name == "mp3") {
        decode.bench_function("mp3 decoded and resampled to 12 kHz", |b| {
            b.iter(|| load_mono_12k_into(black_box(mp3), &mut buf).unwrap())
        });
    }
    decode.finish();

    let mut rs = c.benchmark_group("resample 30 s to 12 kHz");
    let mut out = Vec::new();
    for from in [22_050u32, 44_100, 48_000] {
        let x = tone(from, 30);
        rs.bench_with_input(BenchmarkId::from_parameter(from), &x, |b, x| {
            b.iter(|| resample_into(black_box(x), from, 12_000, &mut out).unwrap())
        });
    }
    rs.finish();

    let cfg = MelConfig::default();
    let extractor = MelExtractor::new(&cfg);
    let mut mel = c.benchmark_group("mel 30 s at 12 kHz");
    let x = tone(12_000, 30);
    mel.bench_function("extract", |b| b.iter(|| extractor.compute(black_box(&x))));
    mel.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
