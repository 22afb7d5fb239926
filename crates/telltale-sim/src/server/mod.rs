//! The HTTP / WebSocket / SSE routes.

use crate::{sample, Faults, RecordedRequest, Shared};
use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
        .route("/graphql", get(graphql::graphql_route))
        .route("/socket.io/", get(socketio::socketio_route))
        .route("/socket.io", get(socketio::socketio_route))
        .route("/grpc.health.v1.Health/Watch", post(grpc::health_watch))
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

/// A streaming route's host (`?host=host-N`) and rate, or the answer
/// that says what is wrong.
fn host_and_rate(shared: &Shared, p: &Params, route: &str) -> Result<(usize, f64), Box<Response>> {
    let Some(host) = p.host.as_deref() else {
        return Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            format!("telltale-sim: {route} needs ?host=host-N\n"),
        )));
    };
    let Some(idx) = shared.host_index(host) else {
        return Err(Box::new(unknown_host(shared, host)));
    };
    Ok((idx, p.rate(shared)?))
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
             GET  /graphql?host=host-N       GraphQL subscription (graphql-transport-ws), one next per sample\n\
             GET  /socket.io/?host=host-N    Socket.IO 4 over WebSocket (EIO=4), one health event per sample\n\
             POST /grpc.health.v1.Health/Watch  gRPC health watch (HTTP/2); service host-N, NOT_SERVING while degraded\n\
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

mod graphql;
mod grpc;
mod http;
mod socketio;
mod sse;
mod stream;
mod ws;

use http::{longpoll_route, metrics_route, poll_route};
use sse::sse_route;
use ws::ws_route;

#[cfg(test)]
mod tests {
    use super::http::etag_matches;
    use super::stream::{After, HostStream, StreamOpts};
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
