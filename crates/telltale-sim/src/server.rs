//! The HTTP / WebSocket / SSE routes.

use crate::{sample, Faults, RecordedRequest, Shared};
use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::SinkExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

/// The payload sent instead of JSON by `garbage_every`.
pub(crate) const GARBAGE: &str = "this is {not json";

/// The WebSocket subprotocol the sim accepts when offered.
pub(crate) const SUBPROTOCOL: &str = "telltale.v1";

/// Largest number of messages per host sent in one burst before the
/// connection gets a chance to read (pings, subscriptions).
const BURST_CAP: u64 = 10_000;

/// Shortest pause between two bursts, so very high rates are sent in
/// batches rather than one flush per message.
const MIN_TICK: Duration = Duration::from_millis(1);

/// Requests at most this far in the future count as "never".
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

/// Largest `big_bytes` frame (larger requests are clamped).
const MAX_BIG_BYTES: usize = 256 << 20;

/// Most events in one long-poll response.
const LONGPOLL_MAX_EVENTS: u64 = 100;

/// Router state. Every clone holds `_alive`, so the sim's handle knows when
/// the last connection (or detached WebSocket / SSE task) is gone.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) _alive: mpsc::Sender<()>,
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/ws", get(ws_route))
        .route("/sse", get(sse_route))
        .route("/sse-wrongtype", get(sse_wrongtype))
        .route("/poll/{host}", get(poll_route))
        .route("/longpoll/{host}", get(longpoll_route))
        .route("/metrics/{host}", get(metrics_route))
        .route("/control/faults", get(get_faults).post(post_faults))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Query parameters understood by the routes (unknown ones are ignored).
#[derive(Debug, Default, Deserialize)]
struct Params {
    host: Option<String>,
    rate: Option<f64>,
    count: Option<u64>,
    binary: Option<String>,
    heartbeat_ms: Option<u64>,
    hold_ms: Option<u64>,
    cursor: Option<u64>,
    drop_every: Option<u64>,
    stall_after: Option<u64>,
    garbage_every: Option<u64>,
    big_bytes: Option<usize>,
    status: Option<u16>,
    slow_ms: Option<u64>,
}

fn nonzero(v: Option<u64>) -> Option<u64> {
    v.filter(|&n| n > 0)
}

impl Params {
    /// The effective rate, or a `400` response for a bad `rate=`.
    fn rate(&self, shared: &Shared) -> Result<f64, Box<Response>> {
        match self.rate {
            None => Ok(shared.cfg.rate),
            Some(r) if r.is_finite() && r > 0.0 => Ok(r),
            Some(r) => Err(Box::new(text(
                StatusCode::BAD_REQUEST,
                format!("telltale-sim: rate must be a positive number, not {r}\n"),
            ))),
        }
    }

    fn slow(&self) -> Option<Duration> {
        nonzero(self.slow_ms).map(Duration::from_millis)
    }

    fn binary(&self) -> bool {
        matches!(self.binary.as_deref(), Some("1" | "true" | "yes"))
    }

    /// The `status=CODE` fault, if any.
    fn status_fault(&self) -> Option<Response> {
        let code = self.status?;
        Some(match StatusCode::from_u16(code) {
            Ok(s) => text(s, format!("telltale-sim: injected status {code}\n")),
            Err(_) => text(
                StatusCode::BAD_REQUEST,
                format!("telltale-sim: status={code} is not an HTTP status\n"),
            ),
        })
    }

    fn is_garbage(&self, nth: u64) -> bool {
        nonzero(self.garbage_every).is_some_and(|n| nth % n == 0)
    }
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn unknown_host(shared: &Shared, host: &str) -> Response {
    let n = shared.cfg.hosts;
    let have = match n {
        0 => "no hosts".to_string(),
        1 => "only host-1".to_string(),
        _ => format!("host-1 … host-{n}"),
    };
    text(
        StatusCode::NOT_FOUND,
        format!("telltale-sim: unknown host `{host}` (this sim has {have})\n"),
    )
}

fn shutting_down() -> Response {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "telltale-sim: shutting down\n",
    )
}

