//! Several nodes (in-process `Keyward`s on one database) with their rate limits in the
//! real Redis at 127.0.0.1:6379 and their quota in the store: what a user of several
//! nodes is promised. Each test writes under a Redis prefix of its own and deletes it.
#![allow(clippy::unwrap_used)]

use keyward_app::{
    AppError, GlobalLimits, KeyInput, Keyward, ManualClock, Principal, RedisSettings, Settings,
    Unreachable,
};
use keyward_core::timestamp::from_millis;
use keyward_core::{
    Actor, Asked, GrantSpec, Kind, Level, OrgAccess, OrgId, Outcome, PepperSet, Plan, Plans,
    Presented, RateLimit,
};
use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::Duration;

const PEPPER: &str = "app-test-pepper-0123456789abcdefghijklmnopqrs";

fn redis_url() -> String {
    std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

fn actor() -> Principal {
    Principal::operator(Actor::Cli("tester".into()))
}

fn settings(limits: Vec<RateLimit>, quota: Option<u64>) -> Settings {
    let mut s = Settings::new(PepperSet::parse(PEPPER).unwrap());
    s.plans = Plans::new(vec![Plan {
        name: "pro".into(),
        api_access: true,
        max_keys: None,
        rate_limits: limits,
        monthly_quota: quota,
    }])
    .unwrap();
    s
}

/// Redis settings under a fresh prefix; the prefix's keys are deleted on drop.
struct Prefix(String);

impl Prefix {
    fn new() -> Self {
        Prefix(format!(
            "keyward-test:{}:",
            OrgId::generate(&mut rand_core::OsRng)
        ))
    }

    fn settings(&self, url: &str, unreachable: Unreachable) -> RedisSettings {
        RedisSettings {
            url: url.to_owned().into(),
            key_prefix: self.0.clone(),
            timeout: StdDuration::from_secs(1),
            unreachable,
        }
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let client = redis::Client::open(redis_url()).unwrap();
        if let Ok(mut c) = client.get_connection() {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", self.0))
                .query(&mut c)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(keys).query(&mut c);
            }
        }
    }
}

struct Cluster {
    nodes: Vec<Keyward>,
    clock: Arc<ManualClock>,
    org: OrgId,
    secret: String,
    _dir: tempfile::TempDir,
}

/// `n` nodes on one SQLite file, each with `redis` (or none), and one key.
async fn cluster(n: usize, settings: Settings, redis: Option<&RedisSettings>) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
    nodes_on(&url, n, settings, redis, dir).await
}

async fn nodes_on(
    url: &str,
    n: usize,
    settings: Settings,
    redis: Option<&RedisSettings>,
    dir: tempfile::TempDir,
) -> Cluster {
    let clock = Arc::new(ManualClock::new(from_millis(1_800_000_000_000)));
    let mut nodes = Vec::new();
    for _ in 0..n {
        let store = keyward_store::open(url).await.unwrap();
        let global = redis.map(|r| GlobalLimits::new(r).unwrap());
        nodes.push(Keyward::with_global_limits(
            store,
            settings.clone(),
            clock.clone(),
            global,
        ));
    }
    let first = &nodes[0];
    let org = first.create_org(&actor(), "Acme", None).await.unwrap();
    first
        .create_project(&actor(), &org.id, "Website")
        .await
        .unwrap();
    let created = first
        .create_key(
            &actor(),
            &org.id,
            KeyInput {
                name: "integration".into(),
                description: None,
                kind: Kind::Live,
                grants: vec![GrantSpec::parse("*:*:read").unwrap()],
                scopes: vec![],
                org_access: OrgAccess::NONE,
                expires_at: None,
                service: true,
                ip_allowlist: vec![],
                metadata: serde_json::Value::Null,
                rate_limits: None,
            },
        )
        .await
        .unwrap();
    Cluster {
        nodes,
        clock,
        org: org.id,
        secret: created.secret.expose_secret().to_owned(),
        _dir: dir,
    }
}

fn get() -> Asked {
    Asked::Project {
        project: "Website".into(),
        environment: "production".into(),
        resource: None,
        level: Level::Read,
    }
}

