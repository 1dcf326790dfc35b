//! MP3 through nanomp3's frame decoder, one frame at a time into a sink (the resampler, or a
//! buffer), mixed to mono, cut to the music its Xing/LAME header declares ([`super::xing`]), with
//! what a cut-short or damaged stream leaves in doubt said in words.
//!
//! Frame by frame rather than through nanomp3's own reader, because the feature path streams
//! into the resampler (no buffer at the file's rate) and because only a frame loop of musav's own
//! can count the frames against the header's count.

use nanomp3::{DecodeError as FrameError, Decoder, MAX_SAMPLES_PER_FRAME};

use super::xing::{MusicSpan, read_xing};

/// An MP3 stream whose first frame has been found and read.
pub struct Mp3Stream<'a> {
    data: &'a [u8],
    pub sample_rate: u32,
    pub channels: u16,
    /// The first frame's header: later frames of the stream share its sync, version, layer and
    /// rate bits.
    first_header: [u8; 4],
    /// From the first audio frame to the trailing tags.
    audio: std::ops::Range<usize>,
    /// Frames the Xing header declares, and the samples per channel of each.
    declared_frames: Option<u32>,
    frame_samples: u32,
    span: MusicSpan,
}

/// Why a stream needs another decoder: no frame nanomp3 can decode, or a sample rate that
/// changes midway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotForThisDecoder {
    NoAudio,
    RateChanged,
}

/// What a decode found out besides the samples.
#[derive(Debug, Default)]
pub struct Mp3Report {
    pub warnings: Vec<String>,
}

