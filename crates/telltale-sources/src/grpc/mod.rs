//! gRPC server streaming (`tonic`): the standard health watch, or any
//! server-streaming method, each message decoded to JSON.
//!
//! One task per feed runs this loop until cancelled:
//!
//! 1. Read the config: the method, the request (JSON), metadata (the
//!    feed's headers, `${VAR}` expanded), and the method's description when
//!    the config names one (`descriptor_set`, or `proto_files` compiled by
//!    protox). A problem here is [`ConnState::Failed`], re-checked every
//!    `backoff.max`.
//! 2. Connect (HTTP/2; `https://` through native-tls with ALPN `h2`, the
//!    system's CAs or `ca_file`), bounded by [`CONNECT_TIMEOUT`]. Without a
//!    description from the config, ask the server's reflection service
//!    (v1, then v1alpha). The health watch needs none: its `.proto` is
//!    built in.
//! 3. Call the method with the metadata and the deadline. The feed is
//!    `live` once the server answers the call with its headers.
//! 4. Each message becomes a [`RawMessage`]: its JSON (field names as in
//!    the `.proto`, 64-bit integers as numbers, zero values included), the
//!    method as event type. A health status also gives `up` (1 serving,
//!    0 anything else), and `status` is the feed's health verdict.
//! 5. HTTP/2 pings every `keep_alive`; none answered within
//!    `keep_alive_timeout` ends the connection (a dead peer).
//! 6. However the stream ends, its gRPC status goes on the timeline
//!    (`grpc` issue: `UNAVAILABLE: …`), then: refused credentials
//!    (`UNAUTHENTICATED`, `PERMISSION_DENIED`), an unknown method or a
//!    bad request are [`ConnState::Failed`], retried on the slow schedule;
//!    anything else (the server restarting, a deadline, a malformed
//!    message, a clean end) is retried with backoff, and the call made
//!    again.

mod codec;
mod protos;
mod reflect;

use crate::ended::{config_failed, wait_after, Ended};
use crate::{SetupError, Sink};
use codec::{DynCodec, MALFORMED};
use http::uri::PathAndQuery;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, SerializeOptions};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use telltale_model::grpc::GrpcOptions;
use telltale_model::{Backoff, ConnState, FeedConfig, RawMessage};
use tokio_util::sync::CancellationToken;
use tonic::client::Grpc;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// Bound on TCP connect + TLS + HTTP/2 handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on describing the method by reflection and opening the call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs a `grpc` feed until `cancel` fires. See the module doc.
pub async fn run(feed: Arc<FeedConfig>, sink: Sink, cancel: CancellationToken) {
    let opts = feed.grpc_options();
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
        let before = sink.counters().messages.load(Ordering::Relaxed);
        let ended = tokio::select! {
            _ = cancel.cancelled() => Ended::Cancelled,
            e = session(&setup, &sink, &mut backoff) => e,
        };
        if sink.counters().messages.load(Ordering::Relaxed) != before {
            backoff.delivered();
        }
        if !wait_after(ended, &mut backoff, &sink, &cancel).await {
            return;
        }
    }
}

/// What the config says, checked once per attempt (files may change).
struct Setup {
    endpoint: Endpoint,
    tls: Option<tokio_native_tls::TlsConnector>,
    host: String,
    port: u16,
    metadata: MetadataMap,
    service: String,
    method: String,
    request: String,
    /// The description from the config (or built in), if any.
    pool: Option<DescriptorPool>,
    health: bool,
    deadline: Option<Duration>,
    max_message: usize,
}

impl Setup {
    fn of(feed: &FeedConfig, o: &GrpcOptions) -> Result<Setup, SetupError> {
        let url = url::Url::parse(&feed.url).map_err(|e| SetupError::url(&feed.url, e))?;
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_string();
        let https = url.scheme() == "https";
        let port = url.port().unwrap_or(if https { 443 } else { 80 });
        let endpoint = Endpoint::from_shared(feed.url.clone())
            .map_err(|e| SetupError::url(&feed.url, e))?
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(o.keep_alive.0)
            .keep_alive_timeout(o.keep_alive_timeout.0)
            .keep_alive_while_idle(true)
            .tcp_nodelay(true)
            .user_agent(concat!("telltale/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| SetupError::Grpc {
                field: "url",
                problem: e.to_string(),
            })?;
        let tls = if https {
            let mut b = native_tls::TlsConnector::builder();
            b.request_alpns(&["h2"]);
            if let Some(path) = &o.ca_file {
                crate::tls_files::trust_only(&mut b, path).map_err(|e| SetupError::Grpc {
                    field: "grpc.ca_file",
                    problem: e.to_string(),
                })?;
            }
            let c = b.build().map_err(|e| SetupError::Grpc {
                field: "url",
                problem: format!("cannot set up TLS: {e}"),
            })?;
            Some(tokio_native_tls::TlsConnector::from(c))
        } else {
            None
        };
        let headers = crate::http_common::feed_headers(feed)?;
        let metadata = MetadataMap::from_headers(headers);
        let (service, method) = o.split_method().ok_or_else(|| SetupError::Grpc {
            field: "grpc.method",
            problem: format!("`{}` is not `package.Service/Method`", o.method),
        })?;
        let health = o.is_health();
        let pool = if health {
            Some(
                protos::builtin()
                    .map_err(|e| descriptor("grpc.method", e))?
                    .clone(),
            )
        } else if let Some(path) = &o.descriptor_set {
            Some(
                protos::read_descriptor_set(path)
                    .map_err(|e| descriptor("grpc.descriptor_set", e))?,
            )
        } else if !o.proto_files.is_empty() {
            Some(
                protos::compile_files(&o.proto_files, &o.proto_include)
                    .map_err(|e| descriptor("grpc.proto_files", e))?,
            )
        } else {
            None
        };
        let request = if health {
            serde_json::json!({ "service": o.service }).to_string()
        } else {
            o.request.clone().unwrap_or_else(|| "{}".into())
        };
        Ok(Setup {
            endpoint,
            tls,
            host,
            port,
            metadata,
            service: service.to_string(),
            method: method.to_string(),
            request,
            pool,
            health,
            deadline: o.deadline.map(|d| d.0),
            max_message: usize::try_from(o.max_message_size.0).unwrap_or(usize::MAX),
        })
    }