/// Sleeps unless the sim shuts down first; `false` on shutdown.
async fn sleep_or_cancel(d: Duration, token: &CancellationToken) -> bool {
    tokio::select! {
        () = token.cancelled() => false,
        () = sleep(d) => true,
    }
}

async fn sleep_opt(until: Option<Instant>) {
    match until {
        Some(t) => sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// `base + secs`, saturating to far in the future.
fn at(base: Instant, secs: f64) -> Instant {
    Duration::try_from_secs_f64(secs)
        .ok()
        .and_then(|d| base.checked_add(d))
        .unwrap_or_else(|| base + FAR)
}

/// `base + d`, saturating to far in the future.
fn later(base: Instant, d: Duration) -> Instant {
    base.checked_add(d.min(FAR)).unwrap_or(base)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Messages due by `since.elapsed()` at `rate`/s, the first one immediately.
fn due_total(since: Instant, now: Instant, rate: f64) -> u64 {
    let secs = now.saturating_duration_since(since).as_secs_f64();
    ((secs * rate + 1e-9).floor() as u64).saturating_add(1)
}

/// Clock of the HTTP routes: seq `k` is due `(k-1)/rate` after sim start.
fn latest_seq(shared: &Shared, rate: f64) -> u64 {
    due_total(shared.started, Instant::now(), rate)
}

fn elapsed_of_seq(seq: u64, rate: f64) -> Duration {
    Duration::try_from_secs_f64(seq.saturating_sub(1) as f64 / rate).unwrap_or(FAR)
}

fn http_date(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

// ---------------------------------------------------------------------------
// Middleware: recording and global faults.

async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let shared = &st.shared;
    let uri = req.uri();
    let path = uri.path().to_string();
    if shared.records() {
        shared.record_request(RecordedRequest {
            method: req.method().to_string(),
            path: path.clone(),
            query: uri.query().unwrap_or("").to_string(),
            path_and_query: uri
                .path_and_query()
                .map(|pq| pq.to_string())
                .unwrap_or_else(|| path.clone()),
            headers: req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        });
    }

    let faultable = ["/poll/", "/longpoll/", "/sse", "/metrics/"]
        .iter()
        .any(|p| path.starts_with(p));
    if faultable && shared.take_failure() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "telltale-sim: injected failure (fail_next)\n",
        );
    }
    let exempt = path == "/" || path == "/healthz" || path.starts_with("/control/");
    let slow = shared.faults().slow;
    if !exempt && !slow.is_zero() && !sleep_or_cancel(slow, &shared.token).await {
        return shutting_down();
    }
    next.run(req).await
}

// ---------------------------------------------------------------------------
// Plain routes.

async fn index(State(st): State<AppState>) -> Response {
    let c = &st.shared.cfg;
    let incident = match &c.incident {
        Some(i) => format!(
            "incident on {} after {}, ramp {}, hold {}",
            i.host,
            crate::format_duration(i.start_after),
            crate::format_duration(i.ramp),
            crate::format_duration(i.hold)
        ),
        None => "no incident".into(),
    };
    text(
        StatusCode::OK,
        format!(
            "telltale-sim: {} hosts (host-1 … host-{}), {} msg/s per host, seed {}, {incident}\n\
             \n\
             GET  /ws[?host=host-N]          WebSocket health frames (all hosts without host=;\n\
             \x20                               send {{\"subscribe\":\"host-N\"}} to add one)\n\
             GET  /sse?host=host-N           Server-Sent Events (id = seq, event = health; Last-Event-ID resumes)\n\
             GET  /sse-wrongtype             200 with content-type text/plain\n\
             GET  /poll/{{host}}               current sample, ETag \"<seq>\" / If-None-Match -> 304\n\
             GET  /longpoll/{{host}}?cursor=N  {{\"cursor\":M,\"events\":[seq N+1..=M]}} or 204 after the hold\n\
             GET  /metrics/{{host}}            Prometheus text exposition\n\
             GET  /healthz                   ok\n\
             GET|POST /control/faults        global faults as JSON {{\"fail_next\":3,\"slow_ms\":0}}\n\
             \n\
             query: rate=R count=N binary=1 heartbeat_ms=N hold_ms=N\n\
             faults: drop_every=N stall_after=N garbage_every=N big_bytes=N status=CODE slow_ms=N\n",
            c.hosts, c.hosts, c.rate, c.seed
        ),
    )
}

async fn not_found(req: Request) -> Response {
    text(
        StatusCode::NOT_FOUND,
        format!(
            "telltale-sim: no route for {} {} (GET / lists the routes)\n",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn sse_wrongtype() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain")],
        "this is not an event stream\n",
    )
        .into_response()
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FaultsJson {
    fail_next: u32,
    slow_ms: u64,
}

impl From<Faults> for FaultsJson {
    fn from(f: Faults) -> Self {
        FaultsJson {
            fail_next: f.fail_next,
            slow_ms: u64::try_from(f.slow.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

fn json_response<T: Serialize>(v: &T) -> Response {
    match serde_json::to_string(v) {
        Ok(s) => (
            [(header::CONTENT_TYPE, "application/json")],
            format!("{s}\n"),
        )
            .into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_faults(State(st): State<AppState>) -> Response {
    json_response(&FaultsJson::from(st.shared.faults()))
}

/// Accepts the JSON whatever the content type, so `curl -d` works.
async fn post_faults(State(st): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultsJson>(&body) {
        Ok(f) => {
            st.shared.set_faults(Faults {
                fail_next: f.fail_next,
                slow: Duration::from_millis(f.slow_ms),
            });
            json_response(&FaultsJson::from(st.shared.faults()))
        }
        Err(e) => text(
            StatusCode::BAD_REQUEST,
            format!("telltale-sim: expected JSON like {{\"fail_next\":3,\"slow_ms\":0}}: {e}\n"),
        ),
    }
}

// ---------------------------------------------------------------------------
// Poll, long poll, metrics.

fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
    })
}

/// What the plain HTTP routes do first: resolve the host and the rate,
/// then apply the `slow_ms` and `status` faults. `Err` is the response to send.
async fn request_prologue(
    shared: &Shared,
    host: &str,
    p: &Params,
) -> Result<(usize, f64), Box<Response>> {
    let Some(idx) = shared.host_index(host) else {
        return Err(Box::new(unknown_host(shared, host)));
    };
    let rate = p.rate(shared)?;
    if let Some(d) = p.slow() {
        if !sleep_or_cancel(d, &shared.token).await {
            return Err(Box::new(shutting_down()));
        }
    }
    if let Some(resp) = p.status_fault() {
        return Err(Box::new(resp));
    }
    Ok((idx, rate))
}

async fn poll_route(
    State(st): State<AppState>,
    Path(host): Path<String>,
    Query(p): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let shared = &st.shared;
    let (idx, rate) = match request_prologue(shared, &host, &p).await {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let seq = latest_seq(shared, rate);
    let elapsed = elapsed_of_seq(seq, rate);
    let etag = format!("\"{seq}\"");
    let modified = shared
        .started_wall
        .checked_add(elapsed)
        .unwrap_or(shared.started_wall);
    let last_modified = http_date(modified);
    let not_modified = match headers.get(header::IF_NONE_MATCH) {
        Some(inm) => etag_matches(&String::from_utf8_lossy(inm.as_bytes()), &etag),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .is_some_and(|since| {
                let m = chrono::DateTime::<chrono::Utc>::from(modified).timestamp();
                m <= since.timestamp()
            }),
    };
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let nth = shared.poll_served[idx].fetch_add(1, Ordering::Relaxed) + 1;
        let body = if p.is_garbage(nth) {
            GARBAGE.to_string()
        } else {
            sample(idx, seq, elapsed, &shared.cfg).to_json(now_ms())
        };
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&last_modified) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn longpoll_route(
    State(st): State<AppState>,
    Path(host): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let shared = &st.shared;
    let (idx, rate) = match request_prologue(shared, &host, &p).await {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let cursor = p.cursor.unwrap_or(0);
    let hold = p
        .hold_ms
        .map(Duration::from_millis)
        .unwrap_or(shared.cfg.long_poll_hold);
    let deadline = later(Instant::now(), hold);
    if latest_seq(shared, rate) <= cursor {
        // Seq cursor+1 is due (cursor)/rate after the start.
        let due = at(shared.started, cursor as f64 / rate);
        tokio::select! {
            () = shared.token.cancelled() => return shutting_down(),
            () = sleep_until(due.min(deadline)) => {}
        }
        if due > deadline {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
    let latest = latest_seq(shared, rate).max(cursor.saturating_add(1));
    let last = latest.min(cursor.saturating_add(LONGPOLL_MAX_EVENTS));
    let nth = shared.longpoll_served[idx].fetch_add(1, Ordering::Relaxed) + 1;
    let body = if p.is_garbage(nth) {
        GARBAGE.to_string()
    } else {
        let ts = now_ms();
        let mut body = String::with_capacity(64 + 160 * (last - cursor) as usize);
        body.push_str("{\"cursor\":");
        body.push_str(&last.to_string());
        body.push_str(",\"events\":[");
        for seq in cursor.saturating_add(1)..=last {
            if !body.ends_with('[') {
                body.push(',');
            }
            let s = sample(idx, seq, elapsed_of_seq(seq, rate), &shared.cfg);
            body.push_str(&s.to_json(ts));
        }
        body.push_str("]}");
        body
    };
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn metrics_route(
    State(st): State<AppState>,
    Path(host): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let shared = &st.shared;
    let (idx, rate) = match request_prologue(shared, &host, &p).await {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let seq = latest_seq(shared, rate);
    let s = sample(idx, seq, elapsed_of_seq(seq, rate), &shared.cfg);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.to_prometheus(),
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// Streams shared by WebSocket and SSE.

/// Per-connection stream options from the query.
#[derive(Debug, Clone)]
struct StreamOpts {
    rate: f64,
    count: Option<u64>,
    drop_every: Option<u64>,
    stall_after: Option<u64>,
    slow: Option<Duration>,
    garbage: Option<u64>,
}

impl StreamOpts {
    fn new(p: &Params, rate: f64) -> Self {
        StreamOpts {
            rate,
            count: p.count,
            drop_every: nonzero(p.drop_every),
            stall_after: p.stall_after,
            slow: p.slow(),
            garbage: nonzero(p.garbage_every),
        }
    }

    /// What to do after the `nth` message on a connection.
    fn after(&self, nth: u64) -> After {
        if self.drop_every.is_some_and(|n| nth % n == 0) {
            After::Drop
        } else if self.stall_after.is_some_and(|n| nth >= n) {
            After::Stall
        } else {
            After::Go
        }
    }

    fn stalled_from_start(&self) -> bool {
        self.stall_after == Some(0)
    }

    fn is_garbage(&self, nth: u64) -> bool {
        self.garbage.is_some_and(|n| nth % n == 0)
    }
}

#[derive(Debug, PartialEq)]
enum After {
    Go,
    Stall,
    Drop,
}

/// One host's messages on one connection.
#[derive(Debug)]
struct HostStream {
    idx: usize,
    next_seq: u64,
    /// Last seq to send (`count`), if bounded.
    last_seq: Option<u64>,
    started: Instant,
    sent: u64,
}

impl HostStream {
    fn remaining(&self) -> bool {
        self.last_seq.is_none_or(|l| self.next_seq <= l)
    }

    /// When the next message is due.
    fn due_at(&self, rate: f64) -> Option<Instant> {
        self.remaining()
            .then(|| at(self.started, self.sent as f64 / rate))
    }

    /// How many messages are due now (capped at [`BURST_CAP`]).
    fn due_now(&self, rate: f64, now: Instant) -> u64 {
        if !self.remaining() {
            return 0;
        }
        let mut due = due_total(self.started, now, rate).saturating_sub(self.sent);
        if let Some(l) = self.last_seq {
            due = due.min((l - self.next_seq).saturating_add(1));
        }
        due.min(BURST_CAP)
    }
}

// ---------------------------------------------------------------------------
// WebSocket.

async fn ws_route(
    State(st): State<AppState>,
    Query(p): Query<Params>,
    ws: WebSocketUpgrade,
) -> Response {
    let shared = &st.shared;
    let hosts: Vec<usize> = match &p.host {
        Some(h) => match shared.host_index(h) {
            Some(i) => vec![i],
            None => return unknown_host(shared, h),
        },
        None => (0..shared.cfg.hosts).collect(),
    };
    let rate = match p.rate(shared) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    if let Some(d) = p.slow() {
        if !sleep_or_cancel(d, &shared.token).await {
            return shutting_down();
        }
    }
    let opts = StreamOpts::new(&p, rate);
    let binary = p.binary();
    let big = p.big_bytes.map(|n| n.min(MAX_BIG_BYTES));
    ws.protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| ws_session(socket, st, opts, hosts, binary, big))
}

fn ws_stream(shared: &Shared, idx: usize, opts: &StreamOpts) -> HostStream {
    let next_seq = match opts.count {
        Some(_) => 1,
        None => shared.ws_last_seq[idx]
            .load(Ordering::SeqCst)
            .saturating_add(1),
    };
    HostStream {
        idx,
        next_seq,
        last_seq: opts.count,
        started: Instant::now(),
        sent: 0,
    }
}

/// Hosts named by a `{"subscribe":"host-2"}` (or `["host-1","host-2"]`) message.
fn subscriptions(shared: &Shared, msg: &str) -> Vec<usize> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(msg) else {
        return Vec::new();
    };
    let names: Vec<&str> = match v.get("subscribe") {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str()).collect(),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .filter_map(|n| shared.host_index(n))
        .collect()
}

async fn ws_session(
    mut socket: WebSocket,
    st: AppState,
    opts: StreamOpts,
    hosts: Vec<usize>,
    binary: bool,
    big_bytes: Option<usize>,
) {
    let shared = st.shared.clone();
    let token = shared.token.clone();
    let rate = opts.rate;
    let shared_seq = opts.count.is_none();
    let mut streams: Vec<HostStream> = hosts
        .into_iter()
        .map(|i| ws_stream(&shared, i, &opts))
        .collect();

    if let Some(n) = big_bytes {
        let pad = "x".repeat(n.saturating_sub(10));
        let msg = format!("{{\"pad\":\"{pad}\"}}");
        if socket.send(Message::Text(msg.into())).await.is_err() {
            return;
        }
    }

    let mut conn_sent: u64 = 0;
    let mut stalled = opts.stalled_from_start();
    let mut not_before = Instant::now();
    loop {
        let wake = if stalled {
            None
        } else {
            streams
                .iter()
                .filter_map(|s| s.due_at(rate))
                .min()
                .map(|w| w.max(not_before))
        };
        tokio::select! {
            biased;
            // Dropping the socket closes the TCP stream without a close frame.
            () = token.cancelled() => return,
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let t = t.to_string();
                    for idx in subscriptions(&shared, &t) {
                        if !streams.iter().any(|s| s.idx == idx) {
                            streams.push(ws_stream(&shared, idx, &opts));
                        }
                    }
                    shared.record_ws_message(t);
                }
                Some(Ok(Message::Close(_))) => {
                    // Sends the queued close reply.
                    let _ = socket.flush().await;
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            () = sleep_opt(wake) => {
                let now = Instant::now();
                let mut due: Vec<u64> = streams.iter().map(|s| s.due_now(rate, now)).collect();
                let mut more = true;
                'burst: while more {
                    more = false;
                    for (i, s) in streams.iter_mut().enumerate() {
                        if due[i] == 0 {
                            continue;
                        }
                        due[i] -= 1;
                        more = true;
                        if let Some(d) = opts.slow {
                            if socket.flush().await.is_err() || !sleep_or_cancel(d, &token).await {
                                return;
                            }
                        }
                        let seq = s.next_seq;
                        s.next_seq = seq.saturating_add(1);
                        s.sent += 1;
                        conn_sent += 1;
                        let payload = if opts.is_garbage(conn_sent) {
                            GARBAGE.to_string()
                        } else {
                            let elapsed = shared.started.elapsed();
                            sample(s.idx, seq, elapsed, &shared.cfg).to_json(now_ms())
                        };
                        let msg = if binary {
                            Message::Binary(Bytes::from(payload))
                        } else {
                            Message::Text(payload.into())
                        };
                        if socket.feed(msg).await.is_err() {
                            return;
                        }
                        if shared_seq {
                            shared.ws_last_seq[s.idx].fetch_max(seq, Ordering::SeqCst);
                        }
                        match opts.after(conn_sent) {
                            After::Go => {}
                            After::Drop => {
                                // Deliver what was sent, then vanish: no close frame.
                                let _ = socket.flush().await;
                                return;
                            }
                            After::Stall => {
                                stalled = true;
                                break 'burst;
                            }
                        }
                    }
                }
                if socket.flush().await.is_err() {
                    return;
                }
                not_before = Instant::now() + MIN_TICK;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Server-Sent Events.

type Chunk = Result<Bytes, std::io::Error>;

async fn sse_route(
    State(st): State<AppState>,
    Query(p): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let shared = &st.shared;
    let Some(host) = &p.host else {
        return text(
            StatusCode::BAD_REQUEST,
            "telltale-sim: /sse needs ?host=host-N\n",
        );
    };
    let Some(idx) = shared.host_index(host) else {
        return unknown_host(shared, host);
    };
    let rate = match p.rate(shared) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    if let Some(d) = p.slow() {
        if !sleep_or_cancel(d, &shared.token).await {
            return shutting_down();
        }
    }
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let heartbeat = p
        .heartbeat_ms
        .map(Duration::from_millis)
        .unwrap_or(shared.cfg.sse_heartbeat)
        .max(Duration::from_millis(1));
    let opts = StreamOpts::new(&p, rate);
    let (tx, rx) = mpsc::channel::<Chunk>(8);
    tokio::spawn(sse_producer(
        tx,
        st.clone(),
        idx,
        last_id.saturating_add(1),
        opts,
        heartbeat,
    ));
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}

async fn sse_producer(
    tx: mpsc::Sender<Chunk>,
    st: AppState,
    idx: usize,
    first_seq: u64,
    opts: StreamOpts,
    heartbeat: Duration,
) {
    let shared = st.shared.clone();
    let token = shared.token.clone();
    let rate = opts.rate;
    if tx
        .send(Ok(Bytes::from_static(b"retry: 1000\n\n")))
        .await
        .is_err()
    {
        return;
    }
    let mut stream = HostStream {
        idx,
        next_seq: first_seq,
        last_seq: opts.count,
        started: Instant::now(),
        sent: 0,
    };
    let mut conn_sent: u64 = 0;
    let mut stalled = opts.stalled_from_start();
    let mut next_hb = later(Instant::now(), heartbeat);
    let mut not_before = Instant::now();
    loop {
        let data_wake = if stalled {
            None
        } else {
            stream.due_at(rate).map(|w| w.max(not_before))
        };
        let hb_wake = (!stalled).then_some(next_hb);
        tokio::select! {
            biased;
            () = token.cancelled() => {
                // Cut the response mid-stream, like a crashing server.
                let _ = tx.try_send(Err(std::io::Error::other("telltale-sim shut down")));
                return;
            }
            () = tx.closed() => return,
            () = sleep_opt(hb_wake) => {
                if tx.send(Ok(Bytes::from_static(b": hb\n\n"))).await.is_err() {
                    return;
                }
                next_hb = later(next_hb, heartbeat);
                let now = Instant::now();
                if next_hb < now {
                    next_hb = later(now, heartbeat);
                }
            }
            () = sleep_opt(data_wake) => {
                let due = stream.due_now(rate, Instant::now());
                let mut chunk = String::new();
                let mut end = After::Go;
                for _ in 0..due {
                    if let Some(d) = opts.slow {
                        if !chunk.is_empty()
                            && tx.send(Ok(Bytes::from(std::mem::take(&mut chunk)))).await.is_err()
                        {
                            return;
                        }
                        if !sleep_or_cancel(d, &token).await {
                            return;
                        }
                    }
                    let seq = stream.next_seq;
                    stream.next_seq = seq.saturating_add(1);
                    stream.sent += 1;
                    conn_sent += 1;
                    let data = if opts.is_garbage(conn_sent) {
                        GARBAGE.to_string()
                    } else {
                        sample(idx, seq, shared.started.elapsed(), &shared.cfg).to_json(now_ms())
                    };
                    chunk.push_str("id: ");
                    chunk.push_str(&seq.to_string());
                    chunk.push_str("\nevent: health\ndata: ");
                    chunk.push_str(&data);
                    chunk.push_str("\n\n");
                    end = opts.after(conn_sent);
                    if end != After::Go {
                        break;
                    }
                }
                if !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                    return;
                }
                match end {
                    // Ending the body ends the response cleanly.
                    After::Drop => return,
                    After::Stall => stalled = true,
                    After::Go => {}
                }
                not_before = Instant::now() + MIN_TICK;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        assert!(etag_matches("\"5\"", "\"5\""));
        assert!(etag_matches("W/\"5\"", "\"5\""));
        assert!(etag_matches("\"4\", \"5\"", "\"5\""));
        assert!(etag_matches("*", "\"5\""));
        assert!(!etag_matches("\"4\"", "\"5\""));
    }

    #[test]
    fn http_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_764_090_000);
        assert_eq!(http_date(t), "Tue, 25 Nov 2025 17:00:00 GMT");
    }

    #[test]
    fn after_rules() {
        let o = StreamOpts {
            rate: 1.0,
            count: None,
            drop_every: Some(3),
            stall_after: Some(5),
            slow: None,
            garbage: Some(2),
        };
        assert_eq!(o.after(1), After::Go);
        assert_eq!(o.after(3), After::Drop);
        assert_eq!(o.after(5), After::Stall);
        assert!(o.is_garbage(4) && !o.is_garbage(3));
    }

    #[test]
    fn due_counts() {
        let t0 = Instant::now();
        assert_eq!(due_total(t0, t0, 1.0), 1);
        assert_eq!(due_total(t0, t0 + Duration::from_millis(999), 1.0), 1);
        assert_eq!(due_total(t0, t0 + Duration::from_secs(1), 1.0), 2);
        assert_eq!(
            due_total(t0, t0 + Duration::from_millis(10), 200_000.0),
            2001
        );
        let s = HostStream {
            idx: 0,
            next_seq: 4,
            last_seq: Some(5),
            started: t0,
            sent: 0,
        };
        assert_eq!(s.due_now(1000.0, t0 + Duration::from_secs(1)), 2);
    }
}
