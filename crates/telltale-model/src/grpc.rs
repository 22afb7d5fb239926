//! gRPC server streaming (`[feed.grpc]`): a health watch, or any
//! server-streaming method decoded to JSON.
//!
//! ```toml
//! [[feed]]
//! name = "payments-health"
//! transport = "grpc"
//! url = "https://payments.lan:50051"
//! [feed.grpc]
//! service = "payments.v1.Payments"   # grpc.health.v1.Health/Watch: no .proto needed
//!
//! [[feed]]
//! name = "fleet"
//! transport = "grpc"
//! url = "http://fleet.lan:50051"
//! headers = { authorization = "Bearer ${TELLTALE_SECRET_FLEET}" }   # sent as metadata
//! [[feed.metric]]
//! name = "cpu"
//! pointer = "/cpu"
//! [feed.grpc]
//! method = "fleet.v1.Fleet/Watch"
//! request = '{"host": "web-1"}'
//! # described by server reflection unless one of these is given:
//! # descriptor_set = "/etc/telltale/fleet.binpb"
//! # proto_files = ["fleet/v1/fleet.proto"] and proto_include = ["/etc/telltale/protos"]
//! ```
//!
//! Each streamed message is decoded to JSON (protobuf's JSON mapping, with
//! field names as in the `.proto`), so pointer rules work on it; the method
//! is its event type. Headers are sent as request metadata.

use crate::duration::{ByteSize, Dur};
use serde::{Deserialize, Serialize};

/// The standard health method, watched when `method` is not given.
pub const HEALTH_WATCH: &str = "grpc.health.v1.Health/Watch";

/// `[feed.grpc]`; only for `transport = "grpc"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct GrpcOptions {
    /// The server-streaming method, `package.Service/Method` (default
    /// `grpc.health.v1.Health/Watch`).
    pub method: String,
    /// For the health watch: the service whose health is watched (default
    /// `""`, the server as a whole).
    pub service: String,
    /// The request message as JSON text (default `{}`); not for the
    /// health watch, whose request is `{"service": service}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// A serialized `FileDescriptorSet` describing the method (`protoc
    /// --include_imports --descriptor_set_out=…`, `buf build -o …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descriptor_set: Option<String>,
    /// `.proto` files describing the method, compiled when the feed starts
    /// (names relative to `proto_include`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<Vec<String>>"))]
    pub proto_files: Vec<String>,
    /// Directories `proto_files` and their imports are looked up in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<Vec<String>>"))]
    pub proto_include: Vec<String>,
    /// An HTTP/2 ping this often (default 20 s); no answer within
    /// `keep_alive_timeout` (default 10 s) means the server is gone.
    pub keep_alive: Dur,
    /// See `keep_alive`.
    pub keep_alive_timeout: Dur,
    /// A deadline for each call (`grpc-timeout`): the stream then ends
    /// with `DEADLINE_EXCEEDED` and is opened again. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Dur>,
    /// Largest accepted message (default 4 MiB, gRPC's own default).
    pub max_message_size: ByteSize,
    /// A PEM file of the certificate authorities to trust instead of the
    /// system's (`https://` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

impl Default for GrpcOptions {
    fn default() -> Self {
        GrpcOptions {
            method: HEALTH_WATCH.into(),
            service: String::new(),
            request: None,
            descriptor_set: None,
            proto_files: Vec::new(),
            proto_include: Vec::new(),
            keep_alive: Dur::secs(20),
            keep_alive_timeout: Dur::secs(10),
            deadline: None,
            max_message_size: ByteSize(4 << 20),
            ca_file: None,
        }
    }
}

impl GrpcOptions {
    /// True when the feed watches the standard health service.
    pub fn is_health(&self) -> bool {
        self.method.trim_start_matches('/') == HEALTH_WATCH
    }

    /// `(service, method)` of `package.Service/Method`.
    pub fn split_method(&self) -> Option<(&str, &str)> {
        let m = self.method.trim_start_matches('/');
        let (service, method) = m.split_once('/')?;
        (!service.is_empty() && !method.is_empty() && !method.contains('/'))
            .then_some((service, method))
    }
}

