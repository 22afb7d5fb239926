//! [`ApiError`]: how every failure crosses the IPC and HTTP boundary.

use serde::{Deserialize, Serialize};
use telltale_engine::EngineError;
use telltale_store::StoreError;
use ts_rs::TS;

/// Every code an [`ApiError`] can carry, with its HTTP status: one list,
/// exported to TypeScript (`ErrorCode`), so a new code cannot be added
/// without saying how it travels over HTTP.
///
/// | code | meaning | HTTP |
/// |---|---|---|
/// | `invalid_feed` | a feed config is invalid; the message names the field (`poll.interval`) | 400 |
/// | `invalid_request` | a parameter or body is malformed | 400 |
/// | `invalid_settings` | a setting is invalid; the message names the field (`store.events_max_age`) | 400 |
/// | `alert_action` | an alert action cannot be applied (e.g. ack of an alert that is not firing) | 400 |
/// | `unauthorized` | the API token is missing or wrong | 401 |
/// | `forbidden` | the request came from another web origin or host name | 403 |
/// | `not_found` | no such feed, series, alert or route | 404 |
/// | `method_not_allowed` | the route exists but not with this method | 405 |
/// | `unsupported_media_type` | the body has the wrong `Content-Type` | 415 |
/// | `store` | the database failed | 500 |
/// | `internal` | anything else | 500 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub enum ErrorCode {
    /// A feed config is invalid; the message names the field.
    InvalidFeed,
    /// A parameter or body is malformed.
    InvalidRequest,
    /// A setting is invalid; the message names the field.
    InvalidSettings,
    /// An alert action cannot be applied.
    AlertAction,
    /// The API token is missing or wrong.
    Unauthorized,
    /// The request came from another web origin or host name.
    Forbidden,
    /// No such feed, series, alert or route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The body has the wrong `Content-Type`.
    UnsupportedMediaType,
    /// The database failed.
    Store,
    /// Anything else.
    Internal,
}

impl ErrorCode {
    /// Every code, in the order of the table above.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::InvalidFeed,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidSettings,
        ErrorCode::AlertAction,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Store,
        ErrorCode::Internal,
    ];

    /// The HTTP status this code is served with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidFeed
            | ErrorCode::InvalidRequest
            | ErrorCode::InvalidSettings
            | ErrorCode::AlertAction => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Store | ErrorCode::Internal => 500,
        }
    }

    /// The wire name (`invalid_feed`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidFeed => "invalid_feed",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidSettings => "invalid_settings",
            ErrorCode::AlertAction => "alert_action",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Store => "store",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure, as the UI sees it: a stable machine-readable [`ErrorCode`]
/// and a `message` for people (it names the field, file line or feed at
/// fault and says what would be valid). On the wire: `{"code":
/// "invalid_feed", "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{code}: {message}")]
#[ts(export, export_to = "../../../ui/src/lib/bindings/")]
pub struct ApiError {
    /// Stable, machine-readable code.
    pub code: ErrorCode,
    /// What went wrong and what to do, for people.
    pub message: String,
}

impl ApiError {
    /// An error with any code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// `invalid_feed`, naming the feed and the field.
    pub fn invalid_feed(feed: &str, field: &str, message: impl std::fmt::Display) -> ApiError {
        let message = if feed.is_empty() {
            format!("field `{field}` {message}")
        } else {
            format!("feed `{feed}`: field `{field}` {message}")
        };
        ApiError::new(ErrorCode::InvalidFeed, message)
    }

    /// `invalid_request`.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    /// `internal`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Internal, message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let code = match &e {
            EngineError::Store(_) => None,
            EngineError::Invalid { .. } => Some(ErrorCode::InvalidFeed),
            EngineError::NotFound(_) => Some(ErrorCode::NotFound),
            EngineError::Action(_) => Some(ErrorCode::AlertAction),
            EngineError::Internal(_) => Some(ErrorCode::Internal),
        };
        match (code, e) {
            (_, EngineError::Store(s)) => ApiError::from(s),
            (Some(code), other) => ApiError::new(code, other.to_string()),
            (None, other) => ApiError::internal(other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::InvalidQuery(m) => ApiError::invalid_request(m),
            other => ApiError::new(ErrorCode::Store, other.to_string()),
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
        assert_eq!(e.code, ErrorCode::InvalidFeed);
        assert!(e.message.contains("poll.interval"), "{}", e.message);
        assert_eq!(
            ApiError::from(EngineError::NotFound("x".into())).code,
            ErrorCode::NotFound
        );
        assert_eq!(ApiError::from(StoreError::Closed).code, ErrorCode::Store);
        let json = serde_json::to_value(ApiError::not_found("nope")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "not_found", "message": "nope"})
        );
    }

    #[test]
    fn every_code_has_its_wire_name_and_a_status() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::json!(code.as_str()));
            let back: ErrorCode = serde_json::from_value(json).unwrap();
            assert_eq!(back, code);
            assert!((400..600).contains(&code.http_status()), "{code}");
        }
        assert_eq!(ErrorCode::InvalidFeed.http_status(), 400);
        assert_eq!(ErrorCode::MethodNotAllowed.http_status(), 405);
        assert_eq!(ErrorCode::Store.http_status(), 500);
    }
}
