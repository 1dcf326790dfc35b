//! A Layer III decoder that produces only what a 12 kHz mono feature pipeline can use: copied
//! from nanomp3-core 0.2.0 (`src/minimp3.rs` and its `lanes.rs` and `tables.rs`, Copyright (c)
//! 2025 Robert B. Langer, MIT OR Apache-2.0, the MIT licence in `LICENSE-MIT` beside this file;
//! a safe port of lieff's minimp3, CC0) and changed
//! after the bitstream parsing, which is untouched (frame sync, side info, bit reservoir,
//! scalefactors, error handling), in these places:
//!
//! - a granule's Huffman decoding stops at the lines the kept subbands are made from and jumps
//!   to the granule's end (not with intensity stereo, whose positions need the whole right
//!   channel);
//! - antialiasing and the IMDCT run only on the kept subbands;
//! - the channels are averaged: their spectra, transformed once, when the granule's channels
//!   share a block type (with mid/side stereo that is the mid channel, and the side channel's
//!   Huffman data is skipped), otherwise after the IMDCT, before the polyphase synthesis, which
//!   runs once either way (everything after the stereo processing is linear, so this is the mono
//!   mix of the decoded channels up to float rounding);
//! - the one synthesis packs four time slots into each 4-lane vector where minimp3 packs two
//!   slots of two channels;
//! - output is mono `f32` only, Layer I/II frames are left to nanomp3, and the filterbank
//!   history stays in place between granules.
//!
//! Why: musav decodes MP3 only to resample it to 12 kHz, whose anti-aliasing filter removes
//! everything above 6 kHz; at 44.1 kHz, subbands 10 to 31 (above 6.9 kHz) and the second
//! channel's synthesis were about half of nanomp3's decoding work (115 M against 220 M
//! instructions for 30 s of 192 kbps stereo). What is left matches nanomp3's full
//! decode, mixed to mono and resampled to 12 kHz (`tests/audio_features.rs`).

// Float literals are spelled exactly as in minimp3.h (as nanomp3-core keeps them).
#![allow(clippy::excessive_precision, clippy::approx_constant)]
// Index loops mirror the C and keep parallel arrays visibly in step.
#![allow(clippy::needless_range_loop)]

mod lanes;
mod tables;
use lanes::{F4, Lanes};
use tables::*;

const HDR_SIZE: usize = 4;
const MAX_FREE_FORMAT_FRAME_SIZE: usize = 2304;
const MAX_FRAME_SYNC_MATCHES: usize = 10;
const MAX_BITRESERVOIR_BYTES: usize = 511;
const MAX_L3_FRAME_PAYLOAD_BYTES: usize = MAX_FREE_FORMAT_FRAME_SIZE;
const SHORT_BLOCK_TYPE: u8 = 2;
const STOP_BLOCK_TYPE: u8 = 3;
/// `MAX_SCFI` in C: `(255 + BITS_DEQUANTIZER_OUT*4 - 210 + 3) & ~3` with `BITS_DEQUANTIZER_OUT = -1`.
const MAX_SCFI: i32 = (255 - 4 - 210 + 3) & !3;
/// The most mono samples one frame decodes to.
pub const MAX_SAMPLES_PER_FRAME: usize = 1152;

/// Subbands to keep for a stream at `hz` whose audio is used only below `max_hz`: those reaching
/// `max_hz` and one more. Leaving out the subbands above changes the output only from half a
/// subband below the top kept one's upper edge (where alias cancellation with the next subband
/// fails and its leakage is missing), so above `max_hz` plus half a subband.
///
/// The output keeps the stream's rate: synthesising every other sample would halve the
/// synthesis, but folds the filterbank's stopband leakage (about -100 dB) back into the band,
/// which puts near-silent mel bands dBs off.
pub fn bands_for(hz: u32, max_hz: u32) -> usize {
    let below = (u64::from(max_hz) * 64).div_ceil(u64::from(hz.max(1)));
    (below + 1).min(32) as usize
}

/// Information about a decoded frame (`mp3dec_frame_info_t`).
#[derive(Copy, Clone, Default, Debug)]
pub struct FrameInfo {
    pub frame_bytes: usize,
    pub channels: u8,
    pub hz: u32,
    pub layer: u8,
    pub status: Status,
}

/// The outcome of `mp3dec_decode_frame`, which C only conveys as "0 samples".
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq)]
pub enum Status {
    /// Samples were decoded.
    Decoded,
    /// No frame was found; `frame_bytes` bytes of junk were skipped.
    #[default]
    NoFrame,
    /// The frame's side info or bitstream is invalid; the decoder resyncs.
    Corrupt,
    /// The frame needs bit-reservoir bytes from frames that weren't decoded.
    ReservoirUnavailable,
    /// A Layer I/II frame: not decoded here.
    UnsupportedLayer,
}

/// Persistent decoder state (`mp3dec_t`).
#[derive(Clone)]
struct State {
    mdct_overlap: [[f32; 9 * 32]; 2],
    /// The polyphase filterbank: the 15 * 16 rows from `syn_base` on are the history (C's
    /// `qmf_state`), kept in place between granules rather than copied in and out.
    syn: [[f32; 4]; SYN_RING_ROWS],
    /// Where in `syn` the current granule's filterbank rows start.
    syn_base: usize,
    reserv: i32,
    free_format_bytes: usize,
    header: [u8; 4],
    reserv_buf: [u8; MAX_BITRESERVOIR_BYTES],
}

impl State {
    const fn new() -> Self {
        Self {
            mdct_overlap: [[0.; 9 * 32]; 2],
            syn: [[0.; 4]; SYN_RING_ROWS],
            syn_base: 0,
            reserv: 0,
            free_format_bytes: 0,
            header: [0; 4],
            reserv_buf: [0; MAX_BITRESERVOIR_BYTES],
        }
    }
}

/// Per-frame working memory (`mp3dec_scratch_t`).
#[derive(Clone)]
struct Scratch {
    grbuf: [[f32; 576]; 2],
    scf: [f32; 40],
    reorder: [f32; 576],
    ist_pos: [[u8; 39]; 2],
}

/// The decoder: persistent state, scratch memory and what to keep.
#[derive(Clone)]
pub struct Mp3Dec {
    st: State,
    scratch: Scratch,
    maindata: [u8; MAX_BITRESERVOIR_BYTES + MAX_L3_FRAME_PAYLOAD_BYTES],
    bands: usize,
}

impl Mp3Dec {
    /// A decoder keeping subbands `0..bands` (1 to 32).
    pub fn new(bands: usize) -> Box<Self> {
        Box::new(Self {
            st: State::new(),
            scratch: Scratch {
                grbuf: [[0.; 576]; 2],
                scf: [0.; 40],
                reorder: [0.; 576],
                ist_pos: [[0; 39]; 2],
            },
            maindata: [0; MAX_BITRESERVOIR_BYTES + MAX_L3_FRAME_PAYLOAD_BYTES],
            bands: bands.clamp(1, 32),
        })
    }
}

#[derive(Copy, Clone, Default)]
struct GrInfo {
    sfbtab: &'static [u8],
    part_23_length: u16,
    big_values: u16,
    scalefac_compress: u16,
    global_gain: u8,
    block_type: u8,
    mixed_block_flag: u8,
    n_long_sfb: u8,
    n_short_sfb: u8,
    table_select: [u8; 3],
    region_count: [u8; 3],
    subblock_gain: [u8; 3],
    preflag: u8,
    scalefac_scale: u8,
    count1_table: u8,
    scfsi: u8,
}

/// Bit reader (`bs_t`). Positions are signed like in C: the limit of a
/// malformed tiny frame can be negative, and `pos` keeps advancing past the
/// limit so callers can detect overruns.
struct Bs<'a> {
    buf: &'a [u8],
    pos: i32,
    limit: i32,
}

impl<'a> Bs<'a> {
    fn new(buf: &'a [u8], bytes: i32) -> Self {
        Self {
            buf,
            pos: 0,
            limit: bytes * 8,
        }
    }

    fn get_bits(&mut self, n: u32) -> u32 {
        let s = (self.pos & 7) as u32;
        let mut p = (self.pos >> 3) as usize;
        self.pos += n as i32;
        if self.pos > self.limit {
            return 0;
        }
        // One 8-byte read holds the at most 7 + 32 bits, away from the buffer's end.
        if let Some(bytes) = self.buf.get(p..p + 8) {
            let word = u64::from_be_bytes(bytes.try_into().unwrap()) << s;
            return if n == 0 { 0 } else { (word >> (64 - n)) as u32 };
        }
        // In bounds: every byte read lies below `limit`, and `limit` never
        // exceeds the buffer.
        let mut shl = (n + s) as i32;
        let mut next = u32::from(self.buf[p] & (255 >> s));
        p += 1;
        let mut cache = 0;
        loop {
            shl -= 8;
            if shl <= 0 {
                break;
            }
            cache |= next << shl;
            next = u32::from(self.buf[p]);
            p += 1;
        }
        cache | (next >> -shl)
    }
}

/// A 4-byte frame header.
#[derive(Copy, Clone)]
pub struct Header(pub [u8; 4]);

