//! Reading the change log (migration 0005) for caches, for the SQLite backend. SQLite
//! has one writer at a time, so rows commit in the order of their sequence numbers and
//! "everything after row N" never misses a row that commits later with a smaller one.

use super::backend;
use crate::{Changes, Result};
use sqlx::SqlitePool;

/// At most this many changes are returned at once; past that, a cache starts over,
/// which is cheaper than dropping its entries one by one.
const MOST: i64 = 1000;

pub(super) async fn since(pool: &SqlitePool, cursor: Option<i64>) -> Result<Changes> {
    // One read transaction, so that the rows and the bounds agree.
    let mut tx = pool.begin().await.map_err(backend)?;
    let (oldest, newest): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT min(seq), max(seq) FROM change_log")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
    let newest = newest.unwrap_or(0);
    let Some(cursor) = cursor else {
        return Ok(Changes {
            cursor: newest,
            changes: None,
        });
    };
    // Trimmed past the cursor: what changed in between can no longer be told.
    if oldest.is_some_and(|oldest| oldest > cursor + 1) || cursor > newest {
        return Ok(Changes {
            cursor: newest,
            changes: None,
        });
    }
    let rows = sqlx::query(
        "SELECT seq, subject, org_id, key_id, user_id FROM change_log
         WHERE seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(cursor)
    .bind(MOST + 1)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    crate::rows::changes(cursor, newest, &rows, MOST as usize)
}
