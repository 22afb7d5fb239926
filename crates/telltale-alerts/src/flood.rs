//! Flood control: more than `max` notifications within `window` become one
//! summary notification. Nothing is lost from the history: every held
//! notification is recorded as suppressed.

use std::collections::VecDeque;
use std::time::Duration;
use telltale_model::Timestamp;

/// Sliding-window flood control.
#[derive(Debug, Clone)]
pub struct FloodControl {
    max: usize,
    window: Duration,
    sent: VecDeque<Timestamp>,
    held_since: Option<Timestamp>,
    held: usize,
}

impl FloodControl {
    /// At most `max` notifications per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        FloodControl {
            max: max.max(1) as usize,
            window,
            sent: VecDeque::new(),
            held_since: None,
            held: 0,
        }
    }

    /// New limits from now on. What was sent and held so far is kept, so a
    /// change never loses held notifications from the next summary.
    pub fn set_limits(&mut self, max: u32, window: Duration) {
        self.max = max.max(1) as usize;
        self.window = window;
    }

    /// Asks to send one notification now: true to send it, false if it is
    /// held for the next summary.
    pub fn admit(&mut self, now: Timestamp) -> bool {
        while self
            .sent
            .front()
            .is_some_and(|t| now.since(*t) >= self.window)
        {
            self.sent.pop_front();
        }
        if self.held_since.is_none() && self.sent.len() < self.max {
            self.sent.push_back(now);
            true
        } else {
            self.held_since.get_or_insert(now);
            self.held += 1;
            false
        }
    }

    /// If notifications were held and the window since the first one has
    /// passed, returns how many, and resets.
    pub fn due_summary(&mut self, now: Timestamp) -> Option<usize> {
        let since = self.held_since?;
        if now.since(since) < self.window {
            return None;
        }
        let n = self.held;
        self.held = 0;
        self.held_since = None;
        self.sent.clear();
        self.sent.push_back(now);
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_past_the_limit_then_summarises_once() {
        let mut f = FloodControl::new(3, Duration::from_secs(60));
        let t0 = Timestamp::from_secs(1000);
        assert!(f.admit(t0));
        assert!(f.admit(t0));
        assert!(f.admit(t0));
        assert!(!f.admit(t0));
        assert!(!f.admit(t0.plus(Duration::from_secs(10))));
        assert_eq!(f.due_summary(t0.plus(Duration::from_secs(30))), None);
        assert_eq!(f.due_summary(t0.plus(Duration::from_secs(60))), Some(2));
        assert_eq!(f.due_summary(t0.plus(Duration::from_secs(120))), None);
        // After the window the budget is back.
        assert!(f.admit(t0.plus(Duration::from_secs(200))));
    }
}
