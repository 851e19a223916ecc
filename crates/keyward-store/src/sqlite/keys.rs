//! API keys and their grants, for the SQLite backend. A key and its grants are written
//! together; an update applies only to the revision it was made from.

use super::audit::insert_event;
use super::rows::{self, key_from_row, KEY_COLUMNS};
use super::{backend, opt_ms};
use crate::rows::{extras_json, scopes_json};
use crate::{KeyQuery, KeyWrite, Result, StoreError};
use keyward_core::timestamp::to_millis;
use keyward_core::{ApiKey, KeyId};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};

async fn write_grants(tx: &mut Transaction<'_, Sqlite>, key: &ApiKey) -> Result<()> {
    sqlx::query("DELETE FROM key_grants WHERE key_id = ?")
        .bind(key.id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    for (position, g) in key.grants.iter().enumerate() {
        let (project, environment, resources) = rows::grant_columns(g);
        sqlx::query(
            "INSERT INTO key_grants (key_id, position, project_id, environment, level, resources)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id.as_str())
        .bind(position as i64)
        .bind(project)
        .bind(environment)
        .bind(g.level.as_str())
        .bind(resources)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

async fn insert_key(tx: &mut Transaction<'_, Sqlite>, k: &ApiKey) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, description, kind, org_access, owner_user_id,
            created_by, created_at, expires_at, status, status_changed_at, rotated_from,
            rotated_to, pepper_version, secret_hash, revision, last_used_at, last_used_ip, scopes,
            ip_allowlist, metadata, rate_limits)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(k.id.as_str())
    .bind(k.org_id.as_str())
    .bind(k.name.as_str())
    .bind(k.description.as_ref().map(|d| d.as_str()))
    .bind(k.kind.as_str())
    .bind(k.org_access.as_str())
    .bind(k.owner.as_ref().map(|u| u.as_str()))
    .bind(k.created_by.encode())
    .bind(to_millis(k.created_at))
    .bind(opt_ms(k.expires_at))
    .bind(k.status.as_str())
    .bind(opt_ms(k.status_changed_at))
    .bind(k.rotated_from.as_ref().map(KeyId::as_str))
    .bind(k.rotated_to.as_ref().map(KeyId::as_str))
    .bind(i64::from(k.hash.pepper_version))
    .bind(&k.hash.digest[..])
    .bind(k.revision)
    .bind(opt_ms(k.last_used_at))
    .bind(k.last_used_ip.as_deref())
    .bind(scopes_json(k))
    .bind(extras_json(k).0)
    .bind(extras_json(k).1)
    .bind(extras_json(k).2)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    write_grants(tx, k).await
}

async fn update_key(tx: &mut Transaction<'_, Sqlite>, k: &ApiKey) -> Result<()> {
    let done = sqlx::query(
        "UPDATE api_keys SET name = ?, description = ?, org_access = ?, expires_at = ?,
            status = ?, status_changed_at = ?, rotated_to = ?, pepper_version = ?,
            secret_hash = ?, revision = ?, scopes = ?, ip_allowlist = ?, metadata = ?,
            rate_limits = ?
         WHERE id = ? AND revision = ?",
    )
    .bind(k.name.as_str())
    .bind(k.description.as_ref().map(|d| d.as_str()))
    .bind(k.org_access.as_str())
    .bind(opt_ms(k.expires_at))
    .bind(k.status.as_str())
    .bind(opt_ms(k.status_changed_at))
    .bind(k.rotated_to.as_ref().map(KeyId::as_str))
    .bind(i64::from(k.hash.pepper_version))
    .bind(&k.hash.digest[..])
    .bind(k.revision)
    .bind(scopes_json(k))
    .bind(extras_json(k).0)
    .bind(extras_json(k).1)
    .bind(extras_json(k).2)
    .bind(k.id.as_str())
    .bind(k.revision - 1)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Stale);
    }
    write_grants(tx, k).await
}

pub(super) async fn key(pool: &SqlitePool, id: &KeyId) -> Result<Option<ApiKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?");
    let Some(row) = sqlx::query(&sql)
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?
    else {
        return Ok(None);
    };
    let mut keys = vec![key_from_row(&row)?];
    rows::attach_grants(pool, &mut keys).await?;
    Ok(keys.pop())
}

pub(super) async fn list_keys(pool: &SqlitePool, q: &KeyQuery) -> Result<Vec<ApiKey>> {
    let mut b = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = "
    ));
    b.push_bind(q.org_id.as_str());
    if let Some(status) = q.status {
        b.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(kind) = q.kind {
        b.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(after) = &q.after {
        let at = to_millis(after.created_at);
        b.push(" AND (created_at < ")
            .push_bind(at)
            .push(" OR (created_at = ")
            .push_bind(at)
            .push(" AND id < ")
            .push_bind(after.id.as_str())
            .push("))");
    }
    b.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(q.limit));
    let rows = b.build().fetch_all(pool).await.map_err(backend)?;
    let mut keys = rows.iter().map(key_from_row).collect::<Result<Vec<_>>>()?;
    rows::attach_grants(pool, &mut keys).await?;
    Ok(keys)
}

pub(super) async fn count_keys(pool: &SqlitePool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    Ok(n as u64)
}

pub(super) async fn write_keys(pool: &SqlitePool, write: KeyWrite) -> Result<()> {
    // A write that counts keys against a limit must see every other writer's keys.
    let mut tx = match write.limit {
        Some(_) => pool.begin_with("BEGIN IMMEDIATE").await,
        None => pool.begin().await,
    }
    .map_err(backend)?;
    for k in &write.inserts {
        insert_key(&mut tx, k).await?;
    }
    for k in &write.updates {
        update_key(&mut tx, k).await?;
    }
    if let Some(limit) = &write.limit {
        let held = count_held(&mut tx, &limit.org, limit.now).await?;
        if held > u64::from(limit.max) {
            return Err(StoreError::KeyLimit {
                held: held - write.inserts.len() as u64,
            });
        }
    }
    for e in &write.events {
        insert_event(&mut tx, e).await?;
    }
    tx.commit().await.map_err(backend)
}

pub(super) async fn ids(pool: &SqlitePool) -> Result<Vec<KeyId>> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM api_keys")
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    ids.iter()
        .map(|id| {
            KeyId::parse(id).map_err(|_| StoreError::Backend("corrupt key id in api_keys".into()))
        })
        .collect()
}

/// The keys of `org` that count against its plan's limit at `now`: neither deleted nor
/// expired, nor replaced by a rotation.
async fn count_held(
    tx: &mut Transaction<'_, Sqlite>,
    org: &keyward_core::OrgId,
    now: keyward_core::Timestamp,
) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_keys
         WHERE org_id = ? AND status != 'deleted' AND rotated_to IS NULL
           AND (expires_at IS NULL OR expires_at > ?)",
    )
    .bind(org.as_str())
    .bind(to_millis(now))
    .fetch_one(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(n as u64)
}

pub(super) async fn count_held_keys(
    pool: &SqlitePool,
    org: &keyward_core::OrgId,
    now: keyward_core::Timestamp,
) -> Result<u64> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let n = count_held(&mut tx, org, now).await?;
    tx.commit().await.map_err(backend)?;
    Ok(n)
}
