//! Turning SQLite rows into domain records and back. A row that does not decode is
//! reported as a backend error: it means the file was changed outside keyward.

use super::backend;
use crate::{Result, StoreError};
use keyward_core::timestamp::from_millis;
use keyward_core::{
    Actor, ApiKey, AuditAction, AuditEvent, Description, EnvName, EnvScope, Environment,
    EnvironmentId, Grant, KeyHash, KeyId, KeyName, KeyStatus, Kind, Level, OrgAccess, OrgId,
    OrgName, Organization, Project, ProjectId, ProjectName, ProjectScope, UserId,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::collections::{BTreeSet, HashMap};

pub(super) const KEY_COLUMNS: &str = "id, org_id, name, description, kind, org_access, \
    owner_user_id, created_by, created_at, expires_at, status, status_changed_at, \
    rotated_from, rotated_to, pepper_version, secret_hash, revision, last_used_at, last_used_ip, \
    scopes, ip_allowlist, metadata, rate_limits";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("corrupt row in the database: {what}").into())
}

fn get<'r, T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>>(
    row: &'r SqliteRow,
    col: &str,
) -> Result<T> {
    row.try_get(col).map_err(backend)
}

fn ts(row: &SqliteRow, col: &str) -> Result<keyward_core::Timestamp> {
    Ok(from_millis(get::<i64>(row, col)?))
}

fn opt_ts(row: &SqliteRow, col: &str) -> Result<Option<keyward_core::Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(from_millis))
}

