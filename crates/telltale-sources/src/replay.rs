//! De-duplication of messages that a WebSocket server replays after a
//! reconnect (`websocket.id_pointer`).
//!
//! Each message's id is read at a JSON pointer into the message. A message
//! whose id was among the last [`WINDOW`] ids delivered is dropped and
//! counted; everything else is delivered in the order it arrived, with the
//! id as its `server_id`. Messages that are not JSON, or have no scalar at
//! the pointer, are delivered unchanged (nothing to compare). The id of the
//! last delivered message is what `{last_id}` in `websocket.subscribe`
//! expands to, so a server that can resume is asked to.

use serde_json::Value;
use std::collections::{HashSet, VecDeque};

/// How many recent ids are remembered.
pub const WINDOW: usize = 10_000;

/// What to do with one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it, with this id (if it has one).
    Deliver(Option<String>),
    /// Already delivered: drop it.
    Duplicate,
}

/// The ids seen on one feed, kept across reconnects.
#[derive(Debug, Default)]
pub struct Replay {
    pointer: Option<String>,
    seen: HashSet<String>,
    order: VecDeque<String>,
    last_id: Option<String>,
    dropped: u64,
}

impl Replay {
    /// De-duplicates by the id at `pointer`; `None` turns it off.
    pub fn new(pointer: Option<String>) -> Self {
        Replay {
            pointer,
            ..Replay::default()
        }
    }

    /// The id of the last delivered message, if any.
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Judges one message and remembers its id when it is delivered.
    pub fn check(&mut self, data: &[u8]) -> Verdict {
        let Some(pointer) = &self.pointer else {
            return Verdict::Deliver(None);
        };
        let id = serde_json::from_slice::<Value>(data)
            .ok()
            .and_then(|v| v.pointer(pointer).and_then(scalar_text));
        let Some(id) = id else {
            return Verdict::Deliver(None);
        };
        if self.seen.contains(&id) {
            self.dropped += 1;
            return Verdict::Duplicate;
        }
        if self.order.len() >= WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(id.clone());
        self.order.push_back(id.clone());
        self.last_id = Some(id.clone());
        Verdict::Deliver(Some(id))
    }

    /// Messages dropped since the last call.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// `text` with every `{last_id}` replaced by the last delivered id
    /// (empty before the first).
    pub fn expand(&self, text: &str) -> String {
        text.replace("{last_id}", self.last_id().unwrap_or(""))
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_dropped_and_counted_and_others_kept() {
        let mut r = Replay::new(Some("/id".into()));
        assert_eq!(r.expand("since={last_id}"), "since=");
        assert_eq!(r.check(br#"{"id":1}"#), Verdict::Deliver(Some("1".into())));
        assert_eq!(
            r.check(br#"{"id":"b"}"#),
            Verdict::Deliver(Some("b".into()))
        );
        assert_eq!(r.check(br#"{"id":1}"#), Verdict::Duplicate);
        assert_eq!(r.check(b"not json"), Verdict::Deliver(None));
        assert_eq!(r.check(br#"{"x":1}"#), Verdict::Deliver(None));
        assert_eq!(r.take_dropped(), 1);
        assert_eq!(r.take_dropped(), 0);
        assert_eq!(r.expand(r#"{"since":"{last_id}"}"#), r#"{"since":"b"}"#);
    }

    #[test]
    fn the_window_forgets_the_oldest_ids() {
        let mut r = Replay::new(Some("/id".into()));
        for i in 0..=WINDOW {
            r.check(format!(r#"{{"id":{i}}}"#).as_bytes());
        }
        assert_eq!(r.check(br#"{"id":0}"#), Verdict::Deliver(Some("0".into())));
        assert_eq!(r.check(br#"{"id":5}"#), Verdict::Duplicate);
    }

    #[test]
    fn without_a_pointer_everything_is_delivered() {
        let mut r = Replay::new(None);
        assert_eq!(r.check(br#"{"id":1}"#), Verdict::Deliver(None));
        assert_eq!(r.check(br#"{"id":1}"#), Verdict::Deliver(None));
    }
}