impl Header {
    pub fn read(buf: &[u8]) -> Self {
        Self([buf[0], buf[1], buf[2], buf[3]])
    }
    pub fn is_mono(self) -> bool {
        self.0[3] & 0xC0 == 0xC0
    }
    fn is_ms_stereo(self) -> bool {
        self.0[3] & 0xE0 == 0x60
    }
    fn is_free_format(self) -> bool {
        self.0[2] & 0xF0 == 0
    }
    pub fn is_crc(self) -> bool {
        self.0[1] & 1 == 0
    }
    fn test_padding(self) -> bool {
        self.0[2] & 0x2 != 0
    }
    fn test_mpeg1(self) -> bool {
        self.0[1] & 0x8 != 0
    }
    fn test_not_mpeg25(self) -> bool {
        self.0[1] & 0x10 != 0
    }
    fn test_i_stereo(self) -> bool {
        self.0[3] & 0x10 != 0
    }
    fn test_ms_stereo(self) -> bool {
        self.0[3] & 0x20 != 0
    }
    pub fn get_layer(self) -> u8 {
        (self.0[1] >> 1) & 3
    }
    fn get_bitrate(self) -> u8 {
        self.0[2] >> 4
    }
    fn get_sample_rate(self) -> u8 {
        (self.0[2] >> 2) & 3
    }
    fn get_my_sample_rate(self) -> usize {
        let h1 = self.0[1];
        (self.get_sample_rate() + (((h1 >> 3) & 1) + ((h1 >> 4) & 1)) * 3) as usize
    }
    fn is_frame_576(self) -> bool {
        self.0[1] & 14 == 2
    }
    fn is_layer_1(self) -> bool {
        self.0[1] & 6 == 6
    }

    pub fn valid(self) -> bool {
        let h = self.0;
        h[0] == 0xff
            && (h[1] & 0xF0 == 0xf0 || h[1] & 0xFE == 0xe2)
            && self.get_layer() != 0
            && self.get_bitrate() != 15
            && self.get_sample_rate() != 3
    }

    /// `hdr_compare(self, other)`: is `other` a valid header for the same stream?
    pub fn compare(self, other: Header) -> bool {
        let (h1, h2) = (self.0, other.0);
        other.valid()
            && (h1[1] ^ h2[1]) & 0xFE == 0
            && (h1[2] ^ h2[2]) & 0x0C == 0
            && self.is_free_format() == other.is_free_format()
    }

    pub fn bitrate_kbps(self) -> u32 {
        2 * u32::from(
            HDR_BITRATE_KBPS_HALFRATE[self.test_mpeg1() as usize][self.get_layer() as usize - 1]
                [self.get_bitrate() as usize],
        )
    }

    pub fn sample_rate_hz(self) -> u32 {
        HDR_SAMPLE_RATE_HZ_G_HZ[self.get_sample_rate() as usize]
            >> !self.test_mpeg1() as u32
            >> !self.test_not_mpeg25() as u32
    }

    pub fn frame_samples(self) -> u32 {
        if self.is_layer_1() {
            384
        } else {
            1152 >> self.is_frame_576() as u32
        }
    }

    pub fn frame_bytes(self, free_format_size: usize) -> usize {
        let mut frame_bytes =
            (self.frame_samples() * self.bitrate_kbps() * 125 / self.sample_rate_hz()) as usize;
        if self.is_layer_1() {
            frame_bytes &= !3; // slot align
        }
        if frame_bytes != 0 {
            frame_bytes
        } else {
            free_format_size
        }
    }

    pub fn padding(self) -> usize {
        if self.test_padding() {
            if self.is_layer_1() { 4 } else { 1 }
        } else {
            0
        }
    }
}

fn l3_read_side_info(bs: &mut Bs, gr: &mut [GrInfo; 4], hdr: Header) -> i32 {
    let mut scfsi: u32 = 0;
    let mut part_23_sum: i32 = 0;
    let mut sr_idx = hdr.get_my_sample_rate();
    sr_idx -= (sr_idx != 0) as usize;
    let mut gr_count = if hdr.is_mono() { 1 } else { 2 };
    let main_data_begin;
    if hdr.test_mpeg1() {
        gr_count *= 2;
        main_data_begin = bs.get_bits(9) as i32;
        scfsi = bs.get_bits(7 + gr_count);
    } else {
        main_data_begin = (bs.get_bits(8 + gr_count) >> gr_count) as i32;
    }

    for gr in &mut gr[..gr_count as usize] {
        if hdr.is_mono() {
            scfsi <<= 4;
        }
        gr.part_23_length = bs.get_bits(12) as u16;
        part_23_sum += i32::from(gr.part_23_length);
        gr.big_values = bs.get_bits(9) as u16;
        if gr.big_values > 288 {
            return -1;
        }
        gr.global_gain = bs.get_bits(8) as u8;
        gr.scalefac_compress = bs.get_bits(if hdr.test_mpeg1() { 4 } else { 9 }) as u16;
        gr.sfbtab = &L3_READ_SIDE_INFO_G_SCF_LONG[sr_idx];
        gr.n_long_sfb = 22;
        gr.n_short_sfb = 0;
        let tables;
        if bs.get_bits(1) != 0 {
            gr.block_type = bs.get_bits(2) as u8;
            if gr.block_type == 0 {
                return -1;
            }
            gr.mixed_block_flag = bs.get_bits(1) as u8;
            gr.region_count[0] = 7;
            gr.region_count[1] = 255;
            if gr.block_type == SHORT_BLOCK_TYPE {
                scfsi &= 0x0F0F;
                if gr.mixed_block_flag == 0 {
                    gr.region_count[0] = 8;
                    gr.sfbtab = &L3_READ_SIDE_INFO_G_SCF_SHORT[sr_idx];
                    gr.n_long_sfb = 0;
                    gr.n_short_sfb = 39;
                } else {
                    gr.sfbtab = &L3_READ_SIDE_INFO_G_SCF_MIXED[sr_idx];
                    gr.n_long_sfb = if hdr.test_mpeg1() { 8 } else { 6 };
                    gr.n_short_sfb = 30;
                }
            }
            tables = bs.get_bits(10) << 5;
            gr.subblock_gain[0] = bs.get_bits(3) as u8;
            gr.subblock_gain[1] = bs.get_bits(3) as u8;
            gr.subblock_gain[2] = bs.get_bits(3) as u8;
        } else {
            gr.block_type = 0;
            gr.mixed_block_flag = 0;
            tables = bs.get_bits(15);
            gr.region_count[0] = bs.get_bits(4) as u8;
            gr.region_count[1] = bs.get_bits(3) as u8;
            gr.region_count[2] = 255;
        }
        gr.table_select[0] = (tables >> 10) as u8;
        gr.table_select[1] = ((tables >> 5) & 31) as u8;
        gr.table_select[2] = (tables & 31) as u8;
        gr.preflag = if hdr.test_mpeg1() {
            bs.get_bits(1) as u8
        } else {
            (gr.scalefac_compress >= 500) as u8
        };
        gr.scalefac_scale = bs.get_bits(1) as u8;
        gr.count1_table = bs.get_bits(1) as u8;
        gr.scfsi = ((scfsi >> 12) & 15) as u8;
        scfsi <<= 4;
    }

    if part_23_sum + bs.pos > bs.limit + main_data_begin * 8 {
        return -1;
    }
    main_data_begin
}

fn l3_read_scalefactors(
    scf: &mut [u8; 40],
    ist_pos: &mut [u8; 39],
    scf_size: &[u8; 4],
    scf_count: &[u8],
    bitbuf: &mut Bs,
    mut scfsi: i32,
) {
    let mut pos = 0;
    for i in 0..4 {
        let cnt = scf_count[i] as usize;
        if cnt == 0 {
            break;
        }
        let scf = &mut scf[pos..pos + cnt];
        let ist_pos = &mut ist_pos[pos..pos + cnt];
        if scfsi & 8 != 0 {
            scf.copy_from_slice(ist_pos);
        } else {
            let bits = u32::from(scf_size[i]);
            if bits == 0 {
                scf.fill(0);
                ist_pos.fill(0);
            } else {
                let max_scf = if scfsi < 0 { (1 << bits) - 1 } else { -1 };
                for (scf, ist_pos) in scf.iter_mut().zip(ist_pos) {
                    let s = bitbuf.get_bits(bits) as i32;
                    *ist_pos = if s == max_scf { -1i32 as u8 } else { s as u8 };
                    *scf = s as u8;
                }
            }
        }
        pos += cnt;
        scfsi *= 2;
    }
    scf[pos..pos + 3].fill(0);
}

fn l3_ldexp_q2(mut y: f32, mut exp_q2: i32) -> f32 {
    loop {
        let e = (30 * 4).min(exp_q2);
        y *= L3_LDEXP_Q2_G_EXPFRAC[(e & 3) as usize] * ((1 << 30 >> (e >> 2)) as f32);
        exp_q2 -= e;
        if exp_q2 <= 0 {
            return y;
        }
    }
}

