//! The MQTT transport (3.1.1 and 5, over TCP, TLS or WebSocket), on
//! `rumqttc`.
//!
//! One task per feed runs this loop until cancelled:
//!
//! 1. Build the client options from the URL (`mqtt://` TCP, `mqtts://`
//!    TLS with native-tls, `ws://` WebSocket), its user and password, and
//!    `[feed.mqtt]`. A problem here (an unreadable CA file, a URL without a
//!    host) is a configuration error: [`ConnState::Failed`], re-checked
//!    every `backoff.max`.
//! 2. Report [`ConnState::Connecting`] and make one connection: TCP, TLS,
//!    CONNECT and CONNACK, bounded by [`CONNECT_TIMEOUT`]. rumqttc would
//!    reconnect by itself on the next poll; each connection instead gets
//!    a fresh event loop, so that the engine's backoff (full jitter,
//!    states on the timeline) decides when to try again.
//! 3. On CONNACK: [`ConnState::Live`], and subscribe to every
//!    `mqtt.topics` filter, after *every* (re)connect. With
//!    `clean_session = false` the broker also kept the subscriptions and
//!    queued the QoS 1 messages published meanwhile; they arrive now.
//! 4. Each PUBLISH becomes a [`RawMessage`]: the payload as data, the
//!    topic as the event type (`topic (retained)` for a retained message,
//!    which the broker replays on subscribing), and the topic levels
//!    matched by the filter's named wildcards as labels. rumqttc
//!    acknowledges a QoS 1 message as it reads it: acknowledging only
//!    after the pipeline took it stalled MQTT 5 deliveries now and then
//!    (rumqttc 0.25), and would not have made the message safer: the
//!    pipeline holds it in memory until the next commit either way.
//! 5. The keepalive is MQTT's own: a PINGREQ every `mqtt.keep_alive`, and
//!    a broker that has not answered one by the next is presumed dead.
//!    Whatever ends a connection — the broker closing it, a dead peer, a
//!    malformed or oversize packet — ends in [`ConnState::Retrying`] with
//!    a reason and a delay from [`Backoff`]. A refused CONNACK (bad
//!    credentials, not authorised, banned) is [`ConnState::Failed`] and
//!    retried on the slow schedule: retrying soon cannot fix it.
//!
//! On cancellation a DISCONNECT is sent on a best-effort basis, bounded
//! by [`CLOSE_TIMEOUT`].
//!
//! The password is never logged or reported: reasons name the host and
//! port only.

mod setup;
mod v4;
mod v5;

use crate::ended::{config_failed, wait_after, Ended};
use crate::Sink;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use telltale_model::duration::format_duration;
use telltale_model::mqtt::{captures, MqttOptions, MqttVersion};
use telltale_model::{Backoff, ConnState, FeedConfig, RawMessage, Timestamp};
use tokio_util::sync::CancellationToken;

pub use setup::Setup;

/// Bound on TCP connect + TLS + CONNECT/CONNACK.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on sending DISCONNECT when stopping.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Requests (the SUBSCRIBE, the DISCONNECT) queued between the loop and
/// rumqttc.
const REQUEST_CAPACITY: usize = 64;

/// What one poll of a client gave, whatever the protocol version.
enum Step {
    /// CONNACK accepted.
    Connected,
    /// A PUBLISH.
    Message {
        topic: String,
        payload: Bytes,
        retain: bool,
    },
    /// A SUBACK: the filters (by index) the broker refused, and why.
    SubAck { refused: Vec<(usize, String)> },
    /// Any other packet (PINGRESP, our own outgoing packets).
    Other { incoming: bool },
    /// The connection ended.
    Ended(Ended),
}

/// One protocol version's client: rumqttc's v4 and v5 modules have the
/// same shape with different types.
trait Client {
    /// The next thing that happened.
    async fn poll(&mut self, host: &str) -> Step;
    /// Why a SUBSCRIBE could not be queued.
    type SubscribeError: std::fmt::Display;
    /// Queues a SUBSCRIBE for every filter.
    async fn subscribe(&mut self, opts: &MqttOptions) -> Result<(), Self::SubscribeError>;
    /// Queues a DISCONNECT.
    async fn disconnect(&mut self);
}

/// Runs an MQTT feed until `cancel` fires. See the module doc.
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken) {
    let opts = feed.mqtt_options();
    let mut backoff = Backoff::new(&feed.backoff);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let setup = match Setup::of(&feed, &opts) {
            Ok(s) => s,
            Err(e) => {
                if !config_failed(e.to_string(), &feed, &sink, &cancel).await {
                    return;
                }
                continue;
            }
        };
        sink.state(ConnState::Connecting).await;
        let link = Link {
            opts: &opts,
            host: &setup.host_port,
            labelled: opts.topics.iter().any(|t| !t.labels.is_empty()),
            sink: &sink,
            cancel: &cancel,
        };
        let before = sink.counters().messages.load(Ordering::Relaxed);
        let ended = match opts.version {
            MqttVersion::V311 => connection(v4::V4::new(&setup), &link, &mut backoff).await,
            MqttVersion::V5 => connection(v5::V5::new(&setup), &link, &mut backoff).await,
        };
        if sink.counters().messages.load(Ordering::Relaxed) != before {
            backoff.delivered();
        }
        if !wait_after(ended, &mut backoff, &sink, &cancel).await {
            return;
        }
    }
}

