//! Decoding to mono f32: WAV through `hound` (every PCM and float layout; [`super::wav`]), MP3
//! through `nanomp3`'s frame decoder ([`super::mp3`]: about twice as fast as symphonia's, and
//! with the encoder's delay and padding cut as libsndfile/mpg123 cut them for librosa, so samples
//! line up with librosa's), OGG/FLAC and any MP3 nanomp3 cannot take through `symphonia`; all
//! pure Rust, so musav needs no system codec.
//!
//! The feature path ([`load_mono_12k`]) streams MP3 frames straight into the resampler: no
//! buffer at the file's own rate. Channels are averaged, as librosa's `to_mono` does, so features
//! match the reference pipeline. A file that decodes only in part (cut short, damaged frames)
//! still gives its audio, and [`SourceInfo::warnings`] says what is missing.

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::audio::{AudioBufferRef, SampleBuffer};
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::TARGET_SAMPLE_RATE;
use super::mp3::{Mp3Stream, NotForThisDecoder};
use super::mtg::LinearStream;
use super::resample::{ResampleError, resample_into, resample_stream};
use super::wav::WavFile;

/// Mono samples and their rate, as decoded.
#[derive(Debug, Clone)]
pub struct Mono {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{path}: no such audio file; check --audio-root and the PATH column of the metadata")]
    Missing { path: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: unsupported audio ({reason}); musav reads WAV, MP3, OGG/Vorbis and FLAC")]
    Unsupported { path: PathBuf, reason: String },
    #[error("{path}: corrupt or truncated audio ({reason}); re-download or re-encode the file")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: the file holds no audio samples")]
    Empty { path: PathBuf },
    #[error("{path}: {source}")]
    Resample {
        path: PathBuf,
        #[source]
        source: ResampleError,
    },
}

/// What a file was before it became 12 kHz mono, for answers that describe the input (the web
/// API's `audio` object) and for the doubts a decode leaves (`warnings`: a stream that ended early).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SourceInfo {
    pub sample_rate: u32,
    pub channels: u16,
    /// Plain-language doubts about the decode; empty when the file decoded as its headers promise.
    pub warnings: Vec<String>,
}

/// [`load_mono_12k`] plus the file's own rate and channel count, and the warnings of the decode
/// itself (one pass).
pub fn load_mono_12k_with_info(path: &Path) -> Result<(Vec<f32>, SourceInfo), DecodeError> {
    let mut samples = Vec::new();
    let info = load_mono_12k_into_with_info(path, &mut samples)?;
    Ok((samples, info))
}

/// The rate and channel count a file's headers declare, and the warnings its headers and frame
/// layout alone reveal (a WAV data chunk or an MP3 stream shorter than declared), without
/// decoding the audio.
pub fn source_info(path: &Path) -> Result<SourceInfo, DecodeError> {
    match audio_extension(path)?.as_deref() {
        Some("wav") => return Ok(WavFile::open(path)?.info()),
        Some("mp3") => {
            let data = read_file(path)?;
            if let Some(stream) = Mp3Stream::open(&data) {
                return Ok(SourceInfo {
                    sample_rate: stream.sample_rate,
                    channels: stream.channels,
                    warnings: stream.check_length().into_iter().collect(),
                });
            }
        }
        _ => {}
    }
    let format = probe(path)?;
    let track = format
        .default_track()
        .ok_or_else(|| unsupported(path, "no audio track"))?;
    let params = &track.codec_params;
    Ok(SourceInfo {
        sample_rate: params.sample_rate.unwrap_or(0),
        channels: params.channels.map_or(0, |c| c.count() as u16),
        warnings: Vec::new(),
    })
}

/// Decodes `path` and resamples it to 12 kHz mono: the input of [`super::mel::mel_spectrogram`].
pub fn load_mono_12k(path: &Path) -> Result<Vec<f32>, DecodeError> {
    let mut out = Vec::new();
    load_mono_12k_into(path, &mut out)?;
    Ok(out)
}

