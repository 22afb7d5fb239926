//! Inbound webhooks: the sender posts, a [`Hub`] routes each delivery to
//! its feed.
//!
//! An HTTP server (`telltaled serve`, or the desktop app's own loopback
//! listener) answers `POST /hooks/{feed}` by calling [`Hub::deliver`].
//! The feed's source ([`run`]) registers the feed's [`Inbox`] in the hub
//! while it runs; what it holds decides each answer:
//!
//! * `429` past the feed's rate (with `Retry-After`);
//! * `413` for a body over `max_body`;
//! * `401` when verification fails: counted, said on the timeline (at most
//!   once a minute, with the count), never stored;
//! * `200` for a delivery id already received (a provider's retry), not
//!   stored again; the ids a feed stored before are remembered when it
//!   starts (see [`Hub::remember`]), so a retry across a restart counts
//!   once too;
//! * `503` when the pipeline sheds it (a full queue), so the provider
//!   retries rather than believe it stored;
//! * `202` once the delivery is queued for storage.
//!
//! The feed is `live` while at least one receiver listens, `failed`
//! (saying how to start one) while none does, and `stale` after
//! `stale_after` without a delivery, like any other feed.

mod verify;

use crate::Sink;
use bytes::Bytes;
use http::HeaderMap;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use telltale_model::{ConnState, FeedConfig, RawMessage, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use verify::{Refused, Verifier};

/// Delivery ids remembered per feed for de-duplication.
pub const REMEMBERED_IDS: usize = 10_000;

/// How often a refusal of the same kind is said on the feed's timeline.
const SAY_EVERY: Duration = Duration::from_secs(60);

/// Where deliveries are routed: one per engine, shared by its receivers.
#[derive(Debug, Default)]
pub struct Hub {
    feeds: Mutex<HashMap<String, Arc<Inbox>>>,
    receivers: watch::Sender<Vec<String>>,
    /// Delivery ids already stored, per feed, for its next start.
    stored_ids: Mutex<HashMap<String, Vec<String>>>,
}

/// Keeps a receiver's base URL listed while it is alive.
#[derive(Debug)]
pub struct Listening {
    hub: Arc<Hub>,
    base: String,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.hub.receivers.send_modify(|r| {
            if let Some(i) = r.iter().position(|b| *b == self.base) {
                r.remove(i);
            }
        });
    }
}

/// The answer to one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// A short text for the sender (never the secret).
    pub message: String,
    /// Seconds until another delivery is accepted (with `429`).
    pub retry_after: Option<u64>,
}

impl Reply {
    fn new(status: u16, message: impl Into<String>) -> Reply {
        Reply {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub::default())
    }

    /// Lists a receiver (its base URL, `http://127.0.0.1:7879`) until the
    /// returned guard is dropped; feeds are `live` while one is listed.
    pub fn listening(self: &Arc<Hub>, base: impl Into<String>) -> Listening {
        let base = base.into().trim_end_matches('/').to_string();
        self.receivers.send_modify(|r| r.push(base.clone()));
        Listening {
            hub: self.clone(),
            base,
        }
    }

    /// Delivery ids `feed` already stored (its events' ids, newest first):
    /// its next start remembers them, so that a provider's retry across a
    /// restart of Telltale is not stored twice. Call it before the feed
    /// starts.
    pub fn remember(&self, feed: &str, mut ids: Vec<String>) {
        ids.truncate(REMEMBERED_IDS);
        if let Ok(mut m) = self.stored_ids.lock() {
            m.insert(feed.to_string(), ids);
        }
    }

    fn stored_ids(&self, feed: &str) -> Vec<String> {
        self.stored_ids
            .lock()
            .ok()
            .and_then(|mut m| m.remove(feed))
            .unwrap_or_default()
    }

    /// The base URLs of the receivers listening now.
    pub fn receivers(&self) -> Vec<String> {
        self.receivers.borrow().clone()
    }

    /// The largest body `feed` accepts, or `None` if no such feed receives.
    pub fn max_body(&self, feed: &str) -> Option<usize> {
        self.inbox(feed).map(|i| i.max_body)
    }

    fn inbox(&self, feed: &str) -> Option<Arc<Inbox>> {
        self.feeds.lock().ok()?.get(feed).cloned()
    }

    /// Handles one delivery to `feed` (see the module docs for the
    /// answers).
    pub async fn deliver(&self, feed: &str, headers: &HeaderMap, body: Bytes) -> Reply {
        match self.inbox(feed) {
            Some(inbox) => inbox.receive(headers, body).await,
            None => Reply::new(
                404,
                format!("no webhook feed named `{feed}` is running here"),
            ),
        }
    }

