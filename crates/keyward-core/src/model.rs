//! The records keyward keeps: organizations, projects, environments and API keys.

use crate::audit::Actor;
use crate::grant::Grant;
use crate::hash::KeyHash;
use crate::ids::{EnvironmentId, OrgId, ProjectId, UserId};
use crate::key::KeyId;
use crate::kind::Kind;
use crate::level::OrgAccess;
use crate::names::{Description, EnvName, KeyName, OrgName, ProjectName};
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub name: OrgName,
    /// The plan's name; plans themselves are the operator's configuration.
    pub plan: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub org_id: OrgId,
    pub name: ProjectName,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub id: EnvironmentId,
    pub project_id: ProjectId,
    pub name: EnvName,
    pub kind: Kind,
    pub created_at: Timestamp,
}

/// The environments every new project starts with: `production` (live) and
/// `preview` (test).
pub fn default_environments() -> [(EnvName, Kind); 2] {
    [
        (
            EnvName::parse("production").expect("valid name"),
            Kind::Live,
        ),
        (EnvName::parse("preview").expect("valid name"), Kind::Test),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    /// Disabled; can be reactivated.
    Revoked,
    /// Gone for good. The record stays as a tombstone so the audit log keeps its subject.
    Deleted,
}

impl KeyStatus {
    pub const ALL: [KeyStatus; 3] = [KeyStatus::Active, KeyStatus::Revoked, KeyStatus::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Revoked => "revoked",
            KeyStatus::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(KeyStatus::Active),
            "revoked" => Some(KeyStatus::Revoked),
            "deleted" => Some(KeyStatus::Deleted),
            _ => None,
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key as stored: everything about it except its secret, of which only the
/// keyed hash is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: KeyId,
    pub org_id: OrgId,
    pub name: KeyName,
    pub description: Option<Description>,
    pub kind: Kind,
    pub grants: Vec<Grant>,
    /// Catalog scopes (`forms:read`, ...), each standing for a grant on a resource.
    pub scopes: Vec<crate::scope::Scope>,
    pub org_access: OrgAccess,
    /// `Some`: a user-bound key, acting as this user. `None`: a service key.
    pub owner: Option<UserId>,
    pub created_by: Actor,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub status: KeyStatus,
    pub status_changed_at: Option<Timestamp>,
    /// The key this one replaced by rotation.
    pub rotated_from: Option<KeyId>,
    /// The key that replaced this one by rotation.
    pub rotated_to: Option<KeyId>,
    pub hash: KeyHash,
    /// Bumped by every change; the store refuses a change made from a stale copy.
    pub revision: i64,
    pub last_used_at: Option<Timestamp>,
    pub last_used_ip: Option<String>,
    /// The networks the key may be used from; empty: anywhere.
    pub ip_allowlist: crate::allowlist::IpAllowlist,
    /// The operator's own data about the key, returned with every verify answer.
    pub metadata: Option<crate::metadata::Metadata>,
    /// The key's own rate limits; `None`: its organization's plan's.
    pub rate_limits: Option<Vec<crate::limits::RateLimit>>,
}

impl ApiKey {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A person who signs in to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: crate::ids::UserId,
    /// Lowercased e-mail address, unique.
    pub email: String,
    pub display_name: Option<String>,
    /// An Argon2id PHC string; never the password.
    pub password_hash: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}
