//! Routing by tag (`[[alerts.route]]`): which alerts of which feeds reach
//! the desktop. The first route whose tags a feed has decides; a feed no
//! route names notifies as usual.
//!
//! Today the one destination is the desktop (`notify = "desktop"`) or
//! nowhere (`notify = "none"`: recorded in the alert's history, never
//! shown). A server mode adds destinations here (a webhook, mail) without
//! changing how routes are chosen.

use crate::alert::Severity;
use serde::{Deserialize, Serialize};

/// Where a route's notifications go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub enum RouteTarget {
    /// Desktop notifications (the default).
    #[default]
    Desktop,
    /// Nowhere: the alert shows in Telltale and its history says why it
    /// did not notify.
    None,
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, export_to = "../../../ui/src/lib/bindings/")
)]
pub struct Route {
    /// Feeds with any of these tags take this route.
    pub tags: Vec<String>,
    /// Where their notifications go.
    #[serde(default)]
    pub notify: RouteTarget,
    /// Only alerts of this severity or worse notify; absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
}

impl Route {
    /// Whether a feed with `tags` takes this route.
    pub fn matches(&self, tags: &[String]) -> bool {
        self.tags.iter().any(|t| tags.contains(t))
    }

    /// Why a notification of `severity` does not notify on this route, or
    /// `None` when it does.
    pub fn holds(&self, severity: Severity) -> Option<String> {
        let tags = self.tags.join(", ");
        match (self.notify, self.min_severity) {
            (RouteTarget::None, _) => Some(format!("routed to none (the route for tags {tags})")),
            (RouteTarget::Desktop, Some(min)) if severity < min => Some(format!(
                "below {} (the route for tags {tags})",
                min.as_str()
            )),
            _ => None,
        }
    }
}

/// The route a feed with `tags` takes: the first that matches.
pub fn route_for<'a>(routes: &'a [Route], tags: &[String]) -> Option<&'a Route> {
    routes.iter().find(|r| r.matches(tags))
}

/// The first problem of `routes`, as the field path and the message.
pub fn problem(routes: &[Route]) -> Option<(String, String)> {
    routes.iter().enumerate().find_map(|(i, r)| {
        r.tags.is_empty().then(|| {
            (
                format!("route[{i}].tags"),
                "is empty: name the tags whose feeds take this route".to_string(),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_route_decides() {
        let routes: Vec<Route> = toml::from_str::<toml::Table>(
            "[[route]]\ntags = [\"lab\"]\nnotify = \"none\"\n[[route]]\ntags = [\"staging\", \"lab\"]\nmin_severity = \"critical\"\n",
        )
        .unwrap()["route"]
            .clone()
            .try_into()
            .unwrap();
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let lab = route_for(&routes, &tags(&["lab", "staging"])).unwrap();
        assert!(lab
            .holds(Severity::Critical)
            .unwrap()
            .starts_with("routed to none"));
        let staging = route_for(&routes, &tags(&["staging"])).unwrap();
        assert_eq!(
            staging.holds(Severity::Warning).as_deref(),
            Some("below critical (the route for tags staging, lab)")
        );
        assert_eq!(staging.holds(Severity::Critical), None);
        assert!(route_for(&routes, &tags(&["prod"])).is_none());
        assert_eq!(problem(&routes), None);
        let empty = [Route::default()];
        assert_eq!(problem(&empty).unwrap().0, "route[0].tags");
    }
}
