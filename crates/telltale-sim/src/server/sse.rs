//! The SSE route: `Last-Event-ID` replay, retry hints and injected faults.

use super::stream::*;
use super::*;

pub(super) type Chunk = Result<Bytes, std::io::Error>;

pub(super) async fn sse_route(
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

pub(super) async fn sse_producer(
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
