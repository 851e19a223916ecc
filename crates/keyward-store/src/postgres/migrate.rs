//! Embedded migrations for PostgreSQL, run by sqlx's migrator: each file runs once, in
//! order, in a transaction with the row that records it, and under an advisory lock,
//! so several nodes starting at once on a new release migrate once, one of them.

use super::backend;
use crate::migrations::{applied, migrate_error, pending};
use crate::{Migration, Result};
use sqlx::PgPool;
use std::collections::BTreeMap;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/postgres/migrations");

/// The migrations that have not run on this database, changing nothing.
pub(crate) async fn status(pool: &PgPool) -> Result<Vec<Migration>> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?;
    let done = match table {
        Some(_) => applied(&mut *conn).await?,
        None => BTreeMap::new(),
    };
    pending(&MIGRATOR, &done)
}

/// Runs the pending migrations; the ones that were pending, which have now run.
pub(crate) async fn apply(pool: &PgPool) -> Result<Vec<Migration>> {
    let before = status(pool).await?;
    MIGRATOR.run(pool).await.map_err(migrate_error)?;
    Ok(before)
}
