//! `telltale-sim`: a fake fleet of servers emitting server-health data over
//! every transport Telltale supports.
//!
//! It is used by the README's demo (`telltale-sim` binary), by integration
//! tests (in process, on `127.0.0.1:0`) and by benchmarks.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use telltale_sim::{Sim, SimConfig};
//! let sim = Sim::start(SimConfig::default()).await?;
//! println!("{}/poll/host-1", sim.base_url());
//! println!("{}/ws?host=host-1", sim.ws_url());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Payload
//!
//! Every transport carries the same compact JSON health document (~150
//! bytes), see [`HostSample::to_json`]:
//!
//! `{"host":"host-1","seq":42,"ts":1764090000123,"cpu":12.3,"mem":45.6,"disk":70.1,"load":0.8,"latency_ms":23.4,"status":"ok"}`
//!
//! Values are a pure function of the seed, the host and `seq` (see
//! [`sample`]); only `ts` (unix milliseconds at send) and the incident curve
//! (wall-clock time since the sim started) depend on time.
//!
//! # Routes
//!
//! | route | what |
//! | --- | --- |
//! | `GET /ws[?host=host-N]` | WebSocket; one text frame per host per `1/rate` s (all hosts without `host`) |
//! | `GET /sse?host=host-N` | `text/event-stream`; `id: <seq>`, `event: health`; honours `Last-Event-ID` |
//! | `GET /sse-wrongtype` | 200 with `content-type: text/plain` |
//! | `GET /poll/{host}` | current sample; `ETag: "<seq>"`, `Last-Modified`; 304 on `If-None-Match` |
//! | `GET /longpoll/{host}?cursor=N` | `{"cursor":M,"events":[…]}` with seq N+1..=M (≤ 100), held until news, 204 on timeout |
//! | `GET /metrics/{host}` | Prometheus text exposition |
//! | `GET /graphql?host=host-N` | GraphQL subscriptions (`graphql-transport-ws`); one `next` per sample, `{"data":{"health":{…}}}` |
//! | `GET /socket.io/?host=host-N&EIO=4&transport=websocket` | Socket.IO 4 over WebSocket; any namespace; one `health` event per sample |
//! | `POST /grpc.health.v1.Health/Watch` | the gRPC health watch (HTTP/2 cleartext); service `host-N` is `NOT_SERVING` while degraded, `""` always `SERVING` |
//! | `GET /healthz` | `ok` |
//! | `GET, POST /control/faults` | read / set global [`Faults`] as JSON `{"fail_next":3,"slow_ms":0}` |
//! | `GET /` | a plain-text description of all this |
//!
//! Unknown hosts get `404` with a plain-text explanation.
//!
//! # Query parameters
//!
//! | param | routes | effect |
//! | --- | --- | --- |
//! | `rate=R` | all data routes | messages per second per host (overrides [`SimConfig::rate`]) |
//! | `count=N` | ws, sse | send seq 1..=N per host, then stay open and idle (sse with `Last-Event-ID: k`: k+1..=N) |
//! | `binary=1` | ws | binary frames instead of text |
//! | `heartbeat_ms=N` | sse | heartbeat interval (overrides [`SimConfig::sse_heartbeat`]) |
//! | `hold_ms=N` | longpoll | hold time (overrides [`SimConfig::long_poll_hold`]) |
//! | `cursor=N` | longpoll | last seq the client has (default 0) |
//! | `drop_every=N` | ws, sse | end the connection after every N messages on it (ws: TCP closed without a close frame; sse: the body ends) |
//! | `stall_after=N` | ws, sse | after N messages send nothing more (no data, no heartbeats) but stay open |
//! | `garbage_every=N` | ws, sse, poll, longpoll | every Nth message (per connection for ws/sse, per host for poll/longpoll responses) is `this is {not json` |
//! | `big_bytes=N` | ws | the first frame on the connection is N bytes (at least 10, at most 256 MiB) of `{"pad":"xxx…"}` (not counted as a message) |
//! | `status=CODE` | poll, longpoll, metrics | respond with that status and a short text body |
//! | `slow_ms=N` | all data routes | delay the response, and each streamed message, by N ms |
//!
//! # Sequence numbers
//!
//! * WebSocket: without `count`, each host continues from the last seq any
//!   WebSocket was sent for it, so a reconnect continues rather than restarts
//!   (concurrent connections to one host each get a continuous stream).
//! * SSE: starts at 1, or after `Last-Event-ID`.
//! * Poll, long poll, metrics: seq `k` is due `(k-1)/rate` seconds after the
//!   sim started (seq 1 at once).

#![warn(missing_docs)]

mod data;

mod feeds;
pub mod hooks;
mod net;
mod server;

