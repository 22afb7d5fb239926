//! Human text for how a WebSocket connection failed or closed: reasons
//! name the host and port, never the URL's credentials or query.

use super::{Target, MAX_WRITE_BUFFER};
use telltale_model::feed::WebsocketOptions;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// Human text for an error while connecting.
pub(super) fn describe_connect_error(
    e: &WsError,
    target: &Target,
    opts: &WebsocketOptions,
) -> String {
    match e {
        // Engine.IO's answer when WebSocket is not among its transports.
        WsError::Http(resp)
            if resp
                .body()
                .as_deref()
                .is_some_and(|b| String::from_utf8_lossy(b).contains("\"Transport unknown\"")) =>
        {
            format!(
                "{} does not allow WebSocket (Engine.IO answered Transport unknown): set socketio.transport = \"polling\" or \"auto\"",
                target.host_port
            )
        }
        WsError::Http(resp) => format!(
            "{} rejected the WebSocket handshake with {}",
            target.host_port,
            crate::sse::status_reason(resp.status())
        ),
        WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(sub)) => match sub {
            SubProtocolError::NoSubProtocol => format!(
                "{} accepted none of the offered subprotocols ({})",
                target.host_port,
                opts.subprotocols.join(", ")
            ),
            other => format!(
                "{} answered with a bad subprotocol: {other}",
                target.host_port
            ),
        },
        WsError::Url(u) => format!("invalid URL: {u}"),
        WsError::Tls(t) => format!("TLS with {} failed: {t}", target.host_port),
        other => describe_io_error(other, target),
    }
}

/// Human text for a connection-level error.
pub(super) fn describe_io_error(e: &WsError, target: &Target) -> String {
    use std::io::ErrorKind;
    let hp = &target.host_port;
    match e {
        WsError::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => format!("connection refused by {hp}"),
            ErrorKind::ConnectionReset => format!("connection reset by {hp}"),
            ErrorKind::ConnectionAborted => format!("connection to {hp} aborted"),
            ErrorKind::BrokenPipe => format!("connection to {hp} broken (broken pipe)"),
            ErrorKind::UnexpectedEof => {
                format!("connection to {hp} dropped without a close frame")
            }
            ErrorKind::TimedOut => format!("connection to {hp} timed out"),
            _ => format!("I/O error with {hp}: {io}"),
        },
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            format!("connection to {hp} closed")
        }
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            format!("connection to {hp} dropped without a close frame")
        }
        WsError::Protocol(p) => format!("WebSocket protocol error with {hp}: {p}"),
        WsError::Tls(t) => format!("TLS error with {hp}: {t}"),
        WsError::Capacity(c) => format!("{hp} exceeded a limit: {c}"),
        WsError::WriteBufferFull(_) => format!(
            "{hp} does not read what we send (the server sends pings but does not read our pongs, or our pings): {} waiting to be written; dropped the connection",
            format_size(MAX_WRITE_BUFFER as u64)
        ),
        WsError::Utf8 => format!("{hp} sent a text frame that is not valid UTF-8"),
        WsError::AttackAttempt => format!("{hp} sent a suspicious handshake response"),
        WsError::Url(u) => format!("invalid URL: {u}"),
        WsError::Http(resp) => format!("{hp} answered HTTP {}", resp.status()),
        WsError::HttpFormat(h) => format!("invalid HTTP in the handshake with {hp}: {h}"),
    }
}

/// "server closed with code 1011 (internal error): reason".
pub(super) fn describe_close(frame: Option<&CloseFrame>) -> String {
    match frame {
        None => "server closed without a status code".to_string(),
        Some(f) => {
            let code = u16::from(f.code);
            let meaning = close_code_meaning(code);
            let reason = f.reason.as_str().trim();
            let mut s = format!("server closed with code {code}");
            if let Some(m) = meaning {
                s.push_str(&format!(" ({m})"));
            }
            if !reason.is_empty() {
                s.push_str(": ");
                s.push_str(reason);
            }
            s
        }
    }
}

/// What a close code means (RFC 6455 §7.4.1 and the IANA registry).
fn close_code_meaning(code: u16) -> Option<&'static str> {
    Some(match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status",
        1006 => "abnormal closure",
        1007 => "invalid payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension missing",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake failure",
        3000..=3999 => "registered application code",
        4000..=4999 => "private application code",
        _ => return None,
    })
}

/// `16 MiB`, `1 KiB`, `1500 bytes`.
pub(super) fn format_size(b: u64) -> String {
    if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
        format!("{} MiB", b >> 20)
    } else if b >= 1 << 10 && b.is_multiple_of(1 << 10) {
        format!("{} KiB", b >> 10)
    } else {
        format!("{b} bytes")
    }
}