    fn path(&self) -> String {
        format!("/{}/{}", self.service, self.method)
    }

    /// The channel, or a retry naming the address and the cause.
    async fn connect(&self, sink: &Sink) -> Result<Channel, Ended> {
        let r = match &self.tls {
            None => self.endpoint.connect().await,
            Some(tls) => {
                let tls = tls.clone();
                let host = self.host.clone();
                let port = self.port;
                let sink = sink.clone();
                let connector = tower::service_fn(move |_: http::Uri| {
                    let tls = tls.clone();
                    let host = host.clone();
                    let sink = sink.clone();
                    async move {
                        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                        tcp.set_nodelay(true)?;
                        let s = tls
                            .connect(&host, tcp)
                            .await
                            .map_err(std::io::Error::other)?;
                        if let Ok(Some(der)) = s
                            .get_ref()
                            .peer_certificate()
                            .map(|c| c.and_then(|c| c.to_der().ok()))
                        {
                            sink.peer_certificate(&der);
                        }
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
                    }
                });
                self.endpoint.connect_with_connector(connector).await
            }
        };
        r.map_err(|e| {
            Ended::Retry(format!(
                "cannot connect to {}:{}: {}",
                self.host,
                self.port,
                chain(&e)
            ))
        })
    }
}

/// A descriptor error as the config field it came from.
fn descriptor(field: &'static str, e: protos::DescriptorError) -> SetupError {
    SetupError::Grpc {
        field,
        problem: e.to_string(),
    }
}

/// An error and its sources, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// One connection: connect, describe, call, read until it ends.
async fn session(setup: &Setup, sink: &Sink, backoff: &mut Backoff) -> Ended {
    let channel = match setup.connect(sink).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let method = match tokio::time::timeout(CALL_TIMEOUT, describe(setup, channel.clone())).await {
        Err(_) => {
            return Ended::Retry(format!(
                "the server did not describe `{}` within {CALL_TIMEOUT:?}",
                setup.path()
            ))
        }
        Ok(Err(e)) => return e,
        Ok(Ok(m)) => m,
    };
    let request = match request_message(setup, &method) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let mut grpc = Grpc::new(channel).max_decoding_message_size(setup.max_message);
    let mut req = tonic::Request::new(request);
    *req.metadata_mut() = setup.metadata.clone();
    if let Some(d) = setup.deadline {
        req.set_timeout(d);
    }
    let Ok(path) = PathAndQuery::try_from(setup.path()) else {
        return Ended::RetrySlowly(format!("`{}` is not a valid method path", setup.path()));
    };
    let call = async {
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(chain(&e)))?;
        grpc.server_streaming(
            req,
            path,
            DynCodec {
                output: method.output(),
            },
        )
        .await
    };
    let response = match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Err(_) => {
            return Ended::Retry(format!(
                "no answer to `{}` within {CALL_TIMEOUT:?}",
                setup.path()
            ))
        }
        Ok(Err(status)) => return ended_by(setup, sink, status).await,
        Ok(Ok(r)) => r,
    };
    sink.state(ConnState::Live).await;
    backoff.connected();
    let mut stream = response.into_inner();
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false)
        .skip_default_fields(false);
    let event_type = setup.path().trim_start_matches('/').to_string();
    loop {
        match stream.message().await {
            Ok(Some(msg)) => {
                let mut json = serde_json::Serializer::new(Vec::new());
                if let Err(e) = msg.serialize_with_options(&mut json, &options) {
                    sink.issue(
                        "payload",
                        format!("a message could not be shown as JSON: {e}"),
                    )
                    .await;
                    continue;
                }
                let mut m = RawMessage::new(json.into_inner());
                m.event_type = Some(event_type.clone());
                if setup.health {
                    let serving = msg
                        .get_field_by_name("status")
                        .and_then(|v| v.as_enum_number())
                        == Some(1);
                    m.transport_metrics
                        .push(("up", if serving { 1.0 } else { 0.0 }));
                }
                sink.message(m).await;
            }
            Ok(None) => {
                sink.notice("grpc", format!("`{}` ended the stream (OK)", setup.path()))
                    .await;
                return Ended::Retry("the server ended the stream".into());
            }
            Err(status) => return ended_by(setup, sink, status).await,
        }
    }
}

