//! Helpers shared by the integration tests.
#![allow(dead_code)]

use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use telltale_model::config::StoreSettings;
use telltale_model::{FeedConfig, Timestamp, TransportKind};
use telltale_store::{EventRow, FeedOrigin, SampleRow, Store, StoreOptions, TimelineRow};

/// 2025-11-25T17:00:00Z, a fixed "now" for deterministic data.
pub const T0: i64 = 1_764_090_000_000_000;
pub const SEC: i64 = 1_000_000;
pub const MIN: i64 = 60 * SEC;
pub const HOUR: i64 = 60 * MIN;
pub const DAY: i64 = 24 * HOUR;

/// Options for tests: no automatic retention or compaction (they would
/// use the real clock).
pub fn options() -> StoreOptions {
    StoreOptions {
        retention_interval: None,
        compact_every: None,
        ..StoreOptions::default()
    }
}

pub fn open(path: &Path) -> Store {
    Store::open_with(path, StoreSettings::default(), options()).unwrap()
}

/// Settings under which nothing is committed for a minute unless asked
/// (a flush, a command, a full queue).
pub fn minute_long_commits() -> StoreSettings {
    StoreSettings {
        commit_interval: telltale_model::duration::Dur::secs(60),
        commit_rows: 1_000_000,
        ..StoreSettings::default()
    }
}

pub fn open_with(path: &Path, settings: StoreSettings) -> Store {
    Store::open_with(path, settings, options()).unwrap()
}

pub fn feed_config(name: &str) -> FeedConfig {
    FeedConfig::new(name, TransportKind::Websocket, "ws://127.0.0.1:9/ws")
}

pub fn add_feed(store: &Store, name: &str) -> i64 {
    store
        .upsert_feed(&feed_config(name), FeedOrigin::File)
        .unwrap()
}

pub fn event(feed_id: i64, ts: i64, data: &str) -> EventRow {
    EventRow {
        feed_id,
        received_at: Timestamp(ts),
        server_id: None,
        event_type: None,
        data: bytes::Bytes::copy_from_slice(data.as_bytes()),
        size: data.len() as u32,
        truncated: false,
    }
}

pub fn sample(feed_id: i64, metric: &str, ts: i64, value: f64) -> SampleRow {
    SampleRow::new(feed_id, metric, Timestamp(ts), value)
}

pub fn labelled(
    feed_id: i64,
    metric: &str,
    labels: &[(&str, &str)],
    ts: i64,
    value: f64,
) -> SampleRow {
    let l: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    SampleRow {
        labels: Arc::new(l),
        ..sample(feed_id, metric, ts, value)
    }
}

pub fn state(feed_id: i64, ts: i64, state: &str) -> TimelineRow {
    TimelineRow {
        feed_id,
        ts: Timestamp(ts),
        kind: "state".into(),
        state: state.into(),
        detail: None,
    }
}

/// A separate raw connection for checks the API does not expose.
pub fn raw(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    c
}

pub fn scalar(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}
