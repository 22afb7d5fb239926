//! [`EngineError`]: why an engine operation failed.

use telltale_store::StoreError;

/// Why an engine operation failed. `code()` is stable for API clients.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The feed config is invalid.
    #[error("feed `{feed}`: field `{field}` {message}")]
    Invalid {
        /// Feed name.
        feed: String,
        /// Field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No feed has that name.
    #[error("there is no feed named `{0}`: `telltaled feeds` lists them")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An alert action could not be applied.
    #[error(transparent)]
    Action(telltale_alerts::evaluator::ActionError),
    /// A background task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Invalid { .. } => "invalid_feed",
            EngineError::NotFound(_) => "not_found",
            EngineError::Store(_) => "store",
            EngineError::Action(_) => "alert_action",
            EngineError::Internal(_) => "internal",
        }
    }
}