impl<'a> Mp3Stream<'a> {
    /// `None` when `data` holds no MPEG audio frame.
    pub fn open(data: &'a [u8]) -> Option<Mp3Stream<'a>> {
        let first = nanomp3::frames(data).next()?;
        let tags_start = nanomp3::id3v2_len(data).min(data.len()) + nanomp3::strip_tags(data).len();
        let header: [u8; 4] = first.data.get(..4)?.try_into().ok()?;
        let xing = (first.layer == 3).then(|| read_xing(first.data)).flatten();
        let audio_start = first.offset + if xing.is_some() { first.data.len() } else { 0 };
        let frame_samples = first.samples as u32;
        let xing = xing.unwrap_or_default();
        Some(Mp3Stream {
            data,
            sample_rate: first.sample_rate,
            channels: u16::from(first.channels.num()),
            first_header: header,
            audio: audio_start..tags_start.max(audio_start),
            declared_frames: xing.frames,
            frame_samples,
            span: xing.music_span(frame_samples),
        })
    }

    /// Decodes the music into `sink`, mono, in order. On `Err` what `sink` got is to be dropped.
    pub fn decode(self, sink: &mut dyn FnMut(&[f32])) -> Result<Mp3Report, NotForThisDecoder> {
        let mut decoder = Decoder::new();
        let mut pcm = [0f32; MAX_SAMPLES_PER_FRAME];
        let mut mono = [0f32; MAX_SAMPLES_PER_FRAME / 2];
        let mut pos = self.audio.start;
        // Samples per channel before the next frame, frames met, frames skipped as damaged.
        let (mut at, mut frames, mut damaged) = (0u64, 0u64, 0u64);
        let mut produced = false;
        let mut leftover = &self.data[..0];
        while pos < self.audio.end && self.span.end.is_none_or(|end| at < end) {
            let input = &self.data[pos..self.audio.end];
            let (used, result) = decoder.decode(input, &mut pcm);
            pos += used;
            if used == 0 {
                leftover = input;
                break;
            }
            let info = match result {
                Ok(info) => info,
                Err(FrameError::NoFrame) => {
                    // No whole frame in what is left: junk, or a frame cut off.
                    leftover = input;
                    break;
                }
                Err(e) => {
                    // A frame that decodes to nothing still takes its place in the timeline.
                    let info = e.frame_info().ok_or(NotForThisDecoder::NoAudio)?;
                    if info.sample_rate != self.sample_rate {
                        return Err(NotForThisDecoder::RateChanged);
                    }
                    if matches!(e, FrameError::Corrupt(_)) {
                        damaged += 1;
                    }
                    at += samples_per_frame(info.layer, info.sample_rate);
                    frames += 1;
                    continue;
                }
            };
            if info.sample_rate != self.sample_rate {
                return Err(NotForThisDecoder::RateChanged);
            }
            let n = info.samples_produced;
            // Mixed per frame, so a stream that switches between mono and stereo mixes right.
            match info.channels.num() {
                1 => mono[..n].copy_from_slice(&pcm[..n]),
                _ => {
                    for (m, lr) in mono[..n].iter_mut().zip(pcm.chunks_exact(2)) {
                        *m = (lr[0] + lr[1]) * 0.5;
                    }
                }
            }
            let keep = self.span.clip(at, n);
            if !keep.is_empty() {
                sink(&mono[keep]);
                produced = true;
            }
            at += n as u64;
            frames += 1;
        }
        if !produced && frames == 0 {
            return Err(NotForThisDecoder::NoAudio);
        }
        let mut report = Mp3Report::default();
        // Stopping at the end of the music leaves nothing missing; running out of input may.
        let ran_out = self.span.end.is_none_or(|end| at < end);
        if ran_out && let Some(w) = self.shortfall(frames, leftover) {
            report.warnings.push(w);
        }
        if damaged > 0 {
            report.warnings.push(format!(
                "{damaged} damaged MP3 frame(s) could not be decoded and were left out \
                 ({:.2} s of audio missing); re-download or re-encode the file",
                (damaged * u64::from(self.frame_samples)) as f64 / f64::from(self.sample_rate)
            ));
        }
        Ok(report)
    }

    /// The warning [`Self::decode`] gives for a stream cut short, from a walk over the frame
    /// headers alone (no decoding).
    pub fn check_length(&self) -> Option<String> {
        let (mut frames, mut end) = (0u64, self.audio.start);
        for frame in nanomp3::frames(&self.data[..self.audio.end]) {
            if frame.offset >= self.audio.start {
                frames += 1;
                end = frame.offset + frame.data.len();
            }
        }
        self.shortfall(frames, &self.data[end.min(self.audio.end)..self.audio.end])
    }

    /// Says so when the stream ended before the frames its header declares, or in the middle of
    /// a frame: signs of a file cut short.
    fn shortfall(&self, frames: u64, leftover: &[u8]) -> Option<String> {
        // Seconds of music in the first `frames` frames: the encoder delay is not music.
        let music = |frames: u64| {
            let decoded = frames * u64::from(self.frame_samples);
            let end = self.span.end.unwrap_or(u64::MAX).min(decoded);
            end.saturating_sub(self.span.start) as f64 / f64::from(self.sample_rate)
        };
        if let Some(declared) = self.declared_frames.map(u64::from)
            && frames < declared
        {
            return Some(format!(
                "the MP3 stream ends after {frames} of the {declared} frames its header declares \
                 ({:.2} s of the {:.2} s of audio): the file looks cut short; only the audio that \
                 is there was decoded",
                music(frames),
                music(declared)
            ));
        }
        self.looks_like_a_cut_frame(leftover).then(|| {
            format!(
                "the MP3 stream ends in the middle of a frame after {:.2} s: the file looks cut \
                 short; only the audio that is there was decoded",
                music(frames)
            )
        })
    }

    /// Whether `tail`, the bytes after the last whole frame, starts like one of this stream's
    /// frames: the same sync, version, layer and sample rate bits.
    fn looks_like_a_cut_frame(&self, tail: &[u8]) -> bool {
        let h = self.first_header;
        let masks = [(0, 0xff), (1, 0xff), (2, 0x0c)];
        !tail.is_empty()
            && masks
                .iter()
                .filter(|(i, _)| *i < tail.len())
                .all(|&(i, mask)| tail[i] & mask == h[i] & mask)
    }
}

/// Samples per channel of an MPEG audio frame: 384 in Layer I, 1152 in Layer II, and in Layer
/// III 1152 for MPEG-1 (32 kHz and up) or 576 for MPEG-2 and 2.5.
fn samples_per_frame(layer: u8, sample_rate: u32) -> u64 {
    match layer {
        1 => 384,
        3 if sample_rate < 32_000 => 576,
        _ => 1152,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/audio")
                .join(name),
        )
        .unwrap()
    }

    fn decode_all(data: &[u8]) -> (Vec<f32>, Mp3Report) {
        let mut out = Vec::new();
        let report = Mp3Stream::open(data)
            .unwrap()
            .decode(&mut |s| out.extend_from_slice(s))
            .unwrap();
        (out, report)
    }

