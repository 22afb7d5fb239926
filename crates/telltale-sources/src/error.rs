//! Why a feed's request cannot be built. These are configuration errors:
//! each is shown as the feed's failure reason, names the field at fault and
//! never a secret (URLs are shown redacted, header values not at all).

use telltale_model::secret::EnvError;

/// A feed's URL, headers or options that no request can be built from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// A header's `${VAR}` cannot be expanded.
    #[error("invalid header: header `{name}` {problem}")]
    HeaderEnv {
        /// The header.
        name: String,
        /// What is wrong with its reference.
        problem: EnvError,
    },
    /// A header name HTTP does not allow.
    #[error("invalid header: header `{0}` is not a valid header name")]
    HeaderName(String),
    /// A header value HTTP cannot carry (after expansion).
    #[error("invalid header: header `{0}` has a value that HTTP cannot carry")]
    HeaderValue(String),
    /// The HTTP client cannot be built (TLS roots, resolver).
    #[error("cannot build an HTTP client: {0}")]
    Client(String),
    /// The URL does not parse.
    #[error("invalid URL `{shown}`: {problem}")]
    Url {
        /// The URL, redacted.
        shown: String,
        /// The parser's message.
        problem: String,
    },
    /// A URL of a scheme this transport does not speak.
    #[error("invalid URL: {transport} needs {expected}, not `{scheme}://`")]
    Scheme {
        /// The transport, e.g. "SSE".
        transport: &'static str,
        /// The URL's scheme.
        scheme: String,
        /// The schemes this transport takes, e.g. "`ws://` or `wss://`".
        expected: &'static str,
    },
    /// `poll.method` is not an HTTP method.
    #[error("invalid poll.method `{0}`")]
    Method(String),
    /// A subprotocol name HTTP cannot carry.
    #[error("invalid websocket.subprotocols: a name contains characters HTTP cannot carry")]
    Subprotocols,
    /// An `[feed.mqtt]` option that cannot be used (a file that cannot be
    /// read, a key that does not fit its certificate).
    #[error("invalid mqtt.{field}: {problem}")]
    Mqtt {
        /// The option, e.g. `ca_file`.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A `graphql.connection_params` value whose `${VAR}` cannot be
    /// expanded.
    #[error("invalid graphql.connection_params.{name}: {problem}")]
    GraphqlParam {
        /// The parameter.
        name: String,
        /// What is wrong with its reference.
        problem: EnvError,
    },
    /// A `socketio.auth` value whose `${VAR}` cannot be expanded.
    #[error("invalid socketio.auth.{name}: {problem}")]
    SocketioAuth {
        /// The field.
        name: String,
        /// What is wrong with its reference.
        problem: EnvError,
    },
    /// A `[feed.pg_notify]` option or URL part that cannot be used.
    #[error("invalid {field}: {problem}")]
    PgNotify {
        /// The option, e.g. `pg_notify.ca_file`, or `url`.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A `[feed.grpc]` option that cannot be used (a method that is not
    /// `package.Service/Method`, a descriptor file that cannot be read).
    #[error("invalid {field}: {problem}")]
    Grpc {
        /// The option, e.g. `grpc.proto_files`, or `url`.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A `[feed.tls]` file that cannot be used.
    #[error("invalid {field}: {problem}")]
    Tls {
        /// The option, e.g. `tls.ca_file`.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A proxy (the feed's `proxy`, or an environment variable) that
    /// cannot be used.
    #[error("invalid {field}: {problem}")]
    Proxy {
        /// `proxy`, or the variable, e.g. `HTTPS_PROXY`.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// reqwest refused the request (described without the URL's secrets).
    #[error("cannot build the request: {0}")]
    Request(String),
}

impl SetupError {
    /// [`SetupError::Url`] for `raw`, shown redacted.
    pub fn url(raw: &str, problem: impl std::fmt::Display) -> SetupError {
        SetupError::Url {
            shown: telltale_model::secret::redact_url(raw),
            problem: problem.to_string(),
        }
    }
}
