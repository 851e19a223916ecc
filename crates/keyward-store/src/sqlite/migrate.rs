//! Embedded migrations, run by sqlx's migrator (`sqlx::migrate!`): each file runs once,
//! in order, in a transaction with the row that records it, and the recorded checksum
//! makes a migration edited after release an error instead of a silent divergence.
//!
//! Databases made by keyward's first, hand-written runner record their migrations in
//! `schema_migrations`; [`adopt_earlier_runner`] hands that record over to sqlx once,
//! so upgrading never runs a migration twice.

use super::backend;
use crate::migrations::{applied, migrate_error, pending};
use crate::{Migration, Result, StoreError};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::SqlitePool;
use std::collections::BTreeMap;

static MIGRATOR: Migrator = sqlx::migrate!("src/sqlite/migrations");

/// The migrations that have not run on this database, changing nothing. A database of
/// the earlier runner counts what that runner recorded.
pub(super) async fn status(pool: &SqlitePool) -> Result<Vec<Migration>> {
    let table = |name: &'static str| {
        sqlx::query_scalar::<_, String>(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
        )
        .bind(name)
        .fetch_optional(pool)
    };
    let done: BTreeMap<i64, Option<Vec<u8>>> =
        if table("schema_migrations").await.map_err(backend)?.is_some() {
            sqlx::query_scalar::<_, i64>("SELECT version FROM schema_migrations")
                .fetch_all(pool)
                .await
                .map_err(backend)?
                .into_iter()
                .map(|v| (v, None))
                .collect()
        } else if table("_sqlx_migrations").await.map_err(backend)?.is_some() {
            let mut conn = pool.acquire().await.map_err(backend)?;
            applied(&mut *conn).await?
        } else {
            BTreeMap::new()
        };
    pending(&MIGRATOR, &done)
}

/// Runs the pending migrations; the ones that were pending, which have now run.
pub(super) async fn run(pool: &SqlitePool) -> Result<Vec<Migration>> {
    let before = status(pool).await?;
    adopt_earlier_runner(pool).await?;
    MIGRATOR.run(pool).await.map_err(migrate_error)?;
    Ok(before)
}

/// Records in sqlx's table the migrations the earlier runner applied, then drops its
/// table, all in one transaction. Does nothing on a new or already adopted database.
async fn adopt_earlier_runner(pool: &SqlitePool) -> Result<()> {
    let earlier: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    )
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    if earlier.is_none() {
        return Ok(());
    }
    let mut conn = pool.acquire().await.map_err(backend)?;
    conn.ensure_migrations_table()
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    let mut tx = pool.begin().await.map_err(backend)?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    for version in applied {
        let Some(m) = MIGRATOR.iter().find(|m| m.version == version) else {
            return Err(StoreError::SchemaAhead(version));
        };
        sqlx::query(
            "INSERT OR IGNORE INTO _sqlx_migrations
                (version, description, success, checksum, execution_time)
             VALUES (?, ?, TRUE, ?, 0)",
        )
        .bind(m.version)
        .bind(&*m.description)
        .bind(&*m.checksum)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    sqlx::query("DROP TABLE schema_migrations")
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)
}
