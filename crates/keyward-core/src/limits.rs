//! Rate limits: named limits of N requests per period (`burst` 100 per 10 s,
//! `sustained` 5,000 per hour), every one of which must admit a request. The algorithm
//! is GCRA (the generic cell rate algorithm): one timestamp per limit, the theoretical
//! arrival time, from which both the decision and what is left follow exactly. A limit of
//! N per period admits N requests at once, then one every period / N. Pure: the clock is
//! an argument, and the state is a value the caller keeps (in memory on one node, in
//! Redis across several).

use serde::{Deserialize, Serialize};
use std::fmt;
use time::Duration;

/// The name the monthly quota goes by beside the rate limits, in `RateLimit-Policy`.
pub const QUOTA_POLICY: &str = "quota";

/// At most this many named limits per key or plan.
pub const MOST_LIMITS: usize = 5;
/// The longest period a limit may have: a monthly quota is the tool beyond that.
pub const LONGEST_PERIOD: Duration = Duration::days(31);

/// One named limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// `default`, `burst`, `sustained`: 1 to 32 lowercase letters, digits, `-`, `_`.
    pub name: String,
    /// Requests (cost units) per period, at least 1.
    pub limit: u32,
    /// At least a second, at most 31 days.
    #[serde(with = "crate::duration::serde_text")]
    pub period: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLimit {
    #[error(
        "rate limit name '{0}' is not valid: use 1 to 32 lowercase letters, digits, '-' and '_'"
    )]
    Name(String),
    #[error("rate limit '{0}': the limit must be from 1 to 1,000,000,000 requests")]
    Limit(String),
    #[error("rate limit '{0}': the period must be from 1s to 31d, in whole seconds")]
    Period(String),
    #[error("rate limit '{0}' is given twice; names must differ")]
    Repeated(String),
    #[error("at most {MOST_LIMITS} rate limits")]
    TooMany,
}

impl RateLimit {
    pub fn per(name: &str, limit: u32, period: Duration) -> Self {
        RateLimit {
            name: name.into(),
            limit,
            period,
        }
    }

    /// A limit as people type it: `NAME=LIMIT/PERIOD` or `NAME LIMIT/PERIOD`, such as
    /// `burst=100/10s`; checked as [`check`](Self::check) does.
    pub fn parse_spec(s: &str) -> Result<Self, String> {
        let form = || {
            format!(
                "'{}' is not NAME=LIMIT/PERIOD, such as burst=100/10s",
                crate::echo::echo(s, 40)
            )
        };
        let (name, rest) = s
            .trim()
            .split_once(|c: char| c == '=' || c.is_whitespace())
            .ok_or_else(form)?;
        let rest = rest.trim().trim_start_matches('=');
        let (limit, period) = rest.split_once('/').ok_or_else(form)?;
        let limit: u32 = limit.trim().parse().map_err(|_| form())?;
        let period = crate::duration::parse(period.trim()).map_err(|e| e.to_string())?;
        let l = RateLimit::per(name.trim(), limit, period);
        l.check().map_err(|e| e.to_string())?;
        Ok(l)
    }

    pub fn check(&self) -> Result<(), InvalidLimit> {
        if !crate::plan::valid_name(&self.name) || self.name == QUOTA_POLICY {
            return Err(InvalidLimit::Name(crate::echo::echo(&self.name, 40)));
        }
        if !(1..=1_000_000_000).contains(&self.limit) {
            return Err(InvalidLimit::Limit(self.name.clone()));
        }
        let whole = self.period.subsec_nanoseconds() == 0;
        if !whole || self.period < Duration::SECOND || self.period > LONGEST_PERIOD {
            return Err(InvalidLimit::Period(self.name.clone()));
        }
        Ok(())
    }

    /// The time one request uses up: period / limit.
    pub fn interval(&self) -> Duration {
        self.period / self.limit
    }

