//! Telltale's engine.
//!
//! ```text
//!  sources (one task per feed) ──Ingest──▶ pipeline task ──WriteBatch──▶ store writer thread
//!                                              │
//!                                              └──Arc<LiveBatch>──▶ live subscribers (UI, CLI)
//! ```
//!
//! The [`Engine`] supervises one source task per enabled feed, applies feed
//! changes without a restart, and owns the pipeline that turns raw messages
//! into stored events, samples and timeline entries.

pub mod alerting;
pub mod health;
pub mod live;
mod pipeline;
mod problems;
pub mod registry;

pub use alerting::AlertAction;
pub use health::EngineHealth;
pub use live::{LiveBatch, LiveEvent, LiveSample, LiveState, LiveSubscriber};
pub use registry::{Engine, EngineError, EngineOptions, FeedStatus};
