//! DNS checks (`transport = "dns"`): one query per `poll.interval`, each
//! bounded by `poll.timeout`, on the loop TCP checks use
//! ([`crate::tcp::every_interval`]).
//!
//! The URL follows RFC 4501: `dns://SERVER[:PORT]/NAME?type=TYPE` asks that
//! server (an IP address; port 53 by default), `dns:///NAME` the system's
//! resolvers (`/etc/resolv.conf`). `type` is any record type (`A` by
//! default, `AAAA`, `CNAME`, `MX`, `TXT`, `NS`, `SRV`, …). Every check asks
//! the server: no cache, no `/etc/hosts`, one attempt.
//!
//! A check that gets records yields the message
//! `{"name": …, "type": …, "answers": [sorted record texts]}` with `up` = 1,
//! `response_ms` and `records` (their count), so pointer rules, keyword
//! rules and the `changes` payload policy work on the answers. No record
//! (NXDOMAIN, or a name without that type), a timeout or a refusal is
//! `up` = 0 and `retrying` with the reason.

use crate::ended::config_failed;
use crate::tcp::{every_interval, Outcome};
use crate::{SetupError, Sink};
use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::TokioResolver;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use telltale_model::duration::format_duration;
use telltale_model::{FeedConfig, RawMessage};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a `dns://` URL asks.
#[derive(Debug, Clone, PartialEq)]
struct Query {
    /// The server, or `None` for the system's resolvers.
    server: Option<(IpAddr, u16)>,
    name: String,
    record: RecordType,
}

fn invalid(raw: &str, problem: &str) -> SetupError {
    SetupError::url(raw, problem)
}

fn query(raw: &str) -> Result<Query, SetupError> {
    let url = url::Url::parse(raw).map_err(|e| SetupError::url(raw, e))?;
    if url.scheme() != "dns" {
        return Err(SetupError::Scheme {
            transport: "a DNS check",
            scheme: url.scheme().to_string(),
            expected: "`dns://server/name` or `dns:///name`",
        });
    }
    let server = match url.host_str().filter(|h| !h.is_empty()) {
        None => None,
        Some(h) => {
            let ip: IpAddr = h.trim_matches(['[', ']']).parse().map_err(|_| {
                invalid(raw, "the server is not an IP address: write e.g. dns://1.1.1.1/example.com, or dns:///example.com for the system's resolvers")
            })?;
            Some((ip, url.port().unwrap_or(53)))
        }
    };
    let name = url.path().trim_start_matches('/');
    if name.is_empty() || name.contains('/') {
        return Err(invalid(
            raw,
            "names no domain: write dns://server/example.com",
        ));
    }
    let mut record = RecordType::A;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "type" => {
                record = v.to_ascii_uppercase().parse().map_err(|_| {
                    invalid(
                        raw,
                        &format!(
                            "`{v}` is not a DNS record type: use A, AAAA, CNAME, MX, TXT, NS, SRV…"
                        ),
                    )
                })?
            }
            other => {
                return Err(invalid(
                    raw,
                    &format!("`{other}` is not a DNS query parameter: only `type` is"),
                ))
            }
        }
    }
    Ok(Query {
        server,
        name: name.to_string(),
        record,
    })
}

/// A resolver that asks every time, once, within `timeout`.
fn resolver(q: &Query, timeout: Duration) -> Result<TokioResolver, SetupError> {
    let mut builder = match q.server {
        Some((ip, port)) => TokioResolver::builder_with_config(
            ResolverConfig::from_parts(
                None,
                vec![],
                NameServerConfigGroup::from_ips_clear(&[ip], port, true),
            ),
            TokioConnectionProvider::default(),
        ),
        None => TokioResolver::builder_tokio().map_err(|e| {
            invalid(
                "dns:///",
                &format!("the system's resolvers cannot be read: {e}"),
            )
        })?,
    };
    let o = builder.options_mut();
    o.timeout = timeout;
    o.attempts = 1;
    o.cache_size = 0;
    o.use_hosts_file = ResolveHosts::Never;
    Ok(builder.build())
}

