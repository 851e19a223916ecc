//! Monthly quotas: how many requests (cost units) an organization's keys may make in a
//! calendar month, UTC. Pure: the caller keeps the count and passes the clock in.

use crate::timestamp::Timestamp;
use std::fmt;
use time::{Date, Duration, Month as CalendarMonth, Time};

/// A calendar month, UTC: the period a quota counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: CalendarMonth,
}

impl Month {
    /// The month `t` falls in, UTC.
    pub fn of(t: Timestamp) -> Month {
        let t = t.to_offset(time::UtcOffset::UTC);
        Month {
            year: t.year(),
            month: t.month(),
        }
    }

    /// Its first instant.
    pub fn start(self) -> Timestamp {
        Date::from_calendar_date(self.year, self.month, 1)
            .unwrap_or(Date::MAX)
            .with_time(Time::MIDNIGHT)
            .assume_utc()
    }

    pub fn next(self) -> Month {
        match self.month {
            CalendarMonth::December => Month {
                year: self.year + 1,
                month: CalendarMonth::January,
            },
            m => Month {
                year: self.year,
                month: m.next(),
            },
        }
    }

    /// As stored and shown: `2026-12`.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        let year: i32 = y.parse().ok()?;
        let month = CalendarMonth::try_from(m.parse::<u8>().ok()?).ok()?;
        (y.len() == 4 && m.len() == 2).then_some(Month { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, u8::from(self.month))
    }
}

/// Where an organization's quota stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaStanding {
    /// Requests a month.
    pub limit: u64,
    /// Spent this month, including this request when it was admitted.
    pub used: u64,
    pub remaining: u64,
    /// When the month turns and the quota is whole again.
    pub resets_at: Timestamp,
}

impl QuotaStanding {
    /// Until the quota is whole again.
    pub fn reset(&self, now: Timestamp) -> Duration {
        (self.resets_at - now).max(Duration::ZERO)
    }
}

/// The decision on a request of `cost` when `used` of `limit` is spent this month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Admitted: the standing with the cost spent.
    Admit(QuotaStanding),
    /// Refused: nothing spent. It may be retried when the month turns, unless it costs
    /// more than a whole month's quota (`never`).
    Refuse {
        standing: QuotaStanding,
        never: bool,
    },
}

/// `resets_at`: when the month turns (`Month::of(now).next().start()`).
pub fn decide(limit: u64, used: u64, cost: u64, resets_at: Timestamp) -> Decision {
    let after = used.saturating_add(cost);
    if after > limit {
        return Decision::Refuse {
            standing: QuotaStanding {
                limit,
                used,
                remaining: limit.saturating_sub(used),
                resets_at,
            },
            never: cost > limit,
        };
    }
    Decision::Admit(QuotaStanding {
        limit,
        used: after,
        remaining: limit - after,
        resets_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn months_are_utc_calendar_months() {
        let m = Month::of(datetime!(2026-12-31 23:59:59.999 UTC));
        assert_eq!(m.to_string(), "2026-12");
        assert_eq!(m.next().to_string(), "2027-01");
        assert_eq!(m.next().start(), datetime!(2027-01-01 00:00 UTC));
        // Local time does not matter: 01:00 in Berlin on the 1st is still the old month.
        assert_eq!(
            Month::of(datetime!(2027-01-01 00:30 +01:00)).to_string(),
            "2026-12"
        );
        assert_eq!(
            Month::parse("2026-02"),
            Some(Month::of(datetime!(2026-02-10 0:00 UTC)))
        );
        for bad in ["2026-13", "2026-2", "26-02", "2026/02", ""] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_quota_admits_up_to_its_limit_and_renews_when_the_month_turns() {
        let now = datetime!(2026-12-31 23:59:59 UTC);
        let turn = Month::of(now).next().start();
        let decide = |limit, used, cost, _now| decide(limit, used, cost, turn);
        let Decision::Admit(s) = decide(10, 9, 1, now) else {
            panic!("the tenth fits");
        };
        assert_eq!((s.used, s.remaining), (10, 0));
        let Decision::Refuse { standing, never } = decide(10, 10, 1, now) else {
            panic!("the eleventh does not");
        };
        assert!(!never);
        assert_eq!(standing.used, 10);
        assert_eq!(standing.reset(now), Duration::SECOND);
        assert!(matches!(
            decide(10, 0, 11, now),
            Decision::Refuse { never: true, .. }
        ));
        assert!(
            matches!(decide(10, 10, 0, now), Decision::Admit(_)),
            "cost 0 only reads"
        );
    }

    proptest! {
        #[test]
        fn admitted_requests_never_exceed_the_quota(
            limit in 0u64..1_000,
            costs in prop::collection::vec(0u64..50, 0..200),
        ) {
            let now = Month::of(datetime!(2026-06-15 12:00 UTC)).next().start();
            let mut used = 0;
            for cost in costs {
                match decide(limit, used, cost, now) {
                    Decision::Admit(s) => {
                        prop_assert_eq!(s.used, used + cost);
                        used = s.used;
                    }
                    Decision::Refuse { standing, .. } => {
                        prop_assert!(used + cost > limit);
                        prop_assert_eq!(standing.used, used);
                    }
                }
                prop_assert!(used <= limit);
            }
        }
    }
}
