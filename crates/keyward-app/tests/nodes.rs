//! Two nodes on one database: every change a check depends on, made through node A,
//! reaches node B's cache. On PostgreSQL, B follows the change feed (LISTEN/NOTIFY)
//! and its clock is frozen, so its poll of the change log never runs again: only the
//! feed can make B see the change. On SQLite (one writer, no feed), B sees it at its
//! next poll, once its clock passes the cache's ttl. Either way this holds every
//! change kind to being in the change log, on both backends.
#![allow(clippy::unwrap_used)]

use keyward_app::cache::FeedHealth;
use keyward_app::{
    KeyInput, KeyPatchInput, Keyward, ManualClock, MemberInput, Principal, Settings,
};
use keyward_core::timestamp::from_millis;
use keyward_core::{
    Actor, Asked, GrantSpec, Kind, Level, OrgAccess, OrgId, Outcome, PepperSet, Presented, Role,
};
use keyward_store::testing::TestDatabase;
use std::sync::Arc;
use std::time::Duration;

const PEPPER: &str = "app-test-pepper-0123456789abcdefghijklmnopqrs";

struct Nodes {
    a: Keyward,
    b: Keyward,
    b_clock: Arc<ManualClock>,
    org: OrgId,
    postgres: bool,
    _following: Option<keyward_app::Following>,
    _dir: tempfile::TempDir,
    _db: Option<TestDatabase>,
}

fn op() -> Principal {
    Principal::operator(Actor::Cli("tester".into()))
}

