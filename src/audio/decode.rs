//! Decoding to mono f32: WAV through `hound` (every PCM and float layout), MP3/OGG/FLAC through
//! `symphonia`, both pure Rust so musav needs no system codec.
//!
//! Channels are averaged, as librosa's `to_mono` does, so features match the reference pipeline.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::TARGET_SAMPLE_RATE;
use super::resample::{ResampleError, resample};

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

/// Decodes `path` and resamples it to 12 kHz mono: the input of [`super::mel::mel_spectrogram`].
pub fn load_mono_12k(path: &Path) -> Result<Vec<f32>, DecodeError> {
    let mono = decode_mono(path)?;
    resample(&mono.samples, mono.sample_rate, TARGET_SAMPLE_RATE).map_err(|source| {
        DecodeError::Resample {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Decodes `path` to mono at its own sample rate.
pub fn decode_mono(path: &Path) -> Result<Mono, DecodeError> {
    if !path.is_file() {
        return Err(DecodeError::Missing {
            path: path.to_path_buf(),
        });
    }
    let is_wav = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    let mono = if is_wav {
        decode_wav(path)?
    } else {
        decode_symphonia(path)?
    };
    if mono.samples.is_empty() {
        return Err(DecodeError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(mono)
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> DecodeError {
    DecodeError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn decode_wav(path: &Path) -> Result<Mono, DecodeError> {
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
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt(path, e))?,
        hound::SampleFormat::Int => {
            // Full scale of a signed `bits`-bit integer, as soundfile/librosa scale it.
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| corrupt(path, e))?
        }
    };
    Ok(Mono {
        samples: downmix(&interleaved, channels),
        sample_rate: spec.sample_rate,
    })
}

fn decode_symphonia(path: &Path) -> Result<Mono, DecodeError> {
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
    let mut samples = Vec::new();
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
                let needed = audio.capacity() as u64;
                let sb = match &mut buf {
                    Some(b) if b.capacity() >= audio.capacity() * channels => b,
                    _ => buf.insert(SampleBuffer::new(needed, spec)),
                };
                sb.copy_interleaved_ref(audio);
                samples.extend(downmix(sb.samples(), channels));
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
    Ok(Mono {
        samples,
        sample_rate,
    })
}

/// Averages interleaved channels into one.
fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    let inv = 1.0 / channels as f32;
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() * inv)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels() {
        assert_eq!(downmix(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
        assert_eq!(downmix(&[0.25, -0.25], 1), vec![0.25, -0.25]);
    }
}
