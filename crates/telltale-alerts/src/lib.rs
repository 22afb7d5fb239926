//! Telltale's alert engine.
//!
//! The [`evaluator::AlertEngine`] is deterministic: it is fed samples,
//! messages and feed states, asked to [`tick`](evaluator::AlertEngine::tick),
//! and reads time only from a [`Clock`](telltale_model::time::Clock), so its
//! whole life cycle — `for` durations, hysteresis, flapping, snooze, mute,
//! quiet hours, flood control — is tested with a fake clock. What it decides
//! comes out as [`evaluator::Output`]: instance changes and history to
//! persist, and notifications to send through a [`notifier::Notifier`].

#[cfg(feature = "desktop")]
pub mod desktop;
pub mod evaluator;
pub mod flood;
pub mod instance;
pub mod notifier;
pub mod rule;
pub mod silence;
pub mod zone;

pub use evaluator::{AlertEngine, Output};
pub use instance::{AlertInstance, HistoryEntry, HistoryKind, Phase};
pub use notifier::{
    Delivery, DeliveryOutcome, Notification, NotificationKind, Notifier, NotifyError, Withdrawal,
};
pub use zone::LocalZone;
