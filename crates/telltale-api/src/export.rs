//! The config export: every feed and the settings as a config file, with
//! literal secrets masked. [`crate::Api::export_config`] answers it and
//! `telltaled export-config` prints it, from this one function, so the two
//! can never differ in what they reveal.

use crate::{secrets, ApiError};
use telltale_model::config::Settings;
use telltale_model::{ConfigFile, FeedConfig, Timestamp};
use telltale_store::StoredFeed;

/// The exported config and how many literal secrets it masked.
#[derive(Debug, Clone)]
pub struct ConfigExport {
    /// The TOML text, a header comment first.
    pub text: String,
    /// Header values and URLs whose literal secrets were masked.
    pub masked: usize,
}

/// `feeds` and `settings` as a config file (see the module docs).
pub fn config_export(feeds: &[StoredFeed], settings: &Settings) -> Result<ConfigExport, ApiError> {
    let mut masked = 0;
    let shown: Vec<FeedConfig> = feeds
        .iter()
        .map(|f| {
            let shown = secrets::masked(&f.config);
            masked += shown
                .headers
                .iter()
                .filter(|(k, v)| f.config.headers.get(*k) != Some(v))
                .count();
            if shown.url != f.config.url {
                masked += 1;
            }
            if shown.webhook != f.config.webhook {
                masked += 1;
            }
            shown
        })
        .collect();
    let body = ConfigFile::to_toml(&shown, &settings.store, &settings.alerts)
        .map_err(|e| ApiError::internal(format!("cannot write the export: {e}")))?;
    let hint = if masked > 0 {
        format!(
            "# {masked} header value(s) or URL(s) held a literal secret, masked as ••••••.\n# Put secrets in environment variables named TELLTALE_SECRET_… and write them\n# as ${{VAR}} (or list other names in the config file's allow_env).\n"
        )
    } else {
        String::new()
    };
    Ok(ConfigExport {
        text: format!(
            "# Telltale feeds, exported {}.\n# Secret header values, URL credentials and secret query values are masked\n# (••••••); importing this file into the same database keeps the stored\n# secrets behind the masks while the URLs keep their scheme, host and port.\n{hint}\n{body}",
            Timestamp::now().to_rfc3339_millis()
        ),
        masked,
    })
}
