//! Embedded migrations, run by sqlx's migrator (`sqlx::migrate!`): each file runs once,
//! in order, in a transaction with the row that records it, and the recorded checksum
//! makes a migration edited after release an error instead of a silent divergence.
//!
//! Databases made by keyward's first, hand-written runner record their migrations in
//! `schema_migrations`; [`adopt_earlier_runner`] hands that record over to sqlx once,
//! so upgrading never runs a migration twice.

use super::backend;
use crate::{Result, StoreError};
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::SqlitePool;

static MIGRATOR: Migrator = sqlx::migrate!("src/sqlite/migrations");

pub(super) async fn run(pool: &SqlitePool) -> Result<()> {
    adopt_earlier_runner(pool).await?;
    MIGRATOR.run(pool).await.map_err(|e| match e {
        MigrateError::VersionMissing(v) => StoreError::Backend(
            format!(
                "the database has migration {v}, which this keyward does not know: it was made by a newer keyward; upgrade keyward"
            )
            .into(),
        ),
        MigrateError::VersionMismatch(v) => StoreError::Backend(
            format!("migration {v} applied to this database differs from the one in this keyward build")
                .into(),
        ),
        other => StoreError::Backend(Box::new(other)),
    })
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
            return Err(StoreError::Backend(
                format!("the database has migration {version}, which this keyward does not know; upgrade keyward").into(),
            ));
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
