//! Decoding to mono f32: WAV through `hound` (every PCM and float layout), MP3 through `nanomp3`
//! (a port of minimp3: about twice as fast as symphonia's MP3 decoder, and it trims the encoder's
//! delay and padding as libsndfile/mpg123 do for librosa, so samples line up with librosa's),
//! OGG/FLAC and any MP3 nanomp3 rejects through `symphonia`; all pure Rust, so musav needs no
//! system codec.
//!
//! The feature path ([`load_mono_12k`]) decodes MP3 through [`super::mp3_lowband`] instead: a
//! copy of nanomp3's decoder that leaves out what resampling to 12 kHz throws away (at 44.1 kHz
//! the subbands above 6.9 kHz, and the second channel's synthesis, and its transforms where the
//! channels share a block type), with nanomp3's framing and gapless trimming, so the 12 kHz
//! signal is nanomp3's (within 3e-6 of the peak) for about half the decoding work (issue #6:
//! MP3 features at 5× librosa's throughput per core; this gets ~4×).
//!
//! Channels are averaged, as librosa's `to_mono` does, so features match the reference pipeline.

use std::fs::File;
use std::path::{Path, PathBuf};

use std::cell::RefCell;
use std::io::Read;

use symphonia::core::audio::{AudioBufferRef, SampleBuffer};
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::TARGET_SAMPLE_RATE;
use super::resample::{ResampleError, resample_into, resample_stream};

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

/// [`load_mono_12k`] plus the file's own rate and channel count.
pub fn load_mono_12k_with_info(path: &Path) -> Result<(Vec<f32>, SourceInfo), DecodeError> {
    let samples = load_mono_12k(path)?;
    let info = source_info(path)?;
    Ok((samples, info))
}

