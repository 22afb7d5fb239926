//! MQTT 3.1.1 through rumqttc's v4 client.

use super::setup::{Link, Setup};
use super::REQUEST_CAPACITY;
use super::{packet_kind, Client, Context, Ended, Failure, Step, CONNECT_TIMEOUT};
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS, StateError,
    SubscribeFilter, SubscribeReasonCode, TlsConfiguration, Transport,
};
use telltale_model::mqtt::MqttOptions as Options;

/// One connection's client and event loop.
pub struct V4 {
    client: AsyncClient,
    events: EventLoop,
    context: Context,
}

impl V4 {
    pub fn new(s: &Setup) -> V4 {
        let mut o = match &s.link {
            Link::Ws(url) | Link::Wss(url, _) => MqttOptions::new(&s.client_id, url, s.port),
            _ => MqttOptions::new(&s.client_id, &s.host, s.port),
        };
        o.set_keep_alive(s.keep_alive);
        if !s.client_id.is_empty() {
            o.set_clean_session(s.clean_session);
        }
        if let Some((user, password)) = &s.credentials {
            o.set_credentials(user, password);
        }
        o.set_max_packet_size(s.max_packet_size, 64 * 1024);
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
        let (client, mut events) = AsyncClient::new(o, REQUEST_CAPACITY);
        events
            .network_options
            .set_connection_timeout(CONNECT_TIMEOUT.as_secs());
        V4 {
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
                rumqttc::mqttbytes::Error::Io(e),
            )) => Failure::Io(e),
            ConnectionError::MqttState(StateError::Deserialization(e)) => {
                Failure::Packet(e.to_string())
            }
            ConnectionError::Websocket(e) => Failure::of_websocket(&e),
            ConnectionError::NetworkTimeout => Failure::ConnectTimeout,
            ConnectionError::FlushTimeout => Failure::WriteTimeout,
            ConnectionError::Tls(e) => Failure::Tls(e.to_string()),
            ConnectionError::NotConnAck(p) => Failure::NotConnAck(packet_kind(&format!("{p:?}"))),
            other => Failure::Other(other.to_string()),
        };
        f.ended(host, &self.context)
    }
}

impl Client for V4 {
    type SubscribeError = rumqttc::ClientError;

    async fn poll(&mut self, host: &str) -> Step {
        match self.events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Step::Connected,
            Ok(Event::Incoming(Packet::Publish(p))) => Step::Message {
                topic: p.topic,
                payload: p.payload,
                retain: p.retain,
            },
            Ok(Event::Incoming(Packet::SubAck(s))) => Step::SubAck {
                refused: s
                    .return_codes
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(c, SubscribeReasonCode::Failure))
                    .map(|(i, _)| (i, "return code 0x80 (failure)".to_string()))
                    .collect(),
            },
            Ok(Event::Incoming(_)) => Step::Other { incoming: true },
            Ok(Event::Outgoing(_)) => Step::Other { incoming: false },
            Err(e) => Step::Ended(self.ended(e, host)),
        }
    }

    async fn subscribe(&mut self, opts: &Options) -> Result<(), Self::SubscribeError> {
        let filters = opts.topics.iter().map(|t| {
            SubscribeFilter::new(
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
