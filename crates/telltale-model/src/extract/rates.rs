//! What a feed remembers between payloads to store counters as rates and
//! histograms as means.
//!
//! - A counter's stored value is its per-second rate since the previous
//!   payload: `(v − v_prev) / (t − t_prev)`. A value below the previous one
//!   means the counter restarted from 0 (its process restarted), so the
//!   increase is the new value itself, as Prometheus's `rate()` reads it.
//! - A histogram's or summary's stored value is the mean of the
//!   observations since the previous payload: `Δsum / Δcount`, with the
//!   same reset rule; no new observation gives no sample.
//! - A histogram quantile's stored value is that quantile of the
//!   observations since the previous payload: the buckets' increases
//!   (all of them as they are after a reset), interpolated linearly within
//!   the bucket the rank falls in, as Prometheus's `histogram_quantile`
//!   does; a rank in the `+Inf` bucket gives the highest finite bound; no
//!   new observation gives no sample.
//! - The first payload of a series gives no sample: a rate needs two.

use super::{Derive, ExtractedSample};
use crate::time::Timestamp;
use std::collections::{BTreeMap, HashMap};

type Labels = BTreeMap<String, String>;

/// The previous payload's reading of one series.
#[derive(Debug, Clone, Copy)]
struct Last {
    at: Timestamp,
    value: f64,
    count: f64,
}

/// A feed's counter and histogram state.
#[derive(Debug, Default)]
pub struct Rates {
    last: HashMap<String, HashMap<BTreeMap<String, String>, Last>>,
    /// Histogram quantiles: the previous payload's buckets of each series.
    buckets: HashMap<String, HashMap<Labels, Vec<(f64, f64)>>>,
    series: usize,
    cap: usize,
}

impl Rates {
    /// Remembers at most `cap` series (a feed's series cap); beyond it, new
    /// counter series give no sample.
    pub fn new(cap: usize) -> Rates {
        Rates {
            cap,
            ..Rates::default()
        }
    }

    /// Replaces every derived sample by its stored value (see the module
    /// doc), dropping those that give none yet. Gauges pass unchanged.
    pub fn apply(&mut self, samples: &mut Vec<ExtractedSample>, at: Timestamp) {
        samples.retain_mut(|s| {
            let count = match s.derive {
                Derive::Value => return true,
                Derive::Rate => 0.0,
                Derive::Mean { count } => count,
                Derive::Quantile { q } => return self.quantile(s, q),
            };
            if !s.value.is_finite() || !count.is_finite() {
                return false;
            }
            let now = Last {
                at,
                value: s.value,
                count,
            };
            let Some(prev) = self.remember(s, now) else {
                return false;
            };
            let secs = (at.0 - prev.at.0) as f64 / 1e6;
            if secs <= 0.0 {
                return false;
            }
            let grew = |now: f64, before: f64| if now < before { now } else { now - before };
            if s.derive == Derive::Rate {
                s.value = grew(now.value, prev.value) / secs;
                return true;
            }
            // A mean: the new observations' sum over their count.
            let reset = now.count < prev.count || now.value < prev.value;
            let (sum, n) = if reset {
                (now.value, now.count)
            } else {
                (now.value - prev.value, now.count - prev.count)
            };
            if n <= 0.0 {
                return false;
            }
            s.value = sum / n;
            true
        });
    }

