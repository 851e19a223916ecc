//! Where a key's limits stand, as HTTP says it: the `RateLimit-Policy` and `RateLimit`
//! fields of draft-ietf-httpapi-ratelimit-headers (-11), `Retry-After` on a refusal,
//! and the same as JSON in the verify answer.
//!
//! Each named rate limit is a policy (`"burst";q=100;w=10`), and so is the monthly
//! quota, as `"quota"` with the month's length as its window. In `RateLimit`, `r` is
//! what is left and `t` the seconds until the limit is whole again; for a limit with
//! nothing left, the seconds until the next request is admitted, which is what
//! `Retry-After` says on a refusal, so that the two never disagree.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use keyward_core::check::{Spent, Verdict};
use keyward_core::limits::QUOTA_POLICY;
use keyward_core::quota::Month;
use keyward_core::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Seconds, rounded up: a client told to wait that long is then admitted.
fn secs_up(d: time::Duration) -> u64 {
    let whole = keyward_core::check::whole_seconds_up(d.max(time::Duration::ZERO));
    whole.whole_seconds().max(0) as u64
}

/// One rate limit's standing, as the verify answer gives it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LimitStanding {
    pub name: String,
    /// Requests (cost units) per period.
    pub limit: u32,
    // Kept as a duration, written only when the verify answer is: forward auth never
    // writes it.
    /// Such as `10s`, `1m`, `1h`.
    #[serde(with = "keyward_core::duration::serde_text")]
    #[schema(value_type = String)]
    pub period: time::Duration,
    /// Left now.
    pub remaining: u32,
    /// Seconds until it is whole again; with nothing left, until the next request is
    /// admitted (the `RateLimit` field's `t`).
    pub reset: u64,
}

/// The organization's monthly quota, as the verify answer gives it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaView {
    /// Requests (cost units) a calendar month, UTC.
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    /// When the month turns, RFC 3339.
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub resets_at: Timestamp,
}

impl From<keyward_core::quota::QuotaStanding> for QuotaView {
    fn from(q: keyward_core::quota::QuotaStanding) -> Self {
        QuotaView {
            limit: q.limit,
            used: q.used,
            remaining: q.remaining,
            resets_at: q.resets_at,
        }
    }
}

/// Everything a metered check says about its limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub rate_limits: Vec<LimitStanding>,
    pub quota: Option<QuotaView>,
    /// On a refusal: seconds until the same request would be admitted (`None` when
    /// it never would).
    pub retry_after: Option<u64>,
    pub refused: bool,
    /// The month's length in seconds: the quota policy's window.
    month_seconds: u64,
}

impl Limits {
    /// The limits `verdict` was metered against at `now`; `None` for a check that
    /// ended before step 8.
    pub fn of(verdict: &Verdict, now: Timestamp) -> Option<Limits> {
        let metered = verdict.metered.as_deref()?;
        let limits = verdict.rate_limits()?;
        let s = &metered.spending;
        let refused = s.spent != Spent::Admitted;
        let retry_after = s.retry_after.filter(|_| refused).map(secs_up);
        let rate_limits = limits
            .iter()
            .zip(&s.standing)
            .map(|(l, st)| LimitStanding {
                name: l.name.clone(),
                limit: l.limit,
                period: l.period,
                remaining: st.remaining,
                reset: match (st.remaining, s.spent, retry_after) {
                    (0, Spent::RateLimited, Some(after)) => after,
                    (0, _, _) => secs_up(l.period / l.limit.max(1)).min(secs_up(st.reset)),
                    _ => secs_up(st.reset),
                },
            })
            .collect();
        let month = Month::of(now);
        Some(Limits {
            rate_limits,
            quota: s.quota.map(QuotaView::from),
            retry_after,
            refused,
            month_seconds: secs_up(month.next().start() - month.start()),
        })
    }

    /// `RateLimit-Policy`: every limit, then the quota.
    pub fn policy(&self) -> String {
        self.items(
            |l| (l.limit.into(), secs_up(l.period)),
            |q| (q.limit, self.month_seconds),
            "q",
            "w",
        )
    }

