//! Stored payloads are compressed with zstd. Each feed gets a dictionary
//! trained from its first payloads (health JSON repeats its keys in every
//! message, and a dictionary is what makes a few hundred bytes compress),
//! kept in `payload_dicts`; until it exists, and for a feed whose payloads
//! yield no dictionary, payloads are compressed without one. A payload that
//! does not get smaller is stored as it came.
//!
//! `events.codec` says how a row's `data` is stored: [`RAW`] or [`ZSTD`]
//! (with the dictionary `events.dict`, or none when it is NULL).

use rusqlite::{Connection, OptionalExtension, Transaction};
use std::collections::HashMap;

/// `data` as it came.
pub(crate) const RAW: i64 = 0;
/// `data` compressed with zstd.
pub(crate) const ZSTD: i64 = 1;

/// zstd's level: 3 is its default, fast enough for the writer's thread.
const LEVEL: i32 = 3;
/// Payloads shorter than this are stored raw (a zstd frame has ~10 bytes
/// of overhead).
const MIN_COMPRESS: usize = 48;
/// A dictionary is trained from this many first payloads of a feed…
const TRAIN_SAMPLES: usize = 64;
/// …or from this many bytes of them, whichever comes first.
const TRAIN_BYTES: usize = 128 * 1024;
/// Of a payload, at most this much is kept as a training sample.
const SAMPLE_CUT: usize = 4096;
/// The most bytes held as training samples over all feeds: a thousand new
/// feeds train a few at a time (the others compress without a dictionary
/// meanwhile) instead of holding their samples all at once.
const TRAIN_BUDGET: usize = 16 * 1024 * 1024;
/// The largest dictionary.
const MAX_DICT: usize = 32 * 1024;

/// One feed's compression state, in the writer.
#[derive(Default)]
struct FeedCodec {
    /// Loaded from `payload_dicts` (or found missing) after a start.
    loaded: bool,
    samples: Vec<Vec<u8>>,
    sample_bytes: usize,
    /// The budget bytes this feed holds for its samples while it samples
    /// (0: not sampling). Reserved whole at the start, so feeds sampling
    /// side by side cannot fill the budget and all wait for each other.
    reserved: usize,
    /// The dictionary's id and its compressor.
    dict: Option<(i64, zstd::bulk::Compressor<'static>)>,
    /// Training failed or is done: no more samples are kept.
    settled: bool,
}

/// The writer's compressors, by feed.
pub(crate) struct PayloadCodec {
    feeds: HashMap<i64, FeedCodec>,
    plain: Option<zstd::bulk::Compressor<'static>>,
    /// Bytes held in training samples, over all feeds.
    sampling: usize,
    /// The most bytes held as training samples ([`TRAIN_BUDGET`]).
    train_budget: usize,
}

impl Default for PayloadCodec {
    fn default() -> Self {
        PayloadCodec {
            feeds: HashMap::new(),
            plain: None,
            sampling: 0,
            train_budget: TRAIN_BUDGET,
        }
    }
}

/// A payload as stored: the bytes, the codec and the dictionary.
pub(crate) struct Encoded {
    pub data: Vec<u8>,
    pub codec: i64,
    pub dict: Option<i64>,
}

impl PayloadCodec {
    /// Forgets everything (after a failed commit: a dictionary stored in
    /// the rolled-back transaction does not exist).
    pub fn clear(&mut self) {
        self.feeds.clear();
        self.sampling = 0;
    }

    /// Forgets a deleted feed.
    pub fn forget_feed(&mut self, feed_id: i64) {
        if let Some(f) = self.feeds.remove(&feed_id) {
            self.sampling = self.sampling.saturating_sub(f.reserved);
        }
    }

    /// Encodes one payload of `feed_id`, training and storing the feed's
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
            if let Some((id, dict)) = row {
                feed.settled = true;
                feed.dict = zstd::bulk::Compressor::with_dictionary(LEVEL, &dict)
                    .ok()
                    .map(|c| (id, c));
            }
        }
        let sample = &data[..data.len().min(SAMPLE_CUT)];
        if !feed.settled && feed.reserved == 0 {
            let want = (TRAIN_SAMPLES * sample.len())
                .min(TRAIN_BYTES)
                .min(self.train_budget);
            if self.sampling + want <= self.train_budget {
                feed.reserved = want;
                self.sampling += want;
            }
        }
        if !feed.settled && feed.reserved > 0 {
            if feed.sample_bytes + sample.len() <= feed.reserved {
                feed.samples.push(sample.to_vec());
                feed.sample_bytes += sample.len();
            }
            let full = feed.sample_bytes + sample.len() > feed.reserved;
            if feed.samples.len() >= TRAIN_SAMPLES || full {
                feed.settled = true;
                self.sampling = self
                    .sampling
                    .saturating_sub(std::mem::take(&mut feed.reserved));
                let samples = std::mem::take(&mut feed.samples);
                let size = (std::mem::take(&mut feed.sample_bytes) / 4).clamp(1024, MAX_DICT);
                if let Ok(dict) = zstd::dict::from_samples(&samples, size) {
                    tx.prepare_cached(
                        "INSERT INTO payload_dicts (feed_id, created_at, dict) VALUES (?1, ?2, ?3)",
                    )?
                    .execute((feed_id, now, &dict))?;
                    let id = tx.last_insert_rowid();
                    feed.dict = zstd::bulk::Compressor::with_dictionary(LEVEL, &dict)
                        .ok()
                        .map(|c| (id, c));
                }
            }
        }
        let (out, dict) = match feed.dict.as_mut() {
            Some((id, c)) => (c.compress(data), Some(*id)),
            None => {
                if self.plain.is_none() {
                    self.plain = zstd::bulk::Compressor::new(LEVEL).ok();
                }
                match self.plain.as_mut() {
                    Some(c) => (c.compress(data), None),
                    None => return Ok(raw()),
                }
            }
        };
        match out {
            Ok(z) if z.len() < data.len() => Ok(Encoded {
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
    fn payloads_round_trip_and_a_trained_dictionary_shrinks_small_json() {
        let mut conn = db();
        let mut codec = PayloadCodec::default();
        let mut reader = PayloadReader::default();
        let mut stored = Vec::new();
        let tx = conn.transaction().unwrap();
        for i in 0..400 {
            let p = health(i);
            let e = codec.encode(&tx, 1, &p, 0).unwrap();
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
        for (p, e) in &stored {
            let back = reader
                .decode(&conn, e.data.clone(), e.codec, e.dict, p.len() as u32)
                .unwrap();
            assert_eq!(&back, p);
        }
        let (raw, packed): (usize, usize) = stored[TRAIN_SAMPLES..]
            .iter()
            .fold((0, 0), |(a, b), (p, e)| (a + p.len(), b + e.data.len()));
        assert!(stored[TRAIN_SAMPLES..]
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
            train_budget: 5 * 64 * 256,
            ..PayloadCodec::default()
        };
        let tx = conn.transaction().unwrap();
        // 20 feeds take turns, as a fleet polled together does: the budget
        // holds the samples of about 5 feeds at a time.
        for round in 0..400 {
            for feed in 0..20 {
                codec
                    .encode(&tx, feed, &health(round * 20 + feed as usize), 0)
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
        assert_eq!(n, 20, "every feed trained a dictionary");
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
}