pub(super) fn org_from_row(row: &SqliteRow) -> Result<Organization> {
    Ok(Organization {
        id: OrgId::from_trusted(get(row, "id")?),
        name: OrgName::parse(&get::<String>(row, "name")?).map_err(corrupt)?,
        plan: get(row, "plan")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn project_from_row(row: &SqliteRow) -> Result<Project> {
    Ok(Project {
        id: ProjectId::from_trusted(get(row, "id")?),
        org_id: OrgId::from_trusted(get(row, "org_id")?),
        name: ProjectName::parse(&get::<String>(row, "name")?).map_err(corrupt)?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) fn environment_from_row(row: &SqliteRow) -> Result<Environment> {
    Ok(Environment {
        id: EnvironmentId::from_trusted(get(row, "id")?),
        project_id: ProjectId::from_trusted(get(row, "project_id")?),
        name: EnvName::parse(&get::<String>(row, "name")?).map_err(corrupt)?,
        kind: Kind::parse(&get::<String>(row, "kind")?).map_err(corrupt)?,
        created_at: ts(row, "created_at")?,
    })
}

/// The environment columns of a project joined with its environments (`env_*`);
/// `None` for a project without any.
pub(super) fn joined_environment(row: &SqliteRow) -> Result<Option<Environment>> {
    let Some(id) = get::<Option<String>>(row, "env_id")? else {
        return Ok(None);
    };
    Ok(Some(Environment {
        id: EnvironmentId::from_trusted(id),
        project_id: ProjectId::from_trusted(get(row, "id")?),
        name: EnvName::parse(&get::<String>(row, "env_name")?).map_err(corrupt)?,
        kind: Kind::parse(&get::<String>(row, "env_kind")?).map_err(corrupt)?,
        created_at: ts(row, "env_created_at")?,
    }))
}

pub(super) fn key_from_row(row: &SqliteRow) -> Result<ApiKey> {
    let digest: Vec<u8> = get(row, "secret_hash")?;
    let digest: [u8; 32] = digest.try_into().map_err(|_| corrupt("hash length"))?;
    let opt_key = |col| -> Result<Option<KeyId>> {
        get::<Option<String>>(row, col)?
            .map(|s| KeyId::parse(&s).map_err(corrupt))
            .transpose()
    };
    Ok(ApiKey {
        id: KeyId::parse(&get::<String>(row, "id")?).map_err(corrupt)?,
        org_id: OrgId::from_trusted(get(row, "org_id")?),
        name: KeyName::parse(&get::<String>(row, "name")?).map_err(corrupt)?,
        description: get::<Option<String>>(row, "description")?
            .map(|d| Description::parse(&d).map_err(corrupt))
            .transpose()?,
        kind: Kind::parse(&get::<String>(row, "kind")?).map_err(corrupt)?,
        grants: Vec::new(),
        scopes: serde_json::from_str::<Vec<String>>(&get::<String>(row, "scopes")?)
            .map_err(corrupt)?
            .into_iter()
            .map(keyward_core::Scope::from_trusted)
            .collect(),
        org_access: OrgAccess::parse(&get::<String>(row, "org_access")?).map_err(corrupt)?,
        owner: get::<Option<String>>(row, "owner_user_id")?.map(UserId::from_trusted),
        created_by: Actor::decode(&get::<String>(row, "created_by")?),
        created_at: ts(row, "created_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        status: KeyStatus::parse(&get::<String>(row, "status")?)
            .ok_or_else(|| corrupt("status"))?,
        status_changed_at: opt_ts(row, "status_changed_at")?,
        rotated_from: opt_key("rotated_from")?,
        rotated_to: opt_key("rotated_to")?,
        hash: KeyHash {
            pepper_version: u32::try_from(get::<i64>(row, "pepper_version")?)
                .map_err(|_| corrupt("pepper version"))?,
            digest,
        },
        revision: get(row, "revision")?,
        ip_allowlist: keyward_core::IpAllowlist::parse(
            &serde_json::from_str::<Vec<String>>(&get::<String>(row, "ip_allowlist")?)
                .map_err(corrupt)?,
        )
        .map_err(corrupt)?,
        metadata: get::<Option<String>>(row, "metadata")?
            .map(|m| {
                serde_json::from_str(&m)
                    .map_err(corrupt)
                    .and_then(|v| keyward_core::Metadata::parse(v).map_err(corrupt))
            })
            .transpose()?,
        rate_limits: get::<Option<String>>(row, "rate_limits")?
            .map(|l| serde_json::from_str(&l).map_err(corrupt))
            .transpose()?,
        last_used_at: opt_ts(row, "last_used_at")?,
        last_used_ip: get(row, "last_used_ip")?,
    })
}

/// A grant's columns: project id, environment name and resources (JSON), each NULL
/// for "all".
pub(super) fn grant_columns(g: &Grant) -> (Option<&str>, Option<&str>, Option<String>) {
    let project = match &g.project {
        ProjectScope::All => None,
        ProjectScope::One(id) => Some(id.as_str()),
    };
    let env = match &g.environment {
        EnvScope::All => None,
        EnvScope::Named(n) => Some(n.as_str()),
    };
    let resources = g
        .resources
        .as_ref()
        .map(|r| serde_json::to_string(r).unwrap_or_else(|_| "[]".into()));
    (project, env, resources)
}

fn grant_from_row(row: &SqliteRow) -> Result<Grant> {
    let resources = get::<Option<String>>(row, "resources")?
        .map(|json| serde_json::from_str::<BTreeSet<_>>(&json).map_err(corrupt))
        .transpose()?;
    Ok(Grant {
        project: match get::<Option<String>>(row, "project_id")? {
            None => ProjectScope::All,
            Some(id) => ProjectScope::One(ProjectId::from_trusted(id)),
        },
        environment: match get::<Option<String>>(row, "environment")? {
            None => EnvScope::All,
            Some(n) => EnvScope::Named(EnvName::parse(&n).map_err(corrupt)?),
        },
        level: Level::parse(&get::<String>(row, "level")?).map_err(corrupt)?,
        resources,
    })
}

/// Loads the grants of `keys` in one query and puts each in its place, in the order
/// they were given.
pub(super) async fn attach_grants(pool: &SqlitePool, keys: &mut [ApiKey]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut b = QueryBuilder::<Sqlite>::new(
        "SELECT key_id, project_id, environment, level, resources FROM key_grants WHERE key_id IN (",
    );
    let mut ids = b.separated(", ");
    for k in keys.iter() {
        ids.push_bind(k.id.as_str());
    }
    b.push(") ORDER BY key_id, position");
    let mut by_key: HashMap<String, Vec<Grant>> = HashMap::new();
    for row in b.build().fetch_all(pool).await.map_err(backend)? {
        by_key
            .entry(get(&row, "key_id")?)
            .or_default()
            .push(grant_from_row(&row)?);
    }
    for k in keys.iter_mut() {
        k.grants = by_key.remove(k.id.as_str()).unwrap_or_default();
    }
    Ok(())
}

pub(super) fn event_from_row(row: &SqliteRow) -> Result<AuditEvent> {
    let action: String = get(row, "action")?;
    Ok(AuditEvent {
        id: Some(get(row, "id")?),
        at: ts(row, "at")?,
        org_id: get::<Option<String>>(row, "org_id")?.map(OrgId::from_trusted),
        actor: Actor::decode(&get::<String>(row, "actor")?),
        action: AuditAction::parse(&action).ok_or_else(|| corrupt("audit action"))?,
        key_id: get::<Option<String>>(row, "key_id")?
            .map(|s| KeyId::parse(&s).map_err(corrupt))
            .transpose()?,
        details: serde_json::from_str(&get::<String>(row, "details")?).map_err(corrupt)?,
        ip: get(row, "ip")?,
    })
}
