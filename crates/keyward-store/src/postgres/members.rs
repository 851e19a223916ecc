//! Users and memberships, for the PostgreSQL backend. A membership change locks its
//! organization's row first, so the checks it makes inside its transaction (the role
//! it was decided on; an owner left) read what no concurrent change can alter before
//! it commits: two owners cannot each demote the other and leave none.

use super::audit::insert_event;
use super::{backend, begin_logged, lock_org, storable};
use crate::rows::{level, role, user_from_row, Columns};
use crate::{Result, StoreError};
use keyward_core::timestamp::to_millis;
use keyward_core::{AuditEvent, Level, MemberAccess, OrgId, ProjectId, Role, User, UserId};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::collections::BTreeMap;

pub(super) async fn insert_user(pool: &PgPool, u: &User, event: &AuditEvent) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    insert_user_row(&mut tx, u).await?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

/// A user's row; an empty password hash (no password yet) is stored as NULL.
pub(super) async fn insert_user_row(conn: &mut PgConnection, u: &User) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
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

pub(super) async fn find_user(pool: &PgPool, id_or_email: &str) -> Result<Option<User>> {
    if !storable(id_or_email) {
        return Ok(None);
    }
    sqlx::query(
        "SELECT id, email, display_name, password_hash, created_at FROM users
         WHERE id = $1 OR keyward_ascii_lower(email) = keyward_ascii_lower($1)",
    )
    .bind(id_or_email)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| user_from_row(&r))
    .transpose()
}

pub(super) async fn list_users(pool: &PgPool) -> Result<Vec<User>> {
    sqlx::query(
        "SELECT id, email, display_name, password_hash, created_at FROM users ORDER BY created_at, id",
    )
    .fetch_all(pool)
    .await
    .map_err(backend)?
    .iter()
    .map(user_from_row)
    .collect()
}

async fn projects_of(
    pool: &PgPool,
    org: &OrgId,
    user: &UserId,
) -> Result<BTreeMap<ProjectId, Level>> {
    let found = sqlx::query(
        "SELECT pa.project_id, pa.level FROM project_access pa JOIN projects p ON p.id = pa.project_id
         WHERE p.org_id = $1 AND pa.user_id = $2",
    )
    .bind(org.as_str())
    .bind(user.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut out = BTreeMap::new();
    for r in &found {
        out.insert(
            ProjectId::from_trusted(r.text("project_id")?),
            level(&r.text("level")?)?,
        );
    }
    Ok(out)
}

pub(super) async fn member_access(
    pool: &PgPool,
    org: &OrgId,
    user: &UserId,
) -> Result<Option<MemberAccess>> {
    let Some(r): Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
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

pub(super) async fn list_members(pool: &PgPool, org: &OrgId) -> Result<Vec<(User, MemberAccess)>> {
    let found = sqlx::query(
        "SELECT u.id, u.email, u.display_name, u.password_hash, u.created_at, m.role
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1
         ORDER BY m.created_at, u.id",
    )
    .bind(org.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut out = Vec::with_capacity(found.len());
    for r in &found {
        let user = user_from_row(r)?;
        let projects = projects_of(pool, org, &user.id).await?;
        let role = role(&r.text("role")?)?;
        out.push((user, MemberAccess { role, projects }));
    }
    Ok(out)
}

/// Drops `user`'s levels on `org`'s projects.
async fn clear_project_access(conn: &mut PgConnection, org: &OrgId, user: &UserId) -> Result<()> {
    sqlx::query(
        "DELETE FROM project_access
         WHERE user_id = $1 AND project_id IN (SELECT id FROM projects WHERE org_id = $2)",
    )
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
    tx: &mut Transaction<'_, Postgres>,
    org: &OrgId,
    user: &UserId,
    before: Option<Role>,
) -> Result<()> {
    let now: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
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

async fn keeps_an_owner(tx: &mut Transaction<'_, Postgres>, org: &OrgId) -> Result<()> {
    let owners: i64 =
        sqlx::query_scalar("SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
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

/// A membership change's transaction: the change log's lock, then the organization's
/// row (see the module's documentation). Each statement after it reads what every
/// earlier change of this organization's members committed.
async fn begin_member_change<'p>(
    pool: &'p PgPool,
    org: &OrgId,
) -> Result<Transaction<'p, Postgres>> {
    let mut tx = begin_logged(pool).await?;
    // No such organization: the checks and writes that follow say so as they would
    // without the lock.
    lock_org(&mut tx, org).await?;
    Ok(tx)
}

pub(super) async fn set_membership(
    pool: &PgPool,
    org: &OrgId,
    user: &UserId,
    before: Option<Role>,
    access: &MemberAccess,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = begin_member_change(pool, org).await?;
    expect_role(&mut tx, org, user, before).await?;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
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
        sqlx::query("INSERT INTO project_access (project_id, user_id, level) VALUES ($1, $2, $3)")
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
    pool: &PgPool,
    org: &OrgId,
    user: &UserId,
    before: Role,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = begin_member_change(pool, org).await?;
    expect_role(&mut tx, org, user, Some(before)).await?;
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
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
    pool: &PgPool,
    user: &UserId,
) -> Result<Vec<(OrgId, MemberAccess)>> {
    let found = sqlx::query(
        "SELECT org_id, role FROM memberships WHERE user_id = $1 ORDER BY created_at, org_id",
    )
    .bind(user.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut out = Vec::with_capacity(found.len());
    for r in &found {
        let org = OrgId::from_trusted(r.text("org_id")?);
        let role = role(&r.text("role")?)?;
        let projects = projects_of(pool, &org, user).await?;
        out.push((org, MemberAccess { role, projects }));
    }
    Ok(out)
}