/// The per-thread decode buffer is kept between files up to this many samples (64 MB, 6 min at
/// 44.1 kHz), so one very long track does not pin its memory in every worker thread.
const KEEP_SCRATCH: usize = 1 << 24;

thread_local! {
    /// The decoded signal at its own rate, reused across files (no page faults per file).
    static DECODED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// [`load_mono_12k`] into `out` (cleared first): the decoded signal at its own rate lives in a
/// per-thread buffer, so a feature run allocates nothing per file but its output. An MP3 streams
/// from the decoder into the resampler frame by frame instead.
pub fn load_mono_12k_into(path: &Path, out: &mut Vec<f32>) -> Result<(), DecodeError> {
    load_mono_12k_into_with_info(path, out).map(drop)
}

/// [`load_mono_12k_into`] that also returns what [`load_mono_12k_with_info`] does.
pub fn load_mono_12k_into_with_info(
    path: &Path,
    out: &mut Vec<f32>,
) -> Result<SourceInfo, DecodeError> {
    load_mono_12k_by(path, To12k::BandLimited, out)
}

/// The `mtg` convention's input: `path` decoded to mono and brought to 12 kHz by
/// [`super::mtg::resample_linear`], with what the file was. An MP3 streams from the decoder into
/// the resampler frame by frame, so a long file never exists whole at its own rate (~160 MB for
/// 15 minutes at 44.1 kHz), and the file is read once.
pub fn load_mono_12k_linear_with_info(path: &Path) -> Result<(Vec<f32>, SourceInfo), DecodeError> {
    let mut out = Vec::new();
    let info = load_mono_12k_by(path, To12k::Linear, &mut out)?;
    Ok((out, info))
}

/// How a decoded signal comes to 12 kHz: the two conventions' resamplers, each fed either a
/// stream of pieces (an MP3's frames) or a whole signal.
#[derive(Debug, Clone, Copy)]
enum To12k {
    /// librosa's (soxr-HQ-like, [`resample_stream`]).
    BandLimited,
    /// Essentia's linear interpolation ([`LinearStream`]).
    Linear,
}

impl To12k {
    /// Resamples what `produce` pushes into `out` (cleared first).
    fn stream<T, E>(
        self,
        rate: u32,
        out: &mut Vec<f32>,
        produce: impl FnOnce(&mut dyn FnMut(&[f32])) -> Result<T, E>,
    ) -> Result<Result<T, E>, ResampleError> {
        match self {
            To12k::BandLimited => resample_stream(rate, TARGET_SAMPLE_RATE, out, produce),
            To12k::Linear => {
                out.clear();
                let mut linear = LinearStream::new(rate);
                Ok(produce(&mut |piece| linear.push(piece, out)))
            }
        }
    }

    /// Resamples the whole of `samples` into `out` (cleared first).
    fn whole(self, samples: &[f32], rate: u32, out: &mut Vec<f32>) -> Result<(), ResampleError> {
        match self {
            To12k::BandLimited => resample_into(samples, rate, TARGET_SAMPLE_RATE, out),
            To12k::Linear => {
                out.clear();
                LinearStream::new(rate).push(samples, out);
                Ok(())
            }
        }
    }
}

/// `path` to mono at 12 kHz in `out`: an MP3 streamed frame by frame from the bytes read once,
/// anything else (or an MP3 nanomp3 cannot take) decoded whole into a per-thread buffer first.
fn load_mono_12k_by(
    path: &Path,
    to12k: To12k,
    out: &mut Vec<f32>,
) -> Result<SourceInfo, DecodeError> {
    let resampled = |source| DecodeError::Resample {
        path: path.to_path_buf(),
        source,
    };
    let mp3 = match audio_extension(path)?.as_deref() {
        Some("mp3") => Some(read_file(path)?),
        _ => None,
    };
    if let Some(stream) = mp3.as_deref().and_then(Mp3Stream::open) {
        let (rate, channels) = (stream.sample_rate, stream.channels);
        let streamed = to12k
            .stream(rate, out, |push| stream.decode(push))
            .map_err(resampled)?;
        match streamed {
            Ok(report) => {
                require_audio(path, out)?;
                return Ok(SourceInfo {
                    sample_rate: rate,
                    channels,
                    warnings: report.warnings,
                });
            }
            // Not for nanomp3 after all: symphonia decodes the file instead.
            Err(_) => out.clear(),
        }
    }
    DECODED.with(|cell| {
        let mut decoded = cell.borrow_mut();
        decoded.clear();
        let result = match &mp3 {
            Some(_) => decode_symphonia(path, &mut decoded),
            None => decode_at_own_rate(path, &mut decoded),
        }
        .and_then(|info| {
            require_audio(path, &decoded)?;
            to12k
                .whole(&decoded, info.sample_rate, out)
                .map_err(resampled)?;
            Ok(info)
        });
        if decoded.capacity() > KEEP_SCRATCH {
            *decoded = Vec::new();
        }
        result
    })
}

/// Decodes `path` to mono into `out` (cleared first) for a use of its audio below `max_hz` only,
/// and returns the sample rate. Every decoder here decodes the whole band (none can skip the
/// subbands above `max_hz`), so this is [`decode_mono_into`]; callers state their band so a
/// decoder that can save work there would get it.
pub fn decode_band_into(path: &Path, out: &mut Vec<f32>, max_hz: u32) -> Result<u32, DecodeError> {
    let _ = max_hz;
    decode_mono_into(path, out)
}

/// Decodes `path` to mono at its own sample rate.
pub fn decode_mono(path: &Path) -> Result<Mono, DecodeError> {
    let mut samples = Vec::new();
    let sample_rate = decode_mono_into(path, &mut samples)?;
    Ok(Mono {
        samples,
        sample_rate,
    })
}

/// Decodes `path` to mono into `out` (cleared first) and returns the sample rate.
pub fn decode_mono_into(path: &Path, out: &mut Vec<f32>) -> Result<u32, DecodeError> {
    out.clear();
    let info = decode_at_own_rate(path, out)?;
    require_audio(path, out)?;
    Ok(info.sample_rate)
}

/// Any supported file to mono at its own rate, appended to `out`.
fn decode_at_own_rate(path: &Path, out: &mut Vec<f32>) -> Result<SourceInfo, DecodeError> {
    match audio_extension(path)?.as_deref() {
        Some("wav") => WavFile::open(path)?.decode(path, out),
        Some("mp3") => {
            let data = read_file(path)?;
            let Some(stream) = Mp3Stream::open(&data) else {
                return decode_symphonia(path, out);
            };
            let (sample_rate, channels) = (stream.sample_rate, stream.channels);
            let base = out.len();
            match stream.decode(&mut |mono| out.extend_from_slice(mono)) {
                Ok(report) => Ok(SourceInfo {
                    sample_rate,
                    channels,
                    warnings: report.warnings,
                }),
                Err(NotForThisDecoder::NoAudio | NotForThisDecoder::RateChanged) => {
                    out.truncate(base);
                    decode_symphonia(path, out)
                }
            }
        }
        _ => decode_symphonia(path, out),
    }
}

/// The lower-case extension of `path`, once it is known to be a file.
fn audio_extension(path: &Path) -> Result<Option<String>, DecodeError> {
    if !path.is_file() {
        return Err(DecodeError::Missing {
            path: path.to_path_buf(),
        });
    }
    Ok(path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase))
}

