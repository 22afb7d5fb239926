//! The HTTP server: the [`Api`] under `/api` as JSON, the live stream as a
//! WebSocket at `/api/live`, and the built web UI at `/`.
//!
//! | method | path | Api method | success |
//! |---|---|---|---|
//! | GET | `/api/feeds` | [`Api::list_feeds`] | 200 `FeedView[]` |
//! | POST | `/api/feeds` | [`Api::upsert_feed`] (body `FeedConfig`) | 200 `FeedView` |
//! | GET | `/api/feeds/{name}` | [`Api::get_feed`] | 200 `FeedDetail` |
//! | PUT | `/api/feeds/{name}` | [`Api::upsert_feed`] (body's name must match) | 200 `FeedView` |
//! | DELETE | `/api/feeds/{name}` | [`Api::delete_feed`] | 204 |
//! | GET | `/api/feeds/{name}/series?metric=&labels=&from=&to=&max_points=` | [`Api::series`] | 200 `SeriesView` |
//! | GET | `/api/feeds/{name}/timeline?from=&to=` | [`Api::timeline`] | 200 `TimelineView` |
//! | POST | `/api/probe` | [`Api::test_feed`] (body `ProbeInput`) | 200 `ProbeReport` |
//! | GET | `/api/events?feed=&before_id=&search=&limit=` | [`Api::events`] | 200 `EventPage` |
//! | GET | `/api/alerts` | [`Api::alerts`] | 200 `AlertView[]` |
//! | GET | `/api/alerts/{id}/history` | [`Api::alert_history`] | 200 `AlertHistoryView[]` |
//! | POST | `/api/alerts/actions` | [`Api::alert_action`] (body `AlertActionInput`) | 204 |
//! | GET | `/api/mute` | [`Api::mute_state`] | 200 `MuteView` |
//! | GET | `/api/db/stats` | [`Api::db_stats`] | 200 `DbStatsView` |
//! | POST | `/api/db/compact` | [`Api::compact_db`] | 200 `CompactView` |
//! | GET | `/api/settings` | [`Api::settings`] | 200 `SettingsView` |
//! | PUT | `/api/settings` | [`Api::update_settings`] (body `SettingsView`) | 200 `SettingsView` |
//! | GET | `/api/config/export` | [`Api::export_config`] | 200 TOML (`text/plain`) |
//! | POST | `/api/config/import` | [`Api::import_config`] (TOML body, `application/toml`) | 200 `ImportReport` |
//! | POST | `/api/call/{op}` | any operation of [`crate::ops`] (body: its request as JSON) | 200 its response as JSON |
//! | GET | `/api/live` | [`Api::live`] (WebSocket) | `LiveMessage` JSON text frames |
//!
//! The UI uses `/api/call/{op}` only: the operations are declared once in
//! [`crate::ops`], with their request types and defaults. The other routes
//! are the same operations in REST form for scripts and `curl`.
//!
//! Times in queries are ms since the Unix epoch; `from`/`to` default to the
//! last hour, `max_points` to 600, `limit` to 100. `labels` is a JSON object
//! (`{"mode":"idle"}`), URL-encoded. JSON bodies need
//! `Content-Type: application/json`. Errors are `{code, message}` with the
//! status listed on [`ApiError`].
//!
//! Security (the details are in the `guard` module):
//!
//! * Listening on anything but a loopback address requires a token.
//! * With a token, every `/api` request needs `Authorization: Bearer <token>`
//!   (the WebSocket may pass `?token=<token>` instead, since browsers cannot
//!   set headers on WebSockets); tokens are compared in constant time.
//! * Without a token (loopback only), `/api` answers only to loopback host
//!   names (`localhost`, `127.0.0.1`, `[::1]`), which defeats DNS rebinding,
//!   and refuses requests without a `Host`.
//! * Browsers' requests are accepted from the server's own origin only, or
//!   from origins listed in [`ServeOptions::allow_origins`]
//!   (`--allow-origin`): another `Origin`, another port of `localhost`
//!   included, or `Sec-Fetch-Site: cross-site`/`same-site` is `403
//!   forbidden`, on the WebSocket upgrade too.
//! * `POST`, `PUT` and `DELETE` must be JSON or TOML (`Content-Type:
//!   application/json` / `application/toml`) or carry `X-Telltale-Request`,
//!   which pages can only send after a CORS preflight.
//! * Every response carries a strict `Content-Security-Policy` ([`CSP`]) and
//!   `X-Content-Type-Options: nosniff`; the UI directory serves no dotfiles
//!   and follows no links out of itself.

