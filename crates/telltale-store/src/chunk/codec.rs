//! The encoding of one chunk of a series' samples, after Gorilla (Pelkonen
//! et al., VLDB 2015) and Prometheus's `chunkenc`:
//!
//! * **Timestamps** (µs, strictly increasing): the first one whole, the
//!   first delta, then delta-of-deltas. A regular feed's delta-of-delta is
//!   its scheduling jitter, so the bucket widths are chosen for
//!   microseconds (see [`TS_WIDTHS`]), not Gorilla's seconds.
//! * **Values**: when every value of the chunk is stored as hundredths (see
//!   [`crate::schema::encode_value`]) they are integers, written as deltas or
//!   as delta-of-deltas, whichever is smaller for this chunk: a gauge's
//!   deltas are small, a steady counter's delta-of-deltas are zero. Any
//!   other chunk writes Gorilla's XOR of consecutive `f64`s.
//!
//! A chunk is `kind` (1 byte), the sample count and the first timestamp
//! (LEB128 varints, the timestamp zig-zagged), then the bit stream. Decoding
//! checks every length: a damaged blob is an error, never a panic.

use std::fmt;

/// A stored value: hundredths as an integer, or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val {
    Cents(i64),
    Real(f64),
}

impl Val {
    /// The value a reader sees (the same operation as the SQL decoding).
    pub fn get(self) -> f64 {
        match self {
            Val::Cents(c) => c as f64 / 100.0,
            Val::Real(v) => v,
        }
    }

    /// The bits that go into an XOR chunk.
    fn bits(self) -> u64 {
        self.get().to_bits()
    }
}

/// A chunk that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadChunk(pub &'static str);

impl fmt::Display for BadChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "damaged sample chunk: {}", self.0)
    }
}

impl std::error::Error for BadChunk {}

const KIND_DELTA: u8 = 1;
const KIND_DOD: u8 = 2;
const KIND_XOR: u8 = 3;

/// Bucket widths for zig-zagged timestamp delta-of-deltas (µs): ±16 µs in
/// 7 bits, ±512 µs in 13, ±8 ms in 18, ±0.5 s in 25, then 38 and 71 bits.
const TS_WIDTHS: [u32; 6] = [5, 10, 14, 20, 32, 64];
/// Bucket widths for zig-zagged integer value deltas (hundredths).
const INT_WIDTHS: [u32; 6] = [4, 8, 14, 22, 36, 64];

/// Encodes samples (at least one, timestamps strictly increasing).
pub(crate) fn encode(samples: &[(i64, Val)]) -> Vec<u8> {
    let cents: Option<Vec<i64>> = samples
        .iter()
        .map(|(_, v)| match v {
            Val::Cents(c) => Some(*c),
            Val::Real(_) => None,
        })
        .collect();
    let mut head = Vec::with_capacity(16 + samples.len() * 2);
    let mut bits = BitWriter::default();
    put_times(&mut bits, samples);
    let kind = match cents {
        Some(c) => {
            let mut delta = bits.clone();
            put_ints(&mut delta, &c, false);
            let mut dod = bits;
            put_ints(&mut dod, &c, true);
            if dod.len_bits() < delta.len_bits() {
                bits = dod;
                KIND_DOD
            } else {
                bits = delta;
                KIND_DELTA
            }
        }
        None => {
            put_xor(&mut bits, samples);
            KIND_XOR
        }
    };
    head.push(kind);
    put_varint(&mut head, samples.len() as u64);
    put_varint(&mut head, zigzag(samples.first().map_or(0, |s| s.0)));
    head.extend_from_slice(&bits.finish());
    head
}

/// Decodes a chunk made by [`encode`].
pub(crate) fn decode(data: &[u8]) -> Result<Vec<(i64, Val)>, BadChunk> {
    let (&kind, rest) = data.split_first().ok_or(BadChunk("empty"))?;
    let mut pos = 0;
    let count = get_varint(rest, &mut pos)?;
    let first = unzigzag(get_varint(rest, &mut pos)?);
    // A sample takes at least 2 bits; anything claiming more is damaged.
    let bytes = &rest[pos..];
    if count == 0 || count > (bytes.len() as u64 + 1) * 4 + 1 {
        return Err(BadChunk("sample count does not fit the chunk"));
    }
    let count = count as usize;
    let mut r = BitReader::new(bytes);
    let times = get_times(&mut r, first, count)?;
    let values: Vec<Val> = match kind {
        KIND_DELTA | KIND_DOD => get_ints(&mut r, count, kind == KIND_DOD)?
            .into_iter()
            .map(Val::Cents)
            .collect(),
        KIND_XOR => get_xor(&mut r, count)?
            .into_iter()
            .map(|b| Val::Real(f64::from_bits(b)))
            .collect(),
        _ => return Err(BadChunk("unknown kind")),
    };
    Ok(times.into_iter().zip(values).collect())
}

