//! Who is asking, and what that allows. Every use case takes a [`Principal`]: the
//! operator (the CLI or an admin token) may do anything anywhere; an API key only acts
//! inside its own organization, within its organization access, and never on a key
//! more powerful than itself. Keeping these rules here, not in handlers, means the CLI
//! and every HTTP route enforce exactly the same ones.

use crate::error::{AppError, AppResult};
use keyward_core::escalation;
use keyward_core::{Actor, ApiKey, Grant, Kind, Level, OrgAccess, OrgId};

#[derive(Debug, Clone)]
pub enum Principal {
    /// The operator: at the command line, or with an admin token.
    Operator(Actor),
    /// An API key, as authenticated for this request.
    Key(Box<ApiKey>),
}

impl Principal {
    pub fn actor(&self) -> Actor {
        match self {
            Principal::Operator(actor) => actor.clone(),
            Principal::Key(key) => Actor::Key(key.id.clone()),
        }
    }

    /// The only organization this principal may see, if it is limited to one.
    pub fn org_scope(&self) -> Option<&OrgId> {
        match self {
            Principal::Operator(_) => None,
            Principal::Key(key) => Some(&key.org_id),
        }
    }

    /// Whether this principal may see `org` at all. Outside its scope, things are
    /// "not found", never "forbidden": a 403 would confirm that they exist.
    pub fn sees(&self, org: &OrgId) -> bool {
        self.org_scope().is_none_or(|mine| mine == org)
    }

    /// Requires organization access at `level` (for keys; the operator has it all).
    pub fn require(&self, level: Level, doing: &str) -> AppResult<()> {
        let Principal::Key(key) = self else {
            return Ok(());
        };
        if key.org_access.allows(level) {
            return Ok(());
        }
        Err(AppError::Forbidden {
            required_permission: format!("org:{level}"),
            message: format!(
                "{doing} needs {level} access to the organization; this key has {}",
                key.org_access
            ),
        })
    }

    /// For keys: a key of `kind` with `grants` and `org_access` must be within the
    /// caller, or acting on it would hand out more power than the caller holds.
    pub fn require_within(
        &self,
        kind: Kind,
        grants: &[Grant],
        org_access: OrgAccess,
    ) -> AppResult<()> {
        let Principal::Key(caller) = self else {
            return Ok(());
        };
        escalation::within(caller, kind, grants, org_access).map_err(|e| AppError::Forbidden {
            required_permission: "no_escalation".into(),
            message: e.to_string(),
        })
    }

    /// [`require_within`](Self::require_within) for an existing key.
    pub fn require_within_key(&self, key: &ApiKey) -> AppResult<()> {
        self.require_within(key.kind, &key.grants, key.org_access)
    }
}