    /// Whether this limit is at least as strict as `other`: its rate no higher, and its
    /// window no longer (a longer window at the same rate would allow bigger bursts).
    pub fn within(&self, other: &RateLimit) -> bool {
        let mine = i128::from(self.limit) * other.period.whole_milliseconds();
        let theirs = i128::from(other.limit) * self.period.whole_milliseconds();
        mine <= theirs && self.period <= other.period
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} per {}",
            self.name,
            self.limit,
            crate::duration::format(self.period)
        )
    }
}

/// Checks a set of limits: each valid, names distinct, not too many.
pub fn check_set(limits: &[RateLimit]) -> Result<(), InvalidLimit> {
    if limits.len() > MOST_LIMITS {
        return Err(InvalidLimit::TooMany);
    }
    for (i, l) in limits.iter().enumerate() {
        l.check()?;
        if limits[..i].iter().any(|o| o.name == l.name) {
            return Err(InvalidLimit::Repeated(l.name.clone()));
        }
    }
    Ok(())
}

/// Whether every limit of `inner` is within `outer`: for each limit of `outer`, one of
/// `inner` at least as strict. What an editor who is not the operator may give a key,
/// with `outer` the plan's defaults.
pub fn set_within(inner: &[RateLimit], outer: &[RateLimit]) -> bool {
    outer.iter().all(|o| inner.iter().any(|i| i.within(o)))
}

/// One limit's state: the theoretical arrival time, in nanoseconds on the caller's
/// clock. A fresh limit starts at zero (everything available).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tat(pub i128);

/// Where one limit stands after a decision: for the `RateLimit` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Requests still admitted at once.
    pub remaining: u32,
    /// Until everything is available again.
    pub reset: Duration,
}

/// The decision for a set of limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted by every limit: their new states, and where each stands.
    Admit {
        states: Vec<Tat>,
        standing: Vec<Standing>,
    },
    /// Refused by at least one limit; no state changes. `retry_after`: when a request
    /// of the same cost would be admitted by all of them; `None` when never, since it
    /// costs more than a limit admits in a whole period.
    Refuse {
        retry_after: Option<Duration>,
        standing: Vec<Standing>,
    },
}

fn nanos(d: Duration) -> i128 {
    d.whole_nanoseconds()
}

fn standing(limit: &RateLimit, tat: i128, now: i128) -> Standing {
    let interval = nanos(limit.interval()).max(1);
    let used = (tat - now).max(0);
    let free = (nanos(limit.period) - used).max(0);
    Standing {
        remaining: u32::try_from(free / interval)
            .unwrap_or(u32::MAX)
            .min(limit.limit),
        reset: Duration::nanoseconds(i64::try_from(used).unwrap_or(i64::MAX)),
    }
}

/// Whether a request of `cost` at `now` fits every limit: `Err` with when the same
/// request would (`None`: never, since it costs more than a limit admits in a whole
/// period). Changes nothing.
pub fn admits(
    limits: &[RateLimit],
    states: &[Tat],
    now: Duration,
    cost: u32,
) -> Result<(), Option<Duration>> {
    let now = nanos(now);
    let mut retry = 0i128;
    let mut never = false;
    for (limit, state) in limits.iter().zip(states) {
        never |= cost > limit.limit;
        let tat = state.0.max(now) + nanos(limit.interval()) * i128::from(cost);
        // Admitted when the new arrival time is no more than a period ahead.
        let late = tat - nanos(limit.period) - now;
        retry = retry.max(late);
    }
    if retry > 0 {
        let after = Duration::nanoseconds(i64::try_from(retry).unwrap_or(i64::MAX));
        return Err((!never).then_some(after));
    }
    Ok(())
}

/// Spends `cost` at `now` on every limit, whether or not it fits: the caller asked
/// [`admits`] first.
pub fn spend(limits: &[RateLimit], states: &mut [Tat], now: Duration, cost: u32) {
    let now = nanos(now);
    for (limit, state) in limits.iter().zip(states) {
        state.0 = state.0.max(now) + nanos(limit.interval()) * i128::from(cost);
    }
}

