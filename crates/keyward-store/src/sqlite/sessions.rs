//! People's sessions and password-reset links, for the SQLite backend. Only keyed
//! hashes of their tokens are stored.

use super::audit::insert_event;
use super::backend;
use crate::rows::{reset_from_row, session_from_row, RESET_COLUMNS, SESSION_COLUMNS};
use crate::{Result, StoreError};
use keyward_core::session::{PasswordReset, Session};
use keyward_core::timestamp::to_millis;
use keyward_core::{AuditEvent, ResetId, SessionId, Timestamp, UserId};
use sqlx::SqlitePool;

pub(super) async fn insert(
    pool: &SqlitePool,
    s: &Session,
    idle_since: Timestamp,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    // The person's sessions that ended without a sign-out would otherwise stay forever.
    sqlx::query(
        "DELETE FROM sessions WHERE user_id = ? AND (expires_at <= ? OR last_seen_at <= ?)",
    )
    .bind(s.user_id.as_str())
    .bind(to_millis(s.created_at))
    .bind(to_millis(idle_since))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    sqlx::query(&format!(
        "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(s.id.as_str())
    .bind(s.user_id.as_str())
    .bind(i64::from(s.hash.pepper_version))
    .bind(&s.hash.digest[..])
    .bind(to_millis(s.created_at))
    .bind(to_millis(s.last_seen_at))
    .bind(to_millis(s.expires_at))
    .bind(s.ip.as_deref())
    .bind(s.user_agent.as_deref())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn get(pool: &SqlitePool, id: &SessionId) -> Result<Option<Session>> {
    sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
    ))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| session_from_row(&r))
    .transpose()
}

pub(super) async fn touch(pool: &SqlitePool, id: &SessionId, at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ?")
        .bind(to_millis(at))
        .bind(id.as_str())
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(super) async fn delete(pool: &SqlitePool, id: &SessionId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = ?")
        .bind(id.as_str())
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_all(
    pool: &SqlitePool,
    user: &UserId,
    event: Option<&AuditEvent>,
) -> Result<u64> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = ?")
        .bind(user.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    if let Some(event) = event {
        insert_event(&mut tx, event).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(done.rows_affected())
}

pub(super) async fn list(pool: &SqlitePool, user: &UserId) -> Result<Vec<Session>> {
    sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ? ORDER BY created_at DESC, id"
    ))
    .bind(user.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?
    .iter()
    .map(session_from_row)
    .collect()
}

pub(super) async fn insert_reset(
    pool: &SqlitePool,
    r: &PasswordReset,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query("UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL")
        .bind(to_millis(r.created_at))
        .bind(r.user_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sqlx::query(&format!(
        "INSERT INTO password_resets ({RESET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)"
    ))
    .bind(r.id.as_str())
    .bind(r.user_id.as_str())
    .bind(i64::from(r.hash.pepper_version))
    .bind(&r.hash.digest[..])
    .bind(to_millis(r.created_at))
    .bind(to_millis(r.expires_at))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn reset(pool: &SqlitePool, id: &ResetId) -> Result<Option<PasswordReset>> {
    sqlx::query(&format!(
        "SELECT {RESET_COLUMNS} FROM password_resets WHERE id = ?"
    ))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| reset_from_row(&r))
    .transpose()
}

pub(super) async fn complete_reset(
    pool: &SqlitePool,
    id: &ResetId,
    password_hash: &str,
    at: Timestamp,
    event: &AuditEvent,
) -> Result<u64> {
    let mut tx = pool.begin().await.map_err(backend)?;
    // Using the link and reading whose it is in one statement: two uses at once cannot
    // both pass.
    let user: Option<String> = sqlx::query_scalar(
        "UPDATE password_resets SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?
         RETURNING user_id",
    )
    .bind(to_millis(at))
    .bind(id.as_str())
    .bind(to_millis(at))
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let Some(user) = user else {
        return Err(StoreError::Stale);
    };
    sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
        .bind(password_hash)
        .bind(&user)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = ?")
        .bind(&user)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)?;
    Ok(ended.rows_affected())
}
