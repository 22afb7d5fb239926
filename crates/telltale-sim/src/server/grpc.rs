//! The standard gRPC health service, `grpc.health.v1.Health/Watch`, over
//! HTTP/2 without TLS on the sim's one port. The watched service is a host
//! name: it is `SERVING` while the host's status is `ok` and `NOT_SERVING`
//! while it is `degraded` (the scripted incident); the empty service, the
//! sim itself, is always `SERVING`; any other name is `SERVICE_UNKNOWN`.
//! As the protocol says, the current status is sent at once and then again
//! on every change (checked once a second). Every other path is the
//! sim's plain 404, which gRPC clients read as `UNIMPLEMENTED`.
//!
//! The two messages are one field each, so they are encoded by hand:
//! `HealthCheckRequest { string service = 1; }` and
//! `HealthCheckResponse { ServingStatus status = 1; }`.

use super::*;
use std::convert::Infallible;

/// `ServingStatus` values of `grpc.health.v1`.
const SERVING: u8 = 1;
const NOT_SERVING: u8 = 2;
const SERVICE_UNKNOWN: u8 = 3;

/// How often a watch looks at the host's status.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Largest request message accepted.
const MAX_REQUEST: usize = 64 * 1024;

/// A gRPC answer that is only a status (the "Trailers-Only" response).
fn status_only(code: u8, message: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert("grpc-status", HeaderValue::from(u16::from(code)));
    if let Ok(v) = HeaderValue::from_str(message) {
        h.insert("grpc-message", v);
    }
    resp
}

/// The `service` of a length-prefixed `HealthCheckRequest`, or why not.
fn requested_service(body: &[u8]) -> Result<String, &'static str> {
    let (head, msg) = body
        .split_at_checked(5)
        .ok_or("the request has no gRPC message")?;
    if head[0] != 0 {
        return Err("compressed requests are not supported");
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let msg = msg.get(..len).ok_or("the request message is cut short")?;
    let mut rest = msg;
    let mut service = String::new();
    while let Some((&tag, after)) = rest.split_first() {
        // Field 1, length-delimited, with a one-byte length (a host name).
        let (&n, after) = after.split_first().ok_or("a field is cut short")?;
        if tag != 0x0a || n >= 0x80 {
            return Err("the request is not a HealthCheckRequest");
        }
        let (value, after) = after
            .split_at_checked(usize::from(n))
            .ok_or("a field is cut short")?;
        service = String::from_utf8(value.to_vec()).map_err(|_| "the service is not UTF-8")?;
        rest = after;
    }
    Ok(service)
}

/// One length-prefixed `HealthCheckResponse`.
fn frame(status: u8) -> Bytes {
    Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status])
}

pub(super) async fn health_watch(State(st): State<AppState>, body: Bytes) -> Response {
    if body.len() > MAX_REQUEST {
        return status_only(8, "the request is too large");
    }
    let service = match requested_service(&body) {
        Ok(s) => s,
        // INVALID_ARGUMENT
        Err(why) => return status_only(3, why),
    };
    let idx = match service.as_str() {
        "" => None,
        name => match st.shared.host_index(name) {
            Some(i) => Some(i),
            None => {
                return watching(st, move |_| SERVICE_UNKNOWN);
            }
        },
    };
    watching(st, move |shared| match idx {
        None => SERVING,
        Some(i) => {
            let seq = latest_seq(shared, shared.cfg.rate);
            match sample(i, seq, shared.started.elapsed(), &shared.cfg).status {
                "ok" => SERVING,
                _ => NOT_SERVING,
            }
        }
    })
}

/// A streamed answer: `status_of` now, then whenever it changes, until the
/// sim shuts down.
fn watching(st: AppState, status_of: impl Fn(&Shared) -> u8 + Send + 'static) -> Response {
    let stream = futures_util::stream::unfold(
        (st, None::<u8>, status_of),
        |(st, last, status_of)| async move {
            loop {
                if last.is_some() && !sleep_or_cancel(WATCH_EVERY, &st.shared.token).await {
                    return None;
                }
                let now = status_of(&st.shared);
                if last != Some(now) {
                    return Some((Ok::<_, Infallible>(frame(now)), (st, Some(now), status_of)));
                }
            }
        },
    );
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_decoded() {
        let req = |msg: &[u8]| {
            let mut b = vec![0, 0, 0, 0, u8::try_from(msg.len()).unwrap()];
            b.extend_from_slice(msg);
            requested_service(&b)
        };
        assert_eq!(req(b"").unwrap(), "");
        assert_eq!(req(b"\x0a\x06host-3").unwrap(), "host-3");
        assert!(req(b"\x0a\x09host").is_err(), "cut short");
        assert!(req(b"\x10\x01").is_err(), "another field");
        assert!(requested_service(b"\x00\x00").is_err());
        assert!(requested_service(b"\x01\x00\x00\x00\x00").is_err());
    }

    #[test]
    fn responses_are_one_status_field() {
        assert_eq!(&frame(SERVING)[..], &[0, 0, 0, 0, 2, 8, 1]);
    }
}
