//! The Xing/Info header an encoder writes in place of audio in an MP3's first frame, and its
//! LAME extension: how many frames the stream holds, and how many samples the encoder put before
//! and after the music. Cutting exactly those gives back the samples that were encoded (gapless),
//! as mpg123 does for librosa, so musav's frames line up with librosa's; the frame count also
//! tells a file cut short from a complete one.
//!
//! The layout implemented (Xing's VBR header as LAME writes it, with the "LAME tag" extension):
//! after the 4-byte frame header, the 2-byte CRC when the header announces one, and the Layer III
//! side info (MPEG-1: 17 bytes mono, 32 stereo; MPEG-2/2.5: 9 mono, 17 stereo) come the id `Xing`
//! (VBR) or `Info` (CBR), a big-endian 32-bit flag word, then the fields its bits announce, in this
//! order: bit 0 the number of audio frames (32 bits), bit 1 the stream's bytes (32 bits), bit 2 a
//! 100-byte seek table, bit 3 a quality figure (32 bits). The 36-byte extension follows, opening
//! with the encoder's name in 9 ASCII bytes; at its byte 21 the encoder delay and the end padding
//! are two 12-bit numbers (samples per channel). Lavc (FFmpeg) writes the same extension.

/// Samples a polyphase-synthesis decoder (mpg123, minimp3 and so nanomp3) lags behind the
/// encoder's input, on top of the encoder's own delay: the filterbank's 528 samples plus one.
pub const DECODER_DELAY: u64 = 529;

/// Bytes of the LAME extension.
const EXTENSION_LEN: usize = 36;
/// Where the 24 bits of delay and padding start inside the extension.
const DELAY_PADDING_AT: usize = 21;

/// What a Xing/Info header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XingHeader {
    /// Audio frames in the stream, the header's own frame not counted.
    pub frames: Option<u32>,
    /// Bytes of the stream, the header's own frame counted.
    pub bytes: Option<u32>,
    /// Encoder delay and end padding, samples per channel, when the LAME extension is there.
    pub encoder_delay: Option<u16>,
    pub end_padding: Option<u16>,
}

/// Reads the Xing/Info header of `frame` (one whole Layer III frame, its 4-byte header first);
/// `None` when the frame is audio, or too short for the fields its flags announce.
pub fn read_xing(frame: &[u8]) -> Option<XingHeader> {
    let header: [u8; 4] = frame.get(..4)?.try_into().ok()?;
    let layout = FrameLayout::of(header)?;
    let mut fields = Cursor {
        bytes: frame,
        at: 4 + layout.crc_bytes + layout.side_info_bytes,
    };
    let id = fields.take(4)?;
    if id != b"Xing" && id != b"Info" {
        return None;
    }
    let flags = fields.u32()?;
    let mut tag = XingHeader::default();
    if flags & 1 != 0 {
        tag.frames = Some(fields.u32()?);
    }
    if flags & 2 != 0 {
        tag.bytes = Some(fields.u32()?);
    }
    if flags & 4 != 0 {
        fields.take(100)?;
    }
    if flags & 8 != 0 {
        fields.take(4)?;
    }
    // The extension is there when the encoder named itself (LAME3.100, Lavc58.134, ...).
    if let Some(ext) = fields.take(EXTENSION_LEN)
        && ext[0].is_ascii_alphanumeric()
    {
        let [a, b, c] = [
            ext[DELAY_PADDING_AT],
            ext[DELAY_PADDING_AT + 1],
            ext[DELAY_PADDING_AT + 2],
        ];
        tag.encoder_delay = Some(u16::from(a) << 4 | u16::from(b >> 4));
        tag.end_padding = Some(u16::from(b & 0x0f) << 8 | u16::from(c));
    }
    Some(tag)
}

