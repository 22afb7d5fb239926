//! Telltale's one API for user interfaces.
//!
//! [`Api`] wraps a running [`telltale_engine::Engine`] and offers every
//! operation a UI needs as an async method returning plain data or an
//! [`ApiError`] (`{code, message}`). The same methods serve two front ends:
//!
//! * the desktop app: Tauri commands call [`Api`] directly (IPC);
//! * the browser: [`http`] serves them as JSON under `/api`, the live
//!   stream as a WebSocket, and the built UI as static files
//!   (`telltaled serve`).
//!
//! Every type that crosses the boundary derives [`ts_rs::TS`]; the
//! TypeScript twins live in `ui/src/lib/bindings/` and are regenerated with
//! `cargo test -p telltale-api export_bindings` (a test fails when they
//! drift). Times are **milliseconds since the Unix epoch** as `number`.
//!
//! Both shells start through [`Runtime`]: store, settings, engine,
//! notifier and the notifications' reply bridge, composed once.
//!
//! Secrets never reach a UI in clear: header values are masked
//! (`Bearer ••••••`) and URL credentials redacted; a mask sent back
//! unchanged keeps the stored secret (see [`secrets`]).

#![warn(missing_docs)]

mod api;
pub mod demo;
mod error;
pub mod export;
pub mod health;
pub mod http;
pub mod input;
pub mod live;
mod live_views;
pub mod maintenance;
pub mod ops;
pub mod overview;
pub mod probe;
pub mod rest;
mod runtime;
pub mod secrets;
pub mod settings;
pub mod share;
pub mod shell;
pub mod uptime;
pub mod views;

pub use api::{Api, MAX_EVENTS_PAGE, MAX_POINTS, MAX_TIMELINE};
pub use error::{ApiError, ErrorCode};
pub use health::{HealthView, StorageHealthView};
pub use input::AlertActionInput;
pub use live::LiveStream;
pub use maintenance::{
    MaintenanceName, MaintenanceSpanView, MaintenanceView, StartMaintenanceRequest,
};
pub use ops::{dispatch, OPERATIONS};
pub use overview::{OverviewLevel, OverviewView};
pub use probe::{
    ProbeInput, ProbeLimits, ProbeMessageView, ProbeReport, ProbeSampleView, ProbeStateView,
};
pub use runtime::{
    hooks_listen_from_env, OpenAlertHook, Runtime, RuntimeError, RuntimeOptions,
    DEFAULT_HOOKS_LISTEN,
};
pub use settings::{
    AlertSettingsView, CompactView, QuietHoursView, SettingsInput, SettingsView, StoreSettingsView,
};
pub use telltale_model::config::Settings;
pub use telltale_model::duration::ByteSize;
pub use telltale_model::ConfigFile;
pub use telltale_model::FeedConfig;
pub use telltale_store::StoreOptions;
pub use views::*;
