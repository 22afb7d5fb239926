//! MQTT 5 through rumqttc's v5 client.

use super::setup::{Link, Setup};
use super::REQUEST_CAPACITY;
use super::{packet_kind, Client, Context, Ended, Failure, Step, CONNECT_TIMEOUT};
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, SubscribeReasonCode};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, StateError};
use rumqttc::{TlsConfiguration, Transport};
use telltale_model::mqtt::MqttOptions as Options;

/// How long a persistent session outlives a disconnect (a week).
const SESSION_EXPIRY_SECS: u32 = 7 * 24 * 3600;

/// One connection's client and event loop.
pub struct V5 {
    client: AsyncClient,
    events: EventLoop,
    context: Context,
}

impl V5 {
    pub fn new(s: &Setup) -> V5 {
        let mut o = match &s.link {
            Link::Ws(url) | Link::Wss(url, _) => MqttOptions::new(&s.client_id, url, s.port),
            _ => MqttOptions::new(&s.client_id, &s.host, s.port),
        };
        o.set_keep_alive(s.keep_alive);
        o.set_clean_start(s.clean_session);
        if !s.clean_session {
            // MQTT 5 ends a session at disconnect unless told to keep it.
            o.set_session_expiry_interval(Some(SESSION_EXPIRY_SECS));
        }
        if let Some((user, password)) = &s.credentials {
            o.set_credentials(user, password);
        }
        o.set_max_packet_size(Some(u32::try_from(s.max_packet_size).unwrap_or(u32::MAX)));
        match &s.link {
            Link::Tcp => {}
            Link::Tls(c) => {
                o.set_transport(Transport::Tls(TlsConfiguration::NativeConnector(c.clone())));
            }
            Link::Ws(_) => {
                o.set_transport(Transport::Ws);
            }
            Link::Wss(_, config) => {
                o.set_transport(Transport::Wss(TlsConfiguration::Rustls(config.clone())));
            }
        }
        o.set_connection_timeout(CONNECT_TIMEOUT.as_secs());
        let (client, events) = AsyncClient::new(o, REQUEST_CAPACITY);
        V5 {
            client,
            events,
            context: Context::of(s),
        }
    }

    fn ended(&self, e: ConnectionError, host: &str) -> Ended {
        let f = match e {
            ConnectionError::ConnectionRefused(code) => Failure::Refused(format!("{code:?}")),
            ConnectionError::MqttState(StateError::AwaitPingResp) => Failure::PingUnanswered,
            ConnectionError::MqttState(StateError::Io(e)) | ConnectionError::Io(e) => {
                Failure::Io(e)
            }
            ConnectionError::MqttState(StateError::ConnectionAborted) => Failure::Closed,
            ConnectionError::MqttState(StateError::Deserialization(
                rumqttc::v5::mqttbytes::Error::Io(e),
            )) => Failure::Io(e),
            ConnectionError::MqttState(StateError::Deserialization(e)) => {
                Failure::Packet(e.to_string())
            }
            ConnectionError::Websocket(e) => Failure::of_websocket(&e),
            ConnectionError::Timeout(_) => Failure::ConnectTimeout,
            ConnectionError::Tls(e) => Failure::Tls(e.to_string()),
            ConnectionError::NotConnAck(p) => Failure::NotConnAck(packet_kind(&format!("{p:?}"))),
            other => Failure::Other(other.to_string()),
        };
        f.ended(host, &self.context)
    }
}

impl Client for V5 {
    type SubscribeError = rumqttc::v5::ClientError;

    async fn poll(&mut self, host: &str) -> Step {
        match self.events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Step::Connected,
            Ok(Event::Incoming(Packet::Publish(p))) => Step::Message {
                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                payload: p.payload,
                retain: p.retain,
            },
            Ok(Event::Incoming(Packet::SubAck(s))) => Step::SubAck {
                refused: s
                    .return_codes
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !matches!(c, SubscribeReasonCode::Success(_)))
                    .map(|(i, c)| (i, format!("reason {c:?}")))
                    .collect(),
            },
            Ok(Event::Incoming(Packet::Disconnect(d))) => {
                let why = d
                    .properties
                    .and_then(|p| p.reason_string)
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                Step::Ended(Ended::Retry(format!(
                    "{host} disconnected this client ({:?}{why})",
                    d.reason_code
                )))
            }
            Ok(Event::Incoming(_)) => Step::Other { incoming: true },
            Ok(Event::Outgoing(_)) => Step::Other { incoming: false },
            Err(e) => Step::Ended(self.ended(e, host)),
        }
    }

    async fn subscribe(&mut self, opts: &Options) -> Result<(), Self::SubscribeError> {
        let filters = opts.topics.iter().map(|t| {
            Filter::new(
                t.filter.clone(),
                if t.qos == 0 {
                    QoS::AtMostOnce
                } else {
                    QoS::AtLeastOnce
                },
            )
        });
        self.client.subscribe_many(filters).await
    }

    async fn disconnect(&mut self) {
        let _ = self.client.try_disconnect();
    }
}
