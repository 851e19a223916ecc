//! Read models: keys and their grants as people and scripts see them, with project
//! names resolved. The one representation of a key: the HTTP API answers with these
//! and the CLI's `--json` prints them. Never carry a secret or a hash, except
//! [`CreatedKeyView`], which shows a new key the one time it is shown.

use keyward_core::timestamp::Timestamp;
use keyward_core::{
    ApiKey, EnvScope, Grant, KeyId, KeyStatus, Kind, Level, OrgAccess, OrgId, ProjectScope,
};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantView {
    /// `null` when the grant covers every project.
    pub project_id: Option<String>,
    /// The project's name, or `*` for every project.
    pub project: String,
    /// An environment name, or `*` for every environment of the key's kind.
    pub environment: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::level))]
    pub level: Level,
    /// The resources the grant is limited to; `null`: every resource.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyView {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::key_id))]
    pub id: KeyId,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::org_id))]
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::kind))]
    pub kind: Kind,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::key_status))]
    pub status: KeyStatus,
    /// Whether the key is past its expiry (including a rotation's grace period).
    pub expired: bool,
    pub grants: Vec<GrantView>,
    pub scopes: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::org_access))]
    pub org_access: OrgAccess,
    /// The user the key acts as; `null` for a service key.
    pub owner: Option<String>,
    /// Who created the key: `cli:<user>`, `token:<id>`, `user:<id>` or `key:<id>`.
    pub created_by: String,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::date_time))]
    pub created_at: Timestamp,
    #[serde(with = "keyward_core::timestamp::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<Timestamp>,
    /// The key this one replaced.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub rotated_from: Option<KeyId>,
    /// The key that replaced this one.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub rotated_to: Option<KeyId>,
    /// When a check last found the key valid; written every few seconds, so a use in
    /// the last seconds may not show yet.
    #[serde(with = "keyward_core::timestamp::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_used_at: Option<Timestamp>,
    /// The client address of the last use that had one (a check over HTTP; not one
    /// made at the command line).
    pub last_used_ip: Option<String>,
    /// The networks the key may be used from, normalised; empty: anywhere.
    pub ip_allowlist: Vec<String>,
    /// The operator's own data about the key, returned with every verify answer.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<serde_json::Value>,
    /// The key's own rate limits; `null`: its organization's plan's.
    pub rate_limits: Option<Vec<RateLimitView>>,
    /// The changes the key's state allows now (what a dashboard offers).
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub offered: keyward_core::lifecycle::Offered,
}

/// A named rate limit: `limit` requests per `period`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitView {
    pub name: String,
    pub limit: u32,
    /// Such as `10s`, `1m`, `1h`.
    pub period: String,
}

impl From<&keyward_core::RateLimit> for RateLimitView {
    fn from(l: &keyward_core::RateLimit) -> Self {
        RateLimitView {
            name: l.name.clone(),
            limit: l.limit,
            period: keyward_core::duration::format(l.period),
        }
    }
}

/// A key just created or rotated: the full key, shown this once, beside the key's view.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedKeyView<'a> {
    /// The full API key. It is never shown again.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub key: &'a str,
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(inline, value_type = KeyView))]
    pub details: &'a KeyView,
}

/// A rotation: the old key, now ending with its grace period, and its replacement.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotatedView<'a> {
    /// The key that was rotated, now ending at the close of its grace period.
    #[cfg_attr(feature = "openapi", schema(value_type = KeyView))]
    pub old: &'a KeyView,
    /// Its replacement, with the full key shown this once.
    #[cfg_attr(feature = "openapi", schema(value_type = CreatedKeyView))]
    pub new: CreatedKeyView<'a>,
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
            ip_allowlist: key.ip_allowlist.to_strings(),
            metadata: key.metadata.as_ref().map(keyward_core::Metadata::to_value),
            rate_limits: key
                .rate_limits
                .as_ref()
                .map(|l| l.iter().map(RateLimitView::from).collect()),
            last_used_ip: key.last_used_ip.clone(),
            offered: keyward_core::lifecycle::Offered::of(key, now),
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
