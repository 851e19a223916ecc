//! Users and memberships, for the SQLite backend.

use super::audit::insert_event;
use super::backend;
use crate::rows::{role, Columns};
use crate::{Result, StoreError};
use keyward_core::timestamp::to_millis;
use keyward_core::{AuditEvent, Level, MemberAccess, OrgId, ProjectId, Role, User, UserId};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::collections::BTreeMap;

pub(super) async fn insert_user(pool: &SqlitePool, u: &User, event: &AuditEvent) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    insert_user_row(&mut tx, u).await?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

/// A user's row; an empty password hash (no password yet) is stored as NULL.
pub(super) async fn insert_user_row(conn: &mut SqliteConnection, u: &User) -> Result<()> {
    sqlx::query("INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(u.id.as_str())
        .bind(&u.email)
        .bind(u.display_name.as_deref())
        .bind(Some(u.password_hash.as_str()).filter(|h| !h.is_empty()))
        .bind(to_millis(u.created_at))
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(super) async fn find_user(pool: &SqlitePool, id_or_email: &str) -> Result<Option<User>> {
    sqlx::query("SELECT id, email, display_name, password_hash, created_at FROM users WHERE id = ? OR lower(email) = lower(?)")
        .bind(id_or_email)
        .bind(id_or_email)
        .fetch_optional(pool)
        .await
        .map_err(backend)?
        .map(|r| crate::rows::user_from_row(&r))
        .transpose()
}

pub(super) async fn list_users(pool: &SqlitePool) -> Result<Vec<User>> {
    sqlx::query("SELECT id, email, display_name, password_hash, created_at FROM users ORDER BY created_at, id")
        .fetch_all(pool)
        .await
        .map_err(backend)?
        .iter()
        .map(crate::rows::user_from_row)
        .collect()
}

async fn projects_of(
    pool: &SqlitePool,
    org: &OrgId,
    user: &UserId,
) -> Result<BTreeMap<ProjectId, Level>> {
    let rows = sqlx::query(
        "SELECT pa.project_id, pa.level FROM project_access pa JOIN projects p ON p.id = pa.project_id
         WHERE p.org_id = ? AND pa.user_id = ?",
    )
    .bind(org.as_str())
    .bind(user.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut out = BTreeMap::new();
    for r in rows {
        out.insert(
            ProjectId::from_trusted(r.text("project_id")?),
            crate::rows::level(&r.text("level")?)?,
        );
    }
    Ok(out)
}

pub(super) async fn member_access(
    pool: &SqlitePool,
    org: &OrgId,
    user: &UserId,
) -> Result<Option<MemberAccess>> {
    let Some(r): Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = ? AND user_id = ?")
            .bind(org.as_str())
            .bind(user.as_str())
            .fetch_optional(pool)
            .await
            .map_err(backend)?
    else {
        return Ok(None);
    };
    Ok(Some(MemberAccess {
        role: role(&r)?,
        projects: projects_of(pool, org, user).await?,
    }))
}

pub(super) async fn list_members(
    pool: &SqlitePool,
    org: &OrgId,
) -> Result<Vec<(User, MemberAccess)>> {
    let rows = sqlx::query(
        "SELECT u.id, u.email, u.display_name, u.password_hash, u.created_at, m.role
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = ? ORDER BY m.created_at, u.id",
    )
    .bind(org.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let user = crate::rows::user_from_row(&r)?;
        let projects = projects_of(pool, org, &user.id).await?;
        let role = role(&r.text("role")?)?;
        out.push((user, MemberAccess { role, projects }));
    }
    Ok(out)
}

/// Drops `user`'s levels on `org`'s projects.
async fn clear_project_access(
    conn: &mut SqliteConnection,
    org: &OrgId,
    user: &UserId,
) -> Result<()> {
    sqlx::query("DELETE FROM project_access WHERE user_id = ? AND project_id IN (SELECT id FROM projects WHERE org_id = ?)")
        .bind(user.as_str())
        .bind(org.as_str())
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// The role `user` holds in `org` within `tx`, which must be what the change was
/// decided on.
async fn expect_role(
    tx: &mut Transaction<'_, Sqlite>,
    org: &OrgId,
    user: &UserId,
    before: Option<Role>,
) -> Result<()> {
    let now: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = ? AND user_id = ?")
            .bind(org.as_str())
            .bind(user.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend)?;
    let now = now.as_deref().map(role).transpose()?;
    if now == before {
        Ok(())
    } else {
        Err(StoreError::Stale)
    }
}

async fn keeps_an_owner(tx: &mut Transaction<'_, Sqlite>, org: &OrgId) -> Result<()> {
    let owners: i64 =
        sqlx::query_scalar("SELECT count(*) FROM memberships WHERE org_id = ? AND role = 'owner'")
            .bind(org.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(backend)?;
    if owners > 0 {
        Ok(())
    } else {
        Err(StoreError::LastOwner)
    }
}

/// A write transaction from its first statement: the checks below read what no other
/// writer can change before this one commits.
async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'_, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)
}

pub(super) async fn set_membership(
    pool: &SqlitePool,
    org: &OrgId,
    user: &UserId,
    before: Option<Role>,
    access: &MemberAccess,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    expect_role(&mut tx, org, user, before).await?;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(org.as_str())
    .bind(user.as_str())
    .bind(access.role.as_str())
    .bind(to_millis(event.at))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    clear_project_access(&mut tx, org, user).await?;
    for (project, level) in &access.projects {
        sqlx::query("INSERT INTO project_access (project_id, user_id, level) VALUES (?, ?, ?)")
            .bind(project.as_str())
            .bind(user.as_str())
            .bind(level.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    if before == Some(Role::Owner) {
        keeps_an_owner(&mut tx, org).await?;
    }
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn remove_membership(
    pool: &SqlitePool,
    org: &OrgId,
    user: &UserId,
    before: Role,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    expect_role(&mut tx, org, user, Some(before)).await?;
    sqlx::query("DELETE FROM memberships WHERE org_id = ? AND user_id = ?")
        .bind(org.as_str())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    clear_project_access(&mut tx, org, user).await?;
    if before == Role::Owner {
        keeps_an_owner(&mut tx, org).await?;
    }
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn memberships(
    pool: &SqlitePool,
    user: &UserId,
) -> Result<Vec<(OrgId, MemberAccess)>> {
    let rows = sqlx::query(
        "SELECT org_id, role FROM memberships WHERE user_id = ? ORDER BY created_at, org_id",
    )
    .bind(user.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let org = OrgId::from_trusted(r.text("org_id")?);
        let role = role(&r.text("role")?)?;
        let projects = projects_of(pool, &org, user).await?;
        out.push((org, MemberAccess { role, projects }));
    }
    Ok(out)
}