/// The method's descriptor: from the config (or built in), or the
/// server's reflection.
async fn describe(setup: &Setup, channel: Channel) -> Result<MethodDescriptor, Ended> {
    let pool = match &setup.pool {
        Some(p) => p.clone(),
        None => match reflect::describe(channel, &setup.metadata, &setup.service).await {
            Ok(p) => p,
            Err(reflect::Unknown::NoReflection) => {
                return Err(Ended::RetrySlowly(format!(
                    "the server has no reflection service to describe `{}`: name its .proto in grpc.proto_files, or a grpc.descriptor_set",
                    setup.service
                )))
            }
            Err(reflect::Unknown::Status(s)) => return Err(classify(setup, &s, "reflection")),
            Err(reflect::Unknown::Bad(e)) => return Err(Ended::RetrySlowly(e)),
        },
    };
    let Some(service) = pool.get_service_by_name(&setup.service) else {
        return Err(Ended::RetrySlowly(format!(
            "no service `{}` in the description (it has {})",
            setup.service,
            list(pool.services().map(|s| s.full_name().to_string()))
        )));
    };
    let Some(method) = service.methods().find(|m| m.name() == setup.method) else {
        return Err(Ended::RetrySlowly(format!(
            "`{}` has no method `{}` (it has {})",
            setup.service,
            setup.method,
            list(service.methods().map(|m| m.name().to_string()))
        )));
    };
    if !method.is_server_streaming() || method.is_client_streaming() {
        return Err(Ended::RetrySlowly(format!(
            "`{}` is not a server-streaming method: Telltale follows `rpc M(Request) returns (stream Response)`",
            setup.path()
        )));
    }
    Ok(method)
}

fn list(names: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The request message from its JSON text; one that does not fit is
/// retried slowly (the config must change).
fn request_message(setup: &Setup, method: &MethodDescriptor) -> Result<DynamicMessage, Ended> {
    let mut de = serde_json::Deserializer::from_str(&setup.request);
    DynamicMessage::deserialize(method.input(), &mut de).map_err(|e| {
        Ended::RetrySlowly(format!(
            "grpc.request does not fit `{}`: {e}",
            method.input().full_name()
        ))
    })
}

/// Records how the call ended (its status on the timeline) and what to do.
async fn ended_by(setup: &Setup, sink: &Sink, status: Status) -> Ended {
    let malformed = status.code() == Code::Internal && status.message().starts_with(MALFORMED);
    if malformed {
        sink.issue(
            "malformed",
            format!("`{}`: {}", setup.path(), status.message()),
        )
        .await;
    } else {
        sink.issue(
            "grpc",
            format!("`{}` ended with {}", setup.path(), code_text(&status)),
        )
        .await;
    }
    classify(setup, &status, "the call")
}

fn code_text(status: &Status) -> String {
    let name = format!("{:?}", status.code());
    // `Unauthenticated` → `UNAUTHENTICATED`, as gRPC writes codes.
    let mut upper = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            upper.push('_');
        }
        upper.push(c.to_ascii_uppercase());
    }
    let mut text = if status.message().is_empty() {
        upper
    } else {
        format!("{upper}: {}", status.message())
    };
    // A lost connection reads `UNKNOWN: error reading a body`: its cause
    // (the transport's error) says what happened.
    if let Some(cause) = std::error::Error::source(status) {
        let cause = chain(cause);
        if !text.contains(&cause) {
            text.push_str(" (");
            text.push_str(&cause);
            text.push(')');
        }
    }
    text
}

/// What a status calls for: refused credentials, an unknown method or a
/// bad request cannot be retried away soon; the rest can.
fn classify(setup: &Setup, status: &Status, what: &str) -> Ended {
    let text = code_text(status);
    match status.code() {
        Code::Unauthenticated | Code::PermissionDenied => Ended::RetrySlowly(format!(
            "the server refused {what} ({text}): check the feed's headers (sent as metadata, e.g. `authorization: Bearer …`)"
        )),
        Code::Unimplemented => Ended::RetrySlowly(format!(
            "the server does not implement `{}` ({text})",
            setup.path()
        )),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange | Code::NotFound => {
            Ended::RetrySlowly(format!("the server rejected {what} ({text}): check grpc.request"))
        }
        _ => Ended::Retry(format!("{what} ended: {text}")),
    }
}
