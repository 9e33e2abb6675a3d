//! Timestamps of the traffic views: wall-clock time in UTC, or seconds since the connection
//! opened, or since its previous event. Written by hand (days-to-civil is ten lines): no date
//! crate is among the project's dependencies, and these views need nothing else from one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a dump shows when each event happened (`--time`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeStyle {
    /// Time of day, UTC, to the microsecond: `16:20:34.048008`.
    #[default]
    Abs,
    /// Seconds since the connection opened: `+1.250000`.
    Rel,
    /// Seconds since the connection's previous event: `+0.000120`.
    Delta,
}

/// A moment as UTC calendar fields: (year, month, day, hour, minute, second, microsecond).
pub fn civil_utc(t: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days_from_civil, inverted (civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
        d.subsec_micros(),
    )
}

/// `16:20:34.048008`.
pub(crate) fn time_of_day(t: SystemTime) -> String {
    let (_, _, _, h, m, s, us) = civil_utc(t);
    format!("{h:02}:{m:02}:{s:02}.{us:06}")
}

/// `2026-12-04T16:20:34.048008Z` (RFC 3339).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, m, s, us) = civil_utc(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{us:06}Z")
}

/// `2026/12/04 16:20:34.048008`, as socat's `-v` prints its header lines.
pub(crate) fn socat_stamp(t: SystemTime) -> String {
    let (y, mo, d, h, m, s, us) = civil_utc(t);
    format!("{y:04}/{mo:02}/{d:02} {h:02}:{m:02}:{s:02}.{us:06}")
}

/// `+1.250000`.
pub(crate) fn seconds(d: Duration) -> String {
    format!("+{}.{:06}", d.as_secs(), d.subsec_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_utc(UNIX_EPOCH), (1970, 1, 1, 0, 0, 0, 0));
        // 2026-12-04T16:20:34.048008Z
        let t = UNIX_EPOCH + Duration::new(1_796_401_234, 48_008_000);
        assert_eq!(rfc3339(t), "2026-12-04T16:20:34.048008Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.000000Z");
        assert_eq!(seconds(Duration::from_micros(1_250_000)), "+1.250000");
    }
}
