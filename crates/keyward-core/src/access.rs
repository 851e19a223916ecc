//! What a person holds in an organization: a role, and for members a level per
//! project. Owners and admins hold manage everywhere in their organization; members
//! hold read on organization resources and what they were given on each project;
//! someone who is not a member holds nothing.

use crate::ids::ProjectId;
use crate::level::{Level, OrgAccess};
use crate::model::Role;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// Shared, so that a cached membership costs a reference count per check.
    User(Option<Arc<MemberAccess>>),
}

impl Bound {
    /// The creator's cap applied to a level the key holds on `project`: the lower of
    /// the two for a member, nothing once the creator has left; a service key is not
    /// capped.
    pub fn limit_project(&self, project: &ProjectId, own: Level) -> Option<Level> {
        match self {
            Bound::Service => Some(own),
            Bound::User(None) => None,
            Bound::User(Some(creator)) => creator.on_project(project).map(|cap| cap.min(own)),
        }
    }

    /// The creator's cap applied to the key's organization access.
    pub fn limit_org(&self, own: OrgAccess) -> OrgAccess {
        match self {
            Bound::Service => own,
            Bound::User(None) => OrgAccess::NONE,
            Bound::User(Some(creator)) => own.min(creator.on_org()),
        }
    }
}
