//! Turning database rows into domain records, once for every backend. Each backend's
//! row type implements [`Columns`] (the five column shapes the schemas use: text,
//! integer, bytes, each possibly NULL), so a record decodes the same way whatever
//! stored it. A row that does not decode is reported as a backend error: it means the
//! database was changed outside keyward.

use crate::{Change, Result, StoreError};
use keyward_core::session::{PasswordReset, Session};
use keyward_core::timestamp::from_millis;
use keyward_core::token::AdminToken;
use keyward_core::{
    Actor, ApiKey, AuditAction, AuditEvent, Description, EnvName, EnvScope, Environment,
    EnvironmentId, Grant, Invitation, InvitationId, KeyHash, KeyId, KeyName, KeyStatus, Kind,
    Level, MemberAccess, OrgAccess, OrgId, OrgName, Organization, Project, ProjectId, ProjectName,
    ProjectScope, ResetId, Role, SessionId, Timestamp, User, UserId,
};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) const KEY_COLUMNS: &str = "id, org_id, name, description, kind, org_access, \
    owner_user_id, created_by, created_at, expires_at, status, status_changed_at, \
    rotated_from, rotated_to, pepper_version, secret_hash, revision, last_used_at, last_used_ip, \
    scopes, ip_allowlist, metadata, rate_limits";

pub(crate) const INVITATION_COLUMNS: &str = "id, org_id, email, role, projects, invited_by, \
    created_at, expires_at, pepper_version, secret_hash, accepted_at, accepted_by, revoked_at";

pub(crate) const SESSION_COLUMNS: &str = "id, user_id, pepper_version, secret_hash, created_at, \
    last_seen_at, expires_at, ip, user_agent";

pub(crate) const RESET_COLUMNS: &str =
    "id, user_id, pepper_version, secret_hash, created_at, expires_at, used_at";

pub(crate) const TOKEN_COLUMNS: &str =
    "id, name, pepper_version, secret_hash, created_by, created_at, revoked_at, last_used_at";

/// The column shapes keyward's schemas use, read from one backend's row.
pub(crate) trait Columns {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn bytes(&self, col: &str) -> Result<Vec<u8>>;

    fn ts(&self, col: &str) -> Result<Timestamp> {
        Ok(from_millis(self.int(col)?))
    }
    fn opt_ts(&self, col: &str) -> Result<Option<Timestamp>> {
        Ok(self.opt_int(col)?.map(from_millis))
    }
}

