//! What a person holds in an organization: a role, and for members a level per
//! project. Owners and admins hold manage everywhere in their organization; members
//! hold read on organization resources and what they were given on each project;
//! someone who is not a member holds nothing.

use crate::ids::ProjectId;
use crate::level::{Level, OrgAccess};
use crate::model::Role;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccess {
    pub role: Role,
    /// For members: their level on each project they may use.
    pub projects: BTreeMap<ProjectId, Level>,
}

impl MemberAccess {
    /// The level held on `project` (a project of the same organization).
    pub fn on_project(&self, project: &ProjectId) -> Option<Level> {
        match self.role {
            Role::Owner | Role::Admin => Some(Level::Manage),
            Role::Member => self.projects.get(project).copied(),
        }
    }

    /// The level held on organization resources (projects, members, keys).
    pub fn on_org(&self) -> OrgAccess {
        match self.role {
            Role::Owner | Role::Admin => OrgAccess(Some(Level::Manage)),
            Role::Member => OrgAccess(Some(Level::Read)),
        }
    }

    /// Whether this person may create and manage keys at all.
    pub fn manages_keys(&self) -> bool {
        matches!(self.role, Role::Owner | Role::Admin)
    }
}

/// Whom a key answers to at check time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// A service key: its own grants are its whole power.
    Service,
    /// A user-bound key, with its creator's access now (`None`: no longer a member).
    User(Option<MemberAccess>),
}

impl Bound {
    /// The cap on project levels: `None` for no cap, `Some(None)` for nothing.
    pub fn project_cap(&self, project: &ProjectId) -> Option<Option<Level>> {
        match self {
            Bound::Service => None,
            Bound::User(access) => Some(access.as_ref().and_then(|a| a.on_project(project))),
        }
    }

    pub fn org_cap(&self) -> Option<OrgAccess> {
        match self {
            Bound::Service => None,
            Bound::User(access) => Some(
                access
                    .as_ref()
                    .map_or(OrgAccess::NONE, MemberAccess::on_org),
            ),
        }
    }
}