use crate::error::{ApiError, ErrorCode};
use crate::input::AlertActionInput;
use crate::views::LabelsView;
use crate::Api;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use telltale_model::FeedConfig;
use tokio_util::sync::CancellationToken;

mod guard;
mod live_socket;
mod ui_files;

pub use guard::{normalize_origin, OriginError, REQUEST_HEADER};

/// The Content-Security-Policy sent with every response.
///
/// `connect-src 'self'` covers the UI's own `ws://`/`wss://` live stream;
/// nothing may load plugins (`object-src`), rebase relative URLs
/// (`base-uri`), receive a form (`form-action`) or frame the page
/// (`frame-ancestors`).
pub const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'";

/// How long shutdown waits for open requests before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where and how to serve.
#[derive(Clone)]
pub struct ServeOptions {
    /// Address to listen on (`127.0.0.1:7878`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// API token; required unless `listen` is a loopback address.
    pub token: Option<String>,
    /// The built web UI (`ui/dist`), served at `/`.
    pub ui_dir: Option<PathBuf>,
    /// Web origins besides the server's own whose pages may use the API
    /// (`http://localhost:5173`); each gets CORS headers. Checked by
    /// [`ServeOptions::check`].
    pub allow_origins: Vec<String>,
}

impl ServeOptions {
    /// Loopback-only defaults: no token, no UI, no other origins.
    pub fn new(listen: SocketAddr) -> ServeOptions {
        ServeOptions {
            listen,
            token: None,
            ui_dir: None,
            allow_origins: Vec::new(),
        }
    }

    /// Checks the options that need no I/O ([`check_listen`] and the
    /// allowed origins); [`bind`] checks them again.
    pub fn check(&self) -> Result<(), ServeError> {
        check_listen(self.listen, self.token.as_deref())?;
        self.normalized_origins().map(|_| ())
    }

