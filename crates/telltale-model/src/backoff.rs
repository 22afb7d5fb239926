//! Exponential backoff with jitter, a cap, and a reset once a connection
//! proves healthy.
//!
//! * Normal schedule ("full jitter"): each delay is uniform in
//!   `[0, min(cap, initial × 2^attempt)]`, which spreads a thousand
//!   reconnecting feeds out instead of having them stampede a recovering
//!   server at the same instant.
//! * A floor ([`Backoff::set_floor`], the SSE `retry:` field) is a minimum:
//!   the jittered delay is added *above* it, never below, and the sum is
//!   capped at `max` (the floor itself is clamped to `max`: the operator's
//!   cap wins over a server's wish).
//! * The attempt counter resets when a connection delivers data
//!   ([`Backoff::delivered`]), or when it stayed up for `reset_after`
//!   ([`Backoff::connected`]). A server that closes cleanly every few events
//!   therefore never pushes the delays towards the cap.
//! * Configuration problems (a 4xx, a wrong content type) use a separate,
//!   slow schedule ([`Backoff::next_slow_delay`]): [`SLOW_INITIAL`] doubling
//!   to [`SLOW_MAX`], with up to 10 % jitter above.

use crate::feed::BackoffConfig;
use std::time::{Duration, Instant};

/// First delay of the slow schedule for configuration problems.
pub const SLOW_INITIAL: Duration = Duration::from_secs(60);
/// Largest step of the slow schedule (before its 10 % jitter).
pub const SLOW_MAX: Duration = Duration::from_secs(600);

/// Backoff state for one feed.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    reset_after: Duration,
    floor: Duration,
    attempt: u32,
    slow_attempt: u32,
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
            floor: Duration::ZERO,
            attempt: 0,
            slow_attempt: 0,
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

    /// Sets the minimum delay (SSE `retry:`), clamped to the cap. Jitter is
    /// added above it.
    pub fn set_floor(&mut self, d: Duration) {
        self.floor = d.min(self.max);
    }

    /// The minimum delay (zero unless [`Self::set_floor`] was called).
    pub fn floor(&self) -> Duration {
        self.floor
    }

    /// The number of failed attempts since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The number of configuration failures in a row (slow schedule).
    pub fn slow_attempt(&self) -> u32 {
        self.slow_attempt
    }

    /// The upper bound of the jitter added above the floor for the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(30)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// Records a failure and returns how long to wait before retrying:
    /// `floor + uniform[0, ceiling]`, at most the cap, never below the floor.
    pub fn next_delay(&mut self) -> Duration {
        if let Some(at) = self.connected_at.take() {
            if at.elapsed() >= self.reset_after {
                self.attempt = 0;
            }
        }
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let jitter = self.uniform(ceiling);
        self.floor
            .saturating_add(jitter)
            .min(self.max)
            .max(self.floor)
    }

    /// Records a configuration failure (4xx, wrong content type) and returns
    /// the slow delay: [`SLOW_INITIAL`] × 2^n capped at [`SLOW_MAX`], plus up
    /// to 10 % jitter above.
    pub fn next_slow_delay(&mut self) -> Duration {
        let factor = 1u32
            .checked_shl(self.slow_attempt.min(30))
            .unwrap_or(u32::MAX);
        let step = SLOW_INITIAL.saturating_mul(factor).min(SLOW_MAX);
        self.slow_attempt = self.slow_attempt.saturating_add(1);
        step.saturating_add(self.uniform(step / 10))
    }

    /// Records a successful connection; if it lasts `reset_after`, the next
    /// failure starts again from the initial delay. The slow schedule starts
    /// over: the configuration works.
    pub fn connected(&mut self) {
        self.connected_at = Some(Instant::now());
        self.slow_attempt = 0;
    }

    /// Records that the connection delivered data (an event, a message): it
    /// is healthy, so the next failure starts again from the initial delay.
    pub fn delivered(&mut self) {
        self.attempt = 0;
        self.slow_attempt = 0;
    }

    /// Forgets all failures now.
    pub fn reset(&mut self) {
        self.attempt = 0;
        self.slow_attempt = 0;
        self.connected_at = None;
    }

    fn uniform(&mut self, upto: Duration) -> Duration {
        let micros = upto.as_micros().min(u64::MAX as u128) as u64;
        Duration::from_micros(self.rng.u64(0..=micros))
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

    #[test]
    fn the_floor_is_a_minimum_and_the_jitter_goes_above_it() {
        let mut c = cfg();
        c.max = Dur::secs(30);
        let mut b = Backoff::with_seed(&c, 11);
        b.set_floor(Duration::from_millis(3000));
        let mut seen = std::collections::HashSet::new();
        for i in 0..40 {
            if i % 4 == 0 {
                b.delivered();
            }
            let d = b.next_delay();
            assert!(d >= Duration::from_millis(3000), "{d:?} below the floor");
            assert!(
                d <= Duration::from_millis(3800),
                "{d:?}: attempt <= 4 adds <= 800 ms"
            );
            seen.insert(d.as_millis() / 10);
        }
        assert!(seen.len() > 10, "no jitter above the floor: {seen:?}");
    }

    #[test]
    fn the_floor_is_clamped_to_the_cap_and_the_sum_never_exceeds_it() {
        let mut b = Backoff::with_seed(&cfg(), 5); // max 2 s
        b.set_floor(Duration::from_secs(5));
        assert_eq!(b.floor(), Duration::from_secs(2));
        for _ in 0..10 {
            assert_eq!(b.next_delay(), Duration::from_secs(2));
        }
        b.set_floor(Duration::from_millis(1900));
        for _ in 0..10 {
            let d = b.next_delay();
            assert!(d >= Duration::from_millis(1900) && d <= Duration::from_secs(2));
        }
    }

    #[test]
    fn delivered_data_resets_the_attempts_at_once() {
        let mut c = cfg();
        c.reset_after = Dur::secs(3600);
        let mut b = Backoff::with_seed(&c, 9);
        for _ in 0..6 {
            b.next_delay();
        }
        b.connected();
        b.delivered();
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.ceiling(), Duration::from_millis(100));
        b.next_delay();
        assert_eq!(b.attempt(), 1);
    }

    #[test]
    fn configuration_problems_wait_a_minute_doubling_to_ten() {
        let mut b = Backoff::with_seed(&cfg(), 2);
        let steps = [60u64, 120, 240, 480, 600, 600];
        for s in steps {
            let d = b.next_slow_delay();
            let lo = Duration::from_secs(s);
            assert!(d >= lo && d <= lo + lo / 10, "{d:?} not in [{s} s, +10 %]");
        }
        assert_eq!(b.slow_attempt(), 6);
        b.connected();
        assert_eq!(b.slow_attempt(), 0);
        assert!(b.next_slow_delay() < Duration::from_secs(67));
    }
}
