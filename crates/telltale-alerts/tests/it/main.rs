//! `telltale-alerts`'s integration tests, one binary: each module was a test
//! binary of its own before, each linking the whole dependency tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dependencies;
mod lifecycle;
mod maintenance;
mod notices;
mod tags;

use std::time::Duration;
use telltale_alerts::{AlertEngine, HistoryKind, NotificationKind, Output};
use telltale_model::time::ManualClock;
use telltale_model::{ConnState, Timestamp};

/// A connection that failed and is being retried.
pub fn retrying() -> ConnState {
    ConnState::Retrying {
        attempt: 1,
        next_at: Timestamp::from_secs(0),
        reason: "refused".into(),
    }
}

/// Moves the clock `secs` on, ticks, and takes what was decided.
pub fn step(e: &mut AlertEngine, c: &ManualClock, secs: u64) -> Output {
    c.advance(Duration::from_secs(secs));
    e.tick();
    e.drain()
}

/// The summaries of `out`'s notifications of `kind`.
pub fn said(out: &Output, kind: NotificationKind) -> Vec<String> {
    out.notifications
        .iter()
        .filter(|n| n.kind == kind)
        .map(|n| n.summary.clone())
        .collect()
}

/// Why `out`'s held-back notifications were held (their `suppressed`
/// history details).
pub fn held(out: &Output) -> Vec<&str> {
    out.history
        .iter()
        .filter(|h| h.kind == HistoryKind::Suppressed)
        .map(|h| h.detail.as_str())
        .collect()
}
