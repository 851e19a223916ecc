//! The Lua script against the single-node limiter, on the real Redis at
//! 127.0.0.1:6379 (`KEYWARD_TEST_REDIS_URL` to use another), each test under a prefix
//! of its own that it deletes afterwards.

use super::*;
use crate::limiter::Limiter;
use keyward_core::limits::{self, Tat};
use keyward_core::meter::{self, Spent};
use keyward_core::{OrgId, Timestamp};
use proptest::prelude::*;
use time::macros::datetime;

fn url() -> String {
    std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// Global limits under a fresh prefix, on a runtime of its own.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    limits: GlobalLimits,
    prefix: String,
}

impl Fixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let prefix = format!("keyward-test:{}:", KeyId::generate(&mut rand_core::OsRng));
        let settings = RedisSettings {
            url: url().into(),
            key_prefix: prefix.clone(),
            timeout: StdDuration::from_secs(2),
            unreachable: Unreachable::Closed,
        };
        let limits = runtime.block_on(async { GlobalLimits::new(&settings).unwrap() });
        Fixture {
            runtime,
            limits,
            prefix,
        }
    }

    fn decide(
        &self,
        key: &KeyId,
        limits: &[RateLimit],
        mode: Mode,
        cost: u32,
        at: Timestamp,
    ) -> Decision {
        self.runtime
            .block_on(
                self.limits
                    .decide(key, limits, mode, cost, Some(meter::clock(at))),
            )
            .expect("Redis at 127.0.0.1:6379 answers")
    }

    fn keys(&self) -> Vec<String> {
        let mut connection = self.limits.connection.clone();
        self.runtime
            .block_on(
                redis::cmd("KEYS")
                    .arg(format!("{}*", self.prefix))
                    .query_async::<Vec<String>>(&mut connection),
            )
            .unwrap()
    }

    fn ttl_ms(&self, key: &str) -> i64 {
        let mut connection = self.limits.connection.clone();
        self.runtime
            .block_on(
                redis::cmd("PTTL")
                    .arg(key)
                    .query_async::<i64>(&mut connection),
            )
            .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let keys = self.keys();
        if !keys.is_empty() {
            let mut connection = self.limits.connection.clone();
            let _ = self.runtime.block_on(
                redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<i64>(&mut connection),
            );
        }
    }
}

/// What the single-node limiter answers, as the script's decision.
fn local(spending: meter::Spending) -> Decision {
    Decision {
        admitted: spending.spent == Spent::Admitted,
        retry_after: spending.retry_after,
        standing: spending.standing,
    }
}

#[derive(Debug, Clone)]
enum Step {
    Spend { cost: u32, gap_ns: i64 },
    Peek { cost: u32, gap_ns: i64 },
    RefundLast { gap_ns: i64 },
}

fn a_limit() -> impl Strategy<Value = RateLimit> {
    // Periods and limits whose interval is not a whole number of nanoseconds too
    // (10 s / 7), so that the rounding of period / limit is held to the core's.
    (1u32..12, 1i64..40)
        .prop_map(|(limit, period)| RateLimit::per("x", limit, time::Duration::seconds(period)))
}

fn the_limits() -> impl Strategy<Value = Vec<RateLimit>> {
    prop::collection::vec(a_limit(), 1..4).prop_map(|mut ls| {
        for (i, l) in ls.iter_mut().enumerate() {
            l.name = format!("l{i}");
        }
        ls
    })
}

