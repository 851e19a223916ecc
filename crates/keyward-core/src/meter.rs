//! Step 8 of the check as one rule over state the caller keeps: a request of some cost
//! is admitted when every rate limit of the key has room for it and then the
//! organization's monthly quota does; it spends on all of them or on none. The caller
//! (the application's limiter, a map in tests) holds the states and a lock around this.

use crate::limits::{self, RateLimit, Standing, Tat};
use crate::quota::{self, QuotaStanding};
use crate::timestamp::Timestamp;
use time::{Duration, OffsetDateTime};

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

/// Spends `cost` at `now` against `limits`, whose states are `tats` (one each), then
/// against a quota of `limit` of which `used` is spent this month.
pub fn spend(
    limits: &[RateLimit],
    tats: &mut [Tat],
    quota: Option<(u64, &mut u64)>,
    cost: u32,
    now: Timestamp,
) -> Spending {
    debug_assert_eq!(limits.len(), tats.len());
    let (moved, standing) = match limits::decide(limits, tats, clock(now), cost) {
        limits::Verdict::Refuse {
            retry_after,
            standing,
        } => {
            return Spending {
                spent: Spent::RateLimited,
                standing,
                quota: None,
                retry_after,
            }
        }
        limits::Verdict::Admit { states, standing } => (states, standing),
    };
    let mut after = None;
    if let Some((limit, used)) = quota {
        match quota::decide(limit, *used, u64::from(cost), now) {
            quota::Decision::Refuse { standing: q, never } => {
                // The rate limits were not spent either: report them as they were.
                let unspent = match limits::decide(limits, tats, clock(now), 0) {
                    limits::Verdict::Admit { standing, .. }
                    | limits::Verdict::Refuse { standing, .. } => standing,
                };
                return Spending {
                    spent: Spent::QuotaExceeded,
                    standing: unspent,
                    quota: Some(q),
                    retry_after: (!never).then(|| q.reset(now)),
                };
            }
            quota::Decision::Admit(q) => {
                *used = q.used;
                after = Some(q);
            }
        }
    }
    tats.copy_from_slice(&moved);
    Spending {
        spent: Spent::Admitted,
        standing,
        quota: after,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_refusal_by_the_quota_spends_no_rate_limit() {
        let limits = [RateLimit::per("default", 5, Duration::MINUTE)];
        let mut tats = [Tat::default()];
        let mut used = 2;
        let now = datetime!(2026-12-31 23:59:00 UTC);
        for _ in 0..2 {
            let s = spend(&limits, &mut tats, Some((3, &mut used)), 1, now);
            assert_eq!(s.spent, Spent::Admitted);
            let s = spend(&limits, &mut tats, Some((3, &mut used)), 1, now);
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
            spend(&limits, &mut tats, Some((10, &mut used)), 1, now).spent,
            Spent::Admitted
        );
        let s = spend(&limits, &mut tats, Some((10, &mut used)), 1, now);
        assert_eq!(s.spent, Spent::RateLimited);
        assert_eq!(s.retry_after, Some(Duration::MINUTE));
        assert_eq!(used, 1);
    }
}