    fn normalized_origins(&self) -> Result<Vec<String>, ServeError> {
        self.allow_origins
            .iter()
            .map(|o| normalize_origin(o).map_err(ServeError::AllowOrigin))
            .collect()
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "••••••"))
            .field("ui_dir", &self.ui_dir)
            .field("allow_origins", &self.allow_origins)
            .finish()
    }
}

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without a token.
    #[error("refusing to serve on {addr} without a token: anyone who can reach that address could read and change your feeds. Pass --token (or set TELLTALE_TOKEN) with a long random value, or listen on 127.0.0.1")]
    TokenRequired {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// An `--allow-origin` that is not an origin.
    #[error(transparent)]
    AllowOrigin(#[from] guard::OriginError),
    /// An empty token.
    #[error("the API token is empty: use a long random value (e.g. `openssl rand -hex 32`)")]
    EmptyToken,
    /// The UI directory is unusable.
    #[error("UI directory {path}: {reason}")]
    UiDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("the HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks that `listen` and `token` may be combined: any address other than
/// loopback (`127.0.0.0/8`, `::1`) needs a non-empty token.
pub fn check_listen(listen: SocketAddr, token: Option<&str>) -> Result<(), ServeError> {
    match token {
        Some(t) if t.trim().is_empty() => Err(ServeError::EmptyToken),
        Some(_) => Ok(()),
        None if is_loopback(listen.ip()) => Ok(()),
        None => Err(ServeError::TokenRequired { addr: listen }),
    }
}

use guard::is_loopback;

/// Serves `api` on `listen` until the process ends (see [`bind`] to choose
/// when to stop).
pub async fn serve(
    api: Api,
    listen: SocketAddr,
    token: Option<String>,
    ui_dir: Option<PathBuf>,
) -> Result<(), ServeError> {
    let server = bind(
        api,
        ServeOptions {
            token,
            ui_dir,
            ..ServeOptions::new(listen)
        },
    )
    .await?;
    server.run(std::future::pending()).await
}

/// Checks the options and binds the listener; [`Server::run`] then serves.
pub async fn bind(api: Api, opts: ServeOptions) -> Result<Server, ServeError> {
    check_listen(opts.listen, opts.token.as_deref())?;
    let allow_origins = opts.normalized_origins()?;
    let mut ui = None;
    if let Some(dir) = &opts.ui_dir {
        if !dir.is_dir() {
            return Err(ServeError::UiDir {
                path: dir.clone(),
                reason: "is not a directory; build the UI first (`npm run build` in ui/) or leave out --ui-dir".into(),
            });
        }
        if !dir.join("index.html").is_file() {
            tracing::warn!(
                "UI directory {} has no index.html: is it the build output?",
                dir.display()
            );
        }
        let files = ui_files::UiFiles::new(dir).map_err(|e| ServeError::UiDir {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        ui = Some(Arc::new(files));
    }
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let with_token = opts.token.is_some();
    if !allow_origins.is_empty() {
        tracing::info!(
            "pages from {} may use the API (--allow-origin)",
            allow_origins.join(", ")
        );
    }
    let state = AppState {
        api,
        policy: Arc::new(guard::Policy::new(opts.token.as_deref(), allow_origins)),
        shutdown: shutdown.clone(),
    };
    let app = router(state, ui);
    tracing::info!(
        "serving Telltale on http://{addr} (API under /api{})",
        if with_token { ", token required" } else { "" }
    );
    Ok(Server {
        listener,
        app,
        addr,
        shutdown,
    })
}

/// A bound server, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: Router,
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// The bound address (with the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `signal` resolves, then closes live WebSockets (code
    /// 1001) and waits up to 5 s for open requests.
    pub async fn run(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let token = self.shutdown.clone();
        let graceful = async move {
            signal.await;
            token.cancel();
        };
        let serving = axum::serve(self.listener, self.app).with_graceful_shutdown(graceful);
        let cancelled = self.shutdown.clone();
        tokio::select! {
            r = serving => r.map_err(ServeError::Io),
            _ = async move {
                cancelled.cancelled().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!("HTTP requests still open after {}s; stopping anyway", SHUTDOWN_GRACE.as_secs());
                Ok(())
            }
        }
    }
}

#[derive(Clone)]
struct AppState {
    api: Api,
    policy: Arc<guard::Policy>,
    shutdown: CancellationToken,
}

fn router(state: AppState, ui: Option<Arc<ui_files::UiFiles>>) -> Router {
    let api = Router::new()
        .route("/feeds", get(list_feeds).post(create_feed))
        .route(
            "/feeds/{name}",
            get(get_feed).put(put_feed).delete(delete_feed),
        )
        .route("/feeds/{name}/series", get(series))
        .route("/feeds/{name}/timeline", get(timeline))
        .route("/probe", axum::routing::post(probe_feed))
        .route("/events", get(events))
        .route("/alerts", get(alerts))
        .route("/alerts/{id}/history", get(alert_history))
        .route("/alerts/actions", axum::routing::post(alert_action))
        .route("/mute", get(mute_state))
        .route("/health", get(health))
        .route("/db/stats", get(db_stats))
        .route("/db/compact", axum::routing::post(compact_db))
        .route("/settings", get(get_settings).put(put_settings))
        .route("/config/export", get(export_config))
        .route("/config/import", axum::routing::post(import_config))
        .route("/call/{op}", axum::routing::post(call_op))
        .route("/live", get(live_socket::live))
        .fallback(api_not_found)
        .method_not_allowed_fallback(api_method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state);
    let app = Router::new().nest("/api", api);
    let app = match ui {
        Some(ui) => app.fallback(move |req: Request| async move { ui.serve(req).await }),
        None => app.route("/", get(no_ui)).fallback(not_found_text),
    };
    app.layer(middleware::map_response(security_headers))
}

// ---- responses ------------------------------------------------------------

impl ApiError {
    /// The HTTP status for this error's code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut res = (status, Json(self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"telltale\""),
            );
        }
        res
    }
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn no_ui() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Telltale is running, but the web UI is not being served.\n\n\
         Build it (in ui/: npm install && npm run build) and start the server with\n\
         `telltaled serve --ui-dir ui/dist`. The API is under /api (e.g. GET /api/feeds),\n\
         the live stream is the WebSocket /api/live.\n",
    )
}

