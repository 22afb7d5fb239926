//! `${VAR}` in header values: which environment variables may be expanded,
//! and the expansion itself.
//!
//! A feed's headers are sent to the feed's URL, and feeds can be added by
//! anyone who can reach the API. Expanding *any* variable of the process
//! would let such a feed send `${AWS_SECRET_ACCESS_KEY}` or `${HOME}` to a
//! server of its choosing, so only variables the operator meant for Telltale
//! are expanded:
//!
//! * names starting with [`SECRET_ENV_PREFIX`] (`TELLTALE_SECRET_`), and
//! * names the config file given at start-up lists in its top-level
//!   `allow_env = ["API_TOKEN"]` ([`set_allowed_env`]; process-wide, so
//!   feeds added later through the API may use them too).
//!
//! Any other reference is refused with a message that names the variable
//! and says how to allow it.

use crate::ConfigError;
use std::collections::BTreeSet;
use std::sync::RwLock;

/// Variables whose names start with this are always expandable.
pub const SECRET_ENV_PREFIX: &str = "TELLTALE_SECRET_";

static ALLOWED: RwLock<BTreeSet<String>> = RwLock::new(BTreeSet::new());

/// Sets the process-wide list of extra variable names `${VAR}` may expand
/// (the config file's `allow_env`), replacing the previous list.
pub fn set_allowed_env<I, S>(names: I)
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let set = names.into_iter().map(Into::into).collect();
    *ALLOWED.write().unwrap_or_else(|e| e.into_inner()) = set;
}

/// The extra names set by [`set_allowed_env`], sorted.
pub fn allowed_env() -> Vec<String> {
    ALLOWED
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect()
}

/// True if `${name}` may be expanded in this process.
pub fn env_allowed(name: &str) -> bool {
    name.starts_with(SECRET_ENV_PREFIX)
        || ALLOWED
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(name)
}

