//! Step 8 of the check as one rule over state the caller keeps: a request of some cost
//! is admitted when every rate limit of the key has room for it and then the
//! organization's monthly quota does; it spends on all of them or on none. The caller
//! (the application's limiter, a map in tests) holds the states and a lock around this.

use crate::limits::{self, RateLimit, Standing, Tat};
use crate::quota::{self, QuotaStanding};
use crate::timestamp::Timestamp;
use time::{Duration, OffsetDateTime};

pub use crate::quota::Month;

/// What step 8 decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    Admitted,
    RateLimited,
    QuotaExceeded,
}

/// Step 8's answer: the decision, and where each limit stands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spending {
    pub spent: Spent,
    /// One per rate limit, in their order.
    pub standing: Vec<Standing>,
    pub quota: Option<QuotaStanding>,
    /// On a refusal: when the same request would be admitted; `None` when it never
    /// would (it costs more than a limit or the quota admits at all).
    pub retry_after: Option<Duration>,
}

/// The rate limits' clock: time since the Unix epoch.
pub fn clock(now: Timestamp) -> Duration {
    now - OffsetDateTime::UNIX_EPOCH
}

/// An organization's quota as the caller keeps it: `limit` a month, `used` spent this
/// month, renewed at `resets_at` (the next month's start, computed once by the caller).
pub struct Quota<'a> {
    pub limit: u64,
    pub used: &'a mut u64,
    pub resets_at: Timestamp,
}

/// Spends `cost` at `now` against `limits`, whose states are `tats` (one each), then
/// against `quota`: on all of them, or, when one refuses, on none.
pub fn spend(
    limits: &[RateLimit],
    tats: &mut [Tat],
    quota: Option<Quota<'_>>,
    cost: u32,
    now: Timestamp,
) -> Spending {
    debug_assert_eq!(limits.len(), tats.len());
    let clock = clock(now);
    if let Err(retry_after) = limits::admits(limits, tats, clock, cost) {
        return Spending {
            spent: Spent::RateLimited,
            standing: limits::standing_of(limits, tats, clock),
            quota: None,
            retry_after,
        };
    }
    let mut after = None;
    if let Some(q) = quota {
        match quota::decide(q.limit, *q.used, u64::from(cost), q.resets_at) {
            quota::Decision::Refuse { standing, never } => {
                // The rate limits were not spent either.
                return Spending {
                    spent: Spent::QuotaExceeded,
                    standing: limits::standing_of(limits, tats, clock),
                    quota: Some(standing),
                    retry_after: (!never).then(|| standing.reset(now)),
                };
            }
            quota::Decision::Admit(standing) => {
                *q.used = standing.used;
                after = Some(standing);
            }
        }
    }
    limits::spend(limits, tats, clock, cost);
    Spending {
        spent: Spent::Admitted,
        standing: limits::standing_of(limits, tats, clock),
        quota: after,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn quota(limit: u64, used: &mut u64, now: Timestamp) -> Quota<'_> {
        Quota {
            limit,
            used,
            resets_at: Month::of(now).next().start(),
        }
    }

    #[test]
    fn a_refusal_by_the_quota_spends_no_rate_limit() {
        let limits = [RateLimit::per("default", 5, Duration::MINUTE)];
        let mut tats = [Tat::default()];
        let mut used = 2;
        let now = datetime!(2026-12-31 23:59:00 UTC);
        for _ in 0..2 {
            let s = spend(&limits, &mut tats, Some(quota(3, &mut used, now)), 1, now);
            assert_eq!(s.spent, Spent::Admitted);
            let s = spend(&limits, &mut tats, Some(quota(3, &mut used, now)), 1, now);
            assert_eq!(s.spent, Spent::QuotaExceeded);
            assert_eq!(
                s.retry_after,
                Some(Duration::MINUTE),
                "until the month turns"
            );
            used = 2;
        }
        // Two admitted, four refused by the quota: the limit spent two of five.
        let s = spend(&limits, &mut tats, None, 1, now);
        assert_eq!(s.standing[0].remaining, 2);
    }

    #[test]
    fn a_refusal_by_a_rate_limit_spends_no_quota() {
        let limits = [RateLimit::per("default", 1, Duration::MINUTE)];
        let mut tats = [Tat::default()];
        let mut used = 0;
        let now = datetime!(2026-06-01 00:00 UTC);
        assert_eq!(
            spend(&limits, &mut tats, Some(quota(10, &mut used, now)), 1, now).spent,
            Spent::Admitted
        );
        let s = spend(&limits, &mut tats, Some(quota(10, &mut used, now)), 1, now);
        assert_eq!(s.spent, Spent::RateLimited);
        assert_eq!(s.retry_after, Some(Duration::MINUTE));
        assert_eq!(used, 1);
    }
}
