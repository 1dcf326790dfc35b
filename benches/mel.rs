//! Mel-spectrogram and resampling on 30 s of audio (inputs built outside the timed closures).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use musav::audio::mel::{MelConfig, MelExtractor};
use musav::audio::resample::resample;

fn tone(sr: u32, seconds: usize) -> Vec<f32> {
    (0..sr as usize * seconds)
        .map(|i| {
            let t = i as f32 / sr as f32;
            (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.3 * (2.0 * std::f32::consts::PI * 1760.0 * t).sin()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cfg = MelConfig::default();
    let extractor = MelExtractor::new(&cfg);
    let mut mel = c.benchmark_group("mel 30 s at 12 kHz");
    let x = tone(12_000, 30);
    mel.bench_function("extract", |b| b.iter(|| extractor.compute(black_box(&x))));
    mel.finish();

    let mut rs = c.benchmark_group("resample 30 s to 12 kHz");
    for from in [22_050u32, 44_100, 48_000] {
        let x = tone(from, 30);
        rs.bench_with_input(BenchmarkId::from_parameter(from), &x, |b, x| {
            b.iter(|| resample(black_box(x), from, 12_000).unwrap())
        });
    }
    rs.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
