//! PostgreSQL under concurrent writers: the guarantees SQLite keeps by having one
//! writer at a time, held by the PostgreSQL backend while many transactions run at
//! once (as on several nodes sharing one database). Each test fires its writers
//! together on a multi-threaded runtime, against a fresh database.
#![allow(clippy::unwrap_used)]

use keyward_core::lifecycle::{self, NewKey, Policy};
use keyward_core::session::PasswordReset;
use keyward_core::timestamp::from_millis;
use keyward_core::{
    Actor, ApiKey, AuditAction, AuditEvent, Invitation, InvitationId, KeyHash, KeyName, Kind,
    MemberAccess, OrgAccess, OrgId, OrgName, Organization, PepperSet, Prefix, ResetId, Role, User,
    UserId,
};
use keyward_store::testing::TestDatabase;
use keyward_store::{
    Change, Conflict, KeyLimit, KeyWrite, OpenOptions, QuotaDelta, Store, StoreError,
};
use rand_core::OsRng;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

fn at(ms: i64) -> keyward_core::Timestamp {
    from_millis(1_800_000_000_000 + ms)
}

fn event(org: &OrgId, action: AuditAction) -> AuditEvent {
    AuditEvent {
        id: None,
        at: at(0),
        org_id: Some(org.clone()),
        actor: Actor::Cli("tester".into()),
        action,
        key_id: None,
        details: json!({}),
        ip: None,
    }
}

/// A fresh database with a pool wide enough for every writer to hold a connection.
async fn store() -> (Arc<dyn Store>, TestDatabase) {
    let db = TestDatabase::create().await;
    let options = OpenOptions {
        max_connections: Some(24),
        ..OpenOptions::default()
    };
    (
        keyward_store::open_with(db.url(), &options).await.unwrap(),
        db,
    )
}

async fn org(store: &dyn Store, name: &str) -> Organization {
    let org = Organization {
        id: OrgId::generate(&mut OsRng),
        name: OrgName::parse(name).unwrap(),
        plan: "pro".into(),
        created_at: at(0),
    };
    store
        .insert_org(&org, &event(&org.id, AuditAction::OrgCreated))
        .await
        .unwrap();
    org
}

async fn user(store: &dyn Store, email: &str) -> User {
    let user = User {
        id: UserId::generate(&mut OsRng),
        email: email.into(),
        display_name: None,
        password_hash: String::new(),
        created_at: at(0),
    };
    store
        .insert_user(
            &user,
            &AuditEvent::new(None, Actor::System, AuditAction::UserCreated, at(0)),
        )
        .await
        .unwrap();
    user
}

fn new_key(org: &OrgId) -> ApiKey {
    let generated = GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut OsRng);
    let peppers = PepperSet::parse("store-test-pepper-0123456789abcdefghijklmnop").unwrap();
    let spec = NewKey {
        name: KeyName::parse("k").unwrap(),
        description: None,
        kind: Kind::Live,
        grants: vec![],
        scopes: vec![],
        org_access: OrgAccess(Some(keyward_core::Level::Read)),
        owner: None,
        expires_at: None,
        ip_allowlist: Default::default(),
        metadata: None,
        rate_limits: None,
    };
    lifecycle::create(
        spec,
        org.clone(),
        generated.id,
        peppers.hash(&generated.secret),
        Actor::System,
        &Policy::default(),
        at(0),
    )
    .unwrap()
    .key
}
use keyward_core::GeneratedKey;

fn hash() -> KeyHash {
    KeyHash {
        pepper_version: 1,
        digest: [7; 32],
    }
}

/// Runs `n` writers at once, each given its index; their results, in index order.
async fn at_once<T, F, Fut>(n: usize, writer: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let work = writer(i);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// A plan's key limit holds across nodes: of 20 creations at once against a limit of
/// 5, exactly 5 succeed and the others are refused with the limit, not let through by
/// counts taken before the others' inserts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_key_creations_never_pass_the_plan_limit() {
    let (s, _db) = store().await;
    let acme = org(s.as_ref(), "Acme").await;
    let results = at_once(20, |_| {
        let (s, acme) = (s.clone(), acme.id.clone());
        async move {
            s.write_keys(KeyWrite {
                inserts: vec![new_key(&acme)],
                events: vec![event(&acme, AuditAction::KeyCreated)],
                limit: Some(KeyLimit {
                    org: acme.clone(),
                    max: 5,
                    now: at(0),
                }),
                ..KeyWrite::default()
            })
            .await
        }
    })
    .await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, 5, "{results:?}");
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(StoreError::KeyLimit { held: 5 }))));
    assert_eq!(s.count_held_keys(&acme.id, at(0)).await.unwrap(), 5);
    let events = s
        .audit_events(&keyward_store::AuditQuery {
            action: Some(AuditAction::KeyCreated),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 5, "a refused key leaves no audit event");
}