    /// Answers a body over `max_body` (the server stops reading it).
    pub async fn too_large(&self, feed: &str) -> Reply {
        match self.inbox(feed) {
            Some(inbox) => {
                let msg = format!(
                    "the body is over this feed's max_body ({} bytes)",
                    inbox.max_body
                );
                inbox.refused(Refusal::TooLarge, &msg).await;
                Reply::new(413, msg)
            }
            None => Reply::new(
                404,
                format!("no webhook feed named `{feed}` is running here"),
            ),
        }
    }

    fn register(&self, name: &str, inbox: Arc<Inbox>) -> Result<(), Refused> {
        let mut feeds = self
            .feeds
            .lock()
            .map_err(|_| Refused::from("the webhook hub is poisoned"))?;
        if feeds.contains_key(name) {
            return Err(Refused::from(format!(
                "the feed `{name}` already receives here: its deliveries show in its own event log"
            )));
        }
        feeds.insert(name.to_string(), inbox);
        Ok(())
    }

    fn unregister(&self, name: &str, inbox: &Arc<Inbox>) {
        if let Ok(mut feeds) = self.feeds.lock() {
            if feeds.get(name).is_some_and(|i| Arc::ptr_eq(i, inbox)) {
                feeds.remove(name);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Refusal {
    Unverified,
    TooLarge,
    Rate,
    Duplicate,
}

/// One feed's receiving end.
#[derive(Debug)]
struct Inbox {
    verifier: Verifier,
    sink: Sink,
    max_body: usize,
    seen: Mutex<Seen>,
    bucket: Mutex<Bucket>,
    said: Mutex<HashMap<Refusal, (Instant, u64)>>,
}

impl Inbox {
    async fn receive(&self, headers: &HeaderMap, body: Bytes) -> Reply {
        if let Err(wait) = self
            .bucket
            .lock()
            .map_or(Ok(()), |mut b| b.take(Instant::now()))
        {
            // Rounded up: a sender that waits exactly this long finds a token.
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            self.refused(
                Refusal::Rate,
                "deliveries arrive faster than rate_per_minute",
            )
            .await;
            return Reply {
                retry_after: Some(secs),
                ..Reply::new(429, "too many deliveries: retry later")
            };
        }
        if body.len() > self.max_body {
            return Reply::new(413, "the body is over this feed's max_body");
        }
        let verified =
            match self
                .verifier
                .check(headers, &body, Timestamp::now().as_millis() / 1000)
            {
                Ok(v) => v,
                Err(why) => {
                    self.refused(
                        Refusal::Unverified,
                        &format!("a delivery failed verification: {why}"),
                    )
                    .await;
                    return Reply::new(
                        401,
                        "the delivery's signature or token is not valid for this feed",
                    );
                }
            };
        if let Some(id) = &verified.id {
            let fresh = self.seen.lock().map_or(true, |mut s| s.insert(id));
            if !fresh {
                self.refused(
                    Refusal::Duplicate,
                    &format!(
                        "delivery `{id}` arrived again (a retry): answered 200, not stored twice"
                    ),
                )
                .await;
                return Reply::new(200, "already received");
            }
        }
        let mut m = RawMessage::new(body);
        m.server_id = verified.id.clone();
        m.event_type = verified.event;
        if self.sink.deliver(m).await {
            Reply::new(202, "received")
        } else {
            // Not stored: let the provider retry it.
            if let (Some(id), Ok(mut s)) = (&verified.id, self.seen.lock()) {
                s.forget(id);
            }
            Reply::new(
                503,
                "Telltale cannot store it now (its queue is full): retry later",
            )
        }
    }

    /// Counts a refusal and says so on the timeline at most once a minute
    /// per kind, with how many there were since.
    async fn refused(&self, kind: Refusal, what: &str) {
        // Each refusal is counted (a retry as a duplicate, the rest as
        // errors); the text is said less often.
        let c = self.sink.counters();
        match kind {
            Refusal::Duplicate => c.duplicates.fetch_add(1, Ordering::Relaxed),
            _ => c.errors.fetch_add(1, Ordering::Relaxed),
        };
        let now = Instant::now();
        let say = match self.said.lock() {
            Ok(mut said) => {
                let e = said.entry(kind).or_insert((now - SAY_EVERY * 2, 0));
                e.1 += 1;
                if now.duration_since(e.0) >= SAY_EVERY {
                    let n = e.1;
                    *e = (now, 0);
                    Some(n)
                } else {
                    None
                }
            }
            Err(_) => None,
        };
        let Some(n) = say else { return };
        let text = if n > 1 {
            format!("{what} ({n} such deliveries since this was last said)")
        } else {
            what.to_string()
        };
        self.sink.notice("webhook", text).await;
    }
}

/// Delivery ids seen, oldest forgotten first.
#[derive(Debug, Default)]
struct Seen {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    /// True if `id` is new (and remembers it).
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= REMEMBERED_IDS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.set.insert(id.to_string());
        self.order.push_back(id.to_string());
        true
    }

    fn forget(&mut self, id: &str) {
        if self.set.remove(id) {
            self.order.retain(|x| x != id);
        }
    }
}

/// A token bucket: `rate` a minute, up to `rate` at once.
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_sec: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(per_minute: u32) -> Bucket {
        let capacity = f64::from(per_minute.max(1));
        Bucket {
            capacity,
            per_sec: capacity / 60.0,
            tokens: capacity,
            at: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec))
        }
    }
}

