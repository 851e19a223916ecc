//! Admin tokens, users and the first-run setup, for the PostgreSQL backend.

use super::audit::insert_event;
use super::{backend, begin_logged, opt_ms, storable};
use crate::rows::{hash_from, token_from_row, Columns, TOKEN_COLUMNS};
use crate::{Result, SetupToken, StoreError};
use keyward_core::timestamp::to_millis;
use keyward_core::token::AdminToken;
use keyward_core::{AuditEvent, KeyHash, KeyId, Organization, Timestamp, User};
use sqlx::{PgConnection, PgPool};

pub(super) async fn insert_admin_token(
    pool: &PgPool,
    t: &AdminToken,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = begin_logged(pool).await?;
    sqlx::query(&format!(
        "INSERT INTO admin_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(t.id.as_str())
    .bind(t.name.as_str())
    .bind(i64::from(t.hash.pepper_version))
    .bind(&t.hash.digest[..])
    .bind(&t.created_by)
    .bind(to_millis(t.created_at))
    .bind(opt_ms(t.revoked_at))
    .bind(opt_ms(t.last_used_at))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn admin_token(pool: &PgPool, id: &KeyId) -> Result<Option<AdminToken>> {
    sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM admin_tokens WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| token_from_row(&r))
    .transpose()
}

pub(super) async fn list_admin_tokens(pool: &PgPool) -> Result<Vec<AdminToken>> {
    sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at, id"
    ))
    .fetch_all(pool)
    .await
    .map_err(backend)?
    .iter()
    .map(token_from_row)
    .collect()
}

/// Only one of two concurrent revocations matches the still-working row.
pub(super) async fn revoke_admin_token(
    pool: &PgPool,
    id: &KeyId,
    at: Timestamp,
    event: &AuditEvent,
) -> Result<bool> {
    let mut tx = begin_logged(pool).await?;
    let done =
        sqlx::query("UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_millis(at))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)?;
    Ok(true)
}

pub(super) async fn count_users(pool: &PgPool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    Ok(n as u64)
}

/// Setup tokens have no row to lock before the first exists: the table is locked
/// instead (it holds a handful of rows, touched once per start), so two nodes starting
/// at once replace one after the other and one usable token remains. The mode allows
/// reads and conflicts with itself and with every write.
async fn lock_setup_tokens(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("LOCK TABLE setup_tokens IN SHARE ROW EXCLUSIVE MODE")
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(super) async fn replace_setup_token(
    pool: &PgPool,
    id: &str,
    hash: &KeyHash,
    at: Timestamp,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    lock_setup_tokens(&mut tx).await?;
    sqlx::query("DELETE FROM setup_tokens WHERE used_at IS NULL")
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sqlx::query(
        "INSERT INTO setup_tokens (id, pepper_version, secret_hash, created_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(i64::from(hash.pepper_version))
    .bind(&hash.digest[..])
    .bind(to_millis(at))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn setup_token(pool: &PgPool) -> Result<Option<SetupToken>> {
    let Some(row) = sqlx::query(
        "SELECT id, pepper_version, secret_hash FROM setup_tokens WHERE used_at IS NULL",
    )
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    else {
        return Ok(None);
    };
    Ok(Some(SetupToken {
        id: row.text("id")?,
        hash: hash_from(&row)?,
    }))
}

/// Using the token is `UPDATE … WHERE used_at IS NULL`: of two completions at once,
/// the second waits, then finds it used (`Stale`), and nothing of it is written.
pub(super) async fn complete_setup(
    pool: &PgPool,
    token_id: &str,
    user: &User,
    org: &Organization,
    event: &AuditEvent,
    at: Timestamp,
) -> Result<()> {
    if !storable(token_id) {
        return Err(StoreError::Stale);
    }
    let mut tx = begin_logged(pool).await?;
    lock_setup_tokens(&mut tx).await?;
    let used =
        sqlx::query("UPDATE setup_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(to_millis(at))
            .bind(token_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    if used.rows_affected() != 1 {
        return Err(StoreError::Stale);
    }
    super::members::insert_user_row(&mut tx, user).await?;
    super::orgs::insert_org_row(&mut tx, org).await?;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
    )
    .bind(org.id.as_str())
    .bind(user.id.as_str())
    .bind(to_millis(at))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}
