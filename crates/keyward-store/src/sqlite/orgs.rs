//! Organizations, projects and environments, for the SQLite backend.

use super::audit::insert_event;
use super::{backend, rows};
use crate::Result;
use keyward_core::timestamp::to_millis;
use keyward_core::{AuditEvent, Environment, OrgId, Organization, Project, ProjectId};
use sqlx::{SqliteConnection, SqlitePool};

pub(crate) async fn insert_org_row(conn: &mut SqliteConnection, org: &Organization) -> Result<()> {
    sqlx::query("INSERT INTO organizations (id, name, plan, created_at) VALUES (?, ?, ?, ?)")
        .bind(org.id.as_str())
        .bind(org.name.as_str())
        .bind(&org.plan)
        .bind(to_millis(org.created_at))
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(super) async fn insert_org(
    pool: &SqlitePool,
    org: &Organization,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    insert_org_row(&mut tx, org).await?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn find_org(pool: &SqlitePool, id_or_name: &str) -> Result<Option<Organization>> {
    sqlx::query("SELECT id, name, plan, created_at FROM organizations WHERE id = ? OR lower(name) = lower(?)")
        .bind(id_or_name)
        .bind(id_or_name)
        .fetch_optional(pool)
        .await
        .map_err(backend)?
        .map(|r| rows::org_from_row(&r))
        .transpose()
}

pub(super) async fn list_orgs(pool: &SqlitePool) -> Result<Vec<Organization>> {
    sqlx::query("SELECT id, name, plan, created_at FROM organizations ORDER BY created_at, id")
        .fetch_all(pool)
        .await
        .map_err(backend)?
        .iter()
        .map(rows::org_from_row)
        .collect()
}

pub(super) async fn insert_project(
    pool: &SqlitePool,
    p: &Project,
    envs: &[Environment],
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query("INSERT INTO projects (id, org_id, name, created_at) VALUES (?, ?, ?, ?)")
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
    pool: &SqlitePool,
    org: &OrgId,
    id_or_name: &str,
) -> Result<Option<Project>> {
    sqlx::query(
        "SELECT id, org_id, name, created_at FROM projects
         WHERE org_id = ? AND (id = ? OR lower(name) = lower(?))",
    )
    .bind(org.as_str())
    .bind(id_or_name)
    .bind(id_or_name)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| rows::project_from_row(&r))
    .transpose()
}

pub(super) async fn project(pool: &SqlitePool, id: &ProjectId) -> Result<Option<Project>> {
    sqlx::query("SELECT id, org_id, name, created_at FROM projects WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?
        .map(|r| rows::project_from_row(&r))
        .transpose()
}

pub(super) async fn list_projects(pool: &SqlitePool, org: &OrgId) -> Result<Vec<Project>> {
    sqlx::query("SELECT id, org_id, name, created_at FROM projects WHERE org_id = ? ORDER BY created_at, id")
        .bind(org.as_str())
        .fetch_all(pool)
        .await
        .map_err(backend)?
        .iter()
        .map(rows::project_from_row)
        .collect()
}

pub(super) async fn list_environments(
    pool: &SqlitePool,
    project: &ProjectId,
) -> Result<Vec<Environment>> {
    sqlx::query(
        "SELECT id, project_id, name, kind, created_at FROM environments
         WHERE project_id = ? ORDER BY created_at, name",
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
    pool: &SqlitePool,
    e: &Environment,
    event: &AuditEvent,
) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    insert_environment_row(&mut tx, e).await?;
    insert_event(&mut tx, event).await?;
    tx.commit().await.map_err(backend)
}

async fn insert_environment_row(conn: &mut SqliteConnection, e: &Environment) -> Result<()> {
    sqlx::query(
        "INSERT INTO environments (id, project_id, name, kind, created_at) VALUES (?, ?, ?, ?, ?)",
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
    pool: &SqlitePool,
    org: &OrgId,
) -> Result<Vec<(Project, Vec<Environment>)>> {
    let found = sqlx::query(
        "SELECT p.id, p.org_id, p.name, p.created_at,
                e.id AS env_id, e.name AS env_name, e.kind AS env_kind, e.created_at AS env_created_at
         FROM projects p LEFT JOIN environments e ON e.project_id = p.id
         WHERE p.org_id = ? ORDER BY p.created_at, p.id, e.created_at, e.name",
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
    pool: &SqlitePool,
    org: &OrgId,
    plan: &str,
    event: &AuditEvent,
) -> Result<bool> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let done = sqlx::query("UPDATE organizations SET plan = ? WHERE id = ?")
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
