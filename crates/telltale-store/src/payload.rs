//! Stored payloads are compressed with zstd. Each feed gets a dictionary
//! made from its first payloads, kept in `payload_dicts`: health JSON and
//! metrics text repeat their keys and most of their values in every
//! message, and a dictionary holding earlier messages is what makes a few
//! hundred bytes compress. Until it exists, payloads are compressed
//! without one. A payload that does not get smaller is stored as it came.
//!
//! For most feeds the dictionary is *raw content*: the feed's newest first
//! payloads, as they came, up to [`MAX_DICT`]. Training one (zstd's
//! `ZDICT_trainFromBuffer`) costs about 5–11 ms of CPU and a 4 MiB table
//! per feed, a burst that a thousand feeds starting together all paid in
//! the same minute, each holding 64 samples until then; a raw dictionary
//! costs a copy and
//! compresses these payloads as well or better (measured on the sim's
//! health JSON, 2.8–3.1× raw and 2.9–3.0× trained for 122-byte messages; on a real
//! `node_exporter` scrape of 57 KB, 58× against 12.6× for a trained 32 KB
//! dictionary, since the previous scrape holds nearly all of the next).
//!
//! A *busy* feed (its first [`DICT_PAYLOADS`] payloads within
//! [`BUSY_US`]) of small payloads still gets a trained dictionary, from
//! [`TRAIN_PAYLOADS`] samples: its entropy tables make each payload about
//! half a microsecond cheaper to compress (0.56 against 1.04 µs for the
//! sim's 180-byte JSON), which pays for the training within a few seconds
//! at the rates where the writer's time per message matters.
//!
//! The writer keeps only each feed's dictionary bytes, not a compression
//! context per feed (a context with a dictionary loaded held tens of KB per
//! feed): one context is made per payload and the dictionary is referenced
//! as its prefix, which zstd reads without copying.
//!
//! `events.codec` says how a row's `data` is stored: [`RAW`] or [`ZSTD`]
//! (with the dictionary `events.dict`, or none when it is NULL). Readers
//! load a dictionary with zstd's automatic detection, so rows written with
//! the trained dictionaries of earlier releases still decode.

use rusqlite::{Connection, OptionalExtension, Transaction};
use std::collections::HashMap;
use zstd::zstd_safe;

/// `data` as it came.
pub(crate) const RAW: i64 = 0;
/// `data` compressed with zstd.
pub(crate) const ZSTD: i64 = 1;

/// zstd's level: 3 is its default, fast enough for the writer's thread.
const LEVEL: i32 = 3;
/// Payloads shorter than this are stored raw (a zstd frame has ~10 bytes
/// of overhead).
const MIN_COMPRESS: usize = 48;
/// A dictionary is made from this many first payloads of a feed…
const DICT_PAYLOADS: usize = 8;
/// …unless they came within this many µs: then the feed is busy, and a
/// dictionary is trained from up to [`TRAIN_PAYLOADS`] payloads…
const BUSY_US: i64 = 1_000_000;
/// …when at least [`MIN_TRAIN`] of them fit in its share.
const TRAIN_PAYLOADS: usize = 64;
/// Fewer (large) payloads get a raw dictionary even when busy.
const MIN_TRAIN: usize = 16;
/// …or sooner, once they add up to twice [`MAX_DICT`].
const GATHER_BYTES: usize = 2 * MAX_DICT;
/// The largest dictionary: the newest gathered payloads that fit (the
/// first of them cut to it).
const MAX_DICT: usize = 64 * 1024;
/// The most bytes held as gathered payloads over all feeds: a thousand new
/// feeds with large payloads gather a few at a time (the others compress
/// without a dictionary meanwhile) instead of holding them all at once.
const GATHER_BUDGET: usize = 16 * 1024 * 1024;
/// How a zstd dictionary with entropy tables begins. A raw dictionary
/// beginning so would be read as one, so it gets a newline in front.
const DICT_MAGIC: [u8; 4] = [0x37, 0xA4, 0x30, 0xEC];

