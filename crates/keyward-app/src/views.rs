//! Read models: keys and their grants as people and scripts see them, with project
//! names resolved. Never carry a secret or a hash.

use keyward_core::timestamp::Timestamp;
use keyward_core::{
    ApiKey, EnvScope, Grant, KeyId, KeyStatus, Kind, Level, OrgAccess, OrgId, ProjectScope,
};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrantView {
    /// `null` for every project.
    pub project_id: Option<String>,
    /// `*` for every project.
    pub project: String,
    /// `*` for every environment of the key's kind.
    pub environment: String,
    pub level: Level,
    pub resources: Option<BTreeSet<String>>,
}

impl GrantView {
    pub fn new(grant: &Grant, project_name: Option<&str>) -> Self {
        let (project_id, project) = match &grant.project {
            ProjectScope::All => (None, "*".to_owned()),
            ProjectScope::One(id) => (
                Some(id.to_string()),
                project_name.map_or_else(|| id.to_string(), str::to_owned),
            ),
        };
        GrantView {
            project_id,
            project,
            environment: match &grant.environment {
                EnvScope::All => "*".into(),
                EnvScope::Named(n) => n.to_string(),
            },
            level: grant.level,
            resources: grant
                .resources
                .as_ref()
                .map(|r| r.iter().map(|r| r.to_string()).collect()),
        }
    }

    /// `Website:production:read` (and `:forms,responses` when limited), as the CLI
    /// takes grants.
    pub fn label(&self) -> String {
        let base = format!("{}:{}:{}", self.project, self.environment, self.level);
        match &self.resources {
            Some(r) => format!("{base}:{}", r.iter().cloned().collect::<Vec<_>>().join(",")),
            None => base,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyView {
    pub id: KeyId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub kind: Kind,
    pub status: KeyStatus,
    /// Whether the key is past its expiry (including a rotation's grace period).
    pub expired: bool,
    pub grants: Vec<GrantView>,
    pub scopes: Vec<String>,
    pub org_access: OrgAccess,
    /// `null` for a service key.
    pub owner: Option<String>,
    pub created_by: String,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "keyward_core::timestamp::rfc3339::option")]
    pub expires_at: Option<Timestamp>,
    pub rotated_from: Option<KeyId>,
    pub rotated_to: Option<KeyId>,
    #[serde(with = "keyward_core::timestamp::rfc3339::option")]
    pub last_used_at: Option<Timestamp>,
}

impl KeyView {
    pub fn new(key: &ApiKey, grants: Vec<GrantView>, now: Timestamp) -> Self {
        KeyView {
            id: key.id,
            org_id: key.org_id.clone(),
            name: key.name.to_string(),
            description: key.description.as_ref().map(|d| d.to_string()),
            kind: key.kind,
            status: key.status,
            expired: key.is_expired(now),
            grants,
            scopes: key.scopes.iter().map(|s| s.to_string()).collect(),
            org_access: key.org_access,
            owner: key.owner.as_ref().map(|u| u.to_string()),
            created_by: key.created_by.encode(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            rotated_from: key.rotated_from,
            rotated_to: key.rotated_to,
            last_used_at: key.last_used_at,
        }
    }

    /// `active`, `revoked`, `deleted`, or `expired` for an active key past its expiry.
    pub fn state(&self) -> &'static str {
        match self.status {
            KeyStatus::Active if self.expired => "expired",
            s => s.as_str(),
        }
    }
}
