//! Invitations, for the SQLite backend. Accepting one is a single transaction: the
//! invitation is used (only if still pending), the person created if they have no
//! account yet, and the membership made, with their audit events.

use super::audit::insert_event;
use super::members::insert_user_row;
use super::{backend, opt_ms};
use crate::rows::{invitation_from_row, INVITATION_COLUMNS};
use crate::{Conflict, Result, StoreError};
use keyward_core::timestamp::to_millis;
use keyward_core::{AuditEvent, Invitation, InvitationId, OrgId, Timestamp, User, UserId};
use sqlx::SqlitePool;

pub(super) async fn insert(pool: &SqlitePool, i: &Invitation, event: &AuditEvent) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query(&format!(
        "INSERT INTO invitations ({INVITATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(i.id.as_str())
    .bind(i.org_id.as_str())
    .bind(&i.email)
    .bind(i.access.role.as_str())
    .bind(crate::rows::invitation_projects_json(i)?)
    .bind(i.invited_by.encode())
    .bind(to_millis(i.created_at))
    .bind(to_millis(i.expires_at))
    .bind(i64::from(i.hash.pepper_version))
    .bind(&i.hash.digest[..])
    .bind(opt_ms(i.accepted_at))
    .bind(i.accepted_by.as_ref().map(UserId::as_str))
    .bind(opt_ms(i.revoked_at))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn get(pool: &SqlitePool, id: &InvitationId) -> Result<Option<Invitation>> {
    sqlx::query(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = ?"
    ))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| invitation_from_row(&r))
    .transpose()
}

pub(super) async fn list(pool: &SqlitePool, org: &OrgId) -> Result<Vec<Invitation>> {
    sqlx::query(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE org_id = ? ORDER BY created_at DESC, id DESC"
    ))
    .bind(org.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?
    .iter()
    .map(invitation_from_row)
    .collect()
}

/// `Stale` unless the invitation was still pending.
pub(super) async fn revoke(
    pool: &SqlitePool,
    id: &InvitationId,
    at: Timestamp,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let done = sqlx::query(
        "UPDATE invitations SET revoked_at = ?
         WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(to_millis(at))
    .bind(id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Stale);
    }
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

/// Uses invitation `id` (`Stale` unless pending and unexpired at `at`), creating
/// `user` first when `new_user`, and makes them a member with the invitation's access.
pub(super) async fn accept(
    pool: &SqlitePool,
    id: &InvitationId,
    user: &User,
    new_user: bool,
    at: Timestamp,
    events: &[AuditEvent],
) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
    let Some(row) = sqlx::query(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations
         WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?"
    ))
    .bind(id.as_str())
    .bind(to_millis(at))
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?
    else {
        return Err(StoreError::Stale);
    };
    let invitation = invitation_from_row(&row)?;
    if new_user {
        insert_user_row(&mut tx, user).await?;
    }
    let member = sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(invitation.org_id.as_str())
    .bind(user.id.as_str())
    .bind(invitation.access.role.as_str())
    .bind(to_millis(at))
    .execute(&mut *tx)
    .await;
    match member.map_err(backend) {
        Err(StoreError::Conflict(_)) => return Err(StoreError::Conflict(Conflict::Membership)),
        other => {
            other?;
        }
    }
    for (project, level) in &invitation.access.projects {
        // A project deleted since the invitation simply gives nothing.
        sqlx::query(
            "INSERT INTO project_access (project_id, user_id, level)
             SELECT id, ?, ? FROM projects WHERE id = ? AND org_id = ?",
        )
        .bind(user.id.as_str())
        .bind(level.as_str())
        .bind(project.as_str())
        .bind(invitation.org_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    sqlx::query("UPDATE invitations SET accepted_at = ?, accepted_by = ? WHERE id = ?")
        .bind(to_millis(at))
        .bind(user.id.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    for event in events {
        insert_event(&mut tx, event).await?;
    }
    tx.commit().await.map_err(backend)
}