/// One feed's compression state, in the writer.
#[derive(Default)]
struct FeedCodec {
    /// Loaded from `payload_dicts` (or found missing) after a start.
    loaded: bool,
    samples: Vec<Vec<u8>>,
    sample_bytes: usize,
    /// When its first gathered payload was received (µs).
    first_at: i64,
    /// Its first [`DICT_PAYLOADS`] payloads came within [`BUSY_US`].
    busy: bool,
    /// The budget bytes this feed holds for its samples while it gathers
    /// (0: not gathering). Reserved whole at the start, so feeds gathering
    /// side by side cannot fill the budget and all wait for each other.
    reserved: usize,
    /// The dictionary's id and its bytes.
    dict: Option<(i64, Vec<u8>)>,
    /// The dictionary is made (or loaded): no more samples are kept.
    settled: bool,
}

/// The writer's dictionaries, by feed.
pub(crate) struct PayloadCodec {
    feeds: HashMap<i64, FeedCodec>,
    /// The context for payloads with a dictionary, and the dictionary
    /// loaded into it (loading it and compressing took 3–4.5 µs for a
    /// 1 KB dictionary, a new context per payload 11 µs).
    with_dict: Option<(zstd_safe::CCtx<'static>, Option<i64>)>,
    /// The context for payloads without one.
    plain: Option<zstd_safe::CCtx<'static>>,
    /// Bytes held in gathered payloads, over all feeds.
    sampling: usize,
    /// The most bytes held as gathered payloads ([`GATHER_BUDGET`]).
    gather_budget: usize,
}

impl Default for PayloadCodec {
    fn default() -> Self {
        PayloadCodec {
            feeds: HashMap::new(),
            with_dict: None,
            plain: None,
            sampling: 0,
            gather_budget: GATHER_BUDGET,
        }
    }
}

/// A payload as stored: the bytes, the codec and the dictionary.
pub(crate) struct Encoded {
    pub data: Vec<u8>,
    pub codec: i64,
    pub dict: Option<i64>,
}

/// A raw-content dictionary from gathered payloads (oldest first): the
/// newest that fit in [`MAX_DICT`], in their order, so the latest payload
/// sits nearest the one being compressed.
fn raw_dictionary(samples: &[Vec<u8>]) -> Vec<u8> {
    let mut take = 0;
    let mut bytes = 0;
    for s in samples.iter().rev() {
        if take > 0 && bytes + s.len() > MAX_DICT {
            break;
        }
        bytes += s.len();
        take += 1;
    }
    let mut dict = Vec::with_capacity(bytes + 1);
    for s in &samples[samples.len() - take..] {
        dict.extend_from_slice(s);
    }
    dict.truncate(MAX_DICT);
    if dict.starts_with(&DICT_MAGIC) {
        dict.insert(0, b'\n');
    }
    dict
}

/// A compression context at [`LEVEL`].
fn context() -> Option<zstd_safe::CCtx<'static>> {
    let mut cctx = zstd_safe::CCtx::try_create()?;
    cctx.set_parameter(zstd_safe::CParameter::CompressionLevel(LEVEL))
        .ok()?;
    Some(cctx)
}

/// Compresses `data` with `cctx` as it is set up.
fn compress(cctx: &mut zstd_safe::CCtx<'static>, data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(data.len()));
    cctx.compress2(&mut out, data).ok()?;
    Some(out)
}

impl PayloadCodec {
    /// Forgets everything (after a failed commit: a dictionary stored in
    /// the rolled-back transaction does not exist).
    pub fn clear(&mut self) {
        self.feeds.clear();
        self.sampling = 0;
        self.unload();
    }

    /// The loaded dictionary's id may be reused after a rollback or a
    /// deletion, so it is loaded again on next use.
    fn unload(&mut self) {
        if let Some((_, loaded)) = &mut self.with_dict {
            *loaded = None;
        }
    }

    /// Forgets a deleted feed.
    pub fn forget_feed(&mut self, feed_id: i64) {
        if let Some(f) = self.feeds.remove(&feed_id) {
            self.sampling = self.sampling.saturating_sub(f.reserved);
        }
        self.unload();
    }

