//! Telltale's domain model.
//!
//! Everything here is pure data and pure functions: feed configuration and its
//! validation, the messages and connection states that sources report, metric
//! extraction from payloads, and the reconnection backoff policy. No I/O, no
//! async runtime, no Tauri.

pub mod alert;
pub mod backoff;
pub mod config;
pub mod duration;
mod error;
pub mod extract;
pub mod feed;
pub mod graphql;
pub mod grpc;
pub mod maintenance;
pub mod message;
pub mod mqtt;
pub mod pg_notify;
pub mod prometheus;
pub mod proxy;
pub mod route;
pub mod secret;
pub mod socketio;
pub mod time;
pub mod tls;
pub mod unit;
mod validate;
pub mod webhook;

pub use backoff::Backoff;
pub use config::{ConfigError, ConfigFile};
pub use error::ValueError;
pub use feed::{FeedConfig, PayloadFormat, PayloadKeep, TransportKind};
pub use message::{ConnState, RawMessage, SourceEvent};
pub use time::Timestamp;
pub use unit::Unit;
