//! `keyward migrate`, `migrate_on_start` and the database's schema version, as an
//! operator meets them: on PostgreSQL (a fresh database per test, dropped after) and
//! on SQLite.

use crate::Env;
use keyward_store::testing::TestDatabase;
use std::process::Output;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn run(e: &Env, db: &TestDatabase, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = e.command(args);
    c.env("KEYWARD_DATABASE_URL", db.url());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An operator who migrates as a step of its own: `--check` names what is pending
/// and exits 1 without applying it; with migrate_on_start off, `serve` refuses the
/// database that is behind and says to run `keyward migrate`; `keyward migrate`
/// applies it, reports what ran, and a second run has nothing to do.
#[test]
fn migrate_applies_what_is_pending_and_servers_can_be_told_not_to() {
    let db = block_on(TestDatabase::create());
    let e = Env::empty();

    let out = run(&e, &db, &["migrate", "--check"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("pending: 0001 init"), "{out:?}");
    assert!(text(&out.stderr).contains("`keyward migrate` applies them"));
    let out = run(&e, &db, &["--json", "migrate", "--check"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["pending"], serde_json::json!(["0001 init"]));
    assert_eq!(json["up_to_date"], false);

    let off = [("KEYWARD_MIGRATE_ON_START", "false")];
    let out = run(&e, &db, &["serve", "--listen", "127.0.0.1:0"], &off);
    assert_eq!(out.status.code(), Some(2), "serve must refuse, not start");
    let err = text(&out.stderr);
    assert!(err.contains("behind") && err.contains("0001 init"), "{err}");
    assert!(err.contains("`keyward migrate`"), "{err}");

    let out = run(&e, &db, &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("applied: 0001 init"), "{out:?}");
    let out = run(&e, &db, &["migrate"], &[]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("nothing was changed"), "{out:?}");
    let out = run(&e, &db, &["migrate", "--check"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("up to date"));

    // Up to date, the commands work with migrate_on_start off.
    assert!(run(&e, &db, &["init"], &off).status.success());
    let out = run(&e, &db, &["orgs", "create", "Acme"], &off);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&e, &db, &["--json", "orgs", "list"], &off);
    assert!(text(&out.stdout).contains("Acme"));
}

/// A database that a newer keyward migrated is refused, by `migrate` and by every
/// command, with a message saying so: an older binary must not write to a schema it
/// does not know.
#[test]
fn a_database_newer_than_this_keyward_is_refused() {
    use sqlx::Connection;
    let db = block_on(TestDatabase::create());
    let e = Env::empty();
    assert!(run(&e, &db, &["init"], &[]).status.success());
    block_on(async {
        let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    });
    for args in [
        &["migrate", "--check"][..],
        &["migrate"],
        &["orgs", "list"],
        &["serve", "--listen", "127.0.0.1:0"],
    ] {
        let out = run(&e, &db, args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("migration 9999") && err.contains("newer keyward"),
            "{args:?}: {err}"
        );
    }
}

/// On SQLite too: a data directory made by `init` has nothing pending.
#[test]
fn a_sqlite_database_made_by_init_is_up_to_date() {
    let e = Env::new();
    let out = e.run(&["migrate", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = e.run(&["migrate"]);
    assert!(text(&out.stdout).contains("nothing was changed"));
}

/// The pool size is checked at start, with a message naming the setting, where it
/// came from and what is allowed.
#[test]
fn the_database_pool_size_is_checked() {
    let e = Env::new();
    for bad in ["0", "-1", "lots", "100000"] {
        let out = e
            .command(&["orgs", "list"])
            .env("KEYWARD_DATABASE_MAX_CONNECTIONS", bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = text(&out.stderr);
        assert!(
            err.contains("database_max_connections from KEYWARD_DATABASE_MAX_CONNECTIONS")
                && err.contains("from 1 to 1000"),
            "{err}"
        );
    }
    let out = e
        .command(&["orgs", "list"])
        .env("KEYWARD_DATABASE_MAX_CONNECTIONS", "2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}
