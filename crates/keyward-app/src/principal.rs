//! Who is asking, from where, and what that allows. Every use case takes a
//! [`Principal`]: who (below) and, for a request over HTTP, the client's address,
//! which every audit event it causes records.
//!
//! * the operator (the CLI or an admin token) may do anything anywhere;
//! * a person acts in the organizations they belong to, with their role there: owners
//!   and admins hold manage everywhere in it, members read organization resources and
//!   their own project levels, and only owners and admins manage keys;
//! * an API key acts only in its own organization, within its organization access.
//!
//! And nobody gives more than they hold: a key or person can only create, or act on,
//! keys within their own power. Keeping these rules here, not in handlers, means the
//! CLI and every HTTP route enforce exactly the same ones.

use crate::error::{AppError, AppResult};
use keyward_core::escalation::{self, Escalation, Power};
use keyward_core::{
    Actor, ApiKey, Bound, Catalog, Level, MemberAccess, OrgAccess, OrgId, Role, UserId,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Principal {
    pub who: Who,
    /// The address the request came from; `None` at the command line.
    pub from: Option<IpAddr>,
}

#[derive(Debug, Clone)]
pub enum Who {
    /// The operator: at the command line, or with an admin token.
    Operator(Actor),
    /// A person, with what they hold in each organization they belong to.
    User {
        id: UserId,
        orgs: BTreeMap<OrgId, MemberAccess>,
    },
    /// An API key, as authenticated for this request, with whom it answers to: a
    /// user-bound key never acts beyond its creator's current access.
    Key(Arc<ApiKey>, Bound),
}

impl From<Who> for Principal {
    fn from(who: Who) -> Self {
        Principal { who, from: None }
    }
}

fn escalation(e: Escalation) -> AppError {
    AppError::Forbidden {
        required_permission: "no_escalation".into(),
        message: format!("{e}: nobody can grant more than they hold"),
    }
}

impl Principal {
    pub fn operator(actor: Actor) -> Self {
        Who::Operator(actor).into()
    }

    pub fn key(key: Arc<ApiKey>, bound: Bound) -> Self {
        Who::Key(key, bound).into()
    }

    /// The same caller, acting from `ip`.
    pub fn from_address(mut self, ip: IpAddr) -> Self {
        self.from = Some(ip);
        self
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.who, Who::Operator(_))
    }

    /// An audit event this caller causes in `org` (`None`: the operator's stream),
    /// recording who and from where.
    pub fn event(
        &self,
        org: Option<&OrgId>,
        action: keyward_core::AuditAction,
        at: keyward_core::Timestamp,
    ) -> keyward_core::AuditEvent {
        keyward_core::AuditEvent::new(org.cloned(), self.actor(), action, at).from(self.from)
    }

    pub fn actor(&self) -> Actor {
        match &self.who {
            Who::Operator(actor) => actor.clone(),
            Who::User { id, .. } => Actor::User(id.clone()),
            Who::Key(key, _) => Actor::Key(key.id),
        }
    }

    /// Whether this principal may see `org` at all. Outside its reach, things are
    /// "not found", never "forbidden": a 403 would confirm that they exist.
    pub fn sees(&self, org: &OrgId) -> bool {
        match &self.who {
            Who::Operator(_) => true,
            Who::User { orgs, .. } => orgs.contains_key(org),
            Who::Key(key, _) => &key.org_id == org,
        }
    }

    /// [`sees`](Self::sees) as a requirement: "organization not found" otherwise.
    pub fn require_sees(&self, org: &OrgId) -> AppResult<()> {
        if self.sees(org) {
            Ok(())
        } else {
            Err(AppError::not_found("organization", org.as_str()))
        }
    }

    /// The organization a request means when it names none: a key's own, or a
    /// person's only one.
    pub fn default_org(&self) -> Option<&OrgId> {
        match &self.who {
            Who::Operator(_) => None,
            Who::User { orgs, .. } if orgs.len() == 1 => orgs.keys().next(),
            Who::User { .. } => None,
            Who::Key(key, _) => Some(&key.org_id),
        }
    }

    /// What this principal holds on `org`'s own resources (projects, members, keys).
    pub fn org_access(&self, org: &OrgId) -> OrgAccess {
        match &self.who {
            Who::Operator(_) => OrgAccess(Some(Level::Manage)),
            Who::User { orgs, .. } => orgs.get(org).map_or(OrgAccess::NONE, MemberAccess::on_org),
            Who::Key(key, bound) if &key.org_id == org => bound.limit_org(key.org_access),
            Who::Key(..) => OrgAccess::NONE,
        }
    }

    /// The person's role in `org`, if this is a person and a member there.
    pub fn role(&self, org: &OrgId) -> Option<Role> {
        match &self.who {
            Who::User { orgs, .. } => orgs.get(org).map(|a| a.role),
            _ => None,
        }
    }

    /// Requires access at `level` on `org`'s resources.
    pub fn require(&self, org: &OrgId, level: Level, doing: &str) -> AppResult<()> {
        let held = self.org_access(org);
        if held.allows(level) {
            return Ok(());
        }
        let who = match &self.who {
            Who::User { .. } => format!(
                "you are a {} of this organization (owners and admins have it)",
                self.role(org).map_or("stranger", Role::as_str)
            ),
            _ => format!("this key has {held}"),
        };
        Err(AppError::Forbidden {
            required_permission: format!("org:{level}"),
            message: format!("{doing} needs {level} access to the organization; {who}"),
        })
    }

    /// A key with `power` in `org` must be within this principal, or creating it (or
    /// acting on it) would hand out more than the principal holds.
    pub fn require_within(
        &self,
        org: &OrgId,
        catalog: &Catalog,
        power: Power<'_>,
    ) -> AppResult<()> {
        match &self.who {
            Who::Operator(_) => Ok(()),
            Who::Key(caller, bound) => {
                escalation::within(caller, catalog, power).map_err(escalation)?;
                match bound {
                    Bound::Service => Ok(()),
                    Bound::User(Some(creator)) => {
                        escalation::within_member(creator, catalog, power).map_err(escalation)
                    }
                    Bound::User(None) => Err(AppError::Forbidden {
                        required_permission: "no_escalation".into(),
                        message: "this key's creator is no longer a member of the organization"
                            .into(),
                    }),
                }
            }
            Who::User { orgs, .. } => match orgs.get(org) {
                Some(access) => {
                    escalation::within_member(access, catalog, power).map_err(escalation)
                }
                None => Err(AppError::not_found("organization", org.as_str())),
            },
        }
    }

    /// [`require_within`](Self::require_within) for an existing key.
    pub fn require_within_key(&self, key: &ApiKey, catalog: &Catalog) -> AppResult<()> {
        self.require_within(&key.org_id, catalog, Power::of(key))
    }
}