    /// `RateLimit`: where each policy stands.
    pub fn state(&self, now: Timestamp) -> String {
        self.items(
            |l| (l.remaining.into(), l.reset),
            |q| (q.remaining, secs_up(q.resets_at - now)),
            "r",
            "t",
        )
    }

    /// `"name";a=1;b=2` for every limit, then the quota, comma-separated. Written into
    /// one string: `format!` and `join` per field cost more than the rest of building
    /// the verify answer's limits.
    fn items(
        &self,
        limit: impl Fn(&LimitStanding) -> (u64, u64),
        quota: impl Fn(&QuotaView) -> (u64, u64),
        a: &str,
        b: &str,
    ) -> String {
        use keyward_core::digits::push_u64;
        let mut out = String::with_capacity(48 * (self.rate_limits.len() + 1));
        let mut item = |name: &str, (x, y): (u64, u64)| {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push('"');
            out.push_str(name);
            out.push_str("\";");
            out.push_str(a);
            out.push('=');
            push_u64(&mut out, x);
            out.push(';');
            out.push_str(b);
            out.push('=');
            push_u64(&mut out, y);
        };
        for l in &self.rate_limits {
            item(&l.name, limit(l));
        }
        if let Some(q) = &self.quota {
            item(QUOTA_POLICY, quota(q));
        }
        out
    }

    /// The fields, by name, as the verify answer gives them for a proxy to copy.
    pub fn fields(&self, now: Timestamp) -> Vec<(HeaderName, String)> {
        if self.rate_limits.is_empty() && self.quota.is_none() {
            return Vec::new();
        }
        let mut out = vec![
            (RATELIMIT_POLICY, self.policy()),
            (RATELIMIT, self.state(now)),
        ];
        if let Some(after) = self.retry_after {
            out.push((axum::http::header::RETRY_AFTER, after.to_string()));
        }
        out
    }

    /// A refusal of a metered request, with where the limits stand: the `RateLimit`
    /// fields, and `retry_after` when waiting helps.
    pub fn onto(&self, mut e: crate::error::ApiError, now: Timestamp) -> crate::error::ApiError {
        let mut fields = HeaderMap::new();
        self.apply(&mut fields, now);
        e.headers = Some(Box::new(fields));
        match self.retry_after {
            Some(after) => e.with("retry_after", after),
            None => e,
        }
    }

    /// Adds the fields to `headers`, the same as [`Self::fields`] lists them: each
    /// written once, into the buffer the header keeps.
    pub fn apply(&self, headers: &mut HeaderMap, now: Timestamp) {
        if self.rate_limits.is_empty() && self.quota.is_none() {
            return;
        }
        let mut put = |name: HeaderName, value: String| {
            if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(value)) {
                headers.insert(name, v);
            }
        };
        put(RATELIMIT_POLICY, self.policy());
        put(RATELIMIT, self.state(now));
        if let Some(after) = self.retry_after {
            headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(after));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_core::check::{Metered, Spending, Why};
    use keyward_core::limits::{RateLimit, Standing};
    use keyward_core::quota::QuotaStanding;
    use keyward_core::{Outcome, Plan};
    use std::sync::Arc;
    use time::macros::datetime;
    use time::Duration;

