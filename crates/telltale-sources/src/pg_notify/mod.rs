//! PostgreSQL change feeds: `LISTEN` on the feed's channels, each
//! `NOTIFY` a message (`tokio-postgres`).
//!
//! One task per feed runs this loop until cancelled:
//!
//! 1. Build the connection from the URL (`postgres://user:password@host/db`,
//!    `sslmode` as libpq reads it) and `[feed.pg_notify]`. A problem here
//!    is a configuration error: [`ConnState::Failed`], re-checked every
//!    `backoff.max`.
//! 2. Report [`ConnState::Connecting`], connect and authenticate, bounded
//!    by [`CONNECT_TIMEOUT`], and `LISTEN` on every channel. Only then is
//!    the feed [`ConnState::Live`]: live means subscribed.
//! 3. Each notification becomes a [`RawMessage`]: the payload as data, the
//!    channel as the event type.
//! 4. PostgreSQL's protocol has no keepalive of its own, so the transport
//!    sends `SELECT 1` every `pg_notify.keep_alive`; no answer by the next
//!    one means the server is gone.
//! 5. Whatever ends a connection (the server shutting down or closing it,
//!    a dead peer, a malformed message) ends in [`ConnState::Retrying`]
//!    with a reason and a delay from [`Backoff`]. Refused credentials or a
//!    missing database are [`ConnState::Failed`], retried on the slow
//!    schedule.
//! 6. NOTIFY has no replay: what is sent while no session listens is lost
//!    for good. After a reconnect the feed records a `gap` issue saying
//!    for how long nothing was listening, so the loss is on the timeline
//!    instead of silent.
//!
//! The password is never logged or reported: reasons name the host and
//! port only.

mod setup;

use crate::ended::{config_failed, wait_after, Ended};
use crate::Sink;
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use telltale_model::duration::format_duration;
use telltale_model::{Backoff, ConnState, FeedConfig, RawMessage, Timestamp};
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Notification};
use tokio_util::sync::CancellationToken;

pub use setup::{quote_ident, Setup};

/// Bound on TCP connect + TLS + authentication + `LISTEN`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on closing the session when stopping.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Notifications read off the socket ahead of the pipeline.
const QUEUE: usize = 256;

/// Runs a `pg_notify` feed until `cancel` fires. See the module doc.
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken) {
    let opts = feed.pg_notify_options();
    let mut backoff = Backoff::new(&feed.backoff);
    // When the last subscribed session ended: notifications from then on
    // until the next LISTEN are lost.
    let mut unheard_since: Option<Instant> = None;
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
        let before = sink.counters().messages.load(Ordering::Relaxed);
        let link = Link {
            setup: &setup,
            sink: &sink,
            cancel: &cancel,
        };
        let ended = session(&link, &mut backoff, &mut unheard_since).await;
        if let Some(ended) = ended.listened {
            unheard_since.get_or_insert(ended);
        }
        if sink.counters().messages.load(Ordering::Relaxed) != before {
            backoff.delivered();
        }
        if !wait_after(ended.how, &mut backoff, &sink, &cancel).await {
            return;
        }
    }
}

/// How a session ended.
struct SessionEnd {
    how: Ended,
    /// When it stopped listening, if it ever listened.
    listened: Option<Instant>,
}

impl From<Ended> for SessionEnd {
    fn from(how: Ended) -> Self {
        SessionEnd {
            how,
            listened: None,
        }
    }
}

/// What one session needs from its feed.
struct Link<'a> {
    setup: &'a Setup,
    sink: &'a Sink,
    cancel: &'a CancellationToken,
}

/// One session: connect, LISTEN, read until it ends.
async fn session(
    link: &Link<'_>,
    backoff: &mut Backoff,
    unheard_since: &mut Option<Instant>,
) -> SessionEnd {
    let Link {
        setup,
        sink,
        cancel,
    } = *link;
    let host = setup.host_port.as_str();
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, setup.config.connect(setup.tls.clone()));
    let (client, connection) = tokio::select! {
        _ = cancel.cancelled() => return Ended::Cancelled.into(),
        r = connect => match r {
            Err(_) => return Ended::Retry(format!(
                "no answer from {host} within {}",
                format_duration(CONNECT_TIMEOUT)
            )).into(),
            Ok(Err(e)) => return failure(&e, host, Phase::Handshake).into(),
            Ok(Ok(c)) => c,
        },
    };
    // The connection is driven by a task of its own: it answers our
    // queries and forwards notifications, whatever the loop is doing.
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let driver = tokio::spawn(async move {
        let mut connection = connection;
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            let forward = match m {
                Ok(AsyncMessage::Notification(n)) => Ok(n),
                Ok(_) => continue, // a NOTICE
                Err(e) => Err(e),
            };
            let last = forward.is_err();
            if tx.send(forward).await.is_err() || last {
                return;
            }
        }
    });
    let _abort = AbortOnDrop(driver.abort_handle());
    let client = Arc::new(client);
    let listen = tokio::time::timeout(CONNECT_TIMEOUT, client.batch_execute(&setup.listen));
    tokio::select! {
        _ = cancel.cancelled() => return Ended::Cancelled.into(),
        r = listen => match r {
            Err(_) => return Ended::Retry(format!(
                "{host} did not confirm LISTEN within {}",
                format_duration(CONNECT_TIMEOUT)
            )).into(),
            Ok(Err(e)) => return failure(&e, host, Phase::Session).into(),
            Ok(Ok(())) => {}
        },
    }
    sink.state(ConnState::Live).await;
    // A session that stays up for `backoff.reset_after` starts the next
    // failure's backoff over.
    backoff.connected();
    if let Some(since) = unheard_since.take() {
        sink.issue(
            "gap",
            format!(
                "listening again on {host} after {} without a session: notifications sent meanwhile are lost (PostgreSQL's NOTIFY has no replay)",
                format_duration(round_to_ms(since.elapsed()))
            ),
        )
        .await;
    }
    let how = listen_until_ended(setup, &client, &mut rx, sink, cancel).await;
    if matches!(how, Ended::Cancelled) {
        // Dropping the client makes the driver send Terminate and end.
        drop(client);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, driver_done(&mut rx)).await;
    }
    SessionEnd {
        how,
        listened: Some(Instant::now()),
    }
}