pub use data::{host_name, incident_level, sample, HostSample, DEGRADED_CPU, INCIDENT_PEAK_CPU};
pub use feeds::feeds_toml;
pub use telltale_model::duration::{format_duration, parse_duration};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How a sim runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Where to listen (default `127.0.0.1:0`: any free port).
    pub listen: SocketAddr,
    /// Number of hosts, named `host-1` … `host-N` (default 3).
    pub hosts: usize,
    /// Messages per second per host per stream (default 1.0). Routes accept
    /// `?rate=` to override it per request.
    pub rate: f64,
    /// Seed of the data generator (default 1).
    pub seed: u64,
    /// An optional CPU incident on one host (default none).
    pub incident: Option<Incident>,
    /// Interval of the SSE heartbeat comment `: hb` (default 15 s).
    pub sse_heartbeat: Duration,
    /// How long a long-poll request is held without news before `204`
    /// (default 25 s). Routes accept `?hold_ms=` to override it.
    pub long_poll_hold: Duration,
    /// How many HTTP requests and WebSocket client messages are remembered
    /// for [`SimHandle::requests`] and [`SimHandle::ws_client_messages`]
    /// (default [`RECORD_LIMIT`]; `0` remembers none). Tests read them; a
    /// long-running fleet (the desktop app's demo, the `telltale-sim`
    /// binary, the benchmarks) sets `0`, as each record keeps the request's
    /// headers: 100,000 of them are tens of MB.
    pub record: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            hosts: 3,
            rate: 1.0,
            seed: 1,
            incident: None,
            sse_heartbeat: Duration::from_secs(15),
            long_poll_hold: Duration::from_secs(25),
            record: RECORD_LIMIT,
        }
    }
}

/// A CPU incident on one host.
///
/// `start_after` the sim started, the host's CPU climbs linearly to ~97 %
/// over `ramp`, holds there for `hold`, then falls back to normal over
/// `ramp`. Its status is `"degraded"` while CPU is above 90 %. See
/// [`incident_level`].
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Host name, e.g. `host-3`.
    pub host: String,
    /// Time from sim start to the beginning of the climb.
    pub start_after: Duration,
    /// Duration of the climb (and of the descent).
    pub ramp: Duration,
    /// Time spent at the peak.
    pub hold: Duration,
}

/// Global faults, changeable at runtime with [`SimHandle::set_faults`] or
/// `POST /control/faults`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// The next N HTTP requests to `/poll`, `/longpoll`, `/sse` and
    /// `/metrics` get `503 Service Unavailable`.
    pub fail_next: u32,
    /// Delay before each HTTP response (all routes except `/healthz`, `/` and
    /// `/control`).
    pub slow: Duration,
}

/// One HTTP request the sim received (including WebSocket upgrades).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path only, e.g. `/poll/host-1`.
    pub path: String,
    /// The raw query string without `?` (empty if none).
    pub query: String,
    /// Path and query as sent, e.g. `/longpoll/host-1?cursor=3`.
    pub path_and_query: String,
    /// All request headers in order, names lower-case.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter (not percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then_some(v)
        })
    }
}

/// How many requests and client messages are remembered by default
/// (oldest dropped); see [`SimConfig::record`].
pub const RECORD_LIMIT: usize = 100_000;

/// The simulator.
#[derive(Debug)]
pub struct Sim;

impl Sim {
    /// Binds `cfg.listen` and starts serving in the background.
    ///
    /// Fails if the address cannot be bound or the config is invalid
    /// (`rate` not positive and finite).
    pub async fn start(cfg: SimConfig) -> std::io::Result<SimHandle> {
        if !(cfg.rate.is_finite() && cfg.rate > 0.0) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("rate must be a positive number, not {}", cfg.rate),
            ));
        }
        let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(cfg));
        let (alive_tx, alive_rx) = mpsc::channel(1);
        let app = server::router(server::AppState {
            shared: shared.clone(),
            _alive: alive_tx,
        });
        let token = shared.token.clone();
        let listener = net::CancelListener {
            inner: listener,
            token: token.clone(),
        };
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(token.cancelled_owned());
            // The only error is from a listener that fails fatally; there is
            // nobody to tell, the handle's shutdown still works.
            let _ = serve.await;
        });
        Ok(SimHandle {
            addr,
            shared,
            server: Some(server),
            alive: Some(alive_rx),
        })
    }
}

/// A running sim. Dropping it stops the sim too (without waiting).
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<JoinHandle<()>>,
    alive: Option<mpsc::Receiver<()>>,
}