/// A cache reading "every change after the last one it saw" while writers on other
/// connections commit never misses a change: a row never commits after a reader has
/// moved past its sequence number.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_log_reader_never_misses_a_change_committed_by_concurrent_writers() {
    let (s, _db) = store().await;
    let acme = org(s.as_ref(), "Acme").await;
    let start = s.changes_since(None).await.unwrap().cursor;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (s, done) = (s.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = BTreeSet::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let read = s.changes_since(Some(cursor)).await.unwrap();
                let changes = read
                    .changes
                    .expect("the reader keeps up: never more than one read's worth behind");
                for c in changes {
                    if let Change::Key(id) = c {
                        seen.insert(id.to_string());
                    }
                }
                cursor = read.cursor;
                if finished {
                    return seen;
                }
            }
        })
    };
    let written = at_once(8, |_| {
        let (s, acme) = (s.clone(), acme.id.clone());
        async move {
            let mut ids = Vec::new();
            for _ in 0..40 {
                let key = new_key(&acme);
                ids.push(key.id.to_string());
                s.write_keys(KeyWrite {
                    inserts: vec![key],
                    events: vec![event(&acme, AuditAction::KeyCreated)],
                    ..KeyWrite::default()
                })
                .await
                .unwrap();
            }
            ids
        }
    })
    .await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let written: BTreeSet<String> = written.into_iter().flatten().collect();
    assert_eq!(written.len(), 320);
    let missed: Vec<_> = written.difference(&seen).collect();
    assert!(missed.is_empty(), "the reader missed {} keys", missed.len());
}

/// Each change-log row is announced on the `keyward_changes` channel with its sequence
/// number, once its transaction commits, for nodes that listen instead of polling.
#[tokio::test]
async fn every_change_is_announced_with_its_sequence_number_at_commit() {
    let (s, db) = store().await;
    let mut listener = sqlx::postgres::PgListener::connect(db.url()).await.unwrap();
    listener.listen("keyward_changes").await.unwrap();
    let acme = org(s.as_ref(), "Acme").await;
    s.set_org_plan(&acme.id, "max", &event(&acme.id, AuditAction::OrgCreated))
        .await
        .unwrap();
    let cursor = s.changes_since(None).await.unwrap().cursor;
    let note = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("a notification within 5 s")
        .unwrap();
    assert_eq!(note.payload(), cursor.to_string());
}

/// The change feed: connected, it announces each committed change's position; when its
/// connection is terminated it says so at once (a reader must treat announcements as
/// lost from then on), then reconnects by itself with a new epoch, so that the reader
/// knows to read the change log again; closing the store ends it. SQLite has none.
#[tokio::test]
async fn the_change_feed_announces_changes_and_reports_a_lost_connection() {
    use keyward_store::{ChangeFeed, FeedState};
    use std::time::Duration;
    async fn until(
        feed: &mut ChangeFeed,
        what: &str,
        ok: impl Fn(&FeedState) -> bool,
    ) -> FeedState {
        let now = feed.state();
        if ok(&now) {
            return now;
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let state = feed.changed().await.expect("the feed runs");
                if ok(&state) {
                    return state;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what} within 10 s"))
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = keyward_store::open(&format!("sqlite://{}", dir.path().join("k.db").display()))
        .await
        .unwrap();
    assert!(
        sqlite.change_feed().is_none(),
        "one node: nothing to listen to"
    );

    let (s, db) = store().await;
    let mut feed = s.change_feed().expect("PostgreSQL has a feed");
    let first = until(&mut feed, "connected", |f| f.connected).await;
    assert_eq!(first.epoch, 1);
    let acme = org(s.as_ref(), "Acme").await;
    s.set_org_plan(&acme.id, "max", &event(&acme.id, AuditAction::OrgCreated))
        .await
        .unwrap();
    let cursor = s.changes_since(None).await.unwrap().cursor;
    until(&mut feed, "the plan change announced", |f| {
        f.seq == Some(cursor)
    })
    .await;

    // Terminate the listening connection, found by its application name.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(db.url())
        .await
        .unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(format!(
        "{} pid={}",
        keyward_store::postgres::listen::APPLICATION_NAME,
        std::process::id()
    ))
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed, vec![true], "one listening connection, by its name");
    let lost = until(&mut feed, "the loss reported", |f| !f.connected).await;
    assert!(lost.error.is_some());
    let back = until(&mut feed, "reconnected", |f| f.connected).await;
    assert_eq!(back.epoch, 2, "a new epoch: the reader knows of the gap");
    s.set_org_plan(&acme.id, "pro", &event(&acme.id, AuditAction::OrgCreated))
        .await
        .unwrap();
    until(&mut feed, "announcements again", |f| f.seq > Some(cursor)).await;

    s.close().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while feed.changed().await.is_some() {}
    })
    .await
    .expect("closing the store ends the feed");
}

