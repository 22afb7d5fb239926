//! What the writer does when a commit fails.
//!
//! A failing commit never stops the writer. Its rows stay pending and the
//! commit is retried with backoff (50 ms doubling to 5 s), while the writer
//! keeps reading its queue: control commands (retention, compaction,
//! deleting a feed, settings, flush) keep working, so the remedy an error
//! suggests can be applied, and senders never block on a full disk.
//!
//! * Rows that keep arriving are held in memory up to
//!   [`crate::StoreOptions::hold_while_failing`] bytes; beyond that their
//!   events and samples are shed (counted per feed in [`StoreHealth`]),
//!   while timeline and alert rows, which are small, are still held.
//! * A failure that the same rows would always hit again (corruption, a
//!   constraint; see [`StoreError::is_transient`]) sets the batch that
//!   fails aside: each pending batch is tried alone, those SQLite refuses
//!   are discarded and counted, and the others are committed.
//! * A flush waits up to [`FLUSH_WAIT`] for a commit that works, then
//!   answers with the failure.
//! * Every change is published as [`StoreHealth`].

use super::sql::{write_pending, Skipped, Written};
use super::Writer;
use crate::batch::WriteBatch;
use crate::error::StoreError;
use crate::health::StoreFailure;
use std::time::{Duration, Instant};
use telltale_model::Timestamp;
use tokio::sync::oneshot;

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an ongoing failure or shedding is logged again.
const REMIND_EVERY: Duration = Duration::from_secs(30);
/// How long a flush waits for a commit that works before it answers with
/// the failure.
pub(crate) const FLUSH_WAIT: Duration = Duration::from_secs(5);
/// Bytes counted per row on top of its payload, for the hold limit.
const ROW_OVERHEAD: usize = 64;

/// A failure that is going on.
pub(super) struct Failing {
    code: &'static str,
    message: String,
    since: Timestamp,
    started: Instant,
    attempts: u32,
    backoff: Duration,
    pub(super) next_retry: Instant,
    reminded: Instant,
}

/// A flush waiting for a commit that works.
pub(super) type FlushWaiter = (Instant, oneshot::Sender<Result<(), StoreError>>);

/// The approximate memory a batch holds.
pub(super) fn batch_bytes(b: &WriteBatch) -> usize {
    b.events.iter().map(|e| e.data.len()).sum::<usize>() + b.len() * ROW_OVERHEAD
}

