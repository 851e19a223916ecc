//! What a person holds in an organization: a role, and for members a level per
//! project. Owners and admins hold manage everywhere in their organization; members
//! hold read on organization resources and what they were given on each project;
//! someone who is not a member holds nothing.

use crate::grant::{Grant, ProjectScope};
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

    /// The level held on every project, present and future: manage for owners and
    /// admins, nothing in general for members.
    pub fn on_project_everywhere(&self) -> Option<Level> {
        match self.role {
            Role::Owner | Role::Admin => Some(Level::Manage),
            Role::Member => None,
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

    /// What a key holding `grants` (its own and those its scopes stand for) and
    /// `org_access` can do now, and what its creator's current access withholds: the
    /// same rule the check applies, spelled out for people ("Test API Key").
    pub fn effective(&self, grants: &[Grant], org_access: OrgAccess) -> Effective {
        let mut out = Effective {
            grants: Vec::new(),
            org_access: self.limit_org(org_access),
            withheld: Vec::new(),
        };
        for g in grants {
            match (self, &g.project) {
                (Bound::Service, _) => out.grants.push(g.clone()),
                (Bound::User(None), _) => out.withheld.push((g.clone(), Withheld::CreatorGone)),
                (Bound::User(Some(creator)), ProjectScope::One(p)) => match creator.on_project(p) {
                    None => out.withheld.push((g.clone(), Withheld::Removed)),
                    Some(cap) if cap < g.level => {
                        out.grants.push(Grant {
                            level: cap,
                            ..g.clone()
                        });
                        out.withheld.push((g.clone(), Withheld::Lowered(cap)));
                    }
                    Some(_) => out.grants.push(g.clone()),
                },
                (Bound::User(Some(creator)), ProjectScope::All) => {
                    if creator.on_project_everywhere().is_some() {
                        out.grants.push(g.clone());
                        continue;
                    }
                    // A member's key reaches only the projects the member can use,
                    // each at the lower of the two levels.
                    for (p, level) in &creator.projects {
                        out.grants.push(Grant {
                            project: ProjectScope::One(p.clone()),
                            level: g.level.min(*level),
                            ..g.clone()
                        });
                    }
                    out.withheld
                        .push((g.clone(), Withheld::OnlyCreatorsProjects));
                }
            }
        }
        out
    }
}

/// A key's power as its creator's current access lets it work now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub grants: Vec<Grant>,
    pub org_access: OrgAccess,
    /// Grants the key holds that its creator no longer allows in full.
    pub withheld: Vec<(Grant, Withheld)>,
}

/// How a creator's current access limits one of the key's grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// The creator holds only this level on the grant's project.
    Lowered(Level),
    /// The creator holds nothing on the grant's project.
    Removed,
    /// A grant on every project works only on the projects the creator can use.
    OnlyCreatorsProjects,
    /// The creator is no longer a member of the organization.
    CreatorGone,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::EnvScope;
    use rand_core::OsRng;

    fn grant(project: Option<&ProjectId>, level: Level) -> Grant {
        Grant {
            project: project.map_or(ProjectScope::All, |p| ProjectScope::One(p.clone())),
            environment: EnvScope::All,
            level,
            resources: None,
        }
    }

    /// What "Test API Key" shows a user-bound key can do is what the check allows.
    #[test]
    fn effective_power_follows_the_creators_current_access() {
        let (web, api, blog) = (
            ProjectId::generate(&mut OsRng),
            ProjectId::generate(&mut OsRng),
            ProjectId::generate(&mut OsRng),
        );
        let held = [
            grant(Some(&web), Level::Manage),
            grant(Some(&blog), Level::Read),
            grant(None, Level::Write),
        ];
        let org = OrgAccess(Some(Level::Manage));
        let service = Bound::Service.effective(&held, org);
        assert_eq!((service.grants.len(), service.withheld.len()), (3, 0));
        assert_eq!(service.org_access, org);

        let member = Bound::User(Some(Arc::new(MemberAccess {
            role: Role::Member,
            projects: BTreeMap::from([(web.clone(), Level::Write), (api.clone(), Level::Read)]),
        })));
        let e = member.effective(&held, org);
        assert_eq!(e.org_access, OrgAccess(Some(Level::Read)));
        assert!(
            e.grants.contains(&grant(Some(&web), Level::Write)),
            "lowered to the creator's write"
        );
        assert!(
            e.grants.contains(&grant(Some(&api), Level::Read)),
            "`*` reaches the creator's projects"
        );
        assert!(!e
            .grants
            .iter()
            .any(|g| g.project == ProjectScope::One(blog.clone())));
        assert_eq!(
            e.withheld,
            vec![
                (held[0].clone(), Withheld::Lowered(Level::Write)),
                (held[1].clone(), Withheld::Removed),
                (held[2].clone(), Withheld::OnlyCreatorsProjects),
            ]
        );
        let gone = Bound::User(None).effective(&held, org);
        assert!(gone.grants.is_empty());
        assert_eq!(gone.org_access, OrgAccess::NONE);
        assert!(gone
            .withheld
            .iter()
            .all(|(_, w)| *w == Withheld::CreatorGone));
        let admin = Bound::User(Some(Arc::new(MemberAccess {
            role: Role::Admin,
            projects: BTreeMap::new(),
        })));
        assert_eq!(admin.effective(&held, org).grants.len(), 3);
    }
}
