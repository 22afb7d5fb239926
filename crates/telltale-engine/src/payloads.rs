//! Which payloads a feed stores as events (`payloads`, `payloads_every`):
//! the pipeline asks [`PayloadGate::admit`] for each message. Samples,
//! states, alerts and live data do not depend on the answer.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;
use telltale_model::{PayloadKeep, Timestamp};

/// One feed's payload policy and what it last kept.
pub(crate) struct PayloadGate {
    keep: PayloadKeep,
    every: Option<Duration>,
    state: Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    last_hash: Option<u64>,
    last_kept: Option<Timestamp>,
    announced: bool,
}

impl PayloadGate {
    /// A gate for `keep`, keeping one payload per `every` besides.
    pub fn new(keep: PayloadKeep, every: Option<Duration>) -> PayloadGate {
        PayloadGate {
            keep,
            every,
            state: Mutex::default(),
        }
    }

    /// Whether to store this payload; `problem` says it failed to parse or
    /// yielded a problem.
    pub fn admit(&self, data: &[u8], problem: bool, now: Timestamp) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return true;
        };
        let due = self
            .every
            .is_some_and(|e| s.last_kept.is_none_or(|t| now.since(t) >= e));
        let (keep, hash) = match self.keep {
            PayloadKeep::All => (self.every.is_none() || due || problem, None),
            PayloadKeep::Changes => {
                let h = hash_of(data);
                (s.last_hash != Some(h) || due, Some(h))
            }
            PayloadKeep::Errors => (problem || due, None),
            PayloadKeep::None => (due, None),
        };
        if keep {
            s.last_kept = Some(now);
            if let Some(h) = hash {
                s.last_hash = Some(h);
            }
        }
        keep
    }

    /// What the feed's timeline says, once per start, when not every
    /// payload is stored.
    pub fn announcement(&self) -> Option<String> {
        if self.keep == PayloadKeep::All && self.every.is_none() {
            return None;
        }
        let mut s = self.state.lock().ok()?;
        if std::mem::replace(&mut s.announced, true) {
            return None;
        }
        let what = match self.keep {
            PayloadKeep::All => "payloads are thinned".to_string(),
            PayloadKeep::Changes => "only payloads that changed are stored".to_string(),
            PayloadKeep::Errors => {
                "only payloads that fail to parse or yield a problem are stored".to_string()
            }
            PayloadKeep::None => "payloads are not stored".to_string(),
        };
        let every = self
            .every
            .map(|e| {
                format!(
                    ", and one every {}",
                    telltale_model::duration::format_duration(e)
                )
            })
            .unwrap_or_default();
        Some(format!(
            "{what}{every} (payloads = \"{}\"); samples, states and alerts are unaffected",
            self.keep.as_str()
        ))
    }
}

fn hash_of(data: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn changes_skips_a_payload_equal_to_the_last_kept_one() {
        let g = PayloadGate::new(PayloadKeep::Changes, None);
        assert!(g.admit(b"a", false, at(0)));
        assert!(!g.admit(b"a", false, at(1)));
        assert!(g.admit(b"b", false, at(2)));
        assert!(g.admit(b"a", false, at(3)));
    }

    #[test]
    fn errors_keeps_problems_and_one_per_interval() {
        let g = PayloadGate::new(PayloadKeep::Errors, Some(Duration::from_secs(600)));
        assert!(g.admit(b"x", false, at(0)), "the first after a start");
        assert!(!g.admit(b"x", false, at(1)));
        assert!(
            g.admit(b"bad", true, at(2)),
            "a payload that failed to parse"
        );
        assert!(!g.admit(b"x", false, at(300)));
        assert!(g.admit(b"x", false, at(602)), "one per interval");
        let none = PayloadGate::new(PayloadKeep::None, None);
        assert!(!none.admit(b"x", true, at(0)));
    }

    #[test]
    fn all_with_an_interval_thins_and_all_alone_says_nothing() {
        let g = PayloadGate::new(PayloadKeep::All, Some(Duration::from_secs(60)));
        assert!(g.admit(b"x", false, at(0)));
        assert!(!g.admit(b"y", false, at(30)));
        assert!(g.admit(b"z", false, at(60)));
        assert!(g.announcement().is_some_and(|t| t.contains("one every 1m")));
        assert!(g.announcement().is_none(), "said once");
        assert!(PayloadGate::new(PayloadKeep::All, None)
            .announcement()
            .is_none());
    }
}
