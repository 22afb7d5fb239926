//! Telltale's engine.
//!
//! ```text
//!  sources (one task per feed) ──Ingest──▶ pipeline task ──WriteBatch──▶ store writer thread
//!                                              │
//!                                              └──Arc<LiveBatch>──▶ live subscribers (UI, CLI)
//! ```
//!
//! The [`Engine`] (`engine.rs`) supervises one source task per enabled
//! feed, applies feed changes without a restart, and owns the pipeline
//! (`pipeline.rs`) that turns raw messages into stored events, samples and
//! timeline entries, and hands them to alerting (`alerting.rs`). What the
//! engine and the pipeline share is in `shared.rs`. The modules depend one
//! way: engine → pipeline → shared → alerting → error.

pub mod alerting;
mod engine;
mod error;
pub mod health;
pub mod live;
mod payloads;
mod pipeline;
mod problems;
mod shared;

pub use alerting::AlertAction;
pub use engine::{Engine, EngineOptions};
pub use error::EngineError;
pub use health::EngineHealth;
pub use live::{LiveBatch, LiveEvent, LiveSample, LiveState, LiveSubscriber};
pub use shared::FeedStatus;
