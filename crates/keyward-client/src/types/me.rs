//! `GET /v1/me` (who a key is) and `GET /v1/scopes` (the scope catalog).

use super::{KeyView, Level, OrgOut, Role};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeOut {
    pub key: KeyView,
    pub organization: OrgOut,
    /// What the key may do, such as `Website:production:read`.
    pub permissions: Vec<String>,
    /// What its grants name but its owner's role no longer allows.
    pub withheld: Vec<String>,
    /// The person a user-bound key acts as; `null` for a service key.
    #[serde(default)]
    pub acts_for: Option<ActsFor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActsFor {
    pub user_id: String,
    #[serde(default)]
    pub role: Option<Role>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeList {
    pub data: Vec<ScopeOut>,
    pub wildcards: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeOut {
    pub name: String,
    pub level: Level,
}