fn l3_decode_scalefactors(
    hdr: Header,
    ist_pos: &mut [u8; 39],
    bs: &mut Bs,
    gr: &GrInfo,
    scf: &mut [f32; 40],
    ch: usize,
    lines: usize,
) {
    let mut scf_partition: &[u8] = &L3_DECODE_SCALEFACTORS_G_SCM_PARTITIONS
        [(gr.n_short_sfb != 0) as usize + (gr.n_long_sfb == 0) as usize];
    let mut scf_size = [0u8; 4];
    let mut iscf = [0u8; 40];
    let scf_shift = u32::from(gr.scalefac_scale) + 1;
    let mut scfsi = i32::from(gr.scfsi);

    if hdr.test_mpeg1() {
        let part = L3_DECODE_SCALEFACTORS_G_SCFC_DECODE[gr.scalefac_compress as usize];
        scf_size[0] = part >> 2;
        scf_size[1] = scf_size[0];
        scf_size[2] = part & 3;
        scf_size[3] = scf_size[2];
    } else {
        let ist = (hdr.test_i_stereo() && ch != 0) as usize;
        let mut sfc = i32::from(gr.scalefac_compress) >> ist;
        let mut k = ist * 3 * 4;
        while sfc >= 0 {
            let mut modprod = 1;
            for i in (0..4).rev() {
                let m = i32::from(L3_DECODE_SCALEFACTORS_G_MOD[k + i]);
                scf_size[i] = (sfc / modprod % m) as u8;
                modprod *= m;
            }
            sfc -= modprod;
            k += 4;
        }
        scf_partition = &scf_partition[k..];
        scfsi = -16;
    }
    l3_read_scalefactors(&mut iscf, ist_pos, &scf_size, scf_partition, bs, scfsi);

    let n_long = gr.n_long_sfb as usize;
    let n_short = gr.n_short_sfb as usize;
    if n_short != 0 {
        let sh = 3 - scf_shift;
        for i in (0..n_short).step_by(3) {
            for j in 0..3 {
                let v = &mut iscf[n_long + i + j];
                *v = v.wrapping_add(gr.subblock_gain[j] << sh);
            }
        }
    } else if gr.preflag != 0 {
        for (v, &p) in iscf[11..21]
            .iter_mut()
            .zip(&L3_DECODE_SCALEFACTORS_G_PREAMP)
        {
            *v = v.wrapping_add(p);
        }
    }

    let gain_exp = i32::from(gr.global_gain) - 4 - 210 - if hdr.is_ms_stereo() { 2 } else { 0 };
    let gain = l3_ldexp_q2((1 << (MAX_SCFI / 4)) as f32, MAX_SCFI - gain_exp);
    // The multipliers of the bands that start below `lines`, and one more (the count1 region's
    // last quadruple may reach into it).
    let mut start = 0;
    let used = 1 + gr
        .sfbtab
        .iter()
        .take(n_long + n_short)
        .take_while(|&&w| {
            start += usize::from(w);
            start - usize::from(w) < lines
        })
        .count();
    for (scf, &iscf) in scf.iter_mut().zip(&iscf).take(used.min(n_long + n_short)) {
        *scf = l3_ldexp_q2(gain, i32::from(iscf) << scf_shift);
    }
}

fn l3_pow_43(mut x: i32) -> f32 {
    let mut mult = 256;
    if x < 129 {
        return G_POW43[(16 + x) as usize];
    }
    if x < 1024 {
        mult = 16;
        x <<= 3;
    }
    let sign = (2 * x) & 64;
    let frac = ((x & 63) - sign) as f32 / ((x & !63) + sign) as f32;
    G_POW43[(16 + ((x + sign) >> 6)) as usize]
        * (1.0 + frac * ((4.0 / 3.0) + frac * (2.0 / 9.0)))
        * mult as f32
}

/// The Huffman decoder's look-ahead: 64 bits, refilled with one 8-byte read, so that after
/// [`BitCache::refill`] at least 56 bits are ready, enough for a whole pair (a code of up to 19
/// bits, two signs, twice 13 linbits) or a quadruple. minimp3's 32-bit cache was refilled byte
/// by byte after every value with linbits and every pair, a loop of unpredictable length.
/// Bytes past the end of the buffer read as zero: a corrupt `big_values` can make the decoder
/// run past the granule's data, which C tolerates by reading neighbouring memory.
struct BitCache<'a> {
    buf: &'a [u8],
    /// The next byte not yet (wholly) in the cache.
    next: usize,
    /// Unread bits, from the top.
    cache: u64,
    /// How many of the top bits of `cache` are unread stream bits.
    bits: i32,
}

impl<'a> BitCache<'a> {
    /// A reader at bit `pos` of `buf`.
    fn new(buf: &'a [u8], pos: i32) -> Self {
        let mut br = Self {
            buf,
            next: (pos / 8) as usize,
            cache: 0,
            bits: 0,
        };
        br.refill();
        br.flush(pos & 7);
        br
    }

    /// The next `n` bits (1 to 32).
    #[inline(always)]
    fn peek(&self, n: i32) -> u32 {
        (self.cache >> (64 - n)) as u32
    }

    /// The next 32 bits, as minimp3's cache held them.
    #[inline(always)]
    fn top(&self) -> u32 {
        (self.cache >> 32) as u32
    }

    #[inline(always)]
    fn flush(&mut self, n: i32) {
        self.cache <<= n;
        self.bits -= n;
    }

    /// Tops the cache up to 56 bits or more. Bytes loaded in part are loaded again, into the
    /// same places, next time.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(bytes) = self.buf.get(self.next..self.next + 8) {
            let word = u64::from_be_bytes(bytes.try_into().unwrap());
            self.cache |= word >> self.bits;
            let whole = (63 - self.bits) >> 3;
            self.next += whole as usize;
            self.bits += whole * 8;
        } else {
            while self.bits <= 56 {
                let byte = self.buf.get(self.next).copied().map_or(0, u64::from);
                self.cache |= byte << (56 - self.bits);
                self.next += 1;
                self.bits += 8;
            }
        }
    }

    /// Current bit position (`BSPOS` in C).
    fn pos(&self) -> i32 {
        self.next as i32 * 8 - self.bits
    }
}

/// Bits of the first Huffman lookup: one table read decodes every pair whose code (and, where
/// they fit, its sign bits) is at most this long: the common, short codes. minimp3's trees
/// start with 5 bits, so most pairs took two or three dependent reads and then a bit-by-bit
/// sign for each value. 1024 two-byte entries per codebook keep the few codebooks a granule
/// uses in L1.
const LUT_BITS: i32 = 10;

/// One codebook's first lookup. [`FAST`] entries hold the whole pair: its length with the sign
/// bits (bits 0 to 3, so the next pair's shift waits for one mask only) and both values as
/// `G_POW43` indices (bits 4 to 8 and 9 to 13). Other entries hold `code length << 8 | leaf`
/// for the value-by-value path (linbits escapes, or sign bits beyond the lookup), or [`MISS`]
/// where the code is longer than [`LUT_BITS`].
type PairLut = [u16; 1 << LUT_BITS];
const FAST: u16 = 0x8000;
const MISS: u16 = 0x7FFF;

/// The lookup tables, one per distinct codebook, built once from minimp3's trees.
struct PairLuts {
    luts: Vec<PairLut>,
    /// Index into `luts` for each `table_select` value.
    of_table: [u8; 32],
}

fn pair_luts() -> &'static PairLuts {
    static LUTS: std::sync::OnceLock<PairLuts> = std::sync::OnceLock::new();
    LUTS.get_or_init(|| {
        let mut luts = Vec::new();
        let mut keys = Vec::new();
        let mut of_table = [0u8; 32];
        for tab in 0..32 {
            let key = (L3_HUFFMAN_TABINDEX[tab], L3_HUFFMAN_G_LINBITS[tab] != 0);
            let i = keys.iter().position(|&k| k == key).unwrap_or_else(|| {
                keys.push(key);
                luts.push(pair_lut(&L3_HUFFMAN_TABS[key.0 as usize..], key.1));
                luts.len() - 1
            });
            of_table[tab] = i as u8;
        }
        PairLuts { luts, of_table }
    })
}

/// Walks `codebook`'s tree for every [`LUT_BITS`]-bit prefix (zeros after it); a walk that
/// consumed no more than the prefix found the same leaf whatever follows, and sign bits within
/// the prefix are known too. A value of 15 in a table with linbits is an escape (more bits
/// follow), which only the value-by-value path reads.
fn pair_lut(codebook: &[i16], linbits: bool) -> PairLut {
    let mut lut = [MISS; 1 << LUT_BITS];
    for (prefix, entry) in lut.iter_mut().enumerate() {
        let bits = (prefix as u32) << (32 - LUT_BITS);
        let (leaf, len) = walk_pair_tree(codebook, bits);
        if len > LUT_BITS {
            continue;
        }
        *entry = (len << 8 | (leaf & 0xFF)) as u16;
        let values = [leaf & 15, (leaf >> 4) & 15];
        if linbits && values.contains(&15) {
            continue;
        }
        // Each non-zero value is followed by its sign bit (1: negative); G_POW43 holds the
        // negative powers below index 16.
        let (mut end, mut index) = (len, [16; 2]);
        for (v, index) in values.into_iter().zip(&mut index) {
            if v != 0 {
                if end == LUT_BITS {
                    end = LUT_BITS + 1;
                    break;
                }
                *index = 16 + v - 16 * ((bits >> (31 - end)) & 1) as i32;
                end += 1;
            }
        }
        if end <= LUT_BITS {
            *entry = FAST | (index[1] << 9 | index[0] << 4 | end) as u16;
        }
    }
    lut
}

