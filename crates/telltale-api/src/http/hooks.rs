//! The webhook receiver: `POST /hooks/{feed}`, outside `/api` and its
//! guard (a sender is another host, with no `Origin` and no token of ours:
//! the feed's own verification stands instead, see
//! [`telltale_sources::webhook`]).
//!
//! `telltaled serve` answers it on its one listener; the desktop app, which
//! has no HTTP server, on a listener of its own ([`bind_hooks`]).

use super::{ServeError, Server};
use crate::Api;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::sync::Arc;
use telltale_sources::webhook::{Hub, Reply};
use tokio_util::sync::CancellationToken;

/// The receiver's routes, to merge into a server's router.
pub(super) fn routes(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/hooks/{feed}", post(receive))
        // Each feed has its own `max_body`, enforced while reading.
        .layer(DefaultBodyLimit::disable())
        .with_state(hub)
}

async fn receive(
    State(hub): State<Arc<Hub>>,
    Path(feed): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(limit) = hub.max_body(&feed) else {
        return reply(hub.deliver(&feed, &headers, Default::default()).await);
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return reply(hub.too_large(&feed).await);
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) if buf.len() + c.len() > limit => return reply(hub.too_large(&feed).await),
            Ok(c) => buf.extend_from_slice(&c),
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read: {e}"),
                )
                    .into_response()
            }
        }
    }
    reply(hub.deliver(&feed, &headers, buf.into()).await)
}

fn reply(r: Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", r.message),
    )
        .into_response();
    if let Some(secs) = r.retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}

/// Binds a listener that answers only `POST /hooks/{feed}` (the desktop
/// app's receiver); [`Server::run`] serves it. Anything but a loopback
/// address is refused: put a reverse proxy or a tunnel in front instead
/// (docs/config.md, "Webhooks").
pub async fn bind_hooks(api: Api, listen: SocketAddr) -> Result<Server, ServeError> {
    if !super::is_loopback(listen.ip()) {
        return Err(ServeError::HooksNotLoopback { addr: listen });
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let hub = api.engine().webhooks().clone();
    let listing = hub.listening(format!("http://{addr}"));
    let app = routes(hub)
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "this port only receives webhooks: POST /hooks/{feed}\n",
            )
        })
        .layer(axum::middleware::map_response(super::security_headers));
    tracing::info!("receiving webhooks on http://{addr}/hooks/{{feed}}");
    Ok(Server {
        listener,
        app,
        addr,
        shutdown: CancellationToken::new(),
        listing: Some(listing),
    })
}
