//! Uptime of feeds over the last 24 hours, for the overview's tiles: time
//! live over the time the feed's state is known, leaving out stopped time
//! and maintenance windows (the rule of the UI's `uptime()` in
//! `ui/src/lib/chartmarks.ts`, which the feed page's state band uses).
//!
//! The overview asks every few seconds; each feed's figure is worked out
//! from its stored states at most once a minute, or at once when the feed
//! changed state since (so a new feed does not read 0 % for a minute after
//! its first `connecting`).

use crate::{Api, ApiError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use telltale_model::maintenance::spans_for;
use telltale_model::Timestamp;
use telltale_store::StoredFeed;

/// The range of the tiles' uptime.
pub const UPTIME_RANGE: Duration = Duration::from_secs(24 * 3600);
/// How long a feed's figure is reused.
const FRESH_FOR: Duration = Duration::from_secs(60);
/// At most this many state changes are read per feed (the newest).
const MAX_STATES: usize = 10_000;

/// Feed id → (when worked out, the feed's state-change time then, the ratio).
pub(crate) type Cache = Arc<Mutex<HashMap<i64, (Instant, Option<Timestamp>, Option<f64>)>>>;

/// Live time over known time in `[from, to)`: `initial` is the state at
/// `from` (`None`: not known until the first change), `changes` the state
/// changes in the range in order, `windows` the maintenance stretches.
/// `None` when no time of the range is known.
pub fn ratio(
    initial: Option<&str>,
    changes: &[(Timestamp, &str)],
    from: Timestamp,
    to: Timestamp,
    windows: &[(Timestamp, Timestamp)],
) -> Option<f64> {
    let (mut up, mut known) = (0i64, 0i64);
    let mut add = |state: Option<&str>, s: i64, e: i64| {
        if e <= s {
            return;
        }
        let Some(state) = state.filter(|st| *st != "stopped") else {
            return;
        };
        let covered: i64 = merged(windows)
            .iter()
            .map(|(ws, we)| (e.min(*we) - s.max(*ws)).max(0))
            .sum();
        let d = e - s - covered;
        known += d;
        if state == "live" {
            up += d;
        }
    };
    let (mut state, mut at) = (initial, from.0);
    for (ts, next) in changes {
        let ts = ts.0.clamp(from.0, to.0);
        add(state, at, ts);
        at = at.max(ts);
        state = Some(next);
    }
    add(state, at, to.0);
    (known > 0).then(|| up as f64 / known as f64)
}

/// `windows` with overlapping stretches joined, in order.
fn merged(windows: &[(Timestamp, Timestamp)]) -> Vec<(i64, i64)> {
    let mut w: Vec<(i64, i64)> = windows.iter().map(|(s, e)| (s.0, e.0)).collect();
    w.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(w.len());
    for (s, e) in w {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

impl Api {
    /// Each feed's uptime over the last 24 hours, by id (see the module
    /// docs); `since` gives each running feed's last state change.
    pub(crate) async fn uptimes(
        &self,
        feeds: &[StoredFeed],
        since: impl Fn(&StoredFeed) -> Option<Timestamp>,
    ) -> Result<HashMap<i64, Option<f64>>, ApiError> {
        let now_i = Instant::now();
        let mut out = HashMap::with_capacity(feeds.len());
        let mut stale = Vec::new();
        if let Ok(cache) = self.uptime_cache.lock() {
            for f in feeds {
                match cache.get(&f.id) {
                    Some((at, changed, r))
                        if now_i.duration_since(*at) < FRESH_FOR && *changed == since(f) =>
                    {
                        out.insert(f.id, *r);
                    }
                    _ => stale.push((f.clone(), since(f))),
                }
            }
        }
        if stale.is_empty() {
            return Ok(out);
        }
        let windows = self.engine().alert_settings().maintenance;
        let to = Timestamp::now();
        let from = Timestamp(to.0 - UPTIME_RANGE.as_micros() as i64);
        let fresh = self
            .blocking(move |s| {
                let local = jiff::tz::TimeZone::system();
                let mut fresh = Vec::with_capacity(stale.len());
                for (f, changed) in &stale {
                    let initial = s.state_at(f.id, Timestamp(from.0 - 1))?;
                    let entries = s.timeline(f.id, from, to, MAX_STATES)?;
                    let changes: Vec<(Timestamp, &str)> = entries
                        .iter()
                        .filter(|e| e.kind == "state")
                        .map(|e| (e.ts, e.state.as_str()))
                        .collect();
                    let c = &f.config;
                    let spans: Vec<(Timestamp, Timestamp)> =
                        spans_for(&windows, &c.name, &c.tags, from, to, &local)
                            .into_iter()
                            .map(|(a, b, _)| (a, b))
                            .collect();
                    let r = ratio(
                        initial.as_ref().map(|e| e.state.as_str()),
                        &changes,
                        from,
                        to,
                        &spans,
                    );
                    // Kept only once the store holds the state change the
                    // engine reports (the writer commits a moment later).
                    let newest = changes
                        .last()
                        .map(|c| c.0)
                        .or(initial.as_ref().map(|e| e.ts));
                    let caught_up = match changed {
                        Some(c) => *c < from || newest.is_some_and(|n| n >= *c),
                        None => true,
                    };
                    fresh.push((f.id, *changed, r, caught_up));
                }
                Ok(fresh)
            })
            .await?;
        if let Ok(mut cache) = self.uptime_cache.lock() {
            // forget feeds that are gone
            cache.retain(|id, _| feeds.iter().any(|f| f.id == *id));
            for (id, changed, r, caught_up) in fresh {
                if caught_up {
                    cache.insert(id, (now_i, changed, r));
                }
                out.insert(id, r);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn live_over_known_leaving_out_stopped_unknown_and_maintenance() {
        // the UI's chartmarks test, the same spans and answer
        let changes = [
            (t(100), "retrying"),
            (t(200), "live"),
            (t(500), "stopped"),
            (t(700), "connecting"),
            (t(710), "live"),
        ];
        let r = ratio(Some("live"), &changes, t(0), t(1000), &[]).unwrap();
        assert!((r - 690.0 / 800.0).abs() < 1e-9, "{r}");
        // a window over 150–300 ms (and one inside it) leaves 590 of 650
        let w = [(t(150), t(300)), (t(160), t(170))];
        let r = ratio(Some("live"), &changes, t(0), t(1000), &w).unwrap();
        assert!((r - 590.0 / 650.0).abs() < 1e-9, "{r}");
        // unknown before the first change
        let r = ratio(None, &[(t(400), "live")], t(0), t(1000), &[]).unwrap();
        assert_eq!(r, 1.0);
        assert_eq!(ratio(None, &[], t(0), t(1000), &[]), None);
        assert_eq!(ratio(Some("stopped"), &[], t(0), t(1000), &[]), None);
        assert_eq!(ratio(Some("failed"), &[], t(0), t(1000), &[]), Some(0.0));
    }
}