/// True for names a `${…}` reference may use: ASCII letters, digits and `_`.
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variable names `value` references, in order (malformed references
/// are left to [`expand_with`] to report).
pub fn env_refs(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

/// Why `${name}` is refused, for a message that starts with "references".
pub fn refusal(name: &str) -> String {
    format!(
        "references the environment variable `{name}`, which Telltale may not read: only variables named {SECRET_ENV_PREFIX}… or listed in the config file's `allow_env` are expanded. Rename it (e.g. {SECRET_ENV_PREFIX}{name}) or put `allow_env = [\"{name}\"]` at the top of the config file"
    )
}

/// The first reference in `value` that `allowed` refuses, as a message
/// starting with "references" (see [`refusal`]).
pub fn refused_ref(value: &str, allowed: impl Fn(&str) -> bool) -> Option<String> {
    env_refs(value)
        .into_iter()
        .find(|n| is_env_name(n) && !allowed(n))
        .map(refusal)
}

/// The names of a config file's top-level `allow_env` array (at `line` of
/// `file`), or a [`ConfigError`] saying what is wrong with it.
pub fn allow_env_names(
    file: &str,
    line: usize,
    value: toml::Value,
) -> Result<Vec<String>, ConfigError> {
    let err = |message: String| ConfigError {
        file: file.into(),
        line: Some(line),
        feed: None,
        field: Some("allow_env".into()),
        message,
    };
    let hint = "must be a list of environment variable names, e.g. allow_env = [\"API_TOKEN\"]";
    let toml::Value::Array(items) = value else {
        return Err(err(hint.into()));
    };
    let mut names = Vec::with_capacity(items.len());
    for item in items {
        match item.as_str() {
            Some(n) if is_env_name(n) => names.push(n.to_string()),
            Some(n) => {
                return Err(err(format!(
                    "has `{n}`, which is not a variable name: {hint}"
                )))
            }
            None => return Err(err(hint.into())),
        }
    }
    Ok(names)
}

/// `(field, message)` for each header of `feed` that references a variable
/// `allowed` refuses (field `headers.<name>`).
pub fn refused_header_refs(
    feed: &crate::FeedConfig,
    allowed: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    feed.headers
        .iter()
        .filter_map(|(name, value)| {
            refused_ref(value, &allowed).map(|m| (format!("headers.{name}"), m))
        })
        .collect()
}

/// Why a `${VAR}` reference cannot be expanded. Each message starts with a
/// verb ("has", "references"), to follow the header's name: "header
/// `Authorization` references …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// `${` with no `}` after it.
    #[error("has `${{` without a closing `}}`")]
    Unclosed,
    /// `${…}` around something that is not a variable name.
    #[error("references `${{{0}}}`, which is not a valid variable name")]
    BadName(String),
    /// The variable may be read but is not set.
    #[error("references the environment variable `{0}`, which is not set: export {0}=… before starting Telltale")]
    Unset(String),
    /// The variable is not one Telltale may read (see [`refusal`]).
    #[error("{}", refusal(.0))]
    Refused(String),
}

/// Replaces `${NAME}` with the environment variable `NAME`, if this process
/// may read it (see the module docs).
///
/// The error names the refused or missing variable, so the feed can say
/// what to do.
pub fn expand_env(value: &str) -> Result<String, EnvError> {
    if let Some(name) = env_refs(value)
        .into_iter()
        .find(|n| is_env_name(n) && !env_allowed(n))
    {
        return Err(EnvError::Refused(name.to_string()));
    }
    expand_with(value, |k| std::env::var(k).ok())
}

/// Expansion with an explicit lookup (no allow-list: the lookup decides).
pub fn expand_with(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, EnvError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(EnvError::Unclosed);
        };
        let name = &after[..end];
        if !is_env_name(name) {
            return Err(EnvError::BadName(name.to_string()));
        }
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => return Err(EnvError::Unset(name.to_string())),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConfigFile;

    #[test]
    fn expands_and_reports_missing() {
        let f = |k: &str| (k == "TOKEN").then(|| "s3cret".to_string());
        assert_eq!(expand_with("Bearer ${TOKEN}", f).unwrap(), "Bearer s3cret");
        assert_eq!(expand_with("plain", f).unwrap(), "plain");
        let e = expand_with("${NOPE}", f).unwrap_err().to_string();
        assert!(e.contains("NOPE") && e.contains("export"), "{e}");
        assert!(expand_with("${oops", f).is_err());
    }

    #[test]
    fn only_allowed_variables_expand() {
        // PATH is set in every test process, and no feed may send it.
        let e = expand_env("Bearer ${PATH}").unwrap_err().to_string();
        assert!(
            e.contains("`PATH`") && e.contains("allow_env") && e.contains(SECRET_ENV_PREFIX),
            "{e}"
        );
        assert_eq!(expand_env("plain").unwrap(), "plain");
        // The prefix is always allowed (unset here, so "not set").
        let e = expand_env("${TELLTALE_SECRET_MODEL_TEST_UNSET}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not set"), "{e}");
        assert_eq!(env_refs("a ${X} b ${Y_2}"), vec!["X", "Y_2"]);
        assert!(refused_ref("${A} ${B}", |n| n == "A")
            .unwrap()
            .contains("`B`"));
    }

    #[test]
    fn the_config_file_lists_allowed_variables() {
        let text = r#"
allow_env = ["API_TOKEN"]

[[feed]]
name = "ok"
transport = "sse"
url = "http://h/x"
headers = { Authorization = "Bearer ${API_TOKEN}", X-Other = "${TELLTALE_SECRET_X}" }

[[feed]]
name = "home"
transport = "sse"
url = "http://h/y"
headers = { X-Api-Key = "${HOME}" }
"#;
        let file = ConfigFile::parse("f.toml", text);
        assert_eq!(file.allow_env, vec!["API_TOKEN".to_string()]);
        assert_eq!(file.feeds.len(), 1, "{:?}", file.errors);
        assert_eq!(file.errors.len(), 1);
        let e = &file.errors[0];
        assert_eq!(e.feed.as_deref(), Some("home"));
        assert_eq!(e.field.as_deref(), Some("headers.X-Api-Key"));
        assert!(e.message.contains("`HOME`"), "{}", e.message);

        let bad = ConfigFile::parse("f.toml", "allow_env = [\"A-B\", 3]\n");
        assert_eq!(bad.errors.len(), 1, "{:?}", bad.errors);
        assert_eq!(bad.errors[0].field.as_deref(), Some("allow_env"));
    }
}