/// minimp3's tree walk over the bits at the top of `cache`: the leaf (`y << 4 | x` in its low
/// byte) and the code's length.
#[inline(always)]
fn walk_pair_tree(codebook: &[i16], mut cache: u32) -> (i32, i32) {
    let mut w = 5;
    let mut len = 0;
    let mut leaf = i32::from(codebook[(cache >> (32 - w)) as usize]);
    while leaf < 0 {
        cache <<= w;
        len += w;
        w = leaf & 7;
        leaf = i32::from(codebook[(cache >> (32 - w)).wrapping_sub((leaf >> 3) as u32) as usize]);
    }
    (leaf, len + (leaf >> 8))
}

/// Decodes Huffman pairs for one scalefactor band of the big-values region.
#[inline(always)]
fn l3_huffman_pairs<const LINBITS: bool>(
    out: &mut [f32],
    br: &mut BitCache,
    codebook: &[i16],
    lut: &PairLut,
    linbits: i32,
    one: f32,
) {
    for pair in out.as_chunks_mut::<2>().0 {
        let entry = lut[br.peek(LUT_BITS) as usize];
        if entry & FAST != 0 {
            br.flush(i32::from(entry & 15));
            pair[0] = G_POW43[usize::from(entry >> 4 & 31)] * one;
            pair[1] = G_POW43[usize::from(entry >> 9 & 31)] * one;
            br.refill();
            continue;
        }
        let mut leaf = if entry != MISS {
            br.flush(i32::from(entry >> 8));
            i32::from(entry & 0xFF)
        } else {
            let (leaf, len) = walk_pair_tree(codebook, br.top());
            br.flush(len);
            leaf
        };

        for v in pair {
            let mut lsb = leaf & 0x0F;
            if LINBITS && lsb == 15 {
                lsb += br.peek(linbits) as i32;
                br.flush(linbits);
                *v = one * l3_pow_43(lsb) * if (br.top() as i32) < 0 { -1.0 } else { 1.0 };
            } else {
                *v = G_POW43[(16 + lsb) as usize - 16 * (br.top() >> 31) as usize] * one;
            }
            br.flush((lsb != 0) as i32);
            leaf >>= 4;
        }
        br.refill();
    }
}

/// Lines of a granule's Huffman data (bitstream order) that subbands `0..bands` are made from,
/// rounded up to a scalefactor band: for long blocks, 8 lines of the next subband too (the
/// antialias butterflies at the top edge); short blocks (no antialiasing) interleave their three
/// windows band by band.
fn huffman_stop(gr: &GrInfo, bands: usize) -> usize {
    let n_long = gr.n_long_sfb as usize;
    let long_lines: usize = gr.sfbtab[..n_long].iter().map(|&w| w as usize).sum();
    let mut pos = 0;
    for (i, &w) in gr.sfbtab.iter().enumerate().take_while(|&(_, &w)| w != 0) {
        pos += w as usize;
        let covered = if i < n_long {
            pos >= 18 * bands + 8
        } else {
            // After the third window of a short band, each window holds its lines below this.
            (i - n_long) % 3 == 2 && long_lines / 3 + (pos - long_lines) / 3 >= 6 * bands
        };
        if covered {
            return pos;
        }
    }
    576
}

/// `L3_huffman`, stopping after `stop` lines (at a scalefactor band boundary).
fn l3_huffman(
    dst: &mut [f32; 576],
    bs: &mut Bs,
    gr_info: &GrInfo,
    scf: &[f32; 40],
    layer3gr_limit: i32,
    stop: usize,
) {
    let mut one = 0.0f32;
    let mut ireg = 0;
    let mut big_val_cnt = i32::from(gr_info.big_values);
    let sfbtab = gr_info.sfbtab;
    let mut sfb = 0;
    let mut scf_idx = 0;
    let mut d = 0;

    let luts = pair_luts();
    let mut br = BitCache::new(bs.buf, bs.pos);

    while big_val_cnt > 0 {
        let tab_num = gr_info.table_select[ireg] as usize;
        let mut sfb_cnt = i32::from(gr_info.region_count[ireg]);
        ireg += 1;
        let codebook = &L3_HUFFMAN_TABS[L3_HUFFMAN_TABINDEX[tab_num] as usize..];
        let lut = &luts.luts[luts.of_table[tab_num] as usize];
        let linbits = i32::from(L3_HUFFMAN_G_LINBITS[tab_num]);
        loop {
            let np = i32::from(sfbtab[sfb]) / 2;
            sfb += 1;
            let pairs_to_decode = big_val_cnt.min(np) as usize;
            one = scf[scf_idx];
            scf_idx += 1;
            // C's do/while always decodes at least one pair; np is never 0 here
            // because big_values <= 288 and every table covers 288 pairs.
            let out = &mut dst[d..d + 2 * pairs_to_decode.max(1)];
            if linbits != 0 {
                l3_huffman_pairs::<true>(out, &mut br, codebook, lut, linbits, one);
            } else {
                l3_huffman_pairs::<false>(out, &mut br, codebook, lut, linbits, one);
            }
            d += out.len();
            big_val_cnt -= np;
            if d >= stop {
                bs.pos = layer3gr_limit;
                return;
            }
            if big_val_cnt <= 0 {
                break;
            }
            sfb_cnt -= 1;
            if sfb_cnt < 0 {
                break;
            }
        }
    }

    let codebook_count1: &[u8] = if gr_info.count1_table != 0 {
        &L3_HUFFMAN_TAB33
    } else {
        &L3_HUFFMAN_TAB32
    };
    let mut np = 1 - big_val_cnt;
    'count1: loop {
        if d >= stop {
            break;
        }
        let mut leaf = i32::from(codebook_count1[br.peek(4) as usize]);
        if leaf & 8 == 0 {
            leaf = i32::from(
                codebook_count1
                    [(leaf >> 3) as usize + (br.top() << 4 >> (32 - (leaf & 3))) as usize],
            );
        }
        br.flush(leaf & 7);
        if br.pos() > layer3gr_limit {
            break;
        }
        for half in 0..2 {
            np -= 1;
            if np == 0 {
                np = i32::from(sfbtab[sfb]) / 2;
                sfb += 1;
                if np == 0 {
                    break 'count1;
                }
                one = scf[scf_idx];
                scf_idx += 1;
            }
            for s in 2 * half..2 * half + 2 {
                if leaf & (128 >> s) != 0 {
                    dst[d + s] = if (br.top() as i32) < 0 { -one } else { one };
                    br.flush(1);
                }
            }
        }
        br.refill();
        d += 4;
    }
    bs.pos = layer3gr_limit;
}

fn l3_midside_stereo(buf: &mut [f32; 1152], start: usize, n: usize) {
    let (left, right) = buf.split_at_mut(576);
    for (l, r) in left[start..start + n]
        .iter_mut()
        .zip(&mut right[start..start + n])
    {
        let a = *l;
        let b = *r;
        *l = a + b;
        *r = a - b;
    }
}

fn l3_intensity_stereo_band(buf: &mut [f32; 1152], start: usize, n: usize, kl: f32, kr: f32) {
    let (left, right) = buf.split_at_mut(576);
    for (l, r) in left[start..start + n]
        .iter_mut()
        .zip(&mut right[start..start + n])
    {
        *r = *l * kr;
        *l *= kl;
    }
}

fn l3_stereo_top_band(right: &[f32], sfb: &[u8], nbands: usize, max_band: &mut [i32; 3]) {
    *max_band = [-1; 3];
    let mut off = 0;
    for i in 0..nbands {
        let n = sfb[i] as usize;
        let band = &right[off..off + n];
        if band
            .as_chunks::<2>()
            .0
            .iter()
            .any(|p| p[0] != 0.0 || p[1] != 0.0)
        {
            max_band[i % 3] = i as i32;
        }
        off += n;
    }
}

fn l3_stereo_process(
    buf: &mut [f32; 1152],
    ist_pos: &[u8; 39],
    sfb: &[u8],
    hdr: Header,
    max_band: &[i32; 3],
    mpeg2_sh: u32,
) {
    let max_pos = if hdr.test_mpeg1() { 7 } else { 64 };
    let mut off = 0;
    for (i, &n) in sfb.iter().take_while(|&&n| n != 0).enumerate() {
        let n = n as usize;
        let ipos = u32::from(ist_pos[i]);
        if i as i32 > max_band[i % 3] && ipos < max_pos {
            let s = if hdr.test_ms_stereo() {
                1.41421356
            } else {
                1.0
            };
            let (kl, kr);
            if hdr.test_mpeg1() {
                kl = L3_STEREO_PROCESS_G_PAN[2 * ipos as usize];
                kr = L3_STEREO_PROCESS_G_PAN[2 * ipos as usize + 1];
            } else {
                let k = l3_ldexp_q2(1.0, (((ipos + 1) >> 1) << mpeg2_sh) as i32);
                (kl, kr) = if ipos & 1 != 0 { (k, 1.0) } else { (1.0, k) };
            }
            l3_intensity_stereo_band(buf, off, n, kl * s, kr * s);
        } else if hdr.test_ms_stereo() {
            l3_midside_stereo(buf, off, n);
        }
        off += n;
    }
}