impl XingHeader {
    /// The decoded samples (per channel, counted from the first sample of the first audio frame)
    /// that are the encoder's input: from `start`, up to `end` when the header gives the stream's
    /// length. The decoder delays everything by [`DECODER_DELAY`], so the music starts that much
    /// after the encoder delay, and ends `end_padding` before the last frame's end, shifted the
    /// same way, but never past the decoded samples (a padding under the decoder delay leaves the
    /// music's last samples inside the synthesis filter).
    pub fn music_span(&self, frame_samples: u32) -> MusicSpan {
        let decoded = self.frames.map(|n| u64::from(n) * u64::from(frame_samples));
        let (Some(delay), Some(padding)) = (self.encoder_delay, self.end_padding) else {
            return MusicSpan {
                start: 0,
                end: decoded,
            };
        };
        let start = u64::from(delay) + DECODER_DELAY;
        let end = decoded.map(|total| {
            (total + DECODER_DELAY)
                .saturating_sub(u64::from(padding))
                .min(total)
                .max(start)
        });
        MusicSpan { start, end }
    }
}

/// A range of decoded samples per channel; `end` is `None` when the stream's length is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MusicSpan {
    pub start: u64,
    pub end: Option<u64>,
}

impl MusicSpan {
    /// The part of `at..at + len` inside the span, relative to `at`.
    pub fn clip(&self, at: u64, len: usize) -> std::ops::Range<usize> {
        let frame_end = at + len as u64;
        let lo = self.start.clamp(at, frame_end);
        let hi = self.end.unwrap_or(u64::MAX).clamp(lo, frame_end);
        (lo - at) as usize..(hi - at) as usize
    }
}

/// Where a Layer III frame's side info ends, from its header.
struct FrameLayout {
    crc_bytes: usize,
    side_info_bytes: usize,
}

impl FrameLayout {
    /// `None` unless `header` is a Layer III frame header.
    fn of(header: [u8; 4]) -> Option<FrameLayout> {
        let sync = header[0] == 0xff && header[1] & 0xe0 == 0xe0;
        // Version bits: 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5, 1 reserved. Layer bits: 1 Layer III.
        let version = (header[1] >> 3) & 3;
        let layer = (header[1] >> 1) & 3;
        if !sync || version == 1 || layer != 1 {
            return None;
        }
        let mono = header[3] >> 6 == 3;
        let side_info_bytes = match (version == 3, mono) {
            (true, true) => 17,
            (true, false) => 32,
            (false, true) => 9,
            (false, false) => 17,
        };
        // The protection bit is 0 when a CRC follows the header.
        let crc_bytes = if header[1] & 1 == 0 { 2 } else { 0 };
        Some(FrameLayout {
            crc_bytes,
            side_info_bytes,
        })
    }
}

