//! The use cases against a real SQLite file, with a manual clock so that expiry and
//! grace periods are tested exactly, without sleeping.
#![allow(clippy::unwrap_used)]

use keyward_app::{AppError, KeyInput, KeyPatchInput, Keyward, ManualClock, Principal, Settings};
use keyward_core::lifecycle::LifecycleError;
use keyward_core::timestamp::from_millis;
use keyward_core::{
    Actor, Asked, AuditAction, GrantSpec, KeyStatus, Kind, Level, OrgAccess, OrgId, Outcome,
    PepperSet, Prefix, Presented,
};
use keyward_store::faults::Faults;
use keyward_store::AuditQuery;
use std::sync::Arc;
use time::Duration;

struct World {
    app: Keyward,
    clock: Arc<ManualClock>,
    org: OrgId,
    dir: tempfile::TempDir,
}

const PEPPER: &str = "app-test-pepper-0123456789abcdefghijklmnopqrs";

async fn world() -> World {
    world_with(Faults::new()).await
}

/// A world whose store the test can slow down or stall through `faults`.
async fn world_with(faults: Arc<Faults>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = keyward_store::open_with_faults(
        &format!("sqlite://{}", dir.path().join("keyward.db").display()),
        faults,
    )
    .await
    .unwrap();
    let clock = Arc::new(ManualClock::new(from_millis(1_800_000_000_000)));
    let settings = Settings::new(PepperSet::parse(PEPPER).unwrap());
    let app = Keyward::new(store, settings, clock.clone());
    let org = app.create_org(&actor(), "Acme", None).await.unwrap();
    app.create_project(&actor(), &org.id, "Website")
        .await
        .unwrap();
    World {
        app,
        clock,
        org: org.id,
        dir,
    }
}

fn actor() -> Principal {
    Principal::operator(Actor::Cli("tester".into()))
}

