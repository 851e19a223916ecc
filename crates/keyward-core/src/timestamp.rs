//! Time as keyward stores it: UTC, whole milliseconds. Truncating at the source means
//! a time survives a round trip through any store unchanged, so comparisons made
//! before and after saving agree.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

pub type Timestamp = OffsetDateTime;

/// `t` in UTC, truncated to whole milliseconds. Cheap: every check reads the clock.
pub fn truncate(t: OffsetDateTime) -> Timestamp {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

pub fn to_millis(t: Timestamp) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_millis(ms: i64) -> Timestamp {
    OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(ms)
}

const RFC3339_MILLIS: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

/// RFC 3339 in UTC with milliseconds, as every API answer and table shows times:
/// `2027-01-31T12:00:00.000Z`. Fixed width, so listings line up and sort as text.
pub fn format(t: Timestamp) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(RFC3339_MILLIS)
        .unwrap_or_else(|_| t.to_string())
}

/// `#[serde(with = "keyward_core::timestamp::rfc3339")]`: times in the [`format`] form.
pub mod rfc3339 {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        time::OffsetDateTime::parse(&s, &super::Rfc3339)
            .map(super::truncate)
            .map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Timestamp>`, `null` for `None`.
    pub mod option {
        use super::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| {
                    time::OffsetDateTime::parse(&s, &super::super::Rfc3339)
                        .map(super::super::truncate)
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
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
        assert_eq!(format(from_millis(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(from_millis(1_500)), "1970-01-01T00:00:01.500Z");
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a time: use an RFC 3339 time such as 2027-01-31T12:00:00Z, a date such as 2027-01-31 (midnight UTC), or a duration from now such as 30d")]
pub struct InvalidTime(pub String);

/// A point in time as a person gives it: RFC 3339, a date (midnight UTC), or a
/// duration from `now` (`90d`, `12h`).
pub fn parse_time(input: &str, now: Timestamp) -> Result<Timestamp, InvalidTime> {
    let s = input.trim();
    let err = || InvalidTime(crate::echo::echo(s, 40));
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(truncate(t));
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &date_format) {
        return Ok(d.midnight().assume_utc());
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) && s != "0" {
        if let Ok(d) = crate::duration::parse(s) {
            return now.checked_add(d).ok_or_else(err);
        }
    }
    Err(err())
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        let now = from_millis(1_800_000_000_000);
        assert_eq!(parse_time("30d", now), Ok(now + Duration::days(30)));
        assert_eq!(
            format(parse_time("2027-01-31", now).unwrap()),
            "2027-01-31T00:00:00.000Z"
        );
        assert_eq!(
            format(parse_time("2027-01-31T12:00:00+01:00", now).unwrap()),
            "2027-01-31T11:00:00.000Z"
        );
        for bad in ["", "0", "tomorrow", "2027-13-01", "-5d"] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}
