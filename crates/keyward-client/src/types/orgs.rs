//! Organizations, projects and environments: `/v1/orgs/...`.

use super::{Kind, QuotaView};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A new organization (operator only).
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrgIn {
    pub name: String,
    /// A plan this server offers; the default plan when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}

/// A change to an organization: its plan (operator only).
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrgPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgOut {
    pub id: String,
    pub name: String,
    pub plan: String,
    #[serde(with = "super::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An organization and where it stands against its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgDetail {
    #[serde(flatten)]
    pub org: OrgOut,
    /// `null` for a key without organization access.
    #[serde(default)]
    pub keys: Option<KeysHeld>,
    /// This month's quota; `null` when the plan has none.
    #[serde(default)]
    pub quota: Option<QuotaView>,
}

/// How many keys an organization holds against its plan's limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysHeld {
    pub held: u64,
    /// `null`: no limit.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgList {
    pub data: Vec<OrgOut>,
}

/// A new project; it starts with `production` (live) and `preview` (test).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProjectIn {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectOut {
    pub id: String,
    pub org_id: String,
    pub name: String,
    #[serde(with = "super::rfc3339")]
    pub created_at: OffsetDateTime,
    pub environments: Vec<EnvOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectList {
    pub data: Vec<ProjectOut>,
}

/// A new environment of a project.
#[derive(Debug, Clone, Serialize)]
pub struct EnvIn {
    /// Lowercase letters, digits and `-`, such as `staging`.
    pub name: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvOut {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    #[serde(with = "super::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvList {
    pub data: Vec<EnvOut>,
}