/// Where each limit stands at `now`.
pub fn standing_of(limits: &[RateLimit], states: &[Tat], now: Duration) -> Vec<Standing> {
    let now = nanos(now);
    limits
        .iter()
        .zip(states)
        .map(|(l, s)| standing(l, s.0, now))
        .collect()
}

/// GCRA over every limit: a request of `cost` at `now` is admitted when each limit has
/// room for it; then every limit's state moves on, else none does.
pub fn decide(limits: &[RateLimit], states: &[Tat], now: Duration, cost: u32) -> Verdict {
    if let Err(retry_after) = admits(limits, states, now, cost) {
        return Verdict::Refuse {
            retry_after,
            standing: standing_of(limits, states, now),
        };
    }
    let mut moved = states.to_vec();
    spend(limits, &mut moved, now, cost);
    let standing = standing_of(limits, &moved, now);
    Verdict::Admit {
        states: moved,
        standing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: i64) -> Duration {
        Duration::seconds(s)
    }

    #[test]
    fn limits_parse_as_people_type_them() {
        for text in ["burst=100/10s", "burst 100/10s", "  burst = 100 / 10s "] {
            let l = RateLimit::parse_spec(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(l, RateLimit::per("burst", 100, secs(10)), "{text}");
        }
        for bad in [
            "",
            "burst",
            "burst=100",
            "burst=x/1s",
            "burst=0/1s",
            "quota=1/1s",
            "b=1/0s",
        ] {
            assert!(RateLimit::parse_spec(bad).is_err(), "{bad}");
        }
    }

    /// Runs `n` requests at `at`, returning how many were admitted.
    fn admitted(limits: &[RateLimit], states: &mut Vec<Tat>, at: Duration, n: u32) -> u32 {
        let mut ok = 0;
        for _ in 0..n {
            if let Verdict::Admit { states: s, .. } = decide(limits, states, at, 1) {
                *states = s;
                ok += 1;
            }
        }
        ok
    }

    #[test]
    fn a_limit_of_n_per_window_admits_n_then_again_after_the_window() {
        let limits = [RateLimit::per("default", 100, secs(10))];
        let mut states = vec![Tat::default()];
        let start = secs(1_000);
        assert_eq!(admitted(&limits, &mut states, start, 150), 100);
        assert_eq!(
            admitted(&limits, &mut states, start + secs(5), 100),
            50,
            "half the window: half"
        );
        assert_eq!(admitted(&limits, &mut states, start + secs(15), 150), 100);
    }

    #[test]
    fn named_limits_combine_and_a_refusal_moves_no_state() {
        let limits = [
            RateLimit::per("burst", 10, secs(1)),
            RateLimit::per("sustained", 15, secs(60)),
        ];
        let mut states = vec![Tat::default(); 2];
        let t = secs(100);
        assert_eq!(
            admitted(&limits, &mut states, t, 20),
            10,
            "the burst limit first"
        );
        let before = states.clone();
        let Verdict::Refuse {
            retry_after,
            standing,
        } = decide(&limits, &states, t, 1)
        else {
            panic!("the burst limit is spent");
        };
        assert_eq!(states, before);
        let retry_after = retry_after.unwrap();
        assert!(retry_after > Duration::ZERO && retry_after <= secs(1));
        assert_eq!(standing[0].remaining, 0);
        assert_eq!(standing[1].remaining, 5);
        assert_eq!(
            admitted(&limits, &mut states, t + secs(2), 20),
            5,
            "now the sustained one"
        );
        let Verdict::Refuse { retry_after, .. } = decide(&limits, &states, t + secs(2), 1) else {
            panic!("spent");
        };
        // The sustained limit frees one request every 60 s / 15 = 4 s; 2 s have passed.
        assert_eq!(retry_after, Some(secs(2)));
    }

    #[test]
    fn a_request_costing_more_than_a_limit_admits_is_refused_for_good() {
        let limits = [RateLimit::per("default", 10, secs(60))];
        let fresh = [Tat::default()];
        assert!(matches!(
            decide(&limits, &fresh, secs(100), 10),
            Verdict::Admit { .. }
        ));
        let Verdict::Refuse {
            retry_after,
            standing,
        } = decide(&limits, &fresh, secs(100), 11)
        else {
            panic!("11 never fit in 10");
        };
        assert_eq!(retry_after, None);
        assert_eq!(standing[0].remaining, 10, "nothing was spent");
    }

    #[test]
    fn a_request_of_cost_zero_spends_nothing_and_is_never_refused() {
        let limits = [RateLimit::per("default", 2, secs(60))];
        let mut states = vec![Tat::default()];
        assert_eq!(admitted(&limits, &mut states, secs(100), 5), 2);
        let Verdict::Admit {
            standing,
            states: after,
        } = decide(&limits, &states, secs(100), 0)
        else {
            panic!("cost 0 only reads the standing");
        };
        assert_eq!(standing[0].remaining, 0);
        assert_eq!(after, states);
    }

    #[test]
    fn the_standing_counts_down_and_resets() {
        let limits = [RateLimit::per("default", 10, secs(60))];
        let Verdict::Admit { states, standing } = decide(&limits, &[Tat::default()], secs(600), 3)
        else {
            panic!("room");
        };
        assert_eq!(standing[0].remaining, 7);
        assert_eq!(standing[0].reset, secs(18), "three requests of 6 s each");
        let Verdict::Admit { standing, .. } = decide(&limits, &states, secs(612), 1) else {
            panic!("room");
        };
        assert_eq!(standing[0].remaining, 8);
    }

    #[test]
    fn limits_are_validated_and_compared() {
        assert!(RateLimit::per("ok", 1, secs(1)).check().is_ok());
        assert!(RateLimit::per("Bad", 1, secs(1)).check().is_err());
        assert!(RateLimit::per("x", 0, secs(1)).check().is_err());
        assert!(RateLimit::per("x", 1, Duration::milliseconds(500))
            .check()
            .is_err());
        assert!(RateLimit::per("x", 1, Duration::days(32)).check().is_err());
        let burst = RateLimit::per("b", 100, secs(10));
        assert!(RateLimit::per("s", 50, secs(10)).within(&burst));
        assert!(
            !RateLimit::per("s", 1_000, secs(100)).within(&burst),
            "same rate, longer window"
        );
        assert!(!RateLimit::per("s", 200, secs(10)).within(&burst));
        assert!(set_within(
            &[RateLimit::per("x", 10, secs(10))],
            std::slice::from_ref(&burst)
        ));
        assert!(!set_within(&[], &[burst]));
        assert!(set_within(&[], &[]), "a plan without limits allows any");
    }

    proptest! {
        /// A limit of N per period never admits more than N at once plus one more each
        /// period / N after (the token bucket's bound, requests spread at random), and
        /// admits N in full when they all come at once.
        #[test]
        fn never_more_than_the_limit_in_any_window(
            limit in 1u32..50,
            period_s in 1i64..30,
            gaps in prop::collection::vec(0i64..2_000, 1..300),
        ) {
            let limits = [RateLimit::per("x", limit, secs(period_s))];
            let mut states = vec![Tat::default()];
            let mut at = secs(10_000);
            let mut times = Vec::new();
            for gap in gaps {
                at += Duration::milliseconds(gap);
                if let Verdict::Admit { states: s, .. } = decide(&limits, &states, at, 1) {
                    states = s;
                    times.push(at);
                }
            }
            let interval = secs(period_s) / limit;
            for (i, first) in times.iter().enumerate() {
                for (j, last) in times.iter().enumerate().skip(i) {
                    let count = (j - i + 1) as i128;
                    let allowed = i128::from(limit) + (*last - *first).whole_nanoseconds() / interval.whole_nanoseconds();
                    prop_assert!(count <= allowed, "{count} admitted between {first} and {last}");
                }
            }
            let mut fresh = vec![Tat::default()];
            prop_assert_eq!(admitted(&limits, &mut fresh, secs(1), limit + 5), limit);
        }
    }
}
