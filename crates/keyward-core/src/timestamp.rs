//! Time as keyward stores it: UTC, whole milliseconds. Truncating at the source means
//! a time survives a round trip through any store unchanged, so comparisons made
//! before and after saving agree.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

pub type Timestamp = OffsetDateTime;

/// `t` in UTC, truncated to whole milliseconds.
pub fn truncate(t: OffsetDateTime) -> Timestamp {
    from_millis(to_millis(t))
}

pub fn to_millis(t: Timestamp) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_millis(ms: i64) -> Timestamp {
    OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(ms)
}

/// RFC 3339 in UTC, as every API answer and table shows times.
pub fn format(t: Timestamp) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn millisecond_timestamps_round_trip(ms in -62_135_596_800_000i64..253_402_300_799_000) {
            prop_assert_eq!(to_millis(from_millis(ms)), ms);
            prop_assert_eq!(truncate(from_millis(ms)), from_millis(ms));
        }
    }

    #[test]
    fn formatting_is_rfc3339_utc() {
        assert_eq!(format(from_millis(0)), "1970-01-01T00:00:00Z");
        assert_eq!(format(from_millis(1_500)), "1970-01-01T00:00:01.5Z");
    }
}
