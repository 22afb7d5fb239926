//! `telltale-api`'s integration tests, one binary: each module was a test
//! binary of its own before, each linking the whole dependency tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bindings;
mod grpc;
mod http;
mod maintenance;
mod mqtt;
mod node_peers;
mod pg_notify;
mod prometheus;
mod runtime;
mod secrets;
mod webhooks;

/// A runtime on a fresh database in `dir`, with default options.
pub async fn start_runtime(dir: &tempfile::TempDir) -> telltale_api::Runtime {
    telltale_api::Runtime::start(telltale_api::RuntimeOptions {
        db: dir.path().join("t.db"),
        ..Default::default()
    })
    .await
    .unwrap()
}