    /// A key with organization access and no limits of its own.
    fn any_key() -> keyward_core::ApiKey {
        use keyward_core::lifecycle::{self, NewKey, Policy};
        use keyward_core::names::KeyName;
        use keyward_core::{Actor, GeneratedKey, Kind, OrgAccess, OrgId, PepperSet, Prefix};
        let mut rng = rand_core::OsRng;
        let generated = GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut rng);
        let peppers = PepperSet::parse("test-pepper-0123456789abcdefghijklmnopqrstuvwxyz").unwrap();
        let spec = NewKey {
            name: KeyName::parse("k").unwrap(),
            description: None,
            kind: Kind::Live,
            grants: vec![],
            scopes: vec![],
            org_access: OrgAccess::parse("read").unwrap(),
            owner: None,
            expires_at: None,
            ip_allowlist: Default::default(),
            metadata: None,
            rate_limits: None,
        };
        lifecycle::create(
            spec,
            OrgId::generate(&mut rng),
            generated.id,
            peppers.hash(&generated.secret),
            Actor::Cli("test".into()),
            &Policy::default(),
            datetime!(2026-12-01 0:00 UTC),
        )
        .unwrap()
        .key
    }

    fn verdict(spent: Spent, standing: Vec<Standing>, retry: Option<Duration>) -> Verdict {
        let plan = Plan {
            name: "pro".into(),
            api_access: true,
            max_keys: None,
            rate_limits: vec![
                RateLimit::per("burst", 100, Duration::seconds(10)),
                RateLimit::per("sustained", 5_000, Duration::HOUR),
            ],
            monthly_quota: Some(100_000),
        };
        let key = any_key();
        Verdict {
            outcome: match spent {
                Spent::Admitted => Outcome::Valid,
                Spent::RateLimited => Outcome::RateLimited,
                Spent::QuotaExceeded => Outcome::QuotaExceeded,
            },
            why: Why::Limited,
            key: Some(Arc::new(key)),
            bound: None,
            metered: Some(Box::new(Metered {
                plan: Arc::new(plan),
                spending: Spending {
                    spent,
                    standing,
                    quota: Some(QuotaStanding {
                        limit: 100_000,
                        used: 40,
                        remaining: 99_960,
                        resets_at: datetime!(2027-01-01 0:00 UTC),
                    }),
                    retry_after: retry,
                },
            })),
        }
    }

    #[test]
    fn the_fields_read_as_the_drafts_examples_do() {
        let now = datetime!(2026-12-31 23:00 UTC);
        let v = verdict(
            Spent::Admitted,
            vec![
                Standing {
                    remaining: 50,
                    reset: Duration::seconds(5),
                },
                Standing {
                    remaining: 4_999,
                    reset: Duration::milliseconds(720),
                },
            ],
            None,
        );
        let l = Limits::of(&v, now).unwrap();
        // As in the draft: `"burst";q=100;w=60,"daily";q=1000;w=86400` and
        // `"default";r=50;t=30`.
        assert_eq!(
            l.policy(),
            r#""burst";q=100;w=10, "sustained";q=5000;w=3600, "quota";q=100000;w=2678400"#
        );
        assert_eq!(
            l.state(now),
            r#""burst";r=50;t=5, "sustained";r=4999;t=1, "quota";r=99960;t=3600"#
        );
        assert_eq!(l.retry_after, None, "no Retry-After on an admitted request");
        assert_eq!(l.fields(now).len(), 2);
    }

    #[test]
    fn a_refusal_says_when_to_come_back_and_the_state_agrees() {
        let now = datetime!(2026-12-02 12:00 UTC);
        let v = verdict(
            Spent::RateLimited,
            vec![
                Standing {
                    remaining: 0,
                    reset: Duration::seconds(10),
                },
                Standing {
                    remaining: 4_900,
                    reset: Duration::seconds(72),
                },
            ],
            Some(Duration::milliseconds(100)),
        );
        let l = Limits::of(&v, now).unwrap();
        assert_eq!(l.retry_after, Some(1), "rounded up to whole seconds");
        assert!(l
            .state(now)
            .starts_with(r#""burst";r=0;t=1, "sustained";r=4900;t=72"#));
        let fields = l.fields(now);
        assert_eq!(fields[2].0, axum::http::header::RETRY_AFTER);
        assert_eq!(fields[2].1, "1");
    }

    #[test]
    fn the_headers_are_the_fields_the_verify_answer_lists() {
        let now = datetime!(2026-12-02 12:00 UTC);
        let standing = |remaining| Standing {
            remaining,
            reset: Duration::seconds(3),
        };
        for (spent, standing, retry) in [
            (Spent::Admitted, vec![standing(5), standing(9)], None),
            (
                Spent::RateLimited,
                vec![standing(0), standing(9)],
                Some(Duration::seconds(2)),
            ),
            (Spent::QuotaExceeded, vec![standing(5), standing(9)], None),
        ] {
            let l = Limits::of(&verdict(spent, standing, retry), now).unwrap();
            let mut headers = HeaderMap::new();
            l.apply(&mut headers, now);
            let applied: Vec<(HeaderName, String)> = headers
                .iter()
                .map(|(n, v)| (n.clone(), v.to_str().unwrap().to_owned()))
                .collect();
            assert_eq!(applied, l.fields(now), "{spent:?}");
        }
    }
}
