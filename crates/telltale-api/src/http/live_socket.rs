//! `GET /api/live`: the live stream as a WebSocket of `LiveMessage` JSON
//! text frames. The guard (origin, `Sec-Fetch-Site`, token) has run before
//! the upgrade.

use super::AppState;
use crate::error::ApiError;
use crate::views::LiveMessage;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio_util::sync::CancellationToken;

pub(super) async fn live(
    State(st): State<AppState>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return ApiError::invalid_request(
            "GET /api/live is a WebSocket: connect with ws:// (or wss://) and an Upgrade request",
        )
        .into_response();
    };
    let stream = st.api.live();
    let shutdown = st.shutdown.clone();
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| live_socket(socket, stream, shutdown))
}

async fn live_socket(
    socket: WebSocket,
    mut stream: crate::live::LiveStream,
    shutdown: CancellationToken,
) {
    let (mut tx, mut rx) = socket.split();
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = tx.send(close(1001, "server shutting down")).await;
                break;
            }
            incoming = rx.next() => match incoming {
                // Client messages carry nothing; pings are answered by axum.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            msg = stream.next() => {
                let Some(msg) = msg else {
                    let _ = tx.send(close(1001, "engine stopped")).await;
                    break;
                };
                if let Err(e) = send_json(&mut tx, &msg).await {
                    tracing::debug!("live client gone: {e}");
                    break;
                }
            }
        }
    }
}

async fn send_json(
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    msg: &LiveMessage,
) -> Result<(), LiveSendError> {
    let text = serde_json::to_string(msg)?;
    tx.send(Message::Text(text.into())).await?;
    Ok(())
}

/// Why a live message did not reach the browser.
#[derive(Debug, thiserror::Error)]
enum LiveSendError {
    #[error("cannot write the message: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Socket(#[from] axum::Error),
}