async fn nodes(postgres: bool) -> Nodes {
    let dir = tempfile::tempdir().unwrap();
    let db = if postgres {
        Some(TestDatabase::create().await)
    } else {
        None
    };
    let url = match &db {
        Some(db) => db.url().to_owned(),
        None => format!("sqlite://{}", dir.path().join("keyward.db").display()),
    };
    let node = |clock: Arc<ManualClock>| {
        let url = url.clone();
        async move {
            let store = keyward_store::open(&url).await.unwrap();
            Keyward::new(
                store,
                Settings::new(PepperSet::parse(PEPPER).unwrap()),
                clock,
            )
        }
    };
    let start = from_millis(1_800_000_000_000);
    let a = node(Arc::new(ManualClock::new(start))).await;
    let b_clock = Arc::new(ManualClock::new(start));
    let b = node(b_clock.clone()).await;
    let following = b.follow_changes();
    assert_eq!(following.is_some(), postgres, "a feed on PostgreSQL only");
    let org = a.create_org(&op(), "Acme", None).await.unwrap();
    a.create_project(&op(), &org.id, "Website").await.unwrap();
    a.create_project(&op(), &org.id, "Other").await.unwrap();
    if postgres {
        let t0 = std::time::Instant::now();
        while b.feed_health() != FeedHealth::Up {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "B listens within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Nodes {
        a,
        b,
        b_clock,
        org: org.id,
        postgres,
        _following: following,
        _dir: dir,
        _db: db,
    }
}

fn input(grants: &[&str]) -> KeyInput {
    KeyInput {
        name: "integration".into(),
        description: None,
        kind: Kind::Live,
        grants: grants
            .iter()
            .map(|g| GrantSpec::parse(g).unwrap())
            .collect(),
        scopes: vec![],
        org_access: OrgAccess::NONE,
        expires_at: None,
        service: false,
        ip_allowlist: vec![],
        metadata: serde_json::Value::Null,
        rate_limits: None,
    }
}

fn read() -> Asked {
    Asked::Project {
        project: "Website".into(),
        environment: "production".into(),
        resource: None,
        level: Level::Read,
    }
}

async fn outcome(app: &Keyward, secret: &str) -> Outcome {
    app.check(Presented::field(secret), &read())
        .await
        .unwrap()
        .outcome
}

impl Nodes {
    /// B answers `valid` from its cache, A makes `change`, and B must then answer
    /// `expected`: on PostgreSQL within 5 s with its clock frozen (the feed alone),
    /// on SQLite once its poll is due.
    async fn seen_by_b<F: std::future::Future<Output = ()>>(
        &self,
        what: &str,
        secret: &str,
        change: F,
        expected: Outcome,
    ) {
        assert_eq!(
            outcome(&self.b, secret).await,
            Outcome::Valid,
            "{what}: B before"
        );
        assert_eq!(
            outcome(&self.b, secret).await,
            Outcome::Valid,
            "{what}: cached"
        );
        change.await;
        if self.postgres {
            let t0 = std::time::Instant::now();
            loop {
                let now = outcome(&self.b, secret).await;
                if now == expected {
                    break;
                }
                assert_eq!(now, Outcome::Valid, "{what}");
                assert!(
                    t0.elapsed() < Duration::from_secs(5),
                    "{what}: B still answers valid 5 s after the change"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        } else {
            assert_eq!(
                outcome(&self.b, secret).await,
                Outcome::Valid,
                "{what}: SQLite's B holds its cache until its poll"
            );
            self.b_clock.advance(time::Duration::seconds(1));
            assert_eq!(
                outcome(&self.b, secret).await,
                expected,
                "{what}: after the poll"
            );
        }
    }

    async fn key(&self, who: &Principal) -> (keyward_core::ApiKey, String) {
        let created = self
            .a
            .create_key(who, &self.org, input(&["Website:production:read"]))
            .await
            .unwrap();
        let key = self.a.key(who, created.key.id.as_str()).await.unwrap();
        (key, created.secret.expose_secret().to_owned())
    }
}

async fn every_change_a_check_depends_on_reaches_the_other_node(postgres: bool) {
    let n = nodes(postgres).await;
    let a = &n.a;

    let (key, secret) = n.key(&op()).await;
    n.seen_by_b(
        "revoke",
        &secret,
        async { a.revoke_key(&op(), &key).await.map(drop).unwrap() },
        Outcome::Revoked,
    )
    .await;
    let key = a.key(&op(), key.id.as_str()).await.unwrap();
    a.reactivate_key(&op(), &key).await.unwrap();
    if postgres {
        // Reactivated on A: valid again on B once the feed says so.
        let t0 = std::time::Instant::now();
        while outcome(&n.b, &secret).await != Outcome::Valid {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "reactivation reaches B"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    } else {
        n.b_clock.advance(time::Duration::seconds(1));
    }
    let key = a.key(&op(), key.id.as_str()).await.unwrap();
    n.seen_by_b(
        "delete",
        &secret,
        async { a.delete_key(&op(), &key).await.map(drop).unwrap() },
        Outcome::Revoked,
    )
    .await;

    let (key, secret) = n.key(&op()).await;
    n.seen_by_b(
        "rotate (no grace)",
        &secret,
        async {
            a.rotate_key(&op(), &key, time::Duration::ZERO)
                .await
                .map(drop)
                .unwrap()
        },
        Outcome::Expired,
    )
    .await;

    let (key, secret) = n.key(&op()).await;
    let patch = KeyPatchInput {
        grants: Some(vec![GrantSpec::parse("Other:production:read").unwrap()]),
        ..KeyPatchInput::default()
    };
    n.seen_by_b(
        "grant change",
        &secret,
        async { a.update_key(&op(), &key, patch).await.map(drop).unwrap() },
        Outcome::InsufficientPermission,
    )
    .await;

    let (key, secret) = n.key(&op()).await;
    let patch = KeyPatchInput {
        ip_allowlist: Some(vec!["203.0.113.0/24".into()]),
        ..KeyPatchInput::default()
    };
    n.seen_by_b(
        "allow-list change",
        &secret,
        async { a.update_key(&op(), &key, patch).await.map(drop).unwrap() },
        Outcome::IpNotAllowed,
    )
    .await;

    // A user-bound key loses what its creator loses.
    a.create_user(&op(), "ada@acme.test", None).await.unwrap();
    let owner = MemberInput {
        role: Role::Admin,
        projects: vec![],
    };
    a.set_member(&op(), &n.org, "ada@acme.test", owner)
        .await
        .unwrap();
    let ada = a.user_principal("ada@acme.test").await.unwrap();
    let (_, secret) = n.key(&ada).await;
    let demoted = MemberInput {
        role: Role::Member,
        projects: vec![],
    };
    n.seen_by_b(
        "membership change",
        &secret,
        async {
            a.set_member(&op(), &n.org, "ada@acme.test", demoted)
                .await
                .map(drop)
                .unwrap()
        },
        Outcome::InsufficientPermission,
    )
    .await;

    let (_, secret) = n.key(&op()).await;
    n.seen_by_b(
        "plan change",
        &secret,
        async {
            a.set_org_plan(&op(), &n.org, "free")
                .await
                .map(drop)
                .unwrap()
        },
        Outcome::NoApiAccess,
    )
    .await;

    // An admin token revoked on A is refused by B.
    let token = a.create_admin_token(&op(), "ops").await.unwrap();
    let text = token.secret.expose_secret().to_owned();
    assert!(n.b.authenticate_admin(&text).await.unwrap().is_some());
    assert!(
        n.b.authenticate_admin(&text).await.unwrap().is_some(),
        "cached"
    );
    a.revoke_admin_token(&op(), token.token.id.as_str())
        .await
        .unwrap();
    if postgres {
        let t0 = std::time::Instant::now();
        while n.b.authenticate_admin(&text).await.unwrap().is_some() {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "admin token revocation reaches B"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    } else {
        n.b_clock.advance(time::Duration::seconds(1));
        assert!(n.b.authenticate_admin(&text).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn every_change_a_check_depends_on_reaches_the_other_node_on_sqlite() {
    every_change_a_check_depends_on_reaches_the_other_node(false).await;
}

#[tokio::test]
async fn every_change_a_check_depends_on_reaches_the_other_node_on_postgres() {
    every_change_a_check_depends_on_reaches_the_other_node(true).await;
}