macro_rules! columns {
    ($row:ty) => {
        impl Columns for $row {
            fn text(&self, col: &str) -> Result<String> {
                sqlx::Row::try_get(self, col).map_err(decode)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>> {
                sqlx::Row::try_get(self, col).map_err(decode)
            }
            fn int(&self, col: &str) -> Result<i64> {
                sqlx::Row::try_get(self, col).map_err(decode)
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>> {
                sqlx::Row::try_get(self, col).map_err(decode)
            }
            fn bytes(&self, col: &str) -> Result<Vec<u8>> {
                sqlx::Row::try_get(self, col).map_err(decode)
            }
        }
    };
}

columns!(sqlx::sqlite::SqliteRow);
columns!(sqlx::postgres::PgRow);

fn decode(e: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("corrupt row in the database: {what}").into())
}

pub(crate) fn org_from_row(row: &impl Columns) -> Result<Organization> {
    Ok(Organization {
        id: OrgId::from_trusted(row.text("id")?),
        name: OrgName::parse(&row.text("name")?).map_err(corrupt)?,
        plan: row.text("plan")?,
        created_at: row.ts("created_at")?,
    })
}

pub(crate) fn project_from_row(row: &impl Columns) -> Result<Project> {
    Ok(Project {
        id: ProjectId::from_trusted(row.text("id")?),
        org_id: OrgId::from_trusted(row.text("org_id")?),
        name: ProjectName::parse(&row.text("name")?).map_err(corrupt)?,
        created_at: row.ts("created_at")?,
    })
}

pub(crate) fn environment_from_row(row: &impl Columns) -> Result<Environment> {
    Ok(Environment {
        id: EnvironmentId::from_trusted(row.text("id")?),
        project_id: ProjectId::from_trusted(row.text("project_id")?),
        name: EnvName::parse(&row.text("name")?).map_err(corrupt)?,
        kind: Kind::parse(&row.text("kind")?).map_err(corrupt)?,
        created_at: row.ts("created_at")?,
    })
}

/// The environment columns of a project joined with its environments (`env_*`);
/// `None` for a project without any.
pub(crate) fn joined_environment(row: &impl Columns) -> Result<Option<Environment>> {
    let Some(id) = row.opt_text("env_id")? else {
        return Ok(None);
    };
    Ok(Some(Environment {
        id: EnvironmentId::from_trusted(id),
        project_id: ProjectId::from_trusted(row.text("id")?),
        name: EnvName::parse(&row.text("env_name")?).map_err(corrupt)?,
        kind: Kind::parse(&row.text("env_kind")?).map_err(corrupt)?,
        created_at: row.ts("env_created_at")?,
    }))
}

/// A keyed hash and its pepper version, from the `secret_hash` and `pepper_version`
/// columns every table of secrets has.
pub(crate) fn hash_from(row: &impl Columns) -> Result<KeyHash> {
    Ok(KeyHash {
        pepper_version: u32::try_from(row.int("pepper_version")?)
            .map_err(|_| corrupt("pepper version"))?,
        digest: row
            .bytes("secret_hash")?
            .try_into()
            .map_err(|_| corrupt("hash length"))?,
    })
}

/// A key without its grants (see each backend's `attach_grants`).
pub(crate) fn key_from_row(row: &impl Columns) -> Result<ApiKey> {
    let opt_key = |col| -> Result<Option<KeyId>> {
        row.opt_text(col)?
            .map(|s| KeyId::parse(&s).map_err(corrupt))
            .transpose()
    };
    Ok(ApiKey {
        id: KeyId::parse(&row.text("id")?).map_err(corrupt)?,
        org_id: OrgId::from_trusted(row.text("org_id")?),
        name: KeyName::parse(&row.text("name")?).map_err(corrupt)?,
        description: row
            .opt_text("description")?
            .map(|d| Description::parse(&d).map_err(corrupt))
            .transpose()?,
        kind: Kind::parse(&row.text("kind")?).map_err(corrupt)?,
        grants: Vec::new(),
        scopes: serde_json::from_str::<Vec<String>>(&row.text("scopes")?)
            .map_err(corrupt)?
            .into_iter()
            .map(keyward_core::Scope::from_trusted)
            .collect(),
        org_access: OrgAccess::parse(&row.text("org_access")?).map_err(corrupt)?,
        owner: row.opt_text("owner_user_id")?.map(UserId::from_trusted),
        created_by: Actor::decode(&row.text("created_by")?),
        created_at: row.ts("created_at")?,
        expires_at: row.opt_ts("expires_at")?,
        status: KeyStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("status"))?,
        status_changed_at: row.opt_ts("status_changed_at")?,
        rotated_from: opt_key("rotated_from")?,
        rotated_to: opt_key("rotated_to")?,
        hash: hash_from(row)?,
        revision: row.int("revision")?,
        ip_allowlist: keyward_core::IpAllowlist::parse(
            &serde_json::from_str::<Vec<String>>(&row.text("ip_allowlist")?).map_err(corrupt)?,
        )
        .map_err(corrupt)?,
        metadata: row
            .opt_text("metadata")?
            .map(|m| {
                serde_json::from_str(&m)
                    .map_err(corrupt)
                    .and_then(|v| keyward_core::Metadata::parse(v).map_err(corrupt))
            })
            .transpose()?,
        rate_limits: row
            .opt_text("rate_limits")?
            .map(|l| serde_json::from_str(&l).map_err(corrupt))
            .transpose()?,
        last_used_at: row.opt_ts("last_used_at")?,
        last_used_ip: row.opt_text("last_used_ip")?,
    })
}

