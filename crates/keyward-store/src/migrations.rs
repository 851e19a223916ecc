//! What the backends' embedded migrations have in common: which have run on a
//! database and which are pending, read without changing anything (for `keyward
//! migrate --check` and for servers that do not migrate at start), and sqlx's migrator
//! errors said in words. Each backend has its own migrations and its own migrator; a
//! database records the ones applied to it in `_sqlx_migrations`.

use crate::{Migration, Result, StoreError};
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use std::collections::BTreeMap;

/// The migrations of `migrator` that have not run on the database `conn` reaches,
/// in order, given the versions recorded as applied (with their checksums). A version
/// this build does not know means a newer keyward made the database: refused.
pub(crate) fn pending(
    migrator: &Migrator,
    applied: &BTreeMap<i64, Option<Vec<u8>>>,
) -> Result<Vec<Migration>> {
    let known: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    if let Some(v) = applied
        .keys()
        .find(|v| !known.iter().any(|m| m.version == **v))
    {
        return Err(StoreError::SchemaAhead(*v));
    }
    for m in &known {
        if let Some(Some(checksum)) = applied.get(&m.version) {
            if checksum.as_slice() != &*m.checksum {
                return Err(StoreError::Backend(
                    format!(
                        "migration {} applied to this database differs from the one in this keyward build",
                        m.version
                    )
                    .into(),
                ));
            }
        }
    }
    Ok(known
        .iter()
        .filter(|m| !applied.contains_key(&m.version))
        .map(|m| Migration {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect())
}

/// The versions recorded in `_sqlx_migrations`, which must exist; a migration that
/// failed partway (SQLite only: PostgreSQL's run in a transaction) is an error.
pub(crate) async fn applied<C: Migrate + ?Sized>(
    conn: &mut C,
) -> Result<BTreeMap<i64, Option<Vec<u8>>>> {
    if let Some(v) = conn.dirty_version().await.map_err(migrate_error)? {
        return Err(StoreError::Backend(
            format!("migration {v} failed partway on this database; restore it from a backup")
                .into(),
        ));
    }
    Ok(conn
        .list_applied_migrations()
        .await
        .map_err(migrate_error)?
        .into_iter()
        .map(|m| (m.version, Some(m.checksum.into_owned())))
        .collect())
}

/// A migrator's error in words an operator can act on.
pub(crate) fn migrate_error(e: MigrateError) -> StoreError {
    match e {
        MigrateError::VersionMissing(v) => StoreError::SchemaAhead(v),
        MigrateError::VersionMismatch(v) => StoreError::Backend(
            format!(
                "migration {v} applied to this database differs from the one in this keyward build"
            )
            .into(),
        ),
        MigrateError::Dirty(v) => StoreError::Backend(
            format!("migration {v} failed partway on this database; restore it from a backup")
                .into(),
        ),
        other => StoreError::Backend(Box::new(other)),
    }
}
