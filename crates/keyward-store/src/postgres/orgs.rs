//! Organizations, projects and environments, for the PostgreSQL backend. Names are
//! unique ignoring ASCII case through unique indexes; two concurrent creations of one
//! name both reach the index, and the second gets the conflict.

use super::audit::insert_event;
use super::{backend, begin_logged, storable};
use crate::rows;
use crate::Result;
use keyward_core::timestamp::to_millis;
use keyward_core::{AuditEvent, Environment, OrgId, Organization, Project, ProjectId};
use sqlx::{PgConnection, PgPool};

pub(super) async fn insert_org_row(conn: &mut PgConnection, org: &Organization) -> Result<()> {
    sqlx::query("INSERT INTO organizations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)")
        .bind(org.id.as_str())
        .bind(org.name.as_str())
        .bind(&org.plan)
        .bind(to_millis(org.created_at))
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// A new organization is not in the change log (nothing can have cached it), so this
/// needs no lock.
pub(super) async fn insert_org(
    pool: &PgPool,
    org: &Organization,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    insert_org_row(&mut tx, org).await?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn find_org(pool: &PgPool, id_or_name: &str) -> Result<Option<Organization>> {
    if !storable(id_or_name) {
        return Ok(None);
    }
    sqlx::query(
        "SELECT id, name, plan, created_at FROM organizations
         WHERE id = $1 OR keyward_ascii_lower(name) = keyward_ascii_lower($1)",
    )
    .bind(id_or_name)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| rows::org_from_row(&r))
    .transpose()
}

pub(super) async fn list_orgs(pool: &PgPool) -> Result<Vec<Organization>> {
    sqlx::query("SELECT id, name, plan, created_at FROM organizations ORDER BY created_at, id")
        .fetch_all(pool)
        .await
        .map_err(backend)?
        .iter()
        .map(rows::org_from_row)
        .collect()
}

pub(super) async fn insert_project(
    pool: &PgPool,
    p: &Project,
    envs: &[Environment],
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = begin_logged(pool).await?;
    sqlx::query("INSERT INTO projects (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(p.id.as_str())
        .bind(p.org_id.as_str())
        .bind(p.name.as_str())
        .bind(to_millis(p.created_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    for e in envs {
        insert_environment_row(&mut tx, e).await?;
    }
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn find_project(
    pool: &PgPool,
    org: &OrgId,
    id_or_name: &str,
) -> Result<Option<Project>> {
    if !storable(id_or_name) {
        return Ok(None);
    }
    sqlx::query(
        "SELECT id, org_id, name, created_at FROM projects
         WHERE org_id = $1 AND (id = $2 OR keyward_ascii_lower(name) = keyward_ascii_lower($2))",
    )
    .bind(org.as_str())
    .bind(id_or_name)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| rows::project_from_row(&r))
    .transpose()
}

pub(super) async fn project(pool: &PgPool, id: &ProjectId) -> Result<Option<Project>> {
    sqlx::query("SELECT id, org_id, name, created_at FROM projects WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?
        .map(|r| rows::project_from_row(&r))
        .transpose()
}

pub(super) async fn list_projects(pool: &PgPool, org: &OrgId) -> Result<Vec<Project>> {
    sqlx::query(
        "SELECT id, org_id, name, created_at FROM projects WHERE org_id = $1 ORDER BY created_at, id",
    )
    .bind(org.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?
    .iter()
    .map(rows::project_from_row)
    .collect()
}

pub(super) async fn list_environments(
    pool: &PgPool,
    project: &ProjectId,
) -> Result<Vec<Environment>> {
    sqlx::query(
        "SELECT id, project_id, name, kind, created_at FROM environments
         WHERE project_id = $1 ORDER BY created_at, name",
    )
    .bind(project.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?
    .iter()
    .map(rows::environment_from_row)
    .collect()
}

pub(super) async fn insert_environment(
    pool: &PgPool,
    e: &Environment,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = begin_logged(pool).await?;
    insert_environment_row(&mut tx, e).await?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

async fn insert_environment_row(conn: &mut PgConnection, e: &Environment) -> Result<()> {
    sqlx::query(
        "INSERT INTO environments (id, project_id, name, kind, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(e.id.as_str())
    .bind(e.project_id.as_str())
    .bind(e.name.as_str())
    .bind(e.kind.as_str())
    .bind(to_millis(e.created_at))
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Every project of `org` with its environments, in one query.
pub(super) async fn project_tree(
    pool: &PgPool,
    org: &OrgId,
) -> Result<Vec<(Project, Vec<Environment>)>> {
    let found = sqlx::query(
        "SELECT p.id, p.org_id, p.name, p.created_at,
                e.id AS env_id, e.name AS env_name, e.kind AS env_kind, e.created_at AS env_created_at
         FROM projects p LEFT JOIN environments e ON e.project_id = p.id
         WHERE p.org_id = $1 ORDER BY p.created_at, p.id, e.created_at, e.name",
    )
    .bind(org.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut out: Vec<(Project, Vec<Environment>)> = Vec::new();
    for row in &found {
        let project = rows::project_from_row(row)?;
        if out.last().is_none_or(|(p, _)| p.id != project.id) {
            out.push((project, Vec::new()));
        }
        if let Some(env) = rows::joined_environment(row)? {
            if let Some((_, envs)) = out.last_mut() {
                envs.push(env);
            }
        }
    }
    Ok(out)
}

pub(super) async fn set_plan(
    pool: &PgPool,
    org: &OrgId,
    plan: &str,
    event: &AuditEvent,
) -> Result<bool> {
    let mut tx = begin_logged(pool).await?;
    let done = sqlx::query("UPDATE organizations SET plan = $1 WHERE id = $2")
        .bind(plan)
        .bind(org.as_str())
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