fn put_times(w: &mut BitWriter, samples: &[(i64, Val)]) {
    let mut prev = samples.first().map_or(0, |s| s.0);
    let mut prev_delta = 0i64;
    for (i, (ts, _)) in samples.iter().enumerate().skip(1) {
        let delta = ts.wrapping_sub(prev);
        if i == 1 {
            put_bucketed(w, delta, &TS_WIDTHS);
        } else {
            put_bucketed(w, delta.wrapping_sub(prev_delta), &TS_WIDTHS);
        }
        prev_delta = delta;
        prev = *ts;
    }
}

fn get_times(r: &mut BitReader<'_>, first: i64, count: usize) -> Result<Vec<i64>, BadChunk> {
    let mut out = Vec::with_capacity(count);
    out.push(first);
    let mut prev = first;
    let mut delta = 0i64;
    for i in 1..count {
        let d = get_bucketed(r, &TS_WIDTHS)?;
        delta = if i == 1 { d } else { delta.wrapping_add(d) };
        prev = prev.wrapping_add(delta);
        out.push(prev);
    }
    Ok(out)
}

fn put_ints(w: &mut BitWriter, values: &[i64], dod: bool) {
    let Some(&first) = values.first() else { return };
    put_bucketed(w, first, &INT_WIDTHS);
    let mut prev = first;
    let mut prev_delta = 0i64;
    for (i, &v) in values.iter().enumerate().skip(1) {
        let delta = v.wrapping_sub(prev);
        let x = if dod && i > 1 {
            delta.wrapping_sub(prev_delta)
        } else {
            delta
        };
        put_bucketed(w, x, &INT_WIDTHS);
        prev_delta = delta;
        prev = v;
    }
}

fn get_ints(r: &mut BitReader<'_>, count: usize, dod: bool) -> Result<Vec<i64>, BadChunk> {
    let mut out = Vec::with_capacity(count);
    let mut prev = get_bucketed(r, &INT_WIDTHS)?;
    out.push(prev);
    let mut delta = 0i64;
    for i in 1..count {
        let x = get_bucketed(r, &INT_WIDTHS)?;
        delta = if dod && i > 1 {
            delta.wrapping_add(x)
        } else {
            x
        };
        prev = prev.wrapping_add(delta);
        out.push(prev);
    }
    Ok(out)
}

/// Gorilla's value compression: `0` for a repeated value; `10` and the
/// meaningful bits when they fit the previous window of leading and
/// trailing zeros; `11`, 6 bits of leading zeros, 6 bits of length − 1
/// and the meaningful bits otherwise.
fn put_xor(w: &mut BitWriter, samples: &[(i64, Val)]) {
    let Some((_, first)) = samples.first() else {
        return;
    };
    let mut prev = first.bits();
    w.put(prev, 64);
    let mut window: Option<(u32, u32)> = None;
    for (_, v) in &samples[1..] {
        let bits = v.bits();
        let x = bits ^ prev;
        prev = bits;
        if x == 0 {
            w.put(0, 1);
            continue;
        }
        let lead = x.leading_zeros();
        let trail = x.trailing_zeros();
        match window {
            Some((wl, wt)) if lead >= wl && trail >= wt => {
                w.put(0b10, 2);
                w.put(x >> wt, 64 - wl - wt);
            }
            _ => {
                let len = 64 - lead - trail;
                w.put(0b11, 2);
                w.put(u64::from(lead), 6);
                w.put(u64::from(len - 1), 6);
                w.put(x >> trail, len);
                window = Some((lead, trail));
            }
        }
    }
}

fn get_xor(r: &mut BitReader<'_>, count: usize) -> Result<Vec<u64>, BadChunk> {
    let mut out = Vec::with_capacity(count);
    let mut prev = r.get(64)?;
    out.push(prev);
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..count {
        if r.get(1)? == 0 {
            out.push(prev);
            continue;
        }
        let x = if r.get(1)? == 0 {
            let (wl, wt) = window.ok_or(BadChunk("window before its first use"))?;
            r.get(64 - wl - wt)? << wt
        } else {
            let lead = r.get(6)? as u32;
            let len = r.get(6)? as u32 + 1;
            if lead + len > 64 {
                return Err(BadChunk("xor window wider than 64 bits"));
            }
            let trail = 64 - lead - len;
            window = Some((lead, trail));
            r.get(len)? << trail
        };
        prev ^= x;
        out.push(prev);
    }
    Ok(out)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// `0` for zero; else `1` × (bucket + 1), a `0` unless it is the last
/// bucket, and the zig-zagged value in that bucket's width.
fn put_bucketed(w: &mut BitWriter, v: i64, widths: &[u32]) {
    let z = zigzag(v);
    if z == 0 {
        w.put(0, 1);
        return;
    }
    let last = widths.len() - 1;
    for (i, &width) in widths.iter().enumerate() {
        if i == last || z < (1u64 << width) {
            let ones = i as u32 + 1;
            // `ones` one bits, then the terminating zero unless last.
            if i == last {
                w.put((1u64 << ones) - 1, ones);
            } else {
                w.put(((1u64 << ones) - 1) << 1, ones + 1);
            }
            w.put(z, width);
            return;
        }
    }
}

fn get_bucketed(r: &mut BitReader<'_>, widths: &[u32]) -> Result<i64, BadChunk> {
    let mut i = 0usize;
    while r.get(1)? == 1 {
        i += 1;
        if i == widths.len() {
            break;
        }
    }
    if i == 0 {
        return Ok(0);
    }
    Ok(unzigzag(r.get(widths[i - 1])?))
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn get_varint(data: &[u8], pos: &mut usize) -> Result<u64, BadChunk> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*pos).ok_or(BadChunk("truncated header"))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(BadChunk("overlong varint"))
}

