//! Plain HTTP routes: short polls (ETag/304), long polls and Prometheus text.

use super::*;

pub(super) fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
    })
}

/// What the plain HTTP routes do first: resolve the host and the rate,
/// then apply the `slow_ms` and `status` faults. `Err` is the response to send.
pub(super) async fn request_prologue(
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

pub(super) async fn poll_route(
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

pub(super) async fn longpoll_route(
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

pub(super) async fn metrics_route(
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
