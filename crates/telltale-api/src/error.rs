//! [`ApiError`]: how every failure crosses the IPC and HTTP boundary.

use serde::{Deserialize, Serialize};
use telltale_engine::EngineError;
use telltale_store::StoreError;
use ts_rs::TS;

/// A failure, as the UI sees it: a stable machine-readable `code` and a
/// `message` for people (it names the field, file line or feed at fault and
/// says what would be valid).
///
/// Codes:
///
/// | code | meaning | HTTP |
/// |---|---|---|
/// | `invalid_feed` | a feed config is invalid; the message names the field (`poll.interval`) | 400 |
/// | `invalid_request` | a parameter or body is malformed | 400 |
/// | `invalid_settings` | a setting is invalid; the message names the field (`store.events_max_age`) | 400 |
/// | `alert_action` | an alert action cannot be applied (e.g. ack of an alert that is not firing) | 400 |
/// | `unauthorized` | the API token is missing or wrong | 401 |
/// | `forbidden` | the request came from another web origin or host name | 403 |
/// | `not_found` | no such feed, series or alert | 404 |
/// | `unsupported_media_type` | the body has the wrong `Content-Type` | 415 |
/// | `store` | the database failed | 500 |
/// | `internal` | anything else | 500 |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{code}: {message}")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ApiError {
    /// Stable, machine-readable code (see the table above).
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
}

impl ApiError {
    /// An error with any code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new("not_found", message)
    }

    /// `invalid_feed`, naming the feed and the field.
    pub fn invalid_feed(feed: &str, field: &str, message: impl std::fmt::Display) -> ApiError {
        let message = if feed.is_empty() {
            format!("field `{field}` {message}")
        } else {
            format!("feed `{feed}`: field `{field}` {message}")
        };
        ApiError::new("invalid_feed", message)
    }

    /// `invalid_request`.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new("invalid_request", message)
    }

    /// `internal`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new("internal", message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Store(s) => ApiError::from(s),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::InvalidQuery(m) => ApiError::invalid_request(m),
            other => ApiError::new("store", other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_codes_and_name_the_field() {
        let e = ApiError::from(EngineError::Invalid {
            feed: "web".into(),
            field: "poll.interval".into(),
            message: "is below 100ms".into(),
        });
        assert_eq!(e.code, "invalid_feed");
        assert!(e.message.contains("poll.interval"), "{}", e.message);
        assert_eq!(
            ApiError::from(EngineError::NotFound("x".into())).code,
            "not_found"
        );
        assert_eq!(ApiError::from(StoreError::Closed).code, "store");
        let json = serde_json::to_value(ApiError::not_found("nope")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "not_found", "message": "nope"})
        );
    }
}
