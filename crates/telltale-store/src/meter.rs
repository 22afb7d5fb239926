//! Payload bytes each feed has stored, as stored (compressed, with the
//! row's overhead), since the store opened or the feed was last saved: the
//! rate behind a tile's "over its share of the disk budget" flag. The
//! writer adds each commit's rows once it has committed them; saving a feed
//! (a new payload policy, say) starts its count again, so a flag follows
//! what the feed does now.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// What one feed has stored over its window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeedPayloads {
    /// Seconds since the store opened or the feed was last saved.
    pub seconds: f64,
    /// Events committed since then.
    pub events: u64,
    /// Their bytes as stored.
    pub bytes: u64,
}

/// Each feed's [`FeedPayloads`], by feed id (feeds that stored nothing
/// since the store opened are absent).
pub type PayloadRates = HashMap<i64, FeedPayloads>;

struct Window {
    since: Instant,
    events: u64,
    bytes: u64,
}

pub(crate) struct PayloadMeter {
    opened: Instant,
    feeds: Mutex<HashMap<i64, Window>>,
}

impl std::fmt::Debug for PayloadMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadMeter").finish_non_exhaustive()
    }
}

impl PayloadMeter {
    pub fn new() -> PayloadMeter {
        PayloadMeter {
            opened: Instant::now(),
            feeds: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Window>> {
        self.feeds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a commit's events: `(feed, bytes)` each.
    pub fn add(&self, rows: &[(i64, u64)]) {
        if rows.is_empty() {
            return;
        }
        let mut m = self.lock();
        for &(feed, bytes) in rows {
            let w = m.entry(feed).or_insert(Window {
                since: self.opened,
                events: 0,
                bytes: 0,
            });
            w.events += 1;
            w.bytes += bytes;
        }
    }

    /// Starts a feed's window again (it was saved).
    pub fn reset(&self, feed: i64) {
        self.lock().insert(
            feed,
            Window {
                since: Instant::now(),
                events: 0,
                bytes: 0,
            },
        );
    }

    pub fn snapshot(&self) -> PayloadRates {
        self.lock()
            .iter()
            .map(|(&feed, w)| {
                let p = FeedPayloads {
                    seconds: w.since.elapsed().as_secs_f64(),
                    events: w.events,
                    bytes: w.bytes,
                };
                (feed, p)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_feed_counts_again_from_zero() {
        let m = PayloadMeter::new();
        m.add(&[(1, 100), (1, 50), (2, 10)]);
        let s = m.snapshot();
        assert_eq!((s[&1].events, s[&1].bytes), (2, 150));
        assert_eq!((s[&2].events, s[&2].bytes), (1, 10));
        m.reset(1);
        m.add(&[(1, 7)]);
        let s = m.snapshot();
        assert_eq!((s[&1].events, s[&1].bytes), (1, 7));
        assert!(s[&1].seconds <= s[&2].seconds, "a fresh window");
    }
}