/// The stored forms of a key's catalog scopes: a JSON array of names.
pub(crate) fn scopes_json(k: &ApiKey) -> String {
    let names: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
}

/// The columns of what issue 9 added: allow-list, metadata, rate limits.
pub(crate) fn extras_json(k: &ApiKey) -> (String, Option<String>, Option<String>) {
    (
        serde_json::to_string(&k.ip_allowlist.to_strings()).unwrap_or_else(|_| "[]".into()),
        k.metadata.as_ref().map(|m| m.to_value().to_string()),
        k.rate_limits
            .as_ref()
            .and_then(|l| serde_json::to_string(l).ok()),
    )
}

/// A grant's columns: project id, environment name and resources (JSON), each NULL
/// for "all".
pub(crate) fn grant_columns(g: &Grant) -> (Option<&str>, Option<&str>, Option<String>) {
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

pub(crate) fn grant_from_row(row: &impl Columns) -> Result<Grant> {
    let resources = row
        .opt_text("resources")?
        .map(|json| serde_json::from_str::<BTreeSet<_>>(&json).map_err(corrupt))
        .transpose()?;
    Ok(Grant {
        project: match row.opt_text("project_id")? {
            None => ProjectScope::All,
            Some(id) => ProjectScope::One(ProjectId::from_trusted(id)),
        },
        environment: match row.opt_text("environment")? {
            None => EnvScope::All,
            Some(n) => EnvScope::Named(EnvName::parse(&n).map_err(corrupt)?),
        },
        level: Level::parse(&row.text("level")?).map_err(corrupt)?,
        resources,
    })
}

pub(crate) fn event_from_row(row: &impl Columns) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: Some(row.int("id")?),
        at: row.ts("at")?,
        org_id: row.opt_text("org_id")?.map(OrgId::from_trusted),
        actor: Actor::decode(&row.text("actor")?),
        action: AuditAction::parse(&row.text("action")?).ok_or_else(|| corrupt("audit action"))?,
        key_id: row
            .opt_text("key_id")?
            .map(|s| KeyId::parse(&s).map_err(corrupt))
            .transpose()?,
        details: serde_json::from_str(&row.text("details")?).map_err(corrupt)?,
        ip: row.opt_text("ip")?,
    })
}

/// A user; a NULL password hash (no password yet) reads as empty.
pub(crate) fn user_from_row(row: &impl Columns) -> Result<User> {
    Ok(User {
        id: UserId::from_trusted(row.text("id")?),
        email: row.text("email")?,
        display_name: row.opt_text("display_name")?,
        password_hash: row.opt_text("password_hash")?.unwrap_or_default(),
        created_at: row.ts("created_at")?,
    })
}

pub(crate) fn role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| corrupt(format_args!("role '{s}'")))
}

pub(crate) fn level(s: &str) -> Result<Level> {
    Level::parse(s).map_err(corrupt)
}

/// An invitation's project levels as stored: a JSON object of project id to level.
pub(crate) fn invitation_projects_json(i: &Invitation) -> Result<String> {
    let projects: BTreeMap<&str, Level> = i
        .access
        .projects
        .iter()
        .map(|(p, l)| (p.as_str(), *l))
        .collect();
    serde_json::to_string(&projects).map_err(|e| StoreError::Backend(e.into()))
}