fn read_file(path: &Path) -> Result<Vec<u8>, DecodeError> {
    std::fs::read(path).map_err(|source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// [`DecodeError::Empty`] when decoding yielded no samples.
fn require_audio(path: &Path, samples: &[f32]) -> Result<(), DecodeError> {
    if samples.is_empty() {
        return Err(DecodeError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> DecodeError {
    DecodeError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn unsupported(path: &Path, reason: impl std::fmt::Display) -> DecodeError {
    DecodeError::Unsupported {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// symphonia's reader for `path`, its format probed.
fn probe(path: &Path) -> Result<Box<dyn FormatReader>, DecodeError> {
    let file = File::open(path).map_err(|source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| unsupported(path, e))?;
    Ok(probed.format)
}

/// Any format symphonia reads, to mono, appended to `out`.
fn decode_symphonia(path: &Path, out: &mut Vec<f32>) -> Result<SourceInfo, DecodeError> {
    let mut format = probe(path)?;
    let track = format
        .default_track()
        .ok_or_else(|| unsupported(path, "no audio track"))?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| unsupported(path, e))?;
    let mut sample_rate = track.codec_params.sample_rate;
    let mut channels = track.codec_params.channels.map(|c| c.count() as u16);
    if let Some(frames) = track.codec_params.n_frames {
        out.reserve(frames.min(1 << 28) as usize);
    }
    let mut buf: Option<SampleBuffer<f32>> = None;
    let (mut good, mut bad) = (0usize, 0usize);
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(corrupt(path, e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(audio) => {
                good += 1;
                let spec = *audio.spec();
                sample_rate.get_or_insert(spec.rate);
                let count = spec.channels.count().max(1);
                channels.get_or_insert(count as u16);
                // MP3 and Vorbis decode to planar f32: mix the planes straight into `out`.
                if let AudioBufferRef::F32(planar) = &audio {
                    mix_planes(planar.planes().planes(), out);
                    continue;
                }
                let needed = audio.capacity() as u64;
                let sb = match &mut buf {
                    Some(b) if b.capacity() >= audio.capacity() * count => b,
                    _ => buf.insert(SampleBuffer::new(needed, spec)),
                };
                sb.copy_interleaved_ref(audio);
                downmix_into(sb.samples(), count, out);
            }
            // A damaged frame is skipped, as players do; a file of damaged frames is corrupt.
            Err(SymError::DecodeError(_)) => bad += 1,
            Err(e) => return Err(corrupt(path, e)),
        }
    }
    if good == 0 && bad > 0 {
        return Err(corrupt(path, format!("none of {bad} frames decodes")));
    }
    let sample_rate = sample_rate.ok_or_else(|| unsupported(path, "unknown sample rate"))?;
    let mut warnings = Vec::new();
    if bad > 0 {
        warnings.push(format!(
            "{bad} of {} frames were damaged and left out; re-download or re-encode the file",
            good + bad
        ));
    }
    Ok(SourceInfo {
        sample_rate,
        channels: channels.unwrap_or(0),
        warnings,
    })
}

/// Averages planar channels into `out`.
fn mix_planes(planes: &[&[f32]], out: &mut Vec<f32>) {
    match planes {
        [] => {}
        [mono] => out.extend_from_slice(mono),
        [l, r] => out.extend(l.iter().zip(r.iter()).map(|(a, b)| (a + b) * 0.5)),
        _ => {
            let inv = 1.0 / planes.len() as f32;
            let n = planes[0].len();
            out.extend((0..n).map(|i| planes.iter().map(|p| p[i]).sum::<f32>() * inv));
        }
    }
}

/// Averages interleaved channels into `out`.
pub(crate) fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels <= 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    if channels == 2 {
        out.extend(interleaved.chunks_exact(2).map(|f| (f[0] + f[1]) * 0.5));
        return;
    }
    let inv = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * inv),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels() {
        let mut out = Vec::new();
        downmix_into(&[1.0, 0.0, 0.5, 0.5], 2, &mut out);
        downmix_into(&[0.25, -0.25], 1, &mut out);
        assert_eq!(out, vec![0.5, 0.5, 0.25, -0.25]);
        out.clear();
        mix_planes(&[&[1.0, 0.5], &[0.0, 0.5]], &mut out);
        mix_planes(&[&[0.0], &[0.3], &[0.6]], &mut out);
        assert_eq!(out, vec![0.5, 0.5, 0.3]);
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/audio")
            .join(name)
    }

    const MP3S: [&str; 4] = [
        "tone_440.mp3",
        "stereo_44k.mp3",
        "stereo_32k.mp3",
        "stereo_22k.mp3",
    ];

    #[test]
    fn streamed_mp3_features_equal_decoding_then_resampling() {
        for name in MP3S {
            let path = fixture(name);
            let mut decoded = Vec::new();
            let rate = decode_mono_into(&path, &mut decoded).unwrap();
            let mut whole = Vec::new();
            resample_into(&decoded, rate, TARGET_SAMPLE_RATE, &mut whole).unwrap();
            let mut streamed = vec![1.0; 3];
            let info = load_mono_12k_into_with_info(&path, &mut streamed).unwrap();
            assert_eq!(info.sample_rate, rate, "{name}");
            assert!(info.warnings.is_empty(), "{name}: {:?}", info.warnings);
            assert!(!whole.is_empty(), "{name}");
            assert!(streamed == whole, "{name}: streamed and whole differ");
        }
    }

    #[test]
    fn damaged_mp3s_never_panic_and_both_paths_agree() {
        let good = std::fs::read(fixture("stereo_44k.mp3")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.mp3");
        let mut seed = 12345u64;
        for round in 0..60 {
            let mut bytes = good.clone();
            for _ in 0..1 + round % 7 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let at = (seed >> 33) as usize % bytes.len();
                bytes[at] ^= (seed >> 20) as u8 | 1;
            }
            bytes.truncate(bytes.len() - round * 97 % 4000);
            std::fs::write(&path, &bytes).unwrap();
            let mut out = Vec::new();
            // Decodes (damaged frames are skipped, as players do) or reports why not.
            let via_buffer = decode_mono_into(&path, &mut out).map(|rate| {
                assert!(out.iter().all(|v| v.is_finite()));
                let mut at12 = Vec::new();
                resample_into(&out, rate, TARGET_SAMPLE_RATE, &mut at12).unwrap();
                at12
            });
            // The streamed feature path agrees with decoding first, then resampling.
            let mut streamed = Vec::new();
            match (load_mono_12k_into(&path, &mut streamed), via_buffer) {
                (Ok(()), Ok(at12)) => assert!(streamed == at12, "round {round}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("round {round}: streamed {a:?}, buffered {:?}", b.map(drop)),
            }
        }
    }

    #[test]
    fn source_info_reads_headers_and_the_frame_layout() {
        let info = source_info(&fixture("stereo_32k.mp3")).unwrap();
        assert_eq!((info.sample_rate, info.channels), (32_000, 2));
        assert!(info.warnings.is_empty(), "{:?}", info.warnings);
        let info = source_info(&fixture("parity_stereo_44k.wav")).unwrap();
        assert_eq!((info.sample_rate, info.channels), (44_100, 2));
        // Cut short: the same warning as the decode gives.
        let dir = tempfile::tempdir().unwrap();
        for name in ["stereo_44k.mp3", "parity_stereo_44k.wav"] {
            let bytes = std::fs::read(fixture(name)).unwrap();
            let cut = dir.path().join(name);
            std::fs::write(&cut, &bytes[..bytes.len() / 2 + 3]).unwrap();
            let headers = source_info(&cut).unwrap();
            let (_, decoded) = load_mono_12k_with_info(&cut).unwrap();
            assert_eq!(headers.warnings.len(), 1, "{name}: {:?}", headers.warnings);
            assert_eq!(headers, decoded, "{name}");
        }
    }
}