fn input(kind: Kind, grants: &[&str]) -> KeyInput {
    KeyInput {
        name: "integration".into(),
        description: Some("for tests".into()),
        kind,
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

fn get(env: &str) -> Asked {
    Asked::Project {
        project: "Website".into(),
        environment: env.into(),
        resource: None,
        level: Level::Read,
    }
}

async fn outcome(w: &World, key: &str, request: &Asked) -> Outcome {
    w.app
        .check(Presented::field(key), request)
        .await
        .unwrap()
        .outcome
}

#[tokio::test]
async fn a_rotated_key_works_through_its_grace_period_and_expires_after() {
    let w = world().await;
    let created = w
        .app
        .create_key(
            &actor(),
            &w.org,
            input(Kind::Live, &["Website:production:read"]),
        )
        .await
        .unwrap();
    let old_secret = created.secret.expose_secret().to_owned();
    let key = w.app.key(&actor(), created.key.id.as_str()).await.unwrap();
    let rotated = w
        .app
        .rotate_key(&actor(), &key, Duration::hours(24))
        .await
        .unwrap();
    let new_secret = rotated.new.secret.expose_secret().to_owned();
    assert_ne!(rotated.new.key.id, created.key.id);
    assert_eq!(rotated.new.key.rotated_from.as_ref(), Some(&created.key.id));
    assert_eq!(rotated.old.rotated_to.as_ref(), Some(&rotated.new.key.id));
    assert_eq!(rotated.new.key.grants, created.key.grants);

    assert_eq!(
        outcome(&w, &old_secret, &get("production")).await,
        Outcome::Valid
    );
    assert_eq!(
        outcome(&w, &new_secret, &get("production")).await,
        Outcome::Valid
    );
    w.clock
        .advance(Duration::hours(24) - Duration::milliseconds(1));
    assert_eq!(
        outcome(&w, &old_secret, &get("production")).await,
        Outcome::Valid
    );
    w.clock.advance(Duration::milliseconds(1));
    assert_eq!(
        outcome(&w, &old_secret, &get("production")).await,
        Outcome::Expired
    );
    assert_eq!(
        outcome(&w, &new_secret, &get("production")).await,
        Outcome::Valid
    );
}

#[tokio::test]
async fn rotating_with_zero_grace_stops_the_old_key_at_once() {
    let w = world().await;
    let created = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    let key = w.app.key(&actor(), created.key.id.as_str()).await.unwrap();
    w.app
        .rotate_key(&actor(), &key, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        outcome(&w, created.secret.expose_secret(), &get("production")).await,
        Outcome::Expired
    );
    // And the old key cannot be rotated again.
    let key = w.app.key(&actor(), created.key.id.as_str()).await.unwrap();
    let err = w
        .app
        .rotate_key(&actor(), &key, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Lifecycle(LifecycleError::AlreadyRotated { .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn revoked_keys_are_revoked_until_reactivated_and_deleted_keys_forever() {
    let w = world().await;
    let created = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["Website:*:manage"]))
        .await
        .unwrap();
    let secret = created.secret.expose_secret();
    let id = created.key.id.as_str();
    w.app
        .revoke_key(&actor(), &w.app.key(&actor(), id).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        outcome(&w, secret, &get("production")).await,
        Outcome::Revoked
    );
    w.app
        .reactivate_key(&actor(), &w.app.key(&actor(), id).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        outcome(&w, secret, &get("production")).await,
        Outcome::Valid
    );
    w.app
        .delete_key(&actor(), &w.app.key(&actor(), id).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        outcome(&w, secret, &get("production")).await,
        Outcome::Revoked
    );
    let err = w
        .app
        .reactivate_key(&actor(), &w.app.key(&actor(), id).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Lifecycle(LifecycleError::Deleted(_))),
        "{err}"
    );
    // The tombstone stays, with its whole history.
    let history = w
        .app
        .audit_events(
            &actor(),
            &AuditQuery {
                key_id: Some(created.key.id),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    let actions: Vec<_> = history.iter().rev().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::KeyCreated,
            AuditAction::KeyRevoked,
            AuditAction::KeyReactivated,
            AuditAction::KeyDeleted
        ]
    );
    assert_eq!(
        w.app.key(&actor(), id).await.unwrap().status,
        KeyStatus::Deleted
    );
}

#[tokio::test]
async fn a_test_key_on_production_is_wrong_environment_and_reads_cannot_delete() {
    let w = world().await;
    let test_key = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Test, &["*:*:manage"]))
        .await
        .unwrap();
    assert_eq!(
        outcome(&w, test_key.secret.expose_secret(), &get("production")).await,
        Outcome::WrongEnvironment
    );
    assert_eq!(
        outcome(&w, test_key.secret.expose_secret(), &get("preview")).await,
        Outcome::Valid
    );
    let reader = w
        .app
        .create_key(
            &actor(),
            &w.org,
            input(Kind::Live, &["Website:production:read"]),
        )
        .await
        .unwrap();
    let delete = Asked::Project {
        project: "Website".into(),
        environment: "production".into(),
        resource: None,
        level: Level::Manage,
    };
    let result = w
        .app
        .check(Presented::field(reader.secret.expose_secret()), &delete)
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::InsufficientPermission);
    assert_eq!(
        result.detail(),
        "this key needs manage on project 'Website' (production); it has read"
    );
}

#[tokio::test]
async fn malformed_and_unknown_keys_are_told_apart() {
    let w = world().await;
    let created = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    let text = created.secret.expose_secret();
    let mut typo = text.to_owned();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    assert_eq!(
        outcome(&w, &typo, &get("production")).await,
        Outcome::Malformed
    );
    let other =
        keyward_core::GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut rand_core::OsRng);
    assert_eq!(
        outcome(&w, other.secret.expose_secret(), &get("production")).await,
        Outcome::Unknown
    );
    assert_eq!(
        w.app
            .check(Presented::Nothing, &get("production"))
            .await
            .unwrap()
            .outcome,
        Outcome::Missing
    );
    assert_eq!(
        w.app
            .check(
                Presented::pick([text, other.secret.expose_secret()]),
                &get("production")
            )
            .await
            .unwrap()
            .outcome,
        Outcome::Malformed
    );
}

