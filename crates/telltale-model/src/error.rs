//! [`ValueError`]: a value in the config, or typed in the editor, that
//! cannot be read. Its text says what was given and what would be valid;
//! callers add the feed and the field.

/// A value that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not a number followed by a duration unit.
    #[error("`{text}` is not a duration: write e.g. 500ms, 30s, 5m, 2h or 7d")]
    NotADuration {
        /// What was given.
        text: String,
    },
    /// A duration with a unit Telltale does not know.
    #[error("`{text}` has an unknown unit `{unit}`: use ms, s, m, h, d, w or y")]
    DurationUnit {
        /// What was given.
        text: String,
        /// The unit.
        unit: String,
    },
    /// A duration beyond what can be represented.
    #[error("`{text}` is out of range")]
    DurationRange {
        /// What was given.
        text: String,
    },
    /// Not a number of bytes with an optional unit.
    #[error("`{text}` is not a size: write e.g. 65536, 64KiB or 16MiB")]
    NotASize {
        /// What was given.
        text: String,
    },
    /// A size with a unit Telltale does not know.
    #[error("`{text}` has an unknown unit `{unit}`: use B, KiB, MiB or GiB")]
    SizeUnit {
        /// What was given.
        text: String,
        /// The unit.
        unit: String,
    },
    /// A size beyond 2^64 bytes.
    #[error("`{text}` is too large")]
    SizeRange {
        /// What was given.
        text: String,
    },
    /// Neither a time, a date nor an age.
    #[error("`{text}` is not a time: use RFC 3339 (2026-11-25T17:00:00Z), a date (2026-11-25) or an age such as 15m, 2h or 7d")]
    NotATime {
        /// What was given.
        text: String,
    },
    /// Not `HH:MM`.
    #[error("`{field}` = `{text}` is not a time of day: write HH:MM, e.g. 22:00")]
    NotATimeOfDay {
        /// `start` or `end`.
        field: &'static str,
        /// What was given.
        text: String,
    },
    /// A time zone name the system's time zone database does not know.
    #[error("`{text}` is not a time zone this system knows: use an IANA name such as Europe/Berlin, America/New_York or UTC")]
    UnknownTimeZone {
        /// What was given.
        text: String,
    },
    /// A JSON Pointer that neither is empty nor starts with `/`.
    #[error("`{text}` is not a JSON Pointer: it must be empty or start with `/`, e.g. `/cpu` or `/data/0/value`")]
    PointerStart {
        /// What was given.
        text: String,
    },
    /// A JSON Pointer with a bare `~`.
    #[error("`{text}` has `~` not followed by 0 or 1: write `~0` for `~` and `~1` for `/`")]
    PointerEscape {
        /// What was given.
        text: String,
    },
}
