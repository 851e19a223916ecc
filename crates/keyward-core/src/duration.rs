//! Durations as people type them: `0`, `90s`, `30m`, `24h`, `7d`, `2w`, a combination
//! such as `1d12h`, or the long forms `90 days`, `1 week`, `1.5h`. Used for grace
//! periods, relative expiries, `--since` and configuration.
//!
//! Parsing is humantime's, which accepts our short forms and the long ones people also
//! type; the result is bounded and cut to whole milliseconds, keyward's resolution for
//! times. Formatting stays ours: `1d12h` is the form audit events record and messages
//! show, and humantime's `1day 12h` would change what is stored.

use time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a duration: use a number and a unit (s, m, h, d or w), such as '24h', '7d' or '90 days'")]
pub struct InvalidDuration(pub String);

/// The longest duration accepted: no key, grace period or cache lives longer, and the
/// bound keeps the date arithmetic done with a parsed duration from overflowing.
pub const MAX: Duration = Duration::days(100 * 365);

pub fn parse(input: &str) -> Result<Duration, InvalidDuration> {
    let err = || InvalidDuration(crate::echo::echo(input, 40));
    let s = input.trim();
    // humantime skips spaces before a number; a sign or anything else is not ours.
    if !s.starts_with(|c: char| c.is_ascii_digit()) || s.len() > 32 {
        return Err(err());
    }
    let d = humantime::parse_duration(s).map_err(|_| err())?;
    let millis = i64::try_from(d.as_millis()).map_err(|_| err())?;
    let d = Duration::milliseconds(millis);
    if d > MAX {
        return Err(err());
    }
    Ok(d)
}

/// The shortest readable form of `d`, for messages: `7d`, `24h`, `1d12h`.
pub fn format(d: Duration) -> String {
    let mut secs = d.whole_seconds();
    if secs == 0 {
        return "0".into();
    }
    let mut out = String::with_capacity(8);
    for (unit, name) in [(86_400, 'd'), (3_600, 'h'), (60, 'm'), (1, 's')] {
        if secs >= unit {
            crate::digits::push_u64(&mut out, (secs / unit).unsigned_abs());
            out.push(name);
            secs %= unit;
        }
    }
    out
}

/// Serde for a duration written as text: `10s`, `1h`, `1d12h`.
pub mod serde_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `d` in its largest whole unit, rounded down, for a glance: `45s`, `5m`, `3h`, `89d`.
/// Hours up to two days, so "in 30h" is not shown as "in 1d".
pub fn approximate(d: Duration) -> String {
    let secs = d.whole_seconds().unsigned_abs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m", secs / 60),
        3_600..172_800 => format!("{}h", secs / 3_600),
        _ => format!("{}d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn common_forms_parse() {
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("30s"), Ok(Duration::seconds(30)));
        assert_eq!(parse("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse("7d"), Ok(Duration::days(7)));
        assert_eq!(parse("90d"), Ok(Duration::days(90)));
        assert_eq!(parse("730d"), Ok(Duration::days(730)));
        assert_eq!(parse("1d12h"), Ok(Duration::hours(36)));
        assert_eq!(parse("2w"), Ok(Duration::days(14)));
        assert_eq!(parse(" 12h "), Ok(Duration::hours(12)));
    }

    #[test]
    fn long_forms_people_type_parse_too() {
        assert_eq!(parse("90 days"), Ok(Duration::days(90)));
        assert_eq!(parse("1 week"), Ok(Duration::days(7)));
        assert_eq!(parse("1.5h"), Ok(Duration::minutes(90)));
        assert_eq!(parse("1h 30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse("1500ms"), Ok(Duration::milliseconds(1500)));
        assert_eq!(
            parse("1us"),
            Ok(Duration::ZERO),
            "cut to whole milliseconds"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "h",
            "24",
            "24x",
            "-1h",
            "+1h",
            "1.h",
            "99999999999d",
            "101y",
            "1h ago",
            "soon",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// The message quotes the input, cut short, and never a key pasted by mistake.
    #[test]
    fn the_error_names_the_input_but_never_a_key() {
        let e = parse("12 parsecs").unwrap_err().to_string();
        assert!(e.contains("'12 parsecs' is not a duration"), "{e}");
        let key = "kw_live_0123456789abcdef_secretsecretsecret";
        let e = parse(&format!("1{key}")).unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn approximations_round_down_to_the_largest_unit() {
        assert_eq!(approximate(Duration::seconds(59)), "59s");
        assert_eq!(approximate(Duration::seconds(-90)), "1m");
        assert_eq!(approximate(Duration::hours(47)), "47h");
        assert_eq!(approximate(Duration::hours(48)), "2d");
        assert_eq!(approximate(Duration::days(89) + Duration::hours(23)), "89d");
    }

    proptest! {
        #[test]
        fn formatted_durations_parse_back(secs in 0i64..3_000_000_000) {
            let d = Duration::seconds(secs);
            prop_assert_eq!(parse(&format(d)), Ok(d));
        }

        #[test]
        fn formatting_writes_what_format_did(secs in -100i64..3_000_000_000, ms in 0i64..1_000) {
            // The form written with `format!`, as audit events have recorded it.
            fn by_format(d: Duration) -> String {
                let mut secs = d.whole_seconds();
                if secs == 0 {
                    return "0".into();
                }
                let mut out = String::new();
                for (unit, name) in [(86_400, 'd'), (3_600, 'h'), (60, 'm'), (1, 's')] {
                    if secs >= unit {
                        out.push_str(&format!("{}{name}", secs / unit));
                        secs %= unit;
                    }
                }
                out
            }
            let d = Duration::seconds(secs) + Duration::milliseconds(ms);
            prop_assert_eq!(format(d), by_format(d));
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }
    }
}