    /// Replaces a histogram sample's value by `q` of its new observations;
    /// false when it gives none.
    fn quantile(&mut self, s: &mut ExtractedSample, q: f64) -> bool {
        let now = std::mem::take(&mut s.buckets);
        let prev = match self
            .buckets
            .get_mut(s.metric.as_str())
            .and_then(|m| m.get_mut(&s.labels))
        {
            Some(prev) => std::mem::replace(prev, now.clone()),
            None => {
                if self.series < self.cap {
                    self.series += 1;
                    self.buckets
                        .entry(s.metric.clone())
                        .or_default()
                        .insert(s.labels.clone(), now);
                }
                return false;
            }
        };
        // the increase of each bucket; any bucket gone down, or other
        // bounds, mean the histogram restarted: count from zero
        let same = prev.len() == now.len() && prev.iter().zip(&now).all(|(a, b)| a.0 == b.0);
        let reset = !same || prev.iter().zip(&now).any(|(a, b)| b.1 < a.1);
        let delta: Vec<(f64, f64)> = if reset {
            now
        } else {
            now.iter()
                .zip(&prev)
                .map(|(n, p)| (n.0, n.1 - p.1))
                .collect()
        };
        match histogram_quantile(q, &delta) {
            Some(v) => {
                s.value = v;
                true
            }
            None => false,
        }
    }

    /// Stores `now` for the sample's series; returns the previous reading.
    fn remember(&mut self, s: &ExtractedSample, now: Last) -> Option<Last> {
        if let Some(by_labels) = self.last.get_mut(s.metric.as_str()) {
            if let Some(last) = by_labels.get_mut(&s.labels) {
                return Some(std::mem::replace(last, now));
            }
        }
        if self.series < self.cap {
            self.series += 1;
            self.last
                .entry(s.metric.clone())
                .or_default()
                .insert(s.labels.clone(), now);
        }
        None
    }
}

