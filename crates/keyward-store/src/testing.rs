//! For tests (feature `testing`, never in releases): a fresh PostgreSQL database per
//! test, dropped when the test ends, so PostgreSQL tests are as isolated as SQLite's
//! temporary files. The server comes from `KEYWARD_TEST_POSTGRES_URL` (default
//! [`DEFAULT_ADMIN_URL`]: this machine's PostgreSQL, trust authentication), as a user
//! that may create databases. An unreachable server fails the test with a message
//! saying so: PostgreSQL tests never skip silently.

use sqlx::Connection;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the tests' databases are made when `KEYWARD_TEST_POSTGRES_URL` is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The prefix of every test database's name, followed by its creation time (Unix
/// seconds), so leftovers of killed runs can be told and dropped.
const PREFIX: &str = "keyward_t_";

/// A leftover older than this belongs to a run that was killed: no test runs so long.
const LEFTOVER_AFTER_SECS: u64 = 3600;

/// A database of its own for one test; dropped (with any connection still open to
/// it) when this is.
pub struct TestDatabase {
    name: String,
    url: String,
    admin: String,
}

fn admin_url() -> String {
    std::env::var("KEYWARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

/// `url` with its database (the path) replaced by `name`, keeping any parameters.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let host = rest.split('/').next().unwrap_or(rest);
    match query {
        Some(q) => format!("{scheme}://{host}/{name}?{q}"),
        None => format!("{scheme}://{host}/{name}"),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn admin_connection(admin: &str) -> sqlx::PgConnection {
    match sqlx::PgConnection::connect(admin).await {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL is not reachable for the PostgreSQL tests ({e}). They need a server \
             where they may create databases: start this machine's (Debian: `pg_ctlcluster \
             --skip-systemctl-redirect $(ls /etc/postgresql) main start`), or set \
             KEYWARD_TEST_POSTGRES_URL (default {DEFAULT_ADMIN_URL})"
        ),
    }
}

impl TestDatabase {
    /// Creates a new, empty database; panics, saying why, if it cannot.
    pub async fn create() -> TestDatabase {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let admin = admin_url();
        let mut conn = admin_connection(&admin).await;
        sweep_leftovers(&mut conn).await;
        let name = format!(
            "{PREFIX}{}_{}_{}_{}",
            now_secs(),
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default()
        );
        if let Err(e) = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
        {
            panic!("cannot create the test database {name}: {e}");
        }
        let _ = conn.close().await;
        TestDatabase {
            url: with_database(&admin, &name),
            name,
            admin,
        }
    }

    /// The database's URL, for `keyward_store::open` or `KEYWARD_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Drops test databases left by runs that were killed before their guards dropped
/// them. Another run's fresh database is never touched: only ones over an hour old.
async fn sweep_leftovers(conn: &mut sqlx::PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(PREFIX)
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    let now = now_secs();
    for name in names {
        let made: Option<u64> = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse().ok());
        if made.is_some_and(|made| now.saturating_sub(made) > LEFTOVER_AFTER_SECS) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut *conn)
                .await;
        }
    }
}

impl Drop for TestDatabase {
    /// Drops the database from a thread with a runtime of its own: a test's runtime
    /// may be ending, or be the one this runs on, and cannot be blocked on.
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<_, String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_parameters_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "t2"),
            "postgresql://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
    }
}