fn l3_intensity_stereo(buf: &mut [f32; 1152], ist_pos: &mut [u8; 39], gr: &[GrInfo], hdr: Header) {
    let mut max_band = [0i32; 3];
    let n_sfb = gr[0].n_long_sfb as usize + gr[0].n_short_sfb as usize;
    let max_blocks = if gr[0].n_short_sfb != 0 { 3 } else { 1 };

    l3_stereo_top_band(&buf[576..], gr[0].sfbtab, n_sfb, &mut max_band);
    if gr[0].n_long_sfb != 0 {
        max_band = [max_band[0].max(max_band[1]).max(max_band[2]); 3];
    }
    for i in 0..max_blocks {
        let default_pos = if hdr.test_mpeg1() { 3 } else { 0 };
        let itop = n_sfb - max_blocks + i;
        let prev = itop - max_blocks;
        ist_pos[itop] = if max_band[i] >= prev as i32 {
            default_pos
        } else {
            ist_pos[prev]
        };
    }
    l3_stereo_process(
        buf,
        ist_pos,
        gr[0].sfbtab,
        hdr,
        &max_band,
        u32::from(gr[1].scalefac_compress & 1),
    );
}

fn l3_reorder(grbuf: &mut [f32], scratch: &mut [f32], sfb: &[u8]) {
    let mut src = 0;
    let mut dst = 0;
    for &len in sfb.iter().step_by(3).take_while(|&&len| len != 0) {
        let len = len as usize;
        for i in 0..len {
            scratch[dst] = grbuf[src + i];
            scratch[dst + 1] = grbuf[src + i + len];
            scratch[dst + 2] = grbuf[src + i + 2 * len];
            dst += 3;
        }
        src += 3 * len;
    }
    grbuf[..dst].copy_from_slice(&scratch[..dst]);
}

fn l3_antialias(grbuf: &mut [f32; 576], nbands: usize) {
    let aa = |k: usize, i: usize| F4::load(&L3_ANTIALIAS_G_AA[k][i..]);
    for b in 0..nbands {
        let (lo, hi) = grbuf[18 * b..18 * b + 36].split_at_mut(18);
        for i in [0, 4] {
            // hi[i..i+4] against lo[17-i..=14-i] (reversed).
            let u = F4::load(&hi[i..]);
            let d = F4::load(&lo[14 - i..]).rev();
            (u * aa(0, i) - d * aa(1, i)).store(&mut hi[i..]);
            (u * aa(1, i) + d * aa(0, i)).rev().store(&mut lo[14 - i..]);
        }
    }
}

#[inline(always)]
fn l3_dct3_9<T: Lanes>(y: &mut [T; 9]) {
    let c = T::splat;
    let mut s0 = y[0];
    let mut s2 = y[2];
    let mut s4 = y[4];
    let mut s6 = y[6];
    let mut s8 = y[8];
    let mut t0 = s0 + s6 * c(0.5);
    s0 -= s6;
    let mut t4 = (s4 + s2) * c(0.93969262);
    let mut t2 = (s8 + s2) * c(0.76604444);
    s6 = (s4 - s8) * c(0.17364818);
    s4 += s8 - s2;

    s2 = s0 - s4 * c(0.5);
    y[4] = s4 + s0;
    s8 = t0 - t2 + s6;
    s0 = t0 - t4 + t2;
    s4 = t0 + t4 - s6;

    let mut s1 = y[1];
    let mut s3 = y[3];
    let mut s5 = y[5];
    let mut s7 = y[7];

    s3 = s3 * c(0.86602540);
    t0 = (s5 + s1) * c(0.98480775);
    t4 = (s5 - s7) * c(0.34202014);
    t2 = (s1 + s7) * c(0.64278761);
    s1 = (s1 - s5 - s7) * c(0.86602540);

    s5 = t0 - s3 - t2;
    s7 = t4 - s3 - t0;
    s3 = t4 + s3 - t2;

    y[0] = s4 - s7;
    y[1] = s2 + s1;
    y[2] = s0 - s3;
    y[3] = s8 + s5;
    y[5] = s8 - s5;
    y[6] = s0 + s3;
    y[7] = s2 - s1;
    y[8] = s4 + s7;
}

/// IMDCT-36 of `T::N` adjacent bands at once (one band per lane).
#[inline(always)]
fn l3_imdct36_bands<T: Lanes>(grbuf: &mut [f32], overlap: &mut [f32], window: &[f32; 18]) {
    let c = T::splat;
    let g = |grbuf: &[f32], o: usize| T::gather(&grbuf[o..], 18);
    let mut co = [c(0.0); 9];
    let mut si = [c(0.0); 9];
    co[0] = -g(grbuf, 0);
    si[0] = g(grbuf, 17);
    for i in 0..4 {
        si[8 - 2 * i] = g(grbuf, 4 * i + 1) - g(grbuf, 4 * i + 2);
        co[1 + 2 * i] = g(grbuf, 4 * i + 1) + g(grbuf, 4 * i + 2);
        si[7 - 2 * i] = g(grbuf, 4 * i + 4) - g(grbuf, 4 * i + 3);
        co[2 + 2 * i] = -(g(grbuf, 4 * i + 3) + g(grbuf, 4 * i + 4));
    }
    l3_dct3_9(&mut co);
    l3_dct3_9(&mut si);

    si[1] = -si[1];
    si[3] = -si[3];
    si[5] = -si[5];
    si[7] = -si[7];

    for i in 0..9 {
        let ovl = T::gather(&overlap[i..], 9);
        let sum = co[i] * c(L3_IMDCT36_G_TWID9[9 + i]) + si[i] * c(L3_IMDCT36_G_TWID9[i]);
        (co[i] * c(L3_IMDCT36_G_TWID9[i]) - si[i] * c(L3_IMDCT36_G_TWID9[9 + i]))
            .scatter(&mut overlap[i..], 9);
        (ovl * c(window[i]) - sum * c(window[9 + i])).scatter(&mut grbuf[i..], 18);
        (ovl * c(window[9 + i]) + sum * c(window[i])).scatter(&mut grbuf[17 - i..], 18);
    }
}

fn l3_imdct36(grbuf: &mut [f32], overlap: &mut [f32], window: &[f32; 18], nbands: usize) {
    let mut j = 0;
    while j + 4 <= nbands {
        l3_imdct36_bands::<F4>(&mut grbuf[18 * j..], &mut overlap[9 * j..], window);
        j += 4;
    }
    while j < nbands {
        l3_imdct36_bands::<f32>(&mut grbuf[18 * j..], &mut overlap[9 * j..], window);
        j += 1;
    }
}

fn l3_idct3(x0: f32, x1: f32, x2: f32, dst: &mut [f32; 3]) {
    let m1 = x1 * 0.86602540;
    let a1 = x0 - x2 * 0.5;
    dst[1] = x0 + x2;
    dst[0] = a1 + m1;
    dst[2] = a1 - m1;
}

fn l3_imdct12(x: &[f32], dst: &mut [f32], overlap: &mut [f32]) {
    let mut co = [0f32; 3];
    let mut si = [0f32; 3];
    l3_idct3(-x[0], x[6] + x[3], x[12] + x[9], &mut co);
    l3_idct3(x[15], x[12] - x[9], x[6] - x[3], &mut si);
    si[1] = -si[1];

    for i in 0..3 {
        let ovl = overlap[i];
        let sum = co[i] * L3_IMDCT12_G_TWID3[3 + i] + si[i] * L3_IMDCT12_G_TWID3[i];
        overlap[i] = co[i] * L3_IMDCT12_G_TWID3[i] - si[i] * L3_IMDCT12_G_TWID3[3 + i];
        dst[i] = ovl * L3_IMDCT12_G_TWID3[2 - i] - sum * L3_IMDCT12_G_TWID3[5 - i];
        dst[5 - i] = ovl * L3_IMDCT12_G_TWID3[5 - i] + sum * L3_IMDCT12_G_TWID3[2 - i];
    }
}

fn l3_imdct_short(grbuf: &mut [f32], overlap: &mut [f32], nbands: usize) {
    for (grbuf, overlap) in grbuf
        .as_chunks_mut::<18>()
        .0
        .iter_mut()
        .zip(overlap.as_chunks_mut::<9>().0)
        .take(nbands)
    {
        let mut tmp = [0f32; 18];
        tmp.copy_from_slice(grbuf);
        grbuf[..6].copy_from_slice(&overlap[..6]);
        let (ov_out, ov_state) = overlap.split_at_mut(6);
        l3_imdct12(&tmp, &mut grbuf[6..12], ov_state);
        l3_imdct12(&tmp[1..], &mut grbuf[12..18], ov_state);
        l3_imdct12(&tmp[2..], ov_out, ov_state);
    }
}

fn l3_change_sign(grbuf: &mut [f32]) {
    for band in grbuf.as_chunks_mut::<18>().0.iter_mut().skip(1).step_by(2) {
        for x in band.iter_mut().skip(1).step_by(2) {
            *x = -*x;
        }
    }
}