/// `q` of the observations in cumulative `buckets` (`(le, count)`,
/// ascending, the last `+Inf`), as Prometheus's `histogram_quantile`: the
/// bucket where the rank `q × total` falls, interpolated linearly between
/// its bounds (the first bucket starts at 0 if its bound is positive). None
/// without observations or without a finite bound.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let &(_, total) = buckets.last()?;
    if total.is_nan() || total <= 0.0 || buckets.len() < 2 {
        return None;
    }
    let rank = q * total;
    let i = buckets.iter().position(|b| b.1 >= rank)?;
    let (upper, count) = buckets[i];
    if upper == f64::INFINITY {
        // beyond the highest bound: the highest bound is all that is known
        return Some(buckets[buckets.len() - 2].0);
    }
    let (lower, below) = match i {
        0 if upper > 0.0 => (0.0, 0.0),
        0 => return Some(upper),
        _ => buckets[i - 1],
    };
    let inside = count - below;
    if inside <= 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * (rank - below) / inside)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(v: f64) -> ExtractedSample {
        ExtractedSample {
            metric: "requests".into(),
            labels: BTreeMap::new(),
            value: v,
            derive: Derive::Rate,
            buckets: Vec::new(),
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp(secs * 1_000_000)
    }

    /// The values stored for a counter read at 0, 10, 20, … seconds.
    fn rates(values: &[f64]) -> Vec<Option<f64>> {
        let mut r = Rates::new(100);
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut s = vec![counter(*v)];
                r.apply(&mut s, at(10 * i as i64));
                s.first().map(|s| s.value)
            })
            .collect()
    }

    #[test]
    fn counters_become_per_second_rates_across_resets() {
        assert_eq!(
            rates(&[100.0, 150.0, 150.0, 20.0, 70.0]),
            [None, Some(5.0), Some(0.0), Some(2.0), Some(5.0)],
            "the first reading gives none; a drop is a restart from 0"
        );
    }

    #[test]
    fn gauges_pass_and_odd_readings_are_dropped() {
        let mut r = Rates::new(100);
        let gauge = ExtractedSample {
            derive: Derive::Value,
            ..counter(7.0)
        };
        let mut s = vec![gauge.clone(), counter(1.0)];
        r.apply(&mut s, at(0));
        assert_eq!(s, vec![gauge.clone()]);
        // The same instant again: no rate; NaN: none, and not remembered.
        let mut s = vec![counter(2.0)];
        r.apply(&mut s, at(0));
        assert!(s.is_empty());
        let mut s = vec![counter(f64::NAN)];
        r.apply(&mut s, at(5));
        assert!(s.is_empty());
        let mut s = vec![counter(12.0)];
        r.apply(&mut s, at(10));
        assert_eq!(s[0].value, 1.0, "(12 - 2) / 10 s");
    }

    #[test]
    fn histogram_sums_become_means_of_the_new_observations() {
        let mut r = Rates::new(100);
        let mean = |sum: f64, count: f64| ExtractedSample {
            derive: Derive::Mean { count },
            ..counter(sum)
        };
        let mut out = Vec::new();
        for (i, (sum, count)) in [(10.0, 4.0), (16.0, 6.0), (16.0, 6.0), (1.5, 3.0)]
            .into_iter()
            .enumerate()
        {
            let mut s = vec![mean(sum, count)];
            r.apply(&mut s, at(i as i64));
            out.push(s.first().map(|s| s.value));
        }
        // 6 over 2 observations; none new; a reset: 1.5 over 3.
        assert_eq!(out, [None, Some(3.0), None, Some(0.5)]);
    }

    #[test]
    fn histogram_quantiles_interpolate_like_prometheus() {
        let inf = f64::INFINITY;
        // 100 observations: 50 under 0.1, 40 in (0.1, 0.5], 10 in (0.5, 1]
        let b = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (inf, 100.0)];
        assert_eq!(histogram_quantile(0.5, &b), Some(0.1));
        // rank 90: the top of the second bucket
        assert!((histogram_quantile(0.9, &b).unwrap() - 0.5).abs() < 1e-12);
        // rank 95: half-way into (0.5, 1]
        assert!((histogram_quantile(0.95, &b).unwrap() - 0.75).abs() < 1e-12);
        // rank 25: half-way into [0, 0.1]
        assert!((histogram_quantile(0.25, &b).unwrap() - 0.05).abs() < 1e-12);
        // a rank in +Inf gives the highest finite bound
        let over = [(0.1, 1.0), (inf, 10.0)];
        assert_eq!(histogram_quantile(0.99, &over), Some(0.1));
        assert_eq!(histogram_quantile(0.5, &[(0.1, 0.0), (inf, 0.0)]), None);
        assert_eq!(histogram_quantile(0.5, &[(inf, 5.0)]), None);
    }

    #[test]
    fn histogram_quantiles_read_the_new_observations_across_resets() {
        let inf = f64::INFINITY;
        let mut r = Rates::new(100);
        let hist = |b: &[(f64, f64)]| ExtractedSample {
            metric: "rpc_p90".into(),
            labels: BTreeMap::new(),
            value: b.last().map_or(0.0, |x| x.1),
            derive: Derive::Quantile { q: 0.9 },
            buckets: b.to_vec(),
        };
        let mut out = Vec::new();
        for (i, b) in [
            // the first scrape: nothing to compare with
            vec![(0.1, 1000.0), (1.0, 1000.0), (inf, 1000.0)],
            // 10 new observations, all slow: the history's fast ones do not count
            vec![(0.1, 1000.0), (1.0, 1010.0), (inf, 1010.0)],
            // none new
            vec![(0.1, 1000.0), (1.0, 1010.0), (inf, 1010.0)],
            // the process restarted: 4 observations, all fast
            vec![(0.1, 4.0), (1.0, 4.0), (inf, 4.0)],
        ]
        .into_iter()
        .enumerate()
        {
            let mut s = vec![hist(&b)];
            r.apply(&mut s, at(i as i64));
            out.push(s.first().map(|s| (s.value * 1000.0).round() / 1000.0));
        }
        assert_eq!(out, [None, Some(0.91), None, Some(0.09)]);
    }

    #[test]
    fn series_are_remembered_up_to_the_cap() {
        let mut r = Rates::new(1);
        let other = ExtractedSample {
            metric: "other".into(),
            ..counter(1.0)
        };
        for t in 0..3 {
            let mut s = vec![counter(t as f64), other.clone()];
            r.apply(&mut s, at(t));
            assert!(s.iter().all(|x| x.metric == "requests"), "{s:?}");
        }
    }
}
