//! Storage tests against a real SQLite file and a real PostgreSQL database (a fresh
//! one per test, dropped after; see `keyward_store::testing`). Each test is written
//! against `dyn Store` and runs on every backend in `backends()`, so both are held to
//! the same guarantees; the few about one backend's files or schema say so in their
//! names.
#![allow(clippy::unwrap_used)]

use keyward_core::lifecycle::{self, NewKey, Policy};
use keyward_core::timestamp::from_millis;
use keyward_core::{
    Actor, ApiKey, AuditAction, AuditEvent, EnvName, EnvScope, Environment, EnvironmentId,
    GeneratedKey, Grant, KeyName, KeyStatus, Kind, Level, OrgAccess, OrgId, OrgName, Organization,
    PepperSet, Prefix, Project, ProjectId, ProjectName, ProjectScope, Resource,
};
use keyward_store::testing::TestDatabase;
use keyward_store::{AuditQuery, Conflict, KeyCursor, KeyQuery, KeyWrite, Store, StoreError};
use rand_core::OsRng;
use serde_json::json;
use std::sync::Arc;

/// A store under test, with what it lives in (dropped after it, in this order).
struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<TestDatabase>,
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
    Backend {
        store: keyward_store::open(&url).await.unwrap(),
        _dir: Some(dir),
        _db: None,
    }
}

async fn postgres() -> Backend {
    let db = TestDatabase::create().await;
    Backend {
        store: keyward_store::open(db.url()).await.unwrap(),
        _dir: None,
        _db: Some(db),
    }
}

/// Every backend under test.
async fn backends() -> Vec<Backend> {
    vec![sqlite().await, postgres().await]
}

fn at(ms: i64) -> keyward_core::Timestamp {
    from_millis(1_800_000_000_000 + ms)
}

fn event(org: &OrgId, action: AuditAction, key: Option<&ApiKey>) -> AuditEvent {
    AuditEvent {
        id: None,
        at: at(0),
        org_id: Some(org.clone()),
        actor: Actor::Cli("tester".into()),
        action,
        key_id: key.map(|k| k.id),
        details: json!({}),
        ip: None,
    }
}

/// An event of the operator's own stream.
fn operator_event(action: AuditAction) -> AuditEvent {
    AuditEvent::new(None, Actor::Cli("tester".into()), action, at(0))
}

async fn org(store: &dyn Store, name: &str) -> Organization {
    let org = Organization {
        id: OrgId::generate(&mut OsRng),
        name: OrgName::parse(name).unwrap(),
        plan: "pro".into(),
        created_at: at(0),
    };
    store
        .insert_org(&org, &event(&org.id, AuditAction::OrgCreated, None))
        .await
        .unwrap();
    org
}

async fn project(store: &dyn Store, org: &OrgId, name: &str) -> Project {
    let p = Project {
        id: ProjectId::generate(&mut OsRng),
        org_id: org.clone(),
        name: ProjectName::parse(name).unwrap(),
        created_at: at(0),
    };
    let envs: Vec<Environment> = keyward_core::model::default_environments()
        .into_iter()
        .map(|(name, kind)| Environment {
            id: EnvironmentId::generate(&mut OsRng),
            project_id: p.id.clone(),
            name,
            kind,
            created_at: at(0),
        })
        .collect();
    store
        .insert_project(&p, &envs, &event(org, AuditAction::ProjectCreated, None))
        .await
        .unwrap();
    p
}

fn new_key(org: &OrgId, grants: Vec<Grant>, created: i64) -> ApiKey {
    let generated = GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut OsRng);
    let peppers = PepperSet::parse("store-test-pepper-0123456789abcdefghijklmnop").unwrap();
    let spec = NewKey {
        name: KeyName::parse("k").unwrap(),
        description: None,
        kind: Kind::Live,
        grants,
        scopes: vec![keyward_core::Catalog::formfex()
            .parse("forms:read")
            .unwrap()],
        org_access: OrgAccess(Some(Level::Read)),
        owner: None,
        expires_at: Some(at(86_400_000)),
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
        at(created),
    )
    .unwrap()
    .key
}

