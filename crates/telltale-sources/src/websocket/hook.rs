//! The protocol hooks a WebSocket feed can speak (GraphQL subscriptions,
//! Socket.IO): how each opens after the handshake, and what each text
//! frame calls for ([`Action`]). The protocols themselves live in
//! [`crate::graphql`] and [`crate::socketio`].

use super::describe::{describe_close, describe_io_error};
use super::{send_text, Target, Ws};
use crate::ended::Ended;
use crate::SetupError;
use futures_util::StreamExt;
use telltale_model::{FeedConfig, RawMessage, TransportKind};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// What a text frame calls for, as a protocol hook decides.
pub(crate) enum Action {
    /// A message: deliver it.
    Deliver(RawMessage),
    /// A message with partial errors: record them, deliver it.
    DeliverWithIssue(RawMessage, String),
    /// A message that asks for an answer: deliver it, then send this.
    DeliverAndReply(RawMessage, String),
    /// Record an issue of this kind, deliver nothing.
    Issue(&'static str, String),
    /// Answer this (a pong, an acknowledgement).
    Reply(String),
    /// Nothing to do (a keepalive).
    Nothing,
    /// The connection is over.
    End(Ended),
}

/// The protocol a feed speaks over its socket, ready to open.
pub(super) enum Opener {
    /// Plain WebSocket: messages as they come.
    Plain,
    /// GraphQL: its options and `connection_init` payload.
    Graphql(
        telltale_model::graphql::GraphqlOptions,
        serde_json::Map<String, serde_json::Value>,
    ),
    /// Socket.IO: its options and `auth` object.
    Socketio(
        telltale_model::socketio::SocketioOptions,
        serde_json::Map<String, serde_json::Value>,
    ),
}

/// An opened protocol session.
pub(super) enum Hook {
    Graphql(crate::graphql::Session),
    Socketio(crate::socketio::Session),
}

impl Opener {
    /// The URL to connect to and the protocol, for a feed; errors are
    /// configuration errors.
    pub(super) fn of(feed: &FeedConfig) -> Result<(String, Opener), SetupError> {
        Ok(match feed.transport {
            TransportKind::Graphql => {
                let g = feed.graphql_options();
                let init = crate::graphql::init_payload(&g)?;
                (feed.url.clone(), Opener::Graphql(g, init))
            }
            TransportKind::Socketio => {
                let o = feed.socketio_options();
                let auth = crate::socketio::auth_payload(&o)?;
                (
                    crate::socketio::ws_url(&feed.url)?,
                    Opener::Socketio(o, auth),
                )
            }
            _ => (feed.url.clone(), Opener::Plain),
        })
    }

    /// What the opening waits for, for messages.
    pub(super) fn awaited(&self) -> &'static str {
        match self {
            Opener::Graphql(..) => "GraphQL connection_ack",
            Opener::Socketio(..) => "Socket.IO namespace connect",
            Opener::Plain => "answer",
        }
    }

    /// The opening exchange; then the session that reads frames.
    pub(super) async fn open(
        &self,
        ws: &mut Ws,
        picked: Option<&str>,
        target: &Target,
    ) -> Result<Hook, Ended> {
        match self {
            Opener::Plain => Err(Ended::Retry("no protocol to open".into())),
            Opener::Graphql(g, init) => {
                let session = crate::graphql::Session::new(picked, g.protocol, &target.host_port)?;
                send_text(ws, session.init(init.clone()), target).await?;
                exchange(ws, target, |t| session.on_ack_wait(t)).await?;
                send_text(ws, session.subscribe(g), target).await?;
                Ok(Hook::Graphql(session))
            }
            Opener::Socketio(o, auth) => {
                let session = crate::socketio::Session::new(o, auth.clone(), &target.host_port);
                exchange(ws, target, |t| session.on_open_wait(t)).await?;
                Ok(Hook::Socketio(session))
            }
        }
    }
}

impl Hook {
    pub(super) fn on_text(&self, text: &str) -> Action {
        match self {
            Hook::Graphql(s) => s.on_text(text),
            Hook::Socketio(s) => s.on_text(text),
        }
    }

    pub(super) fn is_graphql(&self) -> bool {
        matches!(self, Hook::Graphql(_))
    }
}

/// Reads text frames until `step` says the opening is done, sending the
/// replies it asks for.
async fn exchange(
    ws: &mut Ws,
    target: &Target,
    step: impl Fn(&str) -> Result<(bool, Option<String>), Ended>,
) -> Result<(), Ended> {
    loop {
        match ws.next().await {
            None => {
                return Err(Ended::Retry(format!(
                    "connection to {} dropped during the protocol's opening",
                    target.host_port
                )))
            }
            Some(Err(e)) => return Err(Ended::Retry(describe_io_error(&e, target))),
            Some(Ok(Message::Text(text))) => {
                let (done, reply) = step(&text)?;
                if let Some(reply) = reply {
                    send_text(ws, reply, target).await?;
                }
                if done {
                    return Ok(());
                }
            }
            Some(Ok(Message::Close(frame))) => return Err(closed(frame.as_ref(), true)),
            Some(Ok(_)) => {}
        }
    }
}

/// How a connection closed by the server ends; GraphQL servers' 44xx
/// codes for refused credentials are retried slowly.
pub(super) fn closed(frame: Option<&CloseFrame>, graphql: bool) -> Ended {
    let code = frame.map(|f| u16::from(f.code));
    match code
        .filter(|_| graphql)
        .and_then(crate::graphql::Session::close_meaning)
    {
        Some((meaning, slow)) => {
            let reason = frame.map_or("", |f| f.reason.as_str().trim());
            let what = match (code, reason.is_empty()) {
                (Some(c), true) => format!("server closed with code {c} ({meaning})"),
                (Some(c), false) => format!("server closed with code {c} ({meaning}): {reason}"),
                (None, _) => describe_close(frame),
            };
            if slow {
                Ended::RetrySlowly(what)
            } else {
                Ended::Retry(what)
            }
        }
        None => Ended::Retry(describe_close(frame)),
    }
}