/// `L3_imdct_gr` over subbands `0..bands` only.
fn l3_imdct_gr(
    grbuf: &mut [f32; 576],
    overlap: &mut [f32; 288],
    block_type: u8,
    n_long_bands: usize,
    bands: usize,
) {
    let n_long = n_long_bands.min(bands);
    let (long_buf, rest_buf) = grbuf.split_at_mut(18 * n_long);
    let (long_ovl, rest_ovl) = overlap.split_at_mut(9 * n_long);
    if n_long != 0 {
        l3_imdct36(long_buf, long_ovl, &L3_IMDCT_GR_G_MDCT_WINDOW[0], n_long);
    }
    if block_type == SHORT_BLOCK_TYPE {
        l3_imdct_short(rest_buf, rest_ovl, bands - n_long);
    } else {
        let window = &L3_IMDCT_GR_G_MDCT_WINDOW[(block_type == STOP_BLOCK_TYPE) as usize];
        l3_imdct36(rest_buf, rest_ovl, window, bands - n_long);
    }
}

fn l3_save_reservoir(h: &mut State, bs: &Bs) {
    let mut pos = ((bs.pos + 7) as u32 / 8) as i32;
    let mut remains = (bs.limit as u32 / 8).wrapping_sub(pos as u32) as i32;
    if remains > MAX_BITRESERVOIR_BYTES as i32 {
        pos += remains - MAX_BITRESERVOIR_BYTES as i32;
        remains = MAX_BITRESERVOIR_BYTES as i32;
    }
    if remains > 0 {
        let (pos, remains) = (pos as usize, remains as usize);
        h.reserv_buf[..remains].copy_from_slice(&bs.buf[pos..pos + remains]);
    }
    h.reserv = remains;
}

fn l3_restore_reservoir<'a>(
    h: &State,
    bs: &Bs,
    maindata: &'a mut [u8; MAX_BITRESERVOIR_BYTES + MAX_L3_FRAME_PAYLOAD_BYTES],
    main_data_begin: i32,
) -> (Bs<'a>, bool) {
    let frame_bytes = ((bs.limit - bs.pos) / 8) as usize;
    let bytes_have = h.reserv.min(main_data_begin) as usize;
    let reserv_off = (h.reserv - main_data_begin).max(0) as usize;
    maindata[..bytes_have].copy_from_slice(&h.reserv_buf[reserv_off..reserv_off + bytes_have]);
    let frame_start = (bs.pos / 8) as usize;
    maindata[bytes_have..bytes_have + frame_bytes]
        .copy_from_slice(&bs.buf[frame_start..frame_start + frame_bytes]);
    // Bounding the reader to the valid bytes makes Huffman over-reads on corrupt
    // streams see zeros without having to clear the buffer.
    let len = bytes_have + frame_bytes;
    (
        Bs::new(&maindata[..len], len as i32),
        h.reserv >= main_data_begin,
    )
}

/// `L3_decode` for subbands `0..bands`, leaving the mono mix in `s.grbuf[0]` (zero above).
///
/// When a granule's two channels share their block type, everything after the stereo
/// processing is the same linear map for both, so the spectra are averaged and transformed once.
/// The channels' IMDCT overlaps enter the mono output only through their mean, which the one
/// transform takes as its overlap and leaves in both. With mid/side stereo the mean is the mid
/// spectrum itself (minimp3 reconstructs left = mid + side and right = mid - side, the
/// 1/sqrt(2) being in the gain), and the side channel's Huffman data is skipped.
fn l3_decode(
    h: &mut State,
    s: &mut Scratch,
    bs: &mut Bs,
    gr_info: &[GrInfo],
    nch: usize,
    bands: usize,
) {
    let hdr = Header(h.header);
    let shared = nch == 2
        && !hdr.test_i_stereo()
        && gr_info[0].block_type == gr_info[1].block_type
        && gr_info[0].mixed_block_flag == gr_info[1].mixed_block_flag;
    let mid_only = shared && hdr.is_ms_stereo();
    // Lines past the Huffman data's last quadruple (at most 3 past `stop`) are zero in both
    // channels, and subbands from `imdct_bands` on are never transformed: the stereo steps
    // below skip them.
    let mut lines = 0;
    // Whole groups of four subbands: the IMDCT's vector body is 4 subbands wide, and a
    // transformed subband more costs less than the scalar tail.
    let imdct_bands = bands.next_multiple_of(4).min(32);
    let overlaps = 9 * imdct_bands;
    for ch in 0..nch {
        let layer3gr_limit = bs.pos + i32::from(gr_info[ch].part_23_length);
        let skipped = mid_only && ch == 1;
        // Intensity stereo positions depend on the right channel's whole spectrum.
        let stop = if skipped {
            0
        } else if hdr.test_i_stereo() {
            576
        } else {
            huffman_stop(&gr_info[ch], bands)
        };
        // Read even when skipped: a later granule may reuse them (scfsi).
        l3_decode_scalefactors(
            hdr,
            &mut s.ist_pos[ch],
            bs,
            &gr_info[ch],
            &mut s.scf,
            ch,
            stop,
        );
        if skipped {
            bs.pos = layer3gr_limit;
            break;
        }
        lines = (stop + 4).min(576).max(lines);
        l3_huffman(
            &mut s.grbuf[ch],
            bs,
            &gr_info[ch],
            &s.scf,
            layer3gr_limit,
            stop,
        );
    }

    let stereo: &mut [f32; 1152] = s.grbuf.as_flattened_mut().try_into().unwrap();
    if shared {
        if !mid_only {
            let (left, right) = stereo.split_at_mut(576);
            for (l, r) in left[..lines].iter_mut().zip(&right[..lines]) {
                *l = (*l + *r) * 0.5;
            }
        }
        let [left, right] = &mut h.mdct_overlap;
        for (l, r) in left[..overlaps].iter_mut().zip(&right[..overlaps]) {
            *l = (*l + *r) * 0.5;
        }
    } else if hdr.test_i_stereo() {
        l3_intensity_stereo(stereo, &mut s.ist_pos[1], gr_info, hdr);
    } else if hdr.is_ms_stereo() {
        l3_midside_stereo(stereo, 0, lines);
    }

    let channels = if shared { 1 } else { nch };
    for ch in 0..channels {
        let gr = &gr_info[ch];
        let mut aa_bands = 31;
        let n_long_bands: usize = (if gr.mixed_block_flag != 0 { 2 } else { 0 })
            << (hdr.get_my_sample_rate() == 2) as u32;

        if gr.n_short_sfb != 0 {
            aa_bands = n_long_bands.saturating_sub(1);
            l3_reorder(
                &mut s.grbuf[ch][n_long_bands * 18..],
                &mut s.reorder,
                &gr.sfbtab[gr.n_long_sfb as usize..],
            );
        }

        l3_antialias(&mut s.grbuf[ch], aa_bands.min(bands));
        l3_imdct_gr(
            &mut s.grbuf[ch],
            &mut h.mdct_overlap[ch],
            gr.block_type,
            n_long_bands,
            imdct_bands,
        );
        l3_change_sign(&mut s.grbuf[ch][..18 * bands]);
    }

    let [left, right] = &mut s.grbuf;
    let n = 18 * bands;
    if shared {
        let [left, right] = &mut h.mdct_overlap;
        right[..overlaps].copy_from_slice(&left[..overlaps]);
    } else if nch == 2 {
        for (l, r) in left[..n].iter_mut().zip(&right[..n]) {
            *l = (*l + *r) * 0.5;
        }
    }
    left[n..].fill(0.0);
}

/// DCT-II over columns `k..k + T::N` of a 32-row subband matrix whose rows are `S` apart;
/// with `LOW`, rows 16 to 31 are zero (the upper subbands were not decoded) and not read.
#[inline(always)]
fn mp3d_dct_ii_cols<T: Lanes, const S: usize, const LOW: bool>(grbuf: &mut [f32], k: usize) {
    let c = T::splat;
    let mut t = [[c(0.0); 8]; 4];
    for i in 0..8 {
        let x0 = T::load(&grbuf[k + i * S..]);
        let x1 = T::load(&grbuf[k + (15 - i) * S..]);
        let (t0, t1, t2, t3) = if LOW {
            let t2 = x1 * c(MP3D_DCT_II_G_SEC[3 * i]);
            (x0, x1, t2, x0 * c(MP3D_DCT_II_G_SEC[3 * i + 1]))
        } else {
            let x2 = T::load(&grbuf[k + (16 + i) * S..]);
            let x3 = T::load(&grbuf[k + (31 - i) * S..]);
            let t2 = (x1 - x2) * c(MP3D_DCT_II_G_SEC[3 * i]);
            (
                x0 + x3,
                x1 + x2,
                t2,
                (x0 - x3) * c(MP3D_DCT_II_G_SEC[3 * i + 1]),
            )
        };
        t[0][i] = t0 + t1;
        t[1][i] = (t0 - t1) * c(MP3D_DCT_II_G_SEC[3 * i + 2]);
        t[2][i] = t3 + t2;
        t[3][i] = (t3 - t2) * c(MP3D_DCT_II_G_SEC[3 * i + 2]);
    }
    for x in &mut t {
        let [
            mut x0,
            mut x1,
            mut x2,
            mut x3,
            mut x4,
            mut x5,
            mut x6,
            mut x7,
        ] = *x;
        let mut xt = x0 - x7;
        x0 += x7;
        x7 = x1 - x6;
        x1 += x6;
        x6 = x2 - x5;
        x2 += x5;
        x5 = x3 - x4;
        x3 += x4;
        x4 = x0 - x3;
        x0 += x3;
        x3 = x1 - x2;
        x1 += x2;
        x[0] = x0 + x1;
        x[4] = (x0 - x1) * c(0.70710677);
        x5 += x6;
        x6 = (x6 + x7) * c(0.70710677);
        x7 += xt;
        x3 = (x3 + x4) * c(0.70710677);
        x5 -= x7 * c(0.198912367); // rotate by PI/8
        x7 += x5 * c(0.382683432);
        x5 -= x7 * c(0.198912367);
        x0 = xt - x6;
        xt += x6;
        x[1] = (xt + x7) * c(0.50979561);
        x[2] = (x4 + x3) * c(0.54119611);
        x[3] = (x0 - x5) * c(0.60134488);
        x[5] = (x0 + x5) * c(0.89997619);
        x[6] = (x4 - x3) * c(1.30656302);
        x[7] = (xt - x7) * c(2.56291556);
    }
    for i in 0..7 {
        let y = k + i * 4 * S;
        t[0][i].store(&mut grbuf[y..]);
        (t[2][i] + t[3][i] + t[3][i + 1]).store(&mut grbuf[y + S..]);
        (t[1][i] + t[1][i + 1]).store(&mut grbuf[y + 2 * S..]);
        (t[2][i + 1] + t[3][i] + t[3][i + 1]).store(&mut grbuf[y + 3 * S..]);
    }
    let y = k + 7 * 4 * S;
    t[0][7].store(&mut grbuf[y..]);
    (t[2][7] + t[3][7]).store(&mut grbuf[y + S..]);
    t[1][7].store(&mut grbuf[y + 2 * S..]);
    t[3][7].store(&mut grbuf[y + 3 * S..]);
}

