//! How often payload problems reach the timeline and the log.
//!
//! A feed with a broken rule reports the same problem on every message. The
//! limiter lets one through per (feed, rule, kind) per window and counts the
//! rest; the count is said with the next one. The key never holds a value
//! from the payload (see `telltale_model::extract::Problem::key`), so a
//! value inside the message does not defeat the limit. Entries of feeds that
//! are gone, and entries quiet for two windows, are pruned.

use std::collections::HashMap;
use std::time::Duration;
use telltale_model::extract::Problem;
use telltale_model::Timestamp;

/// The same problem is recorded at most once per this window.
pub(crate) const PROBLEM_WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct ProblemLimiter {
    /// (feed, rule/kind) → (last recorded, suppressed since).
    seen: HashMap<(i64, String), (Timestamp, u64)>,
    last_prune: Timestamp,
}

impl ProblemLimiter {
    /// The message to record for `p` now, or `None` while its window lasts.
    pub fn admit(&mut self, feed_id: i64, p: Problem, now: Timestamp) -> Option<String> {
        let entry = self
            .seen
            .entry((feed_id, p.key()))
            .or_insert((Timestamp(0), 0));
        if now.since(entry.0) < PROBLEM_WINDOW {
            entry.1 += 1;
            return None;
        }
        let suppressed = entry.1;
        *entry = (now, 0);
        Some(if suppressed > 0 {
            format!("{p} ({suppressed} more like this in the last minute)")
        } else {
            p.message
        })
    }

    /// Drops entries of feeds not in `live` and entries quiet for two
    /// windows; at most once a window.
    pub fn prune<V>(&mut self, live: &HashMap<i64, V>, now: Timestamp) {
        if now.since(self.last_prune) < PROBLEM_WINDOW {
            return;
        }
        self.last_prune = now;
        self.seen.retain(|(feed, _), (at, _)| {
            live.contains_key(feed) && now.since(*at) < PROBLEM_WINDOW * 2
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(value: &str) -> Problem {
        Problem {
            rule: "metric cpu".into(),
            kind: "not_a_number",
            message: format!("metric `cpu`: `/cpu` is \"{value}\", not a number"),
        }
    }

    const SEC: i64 = 1_000_000;

    #[test]
    fn a_value_inside_the_message_does_not_defeat_the_limit() {
        let mut l = ProblemLimiter::default();
        let t0 = 1_000_000 * SEC;
        let admitted: Vec<String> = (0..60)
            .filter_map(|i| l.admit(1, problem(&format!("v{i}")), Timestamp(t0 + i * SEC / 10)))
            .collect();
        assert_eq!(admitted.len(), 1, "{admitted:?}");
        // After the window, the next one says how many were held back.
        let next = l.admit(1, problem("x"), Timestamp(t0 + 61 * SEC)).unwrap();
        assert!(
            next.ends_with("(59 more like this in the last minute)"),
            "{next}"
        );
        // Another feed, or another kind, has its own window.
        assert!(l.admit(2, problem("y"), Timestamp(t0 + 61 * SEC)).is_some());
    }

    #[test]
    fn entries_of_deleted_feeds_and_old_entries_are_pruned() {
        let mut l = ProblemLimiter::default();
        let t0 = 1_000_000 * SEC;
        l.admit(1, problem("a"), Timestamp(t0));
        l.admit(2, problem("a"), Timestamp(t0));
        l.admit(3, problem("a"), Timestamp(t0 + 100 * SEC));
        assert_eq!(l.len(), 3);
        // Feed 2 was deleted; feed 1's entry is over two windows old.
        l.prune(
            &HashMap::from([(1, ()), (3, ())]),
            Timestamp(t0 + 130 * SEC),
        );
        assert_eq!(l.len(), 1);
    }
}
