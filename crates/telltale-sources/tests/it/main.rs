//! `telltale-sources`'s integration tests, one binary: each module was a test
//! binary of its own before, each linking the whole dependency tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/recorder.rs"]
mod recorder;
mod support;

mod bounds;
mod demo_fleet;
mod dns;
mod graphql;
mod grpc;
mod long_poll;
mod mqtt;
mod pg_notify;
mod poll;
mod proxy;
mod reconnect;
mod redirect;
mod socketio;
mod socketio_polling;
mod sse;
mod sse_alternative;
mod tcp;
mod tls;
mod websocket;
mod wpt_eventsource;