    /// Encodes one payload of `feed_id`, making and storing the feed's
    /// dictionary (in `tx`) once enough payloads have been seen.
    pub fn encode(
        &mut self,
        tx: &Transaction<'_>,
        feed_id: i64,
        data: &[u8],
        now: i64,
    ) -> rusqlite::Result<Encoded> {
        let raw = || Encoded {
            data: data.to_vec(),
            codec: RAW,
            dict: None,
        };
        if data.len() < MIN_COMPRESS {
            return Ok(raw());
        }
        let feed = self.feeds.entry(feed_id).or_default();
        if !feed.loaded {
            feed.loaded = true;
            let row: Option<(i64, Vec<u8>)> = tx
                .prepare_cached(
                    "SELECT id, dict FROM payload_dicts WHERE feed_id = ?1 ORDER BY id DESC LIMIT 1",
                )?
                .query_row([feed_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some(row) = row {
                feed.settled = true;
                feed.dict = Some(row);
            }
        }
        let sample = &data[..data.len().min(MAX_DICT)];
        if !feed.settled && feed.reserved == 0 {
            let want = (TRAIN_PAYLOADS * sample.len())
                .min(GATHER_BYTES)
                .min(self.gather_budget);
            if self.sampling + want <= self.gather_budget {
                feed.reserved = want;
                self.sampling += want;
            }
        }
        if !feed.settled && feed.reserved > 0 {
            if feed.sample_bytes + sample.len() <= feed.reserved {
                if feed.samples.is_empty() {
                    feed.first_at = now;
                }
                feed.samples.push(sample.to_vec());
                feed.sample_bytes += sample.len();
                if feed.samples.len() == DICT_PAYLOADS {
                    feed.busy = now.saturating_sub(feed.first_at) < BUSY_US;
                }
            }
            let full = feed.sample_bytes + sample.len() > feed.reserved;
            let n = feed.samples.len();
            let quiet = n >= DICT_PAYLOADS && !feed.busy;
            if n >= TRAIN_PAYLOADS || full || quiet {
                feed.settled = true;
                self.sampling = self
                    .sampling
                    .saturating_sub(std::mem::take(&mut feed.reserved));
                let samples = std::mem::take(&mut feed.samples);
                feed.sample_bytes = 0;
                let size =
                    (samples.iter().map(Vec::len).sum::<usize>() / 4).clamp(1024, MAX_DICT / 2);
                let trained = (!quiet && samples.len() >= MIN_TRAIN)
                    .then(|| zstd::dict::from_samples(&samples, size).ok())
                    .flatten();
                let dict = trained.unwrap_or_else(|| raw_dictionary(&samples));
                if dict.len() >= MIN_COMPRESS {
                    tx.prepare_cached(
                        "INSERT INTO payload_dicts (feed_id, created_at, dict) VALUES (?1, ?2, ?3)",
                    )?
                    .execute((feed_id, now, &dict))?;
                    feed.dict = Some((tx.last_insert_rowid(), dict));
                }
            }
        }
        let (out, dict) = match &feed.dict {
            Some((id, d)) => {
                if self.with_dict.is_none() {
                    self.with_dict = context().map(|c| (c, None));
                }
                let out = self.with_dict.as_mut().and_then(|(cctx, loaded)| {
                    if *loaded != Some(*id) {
                        *loaded = None;
                        cctx.load_dictionary(d).ok()?;
                        *loaded = Some(*id);
                    }
                    compress(cctx, data)
                });
                (out, Some(*id))
            }
            None => {
                if self.plain.is_none() {
                    self.plain = context();
                }
                (self.plain.as_mut().and_then(|c| compress(c, data)), None)
            }
        };
        match out {
            Some(z) if z.len() < data.len() => Ok(Encoded {
                data: z,
                codec: ZSTD,
                dict,
            }),
            _ => Ok(raw()),
        }
    }
}

/// Decodes stored payloads on a reader connection. It keeps one
/// decompression context per dictionary, the dictionary loaded into it
/// once: a search decodes every row it reads, and a context made per row
/// cost more than the decoding itself.
#[derive(Default)]
pub(crate) struct PayloadReader {
    /// `None`: the dictionary is missing or could not be loaded.
    dicts: HashMap<i64, Option<zstd::bulk::Decompressor<'static>>>,
    plain: Option<zstd::bulk::Decompressor<'static>>,
}

impl PayloadReader {
    /// The payload of a row: `data` decoded per `codec` and `dict`. A row
    /// that cannot be decoded (its dictionary lost) reads as a note saying
    /// so, never as a failure of the whole page.
    pub fn decode(
        &mut self,
        conn: &Connection,
        data: Vec<u8>,
        codec: i64,
        dict: Option<i64>,
        size: u32,
    ) -> rusqlite::Result<Vec<u8>> {
        if codec != ZSTD {
            return Ok(data);
        }
        let capacity = (size as usize).max(data.len() * 4).min(64 * 1024 * 1024);
        let z = match dict {
            None => match &mut self.plain {
                Some(z) => Ok(z),
                None => zstd::bulk::Decompressor::new().map(|z| self.plain.insert(z)),
            },
            Some(id) => {
                let z = match self.dicts.entry(id) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        let bytes: Option<Vec<u8>> = conn
                            .prepare_cached("SELECT dict FROM payload_dicts WHERE id = ?1")?
                            .query_row([id], |r| r.get(0))
                            .optional()?;
                        v.insert(
                            bytes.and_then(|b| zstd::bulk::Decompressor::with_dictionary(&b).ok()),
                        )
                    }
                };
                z.as_mut()
                    .ok_or_else(|| std::io::Error::other("its dictionary is missing or damaged"))
            }
        };
        let out = z.and_then(|z| z.decompress(&data, capacity));
        Ok(out.unwrap_or_else(|e| {
            format!("(Telltale cannot read this stored payload: {e})").into_bytes()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE payload_dicts (id INTEGER PRIMARY KEY, feed_id INTEGER NOT NULL,
             created_at INTEGER NOT NULL, dict BLOB NOT NULL);",
        )
        .unwrap();
        c
    }

    /// Every stored payload decodes to the payload it came from.
    fn assert_all_decode(
        reader: &mut PayloadReader,
        conn: &Connection,
        stored: &[(Vec<u8>, Encoded)],
    ) {
        for (p, e) in stored {
            let back = reader
                .decode(conn, e.data.clone(), e.codec, e.dict, p.len() as u32)
                .unwrap();
            assert_eq!(&back, p);
        }
    }

    /// `i` seconds: payloads a second apart, as a quiet feed sends them.
    fn sec(i: usize) -> i64 {
        i as i64 * 1_000_000
    }

    fn health(i: usize) -> Vec<u8> {
        format!(
            r#"{{"host":"host-{}","status":"ok","cpu":{{"usage":{}.{},"cores":8}},"memory":{{"used_bytes":{},"total_bytes":17179869184}},"disk":{{"used_percent":{}}},"uptime_seconds":{},"version":"2.4.1"}}"#,
            i % 5,
            i % 97,
            i % 10,
            4_000_000_000u64 + i as u64 * 7919,
            40 + i % 7,
            86_400 + i
        )
        .into_bytes()
    }

    #[test]
    fn payloads_round_trip_and_a_dictionary_of_the_first_payloads_shrinks_small_json() {
        let mut conn = db();
        let mut codec = PayloadCodec::default();
        let mut reader = PayloadReader::default();
        let mut stored = Vec::new();
        let tx = conn.transaction().unwrap();
        for i in 0..400 {
            let p = health(i);
            let e = codec.encode(&tx, 1, &p, sec(i)).unwrap();
            stored.push((p, e));
        }
        tx.commit().unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM payload_dicts WHERE feed_id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "one dictionary for the feed");
        assert_all_decode(&mut reader, &conn, &stored);
        let (raw, packed): (usize, usize) = stored[DICT_PAYLOADS..]
            .iter()
            .fold((0, 0), |(a, b), (p, e)| (a + p.len(), b + e.data.len()));
        assert!(stored[DICT_PAYLOADS..]
            .iter()
            .all(|(_, e)| e.dict.is_some()));
        let ratio = raw as f64 / packed as f64;
        assert!(
            ratio > 4.0,
            "a dictionary should shrink health JSON >4x, got {ratio:.1}x"
        );
    }

    #[test]
    fn feeds_sampling_side_by_side_all_get_a_dictionary_under_a_small_budget() {
        let mut conn = db();
        let mut codec = PayloadCodec {
            gather_budget: 5 * DICT_PAYLOADS * 256,
            ..PayloadCodec::default()
        };
        let tx = conn.transaction().unwrap();
        // 20 feeds take turns, as a fleet polled together does: the budget
        // holds the samples of about 5 feeds at a time.
        for round in 0..400 {
            for feed in 0..20 {
                codec
                    .encode(&tx, feed, &health(round * 20 + feed as usize), sec(round))
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(DISTINCT feed_id) FROM payload_dicts",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 20, "every feed made a dictionary");
        assert_eq!(codec.sampling, 0, "every reservation given back");
    }

    #[test]
    fn short_or_incompressible_payloads_are_stored_raw() {
        let mut conn = db();
        let mut codec = PayloadCodec::default();
        let tx = conn.transaction().unwrap();
        let e = codec.encode(&tx, 1, b"{\"ok\":true}", 0).unwrap();
        assert_eq!((e.codec, e.data.as_slice()), (RAW, &b"{\"ok\":true}"[..]));
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let e = codec.encode(&tx, 1, &noise, 0).unwrap();
        assert_eq!(e.codec, RAW);
    }

    #[test]
    fn a_row_whose_dictionary_is_gone_reads_as_a_note() {
        let conn = db();
        let mut reader = PayloadReader::default();
        let out = reader
            .decode(&conn, vec![1, 2, 3], ZSTD, Some(42), 10)
            .unwrap();
        assert!(String::from_utf8_lossy(&out).contains("dictionary is missing"));
    }

    #[test]
    fn the_dictionary_is_the_newest_payloads_that_fit() {
        let old = vec![b'a'; 40 * 1024];
        let new = vec![b'b'; 40 * 1024];
        assert_eq!(raw_dictionary(&[old, new.clone()]), new);
        let small: Vec<Vec<u8>> = (0..3).map(|i| vec![b'0' + i; 10]).collect();
        assert_eq!(raw_dictionary(&small), small.concat());
        let huge = vec![b'c'; MAX_DICT + 10];
        assert_eq!(raw_dictionary(&[huge]).len(), MAX_DICT);
    }

    #[test]
    fn a_payload_that_looks_like_a_zstd_dictionary_still_round_trips() {
        let mut conn = db();
        let mut codec = PayloadCodec::default();
        let mut reader = PayloadReader::default();
        let payload = |i: u8| {
            let mut p = DICT_MAGIC.to_vec();
            p.extend(std::iter::repeat_n(b'x', 100));
            p.push(i);
            p
        };
        let tx = conn.transaction().unwrap();
        let mut stored = Vec::new();
        for i in 0..20 {
            let e = codec.encode(&tx, 1, &payload(i), sec(i as usize)).unwrap();
            stored.push((payload(i), e));
        }
        tx.commit().unwrap();
        let dict: Vec<u8> = conn
            .query_row("SELECT dict FROM payload_dicts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(dict[0], b'\n', "a newline keeps zstd from parsing it");
        assert!(stored.iter().all(|(_, e)| e.codec == ZSTD));
        assert_all_decode(&mut reader, &conn, &stored);
    }

    #[test]
    fn a_dictionary_id_reused_after_a_rollback_is_loaded_again() {
        let mut conn = db();
        let mut codec = PayloadCodec::default();
        let mut reader = PayloadReader::default();
        let tx = conn.transaction().unwrap();
        for i in 0..DICT_PAYLOADS + 1 {
            codec.encode(&tx, 1, &health(i), sec(i)).unwrap();
        }
        drop(tx); // rolled back: feed 1's dictionary never existed
        codec.clear();
        let tx = conn.transaction().unwrap();
        // Feed 2's payloads hold feed 1's at other offsets: compressed
        // against feed 1's dictionary, they would decode as garbage with
        // feed 2's.
        let other = |i: usize| [b"#".repeat(37), health(i)].concat();
        let mut last = None;
        for i in 0..DICT_PAYLOADS + 2 {
            last = Some((other(i), codec.encode(&tx, 2, &other(i), sec(i)).unwrap()));
        }
        tx.commit().unwrap();
        let last = [last.unwrap()];
        assert!(last[0].1.dict.is_some());
        assert_all_decode(&mut reader, &conn, &last);
    }

    #[test]
    fn rows_and_dictionaries_of_the_trained_kind_still_work() {
        // Earlier releases trained their dictionaries (zstd's format, with
        // entropy tables). Their rows must decode, and a feed that has one
        // keeps compressing with it.
        let mut conn = db();
        let samples: Vec<Vec<u8>> = (0..64).map(health).collect();
        let trained = zstd::dict::from_samples(&samples, 2048).unwrap();
        assert!(trained.starts_with(&DICT_MAGIC));
        conn.execute(
            "INSERT INTO payload_dicts (id, feed_id, created_at, dict) VALUES (7, 1, 0, ?1)",
            [&trained],
        )
        .unwrap();
        let old_row = zstd::bulk::Compressor::with_dictionary(3, &trained)
            .unwrap()
            .compress(&health(100))
            .unwrap();
        let mut reader = PayloadReader::default();
        let back = reader.decode(&conn, old_row, ZSTD, Some(7), 300).unwrap();
        assert_eq!(back, health(100));
        let mut codec = PayloadCodec::default();
        let tx = conn.transaction().unwrap();
        let e = codec.encode(&tx, 1, &health(101), 0).unwrap();
        tx.commit().unwrap();
        assert_eq!((e.codec, e.dict), (ZSTD, Some(7)));
        let back = reader.decode(&conn, e.data, e.codec, e.dict, 300).unwrap();
        assert_eq!(back, health(101));
    }

    #[test]
    fn a_busy_feed_of_small_payloads_gets_a_trained_dictionary() {
        let mut conn = db();
        let mut codec = PayloadCodec::default();
        let mut reader = PayloadReader::default();
        let tx = conn.transaction().unwrap();
        // 1,000 payloads a second.
        let stored: Vec<_> = (0..200)
            .map(|i| {
                (
                    health(i),
                    codec.encode(&tx, 1, &health(i), i as i64 * 1000).unwrap(),
                )
            })
            .collect();
        tx.commit().unwrap();
        let dict: Vec<u8> = conn
            .query_row("SELECT dict FROM payload_dicts", [], |r| r.get(0))
            .unwrap();
        assert!(dict.starts_with(&DICT_MAGIC), "trained: zstd's format");
        // Not made at the 8th payload, as for a quiet feed: it waited for
        // more samples (up to 64, or as many as fill its share).
        assert!(stored[..MIN_TRAIN - 1]
            .iter()
            .all(|(_, e)| e.dict.is_none()));
        assert!(stored[TRAIN_PAYLOADS..]
            .iter()
            .all(|(_, e)| e.dict.is_some()));
        assert_all_decode(&mut reader, &conn, &stored);
    }

    #[test]
    fn a_quiet_feed_gets_a_raw_dictionary_after_its_first_payloads() {
        let mut conn = db();
        let mut codec = PayloadCodec::default();
        let tx = conn.transaction().unwrap();
        for i in 0..DICT_PAYLOADS {
            codec.encode(&tx, 1, &health(i), sec(i)).unwrap();
        }
        tx.commit().unwrap();
        let dict: Vec<u8> = conn
            .query_row("SELECT dict FROM payload_dicts", [], |r| r.get(0))
            .unwrap();
        let first: Vec<Vec<u8>> = (0..DICT_PAYLOADS).map(health).collect();
        assert_eq!(dict, first.concat(), "the payloads as they came");
    }
}