impl SimHandle {
    /// The bound address (with the real port when listening on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (an unspecified listen address such as
    /// `0.0.0.0` is shown as loopback).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.display_addr())
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.display_addr())
    }

    fn display_addr(&self) -> SocketAddr {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(if a.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        a
    }

    /// Stops the listener and drops every open connection at once, like a
    /// crashing server (WebSockets without a close frame, SSE bodies cut
    /// mid-stream, held long polls cut, idle keep-alive connections closed),
    /// then waits (a few seconds at most) until all connection tasks are
    /// gone. The same address can be bound again right away.
    pub async fn shutdown(mut self) {
        self.shared.token.cancel();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        if let Some(mut server) = self.server.take() {
            if tokio::time::timeout_at(deadline, &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
        if let Some(mut alive) = self.alive.take() {
            // Every connection task holds a sender; `None` means all are gone.
            let _ = tokio::time::timeout_at(deadline, alive.recv()).await;
        }
    }

    /// Every text message any WebSocket client sent to the sim, in order
    /// (the last [`SimConfig::record`]).
    pub fn ws_client_messages(&self) -> Vec<String> {
        lock(&self.shared.ws_messages).iter().cloned().collect()
    }

    /// Recorded HTTP requests (including WebSocket upgrades) whose path
    /// starts with `path_prefix`, oldest first (`""` for all; the last
    /// [`SimConfig::record`]).
    pub fn requests(&self, path_prefix: &str) -> Vec<RecordedRequest> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    /// Replaces the global faults.
    pub fn set_faults(&self, f: Faults) {
        self.shared.set_faults(f);
    }

    /// The global faults now (`fail_next` counts down as requests fail).
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// The config the sim runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.cfg
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shared.token.cancel();
    }
}

/// State shared by all connections of one sim.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cfg: SimConfig,
    pub(crate) started: tokio::time::Instant,
    /// Wall-clock time at `started`, for `Last-Modified`.
    pub(crate) started_wall: std::time::SystemTime,
    pub(crate) token: CancellationToken,
    /// Last seq sent on any non-`count` WebSocket, per host.
    pub(crate) ws_last_seq: Vec<AtomicU64>,
    /// Per-host counters of 200 responses, for `garbage_every` on polls.
    pub(crate) poll_served: Vec<AtomicU64>,
    pub(crate) longpoll_served: Vec<AtomicU64>,
    pub(crate) ws_messages: Mutex<VecDeque<String>>,
    pub(crate) requests: Mutex<VecDeque<RecordedRequest>>,
    fail_next: AtomicU32,
    slow_ms: AtomicU64,
}

impl Shared {
    fn new(cfg: SimConfig) -> Self {
        let counters = || (0..cfg.hosts).map(|_| AtomicU64::new(0)).collect();
        Shared {
            started: tokio::time::Instant::now(),
            started_wall: std::time::SystemTime::now(),
            token: CancellationToken::new(),
            ws_last_seq: counters(),
            poll_served: counters(),
            longpoll_served: counters(),
            ws_messages: Mutex::new(VecDeque::new()),
            requests: Mutex::new(VecDeque::new()),
            fail_next: AtomicU32::new(0),
            slow_ms: AtomicU64::new(0),
            cfg,
        }
    }

    pub(crate) fn host_index(&self, host: &str) -> Option<usize> {
        let n: usize = host.strip_prefix("host-")?.parse().ok()?;
        (1..=self.cfg.hosts).contains(&n).then(|| n - 1)
    }

    pub(crate) fn set_faults(&self, f: Faults) {
        self.fail_next.store(f.fail_next, Ordering::SeqCst);
        let ms = u64::try_from(f.slow.as_millis()).unwrap_or(u64::MAX);
        self.slow_ms.store(ms, Ordering::SeqCst);
    }

    pub(crate) fn faults(&self) -> Faults {
        Faults {
            fail_next: self.fail_next.load(Ordering::SeqCst),
            slow: Duration::from_millis(self.slow_ms.load(Ordering::SeqCst)),
        }
    }

    /// Consumes one `fail_next` if any is left.
    pub(crate) fn take_failure(&self) -> bool {
        self.fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Whether requests and client messages are recorded at all.
    pub(crate) fn records(&self) -> bool {
        self.cfg.record > 0
    }

    pub(crate) fn record_request(&self, r: RecordedRequest) {
        push_capped(&mut lock(&self.requests), r, self.cfg.record);
    }

    pub(crate) fn record_ws_message(&self, m: String) {
        push_capped(&mut lock(&self.ws_messages), m, self.cfg.record);
    }
}

/// Appends `item`, dropping the oldest beyond `cap` (`0` keeps nothing).
fn push_capped<T>(q: &mut VecDeque<T>, item: T, cap: usize) {
    if cap == 0 {
        return;
    }
    while q.len() >= cap {
        q.pop_front();
    }
    q.push_back(item);
}

/// Locks a mutex, ignoring poisoning (the data is append-only records).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
