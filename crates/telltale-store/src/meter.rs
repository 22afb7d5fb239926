//! Payload bytes each feed has stored since the store opened, as stored
//! (compressed, with the row's overhead): the rate behind a tile's "over
//! its share of the disk budget" flag. The writer adds each commit's rows
//! once it has committed them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// What each feed has stored since the store opened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayloadRates {
    /// Seconds since the store opened.
    pub seconds: f64,
    /// Per feed id: `(events, bytes)` committed since then.
    pub stored: HashMap<i64, (u64, u64)>,
}

#[derive(Debug)]
pub(crate) struct PayloadMeter {
    since: Instant,
    stored: Mutex<HashMap<i64, (u64, u64)>>,
}

impl PayloadMeter {
    pub fn new() -> PayloadMeter {
        PayloadMeter {
            since: Instant::now(),
            stored: Mutex::new(HashMap::new()),
        }
    }

    /// Adds a commit's events: `(feed, bytes)` each.
    pub fn add(&self, rows: &[(i64, u64)]) {
        if rows.is_empty() {
            return;
        }
        let mut m = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        for &(feed, bytes) in rows {
            let e = m.entry(feed).or_default();
            e.0 += 1;
            e.1 += bytes;
        }
    }

    pub fn snapshot(&self) -> PayloadRates {
        PayloadRates {
            seconds: self.since.elapsed().as_secs_f64(),
            stored: self
                .stored
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
