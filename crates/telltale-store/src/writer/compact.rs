//! The writer's side of sample compaction (see `crate::chunk`): a run every
//! `compact_every`, or one asked for with [`crate::Store::compact_samples`],
//! advanced one transaction at a time between commits like retention.
//! While commits fail nothing is compacted: the disk's room goes to data.

use super::{Reply, Writer};
use crate::chunk::{CompactJob, CompactReport};
use crate::error::StoreError;
use std::time::{Duration, Instant};
use telltale_model::Timestamp;

pub(super) struct Compaction {
    every: Option<Duration>,
    next: Option<Instant>,
    job: Option<CompactJob>,
    replies: Vec<Reply<CompactReport>>,
    queued: Vec<(Timestamp, Reply<CompactReport>)>,
}

impl Compaction {
    pub fn new(every: Option<Duration>) -> Compaction {
        Compaction {
            every,
            next: every.map(|d| Instant::now() + d),
            job: None,
            replies: Vec::new(),
            queued: Vec::new(),
        }
    }

    /// A run is under way or asked for.
    pub fn running(&self) -> bool {
        self.job.is_some() || !self.queued.is_empty()
    }

    /// When the next automatic run is due.
    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    pub fn request(&mut self, now: Timestamp, reply: Reply<CompactReport>) {
        self.queued.push((now, reply));
    }

    /// Shutdown: a run in progress simply stops (every step committed is
    /// complete on its own).
    pub fn abandon(&mut self) {
        self.job = None;
        let queued = self.queued.drain(..).map(|(_, r)| r);
        for reply in self.replies.drain(..).chain(queued) {
            let _ = reply.send(Err(StoreError::Closed));
        }
    }
}

impl Writer {
    /// Starts a due or requested compaction run, or takes one step of the
    /// current one.
    pub(super) fn advance_compaction(&mut self) {
        let c = &mut self.compaction;
        if self.failing.is_some() {
            // Not due while failing: the writer must not spin on it.
            if c.next.is_some_and(|t| Instant::now() >= t) {
                c.next = c.every.map(|d| Instant::now() + d);
            }
            return;
        }
        if c.job.is_none() {
            let now = if !c.queued.is_empty() {
                let now = c
                    .queued
                    .iter()
                    .map(|q| q.0)
                    .max()
                    .unwrap_or_else(Timestamp::now);
                c.replies = c.queued.drain(..).map(|q| q.1).collect();
                now
            } else if c.next.is_some_and(|t| Instant::now() >= t) {
                c.next = c.every.map(|d| Instant::now() + d);
                Timestamp::now()
            } else {
                return;
            };
            match CompactJob::start(&self.conn, now, self.epoch) {
                Ok(job) => self.compaction.job = Some(job),
                Err(e) => return self.fail_compaction(e),
            }
        }
        let Some(job) = self.compaction.job.as_mut() else {
            return;
        };
        match job.step(&mut self.conn) {
            Ok(false) => {}
            Ok(true) => {
                let report = std::mem::take(&mut job.report);
                self.compaction.job = None;
                if report.samples > 0 {
                    tracing::debug!(
                        "{}: {} samples of {} series compacted into {} chunks of {} bytes",
                        self.path.display(),
                        report.samples,
                        report.series,
                        report.chunks,
                        report.bytes
                    );
                }
                for reply in self.compaction.replies.drain(..) {
                    let _ = reply.send(Ok(report.clone()));
                }
            }
            Err(e) => self.fail_compaction(e),
        }
    }

    fn fail_compaction(&mut self, e: rusqlite::Error) {
        self.compaction.job = None;
        for reply in self.compaction.replies.drain(..) {
            let copy = StoreError::sqlite(&self.path, "compacting samples", super::clone_error(&e));
            let _ = reply.send(Err(copy));
        }
        let err = self.error("compacting samples", e);
        tracing::warn!("{err}; samples stay uncompressed until the next run");
    }
}