pub(crate) fn invitation_from_row(row: &impl Columns) -> Result<Invitation> {
    let projects: BTreeMap<String, Level> =
        serde_json::from_str(&row.text("projects")?).map_err(|_| corrupt("invitation projects"))?;
    Ok(Invitation {
        id: InvitationId::from_trusted(row.text("id")?),
        org_id: OrgId::from_trusted(row.text("org_id")?),
        email: row.text("email")?,
        access: MemberAccess {
            role: role(&row.text("role")?)?,
            projects: projects
                .into_iter()
                .map(|(p, l)| (ProjectId::from_trusted(p), l))
                .collect(),
        },
        invited_by: Actor::decode(&row.text("invited_by")?),
        created_at: row.ts("created_at")?,
        expires_at: row.ts("expires_at")?,
        hash: hash_from(row)?,
        accepted_at: row.opt_ts("accepted_at")?,
        accepted_by: row.opt_text("accepted_by")?.map(UserId::from_trusted),
        revoked_at: row.opt_ts("revoked_at")?,
    })
}

pub(crate) fn session_from_row(row: &impl Columns) -> Result<Session> {
    Ok(Session {
        id: SessionId::from_trusted(row.text("id")?),
        user_id: UserId::from_trusted(row.text("user_id")?),
        hash: hash_from(row)?,
        created_at: row.ts("created_at")?,
        last_seen_at: row.ts("last_seen_at")?,
        expires_at: row.ts("expires_at")?,
        ip: row.opt_text("ip")?,
        user_agent: row.opt_text("user_agent")?,
    })
}

pub(crate) fn reset_from_row(row: &impl Columns) -> Result<PasswordReset> {
    Ok(PasswordReset {
        id: ResetId::from_trusted(row.text("id")?),
        user_id: UserId::from_trusted(row.text("user_id")?),
        hash: hash_from(row)?,
        created_at: row.ts("created_at")?,
        expires_at: row.ts("expires_at")?,
        used_at: row.opt_ts("used_at")?,
    })
}

pub(crate) fn token_from_row(row: &impl Columns) -> Result<AdminToken> {
    Ok(AdminToken {
        id: KeyId::parse(&row.text("id")?).map_err(corrupt)?,
        name: KeyName::parse(&row.text("name")?).map_err(corrupt)?,
        hash: hash_from(row)?,
        created_by: row.text("created_by")?,
        created_at: row.ts("created_at")?,
        revoked_at: row.opt_ts("revoked_at")?,
        last_used_at: row.opt_ts("last_used_at")?,
    })
}

/// A change-log row (`subject`, `org_id`, `key_id`, `user_id`).
pub(crate) fn change_from_row(row: &impl Columns) -> Result<Change> {
    let bad = || corrupt("change log");
    let key_id = || -> Result<KeyId> {
        KeyId::parse(&row.opt_text("key_id")?.ok_or_else(bad)?).map_err(|_| bad())
    };
    Ok(match row.text("subject")?.as_str() {
        "key" => Change::Key(key_id()?),
        "admin" => Change::AdminToken(key_id()?),
        "member" => Change::Member {
            org: row.opt_text("org_id")?.map(OrgId::from_trusted),
            user: UserId::from_trusted(row.opt_text("user_id")?.ok_or_else(bad)?),
        },
        "org" => Change::Org(OrgId::from_trusted(
            row.opt_text("org_id")?.ok_or_else(bad)?,
        )),
        _ => return Err(bad()),
    })
}

/// The bounds and rows of a change-log read, turned into [`crate::Changes`], the same
/// way for every backend: `oldest`/`newest` are the log's bounds in the same snapshot
/// as `rows` (the rows after `cursor`, at most `most + 1` of them, in order).
pub(crate) fn changes<R: Columns>(
    cursor: i64,
    newest: i64,
    rows: &[R],
    most: usize,
) -> Result<crate::Changes> {
    if rows.len() > most {
        return Ok(crate::Changes {
            cursor: newest,
            changes: None,
        });
    }
    let mut changes = Vec::with_capacity(rows.len());
    let mut last = cursor;
    for row in rows {
        last = row.int("seq")?;
        let change = change_from_row(row)?;
        if !changes.contains(&change) {
            changes.push(change);
        }
    }
    Ok(crate::Changes {
        cursor: last,
        changes: Some(changes),
    })
}