impl Cluster {
    async fn check(&self, node: usize) -> Result<keyward_core::Verdict, AppError> {
        self.nodes[node % self.nodes.len()]
            .check(Presented::field(&self.secret), &get())
            .await
    }

    /// `n` checks, spread over the nodes in turn: how many were admitted.
    async fn admitted(&self, n: usize) -> usize {
        let mut ok = 0;
        for i in 0..n {
            ok += usize::from(self.check(i).await.unwrap().outcome == Outcome::Valid);
        }
        ok
    }
}

#[tokio::test]
async fn nodes_sharing_redis_admit_a_limit_of_n_once_between_them_and_without_it_per_node() {
    let limits = vec![RateLimit::per("default", 10, Duration::HOUR)];
    let prefix = Prefix::new();
    let shared = prefix.settings(&redis_url(), Unreachable::Closed);
    let c = cluster(3, settings(limits.clone(), None), Some(&shared)).await;
    assert_eq!(c.admitted(40).await, 10, "10 an hour across three nodes");
    let refused = c.check(1).await.unwrap();
    assert_eq!(refused.outcome, Outcome::RateLimited);
    let s = &refused.metered.as_ref().unwrap().spending;
    assert_eq!(s.standing[0].remaining, 0);
    let retry = s.retry_after.unwrap();
    assert!(
        retry > Duration::minutes(5) && retry <= Duration::minutes(6),
        "one request every 6 min: {retry}"
    );

    // Without Redis, each node keeps its own limits: the docs say so.
    let alone = cluster(3, settings(limits, None), None).await;
    assert_eq!(alone.admitted(40).await, 30);
}

#[tokio::test]
async fn with_redis_a_refusal_by_the_quota_or_a_rate_limit_spends_on_neither() {
    let prefix = Prefix::new();
    let shared = prefix.settings(&redis_url(), Unreachable::Closed);
    // The quota refuses first: the rate limit keeps what the refused requests would
    // have spent. (One node: across nodes the quota is counted per node between
    // batches, the bound tested below.)
    let c = cluster(
        1,
        settings(vec![RateLimit::per("default", 5, Duration::HOUR)], Some(3)),
        Some(&shared),
    )
    .await;
    assert_eq!(c.admitted(6).await, 3);
    let v = c.check(0).await.unwrap();
    assert_eq!(v.outcome, Outcome::QuotaExceeded);
    let s = &v.metered.as_ref().unwrap().spending;
    assert_eq!(s.standing[0].remaining, 2, "5 less the 3 admitted");
    assert!(s.retry_after.is_some(), "until the month turns");

    // The rate limit refuses first: the quota keeps what the refused requests would have
    // spent, and the refusal says rate_limited even when the quota is spent too.
    let prefix = Prefix::new();
    let shared = prefix.settings(&redis_url(), Unreachable::Closed);
    let c = cluster(
        2,
        settings(vec![RateLimit::per("default", 2, Duration::HOUR)], Some(3)),
        Some(&shared),
    )
    .await;
    assert_eq!(c.admitted(5).await, 2);
    for node in &c.nodes {
        node.flush_quota().await.unwrap();
    }
    let month = keyward_core::meter::Month::of(c.nodes[0].now());
    assert_eq!(
        c.nodes[0].store().quota_used(&c.org, month).await.unwrap(),
        2,
        "only what was admitted is counted"
    );
}

#[tokio::test]
async fn a_refund_gives_back_in_redis() {
    let prefix = Prefix::new();
    let shared = prefix.settings(&redis_url(), Unreachable::Closed);
    let c = cluster(
        2,
        settings(vec![RateLimit::per("default", 1, Duration::HOUR)], None),
        Some(&shared),
    )
    .await;
    let v = c.check(0).await.unwrap();
    assert_eq!(v.outcome, Outcome::Valid);
    assert_eq!(c.check(1).await.unwrap().outcome, Outcome::RateLimited);
    c.nodes[0].refund(&v, 1).await;
    assert_eq!(
        c.check(1).await.unwrap().outcome,
        Outcome::Valid,
        "given back for every node"
    );
}