/// What one connection needs from its feed.
struct Link<'a> {
    opts: &'a MqttOptions,
    host: &'a str,
    /// Whether any topic names labels (else no topic is matched per
    /// message).
    labelled: bool,
    sink: &'a Sink,
    cancel: &'a CancellationToken,
}

/// One connection: connect, subscribe, read until it ends.
async fn connection<C: Client>(mut client: C, link: &Link<'_>, backoff: &mut Backoff) -> Ended {
    let Link {
        opts,
        host,
        labelled,
        sink,
        cancel,
    } = *link;
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            match client.poll(host).await {
                Step::Connected => return Ok(()),
                Step::Ended(e) => return Err(e),
                _ => {}
            }
        }
    });
    let connected = tokio::select! {
        _ = cancel.cancelled() => return Ended::Cancelled,
        r = connect => r,
    };
    match connected {
        Err(_) => {
            return Ended::Retry(format!(
                "no MQTT CONNACK from {host} within {}",
                format_duration(CONNECT_TIMEOUT)
            ))
        }
        Ok(Err(e)) => return e,
        Ok(Ok(())) => {}
    }
    sink.state(ConnState::Live).await;
    backoff.connected();
    if let Err(e) = client.subscribe(opts).await {
        return Ended::Retry(format!("could not subscribe on {host}: {e}"));
    }
    loop {
        let step = tokio::select! {
            _ = cancel.cancelled() => {
                client.disconnect().await;
                // Let the event loop write the DISCONNECT.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                    loop {
                        if let Step::Ended(_) = client.poll(host).await {
                            return;
                        }
                    }
                })
                .await;
                return Ended::Cancelled;
            }
            s = client.poll(host) => s,
        };
        match step {
            Step::Connected => {}
            Step::Message {
                topic,
                payload,
                retain,
            } => {
                sink.message(message(opts, labelled, topic, payload, retain))
                    .await;
            }
            Step::SubAck { refused } => {
                for (i, why) in refused {
                    let filter = opts.topics.get(i).map_or("?", |t| t.filter.as_str());
                    sink.issue(
                        "subscribe",
                        format!(
                            "the broker refused the subscription to `{filter}` (mqtt.topics[{i}]): {why}. Check the topic and the user's access rights on the broker"
                        ),
                    )
                    .await;
                }
            }
            Step::Other { incoming } => {
                if incoming {
                    sink.activity();
                }
            }
            Step::Ended(e) => return e,
        }
    }
}

/// The message for one PUBLISH.
fn message(
    opts: &MqttOptions,
    labelled: bool,
    topic: String,
    payload: Bytes,
    retain: bool,
) -> RawMessage {
    let labels = if !labelled {
        Vec::new()
    } else {
        opts.topics
            .iter()
            .find_map(|t| {
                let values = captures(&t.filter, &topic)?;
                Some(
                    t.labels
                        .iter()
                        .zip(values)
                        .map(|(k, v)| (k.clone(), v.to_string()))
                        .collect::<Vec<_>>(),
                )
            })
            .unwrap_or_default()
    };
    let event_type = if retain {
        format!("{topic} (retained)")
    } else {
        topic
    };
    RawMessage {
        received_at: Timestamp::now(),
        server_id: None,
        event_type: Some(event_type),
        data: payload,
        transport_metrics: Vec::new(),
        labels,
    }
}

/// Why a connection ended, whatever the protocol version: each version's
/// client sorts its own error type into these, and [`Failure::ended`] says
/// it once.
enum Failure {
    /// A CONNACK refused with this code (its Rust name).
    Refused(String),
    /// The last PINGREQ got no PINGRESP before the next was due.
    PingUnanswered,
    /// A socket error.
    Io(std::io::Error),
    /// The broker closed the connection.
    Closed,
    /// A packet that cannot be read (malformed, or over the size limit).
    Packet(String),
    /// No CONNACK within [`CONNECT_TIMEOUT`].
    ConnectTimeout,
    /// A write that did not complete.
    WriteTimeout,
    /// The TLS handshake failed.
    Tls(String),
    /// The first packet back was not a CONNACK (its kind).
    NotConnAck(String),
    /// Anything else, as the client said it.
    Other(String),
}

/// What a failure's reason may need from the connection's setup.
pub(super) struct Context {
    keep_alive: Duration,
    max_packet_size: usize,
    /// TLS (`mqtts://`, `wss://`) without a client certificate: a broker
    /// that requires one closes the connection after the handshake.
    tls_without_client_cert: bool,
}

