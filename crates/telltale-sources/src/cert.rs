//! The server certificate's expiry, as a metric of every TLS feed.
//!
//! A source that has just connected over TLS hands the server's leaf
//! certificate (DER) to its [`crate::Sink`], which keeps only its `notAfter`
//! and attaches [`METRIC`], the days left until then, to the next message
//! and then to one message an hour: a connection held for weeks still
//! counts down, and a feed polled every second does not store a copy of the
//! same number each time.
//!
//! Reading `notAfter` needs only a few DER headers, so it is done here
//! rather than with an X.509 crate: `Certificate ::= SEQUENCE { tbs
//! SEQUENCE { [0] version OPTIONAL, serial INTEGER, signature SEQUENCE,
//! issuer SEQUENCE, validity SEQUENCE { notBefore Time, notAfter Time }, …
//! } … }`. Anything else is `None`, never a panic.

use std::sync::atomic::{AtomicI64, Ordering};
use telltale_model::Timestamp;

/// The metric: days until the server certificate expires (negative once
/// it has).
pub const METRIC: &str = telltale_model::alert::TLS_DAYS_LEFT;

/// How often a held connection's messages carry the metric again.
const EVERY_US: i64 = 3_600_000_000;

const DAY_US: f64 = 86_400_000_000.0;

/// A feed's current certificate expiry and when it was last reported, shared
/// by the clones of its sink. Zero means none.
#[derive(Debug, Default)]
pub(crate) struct CertWatch {
    not_after_us: AtomicI64,
    reported_at_us: AtomicI64,
}

impl CertWatch {
    /// Records the certificate the server presented; a new expiry is
    /// reported with the next message.
    pub(crate) fn presented(&self, der: &[u8]) {
        let Some(t) = not_after(der) else { return };
        // 0 is "none"; a certificate expiring at the epoch is 1 µs later.
        let t = if t.0 == 0 { 1 } else { t.0 };
        if self.not_after_us.swap(t, Ordering::Relaxed) != t {
            self.reported_at_us.store(0, Ordering::Relaxed);
        }
    }

    /// The metric's value, if a message received at `now` should carry it.
    pub(crate) fn due(&self, now: Timestamp) -> Option<f64> {
        let not_after = self.not_after_us.load(Ordering::Relaxed);
        if not_after == 0 {
            return None;
        }
        let last = self.reported_at_us.load(Ordering::Relaxed);
        if last != 0 && now.0 - last < EVERY_US {
            return None;
        }
        self.reported_at_us.store(now.0, Ordering::Relaxed);
        Some(days_left(not_after, now))
    }
}

/// Days from `now` to `not_after_us`, to a hundredth (about 15 minutes).
fn days_left(not_after_us: i64, now: Timestamp) -> f64 {
    (((not_after_us - now.0) as f64 / DAY_US) * 100.0).round() / 100.0
}

/// One DER element: its tag, its contents, and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The `notAfter` of a DER certificate.
pub(crate) fn not_after(der: &[u8]) -> Option<Timestamp> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, cert, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] EXPLICIT version, absent in version 1 certificates.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    let (0x02, _serial, rest) = element(rest)? else {
        return None;
    };
    let (SEQUENCE, _signature, rest) = element(rest)? else {
        return None;
    };
    let (SEQUENCE, _issuer, rest) = element(rest)? else {
        return None;
    };
    let (SEQUENCE, validity, _) = element(rest)? else {
        return None;
    };
    let (_, _not_before, validity) = element(validity)?;
    let (tag, text, _) = element(validity)?;
    time(tag, text)
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`), as DER writes them.
fn time(tag: u8, text: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(text).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy = num(&digits[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (0x18, 14) => (num(&digits[..4])?, &digits[4..]),
        _ => return None,
    };
    let (month, day) = (num(&rest[..2])?, num(&rest[2..4])?);
    let (h, m, s) = (num(&rest[4..6])?, num(&rest[6..8])?, num(&rest[8..10])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    Some(Timestamp::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element of `tag` around `content`.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 0x80 {
            v.push(content.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(content);
        v
    }

    fn cert(version: bool, not_after: (u8, &str)) -> Vec<u8> {
        let mut tbs = Vec::new();
        if version {
            tbs.extend(tlv(0xa0, &tlv(0x02, &[2])));
        }
        tbs.extend(tlv(0x02, &[0x01, 0x23]));
        tbs.extend(tlv(0x30, &tlv(0x06, &[0x2a, 0x86])));
        tbs.extend(tlv(0x30, &[0u8; 200]));
        let validity = [
            tlv(0x17, b"250101000000Z"),
            tlv(not_after.0, not_after.1.as_bytes()),
        ]
        .concat();
        tbs.extend(tlv(0x30, &validity));
        tbs.extend(tlv(0x30, b"subject and the rest"));
        tlv(0x30, &[tlv(0x30, &tbs), tlv(0x30, b"sig")].concat())
    }

    #[test]
    fn not_after_is_read_from_both_time_forms_with_or_without_a_version() {
        let t = Timestamp::from_secs(1_798_761_599); // 2026-12-31T23:59:59Z
        assert_eq!(not_after(&cert(true, (0x17, "261231235959Z"))), Some(t));
        assert_eq!(not_after(&cert(false, (0x18, "20261231235959Z"))), Some(t));
        // UTCTime years 50–99 are the 1900s.
        assert_eq!(
            not_after(&cert(true, (0x17, "700101000000Z"))),
            Some(Timestamp::from_secs(0))
        );
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn anything_else_is_none_not_a_panic() {
        let good = cert(true, (0x17, "261231235959Z"));
        for cut in 0..good.len() {
            assert_eq!(not_after(&good[..cut]), None, "cut at {cut}");
        }
        for bad in [
            "2612312359Z",
            "26123123595aZ",
            "261331235959Z",
            "261231235959",
        ] {
            assert_eq!(not_after(&cert(true, (0x17, bad))), None, "{bad}");
        }
        assert_eq!(not_after(&cert(true, (0x04, "261231235959Z"))), None);
        assert_eq!(not_after(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(not_after(b""), None);
    }

    #[test]
    fn the_days_left_come_with_the_first_message_then_hourly() {
        let w = CertWatch::default();
        let now = Timestamp::from_secs(1_798_761_599 - 86_400 * 10);
        assert_eq!(w.due(now), None, "no certificate yet");
        w.presented(&cert(true, (0x17, "261231235959Z")));
        assert_eq!(w.due(now), Some(10.0));
        assert_eq!(w.due(now.plus(std::time::Duration::from_secs(60))), None);
        assert_eq!(
            w.due(now.plus(std::time::Duration::from_secs(3600))),
            Some(9.96)
        );
        // The same certificate again changes nothing; a renewed one is
        // reported at once.
        w.presented(&cert(true, (0x17, "261231235959Z")));
        assert_eq!(w.due(now.plus(std::time::Duration::from_secs(3700))), None);
        w.presented(&cert(true, (0x17, "270331235959Z")));
        assert_eq!(
            w.due(now.plus(std::time::Duration::from_secs(3700))),
            Some(99.96)
        );
    }
}
