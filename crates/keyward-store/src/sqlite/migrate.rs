//! Embedded migrations: each file runs once, in order, inside a transaction together
//! with the row that records it, so a failed migration leaves nothing half-applied.

use super::backend;
use crate::{Result, StoreError};
use sqlx::SqlitePool;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_operator.sql")),
    (3, include_str!("migrations/0003_scopes_members.sql")),
    (4, include_str!("migrations/0004_change_counter.sql")),
];

pub(super) async fn run(pool: &SqlitePool) -> Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version     INTEGER PRIMARY KEY,
            applied_at  INTEGER NOT NULL
        )",
    )
    .execute(pool)
    .await
    .map_err(backend)?;
    let applied: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM schema_migrations")
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    let applied = applied.unwrap_or(0);
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if applied > newest {
        return Err(StoreError::Backend(
            format!(
                "the database is at schema version {applied}, newer than this keyward knows ({newest}); upgrade keyward"
            )
            .into(),
        ));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > applied) {
        let mut tx = pool.begin().await.map_err(backend)?;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, strftime('%s','now') * 1000)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
    }
    Ok(())
}