impl Context {
    pub(super) fn of(s: &setup::Setup) -> Context {
        Context {
            keep_alive: s.keep_alive,
            max_packet_size: s.max_packet_size,
            tls_without_client_cert: s.tls_without_client_cert,
        }
    }
}

impl Failure {
    /// A WebSocket error (`ws://`, `wss://`; rumqttc's own tungstenite,
    /// read through its `source`): rustls's verdicts are TLS failures, a
    /// dropped socket an I/O one.
    pub(super) fn of_websocket(e: &(dyn std::error::Error + 'static)) -> Failure {
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        match io {
            Some(io) => match io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(tls) => Failure::Tls(tls.to_string()),
                None => Failure::Io(std::io::Error::new(io.kind(), io.to_string())),
            },
            None => Failure::Other(format!("WebSocket: {e}")),
        }
    }

    fn ended(self, host: &str, c: &Context) -> Ended {
        let (keep_alive, max_packet_size) = (c.keep_alive, c.max_packet_size);
        let cert_hint = |reason: String| {
            if c.tls_without_client_cert {
                format!("{reason}; if the broker requires client certificates, set mqtt.client_cert and mqtt.client_key")
            } else {
                reason
            }
        };
        Ended::Retry(match self {
            Failure::Refused(code) => return refused(&code, host),
            Failure::PingUnanswered => format!(
                "{host} did not answer a ping within mqtt.keep_alive ({}): broker presumed dead",
                format_duration(keep_alive)
            ),
            Failure::Io(e) => cert_hint(io_reason(&e, host)),
            Failure::Closed => format!("{host} closed the connection"),
            Failure::Packet(e) => packet_reason(&e, host, max_packet_size),
            Failure::ConnectTimeout => format!(
                "no answer from {host} within {}",
                format_duration(CONNECT_TIMEOUT)
            ),
            Failure::WriteTimeout => format!("could not write to {host}: peer presumed dead"),
            Failure::Tls(e) if e.contains("UnknownIssuer") || e.contains("certificate verify failed") => format!(
                "TLS with {host} failed: {e}: set mqtt.ca_file to the authority that signed the broker's certificate"
            ),
            Failure::Tls(e) => cert_hint(format!("TLS with {host} failed: {e}")),
            Failure::NotConnAck(kind) => format!(
                "{host} answered CONNECT with {kind} instead of CONNACK: is this an MQTT broker?"
            ),
            Failure::Other(e) => format!("MQTT connection to {host} ended: {e}"),
        })
    }
}

/// The kind of a packet, from its `Debug` form (`PingResp`, `Publish`).
fn packet_kind(debug: &str) -> String {
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("a packet")
        .to_string()
}

/// A reason for a connection that ended with an I/O error.
fn io_reason(e: &std::io::Error, host: &str) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => format!("{host} refused the connection (is the broker running?)"),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
            format!("{host} closed the connection")
        }
        TimedOut => format!("no answer from {host} (timed out)"),
        _ => format!("network error with {host}: {e}"),
    }
}

/// The reason for a refused CONNACK, and whether only the operator can
/// fix it (credentials, rights): those are retried slowly.
fn refused(code: &str, host: &str) -> Ended {
    let (what, slow) = match code {
        "BadUserNamePassword" => (
            "the user name or password was refused: check the credentials in the feed's URL (`mqtt://user:password@host`)",
            true,
        ),
        // Mosquitto answers a wrong password with this code too.
        "NotAuthorized" => (
            "the broker did not authorise this client: check the user name and password in the feed's URL (`mqtt://user:password@host`) and the user's rights on the broker",
            true,
        ),
        "BadClientId" | "ClientIdentifierNotValid" => (
            "the client id was refused: set another `mqtt.client_id`",
            true,
        ),
        "Banned" => ("this client is banned", true),
        "BadAuthenticationMethod" => ("the authentication method was refused", true),
        "RefusedProtocolVersion" | "UnsupportedProtocolVersion" => (
            "the broker does not speak this MQTT version: set `mqtt.version` to the other one",
            true,
        ),
        _ => ("the broker refused the connection", false),
    };
    let reason = format!("{host}: {what} (CONNACK {code})");
    if slow {
        Ended::RetrySlowly(reason)
    } else {
        Ended::Retry(reason)
    }
}

/// The reason for a packet the client could not read.
fn packet_reason(e: &str, host: &str, max_packet_size: usize) -> String {
    if e.contains("size limit") || e.contains("too long") || e.contains("too large") {
        format!(
            "{host} sent a packet larger than mqtt.max_packet_size ({} bytes): raise it, or publish smaller messages ({e})",
            max_packet_size
        )
    } else {
        format!("{host} sent a malformed MQTT packet ({e})")
    }
}
