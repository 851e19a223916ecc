//! Durations as people type them: `0`, `90s`, `30m`, `24h`, `7d`, `2w`, or a
//! combination such as `1d12h`. Used for grace periods and relative expiries.

use time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a duration: use a number followed by s, m, h, d or w, such as '24h' or '7d'")]
pub struct InvalidDuration(pub String);

pub fn parse(input: &str) -> Result<Duration, InvalidDuration> {
    let err = || InvalidDuration(crate::echo::echo(input, 40));
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.len() > 32 {
        return Err(err());
    }
    let mut total = Duration::ZERO;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| err())?;
        number.clear();
        let unit = match c {
            's' => Duration::SECOND,
            'm' => Duration::MINUTE,
            'h' => Duration::HOUR,
            'd' => Duration::DAY,
            'w' => Duration::WEEK,
            _ => return Err(err()),
        };
        total = unit
            .checked_mul(i32::try_from(n).map_err(|_| err())?)
            .and_then(|d| total.checked_add(d))
            .ok_or_else(err)?;
    }
    if !number.is_empty() {
        return Err(err());
    }
    Ok(total)
}

/// The shortest readable form of `d`, for messages: `7d`, `24h`, `1d12h`.
pub fn format(d: Duration) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn common_forms_parse() {
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse("7d"), Ok(Duration::days(7)));
        assert_eq!(parse("1d12h"), Ok(Duration::hours(36)));
        assert_eq!(parse("2w"), Ok(Duration::days(14)));
        for bad in ["", "h", "24", "24x", "-1h", "1.5h", "99999999999d", "1h 2m"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn formatted_durations_parse_back(secs in 0i64..100_000_000) {
            let d = Duration::seconds(secs);
            prop_assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