/// Receives `feed`'s deliveries through `hub` until cancelled.
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken) {
    let hub = sink.hub().cloned();
    let Some(hub) = hub else {
        sink.state(ConnState::Failed {
            reason: "no webhook receiver in this process: webhooks reach `telltaled serve` and the desktop app".into(),
        })
        .await;
        cancel.cancelled().await;
        return;
    };
    let o = feed.webhook_options();
    let secret = match telltale_model::secret::expand_env(&o.secret) {
        Ok(s) => s,
        Err(e) => {
            sink.state(ConnState::Failed {
                reason: format!("webhook.secret {e}"),
            })
            .await;
            cancel.cancelled().await;
            return;
        }
    };
    let verifier = match Verifier::new(&o, &secret) {
        Ok(v) => v,
        Err(e) => {
            sink.state(ConnState::Failed {
                reason: e.to_string(),
            })
            .await;
            cancel.cancelled().await;
            return;
        }
    };
    let mut seen = Seen::default();
    // Oldest first, so that the newest are forgotten last.
    for id in hub.stored_ids(&feed.name).iter().rev() {
        seen.insert(id);
    }
    let inbox = Arc::new(Inbox {
        verifier,
        sink: sink.clone(),
        max_body: usize::try_from(o.max_body.0).unwrap_or(usize::MAX),
        seen: Mutex::new(seen),
        bucket: Mutex::new(Bucket::new(o.rate_per_minute)),
        said: Mutex::new(HashMap::new()),
    });
    // The name is held while a *Test connection* of a feed of that name
    // receives (at most 30 s): wait for it rather than fail for good.
    while let Err(e) = hub.register(&feed.name, inbox.clone()) {
        sink.state(ConnState::Failed {
            reason: e.to_string(),
        })
        .await;
        if !crate::sleep_or_cancel(Duration::from_secs(1), &cancel).await {
            return;
        }
    }
    let path = telltale_model::webhook::hook_path(&feed.name);
    let mut receivers = hub.receivers.subscribe();
    loop {
        let now: Vec<String> = receivers.borrow_and_update().clone();
        match now.first() {
            Some(base) => {
                sink.state(ConnState::Live).await;
                sink.notice("webhook", format!("receiving at {base}{path}")).await;
            }
            None => {
                sink.state(ConnState::Failed {
                    reason: format!("no receiver is listening for {path}: run `telltaled serve`, or start the desktop app (its receiver is on 127.0.0.1:7879 unless TELLTALE_HOOKS_LISTEN says otherwise)"),
                })
                .await
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            changed = receivers.changed() => if changed.is_err() { break },
        }
    }
    hub.unregister(&feed.name, &inbox);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(60);
        for _ in 0..60 {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        assert!(b.take(t0 + Duration::from_secs(1)).is_ok());
        assert!(b.take(t0 + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn remembered_ids_are_bounded() {
        let mut s = Seen::default();
        for i in 0..REMEMBERED_IDS + 5 {
            assert!(s.insert(&i.to_string()));
        }
        assert!(s.insert("0"), "the oldest ids are forgotten");
        assert!(!s.insert(&(REMEMBERED_IDS + 4).to_string()));
        assert_eq!(s.set.len(), s.order.len());
        assert!(s.set.len() <= REMEMBERED_IDS);
        s.forget("0");
        assert!(s.insert("0"));
    }
}