async fn insert(store: &dyn Store, key: &ApiKey) {
    store
        .write_keys(KeyWrite {
            inserts: vec![key.clone()],
            events: vec![event(&key.org_id, AuditAction::KeyCreated, Some(key))],
            ..KeyWrite::default()
        })
        .await
        .unwrap();
}

/// Lookups by what someone typed find nothing, and fail nothing, when it holds a
/// character no stored record can (PostgreSQL refuses NUL in text outright).
#[tokio::test]
async fn lookups_by_strings_no_record_holds_find_nothing() {
    for b in backends().await {
        let s = b.store.as_ref();
        let acme = org(s, "Acme").await;
        for odd in ["\0", "Acme\0", "\u{0}x"] {
            assert_eq!(s.find_org(odd).await.unwrap(), None);
            assert_eq!(s.find_project(&acme.id, odd).await.unwrap(), None);
            assert_eq!(s.find_user(odd).await.unwrap(), None);
            let q = AuditQuery {
                actor: Some(odd.into()),
                ..AuditQuery::default()
            };
            assert!(s.audit_events(&q).await.unwrap().is_empty());
        }
    }
}

#[tokio::test]
async fn organization_names_are_unique_ignoring_case() {
    for b in backends().await {
        let s = b.store.as_ref();
        let acme = org(s, "Acme").await;
        let dup = Organization {
            id: OrgId::generate(&mut OsRng),
            name: OrgName::parse("ACME").unwrap(),
            ..acme.clone()
        };
        let err = s
            .insert_org(&dup, &event(&dup.id, AuditAction::OrgCreated, None))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(Conflict::OrgName)),
            "{err:?}"
        );
        assert_eq!(s.find_org("acme").await.unwrap(), Some(acme.clone()));
        assert_eq!(s.find_org(acme.id.as_str()).await.unwrap(), Some(acme));
        // The failed insert wrote no audit event either.
        let events = s
            .audit_events(&AuditQuery {
                org_id: Some(dup.id),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert!(events.is_empty());
    }
}

#[tokio::test]
async fn project_names_are_unique_per_organization_only() {
    for b in backends().await {
        let s = b.store.as_ref();
        let (a, z) = (org(s, "A").await, org(s, "Z").await);
        let web = project(s, &a.id, "Website").await;
        project(s, &z.id, "Website").await;
        let dup = Project {
            id: ProjectId::generate(&mut OsRng),
            name: ProjectName::parse("website").unwrap(),
            ..web.clone()
        };
        let err = s
            .insert_project(&dup, &[], &event(&a.id, AuditAction::ProjectCreated, None))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(Conflict::ProjectName)),
            "{err:?}"
        );
        assert_eq!(
            s.find_project(&a.id, "WEBSITE").await.unwrap(),
            Some(web.clone())
        );
        // Another organization's project is not found through this one.
        assert_eq!(s.find_project(&z.id, web.id.as_str()).await.unwrap(), None);
        let envs = s.list_environments(&web.id).await.unwrap();
        let mut names: Vec<_> = envs.iter().map(|e| (e.name.to_string(), e.kind)).collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("preview".into(), Kind::Test),
                ("production".into(), Kind::Live)
            ]
        );
    }
}