/// The `[feed.grpc]` checks serde cannot make, as `(field, message)`.
pub(crate) fn validate(feed: &crate::FeedConfig, p: &mut Vec<(String, String)>) {
    let o = feed.grpc.clone().unwrap_or_default();
    if o.split_method().is_none() {
        p.push((
            "grpc.method".into(),
            format!(
                "`{}` is not `package.Service/Method`: e.g. `{HEALTH_WATCH}`",
                o.method
            ),
        ));
    }
    if let Some(r) = &o.request {
        if o.is_health() {
            p.push((
                "grpc.request".into(),
                "is not read by the health watch: name the service in `grpc.service` instead"
                    .into(),
            ));
        } else if !serde_json::from_str::<serde_json::Value>(r).is_ok_and(|v| v.is_object()) {
            p.push((
                "grpc.request".into(),
                "is not a JSON object: write the request message as JSON, e.g. `{\"host\": \"web-1\"}`".into(),
            ));
        }
    }
    if !o.service.is_empty() && !o.is_health() {
        p.push((
            "grpc.service".into(),
            "is only read by the health watch: put the request in `grpc.request`".into(),
        ));
    }
    if o.descriptor_set.is_some() && !o.proto_files.is_empty() {
        p.push((
            "grpc.descriptor_set".into(),
            "and `grpc.proto_files` both describe the method: keep one".into(),
        ));
    }
    if o.proto_files.is_empty() && !o.proto_include.is_empty() {
        p.push((
            "grpc.proto_include".into(),
            "is set without `grpc.proto_files`: name the .proto files to compile".into(),
        ));
    }
    if o.keep_alive.0 < std::time::Duration::from_secs(1) {
        p.push(("grpc.keep_alive".into(), "is below 1s".into()));
    }
    if o.keep_alive_timeout.0.is_zero() {
        p.push((
            "grpc.keep_alive_timeout".into(),
            "must be above zero".into(),
        ));
    }
    if o.deadline.is_some_and(|d| d.0.is_zero()) {
        p.push((
            "grpc.deadline".into(),
            "is zero: every call would end at once".into(),
        ));
    }
    if o.max_message_size.0 == 0 {
        p.push(("grpc.max_message_size".into(), "must be above zero".into()));
    }
    if o.ca_file.is_some() && feed.url.starts_with("http://") {
        p.push((
            "grpc.ca_file".into(),
            "is only read for `https://`: the URL is plain `http://`".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(f: impl FnOnce(&mut GrpcOptions)) -> Vec<String> {
        let mut feed = crate::FeedConfig::new("g", crate::TransportKind::Grpc, "http://h:50051");
        let mut o = GrpcOptions::default();
        f(&mut o);
        feed.grpc = Some(o);
        crate::validate::validate_feed(&feed)
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    #[test]
    fn a_health_watch_is_never_stale_by_silence_unless_asked() {
        use std::time::Duration;
        let mut feed = crate::FeedConfig::new("g", crate::TransportKind::Grpc, "http://h:50051");
        assert_eq!(feed.stale_after(), None, "no [feed.grpc]: the health watch");
        feed.grpc = Some(GrpcOptions::default());
        assert_eq!(feed.stale_after(), None);
        feed.stale_after = Some(crate::duration::Dur::secs(90));
        assert_eq!(feed.stale_after(), Some(Duration::from_secs(90)));
        feed.stale_after = None;
        feed.grpc = Some(GrpcOptions {
            method: "fleet.v1.Fleet/Watch".into(),
            ..GrpcOptions::default()
        });
        assert_eq!(feed.stale_after(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn the_health_watch_is_the_default() {
        assert!(GrpcOptions::default().is_health());
        assert_eq!(fields(|_| {}), Vec::<String>::new());
        assert_eq!(
            GrpcOptions::default().split_method(),
            Some(("grpc.health.v1.Health", "Watch"))
        );
    }

    #[test]
    fn the_config_checks_name_the_field() {
        assert_eq!(fields(|o| o.method = "Watch".into()), ["grpc.method"]);
        assert_eq!(fields(|o| o.method = "a.B/C/D".into()), ["grpc.method"]);
        assert_eq!(fields(|o| o.request = Some("{}".into())), ["grpc.request"]);
        assert_eq!(
            fields(|o| {
                o.method = "fleet.v1.Fleet/Watch".into();
                o.request = Some("[1]".into());
            }),
            ["grpc.request"]
        );
        assert_eq!(
            fields(|o| {
                o.method = "fleet.v1.Fleet/Watch".into();
                o.service = "x".into();
            }),
            ["grpc.service"]
        );
        assert_eq!(
            fields(|o| {
                o.descriptor_set = Some("a".into());
                o.proto_files = vec!["b.proto".into()];
            }),
            ["grpc.descriptor_set"]
        );
        assert_eq!(
            fields(|o| o.ca_file = Some("ca.pem".into())),
            ["grpc.ca_file"]
        );
        assert_eq!(
            fields(|o| o.deadline = Some(Dur::secs(0))),
            ["grpc.deadline"]
        );
    }
}