/// Two owners demoting each other at once cannot leave the organization without one:
/// exactly one change goes through, the other is refused as the last owner's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let (s, _db) = store().await;
    for round in 0..5 {
        let acme = org(s.as_ref(), &format!("Acme{round}")).await;
        let a = user(s.as_ref(), &format!("a{round}@acme.test")).await;
        let b = user(s.as_ref(), &format!("b{round}@acme.test")).await;
        let owner = MemberAccess {
            role: Role::Owner,
            projects: Default::default(),
        };
        for u in [&a, &b] {
            s.set_membership(
                &acme.id,
                &u.id,
                None,
                &owner,
                &event(&acme.id, AuditAction::MemberAdded),
            )
            .await
            .unwrap();
        }
        let users = [a.id.clone(), b.id.clone()];
        let results = at_once(2, |i| {
            let (s, org, user) = (s.clone(), acme.id.clone(), users[i].clone());
            async move {
                let admin = MemberAccess {
                    role: Role::Admin,
                    projects: Default::default(),
                };
                s.set_membership(
                    &org,
                    &user,
                    Some(Role::Owner),
                    &admin,
                    &event(&org, AuditAction::MemberAdded),
                )
                .await
            }
        })
        .await;
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(results
            .iter()
            .any(|r| matches!(r, Err(StoreError::LastOwner))));
        let owners = s
            .list_members(&acme.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, m)| m.role == Role::Owner)
            .count();
        assert_eq!(owners, 1);
    }
}

/// An invitation accepted by ten people at once makes one member; the others are told
/// it is no longer pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invitation_accepted_at_once_by_many_is_used_once() {
    let (s, _db) = store().await;
    let acme = org(s.as_ref(), "Acme").await;
    let invitation = Invitation {
        id: InvitationId::from_trusted("inv_0123456789abcdef".into()),
        org_id: acme.id.clone(),
        email: "new@acme.test".into(),
        access: MemberAccess {
            role: Role::Member,
            projects: Default::default(),
        },
        invited_by: Actor::System,
        created_at: at(0),
        expires_at: at(1_000_000),
        hash: hash(),
        accepted_at: None,
        accepted_by: None,
        revoked_at: None,
    };
    s.insert_invitation(&invitation, &event(&acme.id, AuditAction::MemberInvited))
        .await
        .unwrap();
    let mut people = Vec::new();
    for i in 0..10 {
        people.push(user(s.as_ref(), &format!("p{i}@acme.test")).await);
    }
    let results = at_once(10, |i| {
        let (s, person, id) = (s.clone(), people[i].clone(), invitation.id.clone());
        async move { s.accept_invitation(&id, &person, false, at(1), &[]).await }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(StoreError::Stale))));
    assert_eq!(s.list_members(&acme.id).await.unwrap().len(), 1);
}

/// The first-run setup link and a password-reset link each work once, however many
/// use them at the same moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn setup_and_reset_links_used_at_once_work_once() {
    let (s, _db) = store().await;
    s.replace_setup_token("setup_1", &hash(), at(0))
        .await
        .unwrap();
    let results = at_once(10, |i| {
        let s = s.clone();
        async move {
            let person = User {
                id: UserId::generate(&mut OsRng),
                email: format!("owner{i}@acme.test"),
                display_name: None,
                password_hash: "h".into(),
                created_at: at(0),
            };
            let org = Organization {
                id: OrgId::generate(&mut OsRng),
                name: OrgName::parse(&format!("Org{i}")).unwrap(),
                plan: "pro".into(),
                created_at: at(0),
            };
            let e = event(&org.id, AuditAction::OrgCreated);
            s.complete_setup("setup_1", &person, &org, &e, at(1)).await
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(StoreError::Stale))));
    assert_eq!(s.count_users().await.unwrap(), 1);
    assert_eq!(s.list_orgs().await.unwrap().len(), 1);

    let person = user(s.as_ref(), "ada@acme.test").await;
    let reset = PasswordReset {
        id: ResetId::from_trusted("rst_0123456789abcdef".into()),
        user_id: person.id.clone(),
        hash: hash(),
        created_at: at(0),
        expires_at: at(1_000_000),
        used_at: None,
    };
    let op = || AuditEvent::new(None, Actor::System, AuditAction::UserCreated, at(0));
    s.insert_password_reset(&reset, &op()).await.unwrap();
    let results = at_once(10, |i| {
        let (s, id, e) = (s.clone(), reset.id.clone(), op());
        async move {
            s.complete_password_reset(&id, &format!("hash{i}"), at(1), &e)
                .await
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(_) | Err(StoreError::Stale))));
}