async fn not_found_text() -> Response {
    ui_files::not_found()
}

async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "there is no API route {}; see crates/telltale-api/README.md",
        uri.path()
    ))
}

async fn api_method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method",
    )
}

// ---- guard: host, origin, token, simple requests -----------------------------

async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = match st.policy.check(req.method(), req.headers(), req.uri()) {
        Err(e) => return e.into_response(),
        Ok(guard::Pass::Preflight(origin)) => {
            let mut res = StatusCode::NO_CONTENT.into_response();
            guard::cors_headers(res.headers_mut(), origin, true);
            res
        }
        Ok(guard::Pass::Handler(cors)) => {
            let mut res = next.run(req).await;
            if let Some(origin) = cors {
                guard::cors_headers(res.headers_mut(), origin, false);
            }
            res
        }
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

// ---- request parsing -------------------------------------------------------

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Parses a JSON body, naming the field at fault. Errors in the content
/// carry `code` (e.g. `invalid_feed`).
fn parse_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    code: ErrorCode,
) -> Result<T, ApiError> {
    if content_type(headers) != "application/json" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = inner.to_string();
        let text = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(m, _)| m)
            .to_string();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::invalid_request(format!("the body is not valid JSON: {text}"))
        } else if path == "." || path.is_empty() {
            ApiError::new(code, text)
        } else {
            ApiError::new(code, format!("field `{path}`: {text}"))
        }
    })
}

fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::invalid_request(e.body_text()))
}

use crate::ops::range;

// ---- handlers -------------------------------------------------------------

type ApiResult<T> = Result<T, ApiError>;

/// `POST /api/call/{op}`: any operation of [`crate::ops`], its request as
/// the JSON body (an empty body counts as `{}`).
async fn call_op(
    State(st): State<AppState>,
    Path(op): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let request: serde_json::Value = if body.is_empty() {
        serde_json::Value::Null
    } else {
        parse_json(&headers, &body, ErrorCode::InvalidRequest)?
    };
    Ok(Json(crate::dispatch(&st.api, &op, request).await?))
}

async fn list_feeds(State(st): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.api.list_feeds().await?))
}

async fn create_feed(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let input: FeedConfig = parse_json(&headers, &body, ErrorCode::InvalidFeed)?;
    Ok(Json(st.api.upsert_feed(input).await?))
}

async fn probe_feed(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let input: crate::ProbeInput = parse_json(&headers, &body, ErrorCode::InvalidFeed)?;
    Ok(Json(st.api.test_feed(input).await?))
}

async fn get_feed(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.api.get_feed(&name).await?))
}

async fn put_feed(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let input: FeedConfig = parse_json(&headers, &body, ErrorCode::InvalidFeed)?;
    if input.name != name {
        return Err(ApiError::invalid_feed(
            &name,
            "name",
            format!(
                "is `{}`, but the URL names `{name}`: feeds cannot be renamed (create the new one, then delete the old one)",
                input.name
            ),
        ));
    }
    Ok(Json(st.api.upsert_feed(input).await?))
}

