//! The operations' REST form, for scripts and `curl`: each operation of
//! [`crate::ops`] may name routes (`GET "/feeds/{name}"`) beside its
//! request type, and the HTTP server serves exactly those ([`ROUTES`]).
//! A route's request is read from the path and the query (`GET`,
//! `DELETE`) or from the JSON body (`POST`, `PUT`), with the path's values
//! added to it; from there it runs as `POST /api/call/{op}` would.

use crate::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::ops::{rest_request, routes_markdown, ROUTES};

/// An HTTP method a route answers to.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestMethod {
    /// Reads: the request from the path and the query.
    GET,
    /// The request as a JSON body.
    POST,
    /// The request as a JSON body.
    PUT,
    /// The request from the path and the query.
    DELETE,
}

impl RestMethod {
    /// `"GET"`, …
    pub fn as_str(self) -> &'static str {
        match self {
            RestMethod::GET => "GET",
            RestMethod::POST => "POST",
            RestMethod::PUT => "PUT",
            RestMethod::DELETE => "DELETE",
        }
    }

    /// Whether the request travels as a JSON body.
    pub fn has_body(self) -> bool {
        matches!(self, RestMethod::POST | RestMethod::PUT)
    }
}

/// One REST route of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The method.
    pub method: RestMethod,
    /// The path under `/api`, with `{field}` for path values.
    pub path: &'static str,
    /// The operation it runs.
    pub op: &'static str,
}

/// What a REST call carried.
#[derive(Debug)]
pub enum RestInput {
    /// `GET`/`DELETE`: the path's values and the raw query string.
    Query {
        /// `(field, value)` from the path.
        path: Vec<(String, String)>,
        /// The query string, without `?`.
        query: String,
    },
    /// `POST`/`PUT`: the path's values and the JSON body (`null` when
    /// empty).
    Body {
        /// `(field, value)` from the path.
        path: Vec<(String, String)>,
        /// The body.
        body: Value,
    },
}

/// `op`'s request as JSON, read from a REST call, naming the field at
/// fault; `code` is the code for a request that cannot be read.
pub(crate) fn request_value<T: DeserializeOwned + serde::Serialize>(
    op: &str,
    code: ErrorCode,
    input: RestInput,
) -> Result<Value, ApiError> {
    match input {
        RestInput::Body { path, body } => with_path(op, code, path, body),
        RestInput::Query { path, query } => {
            let mut text = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&path)
                .finish();
            if !query.is_empty() {
                if !text.is_empty() {
                    text.push('&');
                }
                text.push_str(&query);
            }
            let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(text.as_bytes()));
            let request: T = serde_path_to_error::deserialize(de).map_err(|e| {
                let field = e.path().to_string();
                let inner = e.into_inner();
                if field == "." || field.is_empty() {
                    ApiError::new(code, format!("the query of `{op}`: {inner}"))
                } else {
                    ApiError::new(code, format!("field `{field}`: {inner}"))
                }
            })?;
            serde_json::to_value(request)
                .map_err(|e| ApiError::internal(format!("cannot read the request: {e}")))
        }
    }
}

/// The body with the path's values added; a body that names another value
/// than the path is refused (a feed cannot be renamed by `PUT`).
fn with_path(
    op: &str,
    code: ErrorCode,
    path: Vec<(String, String)>,
    body: Value,
) -> Result<Value, ApiError> {
    let mut body = match body {
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    if path.is_empty() {
        return Ok(body);
    }
    let Value::Object(fields) = &mut body else {
        return Err(ApiError::new(
            code,
            format!("the request of `{op}` must be a JSON object"),
        ));
    };
    for (field, value) in path {
        match fields.get(&field) {
            None => {
                fields.insert(field, Value::String(value));
            }
            Some(Value::String(given)) if *given == value => {}
            Some(given) => {
                return Err(ApiError::new(
                    code,
                    format!(
                        "field `{field}` is {given}, but the URL names `{value}`: they must agree (to rename a feed, create the new one, then delete the old one)"
                    ),
                ))
            }
        }
    }
    Ok(body)
}

/// A series' labels: a JSON object of strings, which a query string gives
/// as its JSON text (`labels={"mode":"idle"}`, URL-encoded).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct LabelsParam(pub crate::LabelsView);

impl<'de> serde::Deserialize<'de> for LabelsParam {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        object_or_json_text(de).map(LabelsParam)
    }
}