/// Reads notifications and pings until the session ends.
async fn listen_until_ended(
    setup: &Setup,
    client: &Arc<tokio_postgres::Client>,
    rx: &mut mpsc::Receiver<Result<Notification, tokio_postgres::Error>>,
    sink: &Sink,
    cancel: &CancellationToken,
) -> Ended {
    let host = setup.host_port.as_str();
    let keep_alive = setup.keep_alive;
    let pinger = async {
        loop {
            tokio::time::sleep(keep_alive).await;
            match tokio::time::timeout(keep_alive, client.simple_query("SELECT 1")).await {
                Err(_) => {
                    return Ended::Retry(format!(
                        "{host} did not answer `SELECT 1` within pg_notify.keep_alive ({}): server presumed dead",
                        format_duration(keep_alive)
                    ))
                }
                Ok(Err(e)) => return failure(&e, host, Phase::Session),
                Ok(Ok(_)) => sink.activity(),
            }
        }
    };
    tokio::pin!(pinger);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ended::Cancelled,
            ended = &mut pinger => return ended,
            m = rx.recv() => match m {
                Some(Ok(n)) => sink.message(message(n)).await,
                Some(Err(e)) => return failure(&e, host, Phase::Session),
                None => return Ended::Retry(format!("{host} closed the connection")),
            },
        }
    }
}

/// Waits until the driver has ended (its sender dropped).
async fn driver_done(rx: &mut mpsc::Receiver<Result<Notification, tokio_postgres::Error>>) {
    while rx.recv().await.is_some() {}
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn round_to_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// The message for one notification: the channel as the server named it
/// (exactly as LISTEN did, since the names are quoted).
fn message(n: Notification) -> RawMessage {
    RawMessage {
        received_at: Timestamp::now(),
        server_id: None,
        event_type: Some(n.channel().to_string()),
        data: Bytes::from(n.payload().to_string()),
        transport_metrics: Vec::new(),
        labels: Vec::new(),
    }
}

/// Where a session was when it failed.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    /// Connecting, TLS, startup and authentication.
    Handshake,
    /// Authenticated.
    Session,
}

/// Why a session ended, from tokio-postgres's error: what to fix, and
/// whether only the operator can fix it (retried slowly).
fn failure(e: &tokio_postgres::Error, host: &str, phase: Phase) -> Ended {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let said = db.message();
        let slow = |what: &str| {
            Ended::RetrySlowly(format!(
                "{host}: {what} (server said: {said}; SQLSTATE {})",
                code.code()
            ))
        };
        return if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            slow("the user name or password was refused: check the credentials in the feed's URL (`postgres://user:password@host/database`) and pg_hba.conf on the server")
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            slow("the database does not exist: check the database in the feed's URL")
        } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            slow("the user may not connect or listen: check its rights (`GRANT CONNECT`)")
        } else if *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
        {
            Ended::Retry(format!("{host} is shutting down or starting up ({said})"))
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            Ended::Retry(format!("{host} has too many connections ({said})"))
        } else {
            Ended::Retry(format!("{host}: {said} (SQLSTATE {})", code.code()))
        };
    }
    if let Some(io) = io_error(e) {
        use std::io::ErrorKind::*;
        return Ended::Retry(match io.kind() {
            ConnectionRefused => format!("{host} refused the connection (is PostgreSQL running?)"),
            // A PostgreSQL that refuses a client says why (an error
            // message, above) before it closes.
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
                if phase == Phase::Handshake =>
            {
                format!("{host} closed the connection during the startup handshake without saying why: is this a PostgreSQL server?")
            }
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                format!("{host} closed the connection")
            }
            TimedOut => format!("no answer from {host} (timed out)"),
            // tokio-postgres's codec, when the peer closes in the middle of
            // what it took for a message's length.
            _ if io.to_string().contains("bytes remaining") => format!(
                "{host} sent something that is not PostgreSQL's protocol, then closed: is this a PostgreSQL server?"
            ),
            _ => format!("network error with {host}: {io}"),
        });
    }
    if e.is_closed() {
        return Ended::Retry(format!("{host} closed the connection"));
    }
    let text = e.to_string();
    if text.contains("TLS") || text.contains("tls") || text.contains("SSL") {
        return Ended::Retry(format!("TLS with {host} failed: {}", chain(e)));
    }
    Ended::Retry(format!(
        "{host} sent something that is not PostgreSQL's protocol ({}): is this a PostgreSQL server?",
        chain(e)
    ))
}

/// The first I/O error in `e`'s source chain.
fn io_error(e: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = s.source();
    }
    None
}

/// `e` and its causes, joined.
fn chain(e: &tokio_postgres::Error) -> String {
    let mut out = e.to_string();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = s.source();
    }
    out
}
