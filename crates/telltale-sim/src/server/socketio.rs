//! Socket.IO 4 (Engine.IO 4, WebSocket transport only) at
//! `/socket.io/?EIO=4&transport=websocket&host=host-N`: the Engine.IO
//! `open` packet, a namespace `CONNECT` answered for any namespace (the
//! `auth` object is not checked), then one `health` event per sample,
//! `42["health",{…}]` with the same JSON as every other route. The server
//! pings (`2`) every 25 s, as Socket.IO does; pongs are not required.
//! Long-polling and Engine.IO 3 are refused with a 400 naming what the sim
//! speaks.

use super::*;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use std::sync::atomic::AtomicU64;

/// Engine.IO's ping interval, as Socket.IO's default `pingInterval`.
const PING_EVERY: Duration = Duration::from_secs(25);

/// The Engine.IO query parameters (the route's own are in [`Params`]).
#[derive(Debug, Default, Deserialize)]
pub(super) struct EngineParams {
    #[serde(rename = "EIO")]
    eio: Option<String>,
    transport: Option<String>,
}

/// Engine.IO session ids, unique per sim.
static SESSIONS: AtomicU64 = AtomicU64::new(0);

pub(super) async fn socketio_route(
    State(st): State<AppState>,
    Query(p): Query<Params>,
    Query(e): Query<EngineParams>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let shared = &st.shared;
    if e.eio.as_deref() != Some("4") || e.transport.as_deref() != Some("websocket") {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "telltale-sim: Socket.IO here is Engine.IO 4 over WebSocket only \
                 (EIO=4&transport=websocket), not EIO={} transport={}\n",
                e.eio.as_deref().unwrap_or("(none)"),
                e.transport.as_deref().unwrap_or("(none)")
            ),
        );
    }
    let (idx, rate) = match host_and_rate(shared, &p, "/socket.io/") {
        Ok(x) => x,
        Err(resp) => return *resp,
    };
    match ws {
        Ok(ws) => ws.on_upgrade(move |socket| session(socket, st, idx, rate)),
        Err(no) => no.into_response(),
    }
}

/// The namespace a `CONNECT` packet (`40`, `40{auth}`, `40/ns,{auth}`)
/// names, or `None` for another packet.
fn connect_namespace(packet: &str) -> Option<&str> {
    let rest = packet.strip_prefix("40")?;
    if !rest.starts_with('/') {
        return Some("/");
    }
    Some(rest.split_once(',').map_or(rest, |(ns, _)| ns))
}

/// `42["health",{…}]`, prefixed by the namespace unless it is `/`.
fn event(namespace: &str, health: &str) -> String {
    if namespace == "/" {
        format!(r#"42["health",{health}]"#)
    } else {
        format!(r#"42{namespace},["health",{health}]"#)
    }
}

async fn session(mut socket: WebSocket, st: AppState, idx: usize, rate: f64) {
    let shared = st.shared.clone();
    let token = shared.token.clone();
    let sid = format!("sim{}", SESSIONS.fetch_add(1, Ordering::Relaxed));
    let open = format!(
        r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":{},"pingTimeout":20000,"maxPayload":1000000}}"#,
        PING_EVERY.as_millis()
    );
    if socket.send(Message::Text(open.into())).await.is_err() {
        return;
    }
    let every = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut namespace: Option<String> = None;
    let mut seq: u64 = 0;
    let mut tick = tokio::time::interval(every);
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        let reply = tokio::select! {
            () = token.cancelled() => return,
            msg = socket.recv() => {
                let t = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                if let Some(ns) = connect_namespace(&t) {
                    let prefix = if ns == "/" { String::new() } else { format!("{ns},") };
                    namespace = Some(ns.to_string());
                    Some(format!(r#"40{prefix}{{"sid":"{sid}-{idx}"}}"#))
                } else if t.starts_with("41") {
                    namespace = None;
                    None
                } else {
                    // Pongs (`3`), acks and the client's own events.
                    None
                }
            }
            _ = ping.tick() => Some("2".to_string()),
            _ = tick.tick() => {
                let Some(ns) = &namespace else { continue };
                seq += 1;
                let health = sample(idx, seq, shared.started.elapsed(), &shared.cfg).to_json(now_ms());
                Some(event(ns, &health))
            }
        };
        if let Some(r) = reply {
            if socket.send(Message::Text(r.into())).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_packets_name_their_namespace() {
        assert_eq!(connect_namespace("40"), Some("/"));
        assert_eq!(connect_namespace(r#"40{"token":"x"}"#), Some("/"));
        assert_eq!(
            connect_namespace(r#"40/fleet,{"token":"x"}"#),
            Some("/fleet")
        );
        assert_eq!(connect_namespace("40/fleet"), Some("/fleet"));
        assert_eq!(connect_namespace("41"), None);
        assert_eq!(connect_namespace("3"), None);
    }

    #[test]
    fn events_carry_their_namespace() {
        assert_eq!(event("/", "{}"), r#"42["health",{}]"#);
        assert_eq!(event("/fleet", "{}"), r#"42/fleet,["health",{}]"#);
    }
}