fn object_or_json_text<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Given<T> {
        Text(String),
        Value(T),
    }
    match <Given<T> as serde::Deserialize>::deserialize(de)? {
        Given::Value(v) => Ok(v),
        Given::Text(t) if t.trim().is_empty() => Ok(T::default()),
        Given::Text(t) => serde_json::from_str(&t).map_err(|e| {
            serde::de::Error::custom(format!(
                "must be a JSON object of strings, e.g. {{\"mode\":\"idle\"}}: {e}"
            ))
        }),
    }
}

/// One row of the routes table in `docs/cli.md`.
pub(crate) fn markdown_row(route: &Route, request: &str, response: &str) -> String {
    let (request, answer) = if response == "null" {
        (request, "204, no body".to_string())
    } else {
        (request, format!("`{response}`"))
    };
    let how = if route.method.has_body() {
        "JSON body"
    } else if route.path.contains('{') {
        "path and query"
    } else {
        "query"
    };
    format!(
        "| {} | `/api{}` | `{}` | `{request}` ({how}) | {answer} |\n",
        route.method.as_str(),
        route.path,
        route.op
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{AlertId, SeriesRequest};

    fn query(path: &[(&str, &str)], query: &str) -> RestInput {
        RestInput::Query {
            path: path
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            query: query.into(),
        }
    }

    #[test]
    fn a_query_gives_typed_fields_and_labels_as_json_text() {
        let v = request_value::<SeriesRequest>(
            "series",
            ErrorCode::InvalidRequest,
            query(
                &[("feed", "host 1")],
                "metric=cpu&from=5&labels=%7B%22mode%22%3A%22idle%22%7D",
            ),
        )
        .unwrap();
        let r: SeriesRequest = serde_json::from_value(v).unwrap();
        assert_eq!((r.feed.as_str(), r.metric.as_str()), ("host 1", "cpu"));
        assert_eq!(r.from, Some(5));
        assert_eq!(r.labels.0.get("mode").map(String::as_str), Some("idle"));
        let e = request_value::<SeriesRequest>(
            "series",
            ErrorCode::InvalidRequest,
            query(&[("feed", "a")], "metric=cpu&labels=mode"),
        )
        .unwrap_err();
        assert!(
            e.message
                .starts_with("field `labels`: must be a JSON object"),
            "{}",
            e.message
        );
        let e = request_value::<AlertId>(
            "alert_history",
            ErrorCode::InvalidRequest,
            query(&[("id", "seven")], ""),
        )
        .unwrap_err();
        assert!(e.message.starts_with("field `id`: "), "{}", e.message);
    }

    #[test]
    fn the_path_fills_the_body_and_must_agree_with_it() {
        let body = |v| RestInput::Body {
            path: vec![("name".into(), "a".into())],
            body: v,
        };
        let v = request_value::<serde_json::Value>(
            "upsert_feed",
            ErrorCode::InvalidFeed,
            body(serde_json::json!({"url": "http://h/"})),
        )
        .unwrap();
        assert_eq!(v["name"], "a");
        let e = request_value::<serde_json::Value>(
            "upsert_feed",
            ErrorCode::InvalidFeed,
            body(serde_json::json!({"name": "b"})),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidFeed);
        assert!(e.message.contains("the URL names `a`"), "{}", e.message);
        assert!(request_value::<serde_json::Value>(
            "upsert_feed",
            ErrorCode::InvalidFeed,
            body(serde_json::json!([1])),
        )
        .is_err());
    }
}