fn mp3d_dct_ii(grbuf: &mut [f32; 576], n: usize, bands: usize) {
    if bands <= 16 {
        mp3d_dct_ii_n::<true>(grbuf, n)
    } else {
        mp3d_dct_ii_n::<false>(grbuf, n)
    }
}

fn mp3d_dct_ii_n<const LOW: bool>(grbuf: &mut [f32; 576], n: usize) {
    let mut k = 0;
    while k + 4 <= n {
        mp3d_dct_ii_cols::<F4, 18, LOW>(grbuf, k);
        k += 4;
    }
    // The last columns (two of the 18) through the vector body too: copied out into a matrix
    // of 4-wide rows (the spare lanes repeat them), transformed, copied back.
    if k < n {
        let mut tail = [0f32; 32 * 4];
        for (row, t) in tail.as_chunks_mut::<4>().0.iter_mut().enumerate() {
            for (lane, t) in t.iter_mut().enumerate() {
                *t = grbuf[row * 18 + k + lane % (n - k)];
            }
        }
        mp3d_dct_ii_cols::<F4, 4, LOW>(&mut tail, 0);
        for (row, t) in tail.as_chunks::<4>().0.iter().enumerate() {
            grbuf[row * 18 + k..row * 18 + n].copy_from_slice(&t[..n - k]);
        }
    }
}

/// `mp3d_synth_pair`: the two samples C writes to `pcm[0]` and `pcm[16*nch]`,
/// read from `lane` (and `lane + 2`) of every 16th row starting at `row`.
#[inline(always)]
fn mp3d_synth_pair(z: &[[f32; 4]; SYNTH_ROWS], row: usize, lane: usize) -> (f32, f32) {
    let x = |m: usize| z[row + 16 * m][lane];
    let mut a;
    a = (x(14) - x(0)) * 29.0;
    a += (x(1) + x(13)) * 213.0;
    a += (x(12) - x(2)) * 459.0;
    a += (x(3) + x(11)) * 2037.0;
    a += (x(10) - x(4)) * 5153.0;
    a += (x(5) + x(9)) * 6574.0;
    a += (x(8) - x(6)) * 37489.0;
    a += x(7) * 75038.0;
    let first = a;

    let x = |m: usize| z[row + 16 * m][lane + 2];
    a = x(14) * 104.0;
    a += x(12) * 1567.0;
    a += x(10) * 9727.0;
    a += x(8) * 64019.0;
    a += x(6) * -9975.0;
    a += x(4) * -45.0;
    a += x(2) * 146.0;
    a += x(0) * -5.0;
    (first, a)
}

// The polyphase filterbank history (`lins` in C) is viewed as rows of 4 floats:
// [left even, right even, left odd, right odd]. In C terms, row `r` lane `l` is
// `lins[4*r + l]`, and `zlin = lins + 15*64` starts at row `ZLIN`.
const ZLIN: usize = 15 * 16;
/// Rows of `lins` touched by one call to `mp3d_synth`.
const SYNTH_ROWS: usize = ZLIN + 2 * 16;

/// Rows in the whole synthesis buffer (`syn` in C: `(18 + 15) * 2 * 32` floats).
const SYN_ROWS: usize = (18 + 15) * 2 * 32 / 4;

/// Rows a granule adds; the next granule's history starts this far on.
const GRANULE_ROWS: usize = 18 * 16;

/// The filterbank holds four granules' rows after the history: each granule's rows follow the
/// last one's, and only every fourth granule copies its history back to the start (minimp3
/// copies the 3.75 KB history down after every granule).
const SYN_RING_ROWS: usize = SYN_ROWS - GRANULE_ROWS + 4 * GRANULE_ROWS;

/// The synthesis window with minimp3's output scale (1/32768) folded in, each value repeated
/// across the four lanes: the windowing loop then multiplies by a table row instead of
/// broadcasting a scalar (a shuffle) for every product. The scale is a power of two, so the
/// products, and the sums, are the same floats as minimp3's scaled after summing.
static SYNTH_WIN_LANES: [[f32; 4]; 240] = {
    let mut t = [[0.0; 4]; 240];
    let mut i = 0;
    while i < 240 {
        let w = MP3D_SYNTH_G_WIN[i] / 32768.0;
        t[i] = [w; 4];
        i += 1;
    }
    t
};

/// `mp3d_synth_granule` for the mono mix in `grbuf`: 576 samples.
///
/// minimp3 synthesises two time slots per pass, each 4-lane vector holding [left even, right
/// even, left odd, right odd] of a filterbank row. With one channel the right lanes carry the
/// next pass's slots instead: lanes 1 and 3 of row `r` are lanes 0 and 2 of row `r + 32`, so one
/// vector computation yields four slots. Every input row is written before any output is
/// computed (no pass overwrites a row an earlier pass reads): this granule's rows whole, the
/// history rows kept from the last granule only in the lanes that belong to this granule's
/// first passes.
fn mp3d_synth_granule_mono(
    grbuf: &mut [f32; 576],
    pcm: &mut [f32],
    lins: &mut [[f32; 4]; SYN_ROWS],
    bands: usize,
) {
    mp3d_dct_ii(grbuf, 18, bands);
    let g: &[f32; 576] = grbuf;
    // Pass p's row j holds [v, v', u, u'] with v, u from this pass and v', u' (the same places
    // in the next pass) two values further on in `grbuf`: one 4-value read, reordered, per row.
    // Rows of the last passes get lanes of passes that do not exist; their outputs are dropped,
    // and the next granule overwrites those lanes before it reads them.
    // Rows 15 and 31 of a pass only feed `mp3d_synth_pair`, which reads lanes 0 and 2.
    let row = |o: usize| [g[o], g[o + 2], g[o + 1], g[o + 3]];
    // History rows (passes -2 and -1): only the lanes passes 0 and 1 own.
    for j in 0..15 {
        lins[ZLIN - 48 + j][3] = g[18 * (1 + j)];
        let r = &mut lins[ZLIN - 32 + j];
        [r[1], r[3]] = [g[18 * (31 - j)], g[18 * (31 - j) + 1]];
        let r = &mut lins[ZLIN - 16 + j];
        let o = 18 * (j + 1);
        [r[1], r[2], r[3]] = [g[o + 1], g[o], g[o + 2]];
    }
    for pass in 0..9 {
        let (base, x) = (ZLIN + 32 * pass, 2 * pass);
        for j in 0..15 {
            let o = x + 18 * (31 - j);
            lins[base + j] = if pass < 8 {
                row(o)
            } else {
                [g[o], 0.0, g[o + 1], 0.0]
            };
        }
        lins[base + 15] = [g[x + 288], 0.0, g[x], 0.0];
        for i in 0..15 {
            lins[base + 16 + i] = row(x + 1 + 18 * (1 + i));
        }
        lins[base + 31] = [g[x + 289], 0.0, g[x + 1], 0.0];
    }

    let scale = 1.0 / 32768.0;
    for pass in 0..9 {
        let rows: &[[f32; 4]; SYNTH_ROWS] = lins[32 * pass..][..SYNTH_ROWS].try_into().unwrap();
        let dst = &mut pcm[64 * pass..64 * (pass + 1)];
        let (a, b) = mp3d_synth_pair(rows, 15, 0);
        dst[0] = a * scale;
        dst[16] = b * scale;
        let (a, b) = mp3d_synth_pair(rows, 31, 0);
        dst[32] = a * scale;
        dst[48] = b * scale;
    }
    // Window-major: a row of the window serves all five pairs of passes.
    for i in (0..15).rev() {
        let w: &[[f32; 4]; 16] = SYNTH_WIN_LANES[(14 - i) * 16..][..16].try_into().unwrap();
        let w0 = |k: usize| F4::new(w[2 * k]);
        let w1 = |k: usize| F4::new(w[2 * k + 1]);
        for pass in (0..9).step_by(2) {
            let rows: &[[f32; 4]; SYNTH_ROWS] = lins[32 * pass..][..SYNTH_ROWS].try_into().unwrap();
            let vz = |k: usize| F4::load(&rows[ZLIN + i - 16 * k]);
            let vy = |k: usize| F4::load(&rows[i + 16 * k]);
            let mut b = vz(0) * w1(0) + vy(0) * w0(0);
            let mut a = vz(0) * w0(0) - vy(0) * w1(0);
            for k in [1, 3, 5, 7] {
                b += vz(k) * w1(k) + vy(k) * w0(k);
                a += vy(k) * w1(k) - vz(k) * w0(k);
                if k < 7 {
                    let k = k + 1;
                    b += vz(k) * w1(k) + vy(k) * w0(k);
                    a += vz(k) * w0(k) - vy(k) * w1(k);
                }
            }
            let (a, b) = (a.to_array(), b.to_array());
            // Lanes 0 and 2: this pass; lanes 1 and 3: the next (the ninth pass has none).
            for lane in 0..2.min(9 - pass) {
                let dst = &mut pcm[64 * (pass + lane)..64 * (pass + lane + 1)];
                dst[15 - i] = a[lane];
                dst[17 + i] = b[lane];
                dst[47 - i] = a[lane + 2];
                dst[49 + i] = b[lane + 2];
            }
        }
    }
}

