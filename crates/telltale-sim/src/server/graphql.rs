//! GraphQL subscriptions (`graphql-transport-ws`, the `graphql-ws`
//! library's protocol) at `/graphql?host=host-N`: after `connection_init`
//! and a `subscribe`, one `next` per sample, `{"data":{"health":{…}}}`
//! with the same fields as every other route's JSON. The query itself is
//! not parsed: whatever is subscribed gets the host's health.

use super::*;

/// The subprotocol served.
const PROTOCOL: &str = "graphql-transport-ws";

pub(super) async fn graphql_route(
    State(st): State<AppState>,
    Query(p): Query<Params>,
    ws: WebSocketUpgrade,
) -> Response {
    let shared = &st.shared;
    let (idx, rate) = match host_and_rate(shared, &p, "/graphql") {
        Ok(x) => x,
        Err(resp) => return *resp,
    };
    ws.protocols([PROTOCOL])
        .on_upgrade(move |socket| session(socket, st, idx, rate))
}

async fn session(mut socket: WebSocket, st: AppState, idx: usize, rate: f64) {
    let shared = st.shared.clone();
    let token = shared.token.clone();
    let every = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut subscription: Option<String> = None;
    let mut seq: u64 = 0;
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            msg = socket.recv() => {
                let t = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) else {
                    // 4400: the protocol's "invalid message".
                    let _ = socket
                        .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                            code: 4400,
                            reason: "not JSON".into(),
                        })))
                        .await;
                    return;
                };
                let reply = match v.get("type").and_then(|t| t.as_str()) {
                    Some("connection_init") => Some(r#"{"type":"connection_ack"}"#.to_string()),
                    Some("ping") => Some(r#"{"type":"pong"}"#.to_string()),
                    Some("subscribe") => {
                        subscription = v.get("id").and_then(|i| i.as_str()).map(str::to_string);
                        None
                    }
                    Some("complete") => {
                        subscription = None;
                        None
                    }
                    _ => None,
                };
                if let Some(r) = reply {
                    if socket.send(Message::Text(r.into())).await.is_err() {
                        return;
                    }
                }
            }
            _ = tick.tick() => {
                let Some(id) = &subscription else { continue };
                seq += 1;
                let health = sample(idx, seq, shared.started.elapsed(), &shared.cfg).to_json(now_ms());
                let id = serde_json::Value::String(id.clone());
                let msg = format!(r#"{{"type":"next","id":{id},"payload":{{"data":{{"health":{health}}}}}}}"#);
                if socket.send(Message::Text(msg.into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
