//! Exponential backoff with full jitter, a cap, and a reset after a stable period.
//!
//! "Full jitter": each delay is uniform in `[0, min(cap, initial × 2^attempt))`,
//! which spreads a thousand reconnecting feeds out instead of having them
//! stampede a recovering server at the same instant.

use crate::feed::BackoffConfig;
use std::time::{Duration, Instant};

/// Backoff state for one feed.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    reset_after: Duration,
    attempt: u32,
    connected_at: Option<Instant>,
    rng: fastrand::Rng,
}

impl Backoff {
    /// From a feed's policy.
    pub fn new(cfg: &BackoffConfig) -> Self {
        Backoff {
            initial: cfg.initial.0.max(Duration::from_millis(1)),
            max: cfg.max.0.max(cfg.initial.0),
            reset_after: cfg.reset_after.0,
            attempt: 0,
            connected_at: None,
            rng: fastrand::Rng::new(),
        }
    }

    /// With a fixed random seed, for deterministic tests.
    pub fn with_seed(cfg: &BackoffConfig, seed: u64) -> Self {
        let mut b = Backoff::new(cfg);
        b.rng = fastrand::Rng::with_seed(seed);
        b
    }

    /// Overrides the base delay (SSE `retry:`).
    pub fn set_initial(&mut self, d: Duration) {
        self.initial = d.max(Duration::from_millis(1));
        if self.max < self.initial {
            self.max = self.initial;
        }
    }

    /// The number of failed attempts since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The upper bound for the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(30)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// Records a failure and returns how long to wait before retrying.
    pub fn next_delay(&mut self) -> Duration {
        if let Some(at) = self.connected_at.take() {
            if at.elapsed() >= self.reset_after {
                self.attempt = 0;
            }
        }
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let micros = ceiling.as_micros().min(u64::MAX as u128) as u64;
        Duration::from_micros(self.rng.u64(0..=micros))
    }

    /// Records a successful connection; if it lasts `reset_after`, the next
    /// failure starts again from the initial delay.
    pub fn connected(&mut self) {
        self.connected_at = Some(Instant::now());
    }

    /// Forgets all failures now.
    pub fn reset(&mut self) {
        self.attempt = 0;
        self.connected_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::Dur;

    fn cfg() -> BackoffConfig {
        BackoffConfig {
            initial: Dur::millis(100),
            max: Dur::secs(2),
            reset_after: Dur::secs(0),
        }
    }

    #[test]
    fn delays_are_jittered_below_a_doubling_capped_ceiling() {
        let mut b = Backoff::with_seed(&cfg(), 7);
        let mut ceilings = vec![];
        for _ in 0..8 {
            let c = b.ceiling();
            let d = b.next_delay();
            assert!(d <= c, "{d:?} > {c:?}");
            ceilings.push(c.as_millis());
        }
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    }

    #[test]
    fn jitter_actually_spreads() {
        let mut b = Backoff::with_seed(&cfg(), 1);
        for _ in 0..5 {
            b.next_delay();
        }
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let mut c = b.clone();
            c.rng = fastrand::Rng::new();
            seen.insert(c.next_delay().as_millis() / 100);
        }
        assert!(seen.len() > 5, "delays not spread: {seen:?}");
    }

    #[test]
    fn a_stable_connection_resets_the_attempts() {
        let mut b = Backoff::with_seed(&cfg(), 3);
        for _ in 0..4 {
            b.next_delay();
        }
        assert_eq!(b.attempt(), 4);
        b.connected(); // reset_after = 0: immediately stable
        b.next_delay();
        assert_eq!(b.attempt(), 1);
    }

    #[test]
    fn a_short_connection_does_not_reset() {
        let mut c = cfg();
        c.reset_after = Dur::secs(3600);
        let mut b = Backoff::with_seed(&c, 3);
        b.next_delay();
        b.next_delay();
        b.connected();
        b.next_delay();
        assert_eq!(b.attempt(), 3);
    }
}
