//! API keys: `/v1/keys` and `/v1/keys/{key_id}`.

use super::{JsonObject, KeyStatus, Kind, Level, OrgAccess};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A new key. Only `name` is required; everything else has the server's default.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyIn {
    /// The organization (id or name); required with an admin token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `live` unless given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<GrantIn>,
    /// Scopes of the catalog, such as `forms:read`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// `none` unless given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_access: Option<OrgAccess>,
    /// RFC 3339 time, a date, or a duration from now such as `90d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// When a person creates the key: `true` makes a service key instead of one bound
    /// to them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub service: bool,
    /// Networks the key may be used from; empty: anywhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_allowlist: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
    /// The key's own rate limits; left out: its plan's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<Vec<RateLimitIn>>,
}

impl KeyIn {
    /// A key named `name`, in `org`, with the server's defaults otherwise.
    pub fn new(org: impl Into<String>, name: impl Into<String>) -> Self {
        KeyIn {
            org: Some(org.into()),
            name: name.into(),
            ..KeyIn::default()
        }
    }
}

/// A grant: a level on a project's environment, optionally limited to resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantIn {
    /// Project name or id, or `*`.
    pub project: String,
    /// Environment name, or `*`.
    pub environment: String,
    pub level: Level,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
}

impl GrantIn {
    pub fn new(project: impl Into<String>, environment: impl Into<String>, level: Level) -> Self {
        GrantIn {
            project: project.into(),
            environment: environment.into(),
            level,
            resources: None,
        }
    }
}

/// A named rate limit: `limit` requests per `period` (such as `10s`, `1m`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateLimitIn {
    pub name: String,
    pub limit: u32,
    pub period: String,
}

/// A change to a key. A field left `None` stays as it is; for the fields with two
/// `Option`s, `Some(None)` clears it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
    /// Replaces all of the key's grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<GrantIn>>,
    /// Replaces all of the key's scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_access: Option<OrgAccess>,
    /// `Some(None)` removes the expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<String>>,
    /// Replaces the allow-list; `Some(vec![])`: anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_allowlist: Option<Vec<String>>,
    /// `Some(None)` removes the metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Option<JsonObject>>,
    /// `Some(None)`: back to the plan's limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<Option<Vec<RateLimitIn>>>,
}

/// A rotation: how long the old key keeps working (`0` to `7d`; `24h` when left out).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RotateIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<String>,
}

/// Which keys to list, a page at a time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyListQuery {
    /// The organization (id or name); required with an admin token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<KeyStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// The `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// 1 to 100; 50 when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A key as the API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub kind: Kind,
    pub status: KeyStatus,
    /// Past its expiry (including a rotation's grace period).
    pub expired: bool,
    pub grants: Vec<GrantView>,
    pub scopes: Vec<String>,
    pub org_access: OrgAccess,
    /// The user the key acts as; `null` for a service key.
    #[serde(default)]
    pub owner: Option<String>,
    /// `cli:<user>`, `token:<id>`, `user:<id>` or `key:<id>`.
    pub created_by: String,
    #[serde(with = "super::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "super::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub rotated_from: Option<String>,
    #[serde(default)]
    pub rotated_to: Option<String>,
    /// Written every few seconds: a use in the last seconds may not show yet.
    #[serde(default, with = "super::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub last_used_ip: Option<String>,
    pub ip_allowlist: Vec<String>,
    #[serde(default)]
    pub metadata: Option<JsonObject>,
    /// The key's own rate limits; `null`: its plan's.
    #[serde(default)]
    pub rate_limits: Option<Vec<RateLimitView>>,
}

/// A grant as stored, with the project's name resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    /// `null` when the grant covers every project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// The project's name, or `*`.
    pub project: String,
    /// An environment name, or `*`.
    pub environment: String,
    pub level: Level,
    /// `null`: every resource.
    #[serde(default)]
    pub resources: Option<Vec<String>>,
}

/// A rate limit of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitView {
    pub name: String,
    pub limit: u32,
    pub period: String,
}

/// A key just made: `key` is the full key, shown this once (redacted in `Debug`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedKeyView {
    #[serde(serialize_with = "expose")]
    pub key: SecretString,
    #[serde(flatten)]
    pub details: KeyView,
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secrecy::ExposeSecret::expose_secret(secret))
}

/// A rotation's result: the old key (working until its grace period ends) and the new.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotatedView {
    pub old: KeyView,
    pub new: CreatedKeyView,
}

/// A page of keys, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyList {
    pub data: Vec<KeyView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}