/// The rate and channel count a file's headers declare (WAV by hound, the rest by symphonia's
/// probe), read without decoding the audio.
pub fn source_info(path: &Path) -> Result<SourceInfo, DecodeError> {
    let unsupported = |reason: String| DecodeError::Unsupported {
        path: path.to_path_buf(),
        reason,
    };
    if audio_extension(path)?.as_deref() == Some("wav") {
        let spec = hound::WavReader::open(path)
            .map_err(|e| unsupported(e.to_string()))?
            .spec();
        return Ok(SourceInfo {
            sample_rate: spec.sample_rate,
            channels: spec.channels,
            warnings: Vec::new(),
        });
    }
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
        .map_err(|e| unsupported(e.to_string()))?;
    let track = probed
        .format
        .default_track()
        .ok_or_else(|| unsupported("no audio track".into()))?;
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
/// per-thread buffer, so a feature run allocates nothing per file but its output. A Layer III MP3
/// streams from the band-limited decoder into the resampler frame by frame instead.
pub fn load_mono_12k_into(path: &Path, out: &mut Vec<f32>) -> Result<(), DecodeError> {
    let max_hz = TARGET_SAMPLE_RATE / 2;
    let resampled = |source| DecodeError::Resample {
        path: path.to_path_buf(),
        source,
    };
    let mp3 = match audio_extension(path)?.as_deref() {
        Some("mp3") => Some(read_file(path)?),
        _ => None,
    };
    if let Some(stream) = mp3
        .as_deref()
        .and_then(|data| LowbandMp3::open(data, max_hz))
    {
        let streamed = resample_stream(stream.hz, TARGET_SAMPLE_RATE, out, |push| {
            stream.decode(push).then_some(()).ok_or(())
        })
        .map_err(resampled)?;
        if streamed.is_ok() {
            return Ok(());
        }
        // Not for the band-limited decoder after all: the full decoders, on the same bytes.
        out.clear();
    }
    DECODED.with(|cell| {
        let mut decoded = cell.borrow_mut();
        decoded.clear();
        let result = match &mp3 {
            Some(data) => decode_mp3_full(path, data, &mut decoded),
            None => decode_band_into(path, &mut decoded, max_hz),
        }
        .and_then(|rate| require_audio(path, &decoded, rate))
        .and_then(|rate| resample_into(&decoded, rate, TARGET_SAMPLE_RATE, out).map_err(resampled));
        if decoded.capacity() > KEEP_SCRATCH {
            *decoded = Vec::new();
        }
        result
    })
}

/// Decodes `path` to mono into `out` (cleared first) for a use of its audio below `max_hz` only,
/// and returns the sample rate: an MP3 then skips the work on higher subbands (its output is
/// low-passed at about `max_hz` plus one subband, 0.7 kHz at 44.1 kHz); other formats decode in
/// full, as [`decode_mono_into`] does.
pub fn decode_band_into(path: &Path, out: &mut Vec<f32>, max_hz: u32) -> Result<u32, DecodeError> {
    out.clear();
    let rate = match audio_extension(path)?.as_deref() {
        Some("wav") => decode_wav(path, out)?,
        Some("mp3") => {
            let data = read_file(path)?;
            match decode_mp3_lowband(&data, max_hz, out) {
                Some(rate) => rate,
                None => decode_mp3_full(path, &data, out)?,
            }
        }
        _ => decode_symphonia(path, out)?,
    };
    require_audio(path, out, rate)
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

/// An MP3 in full: nanomp3, or symphonia for what nanomp3 cannot read (it decodes it or says
/// precisely why not).
fn decode_mp3_full(path: &Path, data: &[u8], out: &mut Vec<f32>) -> Result<u32, DecodeError> {
    match decode_mp3(data, out) {
        Some(rate) => Ok(rate),
        None => decode_symphonia(path, out),
    }
}

/// `rate`, or [`DecodeError::Empty`] when decoding yielded no samples.
fn require_audio(path: &Path, samples: &[f32], rate: u32) -> Result<u32, DecodeError> {
    if samples.is_empty() {
        return Err(DecodeError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(rate)
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
    decode_band_into(path, out, u32::MAX)
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> DecodeError {
    DecodeError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn decode_wav(path: &Path, out: &mut Vec<f32>) -> Result<u32, DecodeError> {
    let reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(source) if source.kind() != std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
        hound::Error::Unsupported | hound::Error::FormatError(_) => DecodeError::Unsupported {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        other => corrupt(path, other),
    })?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let n = reader.len() as usize;
    out.reserve(n / channels);
    match spec.sample_format {
        // The common CD layout is read as raw bytes in blocks and mixed down on the fly: hound's
        // per-sample iterator costs more than the whole mel-spectrogram.
        hound::SampleFormat::Int if spec.bits_per_sample == 16 => {
            let mut inner = reader.into_inner();
            let frame_bytes = 2 * channels;
            let mut raw = vec![0u8; (1 << 16) / frame_bytes * frame_bytes];
            let mut left = (n / channels) * frame_bytes;
            while left > 0 {
                let take = left.min(raw.len());
                let chunk = &mut raw[..take];
                inner.read_exact(chunk).map_err(|e| corrupt(path, e))?;
                left -= chunk.len();
                mix_i16(chunk, channels, out);
            }
        }
        hound::SampleFormat::Float => {
            let interleaved: Vec<f32> = reader
                .into_samples::<f32>()
                .collect::<Result<_, _>>()
                .map_err(|e| corrupt(path, e))?;
            downmix_into(&interleaved, channels, out);
        }
        hound::SampleFormat::Int => {
            // Full scale of a signed `bits`-bit integer, as soundfile/librosa scale it.
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            let interleaved: Vec<f32> = reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| corrupt(path, e))?;
            downmix_into(&interleaved, channels, out);
        }
    }
    Ok(spec.sample_rate)
}

/// Little-endian 16-bit frames of `channels` samples, averaged into `out`.
fn mix_i16(raw: &[u8], channels: usize, out: &mut Vec<f32>) {
    let s = |b: &[u8]| f32::from(i16::from_le_bytes([b[0], b[1]]));
    match channels {
        1 => out.extend(raw.chunks_exact(2).map(|b| s(b) * (1.0 / 32768.0))),
        // Exact: the sum of two 16-bit values fits f32's mantissa, the scale is a power of two.
        // One 32-bit load per frame, split by shifts, over a slice of `out` (an `extend` over the
        // same iterator does not vectorise and costs twice as much).
        2 => {
            let base = out.len();
            out.resize(base + raw.len() / 4, 0.0);
            for (o, b) in out[base..].iter_mut().zip(raw.chunks_exact(4)) {
                let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                *o = ((v << 16 >> 16) + (v >> 16)) as f32 * (1.0 / 65536.0);
            }
        }
        _ => {
            let inv = 1.0 / channels as f32;
            out.extend(raw.chunks_exact(2 * channels).map(|frame| {
                frame
                    .chunks_exact(2)
                    .map(|b| s(b) * (1.0 / 32768.0))
                    .sum::<f32>()
                    * inv
            }));
        }
    }
}

/// MP3 through nanomp3; `None` (and `out` empty) when it finds no audio or the stream changes
/// format midway, for symphonia to handle.
fn decode_mp3(data: &[u8], out: &mut Vec<f32>) -> Option<u32> {
    out.clear();
    let mut reader = nanomp3::SliceReader::<f32>::new(data);
    let channels = reader.channels()?.num() as usize;
    if let Some(total) = reader.total_samples() {
        out.reserve(total.min(1 << 28) as usize);
    }
    loop {
        match reader.read_frame() {
            Ok(Some(frame)) => downmix_into(frame, channels, out),
            Ok(None) => break,
            Err(_) => {
                out.clear();
                return None;
            }
        }
    }
    (!out.is_empty()).then(|| reader.sample_rate())
}

/// A Layer III stream through [`super::mp3_lowband`] when `max_hz` leaves subbands out, with
/// nanomp3's framing: tags skipped, the LAME/Xing tag frame skipped and its encoder delay and
/// padding trimmed exactly as nanomp3's `SliceReader` trims them. `None` (and `out` empty) for
/// anything else (no frame, Layer I/II, a format change midway), for the full decoders.
fn decode_mp3_lowband(data: &[u8], max_hz: u32, out: &mut Vec<f32>) -> Option<u32> {
    out.clear();
    let stream = LowbandMp3::open(data, max_hz)?;
    if stream.keep != 0 {
        out.reserve(stream.keep.min(1 << 28) as usize);
    }
    let hz = stream.hz;
    let decoded = stream.decode(&mut |samples| out.extend_from_slice(samples));
    if !decoded {
        out.clear();
    }
    decoded.then_some(hz)
}

/// [`decode_mp3_lowband`] as a stream: its first frame read, its framing known.
struct LowbandMp3<'a> {
    data: &'a [u8],
    hz: u32,
    channels: u8,
    frame_samples: usize,
    bands: usize,
    /// Where the audio frames start, and where the trailing tags start.
    pos: usize,
    end: usize,
    /// Per channel, at the full rate: samples to drop at the start, and to keep (0: all).
    to_skip: u64,
    keep: u64,
}

impl<'a> LowbandMp3<'a> {
    fn open(data: &'a [u8], max_hz: u32) -> Option<Self> {
        let first = nanomp3::frames(data).next()?;
        let bands = super::mp3_lowband::bands_for(first.sample_rate, max_hz);
        if first.layer != 3 || bands == 32 {
            return None;
        }
        let end = nanomp3::id3v2_len(data).min(data.len()) + nanomp3::strip_tags(data).len();
        let mut stream = LowbandMp3 {
            data,
            hz: first.sample_rate,
            channels: first.channels.num(),
            frame_samples: first.samples,
            bands,
            pos: first.offset,
            end,
            to_skip: 0,
            keep: 0,
        };
        if let Some(tag) = nanomp3::VbrTag::parse(first.data) {
            stream.pos += first.data.len();
            if let Some(frames) = tag.frames {
                // minimp3's reading of the LAME tag: the decoder's own 529-sample delay included.
                let (delay, padding) = tag
                    .encoder_delay_padding
                    .map_or((0, 0), |(d, p)| (u64::from(d) + 529, i64::from(p) - 529));
                let mut keep = first.samples as u64 * u64::from(frames);
                if keep >= delay {
                    keep -= delay;
                }
                if padding > 0 && keep >= padding as u64 {
                    keep -= padding as u64;
                }
                (stream.to_skip, stream.keep) = (delay, keep);
            }
        }
        Some(stream)
    }

    /// Decodes every frame into `sink`, in order. False when the stream needs a full decoder
    /// (a Layer I/II frame or a format change midway: what `sink` got is then to be dropped) or
    /// held no audio.
    fn decode(self, sink: &mut dyn FnMut(&[f32])) -> bool {
        use super::mp3_lowband::{FrameInfo, MAX_SAMPLES_PER_FRAME, Mp3Dec, Status, decode_frame};
        let LowbandMp3 {
            data,
            hz,
            channels,
            frame_samples,
            bands,
            mut pos,
            end,
            mut to_skip,
            keep,
        } = self;
        let mut dec = Mp3Dec::new(bands);
        let mut pcm = [0f32; MAX_SAMPLES_PER_FRAME];
        let mut info = FrameInfo::default();
        let mut kept = 0u64;
        while pos < end && (keep == 0 || kept < keep) {
            let n = decode_frame(&mut dec, &data[pos..end], &mut pcm, &mut info);
            pos += info.frame_bytes;
            match info.status {
                Status::NoFrame => break,
                Status::UnsupportedLayer => return false,
                _ if info.hz != hz || info.channels != channels => return false,
                Status::Decoded => {}
                // A frame the bit reservoir or damage keeps silent still counts toward the delay.
                Status::Corrupt | Status::ReservoirUnavailable => {
                    to_skip -= to_skip.min(frame_samples as u64);
                    continue;
                }
            }
            let skip = to_skip.min(n as u64);
            to_skip -= skip;
            let mut take = n as u64 - skip;
            if keep != 0 {
                take = take.min(keep - kept);
            }
            kept += take;
            if take != 0 {
                sink(&pcm[skip as usize..(skip + take) as usize]);
            }
        }
        kept != 0
    }
}

fn decode_symphonia(path: &Path, out: &mut Vec<f32>) -> Result<u32, DecodeError> {
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
        .map_err(|e| DecodeError::Unsupported {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let mut format = probed.format;
    let track = format
        .default_track()
        .ok_or_else(|| DecodeError::Unsupported {
            path: path.to_path_buf(),
            reason: "no audio track".into(),
        })?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| DecodeError::Unsupported {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let mut sample_rate = track.codec_params.sample_rate;
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
                let channels = spec.channels.count().max(1);
                // MP3 and Vorbis decode to planar f32: mix the planes straight into `out`.
                if let AudioBufferRef::F32(planar) = &audio {
                    mix_planes(planar.planes().planes(), out);
                    continue;
                }
                let needed = audio.capacity() as u64;
                let sb = match &mut buf {
                    Some(b) if b.capacity() >= audio.capacity() * channels => b,
                    _ => buf.insert(SampleBuffer::new(needed, spec)),
                };
                sb.copy_interleaved_ref(audio);
                downmix_into(sb.samples(), channels, out);
            }
            // A damaged frame is skipped, as players do; a file of damaged frames is corrupt.
            Err(SymError::DecodeError(_)) => bad += 1,
            Err(e) => return Err(corrupt(path, e)),
        }
    }
    if good == 0 && bad > 0 {
        return Err(corrupt(path, format!("none of {bad} frames decodes")));
    }
    let sample_rate = sample_rate.ok_or_else(|| DecodeError::Unsupported {
        path: path.to_path_buf(),
        reason: "unknown sample rate".into(),
    })?;
    Ok(sample_rate)
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
fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
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

    #[test]
    fn mixes_16_bit_frames_like_the_float_path() {
        let frames: [i16; 6] = [32767, -32768, 100, -3, -1, 1];
        let raw: Vec<u8> = frames.iter().flat_map(|v| v.to_le_bytes()).collect();
        for channels in [1usize, 2, 3] {
            let mut fast = Vec::new();
            mix_i16(&raw, channels, &mut fast);
            let float: Vec<f32> = frames.iter().map(|&v| f32::from(v) / 32768.0).collect();
            let mut slow = Vec::new();
            downmix_into(&float, channels, &mut slow);
            assert_eq!(fast, slow, "{channels} channels");
        }
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/audio")
            .join(name)
    }

    #[test]
    fn band_limited_mp3_keeps_nanomp3s_trimming() {
        for (name, rate) in [
            ("tone_440.mp3", 44_100),
            ("stereo_44k.mp3", 44_100),
            ("stereo_32k.mp3", 32_000),
            ("stereo_22k.mp3", 22_050),
        ] {
            let path = fixture(name);
            let mut full = Vec::new();
            assert_eq!(decode_mono_into(&path, &mut full).unwrap(), rate);
            let data = std::fs::read(&path).unwrap();
            let mut ours = Vec::new();
            // The band-limited decoder itself, not a fallback.
            assert_eq!(
                decode_mp3_lowband(&data, 6_000, &mut ours),
                Some(rate),
                "{name}"
            );
            assert_eq!(ours.len(), full.len(), "{name}");
            assert_eq!(decode_band_into(&path, &mut ours, 6_000).unwrap(), rate);
            assert_eq!(ours.len(), full.len(), "{name}");
        }
    }

    #[test]
    fn damaged_mp3s_never_panic_the_band_limited_decoder() {
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
            if decode_band_into(&path, &mut out, 6_000).is_ok() {
                assert!(out.iter().all(|v| v.is_finite()));
            }
            // The streamed feature path agrees with decoding first, then resampling.
            let mut streamed = Vec::new();
            let via_buffer = decode_band_into(&path, &mut out, 6_000)
                .map(|rate| resample_into(&out, rate, TARGET_SAMPLE_RATE, &mut out.clone()));
            match load_mono_12k_into(&path, &mut streamed) {
                Ok(()) => assert!(via_buffer.is_ok(), "round {round}"),
                Err(_) => assert!(via_buffer.is_err(), "round {round}"),
            }
        }
    }

    #[test]
    fn streamed_mp3_features_equal_decoding_then_resampling() {
        for name in [
            "tone_440.mp3",
            "stereo_44k.mp3",
            "stereo_32k.mp3",
            "stereo_22k.mp3",
        ] {
            let path = fixture(name);
            let mut decoded = Vec::new();
            let rate = decode_band_into(&path, &mut decoded, TARGET_SAMPLE_RATE / 2).unwrap();
            let mut whole = Vec::new();
            resample_into(&decoded, rate, TARGET_SAMPLE_RATE, &mut whole).unwrap();
            let mut streamed = vec![1.0; 3];
            load_mono_12k_into(&path, &mut streamed).unwrap();
            assert!(!whole.is_empty(), "{name}");
            assert!(streamed == whole, "{name}: streamed and whole differ");
        }
    }
}