/// Bits, most significant first.
#[derive(Default, Clone)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    /// Bits held in `acc` (< 8 between calls).
    held: u32,
}

impl BitWriter {
    /// Appends the low `n` bits of `v` (n ≤ 64).
    fn put(&mut self, v: u64, n: u32) {
        let mut n = n;
        while n > 0 {
            let take = (8 - self.held).min(n);
            let part = (v >> (n - take)) & ((1u64 << take) - 1);
            self.acc = (self.acc << take) | part;
            self.held += take;
            n -= take;
            if self.held == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.held = 0;
            }
        }
    }

    fn len_bits(&self) -> usize {
        self.out.len() * 8 + self.held as usize
    }

    fn finish(mut self) -> Vec<u8> {
        if self.held > 0 {
            self.out.push((self.acc << (8 - self.held)) as u8);
        }
        self.out
    }
}

struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, bit: 0 }
    }

    /// Reads `n` bits (n ≤ 64).
    fn get(&mut self, n: u32) -> Result<u64, BadChunk> {
        if self.bit + n as usize > self.data.len() * 8 {
            return Err(BadChunk("truncated bit stream"));
        }
        let mut v = 0u64;
        let mut n = n;
        while n > 0 {
            let byte = self.data[self.bit / 8];
            let offset = (self.bit % 8) as u32;
            let avail = 8 - offset;
            let take = avail.min(n);
            let part = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            v = (v << take) | part;
            self.bit += take as usize;
            n -= take;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(samples: &[(i64, Val)]) -> usize {
        let data = encode(samples);
        let back = decode(&data).expect("decodes");
        assert_eq!(back.len(), samples.len());
        for (a, b) in samples.iter().zip(&back) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.get().to_bits(), b.1.get().to_bits(), "{a:?} vs {b:?}");
        }
        data.len()
    }

    #[test]
    fn regular_counters_take_well_under_two_bytes_a_sample() {
        let s: Vec<_> = (0..120)
            .map(|i| (1_000_000 * i, Val::Cents(5_000 + 700 * i)))
            .collect();
        let n = round_trip(&s);
        assert!(n < 48, "{n} bytes for 120 samples");
    }

    #[test]
    fn jittered_gauges_and_floats_round_trip() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut t = 86_400_000_000i64;
        let mut g = 0.0f64;
        let mut ints = Vec::new();
        let mut floats = Vec::new();
        for _ in 0..120 {
            t += 1_000_000 + rng.i64(-3_000..3_000);
            g += rng.f64() - 0.5;
            ints.push((t, Val::Cents(rng.i64(0..10_000))));
            floats.push((t, Val::Real(g)));
        }
        round_trip(&ints);
        round_trip(&floats);
        let mixed = [
            (1, Val::Cents(5)),
            (2, Val::Real(f64::MAX)),
            (3, Val::Real(-0.0)),
            (i64::MAX, Val::Real(f64::MIN_POSITIVE)),
        ];
        round_trip(&mixed);
        round_trip(&[(-5, Val::Cents(i64::MIN))]);
        round_trip(&[(0, Val::Cents(i64::MAX)), (1, Val::Cents(i64::MIN))]);
    }

    #[test]
    fn damaged_chunks_are_errors() {
        let s: Vec<_> = (0..50)
            .map(|i| (i * 1000, Val::Real(i as f64 * 0.3)))
            .collect();
        let data = encode(&s);
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 1, 0]).is_err());
        for cut in 0..data.len() {
            assert!(decode(&data[..cut]).is_err(), "cut at {cut}");
        }
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..2_000 {
            let mut d = data.clone();
            let i = rng.usize(..d.len());
            d[i] ^= 1 << rng.u32(0..8);
            let _ = decode(&d);
        }
    }
}