/// Big-endian fields read in order from a byte slice.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let field = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(field)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MPEG-1 Layer III stereo frame (128 kbps, 44.1 kHz: 417 bytes) holding a Xing header
    /// with the given flags and fields, and a LAME extension with `delay` and `padding` unless
    /// `encoder` is empty.
    fn tag_frame(id: &[u8; 4], flags: u32, encoder: &[u8], delay: u16, padding: u16) -> Vec<u8> {
        let mut f = vec![0xff, 0xfb, 0x90, 0x00];
        f.extend([0u8; 32]);
        f.extend(id);
        f.extend(flags.to_be_bytes());
        if flags & 1 != 0 {
            f.extend(1234u32.to_be_bytes());
        }
        if flags & 2 != 0 {
            f.extend(56_789u32.to_be_bytes());
        }
        if flags & 4 != 0 {
            f.extend((0..100).map(|i| i as u8));
        }
        if flags & 8 != 0 {
            f.extend(57u32.to_be_bytes());
        }
        if !encoder.is_empty() {
            let mut ext = [0u8; EXTENSION_LEN];
            ext[..encoder.len()].copy_from_slice(encoder);
            let packed = u32::from(delay) << 12 | u32::from(padding);
            ext[21..24].copy_from_slice(&packed.to_be_bytes()[1..]);
            f.extend(ext);
        }
        f.resize(417, 0);
        f
    }

    #[test]
    fn reads_every_field_its_flags_announce() {
        let f = tag_frame(b"Xing", 0b1111, b"LAME3.100", 576, 1234);
        assert_eq!(
            read_xing(&f),
            Some(XingHeader {
                frames: Some(1234),
                bytes: Some(56_789),
                encoder_delay: Some(576),
                end_padding: Some(1234),
            })
        );
        // Only frames and bytes: the extension starts 100 + 4 bytes earlier.
        let f = tag_frame(b"Info", 0b0011, b"Lavc58.13", 0xabc, 0x123);
        let tag = read_xing(&f).unwrap();
        assert_eq!(
            (tag.encoder_delay, tag.end_padding),
            (Some(0xabc), Some(0x123))
        );
        // No encoder name: no extension.
        let tag = read_xing(&tag_frame(b"Xing", 0b0001, b"", 0, 0)).unwrap();
        assert_eq!(tag.frames, Some(1234));
        assert_eq!((tag.bytes, tag.encoder_delay), (None, None));
    }

    #[test]
    fn finds_the_header_after_the_crc_and_the_mono_side_info() {
        // MPEG-1 mono with a CRC: 4 + 2 + 17 bytes before the id.
        let mut f = vec![0xff, 0xfa, 0x90, 0xc0];
        f.extend([0u8; 2 + 17]);
        f.extend(b"Info");
        f.extend(1u32.to_be_bytes());
        f.extend(77u32.to_be_bytes());
        f.resize(417, 0);
        assert_eq!(read_xing(&f).unwrap().frames, Some(77));
        // MPEG-2 stereo (version bits 2): 17 bytes of side info.
        let mut f = vec![0xff, 0xf3, 0x90, 0x00];
        f.extend([0u8; 17]);
        f.extend(b"Xing");
        f.extend(1u32.to_be_bytes());
        f.extend(9u32.to_be_bytes());
        f.resize(200, 0);
        assert_eq!(read_xing(&f).unwrap().frames, Some(9));
    }

    #[test]
    fn audio_frames_and_short_frames_are_not_headers() {
        let audio = {
            let mut f = tag_frame(b"Xing", 1, b"", 0, 0);
            f[36..40].copy_from_slice(b"Xinf");
            f
        };
        assert_eq!(read_xing(&audio), None);
        // The flags promise a seek table the frame does not hold.
        let mut f = tag_frame(b"Xing", 0b0111, b"", 0, 0);
        f.truncate(36 + 8 + 4 + 4 + 50);
        assert_eq!(read_xing(&f), None);
        // Layer II header bits.
        let mut f = tag_frame(b"Xing", 1, b"", 0, 0);
        f[1] = 0xfd;
        assert_eq!(read_xing(&f), None);
        assert_eq!(read_xing(&[0xff, 0xfb]), None);
    }

    #[test]
    fn music_span_follows_delay_padding_and_the_decoder_delay() {
        let tag = XingHeader {
            frames: Some(41),
            bytes: None,
            encoder_delay: Some(576),
            end_padding: Some(1104),
        };
        // 41 frames of 1152 = 47,232 decoded samples; the music is 47,232 - 576 - 1104.
        let span = tag.music_span(1152);
        assert_eq!(span.start, 576 + 529);
        assert_eq!(span.end, Some(47_232 + 529 - 1104));
        assert_eq!(span.end.unwrap() - span.start, 47_232 - 576 - 1104);
        // Padding under the decoder delay: the end is the last decoded sample.
        let short = XingHeader {
            end_padding: Some(100),
            ..tag
        };
        assert_eq!(short.music_span(1152).end, Some(47_232));
        // No extension: every decoded sample of the declared frames; no count: no end.
        let plain = XingHeader {
            frames: Some(3),
            ..XingHeader::default()
        };
        assert_eq!(
            plain.music_span(576),
            MusicSpan {
                start: 0,
                end: Some(1728)
            }
        );
        assert_eq!(XingHeader::default().music_span(1152).end, None);
    }

    #[test]
    fn clipping_a_frame_to_the_span() {
        let span = MusicSpan {
            start: 1105,
            end: Some(3000),
        };
        assert_eq!(span.clip(0, 1152), 1105..1152);
        assert_eq!(span.clip(1152, 1152), 0..1152);
        assert_eq!(span.clip(2304, 1152), 0..696);
        assert_eq!(span.clip(3456, 1152), 0..0);
        let open = MusicSpan {
            start: 0,
            end: None,
        };
        assert_eq!(open.clip(10_000, 576), 0..576);
    }
}