#[tokio::test]
async fn unreachable_redis_refuses_when_closed_and_falls_back_to_per_node_limits_when_open() {
    // Nothing listens on port 1: every call fails at once.
    let prefix = Prefix::new();
    let down = "redis://127.0.0.1:1/0";
    let limits = vec![RateLimit::per("default", 2, Duration::HOUR)];
    let closed = cluster(
        1,
        settings(limits.clone(), Some(100)),
        Some(&prefix.settings(down, Unreachable::Closed)),
    )
    .await;
    assert!(matches!(
        closed.check(0).await,
        Err(AppError::LimiterUnavailable)
    ));
    closed.nodes[0].flush_quota().await.unwrap();
    let month = keyward_core::meter::Month::of(closed.nodes[0].now());
    assert_eq!(
        closed.nodes[0]
            .store()
            .quota_used(&closed.org, month)
            .await
            .unwrap(),
        0,
        "a refused request spends no quota"
    );

    let open = cluster(
        2,
        settings(limits, None),
        Some(&prefix.settings(down, Unreachable::Open)),
    )
    .await;
    assert_eq!(
        open.admitted(10).await,
        4,
        "each node's own limit of 2 meanwhile"
    );
    let (unreachable, ping) = open.nodes[0].redis_ping().await.unwrap();
    assert_eq!(unreachable, Unreachable::Open);
    assert!(ping.is_err());
}

/// Writes every node's quota spending (reading back the stored totals), then lets a
/// batch window (`keyward serve`: 5 s) pass.
async fn end_of_window(c: &Cluster) {
    for node in &c.nodes {
        node.flush_quota().await.unwrap();
    }
    c.clock.advance(Duration::seconds(5));
}

/// The quota across nodes: each node counts in memory and writes its spending every
/// batch window, reading back the stored total. So nodes admit at most the quota plus
/// what the other nodes admitted within one window: with n nodes admitting up to k
/// requests each per window, at most (n − 1) × k over. Here on PostgreSQL, three
/// nodes, k = 10 per window: at most 20 over a quota of 100.
#[tokio::test]
async fn quota_over_admission_across_nodes_is_bounded_by_one_window_of_the_other_nodes() {
    let db = keyward_store::testing::TestDatabase::create().await;
    let quota = 100u64;
    let (n, k) = (3usize, 10usize);
    let dir = tempfile::tempdir().unwrap();
    let c = nodes_on(db.url(), n, settings(vec![], Some(quota)), None, dir).await;
    let mut admitted = 0u64;
    for _ in 0..10 {
        for node in 0..n {
            for _ in 0..k {
                admitted += u64::from(c.check(node).await.unwrap().outcome == Outcome::Valid);
            }
        }
        end_of_window(&c).await;
    }
    let bound = quota + ((n - 1) * k) as u64;
    assert!(
        (quota..=bound).contains(&admitted),
        "{admitted} admitted for a quota of {quota}: at most {bound}"
    );
    let month = keyward_core::meter::Month::of(c.nodes[0].now());
    let stored = c.nodes[0].store().quota_used(&c.org, month).await.unwrap();
    assert_eq!(stored, admitted, "every admitted request is counted, once");
    for node in 0..n {
        assert_eq!(
            c.check(node).await.unwrap().outcome,
            Outcome::QuotaExceeded,
            "after a window every node knows"
        );
    }
}

/// The bound above holds for a node that was idle too: its count, older than a window,
/// is read again before it decides, rather than letting it spend the quota a second
/// time on what it knew when it last checked.
#[tokio::test]
async fn an_idle_node_reads_the_quota_again_before_deciding() {
    let db = keyward_store::testing::TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let c = nodes_on(db.url(), 2, settings(vec![], Some(50)), None, dir).await;
    assert_eq!(c.check(1).await.unwrap().outcome, Outcome::Valid);
    end_of_window(&c).await;
    for _ in 0..6 {
        for _ in 0..10 {
            c.check(0).await.unwrap();
        }
        end_of_window(&c).await;
    }
    // Node 1 last saw 1 of 50 spent; the store says 50.
    for _ in 0..20 {
        assert_eq!(
            c.check(1).await.unwrap().outcome,
            Outcome::QuotaExceeded,
            "an idle node decided on a stale count"
        );
    }
}
