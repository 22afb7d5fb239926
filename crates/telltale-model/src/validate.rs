//! What serde cannot check in a feed: URL scheme against transport,
//! pointers, regexes, transport sections, timeouts and limits. Used by the
//! config file reader, the API and the engine alike.

use crate::duration::{ByteSize, Dur};
use crate::extract::Extractor;
use crate::feed::{CursorMode, FeedConfig, PayloadFormat, TransportKind};

/// Checks what serde cannot: URL scheme vs transport, pointers, regexes,
/// transport sections, timeouts. Returns `(field, message)` pairs.
pub fn validate_feed(feed: &FeedConfig) -> Vec<(String, String)> {
    let mut p = Vec::new();
    if feed.name.trim().is_empty() {
        p.push((
            "name".into(),
            "is empty: give the feed a unique name".into(),
        ));
    }
    // Messages quote the URL masked: errors never echo a password.
    use crate::secret::redact_url;
    let schemes: &[&str] = match feed.transport {
        TransportKind::Websocket | TransportKind::Graphql => &["ws", "wss"],
        TransportKind::Mqtt => &["mqtt", "mqtts", "ws", "wss"],
        TransportKind::PgNotify => &["postgres", "postgresql"],
        TransportKind::Socketio => &["http", "https", "ws", "wss"],
        TransportKind::Tcp => &["tcp"],
        // `dns:///name` has no host: the system's resolvers.
        TransportKind::Dns => &[],
        // A webhook's URL is only a link to its sender, and may be empty.
        TransportKind::Webhook if feed.url.is_empty() => &[],
        _ => &["http", "https"],
    };
    match url::Url::parse(&feed.url) {
        _ if schemes.is_empty() => {}
        Ok(u) if schemes.contains(&u.scheme()) => {
            if u.host_str().is_none_or(str::is_empty) {
                p.push((
                    "url".into(),
                    format!("`{}` has no host", redact_url(&feed.url)),
                ));
            }
        }
        Ok(u) => p.push((
            "url".into(),
            format!(
                "has scheme `{}`, but transport `{}` needs {}",
                u.scheme(),
                feed.transport,
                schemes
                    .iter()
                    .map(|s| format!("`{s}://`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        )),
        Err(e) => p.push((
            "url".into(),
            format!(
                "`{}` is not a valid URL ({e}); write e.g. `{}://127.0.0.1:8080/path`",
                redact_url(&feed.url),
                schemes[0]
            ),
        )),
    }
    for (name, value) in &feed.headers {
        if http_header_name_invalid(name) {
            p.push((
                format!("headers.{name}"),
                "is not a valid HTTP header name".into(),
            ));
        }
        if value.contains('\n') || value.contains('\r') {
            p.push((
                format!("headers.{name}"),
                "contains a line break, which HTTP headers cannot carry".into(),
            ));
        }
    }
    env_refs("headers", &feed.headers, &mut p);
    let sections = [
        (
            "websocket",
            feed.websocket.is_some(),
            TransportKind::Websocket,
        ),
        ("sse", feed.sse.is_some(), TransportKind::Sse),
        ("poll", feed.poll.is_some(), TransportKind::Poll),
        (
            "long_poll",
            feed.long_poll.is_some(),
            TransportKind::LongPoll,
        ),
        ("mqtt", feed.mqtt.is_some(), TransportKind::Mqtt),
        (
            "pg_notify",
            feed.pg_notify.is_some(),
            TransportKind::PgNotify,
        ),
        ("graphql", feed.graphql.is_some(), TransportKind::Graphql),
        ("socketio", feed.socketio.is_some(), TransportKind::Socketio),
        ("webhook", feed.webhook.is_some(), TransportKind::Webhook),
        ("grpc", feed.grpc.is_some(), TransportKind::Grpc),
    ];
    for (section, present, kind) in sections {
        // A TCP check takes its schedule from `[feed.poll]`.
        let shared =
            section == "poll" && matches!(feed.transport, TransportKind::Tcp | TransportKind::Dns);
        if present && kind != feed.transport && !shared {
            p.push((
                section.into(),
                format!(
                    "does not apply to transport `{}`: remove `[feed.{section}]` or set `transport = \"{section}\"`",
                    feed.transport
                ),
            ));
        }
    }
    if feed.transport == TransportKind::Dns && !feed.url.starts_with("dns:") {
        p.push((
            "url".into(),
            "is not a DNS URL: write `dns://server/name?type=A`, or `dns:///name` for the system's resolvers".into(),
        ));
    }
    if matches!(feed.transport, TransportKind::Tcp | TransportKind::Dns) {
        if url::Url::parse(&feed.url).is_ok_and(|u| u.scheme() == "tcp" && u.port().is_none()) {
            p.push(("url".into(), "has no port: write `tcp://host:port`".into()));
        }
        let o = feed.poll_options();
        if o.method != "GET" || o.body.is_some() {
            p.push((
                "poll.method".into(),
                "and `poll.body` do not apply to a TCP or DNS check: remove them".into(),
            ));
        }
    }
    if matches!(
        feed.transport,
        TransportKind::Poll | TransportKind::Tcp | TransportKind::Dns
    ) {
        let o = feed.poll_options();
        if o.interval.0 < std::time::Duration::from_millis(100) {
            p.push((
                "poll.interval".into(),
                "is below 100ms: use at least 100ms".into(),
            ));
        }
        if o.timeout.0.is_zero() {
            p.push(("poll.timeout".into(), "must be above zero".into()));
        }
        if feed.transport == TransportKind::Poll && reqwest_method_invalid(&o.method) {
            p.push((
                "poll.method".into(),
                format!("`{}` is not an HTTP method: use GET, POST, HEAD…", o.method),
            ));
        }
    }
    if feed.transport == TransportKind::Sse
        && feed
            .sse_options()
            .header_timeout
            .is_some_and(|d| d.0.is_zero())
    {
        p.push((
            "sse.header_timeout".into(),
            "is zero: no response could ever be accepted".into(),
        ));
    }
    if feed.transport == TransportKind::LongPoll {
        let o = feed.long_poll_options();
        if o.timeout() <= o.hold.0 {
            p.push((
                "long_poll.timeout".into(),
                format!(
                    "must exceed `hold` ({}), or every held request would time out on our side",
                    crate::duration::format_duration(o.hold.0)
                ),
            ));
        }
        if let CursorMode::Body { pointer, param } = &o.cursor {
            if let Err(e) = crate::extract::check_pointer(pointer) {
                p.push(("long_poll.cursor.pointer".into(), e.to_string()));
            }
            if param.is_empty() {
                p.push((
                    "long_poll.cursor.param".into(),
                    "is empty: name the query parameter that carries the cursor".into(),
                ));
            }
        }
        if o.header_timeout.is_some_and(|d| d.0.is_zero()) {
            p.push((
                "long_poll.header_timeout".into(),
                "is zero: no response could ever be accepted".into(),
            ));
        }
        if o.max_items == Some(0) {
            p.push((
                "long_poll.max_items".into(),
                "is zero: every item would be dropped".into(),
            ));
        }
        for (f, v) in [
            ("long_poll.items", &o.items),
            ("long_poll.id_pointer", &o.id_pointer),
        ] {
            if let Some(ptr) = v {
                if let Err(e) = crate::extract::check_pointer(ptr) {
                    p.push((f.into(), e.to_string()));
                }
            }
        }
    }
    if feed.transport == TransportKind::Websocket {
        let o = feed.websocket_options();
        socket_settings(
            "websocket",
            (o.ping_interval, o.pong_timeout, o.max_message_size),
            &mut p,
        );
        match &o.id_pointer {
            Some(ptr) => {
                if let Err(e) = crate::extract::check_pointer(ptr) {
                    p.push(("websocket.id_pointer".into(), e.to_string()));
                }
            }
            None => {
                if o.subscribe.iter().any(|s| s.contains("{last_id}")) {
                    p.push((
                        "websocket.subscribe".into(),
                        "uses {last_id}, which needs websocket.id_pointer (where each message's id is)".into(),
                    ));
                }
            }
        }
    }
    if feed.transport == TransportKind::Mqtt {
        crate::mqtt::validate(feed, &mut p);
    }
    if feed.transport == TransportKind::PgNotify {
        crate::pg_notify::validate(feed, &mut p);
    }
    if feed.transport == TransportKind::Graphql {
        crate::graphql::validate(feed, &mut p);
    }
    if feed.transport == TransportKind::Socketio {
        crate::socketio::validate(feed, &mut p);
    }
    if feed.transport == TransportKind::Webhook {
        crate::webhook::validate(feed, &mut p);
    }
    if feed.transport == TransportKind::Grpc {
        crate::grpc::validate(feed, &mut p);
    }
    tags(feed, &mut p);
    if let Some(parent) = &feed.depends_on {
        if parent.trim().is_empty() {
            p.push((
                "depends_on".into(),
                "is empty: name the feed this one depends on, or remove the line".into(),
            ));
        } else if *parent == feed.name {
            p.push((
                "depends_on".into(),
                "names the feed itself: name the feed it depends on (a router, a host)".into(),
            ));
        }
    }
    crate::tls::validate(feed, &mut p);
    crate::proxy::validate(feed, &mut p);
    if feed.format == PayloadFormat::Prometheus && feed.transport != TransportKind::Poll {
        // Allowed, but unusual: exposition text is normally scraped.
    }
    let mut rule_names = std::collections::HashSet::new();
    for (i, rule) in feed.alerts.iter().enumerate() {
        for (field, message) in rule.validate() {
            p.push((format!("alert[{i}].{field}"), message));
        }
        if !rule_names.insert(rule.name.as_str()) {
            p.push((
                format!("alert[{i}].name"),
                format!(
                    "`{}` is used twice: alert names must be unique within a feed",
                    rule.name
                ),
            ));
        }
        if rule.kind == crate::alert::AlertKind::Status && feed.effective_status().is_none() {
            p.push((
                format!("alert[{i}].kind"),
                "is `status`, but the feed has no `[feed.status]` rule to say what healthy means"
                    .into(),
            ));
        }
    }
    if let Err(errors) = Extractor::new(feed) {
        for e in errors {
            p.push((e.field, e.message));
        }
    }
    p
}

pub(crate) fn http_header_name_invalid(name: &str) -> bool {
    name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn reqwest_method_invalid(m: &str) -> bool {
    m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase())
}

/// The checks every WebSocket-based transport's socket settings get
/// (`<section>.ping_interval`, `pong_timeout`, `max_message_size`).
pub(crate) fn socket_settings(
    section: &str,
    (ping_interval, pong_timeout, max_message_size): (Dur, Dur, ByteSize),
    p: &mut Vec<(String, String)>,
) {
    if ping_interval.0 < std::time::Duration::from_millis(100) {
        p.push((format!("{section}.ping_interval"), "is below 100ms".into()));
    }
    if pong_timeout.0.is_zero() {
        p.push((
            format!("{section}.pong_timeout"),
            "must be above zero".into(),
        ));
    }
    if max_message_size.0 < 16 {
        p.push((format!("{section}.max_message_size"), "is too small".into()));
    }
}

/// Checks the `${VAR}` references in a map of values sent to the server
/// (headers, GraphQL `connection_params`, Socket.IO `auth`): each problem
/// names `<prefix>.<name>`.
pub(crate) fn env_refs(
    prefix: &str,
    values: &std::collections::BTreeMap<String, String>,
    p: &mut Vec<(String, String)>,
) {
    for (name, value) in values {
        if let Err(e) = crate::secret::expand_with(value, |_| Some(String::new())) {
            p.push((format!("{prefix}.{name}"), e.to_string()));
        }
    }
}

/// A tag is lowercase letters, digits, `-`, `_` or `.`, at most 32, and
/// used once per feed.
fn tags(feed: &FeedConfig, p: &mut Vec<(String, String)>) {
    for (i, t) in feed.tags.iter().enumerate() {
        let ok = !t.is_empty()
            && t.len() <= 32
            && t.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if !ok {
            p.push((
                format!("tags[{i}]"),
                format!("`{t}` is not a tag: use lowercase letters, digits, -, _ or ., at most 32 (e.g. `prod`, `eu-west`)"),
            ));
        } else if feed.tags[..i].contains(t) {
            p.push((format!("tags[{i}]"), format!("`{t}` is listed twice")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_short_lowercase_words_used_once() {
        let mut f = FeedConfig::new("f", TransportKind::Poll, "http://h/");
        f.tags = vec!["prod".into(), "eu-west.1".into()];
        assert!(validate_feed(&f).is_empty());
        f.tags = vec![
            "Prod".into(),
            "a b".into(),
            "prod".into(),
            "prod".into(),
            String::new(),
        ];
        let fields: Vec<String> = validate_feed(&f).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["tags[0]", "tags[1]", "tags[3]", "tags[4]"]);
    }
}
