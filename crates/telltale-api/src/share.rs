//! A feed whose payloads would take more than its share of the disk budget
//! is flagged on its tile ([`crate::FeedView::storage_warning`]).
//!
//! Its share is the budget over the number of feeds (the budget cuts
//! fairly, see `telltale-store`'s `budget` module). What it would take is
//! its payload bytes as stored per second since the store opened or the
//! feed was last saved (measured over at least [`MIN_WINDOW_S`], so a
//! start's first burst is not taken for its pace) kept for
//! `events_max_age`, or its average stored payload times
//! `events_max_per_feed`, whichever is less.

use telltale_model::config::StoreSettings;
use telltale_model::duration::format_duration;
use telltale_store::PayloadRates;

/// The shortest window a rate is taken over.
pub(crate) const MIN_WINDOW_S: f64 = 60.0;

/// Everything a feed's flag needs, read once per feed list.
pub(crate) struct Shares {
    budget: u64,
    feeds: usize,
    settings: StoreSettings,
    rates: PayloadRates,
}

/// `12.3 MiB`: binary units, as budgets are written (`1GiB`).
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn size(b: f64) -> String {
    format_bytes(b.max(0.0).min(u64::MAX as f64) as u64)
}

impl Shares {
    /// `None` when there is no disk budget (nothing to exceed).
    pub fn new(settings: StoreSettings, feeds: usize, rates: PayloadRates) -> Option<Shares> {
        let budget = settings.disk_budget?.0;
        Some(Shares {
            budget,
            feeds: feeds.max(1),
            settings,
            rates,
        })
    }

    /// Why `feed_id`'s payloads would exceed its share, if they would.
    pub fn warning(&self, feed_id: i64) -> Option<String> {
        let p = self.rates.get(&feed_id)?;
        let (events, bytes) = (p.events, p.bytes);
        if events == 0 {
            return None;
        }
        let per_s = bytes as f64 / p.seconds.max(MIN_WINDOW_S);
        let age = self.settings.events_max_age.0;
        let by_age = per_s * age.as_secs_f64();
        let cap = self.settings.events_max_per_feed;
        let by_count = bytes as f64 / events as f64 * cap as f64;
        let kept = by_age.min(by_count);
        let share = self.budget as f64 / self.feeds as f64;
        if kept <= share {
            return None;
        }
        let limit = if by_age <= by_count {
            format!("for {}", format_duration(age))
        } else {
            format!("up to {cap} of them")
        };
        Some(format!(
            "Its stored payloads grow {}/h; kept {limit} they would take {}, more than its share of the disk budget ({} of {} over {} feeds). The budget then deletes its oldest payloads first. To keep fewer, set \"Payloads stored\" to changes or errors in its editor.",
            size(per_s * 3600.0),
            size(kept),
            size(share),
            size(self.budget as f64),
            self.feeds
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_model::duration::ByteSize;
    use telltale_store::FeedPayloads;

    fn shares(
        budget: Option<u64>,
        feeds: usize,
        seconds: f64,
        stored: &[(i64, (u64, u64))],
    ) -> Option<Shares> {
        let settings = StoreSettings {
            disk_budget: budget.map(ByteSize),
            ..StoreSettings::default()
        };
        let rates = stored
            .iter()
            .map(|&(feed, (events, bytes))| {
                let p = FeedPayloads {
                    seconds,
                    events,
                    bytes,
                };
                (feed, p)
            })
            .collect();
        Shares::new(settings, feeds, rates)
    }

    #[test]
    fn only_a_feed_over_its_share_is_flagged() {
        // 1 GiB over 10 feeds: ~102 MiB each. 200 B/s for 7 days is 121 MB,
        // but 100,000 events of 200 B is 20 MB: the count cap keeps it in.
        let s = shares(Some(1 << 30), 10, 3600.0, &[(1, (3600, 720_000))]).unwrap();
        assert_eq!(s.warning(1), None);
        // 2 KB events: 100,000 of them is 200 MB, and 7 days at 2 KB/s is
        // 1.2 GB; the lesser is over the share.
        let s = shares(
            Some(1 << 30),
            10,
            3600.0,
            &[(1, (3600, 7_200_000)), (2, (10, 100))],
        )
        .unwrap();
        let w = s.warning(1).expect("flagged");
        assert!(w.contains("6.9 MiB/h"), "{w}");
        assert!(
            w.contains("up to 100000 of them they would take 190.7 MiB"),
            "{w}"
        );
        assert!(w.contains("102.4 MiB of 1.0 GiB over 10 feeds"), "{w}");
        assert_eq!(s.warning(2), None, "a quiet feed");
        assert_eq!(s.warning(3), None, "a feed that stored nothing");
        // No budget: nothing to exceed.
        assert!(shares(None, 10, 3600.0, &[(1, (3600, 7_200_000))]).is_none());
    }

    #[test]
    fn a_first_burst_is_measured_over_a_minute() {
        // 1 MB in the first second: over a 1-minute window, 16.7 KB/s,
        // 10 GB in 7 days; 100 events of 10 KB → 1 GB by count. Both over
        // a 100 MB share; but taken over 1 s it would read 60 times faster.
        let s = shares(Some(1_000_000_000), 10, 1.0, &[(1, (100, 1_000_000))]).unwrap();
        let w = s.warning(1).expect("flagged");
        assert!(w.contains("57.2 MiB/h"), "{w}");
    }
}
