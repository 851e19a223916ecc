//! Loading keys' grants for the SQLite backend; every other row decodes through the
//! shared [`crate::rows`].

use super::backend;
use crate::rows::Columns;
pub(super) use crate::rows::{
    environment_from_row, event_from_row, grant_columns, joined_environment, key_from_row,
    org_from_row, project_from_row, KEY_COLUMNS,
};
use crate::Result;
use keyward_core::{ApiKey, Grant};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::collections::HashMap;

/// Loads the grants of `keys` in one query and puts each in its place, in the order
/// they were given.
pub(super) async fn attach_grants(pool: &SqlitePool, keys: &mut [ApiKey]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut b = QueryBuilder::<Sqlite>::new(
        "SELECT key_id, project_id, environment, level, resources FROM key_grants WHERE key_id IN (",
    );
    let mut ids = b.separated(", ");
    for k in keys.iter() {
        ids.push_bind(k.id.as_str());
    }
    b.push(") ORDER BY key_id, position");
    let mut by_key: HashMap<String, Vec<Grant>> = HashMap::new();
    for row in b.build().fetch_all(pool).await.map_err(backend)? {
        by_key
            .entry(row.text("key_id")?)
            .or_default()
            .push(crate::rows::grant_from_row(&row)?);
    }
    for k in keys.iter_mut() {
        k.grants = by_key.remove(k.id.as_str()).unwrap_or_default();
    }
    Ok(())
}
