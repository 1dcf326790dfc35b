//! WAV to mono f32 through hound's header parsing, reading only the samples the file really holds:
//! a data chunk cut shorter than its header says (an interrupted copy or download) decodes as far
//! as it goes, with a warning, rather than failing or passing silently.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use super::decode::{DecodeError, SourceInfo, downmix_into};

/// A WAV file opened and measured: its format, and how many samples (all channels) its header
/// declares against how many its bytes hold.
pub struct WavFile {
    pub spec: hound::WavSpec,
    declared: u64,
    present: u64,
    /// The file, at the first byte of the data chunk.
    data: BufReader<File>,
}

impl WavFile {
    pub fn open(path: &Path) -> Result<WavFile, DecodeError> {
        let reader = hound::WavReader::open(path).map_err(|e| hound_error(path, e))?;
        let spec = reader.spec();
        let declared = u64::from(reader.len());
        let mut data = reader.into_inner();
        let data_start = data.stream_position().map_err(|e| io_error(path, e))?;
        let file_len = data
            .get_ref()
            .metadata()
            .map_err(|e| io_error(path, e))?
            .len();
        let sample_bytes = u64::from(spec.bits_per_sample.div_ceil(8).max(1));
        let channels = u64::from(spec.channels.max(1));
        // Whole frames only: a frame the cut split in two is dropped.
        let held = file_len.saturating_sub(data_start) / sample_bytes / channels * channels;
        Ok(WavFile {
            spec,
            declared,
            present: declared.min(held),
            data,
        })
    }

    /// The plain-language warning for a data chunk shorter than declared, if it is.
    pub fn shortfall(&self) -> Option<String> {
        if self.present >= self.declared {
            return None;
        }
        let per_second = f64::from(self.spec.sample_rate) * f64::from(self.spec.channels.max(1));
        Some(format!(
            "the WAV data chunk holds {:.2} s of the {:.2} s its header declares: the file looks \
             cut short; only the audio that is there was decoded",
            self.present as f64 / per_second,
            self.declared as f64 / per_second
        ))
    }

    pub fn info(&self) -> SourceInfo {
        SourceInfo {
            sample_rate: self.spec.sample_rate,
            channels: self.spec.channels,
            warnings: self.shortfall().into_iter().collect(),
        }
    }

    /// Decodes the samples that are there to mono into `out` (appended).
    pub fn decode(self, path: &Path, out: &mut Vec<f32>) -> Result<SourceInfo, DecodeError> {
        let info = self.info();
        let spec = self.spec;
        let channels = usize::from(spec.channels.max(1));
        let n = self.present as usize;
        // Other layouts through hound's sample reader, opened again (`into_inner` gave the first
        // one up to measure the data chunk).
        let samples = || hound::WavReader::open(path).map_err(|e| hound_error(path, e));
        out.reserve(n / channels);
        let corrupt = |e: hound::Error| DecodeError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        match spec.sample_format {
            // The common CD layout is read as raw bytes in blocks and mixed down on the fly:
            // hound's per-sample iterator costs more than the whole mel-spectrogram.
            hound::SampleFormat::Int if spec.bits_per_sample == 16 => {
                let mut inner = self.data;
                let frame_bytes = 2 * channels;
                let mut raw = vec![0u8; (1 << 16) / frame_bytes * frame_bytes];
                let mut left = n * 2;
                while left > 0 {
                    let take = left.min(raw.len());
                    let chunk = &mut raw[..take];
                    inner
                        .read_exact(chunk)
                        .map_err(|e| corrupt(hound::Error::IoError(e)))?;
                    left -= chunk.len();
                    mix_i16(chunk, channels, out);
                }
            }
            hound::SampleFormat::Float => {
                let interleaved: Vec<f32> = samples()?
                    .into_samples::<f32>()
                    .take(n)
                    .collect::<Result<_, _>>()
                    .map_err(corrupt)?;
                downmix_into(&interleaved, channels, out);
            }
            hound::SampleFormat::Int => {
                // Full scale of a signed `bits`-bit integer, as soundfile/librosa scale it.
                let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                let interleaved: Vec<f32> = samples()?
                    .into_samples::<i32>()
                    .take(n)
                    .map(|s| s.map(|v| v as f32 * scale))
                    .collect::<Result<_, _>>()
                    .map_err(corrupt)?;
                downmix_into(&interleaved, channels, out);
            }
        }
        Ok(info)
    }
}

fn io_error(path: &Path, source: std::io::Error) -> DecodeError {
    DecodeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn hound_error(path: &Path, e: hound::Error) -> DecodeError {
    match e {
        hound::Error::IoError(source) if source.kind() != std::io::ErrorKind::UnexpectedEof => {
            io_error(path, source)
        }
        hound::Error::Unsupported | hound::Error::FormatError(_) => DecodeError::Unsupported {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        other => DecodeError::Corrupt {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    fn write(path: &Path, spec: hound::WavSpec, samples: usize) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..samples {
            let v = ((i * 37) % 200) as f32 / 100.0 - 1.0;
            match spec.sample_format {
                hound::SampleFormat::Float => w.write_sample(v).unwrap(),
                _ => w.write_sample((v * 30_000.0) as i16).unwrap(),
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn a_cut_data_chunk_decodes_what_is_there_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        for format in [hound::SampleFormat::Int, hound::SampleFormat::Float] {
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 8_000,
                bits_per_sample: if format == hound::SampleFormat::Int {
                    16
                } else {
                    32
                },
                sample_format: format,
            };
            let path = dir.path().join(format!("{format:?}.wav"));
            write(&path, spec, 2 * 16_000);
            let mut whole = Vec::new();
            let info = WavFile::open(&path)
                .unwrap()
                .decode(&path, &mut whole)
                .unwrap();
            assert_eq!(whole.len(), 16_000);
            assert!(info.warnings.is_empty(), "{:?}", info.warnings);
            // Cut a quarter of the way in, in the middle of a sample.
            let bytes = std::fs::read(&path).unwrap();
            let frame = usize::from(spec.bits_per_sample / 8) * 2;
            let header = bytes.len() - 16_000 * frame;
            let cut = header + 4_000 * frame + 1;
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let mut part = Vec::new();
            let info = WavFile::open(&path)
                .unwrap()
                .decode(&path, &mut part)
                .unwrap();
            assert_eq!(part.len(), 4_000, "{format:?}");
            assert_eq!(part[..], whole[..part.len()]);
            assert_eq!(info.warnings.len(), 1, "{:?}", info.warnings);
            let w = &info.warnings[0];
            assert!(w.contains("of the 2.00 s its header declares"), "{w}");
            assert!(
                w.contains(&format!("holds {:.2} s", part.len() as f64 / 8_000.0)),
                "{w}"
            );
        }
    }
}