fn a_step() -> impl Strategy<Value = Step> {
    let gap = prop_oneof![Just(0i64), 0i64..50_000_000, 0i64..5_000_000_000];
    let cost = prop_oneof![8 => Just(1u32), 1 => Just(0u32), 2 => 2u32..15];
    prop_oneof![
        8 => (cost.clone(), gap.clone()).prop_map(|(cost, gap_ns)| Step::Spend { cost, gap_ns }),
        1 => (cost, gap.clone()).prop_map(|(cost, gap_ns)| Step::Peek { cost, gap_ns }),
        1 => gap.prop_map(|gap_ns| Step::RefundLast { gap_ns }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Nodes that share Redis decide exactly as one node alone would: for any run of
    /// requests (cost, time, refunds), the script admits, refuses, and reports
    /// remaining, reset and retry-after as the in-memory limiter (the core's rule) does.
    #[test]
    fn the_script_decides_as_the_single_node_limiter_does(
        limits in the_limits(),
        steps in prop::collection::vec(a_step(), 1..40),
        start_ns in 0i64..1_000_000_000_000,
    ) {
        let f = Fixture::new();
        let one_node = Limiter::default();
        let key = KeyId::generate(&mut rand_core::OsRng);
        let org = OrgId::generate(&mut rand_core::OsRng);
        let mut now = datetime!(2026-06-01 00:00 UTC) + time::Duration::nanoseconds(start_ns);
        let mut last_cost = None;
        for step in steps {
            match step {
                Step::Spend { cost, gap_ns } => {
                    now += time::Duration::nanoseconds(gap_ns);
                    let expected = local(one_node.spend(key, &org, &limits, None, cost, now).unwrap());
                    let got = f.decide(&key, &limits, Mode::Spend, cost, now);
                    prop_assert_eq!(&got, &expected, "spend {} at {}", cost, now);
                    last_cost = got.admitted.then_some(cost);
                }
                Step::Peek { cost, gap_ns } => {
                    now += time::Duration::nanoseconds(gap_ns);
                    // The core's rule on the single node's states, spending nothing.
                    let tats = crate::limiter::lock(one_node.shard(&one_node.keys, &key))
                        .get(&key)
                        .map_or_else(|| vec![Tat::default(); limits.len()], |s| s.tats.clone());
                    let clock = meter::clock(now);
                    let fits = limits::admits(&limits, &tats, clock, cost);
                    let expected = Decision {
                        admitted: fits.is_ok(),
                        retry_after: fits.err().flatten(),
                        standing: limits::standing_of(&limits, &tats, clock),
                    };
                    let got = f.decide(&key, &limits, Mode::Peek, cost, now);
                    prop_assert_eq!(&got, &expected, "peek {} at {}", cost, now);
                    prop_assert_eq!(&f.decide(&key, &limits, Mode::Peek, cost, now), &got, "peeking changes nothing");
                }
                Step::RefundLast { gap_ns } => {
                    now += time::Duration::nanoseconds(gap_ns);
                    if let Some(cost) = last_cost.take() {
                        one_node.refund(key, &org, &limits, false, cost, now);
                        f.decide(&key, &limits, Mode::Refund, cost, now);
                    }
                }
            }
        }
    }
}

#[test]
fn a_refusal_says_when_and_a_request_costing_more_than_a_limit_never_fits() {
    let f = Fixture::new();
    let key = KeyId::generate(&mut rand_core::OsRng);
    let limits = [
        RateLimit::per("burst", 10, time::Duration::seconds(1)),
        RateLimit::per("sustained", 15, time::Duration::seconds(60)),
    ];
    let t = datetime!(2026-06-01 12:00 UTC);
    let admitted = (0..20)
        .filter(|_| f.decide(&key, &limits, Mode::Spend, 1, t).admitted)
        .count();
    assert_eq!(admitted, 10, "the burst limit first");
    let refused = f.decide(&key, &limits, Mode::Spend, 1, t);
    assert!(!refused.admitted);
    assert_eq!(refused.standing[0].remaining, 0);
    assert_eq!(refused.standing[1].remaining, 5);
    assert_eq!(refused.retry_after, Some(time::Duration::milliseconds(100)));
    let never = f.decide(&key, &limits, Mode::Spend, 16, t + time::Duration::HOUR);
    assert_eq!(never.retry_after, None, "16 never fit in 15 a minute");
    // Whole again after an hour: the refusal of 16 spent nothing.
    let whole = f.decide(&key, &limits, Mode::Peek, 0, t + time::Duration::HOUR);
    assert_eq!(whole.standing[1].remaining, 15);
}

#[test]
fn state_expires_when_whole_and_changed_limits_start_afresh() {
    let f = Fixture::new();
    let key = KeyId::generate(&mut rand_core::OsRng);
    let one = [RateLimit::per("default", 1, time::Duration::HOUR)];
    let two = [RateLimit::per("default", 2, time::Duration::HOUR)];
    let t = datetime!(2026-06-01 12:00 UTC);
    assert!(f.decide(&key, &one, Mode::Spend, 1, t).admitted);
    assert!(!f.decide(&key, &one, Mode::Spend, 1, t).admitted);
    let keys = f.keys();
    assert_eq!(keys.len(), 1, "one hash per key and set of limits");
    let ttl = f.ttl_ms(&keys[0]);
    assert!(
        (3_590_000..=3_600_000).contains(&ttl),
        "expires when the hour's request is whole again: {ttl} ms"
    );
    assert!(
        f.decide(&key, &two, Mode::Spend, 1, t).admitted,
        "new limits, a fresh state, as on one node"
    );
    // A refund that makes every limit whole drops the state at once.
    f.decide(&key, &two, Mode::Refund, 1, t);
    assert_eq!(f.keys().len(), 1, "only the old limits' state is left");
    // A request of cost 0 writes nothing.
    let other = KeyId::generate(&mut rand_core::OsRng);
    f.decide(&other, &one, Mode::Spend, 0, t);
    assert_eq!(f.keys().len(), 1);
}

#[test]
fn redis_time_is_used_when_no_time_is_given() {
    let f = Fixture::new();
    let key = KeyId::generate(&mut rand_core::OsRng);
    let limits = [RateLimit::per("default", 2, time::Duration::HOUR)];
    let first = f
        .runtime
        .block_on(f.limits.decide(&key, &limits, Mode::Spend, 1, None))
        .unwrap();
    assert!(first.admitted);
    assert_eq!(first.standing[0].remaining, 1);
    let reset = first.standing[0].reset;
    assert!(
        reset <= time::Duration::minutes(30) && reset > time::Duration::minutes(29),
        "one request of 30 min spent just now on Redis's clock: {reset}"
    );
    // A state written at a given time far in the past is whole on Redis's clock.
    let past = datetime!(2001-01-01 00:00 UTC);
    let other = KeyId::generate(&mut rand_core::OsRng);
    f.decide(&other, &limits, Mode::Spend, 2, past);
    let now = f
        .runtime
        .block_on(f.limits.decide(&other, &limits, Mode::Peek, 1, None))
        .unwrap();
    assert_eq!(now.standing[0].remaining, 2);
}

/// One slow answer fails only its own check: Redis is left alone (every check going
/// the `redis_unreachable` way at once) only after several failures in a row, and an
/// answer in between starts the count again.
#[test]
fn redis_is_left_alone_only_after_failures_in_a_row() {
    let t = Trouble::new();
    let fail = || {
        t.failed(Failure::Timeout(StdDuration::from_millis(50)));
    };
    fail();
    fail();
    assert!(
        !t.resting(),
        "two timeouts must not refuse everyone for a second"
    );
    t.answered();
    fail();
    fail();
    assert!(!t.resting(), "the count starts again after an answer");
    fail();
    assert!(t.resting(), "three in a row: Redis is left alone");
}
