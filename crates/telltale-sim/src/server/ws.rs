//! The WebSocket route: subscriptions, pings, replay and injected faults.

use super::stream::*;
use super::*;

pub(super) async fn ws_route(
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

pub(super) fn ws_stream(shared: &Shared, idx: usize, opts: &StreamOpts) -> HostStream {
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
pub(super) fn subscriptions(shared: &Shared, msg: &str) -> Vec<usize> {
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

pub(super) async fn ws_session(
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