async fn delete_feed(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    st.api.delete_feed(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct SeriesParams {
    metric: String,
    labels: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    max_points: Option<u32>,
}

async fn series(
    State(st): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
) -> ApiResult<impl IntoResponse> {
    let p: SeriesParams = query(&uri)?;
    let labels: LabelsView = match p.labels.as_deref().filter(|l| !l.is_empty()) {
        Some(text) => serde_json::from_str(text).map_err(|e| {
            ApiError::invalid_request(format!(
                "`labels` must be a JSON object of strings, e.g. {{\"mode\":\"idle\"}}: {e}"
            ))
        })?,
        None => LabelsView::new(),
    };
    let (from, to) = range(p.from, p.to);
    Ok(Json(
        st.api
            .series(
                &name,
                &p.metric,
                &labels,
                from,
                to,
                p.max_points.unwrap_or(crate::ops::DEFAULT_MAX_POINTS),
            )
            .await?,
    ))
}

#[derive(Deserialize)]
struct RangeParams {
    from: Option<i64>,
    to: Option<i64>,
}

async fn timeline(
    State(st): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
) -> ApiResult<impl IntoResponse> {
    let p: RangeParams = query(&uri)?;
    let (from, to) = range(p.from, p.to);
    Ok(Json(st.api.timeline(&name, from, to).await?))
}

#[derive(Deserialize)]
struct EventParams {
    feed: Option<String>,
    before_id: Option<i64>,
    search: Option<String>,
    limit: Option<u32>,
}

async fn events(State(st): State<AppState>, uri: Uri) -> ApiResult<impl IntoResponse> {
    let p: EventParams = query(&uri)?;
    Ok(Json(
        st.api
            .events(
                p.feed.as_deref(),
                p.before_id,
                p.search.as_deref(),
                p.limit.unwrap_or(crate::ops::DEFAULT_EVENTS_LIMIT),
            )
            .await?,
    ))
}

async fn alerts(State(st): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.api.alerts().await?))
}

async fn alert_history(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid_request(format!("`{id}` is not an alert id")))?;
    Ok(Json(st.api.alert_history(id).await?))
}

async fn alert_action(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let action: AlertActionInput = parse_json(&headers, &body, ErrorCode::InvalidRequest)?;
    st.api.alert_action(action).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn mute_state(State(st): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.api.mute_state().await?))
}

async fn health(State(st): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.api.health().await?))
}

async fn db_stats(State(st): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.api.db_stats().await?))
}

async fn compact_db(State(st): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.api.compact_db().await?))
}

async fn get_settings(State(st): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(st.api.settings().await?))
}

async fn put_settings(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let input: crate::SettingsInput = parse_json(&headers, &body, ErrorCode::InvalidSettings)?;
    Ok(Json(st.api.update_settings(input).await?))
}

async fn export_config(State(st): State<AppState>) -> ApiResult<impl IntoResponse> {
    let text = st.api.export_config().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"telltale-feeds.toml\"",
            ),
        ],
        text,
    ))
}

async fn import_config(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let ct = content_type(&headers);
    if !(ct.starts_with("text/") || ct == "application/toml") {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType,
            "send the config as TOML with `Content-Type: application/toml` (or text/plain with an `X-Telltale-Request: 1` header)",
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid_request("the config text is not UTF-8"))?;
    Ok(Json(st.api.import_config(text).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_rules() {
        assert!(check_listen("127.0.0.1:0".parse().unwrap(), None).is_ok());
        assert!(check_listen("[::1]:0".parse().unwrap(), None).is_ok());
        assert!(matches!(
            check_listen("0.0.0.0:7878".parse().unwrap(), None),
            Err(ServeError::TokenRequired { .. })
        ));
        assert!(check_listen("0.0.0.0:7878".parse().unwrap(), Some("t")).is_ok());
        assert!(matches!(
            check_listen("127.0.0.1:0".parse().unwrap(), Some(" ")),
            Err(ServeError::EmptyToken)
        ));
    }
}
