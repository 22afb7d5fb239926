//! What a desktop shell shows that needs no GUI toolkit: the tray lamp's
//! pixels, the "close again to quit" rule for a desktop without a tray,
//! and how to tell a missing tray library from any other panic. The Tauri
//! shell only puts these on screen.

mod lamp;

pub use lamp::{lamp_colour, lamp_rgba, LAMP_SIZE};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A second close within this time after the warning quits.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(60);
/// The package that provides the tray library on Debian and Ubuntu.
pub const TRAY_PACKAGE: &str = "libayatana-appindicator3-1";

/// How many log files the desktop app keeps: the current one and this many
/// rotated ones before it, each up to [`LOG_FILE_BYTES`].
pub const LOG_FILES_KEPT: usize = 5;
/// Size at which the desktop app's log file is rotated.
pub const LOG_FILE_BYTES: u64 = 1024 * 1024;

/// What `RUST_LOG` asks of a desktop shell's log: a default level and
/// levels per target (`warn,telltale_engine=debug`), in the usual
/// `env_logger` syntax without its regex filter. Parts that are not
/// understood are returned so the shell can say so once it logs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFilter {
    /// For targets not named (default `info`).
    pub default: tracing::level_filters::LevelFilter,
    /// `(target prefix, level)`, in the order given.
    pub targets: Vec<(String, tracing::level_filters::LevelFilter)>,
    /// Parts ignored as unreadable.
    pub ignored: Vec<String>,
}

impl LogFilter {
    /// Reads a `RUST_LOG` value (absent or empty: `info`).
    pub fn parse(spec: Option<&str>) -> LogFilter {
        use tracing::level_filters::LevelFilter;
        let mut f = LogFilter {
            default: LevelFilter::INFO,
            targets: Vec::new(),
            ignored: Vec::new(),
        };
        for part in spec.unwrap_or("").split(',').map(str::trim) {
            if part.is_empty() {
                continue;
            }
            let level = |s: &str| s.trim().parse::<LevelFilter>().ok();
            match part.split_once('=') {
                Some((target, l)) if !target.trim().is_empty() => match level(l) {
                    Some(l) => f.targets.push((target.trim().to_string(), l)),
                    None => f.ignored.push(part.to_string()),
                },
                Some(_) => f.ignored.push(part.to_string()),
                // a bare word is a level, or a target at every level
                None => match level(part) {
                    Some(l) => f.default = l,
                    None if part
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == ':') =>
                    {
                        f.targets.push((part.to_string(), LevelFilter::TRACE))
                    }
                    None => f.ignored.push(part.to_string()),
                },
            }
        }
        f
    }
}

/// The text of a panic payload (the engine's own reading of one).
pub use telltale_engine::health::panic_message as panic_text;

/// Whether a panic is the tray crate's way of saying its library is
/// missing.
pub fn is_tray_library_panic(text: &str) -> bool {
    text.contains("appindicator3")
}

/// Why the tray could not start, from the panic that said so.
pub fn tray_panic_error(text: &str) -> String {
    if is_tray_library_panic(text) {
        format!(
            "the tray library libayatana-appindicator3.so.1 is not installed \
             (install the package {TRAY_PACKAGE})"
        )
    } else {
        format!("the tray failed to start: {text}")
    }
}

/// What the window says when it stays open on a close without a tray.
pub fn close_without_tray_notice() -> String {
    format!(
        "Telltale has no tray icon on this desktop, so closing the window stops monitoring \
         and notifications. Minimise the window to keep watching, or close it again within \
         {} seconds to quit. For a tray icon, install {TRAY_PACKAGE}.",
        CONFIRM_WITHIN.as_secs()
    )
}

/// The environment variables a desktop shell sets for its web view before
/// any thread starts (`get` reads the current environment):
/// - under the C/POSIX locale, `LC_ALL=en_US.UTF-8` and `LANGUAGE=en_US`:
///   WebKitGTK would report `navigator.language` as `"C"`, which is no
///   BCP 47 tag, and `Intl.NumberFormat(navigator.language)` (uPlot calls
///   it at load) throws, leaving the window blank. GLib ignores `LANGUAGE`
///   under the C locale, hence `LC_ALL` too;
/// - on Linux, `JSC_useDFGJIT=false` unless set: the dashboard's scripts
///   are light, the baseline JIT still compiles hot code, and the
///   optimising tiers cost about 9 MiB of the web process's memory
///   (measured: 125 → 116 MiB PSS with the demo fleet).
pub fn web_view_environment(
    get: impl Fn(&str) -> Option<String>,
) -> Vec<(&'static str, &'static str)> {
    let mut set = Vec::new();
    if get("LANGUAGE").is_none_or(|v| v.is_empty()) {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| get(k))
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let base = locale.split(['.', '@']).next().unwrap_or_default();
        if base.is_empty() || base == "C" || base == "POSIX" {
            set.push(("LC_ALL", "en_US.UTF-8"));
            set.push(("LANGUAGE", "en_US"));
        }
    }
    if cfg!(target_os = "linux") && get("JSC_useDFGJIT").is_none() {
        set.push(("JSC_useDFGJIT", "false"));
    }
    set
}