#[tokio::test]
async fn the_database_file_never_contains_a_secret() {
    let w = world().await;
    let mut secrets = Vec::new();
    for kind in [Kind::Live, Kind::Test] {
        let c = w
            .app
            .create_key(&actor(), &w.org, input(kind, &["*:*:read"]))
            .await
            .unwrap();
        let key = w.app.key(&actor(), c.key.id.as_str()).await.unwrap();
        let r = w
            .app
            .rotate_key(&actor(), &key, Duration::hours(1))
            .await
            .unwrap();
        secrets.push(c.secret.expose_secret().to_owned());
        secrets.push(r.new.secret.expose_secret().to_owned());
    }
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(w.dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(bytes.len() > 10_000, "the database was written");
    for secret in &secrets {
        // The whole key, and its secret part alone (the id part is public).
        let secret_part = &secret[secret.len() - 49..];
        for needle in [secret.as_str(), secret_part] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "found a secret in the database"
            );
        }
    }
    assert!(
        !bytes.windows(PEPPER.len()).any(|w| w == PEPPER.as_bytes()),
        "found the pepper in the database"
    );
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let w = world().await;
    let cases: Vec<(KeyInput, &str)> = vec![
        (
            KeyInput {
                name: " ".into(),
                ..input(Kind::Live, &["*:*:read"])
            },
            "name",
        ),
        (
            KeyInput {
                name: "x".repeat(101),
                ..input(Kind::Live, &["*:*:read"])
            },
            "name",
        ),
        (input(Kind::Live, &[]), "grant"),
        (
            input(Kind::Live, &["Nope:production:read"]),
            "project 'Nope' not found",
        ),
        (
            input(Kind::Live, &["Website:staging:read"]),
            "no environment 'staging'",
        ),
        (
            input(Kind::Live, &["Website:preview:read"]),
            "a live key only works in live environments",
        ),
        (
            KeyInput {
                expires_at: Some(w.app.now() - Duration::SECOND),
                ..input(Kind::Live, &["*:*:read"])
            },
            "not in the future",
        ),
        (
            KeyInput {
                expires_at: Some(w.app.now() + Duration::days(731)),
                ..input(Kind::Live, &["*:*:read"])
            },
            "more than 730d ahead",
        ),
    ];
    for (bad, expected) in cases {
        let err = w.app.create_key(&actor(), &w.org, bad).await.unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{err} should mention {expected}"
        );
    }
    assert_eq!(w.app.store().count_keys().await.unwrap(), 0);
    let events = w
        .app
        .audit_events(
            &actor(),
            &AuditQuery {
                action: Some(AuditAction::KeyCreated),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(events.is_empty());
    let err = w.app.create_org(&actor(), "acme", None).await.unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)), "{err}");
    let err = w
        .app
        .create_project(&actor(), &w.org, "WEBSITE")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)), "{err}");
}