#[tokio::test]
async fn a_key_reads_back_exactly_as_written() {
    for b in backends().await {
        let s = b.store.as_ref();
        let o = org(s, "Acme").await;
        let p = project(s, &o.id, "Website").await;
        let grants = vec![
            Grant {
                project: ProjectScope::One(p.id.clone()),
                environment: EnvScope::Named(EnvName::parse("production").unwrap()),
                level: Level::Write,
                resources: None,
            },
            Grant {
                project: ProjectScope::All,
                environment: EnvScope::All,
                level: Level::Read,
                resources: Some([Resource::parse("forms").unwrap()].into()),
            },
        ];
        let key = new_key(&o.id, grants, 5);
        insert(s, &key).await;
        assert_eq!(s.key(&key.id).await.unwrap(), Some(key.clone()));
        assert_eq!(s.count_keys().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn a_stale_update_writes_nothing_at_all() {
    for b in backends().await {
        let s = b.store.as_ref();
        let o = org(s, "Acme").await;
        let key = new_key(&o.id, vec![], 0);
        insert(s, &key).await;
        let revoked = lifecycle::revoke(&key, at(1)).unwrap().key;
        // A second change made from the same (now stale) copy, together with a new key
        // and an event: the whole write must be refused.
        let deleted_from_stale = lifecycle::delete(&key, at(2)).unwrap().key;
        s.write_keys(KeyWrite {
            updates: vec![revoked.clone()],
            events: vec![event(&o.id, AuditAction::KeyRevoked, Some(&key))],
            ..KeyWrite::default()
        })
        .await
        .unwrap();
        let other = new_key(&o.id, vec![], 3);
        let err = s
            .write_keys(KeyWrite {
                inserts: vec![other.clone()],
                updates: vec![deleted_from_stale],
                events: vec![event(&o.id, AuditAction::KeyDeleted, Some(&key))],
                limit: None,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Stale), "{err:?}");
        assert_eq!(
            s.key(&key.id).await.unwrap().unwrap().status,
            KeyStatus::Revoked
        );
        assert_eq!(s.key(&other.id).await.unwrap(), None);
        let deletions = s
            .audit_events(&AuditQuery {
                action: Some(AuditAction::KeyDeleted),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert!(deletions.is_empty());
    }
}

#[tokio::test]
async fn key_listings_page_newest_first_and_filter() {
    for b in backends().await {
        let s = b.store.as_ref();
        let (o, other) = (org(s, "Acme").await, org(s, "Other").await);
        let mut keys = Vec::new();
        for i in 0..5 {
            let k = new_key(&o.id, vec![], i / 2); // pairs share a created_at
            insert(s, &k).await;
            keys.push(k);
        }
        insert(s, &new_key(&other.id, vec![], 0)).await;
        let revoked = lifecycle::revoke(&keys[0], at(10)).unwrap().key;
        s.write_keys(KeyWrite {
            updates: vec![revoked],
            ..KeyWrite::default()
        })
        .await
        .unwrap();

        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .list_keys(&KeyQuery {
                    after: after.clone(),
                    limit: 2,
                    ..KeyQuery::all(o.id.clone())
                })
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().map(|k| KeyCursor {
                created_at: k.created_at,
                id: k.id,
            });
            seen.extend(page.into_iter().map(|k| (k.created_at, k.id)));
        }
        assert_eq!(seen.len(), 5, "every key once, no other organization's");
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted, "newest first, ties by id");
        let revoked = s
            .list_keys(&KeyQuery {
                status: Some(KeyStatus::Revoked),
                ..KeyQuery::all(o.id.clone())
            })
            .await
            .unwrap();
        assert_eq!(
            revoked.iter().map(|k| &k.id).collect::<Vec<_>>(),
            [&keys[0].id]
        );
        let tests = s
            .list_keys(&KeyQuery {
                kind: Some(Kind::Test),
                ..KeyQuery::all(o.id.clone())
            })
            .await
            .unwrap();
        assert!(tests.is_empty());
    }
}

#[tokio::test]
async fn audit_queries_filter_by_every_field() {
    for b in backends().await {
        let s = b.store.as_ref();
        let o = org(s, "Acme").await;
        let k = new_key(&o.id, vec![], 0);
        insert(s, &k).await;
        let all = s
            .audit_events(&AuditQuery {
                org_id: Some(o.id.clone()),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|e| e.action).collect::<Vec<_>>(),
            [AuditAction::KeyCreated, AuditAction::OrgCreated]
        );
        let by_key = s
            .audit_events(&AuditQuery {
                key_id: Some(k.id),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(by_key.len(), 1);
        let by_actor = s
            .audit_events(&AuditQuery {
                actor: Some("cli:nobody".into()),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert!(by_actor.is_empty());
        let later = s
            .audit_events(&AuditQuery {
                since: Some(at(1)),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert!(later.is_empty());
        let page = s
            .audit_events(&AuditQuery {
                before_id: all[0].id,
                limit: Some(10),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
    }
}

/// SQLite-specific: the audit log refuses changes even from SQL typed by hand.
#[tokio::test]
async fn the_sqlite_audit_log_is_append_only() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyward.db");
    let s = keyward_store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    org(s.as_ref(), "Acme").await;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for sql in [
        "UPDATE audit_events SET actor = 'x'",
        "DELETE FROM audit_events",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn reopening_runs_no_migration_twice_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
    let s = keyward_store::open(&url).await.unwrap();
    let o = org(s.as_ref(), "Acme").await;
    drop(s);
    let s = keyward_store::open(&url).await.unwrap();
    assert_eq!(s.find_org("Acme").await.unwrap(), Some(o));
}

/// Databases made by the first, hand-written migration runner upgrade in place: their
/// record of applied migrations is adopted, nothing runs twice, nothing is lost.
#[tokio::test]
async fn a_database_from_the_earlier_migration_runner_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyward.db");
    {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        for sql in [
            include_str!("../src/sqlite/migrations/0001_init.sql"),
            include_str!("../src/sqlite/migrations/0002_operator.sql"),
            include_str!("../src/sqlite/migrations/0003_scopes_members.sql"),
            include_str!("../src/sqlite/migrations/0004_change_counter.sql"),
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 0), (2, 0), (3, 0), (4, 0);
             INSERT INTO organizations VALUES ('org_old', 'Oldco', 'pro', 0);",
        ] {
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
        }
    }
    let url = format!("sqlite://{}", path.display());
    let s = keyward_store::open(&url).await.unwrap();
    assert_eq!(
        s.find_org("Oldco").await.unwrap().unwrap().name.as_str(),
        "Oldco"
    );
    drop(s);
    // And it stays adopted: a second open runs nothing and still finds the data.
    let s = keyward_store::open(&url).await.unwrap();
    assert!(s.find_org("oldco").await.unwrap().is_some());
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_credentials() {
    let err = keyward_store::open("mysql://root:hunter2@localhost/db")
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("mysql") && !text.contains("hunter2"),
        "{text}"
    );
}

/// Caches drop exactly what the change log says changed, so every change a check
/// depends on must be in it, naming what it touched, in the same transaction; and a
/// reader that fell behind the log, or never read it, is told to start over.
#[tokio::test]
async fn the_change_log_names_what_every_change_touches() {
    use keyward_store::Change;
    for b in backends().await {
        let s = b.store.as_ref();
        let first = s.changes_since(None).await.unwrap();
        assert_eq!(
            first.changes, None,
            "no position: everything may have changed"
        );
        let mut cursor = first.cursor;
        let after = |from: i64| async move {
            let c = s.changes_since(Some(from)).await.unwrap();
            (c.cursor, c.changes.expect("a complete list"))
        };
        let o = org(s, "Acme").await;
        let (c, _) = after(cursor).await;
        cursor = c;
        let p = project(s, &o.id, "Website").await;
        let (c, changes) = after(cursor).await;
        assert_eq!(
            changes,
            vec![Change::Org(o.id.clone())],
            "projects and environments"
        );
        cursor = c;
        let key = new_key(&o.id, vec![], 0);
        insert(s, &key).await;
        let (c, changes) = after(cursor).await;
        assert_eq!(changes, vec![Change::Key(key.id)], "a new key");
        cursor = c;
        let revoked = lifecycle::revoke(&key, at(1)).unwrap().key;
        s.write_keys(KeyWrite {
            updates: vec![revoked],
            ..KeyWrite::default()
        })
        .await
        .unwrap();
        let (c, changes) = after(cursor).await;
        assert_eq!(changes, vec![Change::Key(key.id)], "a revocation");
        cursor = c;
        let user = keyward_core::User {
            id: keyward_core::UserId::generate(&mut OsRng),
            email: "a@b.co".into(),
            display_name: None,
            password_hash: String::new(),
            created_at: at(0),
        };
        s.insert_user(&user, &operator_event(AuditAction::UserCreated))
            .await
            .unwrap();
        let access = keyward_core::MemberAccess {
            role: keyward_core::Role::Member,
            projects: [(p.id.clone(), Level::Read)].into(),
        };
        s.set_membership(
            &o.id,
            &user.id,
            None,
            &access,
            &event(&o.id, AuditAction::MemberAdded, None),
        )
        .await
        .unwrap();
        let (c, changes) = after(cursor).await;
        let member = Change::Member {
            org: Some(o.id.clone()),
            user: user.id.clone(),
        };
        assert_eq!(changes, vec![member], "a membership and its project levels");
        cursor = c;
        assert!(!s
            .audit_events(&AuditQuery::default())
            .await
            .unwrap()
            .is_empty());
        let (c, changes) = after(cursor).await;
        assert_eq!((c, changes), (cursor, vec![]), "reading changes nothing");
        // Far more changes than one read returns: start over, from the newest.
        for i in 0..1100 {
            project(s, &o.id, &format!("P{i}")).await;
        }
        let c = s.changes_since(Some(cursor)).await.unwrap();
        assert_eq!(c.changes, None);
        assert!(c.cursor > cursor);
        assert_eq!(
            s.changes_since(Some(c.cursor)).await.unwrap().changes,
            Some(vec![])
        );
    }
}

/// The check resolves names against an organization's whole project tree, read at once.
#[tokio::test]
async fn the_project_tree_holds_every_project_with_its_environments() {
    for b in backends().await {
        let s = b.store.as_ref();
        let o = org(s, "Acme").await;
        let other = org(s, "Other").await;
        let web = project(s, &o.id, "Website").await;
        let api = project(s, &o.id, "API").await;
        project(s, &other.id, "Elsewhere").await;
        let tree = s.project_tree(&o.id).await.unwrap();
        let mut found: Vec<(ProjectId, Vec<&str>)> = tree
            .iter()
            .map(|(p, envs)| {
                let mut names: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
                names.sort();
                (p.id.clone(), names)
            })
            .collect();
        found.sort();
        let mut expected = vec![
            (web.id, vec!["preview", "production"]),
            (api.id, vec!["preview", "production"]),
        ];
        expected.sort();
        assert_eq!(found, expected);
        assert!(s
            .project_tree(&OrgId::generate(&mut OsRng))
            .await
            .unwrap()
            .is_empty());
    }
}

/// `keyward users list` shows everyone, oldest first, in the order they were added.
#[tokio::test]
async fn users_are_listed_oldest_first() {
    for b in backends().await {
        let s = b.store.as_ref();
        assert!(s.list_users().await.unwrap().is_empty());
        let mut made = Vec::new();
        for (i, email) in ["cyd@acme.test", "ada@acme.test", "bo@beta.test"]
            .into_iter()
            .enumerate()
        {
            let user = keyward_core::User {
                id: keyward_core::UserId::generate(&mut OsRng),
                email: email.into(),
                display_name: (i == 0).then(|| "Cyd".to_owned()),
                password_hash: String::new(),
                created_at: at(i as i64),
            };
            s.insert_user(&user, &operator_event(AuditAction::UserCreated))
                .await
                .unwrap();
            made.push(user);
        }
        assert_eq!(s.list_users().await.unwrap(), made);
    }
}

/// An organization always keeps an owner, and a membership change applies only to the
/// role it was decided on: both checked inside the transaction, so two demotions
/// racing each other cannot both pass.
#[tokio::test]
async fn membership_changes_keep_an_owner_and_apply_only_to_the_role_they_saw() {
    use keyward_core::{MemberAccess, Role, User, UserId};
    for b in backends().await {
        let s = b.store.as_ref();
        let o = org(s, "Acme").await;
        let mut people = Vec::new();
        for email in ["ada@acme.test", "bob@acme.test"] {
            let u = User {
                id: UserId::generate(&mut OsRng),
                email: email.into(),
                display_name: None,
                password_hash: String::new(),
                created_at: at(0),
            };
            s.insert_user(&u, &operator_event(AuditAction::UserCreated))
                .await
                .unwrap();
            people.push(u.id);
        }
        let as_role = |role| MemberAccess {
            role,
            projects: Default::default(),
        };
        let ev = event(&o.id, AuditAction::MemberChanged, None);
        s.set_membership(&o.id, &people[0], None, &as_role(Role::Owner), &ev)
            .await
            .unwrap();
        // Decided on a state that is gone: nothing written.
        assert!(matches!(
            s.set_membership(&o.id, &people[0], None, &as_role(Role::Member), &ev)
                .await,
            Err(StoreError::Stale)
        ));
        assert!(matches!(
            s.set_membership(
                &o.id,
                &people[0],
                Some(Role::Owner),
                &as_role(Role::Member),
                &ev
            )
            .await,
            Err(StoreError::LastOwner)
        ));
        assert!(matches!(
            s.remove_membership(&o.id, &people[0], Role::Owner, &ev)
                .await,
            Err(StoreError::LastOwner)
        ));
        assert_eq!(
            s.member_access(&o.id, &people[0])
                .await
                .unwrap()
                .map(|a| a.role),
            Some(Role::Owner),
            "nothing was written"
        );
        s.set_membership(&o.id, &people[1], None, &as_role(Role::Owner), &ev)
            .await
            .unwrap();
        // Two owners, each demoted concurrently on the strength of the other: one wins.
        let member = as_role(Role::Member);
        let (a, b2) = tokio::join!(
            s.set_membership(&o.id, &people[0], Some(Role::Owner), &member, &ev),
            s.set_membership(&o.id, &people[1], Some(Role::Owner), &member, &ev),
        );
        assert!(
            a.is_ok() != b2.is_ok(),
            "exactly one demotion wins: {a:?} {b2:?}"
        );
        let owners = s
            .list_members(&o.id)
            .await
            .unwrap()
            .iter()
            .filter(|(_, m)| m.role == Role::Owner)
            .count();
        assert_eq!(owners, 1);
        assert!(
            matches!(
                s.remove_membership(&o.id, &people[0], Role::Owner, &ev)
                    .await,
                Err(StoreError::Stale)
            ) || matches!(
                s.remove_membership(&o.id, &people[1], Role::Owner, &ev)
                    .await,
                Err(StoreError::Stale)
            )
        );
    }
}

/// Usage adds up per key, day and outcome across batches; reads back per day (of one
/// key, or of an organization's keys together) and per key, never across
/// organizations; and never reaches the change log, since it changes nothing a check
/// decides (a cache that dropped keys for it would cost every check a read).
#[tokio::test]
async fn usage_adds_up_per_key_day_and_outcome_and_stays_out_of_the_change_log() {
    use keyward_core::Outcome::{Revoked, Valid};
    use keyward_store::{DayCount, KeyCount, KeyUse, UsageBatch, UsageCount, UsageOf};
    use time::macros::date;
    let count = |key: &ApiKey, day, outcome, count| UsageCount {
        key: key.id,
        day,
        outcome,
        count,
    };
    for b in backends().await {
        let s = b.store.as_ref();
        let acme = org(s, "Acme").await;
        let other = org(s, "Other").await;
        let (k1, k2, k3) = (
            new_key(&acme.id, vec![], 0),
            new_key(&acme.id, vec![], 1),
            new_key(&other.id, vec![], 2),
        );
        for k in [&k1, &k2, &k3] {
            insert(s, k).await;
        }
        let (d1, d2) = (date!(2027 - 01 - 30), date!(2027 - 01 - 31));
        let before = s.changes_since(None).await.unwrap().cursor;
        s.record_usage(&UsageBatch {
            uses: vec![KeyUse {
                key: k1.id,
                at: at(5),
                from: Some("203.0.113.7".into()),
            }],
            counts: vec![
                count(&k1, d1, Valid, 3),
                count(&k1, d1, Revoked, 1),
                count(&k2, d2, Valid, 2),
                count(&k3, d1, Valid, 7),
            ],
        })
        .await
        .unwrap();
        // A key that does not exist adds nothing, and fails nothing else.
        let ghost = new_key(&acme.id, vec![], 3);
        s.record_usage(&UsageBatch {
            uses: vec![],
            counts: vec![
                count(&k1, d1, Valid, 2),
                count(&k1, d2, Valid, 1),
                count(&ghost, d1, Valid, 9),
            ],
        })
        .await
        .unwrap();

        let day = |day, outcome, count| DayCount {
            day,
            outcome,
            count,
        };
        assert_eq!(
            s.usage_per_day(&UsageOf::Key(k1.id), d1, d2).await.unwrap(),
            vec![day(d1, Revoked, 1), day(d1, Valid, 5), day(d2, Valid, 1)],
        );
        assert_eq!(
            s.usage_per_day(&UsageOf::Org(acme.id.clone()), d1, d2)
                .await
                .unwrap(),
            vec![day(d1, Revoked, 1), day(d1, Valid, 5), day(d2, Valid, 3)],
            "an organization's keys add up; another organization's do not count"
        );
        assert_eq!(
            s.usage_per_day(&UsageOf::Org(acme.id.clone()), d2, d2)
                .await
                .unwrap(),
            vec![day(d2, Valid, 3)],
            "only the days asked for"
        );
        assert_eq!(
            s.usage_per_day(&UsageOf::Org(other.id.clone()), d1, d2)
                .await
                .unwrap(),
            vec![day(d1, Valid, 7)],
        );
        let mut per_key = vec![
            KeyCount {
                key: k1.id,
                outcome: Revoked,
                count: 1,
            },
            KeyCount {
                key: k1.id,
                outcome: Valid,
                count: 6,
            },
            KeyCount {
                key: k2.id,
                outcome: Valid,
                count: 2,
            },
        ];
        per_key.sort_by_key(|c| (c.key, c.outcome.as_str()));
        assert_eq!(s.usage_per_key(&acme.id, d1, d2).await.unwrap(), per_key);
        let stored = s.key(&k1.id).await.unwrap().unwrap();
        assert_eq!(stored.last_used_at, Some(at(5)));
        assert_eq!(stored.last_used_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(
            s.changes_since(Some(before)).await.unwrap().changes,
            Some(vec![]),
            "usage is not a change a check depends on"
        );
    }
}

/// Sessions and reset links: read back as written, ended ones dropped at the person's
/// next sign-in, a reset link used once (an older one replaced by a newer), and using
/// it sets the password and ends every session in the same transaction.
#[tokio::test]
async fn sessions_and_reset_links_keep_their_promises() {
    use keyward_core::session::{PasswordReset, ResetToken, Session, SessionToken};
    let peppers = PepperSet::parse("store-test-pepper-0123456789abcdefghijklmn").unwrap();
    for b in backends().await {
        let s = b.store.as_ref();
        let user = keyward_core::User {
            id: keyward_core::UserId::generate(&mut OsRng),
            email: "ada@acme.test".into(),
            display_name: None,
            password_hash: "old".into(),
            created_at: at(0),
        };
        s.insert_user(&user, &operator_event(AuditAction::UserCreated))
            .await
            .unwrap();
        let session = |created: i64| {
            let (id, token) = SessionToken::generate(&mut OsRng);
            Session {
                id,
                user_id: user.id.clone(),
                hash: peppers.hash_str(token.expose_secret()),
                created_at: at(created),
                last_seen_at: at(created),
                expires_at: at(created + 1_000_000),
                ip: Some("203.0.113.7".into()),
                user_agent: Some("Firefox".into()),
            }
        };
        let signed_in = operator_event(AuditAction::UserSignedIn);
        let first = session(0);
        s.insert_session(&first, at(-1), &signed_in).await.unwrap();
        assert_eq!(s.session(&first.id).await.unwrap(), Some(first.clone()));
        s.touch_session(&first.id, at(500)).await.unwrap();
        s.touch_session(&first.id, at(100)).await.unwrap();
        assert_eq!(
            s.session(&first.id).await.unwrap().unwrap().last_seen_at,
            at(500),
            "last seen only moves forward"
        );
        // Signing in again once the first is idle (last seen at or before 600) drops it.
        let second = session(700);
        s.insert_session(&second, at(600), &signed_in)
            .await
            .unwrap();
        assert_eq!(s.session(&first.id).await.unwrap(), None);
        let third = session(800);
        s.insert_session(&third, at(0), &signed_in).await.unwrap();
        assert_eq!(
            s.list_sessions(&user.id).await.unwrap(),
            vec![third.clone(), second.clone()]
        );
        assert!(s.delete_session(&third.id).await.unwrap());
        assert!(!s.delete_session(&third.id).await.unwrap());
        let everywhere = operator_event(AuditAction::UserSignedOutEverywhere);
        s.insert_session(&third, at(0), &signed_in).await.unwrap();
        assert_eq!(
            s.delete_user_sessions(&user.id, Some(&everywhere))
                .await
                .unwrap(),
            2
        );
        assert!(s.list_sessions(&user.id).await.unwrap().is_empty());

        let reset = |created: i64| {
            let (id, token) = ResetToken::generate(&mut OsRng);
            PasswordReset {
                id,
                user_id: user.id.clone(),
                hash: peppers.hash_str(token.expose_secret()),
                created_at: at(created),
                expires_at: at(created + 3_600_000),
                used_at: None,
            }
        };
        let made = operator_event(AuditAction::ResetLinkCreated);
        let older = reset(0);
        s.insert_password_reset(&older, &made).await.unwrap();
        assert_eq!(
            s.password_reset(&older.id).await.unwrap(),
            Some(older.clone())
        );
        let newer = reset(10);
        s.insert_password_reset(&newer, &made).await.unwrap();
        assert_eq!(
            s.password_reset(&older.id).await.unwrap().unwrap().used_at,
            Some(at(10)),
            "a newer link replaces an unused older one"
        );
        let done = operator_event(AuditAction::PasswordReset);
        assert!(matches!(
            s.complete_password_reset(&older.id, "new", at(20), &done)
                .await,
            Err(StoreError::Stale)
        ));
        assert!(
            matches!(
                s.complete_password_reset(&newer.id, "new", at(10 + 3_600_000), &done)
                    .await,
                Err(StoreError::Stale)
            ),
            "expired"
        );
        s.insert_session(&session(30), at(0), &signed_in)
            .await
            .unwrap();
        assert_eq!(
            s.complete_password_reset(&newer.id, "new", at(40), &done)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.find_user("ada@acme.test")
                .await
                .unwrap()
                .unwrap()
                .password_hash,
            "new"
        );
        assert!(s.list_sessions(&user.id).await.unwrap().is_empty());
        assert!(
            matches!(
                s.complete_password_reset(&newer.id, "again", at(50), &done)
                    .await,
                Err(StoreError::Stale)
            ),
            "used once"
        );
        let actions: Vec<AuditAction> = s
            .audit_events(&AuditQuery {
                operator_only: true,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == AuditAction::PasswordReset)
                .count(),
            1
        );
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == AuditAction::UserSignedOutEverywhere)
                .count(),
            1
        );
    }
}