    #[test]
    fn equals_nanomp3s_own_gapless_reader() {
        // nanomp3's reader trims the same delay and padding by its own code: an independent
        // check of the header reading and the span, sample for sample.
        for name in [
            "tone_440.mp3",
            "stereo_44k.mp3",
            "stereo_32k.mp3",
            "stereo_22k.mp3",
        ] {
            let data = fixture(name);
            let (ours, report) = decode_all(&data);
            assert!(report.warnings.is_empty(), "{name}: {:?}", report.warnings);
            let mut reader = nanomp3::SliceReader::<f32>::new(&data);
            let channels = reader.channels().unwrap().num() as usize;
            let mut theirs = Vec::new();
            while let Some(frame) = reader.read_frame().unwrap() {
                theirs.extend(
                    frame
                        .chunks_exact(channels)
                        .map(|c| c.iter().sum::<f32>() / channels as f32),
                );
            }
            assert_eq!(ours.len(), theirs.len(), "{name}");
            assert!(ours == theirs, "{name}: samples differ");
        }
    }

    #[test]
    fn the_fixtures_lame_header_gives_the_encoded_second_exactly() {
        let data = fixture("tone_440.mp3");
        let stream = Mp3Stream::open(&data).unwrap();
        assert_eq!((stream.sample_rate, stream.channels), (44_100, 1));
        let frames = u64::from(stream.declared_frames.unwrap());
        // LAME encoded 44,100 samples: frames × 1152 = delay + 44,100 + padding.
        let span = stream.span;
        assert_eq!(span.end.unwrap() - span.start, 44_100);
        assert!(span.start > 529 && span.end.unwrap() <= frames * 1152);
        assert_eq!(decode_all(&data).0.len(), 44_100);
    }

    #[test]
    fn a_stream_cut_short_decodes_what_is_there_and_says_so() {
        let data = fixture("stereo_44k.mp3");
        let (whole, _) = decode_all(&data);
        // Cut inside a frame, and exactly between two frames (found by nanomp3's frame walk).
        let frames: Vec<_> = nanomp3::frames(&data).collect();
        let boundary = frames[frames.len() / 2].offset;
        for cut in [data.len() * 3 / 5 + 7, boundary] {
            let (part, report) = decode_all(&data[..cut]);
            assert!(
                !part.is_empty() && part.len() < whole.len() * 3 / 4,
                "{cut}"
            );
            // What was decoded is the start of the whole stream.
            assert!(part[..part.len() - 1152] == whole[..part.len() - 1152]);
            assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
            let w = &report.warnings[0];
            assert!(w.contains("cut short"), "{w}");
            // The header's frame count names the shortfall in both cases.
            assert!(
                w.contains(&format!("of the {} frames", frames.len() - 1)),
                "{w}"
            );
            assert_eq!(
                Mp3Stream::open(&data[..cut])
                    .unwrap()
                    .check_length()
                    .as_ref(),
                Some(w)
            );
        }
    }

    #[test]
    fn a_cut_stream_without_a_header_is_caught_mid_frame() {
        // Drop the Xing frame: the count is gone, the frames cut in the middle still show.
        let data = fixture("stereo_44k.mp3");
        let frames: Vec<_> = nanomp3::frames(&data).collect();
        let mut bare = data[frames[1].offset..].to_vec();
        let (whole, report) = decode_all(&bare);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        bare.truncate(bare.len() / 2 + 100);
        let (part, report) = decode_all(&bare);
        assert!(part.len() < whole.len());
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(
            report.warnings[0].contains("ends in the middle of a frame"),
            "{}",
            report.warnings[0]
        );
        // Cut exactly between frames and without a header, nothing tells: no warning.
        let cut = frames[frames.len() / 2].offset - frames[1].offset;
        let (_, report) = decode_all(&data[frames[1].offset..frames[1].offset + cut]);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn frame_lengths_by_layer_and_rate() {
        assert_eq!(samples_per_frame(1, 44_100), 384);
        assert_eq!(samples_per_frame(2, 22_050), 1152);
        assert_eq!(samples_per_frame(3, 32_000), 1152);
        assert_eq!(samples_per_frame(3, 24_000), 576);
    }
}