/// Ten updates of one key made from the same revision: one is written, the others are
/// refused as stale and write nothing (no audit event either).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_from_one_revision_write_once() {
    let (s, _db) = store().await;
    let acme = org(s.as_ref(), "Acme").await;
    let key = new_key(&acme.id);
    s.write_keys(KeyWrite {
        inserts: vec![key.clone()],
        ..KeyWrite::default()
    })
    .await
    .unwrap();
    let results = at_once(10, |_| {
        let (s, key, org) = (s.clone(), key.clone(), acme.id.clone());
        async move {
            let revoked = lifecycle::revoke(&key, at(1)).unwrap().key;
            s.write_keys(KeyWrite {
                updates: vec![revoked],
                events: vec![event(&org, AuditAction::KeyRevoked)],
                ..KeyWrite::default()
            })
            .await
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(StoreError::Stale))));
    let events = s
        .audit_events(&keyward_store::AuditQuery {
            action: Some(AuditAction::KeyRevoked),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

/// Quota spending added by many nodes at once adds up exactly, and each writer gets
/// back the total its own addition made: every total from 1 to 20 exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quota_added_at_once_adds_up_and_each_writer_sees_its_own_total() {
    let (s, _db) = store().await;
    let acme = org(s.as_ref(), "Acme").await;
    let other = org(s.as_ref(), "Other").await;
    let month = keyward_core::quota::Month::of(at(0));
    let results = at_once(20, |i| {
        let (s, a, b) = (s.clone(), acme.id.clone(), other.id.clone());
        async move {
            let (a, b) = (
                QuotaDelta {
                    org: a,
                    month,
                    delta: 1,
                },
                QuotaDelta {
                    org: b,
                    month,
                    delta: 2,
                },
            );
            // Half the batches list the organizations the other way round.
            if i % 2 == 0 {
                s.add_quota_usage(&[a, b]).await.unwrap()
            } else {
                let totals = s.add_quota_usage(&[b, a]).await.unwrap();
                vec![totals[1], totals[0]]
            }
        }
    })
    .await;
    let firsts: BTreeSet<u64> = results.iter().map(|t| t[0]).collect();
    let seconds: BTreeSet<u64> = results.iter().map(|t| t[1]).collect();
    assert_eq!(firsts, (1..=20).collect());
    assert_eq!(seconds, (1..=20).map(|n| n * 2).collect());
    assert_eq!(s.quota_used(&acme.id, month).await.unwrap(), 20);
    assert_eq!(s.quota_used(&other.id, month).await.unwrap(), 40);
}

/// Ten organizations created at once under one name (in different cases): one is
/// made, the others are told the name is taken, not a database failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_name_created_at_once_is_one_organization_and_conflicts() {
    let (s, _db) = store().await;
    let results = at_once(10, |i| {
        let s = s.clone();
        async move {
            let o = Organization {
                id: OrgId::generate(&mut OsRng),
                name: OrgName::parse(if i % 2 == 0 { "Acme" } else { "ACME" }).unwrap(),
                plan: "pro".into(),
                created_at: at(0),
            };
            s.insert_org(&o, &event(&o.id, AuditAction::OrgCreated))
                .await
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(Conflict::OrgName)))));
}

/// The audit log is append-only in the database itself: an update, a delete or a
/// truncation from any client is refused.
#[tokio::test]
async fn the_postgres_audit_log_is_append_only() {
    use sqlx::Connection;
    let (s, db) = store().await;
    org(s.as_ref(), "Acme").await;
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    for sql in [
        "UPDATE audit_events SET actor = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

/// A database URL's password never appears in an error, whatever fails.
#[tokio::test]
async fn a_postgres_password_never_appears_in_errors() {
    for url in [
        "postgres://postgres:hunter2-secret@127.0.0.1:1/keyward",
        "postgresql://postgres:hunter2-secret@127.0.0.1:5432/keyward?sslmode=bogus",
        "postgres://nobody-here:hunter2-secret@127.0.0.1:5432/no_such_database",
    ] {
        let err = keyward_store::open(url).await.err().unwrap().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
