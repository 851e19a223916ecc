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
    match fixed(t) {
        Some(text) => text.as_str().to_owned(),
        None => t
            .to_offset(time::UtcOffset::UTC)
            .format(RFC3339_MILLIS)
            .unwrap_or_else(|_| t.to_string()),
    }
}

/// [`format`]'s text of a time in the years 0 to 9999, the only ones keyward makes,
/// written straight into a buffer: `time`'s formatting machinery cost about as much
/// as the rest of serialising the verify answer's quota. `None` for other years.
fn fixed(t: Timestamp) -> Option<Fixed> {
    use crate::digits::put_padded;
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let mut b = *b"0000-00-00T00:00:00.000Z";
    put_padded(&mut b[0..4], year);
    put_padded(&mut b[5..7], u32::from(u8::from(t.month())));
    put_padded(&mut b[8..10], u32::from(t.day()));
    put_padded(&mut b[11..13], u32::from(t.hour()));
    put_padded(&mut b[14..16], u32::from(t.minute()));
    put_padded(&mut b[17..19], u32::from(t.second()));
    put_padded(&mut b[20..23], u32::from(t.millisecond()));
    Some(Fixed(b))
}

/// `2027-01-31T12:00:00.000Z`, ASCII.
struct Fixed([u8; 24]);

impl Fixed {
    fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// `#[serde(with = "keyward_core::timestamp::rfc3339")]`: times in the [`format`] form.
pub mod rfc3339 {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        match super::fixed(*t) {
            Some(text) => s.serialize_str(text.as_str()),
            None => s.serialize_str(&super::format(*t)),
        }
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

    proptest! {
        #[test]
        fn the_fixed_form_is_what_time_formats(
            ns in -62_167_132_800_000_000_000i128..253_402_214_400_000_000_000,
            offset in -86_399i32..86_400,
        ) {
            let t = OffsetDateTime::from_unix_timestamp_nanos(ns).unwrap()
                .to_offset(time::UtcOffset::from_whole_seconds(offset).unwrap());
            let by_time = t.to_offset(time::UtcOffset::UTC).format(RFC3339_MILLIS).unwrap();
            let fast = fixed(t).unwrap();
            prop_assert_eq!(fast.as_str(), by_time.as_str());
            prop_assert_eq!(format(t), by_time);
        }
    }

    #[test]
    fn years_beyond_four_digits_are_formatted_by_time() {
        let t = time::macros::datetime!(-0001-12-31 23:59:59.999 UTC);
        assert!(fixed(t).is_none());
        assert_eq!(format(t), t.format(RFC3339_MILLIS).unwrap());
        assert_eq!(
            format(time::macros::datetime!(0000-01-01 0:00 UTC)),
            "0000-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn formatting_is_rfc3339_utc() {
        assert_eq!(format(from_millis(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(from_millis(1_500)), "1970-01-01T00:00:01.500Z");
    }
}

/// Which way a bare duration points when a person gives one as a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relative {
    /// `90d` is 90 days from now: expiries.
    FromNow,
    /// `1h` (or `1h ago`) is an hour before now: `--since` and `--until`.
    Ago,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a time: use an RFC 3339 time such as 2027-01-31T12:00:00Z, a date such as 2027-01-31 (midnight UTC), or {}", match .relative {
    Relative::FromNow => "a duration from now such as 30d",
    Relative::Ago => "a duration ago such as 1h or 7d (also written '7d ago')",
})]
pub struct InvalidTime {
    /// The input as it may be quoted (see [`crate::echo`]).
    pub input: String,
    pub relative: Relative,
}

/// A point in time as a person gives it: RFC 3339, a date (midnight UTC), or a
/// duration from `now` (`90d`, `12h`), as expiries are given.
pub fn parse_time(input: &str, now: Timestamp) -> Result<Timestamp, InvalidTime> {
    parse_relative(input, now, Relative::FromNow)
}

/// The same, but a duration means that long before `now` (`1h`, `7d`, or `7d ago`),
/// as the start and end of a search in the past are given.
pub fn parse_time_ago(input: &str, now: Timestamp) -> Result<Timestamp, InvalidTime> {
    parse_relative(input, now, Relative::Ago)
}

pub fn parse_relative(
    input: &str,
    now: Timestamp,
    relative: Relative,
) -> Result<Timestamp, InvalidTime> {
    let s = input.trim();
    let err = || InvalidTime {
        input: crate::echo::echo(s, 40),
        relative,
    };
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(truncate(t));
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &date_format) {
        return Ok(d.midnight().assume_utc());
    }
    let s = match relative {
        Relative::FromNow => s,
        Relative::Ago => s.strip_suffix("ago").map_or(s, str::trim_end),
    };
    // "0" alone is more likely a slip than "now"; "0s" says it.
    if s.starts_with(|c: char| c.is_ascii_digit()) && s != "0" {
        if let Ok(d) = crate::duration::parse(s) {
            return match relative {
                Relative::FromNow => now.checked_add(d),
                Relative::Ago => now.checked_sub(d),
            }
            .ok_or_else(err);
        }
    }
    Err(err())
}