fn mp3d_match_frame(hdr: &[u8], frame_bytes: usize) -> bool {
    let first = Header::read(hdr);
    let mut i = 0;
    for nmatch in 0..MAX_FRAME_SYNC_MATCHES {
        let h = Header::read(&hdr[i..]);
        i += h.frame_bytes(frame_bytes) + h.padding();
        if i + HDR_SIZE > hdr.len() {
            return nmatch > 0;
        }
        if !first.compare(Header::read(&hdr[i..])) {
            return false;
        }
    }
    true
}

/// Returns `(offset, frame_bytes)`; `frame_bytes` is 0 when no frame was found.
pub fn mp3d_find_frame(mp3: &[u8], free_format_bytes: &mut usize) -> (usize, usize) {
    let mp3_bytes = mp3.len();
    let mut i = 0;
    while i + HDR_SIZE < mp3_bytes {
        let buf = &mp3[i..];
        let h = Header::read(buf);
        if h.valid() {
            let mut frame_bytes = h.frame_bytes(*free_format_bytes);
            let mut frame_and_padding = frame_bytes + h.padding();

            let mut k = HDR_SIZE;
            while frame_bytes == 0
                && k < MAX_FREE_FORMAT_FRAME_SIZE
                && i + 2 * k + HDR_SIZE < mp3_bytes
            {
                let next = Header::read(&buf[k..]);
                if h.compare(next) {
                    let fb = k - h.padding();
                    let nextfb = fb + next.padding();
                    if i + k + nextfb + HDR_SIZE <= mp3_bytes
                        && h.compare(Header::read(&buf[k + nextfb..]))
                    {
                        frame_and_padding = k;
                        frame_bytes = fb;
                        *free_format_bytes = fb;
                    }
                }
                k += 1;
            }

            if (frame_bytes != 0
                && i + frame_and_padding <= mp3_bytes
                && mp3d_match_frame(buf, frame_bytes))
                || (i == 0 && frame_and_padding == mp3_bytes)
            {
                return (i, frame_and_padding);
            }
            *free_format_bytes = 0;
        }
        i += 1;
    }
    (mp3_bytes, 0)
}

/// `mp3dec_decode_frame` into mono `pcm`: returns the samples written (1152 per MPEG-1 frame,
/// 576 per MPEG-2/2.5 frame; 0 when the frame gave no audio, `info.status` says why).
pub fn decode_frame(
    dec: &mut Mp3Dec,
    mp3: &[u8],
    pcm: &mut [f32; MAX_SAMPLES_PER_FRAME],
    info: &mut FrameInfo,
) -> usize {
    let Mp3Dec {
        st: dec,
        scratch,
        maindata,
        bands,
    } = dec;
    let bands = *bands;
    let mp3_bytes = mp3.len();
    let mut i = 0;
    let mut frame_size = 0;
    *info = FrameInfo::default();

    if mp3_bytes > 4 && dec.header[0] == 0xff && Header(dec.header).compare(Header::read(mp3)) {
        let h = Header::read(mp3);
        frame_size = h.frame_bytes(dec.free_format_bytes) + h.padding();
        if frame_size != mp3_bytes
            && (frame_size + HDR_SIZE > mp3_bytes || !h.compare(Header::read(&mp3[frame_size..])))
        {
            frame_size = 0;
        }
    }
    if frame_size == 0 {
        *dec = State::new();
        (i, frame_size) = mp3d_find_frame(mp3, &mut dec.free_format_bytes);
        if frame_size == 0 || i + frame_size > mp3_bytes {
            info.frame_bytes = i;
            info.status = Status::NoFrame;
            return 0;
        }
    }

    let hdr = Header::read(&mp3[i..]);
    dec.header = hdr.0;
    info.frame_bytes = i + frame_size;
    info.channels = if hdr.is_mono() { 1 } else { 2 };
    info.hz = hdr.sample_rate_hz();
    info.layer = 4 - hdr.get_layer();
    if info.layer != 3 {
        info.status = Status::UnsupportedLayer;
        return 0;
    }

    let frame = mp3.get(i + HDR_SIZE..i + frame_size).unwrap_or(&[]);
    let mut bs_frame = Bs::new(frame, frame_size as i32 - HDR_SIZE as i32);
    if hdr.is_crc() {
        bs_frame.get_bits(16);
    }

    let nch = info.channels as usize;
    let mut gr_info = [GrInfo::default(); 4];
    let main_data_begin = l3_read_side_info(&mut bs_frame, &mut gr_info, hdr);
    if main_data_begin < 0 || bs_frame.pos > bs_frame.limit {
        dec.header[0] = 0; // mp3dec_init
        info.status = Status::Corrupt;
        return 0;
    }

    let (mut bs, success) = l3_restore_reservoir(dec, &bs_frame, maindata, main_data_begin);
    let granules = if hdr.test_mpeg1() { 2 } else { 1 };
    if success {
        // C leaves these uninitialized and corrupt streams can read them before
        // writing; clearing them keeps results deterministic.
        scratch.scf = [0.; 40];
        scratch.ist_pos = [[0; 39]; 2];
        for (igr, pcm) in pcm.chunks_exact_mut(576).take(granules).enumerate() {
            scratch.grbuf = [[0.; 576]; 2];
            l3_decode(dec, scratch, &mut bs, &gr_info[igr * nch..], nch, bands);
            let base = dec.syn_base;
            let lins = (&mut dec.syn[base..base + SYN_ROWS]).try_into().unwrap();
            mp3d_synth_granule_mono(&mut scratch.grbuf[0], pcm, lins, bands);
            dec.syn_base += GRANULE_ROWS;
            if dec.syn_base + SYN_ROWS > SYN_RING_ROWS {
                dec.syn.copy_within(dec.syn_base..base + SYN_ROWS, 0);
                dec.syn_base = 0;
            }
        }
    }
    l3_save_reservoir(dec, &bs);
    info.status = if success {
        Status::Decoded
    } else {
        Status::ReservoirUnavailable
    };
    success as usize * granules * 576
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_subband_above_the_limit() {
        assert_eq!(bands_for(44_100, 6_000), 10);
        assert_eq!(bands_for(48_000, 6_000), 9);
        assert_eq!(bands_for(32_000, 6_000), 13);
        assert_eq!(bands_for(22_050, 6_000), 19);
        assert_eq!(bands_for(12_000, 6_000), 32);
        assert_eq!(bands_for(44_100, u32::MAX), 32);
    }

    #[test]
    fn huffman_stops_where_the_kept_subbands_end() {
        let sr_44k = 5; // row of 44.1 kHz in the scalefactor band tables
        let long = GrInfo {
            sfbtab: &L3_READ_SIDE_INFO_G_SCF_LONG[sr_44k],
            n_long_sfb: 22,
            ..GrInfo::default()
        };
        // 10 subbands are 180 lines, 188 with the antialiasing's; the long band there ends at 196.
        assert_eq!(huffman_stop(&long, 10), 196);
        assert_eq!(huffman_stop(&long, 11), 238);
        let short = GrInfo {
            sfbtab: &L3_READ_SIDE_INFO_G_SCF_SHORT[sr_44k],
            n_short_sfb: 39,
            ..GrInfo::default()
        };
        // 60 lines per window: the short band 52..66, all three windows of it.
        assert_eq!(huffman_stop(&short, 10), 3 * 66);
        assert_eq!(huffman_stop(&short, 12), 3 * 84);
        assert_eq!(huffman_stop(&long, 32), 576);
    }
}
