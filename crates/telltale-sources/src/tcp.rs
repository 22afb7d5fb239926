//! TCP checks (`transport = "tcp"`, `url = "tcp://host:port"`): one
//! connection attempt per `poll.interval`, each bounded by `poll.timeout`,
//! on the same schedule as polls (see [`crate::poll`]). The loop is shared
//! with DNS checks ([`every_interval`]).
//!
//! Each attempt yields a message without payload whose transport metrics
//! are `up` (1 or 0) and, when it connected, `response_ms`: from the start
//! of the attempt (name lookup included) to the accepted connection, which
//! is closed at once. A refused or timed-out attempt reports `retrying` with
//! the reason and is tried again after the backoff's delay (at most one
//! interval); the first success after that reports `live`. A URL that is
//! not `tcp://host:port` is a configuration failure, re-checked every
//! `backoff.max`.

use crate::ended::config_failed;
use crate::{SetupError, Sink};
use std::sync::Arc;
use std::time::Duration;
use telltale_model::duration::format_duration;
use telltale_model::{Backoff, ConnState, FeedConfig, RawMessage};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// `host` and `port` of a `tcp://host:port` URL.
fn address(raw: &str) -> Result<(String, u16), SetupError> {
    let url = url::Url::parse(raw).map_err(|e| SetupError::url(raw, e))?;
    if url.scheme() != "tcp" {
        return Err(SetupError::Scheme {
            transport: "a TCP check",
            scheme: url.scheme().to_string(),
            expected: "`tcp://host:port`",
        });
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| SetupError::url(raw, "no host: write tcp://host:port"))?;
    let port = url
        .port()
        .ok_or_else(|| SetupError::url(raw, "no port: write tcp://host:port"))?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// One attempt's message: `up`, and the connect time when it connected.
fn message(ms: Option<f64>) -> RawMessage {
    let mut m = RawMessage::new(bytes::Bytes::new());
    m.event_type = Some("tcp".into());
    m.transport_metrics = match ms {
        Some(ms) => vec![("up", 1.0), ("response_ms", (ms * 100.0).round() / 100.0)],
        None => vec![("up", 0.0)],
    };
    m
}

/// Runs a TCP check until `cancel` fires; without `random_phase` the first
/// attempt is made at once (a probe).
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken, random_phase: bool) {
    let (host, port) = loop {
        match address(&feed.url) {
            Ok(a) => break a,
            Err(e) => {
                if !config_failed(e.to_string(), &feed, &sink, &cancel).await {
                    return;
                }
            }
        }
    };
    let attempt = |timeout: Duration| {
        let host = host.clone();
        async move {
            let started = Instant::now();
            let connect = tokio::net::TcpStream::connect((host.as_str(), port));
            match tokio::time::timeout(timeout, connect).await {
                Ok(Ok(stream)) => {
                    drop(stream);
                    Outcome::Up(message(Some(started.elapsed().as_secs_f64() * 1000.0)))
                }
                Ok(Err(e)) => Outcome::Down {
                    message: message(None),
                    reason: format!("could not connect to {host}:{port}: {e}"),
                },
                Err(_) => Outcome::Down {
                    message: message(None),
                    reason: format!(
                        "no connection to {host}:{port} within {} (poll.timeout)",
                        format_duration(timeout)
                    ),
                },
            }
        }
    };
    every_interval(&feed, &sink, &cancel, random_phase, attempt).await;
}

/// How one check went.
pub(crate) enum Outcome {
    /// Its message (`up` = 1).
    Up(RawMessage),
    /// Its message (`up` = 0) and why.
    Down {
        /// What is stored and charted.
        message: RawMessage,
        /// The `retrying` reason.
        reason: String,
    },
}

/// The loop of a check (TCP, DNS): one `attempt` per `poll.interval`,
/// bounded by `poll.timeout`, on the polls' schedule; after a failure the
/// next attempt follows the backoff (at most one interval), and the first
/// success after that reports `live` and restarts the schedule.
pub(crate) async fn every_interval<F, Fut>(
    feed: &FeedConfig,
    sink: &Sink,
    cancel: &CancellationToken,
    random_phase: bool,
    mut attempt: F,
) where
    F: FnMut(Duration) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let opts = feed.poll_options();
    let interval = opts.interval.0.max(crate::poll::MIN_INTERVAL);
    let timeout = opts.timeout.0.max(Duration::from_millis(1));
    let mut backoff = Backoff::new(&feed.backoff);
    let mut ticker = crate::poll::schedule(interval, random_phase);
    let mut retry_in: Option<Duration> = None;
    let mut live = false;
    loop {
        let Some(recovering) = crate::poll::next_attempt(&mut retry_in, &mut ticker, cancel).await
        else {
            return;
        };
        if !live {
            sink.state(ConnState::Connecting).await;
        }
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            // The attempt bounds itself; this is a backstop.
            o = tokio::time::timeout(timeout + Duration::from_secs(1), attempt(timeout)) => o,
        };
        match outcome {
            Ok(Outcome::Up(m)) => {
                if !live {
                    live = true;
                    backoff.connected();
                    sink.state(ConnState::Live).await;
                }
                sink.message(m).await;
                if recovering {
                    ticker.reset();
                }
            }
            Ok(Outcome::Down { message, reason }) => {
                live = false;
                sink.message(message).await;
                let delay = backoff.next_delay().min(interval);
                sink.retrying(backoff.attempt(), delay, reason).await;
                retry_in = Some(delay);
            }
            Err(_) => {
                live = false;
                let delay = backoff.next_delay().min(interval);
                let reason = format!("no answer within {}", format_duration(timeout));
                sink.retrying(backoff.attempt(), delay, reason).await;
                retry_in = Some(delay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tcp_urls_with_a_host_and_a_port_are_checked() {
        assert_eq!(
            address("tcp://db.lan:5432").unwrap(),
            ("db.lan".into(), 5432)
        );
        assert_eq!(address("tcp://[::1]:22").unwrap(), ("::1".into(), 22));
        assert!(address("tcp://db.lan")
            .unwrap_err()
            .to_string()
            .contains("no port"));
        assert!(address("http://db.lan:80")
            .unwrap_err()
            .to_string()
            .contains("tcp://host:port"));
        assert!(address("tcp://:80").is_err());
    }
}