impl Writer {
    /// Tries once to commit every pending batch. Returns true when nothing
    /// is pending afterwards.
    pub(super) fn commit_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let result = write_pending(
            &mut self.conn,
            &self.pending,
            &mut self.series,
            &mut self.codec,
            &self.feeds,
            &mut self.rollups,
            &mut self.skipped,
            self.epoch,
        );
        match result {
            Ok(w) => {
                self.pending.clear();
                self.committed_rows(w);
                true
            }
            Err(e) => {
                self.forget_uncommitted();
                let err = self.error("committing a batch", e);
                if err.is_transient() {
                    self.failed(err);
                } else {
                    self.set_aside(err);
                }
                self.pending.is_empty()
            }
        }
    }

    /// Accounts for a successful commit of everything pending.
    fn committed_rows(&mut self, w: Written) {
        if let Some(f) = self.failing.take() {
            tracing::info!(
                "writing to {} works again after {} failed attempts over {:.1?}; the rows held meanwhile are committed",
                self.path.display(),
                f.attempts,
                f.started.elapsed()
            );
        }
        self.committed_events += w.events;
        self.committed.send_replace(self.committed_events);
        self.meter.add(&w.payloads);
        tracing::trace!(
            "committed {} events, {} samples, {} timeline entries",
            w.events,
            w.samples,
            w.states
        );
        self.skipped.log(false);
        self.pending_rows = 0;
        self.held_bytes = 0;
        self.pending_since = None;
        for (_, ack) in self.flush_waiters.drain(..) {
            let _ = ack.send(Ok(()));
        }
        self.publish_health();
        // Before a flush that asked for this commit is answered, so the
        // release never waits behind rows that arrived meanwhile.
        self.maybe_release_cache();
    }

    /// The rolled-back transaction may have created series or advanced
    /// their last timestamps: forget all of it.
    fn forget_uncommitted(&mut self) {
        self.series.clear();
        self.codec.clear();
        self.rollups.clear();
        self.skipped = Skipped {
            last_log: self.skipped.last_log,
            ..Skipped::default()
        };
    }

    /// Records a transient failure and schedules the retry.
    fn failed(&mut self, err: StoreError) {
        let now = Instant::now();
        let first = self.failing.is_none();
        let f = self.failing.get_or_insert_with(|| Failing {
            code: err.code(),
            message: String::new(),
            since: Timestamp::now(),
            started: now,
            attempts: 0,
            backoff: FIRST_BACKOFF,
            next_retry: now,
            reminded: now,
        });
        f.attempts += 1;
        f.code = err.code();
        f.message = err.to_string();
        f.next_retry = now + f.backoff;
        f.backoff = (f.backoff * 2).min(MAX_BACKOFF);
        if first {
            tracing::error!(
                "cannot commit {} rows to {}: {err}. They are held in memory (up to {} MiB) and retried; ingestion, alerts and the live view go on",
                self.pending_rows,
                self.path.display(),
                self.hold_limit / (1024 * 1024)
            );
        } else if f.reminded.elapsed() >= REMIND_EVERY {
            f.reminded = now;
            tracing::error!(
                "still cannot commit to {} after {} attempts over {:.0?}: {err}; {} rows held, {} shed so far",
                self.path.display(),
                f.attempts,
                f.started.elapsed(),
                self.pending_rows,
                self.health_now.shed_rows
            );
        }
        self.publish_health();
    }

    /// After a failure that retrying cannot fix: commits the pending
    /// batches one by one and discards those SQLite refuses.
    fn set_aside(&mut self, first: StoreError) {
        tracing::error!(
            "a commit to {} failed in a way retrying cannot fix: {first}; trying its batches one by one and setting aside those that fail",
            self.path.display()
        );
        let mut batches = std::mem::take(&mut self.pending).into_iter();
        self.pending_rows = 0;
        self.held_bytes = 0;
        while let Some(batch) = batches.next() {
            let one = [batch];
            let result = write_pending(
                &mut self.conn,
                &one,
                &mut self.series,
                &mut self.codec,
                &self.feeds,
                &mut self.rollups,
                &mut self.skipped,
                self.epoch,
            );
            let [batch] = one;
            match result {
                Ok(w) => {
                    self.committed_events += w.events;
                    self.committed.send_replace(self.committed_events);
                    self.meter.add(&w.payloads);
                }
                Err(e) => {
                    self.forget_uncommitted();
                    let err = self.error("committing a batch", e);
                    if err.is_transient() {
                        // The disk, not the rows: keep them all for the retry.
                        for b in std::iter::once(batch).chain(batches) {
                            self.pending_rows += b.len();
                            self.held_bytes += batch_bytes(&b);
                            self.pending.push(b);
                        }
                        self.failed(err);
                        return;
                    }
                    tracing::error!(
                        "set aside a batch of {} rows ({} events, {} samples) that {} refuses: {err}",
                        batch.len(),
                        batch.events.len(),
                        batch.samples.len(),
                        self.path.display()
                    );
                    self.health_now.discarded_rows += batch.len() as u64;
                    self.health_now.discarded_reason = Some(err.to_string());
                }
            }
        }
        self.committed_rows(Written::default());
    }

    /// Takes a batch into the pending rows; while commits fail and the
    /// held rows reach the limit, sheds its events and samples.
    pub(super) fn hold(&mut self, mut b: WriteBatch) {
        if b.is_empty() {
            return;
        }
        if self.failing.is_some() && self.held_bytes + batch_bytes(&b) > self.hold_limit {
            let shed = (b.events.len() + b.samples.len()) as u64;
            for e in &b.events {
                *self.health_now.shed_events.entry(e.feed_id).or_default() += 1;
            }
            b.events.clear();
            b.samples.clear();
            let first = self.health_now.shed_rows == 0;
            self.health_now.shed_rows += shed;
            if first || self.shed_reminded.elapsed() >= REMIND_EVERY {
                self.shed_reminded = Instant::now();
                tracing::error!(
                    "{} rows not stored so far: commits to {} keep failing and the {} MiB held for them are full",
                    self.health_now.shed_rows,
                    self.path.display(),
                    self.hold_limit / (1024 * 1024)
                );
            }
            self.publish_health();
            if b.is_empty() {
                return;
            }
        }
        self.pending_rows += b.len();
        self.held_bytes += batch_bytes(&b);
        self.pending.push(b);
        self.pending_since.get_or_insert_with(Instant::now);
    }

    /// Answers a flush now if everything commits, else when a commit works
    /// or with the failure after [`FLUSH_WAIT`].
    pub(super) fn flush(&mut self, ack: oneshot::Sender<Result<(), StoreError>>) {
        if self.commit_pending() {
            let _ = ack.send(Ok(()));
        } else {
            self.flush_waiters.push((Instant::now() + FLUSH_WAIT, ack));
        }
    }

    /// Answers the flushes that waited too long.
    pub(super) fn expire_flushes(&mut self) {
        if self.flush_waiters.is_empty() {
            return;
        }
        let now = Instant::now();
        let cause = self.failure_message();
        let (expired, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flush_waiters)
            .into_iter()
            .partition(|(deadline, _)| *deadline <= now);
        self.flush_waiters = waiting;
        for (_, ack) in expired {
            let _ = ack.send(Err(StoreError::WriteFailing {
                cause: cause.clone(),
            }));
        }
    }

    /// The current failure in words, for callers that were waiting.
    pub(super) fn failure_message(&self) -> String {
        self.failing.as_ref().map_or_else(
            || format!("commits to {} are failing", self.path.display()),
            |f| f.message.clone(),
        )
    }

    /// When the writer must wake for a retry or an expiring flush.
    pub(super) fn failing_deadline(&self) -> Option<Instant> {
        let retry = self.failing.as_ref().map(|f| f.next_retry);
        let flush = self.flush_waiters.iter().map(|(d, _)| *d).min();
        match (retry, flush) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Retries at once: something (retention, a deleted feed) may have
    /// freed space.
    pub(super) fn retry_soon(&mut self) {
        if let Some(f) = self.failing.as_mut() {
            f.next_retry = Instant::now();
            f.backoff = FIRST_BACKOFF;
        }
    }

    /// Publishes the current health.
    pub(super) fn publish_health(&mut self) {
        self.health_now.failure = self.failing.as_ref().map(|f| StoreFailure {
            code: f.code,
            message: f.message.clone(),
            since: f.since,
            attempts: f.attempts,
            held_rows: self.pending_rows as u64,
            held_bytes: self.held_bytes as u64,
        });
        let now = self.health_now.clone();
        self.health.send_if_modified(|h| {
            if *h == now {
                false
            } else {
                *h = now;
                true
            }
        });
    }

    /// At shutdown: one last attempt; what cannot be committed is lost and
    /// said so.
    pub(super) fn final_commit(&mut self) {
        if self.commit_pending() {
            return;
        }
        tracing::error!(
            "stopping with {} rows that could not be committed to {}; they are lost: {}",
            self.pending_rows,
            self.path.display(),
            self.failure_message()
        );
        self.pending.clear();
        self.pending_rows = 0;
        self.held_bytes = 0;
        self.expire_all_flushes();
    }

    fn expire_all_flushes(&mut self) {
        let cause = self.failure_message();
        for (_, ack) in self.flush_waiters.drain(..) {
            let _ = ack.send(Err(StoreError::WriteFailing {
                cause: cause.clone(),
            }));
        }
    }
}
