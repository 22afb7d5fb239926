//! Scenario 6: desktop footprint (PSS of the app and its WebKit processes).

use crate::report::Section;
use std::time::Duration;

/// Scenario sizes.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// Time with the demo fleet running before measuring.
    pub settle: Duration,
    /// Growth run length (zero: none).
    pub growth: Duration,
}

/// Runs the scenario.
pub async fn run(o: Opts) -> Section {
    let mut s = Section::new(6, "Desktop footprint", &["process tree", "PSS"]);
    s.note(format!(
        "Not measured yet in this build (settle {:?}, growth {:?}).",
        o.settle, o.growth
    ));
    s
}
