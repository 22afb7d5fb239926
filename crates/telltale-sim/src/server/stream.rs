//! The per-host message schedule shared by the WebSocket and SSE streams.

use super::*;

/// Per-connection stream options from the query.
#[derive(Debug, Clone)]
pub(super) struct StreamOpts {
    pub(super) rate: f64,
    pub(super) count: Option<u64>,
    pub(super) drop_every: Option<u64>,
    pub(super) stall_after: Option<u64>,
    pub(super) slow: Option<Duration>,
    pub(super) garbage: Option<u64>,
}

impl StreamOpts {
    pub(super) fn new(p: &Params, rate: f64) -> Self {
        StreamOpts {
            rate,
            count: p.count,
            drop_every: nonzero(p.drop_every),
            stall_after: p.stall_after,
            slow: p.slow(),
            garbage: nonzero(p.garbage_every),
        }
    }

    /// What to do after the `nth` message on a connection.
    pub(super) fn after(&self, nth: u64) -> After {
        if self.drop_every.is_some_and(|n| nth % n == 0) {
            After::Drop
        } else if self.stall_after.is_some_and(|n| nth >= n) {
            After::Stall
        } else {
            After::Go
        }
    }

    pub(super) fn stalled_from_start(&self) -> bool {
        self.stall_after == Some(0)
    }

    pub(super) fn is_garbage(&self, nth: u64) -> bool {
        self.garbage.is_some_and(|n| nth % n == 0)
    }
}

#[derive(Debug, PartialEq)]
pub(super) enum After {
    Go,
    Stall,
    Drop,
}

/// One host's messages on one connection.
#[derive(Debug)]
pub(super) struct HostStream {
    pub(super) idx: usize,
    pub(super) next_seq: u64,
    /// Last seq to send (`count`), if bounded.
    pub(super) last_seq: Option<u64>,
    pub(super) started: Instant,
    pub(super) sent: u64,
}

impl HostStream {
    pub(super) fn remaining(&self) -> bool {
        self.last_seq.is_none_or(|l| self.next_seq <= l)
    }

    /// When the next message is due.
    pub(super) fn due_at(&self, rate: f64) -> Option<Instant> {
        self.remaining()
            .then(|| at(self.started, self.sent as f64 / rate))
    }

    /// How many messages are due now (capped at [`BURST_CAP`]).
    pub(super) fn due_now(&self, rate: f64, now: Instant) -> u64 {
        if !self.remaining() {
            return 0;
        }
        let mut due = due_total(self.started, now, rate).saturating_sub(self.sent);
        if let Some(l) = self.last_seq {
            due = due.min((l - self.next_seq).saturating_add(1));
        }
        due.min(BURST_CAP)
    }
}