/// When the window was last asked to close without a tray.
#[derive(Debug, Default)]
pub struct CloseWarned(Mutex<Option<Instant>>);

impl CloseWarned {
    /// Whether a close at `now` should go ahead: true when it follows a
    /// warning within [`CONFIRM_WITHIN`]; otherwise records the warning.
    pub fn confirm(&self, now: Instant) -> bool {
        let Ok(mut last) = self.0.lock() else {
            return true;
        };
        match *last {
            Some(t) if now.saturating_duration_since(t) <= CONFIRM_WITHIN => true,
            _ => {
                *last = Some(now);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_locale_gets_a_web_language_and_a_real_one_is_kept() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = web_view_environment(env(&[("LANG", "C.UTF-8")]));
        assert!(c.contains(&("LANGUAGE", "en_US")) && c.contains(&("LC_ALL", "en_US.UTF-8")));
        let none = web_view_environment(env(&[]));
        assert!(none.contains(&("LANGUAGE", "en_US")));
        let de = web_view_environment(env(&[("LANG", "de_DE.UTF-8"), ("JSC_useDFGJIT", "true")]));
        assert!(de.is_empty(), "{de:?}");
        let set = web_view_environment(env(&[("LANGUAGE", "fr"), ("LANG", "C")]));
        assert!(!set.iter().any(|(k, _)| *k == "LANGUAGE"));
    }

    #[test]
    fn rust_log_sets_the_default_and_per_target_levels() {
        use tracing::level_filters::LevelFilter as L;
        assert_eq!(LogFilter::parse(None).default, L::INFO);
        assert_eq!(LogFilter::parse(Some("")).default, L::INFO);
        let f = LogFilter::parse(Some(
            "warn, telltale_engine=debug,telltale_store::writer=trace",
        ));
        assert_eq!(f.default, L::WARN);
        assert_eq!(
            f.targets,
            vec![
                ("telltale_engine".to_string(), L::DEBUG),
                ("telltale_store::writer".to_string(), L::TRACE)
            ]
        );
        assert!(f.ignored.is_empty());
        let odd = LogFilter::parse(Some("loud,telltale_api=noisy,=debug,a/b"));
        assert_eq!(odd.targets, vec![("loud".to_string(), L::TRACE)]);
        assert_eq!(odd.ignored, vec!["telltale_api=noisy", "=debug", "a/b"]);
        assert_eq!(LogFilter::parse(Some("off")).default, L::OFF);
    }

    #[test]
    fn a_second_close_within_the_minute_goes_ahead_and_a_late_one_warns_again() {
        let w = CloseWarned::default();
        let t0 = Instant::now();
        assert!(!w.confirm(t0), "the first close is held");
        assert!(
            w.confirm(t0 + Duration::from_secs(5)),
            "a second close quits"
        );
        let w = CloseWarned::default();
        assert!(!w.confirm(t0));
        assert!(
            !w.confirm(t0 + CONFIRM_WITHIN + Duration::from_secs(1)),
            "a close long after the warning warns again"
        );
        assert!(w.confirm(t0 + CONFIRM_WITHIN + Duration::from_secs(2)));
    }

    #[test]
    fn only_the_tray_librarys_panic_counts_as_a_missing_tray_library() {
        assert!(is_tray_library_panic(
            "Failed to load ayatana-appindicator3 or appindicator3 dynamic library\nx\ny"
        ));
        assert!(!is_tray_library_panic("index out of bounds"));
        assert!(tray_panic_error("appindicator3 missing").contains(TRAY_PACKAGE));
        let p: Box<dyn std::any::Any + Send> = Box::new(String::from("boom"));
        assert_eq!(panic_text(p.as_ref()), "boom");
        let p: Box<dyn std::any::Any + Send> = Box::new("static boom");
        assert_eq!(panic_text(p.as_ref()), "static boom");
    }
}
