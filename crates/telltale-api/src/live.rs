//! The live stream for UIs: engine batches merged into at most one message
//! per window (33 ms by default, so ~30 messages a second), whatever the
//! ingest rate.

use crate::views::{LiveBatchView, LiveMessage};
use std::collections::VecDeque;
use std::time::Duration;
use telltale_engine::live::LiveItem;
use telltale_engine::LiveSubscriber;
use tokio::time::Instant;

/// The default merge window: ~30 messages per second.
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(33);

/// Events kept per message; the rest of a window's events are counted in
/// [`LiveBatchView::events_omitted`] (they are stored, and the events API
/// lists them).
pub const MAX_EVENTS_PER_MESSAGE: usize = 500;

/// A coalescing live subscription (see [`crate::Api::live`]).
///
/// Messages are spaced at least one window apart: the first change after a
/// quiet spell goes out at once, and everything that arrives during the
/// following window is merged into the next message. Samples are never
/// dropped by the merging. When this subscriber falls behind the engine, a
/// [`LiveMessage::Lagged`] says how many engine batches were skipped.
///
/// [`LiveStream::next`] is cancel-safe: it can be used in `select!` without
/// losing what it has merged so far.
#[derive(Debug)]
pub struct LiveStream {
    sub: LiveSubscriber,
    window: Duration,
    acc: LiveBatchView,
    lagged: u64,
    deadline: Option<Instant>,
    last_sent: Option<Instant>,
    ready: VecDeque<LiveMessage>,
    closed: bool,
}

enum Step {
    Item(Option<LiveItem>),
    Due,
}

impl LiveStream {
    /// Wraps an engine subscription.
    pub fn new(sub: LiveSubscriber, window: Duration) -> LiveStream {
        LiveStream {
            sub,
            window,
            acc: LiveBatchView::default(),
            lagged: 0,
            deadline: None,
            last_sent: None,
            ready: VecDeque::new(),
            closed: false,
        }
    }

    /// The next message; `None` once the engine has shut down.
    pub async fn next(&mut self) -> Option<LiveMessage> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Some(m);
            }
            let pending = !self.acc.is_empty() || self.lagged > 0;
            if self.closed {
                if pending {
                    self.flush();
                    continue;
                }
                return None;
            }
            let Some(deadline) = self.deadline.filter(|_| pending) else {
                let item = self.sub.recv().await;
                self.absorb(item);
                continue;
            };
            if Instant::now() >= deadline {
                self.flush();
                continue;
            }
            let step = tokio::select! {
                biased;
                item = self.sub.recv() => Step::Item(item),
                _ = tokio::time::sleep_until(deadline) => Step::Due,
            };
            match step {
                Step::Item(item) => self.absorb(item),
                Step::Due => self.flush(),
            }
        }
    }

    fn absorb(&mut self, item: Option<LiveItem>) {
        let was_empty = self.acc.is_empty() && self.lagged == 0;
        match item {
            None => {
                self.closed = true;
                return;
            }
            Some(LiveItem::Batch(b)) => self.acc.absorb(&b),
            Some(LiveItem::Lagged(n)) => self.lagged += n,
        }
        if was_empty {
            let now = Instant::now();
            let earliest = self.last_sent.map_or(now, |t| t + self.window);
            self.deadline = Some(earliest.max(now));
        }
    }

    fn flush(&mut self) {
        if self.lagged > 0 {
            self.ready.push_back(LiveMessage::Lagged {
                lagged: std::mem::take(&mut self.lagged),
            });
        }
        let mut batch = std::mem::take(&mut self.acc);
        if !batch.is_empty() {
            batch.cap_events(MAX_EVENTS_PER_MESSAGE);
            self.ready.push_back(LiveMessage::Batch(batch));
        }
        self.deadline = None;
        self.last_sent = Some(Instant::now());
    }
}
