//! The HTTP server: the [`Api`] under `/api` as JSON, the live stream as a
//! WebSocket at `/api/live`, and the built web UI at `/`.
//!
//! Every operation of [`crate::ops`] is served as `POST /api/call/{op}`
//! (its request as the JSON body; the UI uses only this), and at the REST
//! routes the operation declares ([`crate::rest::ROUTES`]; the table is in
//! `docs/cli.md`). Besides them: `GET /api/config/export` answers the
//! config as a TOML file, `POST /api/config/import` takes one, and
//! `GET /api/live` is the live stream (WebSocket, `LiveMessage` JSON text
//! frames). An operation that answers nothing answers `204`.
//!
//! Times in queries are ms since the Unix epoch; `from`/`to` default to the
//! last hour, `max_points` to 600, `limit` to 100. `labels` is a JSON object
//! (`{"mode":"idle"}`), URL-encoded. JSON bodies need
//! `Content-Type: application/json`. Errors are `{code, message}` with the
//! status listed on [`ApiError`].
//!
//! `POST /hooks/{feed}` is the webhook receiver, outside `/api` and its
//! guard: each webhook feed verifies its own deliveries (the `hooks`
//! module).
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
use crate::rest::{RestInput, RestMethod};
use crate::Api;
use axum::body::Bytes;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{Path, RawPathParams, RawQuery, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, post, MethodFilter, MethodRouter};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

mod guard;
mod hooks;
mod live_socket;
mod ui_files;

pub use guard::{normalize_origin, OriginError, REQUEST_HEADER};
pub use hooks::bind_hooks;

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
    /// A webhook receiver of its own asked for on a non-loopback address.
    #[error("refusing to receive webhooks on {addr}: the desktop's receiver listens on loopback only. Put a reverse proxy or a tunnel in front of 127.0.0.1 (docs/config.md, \"Webhooks\")")]
    HooksNotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
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
    let listing = api.engine().webhooks().listening(format!("http://{addr}"));
    let hub = api.engine().webhooks().clone();
    let state = AppState {
        api,
        policy: Arc::new(guard::Policy::new(opts.token.as_deref(), allow_origins)),
        shutdown: shutdown.clone(),
    };
    let app = router(state, ui, hub);
    tracing::info!(
        "serving Telltale on http://{addr} (API under /api{})",
        if with_token { ", token required" } else { "" }
    );
    Ok(Server {
        listener,
        app,
        addr,
        shutdown,
        listing: Some(listing),
    })
}

/// A bound server, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: Router,
    addr: SocketAddr,
    shutdown: CancellationToken,
    /// Lists the server as a webhook receiver until it stops.
    listing: Option<telltale_sources::webhook::Listening>,
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
        let _listing = self.listing;
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

fn router(
    state: AppState,
    ui: Option<Arc<ui_files::UiFiles>>,
    hub: Arc<telltale_sources::webhook::Hub>,
) -> Router {
    let mut api = Router::new();
    for route in crate::rest::ROUTES {
        api = api.route(route.path, rest_route(route));
    }
    let api = api
        .route("/config/export", get(export_config))
        .route("/config/import", post(import_config))
        .route("/call/{op}", post(call_op))
        .route("/live", get(live_socket::live))
        .fallback(api_not_found)
        .method_not_allowed_fallback(api_method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state);
    let app = Router::new().nest("/api", api).merge(hooks::routes(hub));
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

/// A REST route of an operation: its request from the path and query or
/// the body, then the operation as [`call_op`] runs it.
fn rest_route(route: &'static crate::rest::Route) -> MethodRouter<AppState> {
    let filter = match route.method {
        RestMethod::GET => MethodFilter::GET,
        RestMethod::POST => MethodFilter::POST,
        RestMethod::PUT => MethodFilter::PUT,
        RestMethod::DELETE => MethodFilter::DELETE,
    };
    on(
        filter,
        move |State(st): State<AppState>,
              params: Result<RawPathParams, RawPathParamsRejection>,
              RawQuery(query): RawQuery,
              headers: HeaderMap,
              body: Bytes| async move {
            let path: Vec<(String, String)> = match params {
                Ok(p) => p
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                Err(RawPathParamsRejection::MissingPathParams(_)) => Vec::new(),
                Err(e) => return Err(ApiError::invalid_request(e.body_text())),
            };
            let input = if route.method.has_body() {
                let body = if body.is_empty() {
                    serde_json::Value::Null
                } else {
                    parse_json(&headers, &body, crate::ops::request_code(route.op))?
                };
                RestInput::Body { path, body }
            } else {
                RestInput::Query {
                    path,
                    query: query.unwrap_or_default(),
                }
            };
            let request = crate::rest::rest_request(route.op, input)?;
            let response = crate::dispatch(&st.api, route.op, request).await?;
            Ok::<Response, ApiError>(if response.get() == "null" {
                StatusCode::NO_CONTENT.into_response()
            } else {
                Json(response).into_response()
            })
        },
    )
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