#[tokio::test]
async fn updates_are_audited_with_before_and_after() {
    let w = world().await;
    let created = w
        .app
        .create_key(
            &actor(),
            &w.org,
            input(Kind::Live, &["Website:production:read"]),
        )
        .await
        .unwrap();
    let key = w.app.key(&actor(), created.key.id.as_str()).await.unwrap();
    let patch = KeyPatchInput {
        name: Some("renamed".into()),
        grants: Some(vec![GrantSpec::parse("Website:production:write").unwrap()]),
        expires_at: Some(Some(w.app.now() + Duration::days(30))),
        ..KeyPatchInput::default()
    };
    let view = w.app.update_key(&actor(), &key, patch).await.unwrap();
    assert_eq!(view.name, "renamed");
    assert_eq!(view.grants[0].label(), "Website:production:write");
    let write = Asked::Project {
        project: "Website".into(),
        environment: "production".into(),
        resource: None,
        level: Level::Write,
    };
    assert_eq!(
        outcome(&w, created.secret.expose_secret(), &write).await,
        Outcome::Valid
    );
    let events = w
        .app
        .audit_events(
            &actor(),
            &AuditQuery {
                action: Some(AuditAction::KeyUpdated),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    let d = &events[0].details;
    assert_eq!(d["before"]["name"], "integration");
    assert_eq!(d["after"]["name"], "renamed");
    assert_eq!(d["before"]["grants"][0]["level"], "read");
    assert_eq!(d["after"]["grants"][0]["level"], "write");
    assert!(d["after"]["expires_at"].is_string());
    // A stale copy cannot overwrite the newer state.
    let err = w.app.revoke_key(&actor(), &key).await.unwrap_err();
    assert!(matches!(err, AppError::Concurrent), "{err}");
}

#[tokio::test]
async fn a_key_never_reaches_a_project_of_another_organization() {
    let w = world().await;
    let other = w.app.create_org(&actor(), "Other", None).await.unwrap();
    w.app
        .create_project(&actor(), &other.id, "Secret")
        .await
        .unwrap();
    let created = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:manage"]))
        .await
        .unwrap();
    let (theirs, _) = w
        .app
        .list_projects(&actor(), &other.id)
        .await
        .unwrap()
        .remove(0);
    for project in ["Secret", theirs.id.as_str()] {
        let req = Asked::Project {
            project: project.into(),
            environment: "production".into(),
            resource: None,
            level: Level::Read,
        };
        assert_eq!(
            outcome(&w, created.secret.expose_secret(), &req).await,
            Outcome::InsufficientPermission
        );
    }
    // Naming another organization's project in a grant fails as "not found".
    let err = w
        .app
        .create_key(
            &actor(),
            &w.org,
            input(Kind::Live, &[&format!("{}:production:read", theirs.id)]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound { .. }), "{err}");
}

/// A mistyped key is refused as `malformed` before any store access: with the keys
/// table gone, a lookup could only fail, yet the malformed key is still answered.
#[tokio::test]
async fn a_malformed_key_is_answered_without_touching_the_store() {
    use sqlx::Connection;
    let w = world().await;
    let created = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    let mut typo = created.secret.expose_secret().to_owned();
    typo.replace_range(10..11, if &typo[10..11] == "Q" { "R" } else { "Q" });

    let url = format!("sqlite://{}", w.dir.path().join("keyward.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("PRAGMA foreign_keys = OFF; DROP TABLE key_grants; DROP TABLE api_keys;")
        .execute(&mut conn)
        .await
        .unwrap();

    let result = w
        .app
        .check(Presented::field(&typo), &get("production"))
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::Malformed);
    // The sabotage is real: a well-formed key does reach the store, and fails there.
    assert!(w
        .app
        .check(
            Presented::field(created.secret.expose_secret()),
            &get("production")
        )
        .await
        .is_err());
}

/// The check cache: a revocation made by another process (here a second instance on the
/// same database file, as the CLI would be) is seen once the cache entry expires, one
/// second by default; one made through this instance is seen at once.
#[tokio::test]
async fn the_check_cache_sees_changes_made_elsewhere_within_its_ttl() {
    let w = world().await;
    let created = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    let secret = created.secret.expose_secret();
    assert_eq!(
        outcome(&w, secret, &get("production")).await,
        Outcome::Valid
    );

    let store = keyward_store::open(&format!(
        "sqlite://{}",
        w.dir.path().join("keyward.db").display()
    ))
    .await
    .unwrap();
    let settings = w.app.settings().clone();
    let other = Keyward::new(store, settings, w.clock.clone());
    let key = other.key(&actor(), created.key.id.as_str()).await.unwrap();
    other.revoke_key(&actor(), &key).await.unwrap();

    assert_eq!(
        outcome(&w, secret, &get("production")).await,
        Outcome::Valid,
        "still cached"
    );
    w.clock.advance(Settings::DEFAULT_CACHE_TTL);
    assert_eq!(
        outcome(&w, secret, &get("production")).await,
        Outcome::Revoked,
        "seen after the TTL"
    );

    // Through this instance: at once.
    let key = w.app.key(&actor(), created.key.id.as_str()).await.unwrap();
    w.app.reactivate_key(&actor(), &key).await.unwrap();
    assert_eq!(
        outcome(&w, secret, &get("production")).await,
        Outcome::Valid
    );
}

/// A change made elsewhere is seen within the cache's ttl, always: a read of the change
/// log that hangs keeps other checks from trusting the cache past the ttl, and a check
/// cancelled in the middle of that read does not leave the cache believing a read is
/// under way (which would keep it from ever reading the log again).
#[tokio::test]
async fn a_hung_or_cancelled_read_of_the_change_log_never_leaves_the_cache_stale() {
    let faults = Faults::new();
    let w = world_with(faults.clone()).await;
    let created = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    let secret = created.secret.expose_secret().to_owned();
    assert_eq!(
        outcome(&w, &secret, &get("production")).await,
        Outcome::Valid
    );
    let other = Keyward::new(
        keyward_store::open(&format!(
            "sqlite://{}",
            w.dir.path().join("keyward.db").display()
        ))
        .await
        .unwrap(),
        w.app.settings().clone(),
        w.clock.clone(),
    );
    let change = |revoke: bool| {
        let other = other.clone();
        let id = created.key.id.to_string();
        async move {
            let key = other.key(&actor(), &id).await.unwrap();
            if revoke {
                other.revoke_key(&actor(), &key).await.unwrap();
            } else {
                other.reactivate_key(&actor(), &key).await.unwrap();
            }
        }
    };

    // The ttl runs out while reads of the log hang: one check is stuck reading it...
    faults.stall_change_reads(true);
    w.clock.advance(Settings::DEFAULT_CACHE_TTL);
    let stuck = {
        let app = w.app.clone();
        let secret = secret.clone();
        tokio::spawn(async move {
            app.check(Presented::field(&secret), &get("production"))
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    change(true).await;
    // ...and the others do not answer from the cache meanwhile.
    assert_eq!(
        outcome(&w, &secret, &get("production")).await,
        Outcome::Revoked,
        "a check while the log read hangs trusted the cache past its ttl"
    );
    stuck.abort();
    let _ = stuck.await;

    // A check cancelled in the middle of its read of the log, then the log answers again.
    change(false).await;
    w.clock.advance(Settings::DEFAULT_CACHE_TTL);
    let cancelled = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        w.app.check(Presented::field(&secret), &get("production")),
    )
    .await;
    assert!(cancelled.is_err(), "the read of the log should have hung");
    faults.stall_change_reads(false);
    assert_eq!(
        outcome(&w, &secret, &get("production")).await,
        Outcome::Valid
    );
    change(true).await;
    w.clock.advance(Settings::DEFAULT_CACHE_TTL);
    assert_eq!(
        outcome(&w, &secret, &get("production")).await,
        Outcome::Revoked,
        "the cache never read the change log again after a cancelled read"
    );
}

/// Users span organizations, so listing or showing them is the operator's alone.
#[tokio::test]
async fn only_the_operator_lists_and_shows_users() {
    let w = world().await;
    let op = actor();
    let ada = w
        .app
        .create_user(&op, "ada@acme.test", Some("Ada"))
        .await
        .unwrap();
    w.app
        .set_member(
            &op,
            &w.org,
            "ada@acme.test",
            keyward_app::MemberInput {
                role: keyward_core::Role::Owner,
                projects: vec![],
            },
        )
        .await
        .unwrap();
    let users = w.app.list_users(&op).await.unwrap();
    assert_eq!(users, std::slice::from_ref(&ada));
    let (user, orgs) = w.app.user_memberships(&op, "ADA@acme.test").await.unwrap();
    assert_eq!(user, ada);
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].0, w.org);
    assert_eq!(orgs[0].1.role, keyward_core::Role::Owner);

    let as_ada = w.app.user_principal("ada@acme.test").await.unwrap();
    assert!(matches!(
        w.app.list_users(&as_ada).await,
        Err(AppError::Forbidden { .. })
    ));
    assert!(matches!(
        w.app.user_memberships(&as_ada, "ada@acme.test").await,
        Err(AppError::Forbidden { .. })
    ));
}

/// "Last used" costs no database write per check: uses are noted in memory and
/// written in one batch, never moved backwards, and never invalidate a cached key.
#[tokio::test]
async fn last_use_is_written_in_batches_without_touching_the_cache() {
    let w = world().await;
    let created = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    let secret = created.secret.expose_secret();
    let before = w.app.store().changes_since(None).await.unwrap().cursor;
    let ip: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    let used = w
        .app
        .check_from(Presented::field(secret), &get("production"), Some(ip))
        .await
        .unwrap();
    assert!(used.outcome.is_valid());
    // A refused check is no use of the key.
    w.app
        .check_from(
            Presented::field(secret),
            &get("preview"),
            Some("198.51.100.1".parse().unwrap()),
        )
        .await
        .unwrap();
    let stored = |app: &Keyward| {
        let app = app.clone();
        let id = created.key.id;
        async move { app.store().key(&id).await.unwrap().unwrap() }
    };
    assert_eq!(
        stored(&w.app).await.last_used_at,
        None,
        "nothing written per check"
    );
    assert_eq!(w.app.flush_usage().await.unwrap(), 1);
    let k = stored(&w.app).await;
    assert_eq!(k.last_used_at, Some(w.app.now()));
    assert_eq!(k.last_used_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(
        w.app.flush_usage().await.unwrap(),
        0,
        "each use written once"
    );
    let after = w.app.store().changes_since(Some(before)).await.unwrap();
    assert_eq!(
        after.changes,
        Some(vec![]),
        "last use is not a change a check depends on"
    );
    // A later check from no known address keeps the address and moves the time on.
    w.clock.advance(Duration::minutes(1));
    outcome(&w, secret, &get("production")).await;
    w.app.flush_usage().await.unwrap();
    let k = stored(&w.app).await;
    assert_eq!(k.last_used_at, Some(w.app.now()));
    assert_eq!(k.last_used_ip.as_deref(), Some("203.0.113.7"));
}

/// A flood of made-up, well-formed keys costs no store read each: the ids that exist
/// are known in memory. A key created here, or by another process a moment ago, is
/// still found at once.
#[tokio::test]
async fn made_up_keys_are_answered_without_a_store_read_and_new_keys_still_work() {
    let faults = Faults::new();
    let w = world_with(faults.clone()).await;
    let before = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    assert_eq!(w.app.build_known_ids().await.unwrap(), 1);
    let reads = faults.key_reads();
    for _ in 0..200 {
        let made_up = keyward_core::GeneratedKey::generate(
            &Prefix::default(),
            Kind::Live,
            &mut rand_core::OsRng,
        );
        assert_eq!(
            outcome(&w, made_up.secret.expose_secret(), &get("production")).await,
            Outcome::Unknown
        );
    }
    assert!(
        faults.key_reads() - reads <= 2,
        "{} store reads",
        faults.key_reads() - reads
    );
    assert_eq!(
        outcome(&w, before.secret.expose_secret(), &get("production")).await,
        Outcome::Valid
    );
    // Made here: known at once.
    let here = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    assert_eq!(
        outcome(&w, here.secret.expose_secret(), &get("production")).await,
        Outcome::Valid
    );
    // Made by another process on the same database: found at once, the change log
    // being read again for an id not known yet.
    let other = Keyward::new(
        keyward_store::open(&format!(
            "sqlite://{}",
            w.dir.path().join("keyward.db").display()
        ))
        .await
        .unwrap(),
        w.app.settings().clone(),
        w.clock.clone(),
    );
    let elsewhere = other
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    w.clock.advance(Duration::milliseconds(10));
    assert_eq!(
        outcome(&w, elsewhere.secret.expose_secret(), &get("production")).await,
        Outcome::Valid,
        "a key made elsewhere a moment ago"
    );
}

/// The usage of one key, today and the days before, as the operator reads it.
async fn usage_of(w: &World, key: &keyward_core::KeyId) -> keyward_app::usage::KeyUsageView {
    let range = keyward_app::usage::UsageRange::parse(None, None, w.app.now().date()).unwrap();
    w.app
        .key_usage(&actor(), key.as_str(), range)
        .await
        .unwrap()
}

/// One line of the metrics text, by its name and labels: its value.
fn metric(app: &Keyward, series: &str) -> f64 {
    let text = app.render_metrics();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

/// Usage counts every check of a key, whatever its outcome, per UTC day, with no
/// write per check: nothing is stored until a flush, which writes it all at once.
/// Checks with no key (malformed, unknown, missing) count only per server. The last use
/// is only ever a valid check's.
#[tokio::test]
async fn usage_counts_every_outcome_per_day_and_is_written_only_by_a_flush() {
    let w = world().await;
    let created = w
        .app
        .create_key(
            &actor(),
            &w.org,
            input(Kind::Live, &["Website:production:read"]),
        )
        .await
        .unwrap();
    let (id, secret) = (created.key.id, created.secret.expose_secret().to_owned());
    let write = Asked::Project {
        project: "Website".into(),
        environment: "production".into(),
        resource: None,
        level: Level::Write,
    };
    for _ in 0..3 {
        assert_eq!(
            outcome(&w, &secret, &get("production")).await,
            Outcome::Valid
        );
    }
    let used_at = w.app.now();
    w.clock.advance(Duration::seconds(1));
    assert_eq!(
        outcome(&w, &secret, &get("preview")).await,
        Outcome::WrongEnvironment
    );
    assert_eq!(
        outcome(&w, &secret, &write).await,
        Outcome::InsufficientPermission
    );
    let made_up =
        keyward_core::GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut rand_core::OsRng);
    assert_eq!(
        outcome(&w, made_up.secret.expose_secret(), &get("production")).await,
        Outcome::Unknown
    );
    assert_eq!(
        outcome(&w, "kw_live_nonsense", &get("production")).await,
        Outcome::Malformed
    );
    assert_eq!(usage_of(&w, &id).await.total, 0, "no write per check");

    assert_eq!(w.app.flush_usage().await.unwrap(), 1, "one key's usage");
    let usage = usage_of(&w, &id).await;
    let today = usage.days.last().unwrap();
    assert_eq!(today.day, w.app.now().date());
    assert_eq!(
        serde_json::to_value(today.outcomes).unwrap(),
        serde_json::json!({ "valid": 3, "wrong_environment": 1, "insufficient_permission": 1 })
    );
    assert_eq!((usage.total, usage.days.len()), (5, 30));
    assert_eq!(w.app.flush_usage().await.unwrap(), 0, "written once");
    assert_eq!(usage_of(&w, &id).await.total, 5, "and counted once");

    // Revoked (a found key) is counted per key; the last use stays the valid one's.
    let key = w.app.key(&actor(), id.as_str()).await.unwrap();
    w.app.revoke_key(&actor(), &key).await.unwrap();
    assert_eq!(
        outcome(&w, &secret, &get("production")).await,
        Outcome::Revoked
    );
    w.app.flush_usage().await.unwrap();
    assert_eq!(usage_of(&w, &id).await.outcomes.get(Outcome::Revoked), 1);
    let stored = w.app.store().key(&id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(used_at));

    // The next UTC day is a day of its own.
    let key = w.app.key(&actor(), id.as_str()).await.unwrap();
    w.app.reactivate_key(&actor(), &key).await.unwrap();
    w.clock.advance(Duration::days(1));
    outcome(&w, &secret, &get("production")).await;
    w.app.flush_usage().await.unwrap();
    let usage = usage_of(&w, &id).await;
    let days: Vec<u64> = usage.days.iter().rev().take(2).map(|d| d.total).collect();
    assert_eq!(days, vec![1, 6]);
    assert_eq!(usage.total, 7);

    let org = w
        .app
        .org_usage(
            &actor(),
            &w.org,
            keyward_app::usage::UsageRange::parse(None, None, w.app.now().date()).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(org.total, 7);
    assert_eq!(org.keys.len(), 1);
    assert_eq!((org.keys[0].key_id, org.keys[0].total), (id, 7));

    // Per server: every check, the keyless ones too.
    for (outcome, n) in [
        ("valid", 4.0),
        ("unknown", 1.0),
        ("malformed", 1.0),
        ("revoked", 1.0),
    ] {
        assert_eq!(
            metric(
                &w.app,
                &format!("keyward_checks_total{{outcome=\"{outcome}\"}}")
            ),
            n,
            "{outcome}"
        );
    }
    assert_eq!(
        metric(&w.app, "keyward_usage_batches_total{result=\"written\"}"),
        3.0
    );
}

/// A flush that cannot write keeps what it took: the next one writes it, added to
/// what was counted meanwhile. Nothing is lost, nothing is counted twice.
#[tokio::test]
async fn a_failed_flush_loses_nothing_and_counts_nothing_twice() {
    let faults = Faults::new();
    let w = world_with(faults.clone()).await;
    let created = w
        .app
        .create_key(&actor(), &w.org, input(Kind::Live, &["*:*:read"]))
        .await
        .unwrap();
    let (id, secret) = (created.key.id, created.secret.expose_secret().to_owned());
    let ip: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    for _ in 0..2 {
        w.app
            .check_from(Presented::field(&secret), &get("production"), Some(ip))
            .await
            .unwrap();
    }
    faults.fail_usage_writes(true);
    assert!(w.app.flush_usage().await.is_err());
    assert_eq!(usage_of(&w, &id).await.total, 0);
    outcome(&w, &secret, &get("preview")).await;
    assert!(w.app.flush_usage().await.is_err(), "still failing");
    faults.fail_usage_writes(false);
    assert_eq!(w.app.flush_usage().await.unwrap(), 1);
    let usage = usage_of(&w, &id).await;
    assert_eq!(usage.outcomes.get(Outcome::Valid), 2);
    assert_eq!(usage.outcomes.get(Outcome::WrongEnvironment), 1);
    assert_eq!(w.app.flush_usage().await.unwrap(), 0);
    assert_eq!(usage_of(&w, &id).await.total, 3);
    let stored = w.app.store().key(&id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(
        metric(&w.app, "keyward_usage_batches_total{result=\"failed\"}"),
        2.0
    );
}
