//! The wall clock, read in one place: the rules take `now` as an argument and storage stores
//! Unix seconds; this module reads the time and formats it as RFC 3339 for JSON.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Seconds since the Unix epoch, UTC.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Milliseconds since the Unix epoch, UTC (for timers finer than a second, such as retries).
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `1767225600` → `"2026-01-01T00:00:00Z"`.
pub fn rfc3339(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string())
}

/// `"2026-01-01T00:00:00Z"` (any offset) → `1767225600`; `None` if it is not RFC 3339.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339).ok().map(|at| at.unix_timestamp())
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn parses_what_it_formats() {
        assert_eq!(super::parse_rfc3339("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(super::parse_rfc3339("2026-01-01T03:00:00+03:00"), Some(1_767_225_600));
        assert_eq!(super::parse_rfc3339("yesterday"), None);
    }
}
