//! Times as the protocols write them (RFC 3339, UTC), for any `SystemTime` the server may
//! hold, however it came by it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use humantime::Rfc3339Timestamp;

/// The last second RFC 3339 can write: the end of the year 9999.
const LAST: Duration = Duration::from_secs(253_402_300_799);

/// `at` within what RFC 3339 can write: the formatter panics on a time before 1970 or past
/// 9999, and a time read from a damaged store or another server must not stop a replay.
fn writable(at: SystemTime) -> SystemTime {
    match at.duration_since(UNIX_EPOCH) {
        Ok(since) if since > LAST => UNIX_EPOCH + LAST,
        Ok(_) => at,
        Err(_) => UNIX_EPOCH,
    }
}

/// `at` to the millisecond (`2026-11-30T19:05:00.123Z`), clamped to what can be written.
pub fn rfc3339_millis(at: SystemTime) -> Rfc3339Timestamp {
    humantime::format_rfc3339_millis(writable(at))
}

/// `at` to the second (`2026-11-30T19:05:00Z`), clamped to what can be written.
pub fn rfc3339_seconds(at: SystemTime) -> Rfc3339Timestamp {
    humantime::format_rfc3339_seconds(writable(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_what_rfc_3339_holds_are_clamped_not_a_panic() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(rfc3339_millis(before).to_string(), "1970-01-01T00:00:00.000Z");
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(rfc3339_seconds(far).to_string(), "9999-12-31T23:59:59Z");
        let now = UNIX_EPOCH + Duration::from_millis(1_764_529_500_123);
        assert_eq!(rfc3339_millis(now).to_string(), "2025-11-30T19:05:00.123Z");
    }
}