fn message(q: &Query, answers: Option<(Vec<String>, f64)>) -> RawMessage {
    let (data, metrics) = match answers {
        Some((answers, ms)) => (
            serde_json::json!({
                "name": q.name,
                "type": q.record.to_string(),
                "answers": answers,
            })
            .to_string(),
            vec![
                ("up", 1.0),
                ("response_ms", (ms * 100.0).round() / 100.0),
                ("records", answers.len() as f64),
            ],
        ),
        None => (String::new(), vec![("up", 0.0)]),
    };
    let mut m = RawMessage::new(data);
    m.event_type = Some("dns".into());
    m.transport_metrics = metrics;
    m
}

/// Runs a DNS check until `cancel` fires; without `random_phase` the first
/// query is made at once (a probe).
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken, random_phase: bool) {
    let timeout = feed.poll_options().timeout.0.max(Duration::from_millis(1));
    let (q, resolver) = loop {
        match query(&feed.url).and_then(|q| resolver(&q, timeout).map(|r| (q, r))) {
            Ok(r) => break r,
            Err(e) => {
                if !config_failed(e.to_string(), &feed, &sink, &cancel).await {
                    return;
                }
            }
        }
    };
    let resolver = Arc::new(resolver);
    let asked = match q.server {
        Some((ip, port)) => format!("{}", std::net::SocketAddr::new(ip, port)),
        None => "the system's resolvers".to_string(),
    };
    let attempt = |timeout: Duration| {
        let (q, resolver, asked) = (q.clone(), resolver.clone(), asked.clone());
        async move {
            let started = Instant::now();
            match resolver.lookup(q.name.as_str(), q.record).await {
                Ok(lookup) => {
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    let mut answers: Vec<String> = lookup
                        .record_iter()
                        .filter(|r| r.record_type() == q.record)
                        .map(|r| r.data().to_string())
                        .collect();
                    answers.sort();
                    if answers.is_empty() {
                        return Outcome::Down {
                            message: message(&q, None),
                            reason: format!("{} has no {} record ({asked})", q.name, q.record),
                        };
                    }
                    Outcome::Up(message(&q, Some((answers, ms))))
                }
                Err(e) => {
                    let reason = if e.is_nx_domain() {
                        format!("{} does not exist (NXDOMAIN from {asked})", q.name)
                    } else if e.is_no_records_found() {
                        format!("{} has no {} record ({asked})", q.name, q.record)
                    } else if started.elapsed() >= timeout {
                        format!(
                            "no answer from {asked} within {} (poll.timeout)",
                            format_duration(timeout)
                        )
                    } else {
                        format!("the lookup of {} at {asked} failed: {e}", q.name)
                    };
                    Outcome::Down {
                        message: message(&q, None),
                        reason,
                    }
                }
            }
        }
    };
    every_interval(&feed, &sink, &cancel, random_phase, attempt).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_urls_name_a_server_or_the_system_a_domain_and_a_type() {
        let q = query("dns://127.0.0.1:5353/web.test?type=aaaa").unwrap();
        assert_eq!(q.server, Some(("127.0.0.1".parse().unwrap(), 5353)));
        assert_eq!((q.name.as_str(), q.record), ("web.test", RecordType::AAAA));
        let q = query("dns:///example.com").unwrap();
        assert_eq!((q.server, q.record), (None, RecordType::A));
        assert_eq!(query("dns://[::1]/x.test").unwrap().server.unwrap().1, 53);
        for (bad, says) in [
            ("dns://ns1.example.com/x.test", "not an IP address"),
            ("dns://1.1.1.1/", "names no domain"),
            ("dns://1.1.1.1/x.test?type=NOPE", "not a DNS record type"),
            ("dns://1.1.1.1/x.test?class=IN", "only `type`"),
            ("https://1.1.1.1/x.test", "dns://server/name"),
        ] {
            let e = query(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