/// How far `t` is from `now`, for people: `3d ago`, `in 89d`, `just now`.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let d = t - now;
    if d.whole_seconds().abs() < 60 {
        return "just now".into();
    }
    let span = crate::duration::approximate(d);
    if d.is_negative() {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// `t` as a table shows it for people: RFC 3339 to the second, and how long ago or
/// ahead, such as `2027-01-31T12:00:00Z (3d ago)`.
pub fn format_for_people(t: Timestamp, now: Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let at = t.format(RFC3339_SECONDS).unwrap_or_else(|_| format(t));
    format!("{at} ({})", relative(t, now))
}

const RFC3339_SECONDS: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// A UTC calendar day, as usage is counted, stored and shown: `2027-01-31`.
const DAY: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `2027-01-31`.
pub fn format_day(day: time::Date) -> String {
    day.format(DAY).unwrap_or_else(|_| day.to_string())
}

/// A day written exactly as [`format_day`] writes it.
pub fn parse_day(s: &str) -> Option<time::Date> {
    time::Date::parse(s, DAY).ok()
}

/// `#[serde(with = "keyward_core::timestamp::day")]`: days in the [`format_day`] form.
pub mod day {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &time::Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_day(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<time::Date, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_day(&s).ok_or_else(|| serde::de::Error::custom("not a day (YYYY-MM-DD)"))
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        let now = from_millis(1_800_000_000_000);
        assert_eq!(parse_time("30d", now), Ok(now + Duration::days(30)));
        assert_eq!(parse_time("90 days", now), Ok(now + Duration::days(90)));
        assert_eq!(
            format(parse_time("2027-01-31", now).unwrap()),
            "2027-01-31T00:00:00.000Z"
        );
        assert_eq!(
            format(parse_time("2027-01-31T12:00:00+01:00", now).unwrap()),
            "2027-01-31T11:00:00.000Z"
        );
        for bad in ["", "0", "tomorrow", "2027-13-01", "-5d", "5d ago"] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }

    /// `--since 1h` means the last hour, not from an hour ahead.
    #[test]
    fn durations_for_searches_count_back_from_now() {
        let now = from_millis(1_800_000_000_000);
        let hour_ago = now - Duration::hours(1);
        assert_eq!(parse_time_ago("1h", now), Ok(hour_ago));
        assert_eq!(parse_time_ago("1h ago", now), Ok(hour_ago));
        assert_eq!(parse_time_ago(" 1 hour ago ", now), Ok(hour_ago));
        assert_eq!(
            parse_time_ago("2027-01-31", now),
            parse_time("2027-01-31", now),
            "absolute times mean the same either way"
        );
        for bad in ["", "0", "ago", "1h from now", "-1h", "yesterday"] {
            assert!(parse_time_ago(bad, now).is_err(), "{bad}");
        }
        let e = parse_time_ago("yesterday", now).unwrap_err().to_string();
        assert!(e.contains("'yesterday' is not a time"), "{e}");
        assert!(e.contains("a duration ago such as 1h"), "{e}");
    }

    #[test]
    fn days_are_written_and_read_as_yyyy_mm_dd_only() {
        let day = time::macros::date!(2027 - 01 - 31);
        assert_eq!(format_day(day), "2027-01-31");
        assert_eq!(parse_day("2027-01-31"), Some(day));
        assert_eq!(
            format_day(time::macros::date!(0001 - 02 - 03)),
            "0001-02-03"
        );
        for bad in [
            "",
            "2027-1-31",
            "2027-02-30",
            "2027-01-31T00:00:00Z",
            " 2027-01-31",
            "27-01-31",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_are_shown_with_how_long_ago_or_ahead() {
        let now = from_millis(1_800_000_000_000);
        assert_eq!(relative(now - Duration::seconds(5), now), "just now");
        assert_eq!(relative(now - Duration::days(3), now), "3d ago");
        assert_eq!(
            relative(now + Duration::days(89) + Duration::hours(5), now),
            "in 89d"
        );
        assert_eq!(
            format_for_people(from_millis(1_500), from_millis(1_500 + 3_600_000)),
            "1970-01-01T00:00:01Z (1h ago)"
        );
    }
}
