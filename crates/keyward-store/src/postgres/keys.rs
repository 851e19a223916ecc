//! API keys and their grants, for the PostgreSQL backend. A key and its grants are
//! written together, with their audit events; an update applies only to the revision
//! it was made from.

use super::audit::insert_event;
use super::{backend, begin_logged, lock_org, opt_ms};
use crate::rows::{self, extras_json, key_from_row, scopes_json, Columns, KEY_COLUMNS};
use crate::{KeyQuery, KeyWrite, Result, StoreError};
use keyward_core::timestamp::to_millis;
use keyward_core::{ApiKey, Grant, KeyId};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use std::collections::HashMap;

async fn write_grants(conn: &mut PgConnection, key: &ApiKey) -> Result<()> {
    sqlx::query("DELETE FROM key_grants WHERE key_id = $1")
        .bind(key.id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    for (position, g) in key.grants.iter().enumerate() {
        let (project, environment, resources) = rows::grant_columns(g);
        sqlx::query(
            "INSERT INTO key_grants (key_id, position, project_id, environment, level, resources)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id.as_str())
        .bind(position as i64)
        .bind(project)
        .bind(environment)
        .bind(g.level.as_str())
        .bind(resources)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

async fn insert_key(conn: &mut PgConnection, k: &ApiKey) -> Result<()> {
    let (allowlist, metadata, rate_limits) = extras_json(k);
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, description, kind, org_access, owner_user_id,
            created_by, created_at, expires_at, status, status_changed_at, rotated_from,
            rotated_to, pepper_version, secret_hash, revision, last_used_at, last_used_ip, scopes,
            ip_allowlist, metadata, rate_limits)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $18, $19, $20, $21, $22, $23)",
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
    .bind(allowlist)
    .bind(metadata)
    .bind(rate_limits)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    write_grants(conn, k).await
}

/// Applies only to the revision before `k`'s: a concurrent update of the same key
/// waits for this one, then finds the revision moved on and matches nothing.
async fn update_key(conn: &mut PgConnection, k: &ApiKey) -> Result<()> {
    let (allowlist, metadata, rate_limits) = extras_json(k);
    let done = sqlx::query(
        "UPDATE api_keys SET name = $1, description = $2, org_access = $3, expires_at = $4,
            status = $5, status_changed_at = $6, rotated_to = $7, pepper_version = $8,
            secret_hash = $9, revision = $10, scopes = $11, ip_allowlist = $12, metadata = $13,
            rate_limits = $14
         WHERE id = $15 AND revision = $16",
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
    .bind(allowlist)
    .bind(metadata)
    .bind(rate_limits)
    .bind(k.id.as_str())
    .bind(k.revision - 1)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Stale);
    }
    write_grants(conn, k).await
}

/// Loads the grants of `keys` in one query and puts each in its place, in the order
/// they were given.
async fn attach_grants(pool: &PgPool, keys: &mut [ApiKey]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    let found = sqlx::query(
        "SELECT key_id, project_id, environment, level, resources FROM key_grants
         WHERE key_id = ANY($1) ORDER BY key_id, position",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut by_key: HashMap<String, Vec<Grant>> = HashMap::new();
    for row in &found {
        by_key
            .entry(row.text("key_id")?)
            .or_default()
            .push(rows::grant_from_row(row)?);
    }
    for k in keys.iter_mut() {
        k.grants = by_key.remove(k.id.as_str()).unwrap_or_default();
    }
    Ok(())
}

pub(super) async fn key(pool: &PgPool, id: &KeyId) -> Result<Option<ApiKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
    let Some(row) = sqlx::query(&sql)
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?
    else {
        return Ok(None);
    };
    let mut keys = vec![key_from_row(&row)?];
    attach_grants(pool, &mut keys).await?;
    Ok(keys.pop())
}

pub(super) async fn list_keys(pool: &PgPool, q: &KeyQuery) -> Result<Vec<ApiKey>> {
    let mut b = QueryBuilder::<Postgres>::new(format!(
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
    let found = b.build().fetch_all(pool).await.map_err(backend)?;
    let mut keys = found.iter().map(key_from_row).collect::<Result<Vec<_>>>()?;
    attach_grants(pool, &mut keys).await?;
    Ok(keys)
}

pub(super) async fn count_keys(pool: &PgPool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    Ok(n as u64)
}

pub(super) async fn write_keys(pool: &PgPool, write: KeyWrite) -> Result<()> {
    let mut tx = begin_logged(pool).await?;
    // The plan's limit: the organization's row stays locked until commit, so two
    // creations cannot both count the keys before either's insert and both pass.
    if let Some(limit) = &write.limit {
        if !lock_org(&mut tx, &limit.org).await? {
            return Err(StoreError::MissingReference);
        }
    }
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

pub(super) async fn ids(pool: &PgPool) -> Result<Vec<KeyId>> {
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
    conn: &mut PgConnection,
    org: &keyward_core::OrgId,
    now: keyward_core::Timestamp,
) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_keys
         WHERE org_id = $1 AND status != 'deleted' AND rotated_to IS NULL
           AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(org.as_str())
    .bind(to_millis(now))
    .fetch_one(conn)
    .await
    .map_err(backend)?;
    Ok(n as u64)
}

pub(super) async fn count_held_keys(
    pool: &PgPool,
    org: &keyward_core::OrgId,
    now: keyward_core::Timestamp,
) -> Result<u64> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    count_held(&mut conn, org, now).await
}
