//! No escalation: a key acting on keys can only create, or turn a key into, one that
//! can do no more than itself. The test is per grant: every grant of the result must be
//! inside one grant of the caller (same or narrower project, environment and resources,
//! same or lower level), its organization access no higher, and its kind the same (a
//! test key must never mint a live one).

use crate::access::MemberAccess;
use crate::grant::{EnvScope, Grant, ProjectScope};
use crate::kind::Kind;
use crate::level::{Level, OrgAccess};
use crate::model::ApiKey;
use crate::scope::{Catalog, Scope};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Escalation {
    #[error("a {caller} key cannot act on {target} keys")]
    Kind { caller: Kind, target: Kind },
    #[error("cannot give organization access '{wanted}': the caller has '{has}'")]
    OrgAccess { wanted: OrgAccess, has: OrgAccess },
    #[error("cannot give the grant {wanted}: it is more than the caller holds")]
    Grant { wanted: String },
}

/// Whether `inner` allows nothing that `outer` does not.
pub fn grant_within(inner: &Grant, outer: &Grant) -> bool {
    let project = match (&outer.project, &inner.project) {
        (ProjectScope::All, _) => true,
        (ProjectScope::One(o), ProjectScope::One(i)) => o == i,
        (ProjectScope::One(_), ProjectScope::All) => false,
    };
    let env = match (&outer.environment, &inner.environment) {
        (EnvScope::All, _) => true,
        (EnvScope::Named(o), EnvScope::Named(i)) => o == i,
        (EnvScope::Named(_), EnvScope::All) => false,
    };
    let resources = match (&outer.resources, &inner.resources) {
        (None, _) => true,
        (Some(o), Some(i)) => i.is_subset(o),
        (Some(_), None) => false,
    };
    project && env && resources && inner.level <= outer.level
}

/// What a key would be able to do: the subject of the no-escalation rule.
#[derive(Debug, Clone, Copy)]
pub struct Power<'a> {
    pub kind: Kind,
    pub grants: &'a [Grant],
    pub scopes: &'a [Scope],
    pub org_access: OrgAccess,
}

impl<'a> Power<'a> {
    pub fn of(key: &'a ApiKey) -> Self {
        Power {
            kind: key.kind,
            grants: &key.grants,
            scopes: &key.scopes,
            org_access: key.org_access,
        }
    }

    /// Its grants and those its scopes stand for.
    pub fn all_grants(&self, catalog: &Catalog) -> Vec<Grant> {
        let mut grants = self.grants.to_vec();
        grants.extend(catalog.expand_all(self.scopes));
        grants
    }
}

fn describe(g: &Grant) -> String {
    serde_json::to_string(g).unwrap_or_default()
}

/// Checks that `target` is within the key `caller`: same kind, no higher organization
/// access, and each of its grants (scopes included) inside one of the caller's.
pub fn within(caller: &ApiKey, catalog: &Catalog, target: Power<'_>) -> Result<(), Escalation> {
    if target.kind != caller.kind {
        return Err(Escalation::Kind {
            caller: caller.kind,
            target: target.kind,
        });
    }
    if target.org_access > caller.org_access {
        return Err(Escalation::OrgAccess {
            wanted: target.org_access,
            has: caller.org_access,
        });
    }
    let mine = Power::of(caller).all_grants(catalog);
    for g in target.all_grants(catalog) {
        if !mine.iter().any(|c| grant_within(&g, c)) {
            return Err(Escalation::Grant {
                wanted: describe(&g),
            });
        }
    }
    Ok(())
}

/// Checks that `target` is within what a person holds: organization access no higher
/// than their role's, and each grant on a project at most their level there (a grant on
/// every project needs their level on every project, which owners and admins have).
pub fn within_member(
    access: &MemberAccess,
    catalog: &Catalog,
    target: Power<'_>,
) -> Result<(), Escalation> {
    if target.org_access > access.on_org() {
        return Err(Escalation::OrgAccess {
            wanted: target.org_access,
            has: access.on_org(),
        });
    }
    for g in target.all_grants(catalog) {
        let held = match &g.project {
            ProjectScope::One(p) => access.on_project(p),
            ProjectScope::All if access.manages_keys() => Some(Level::Manage),
            ProjectScope::All => None,
        };
        if held.is_none_or(|h| h < g.level) {
            return Err(Escalation::Grant {
                wanted: describe(&g),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::ids::OrgId;
    use crate::level::Level;
    use crate::testing::{self, asked, env, grant, project, World};
    use proptest::prelude::*;
    use rand_core::OsRng;

    #[test]
    fn org_access_and_kind_cannot_be_raised() {
        let org = OrgId::generate(&mut OsRng);
        let (caller, _) = testing::key(&org, Kind::Test, vec![], OrgAccess(Some(Level::Write)));
        let c = Catalog::formfex();
        let power = |kind, org_access| Power {
            kind,
            grants: &[],
            scopes: &[],
            org_access,
        };
        assert!(within(
            &caller,
            &c,
            power(Kind::Test, OrgAccess(Some(Level::Write)))
        )
        .is_ok());
        assert!(matches!(
            within(
                &caller,
                &c,
                power(Kind::Test, OrgAccess(Some(Level::Manage)))
            ),
            Err(Escalation::OrgAccess { .. })
        ));
        assert!(matches!(
            within(&caller, &c, power(Kind::Live, OrgAccess::NONE)),
            Err(Escalation::Kind { .. })
        ));
    }

    #[test]
    fn members_cannot_grant_beyond_their_projects_and_role() {
        use crate::access::MemberAccess;
        use crate::model::Role;
        use std::collections::BTreeMap;
        let org = OrgId::generate(&mut OsRng);
        let web = project(&org, "Website");
        let c = Catalog::formfex();
        let member = MemberAccess {
            role: Role::Member,
            projects: BTreeMap::from([(web.id.clone(), Level::Write)]),
        };
        let admin = MemberAccess {
            role: Role::Admin,
            projects: BTreeMap::new(),
        };
        let ok = [grant(Some(&web), Some("production"), Level::Write)];
        let too_high = [grant(Some(&web), None, Level::Manage)];
        let everywhere = [grant(None, None, Level::Read)];
        let power = |grants: &'static [Grant]| Power {
            kind: Kind::Live,
            grants,
            scopes: &[],
            org_access: OrgAccess::NONE,
        };
        let leak = |g: [Grant; 1]| -> &'static [Grant] { Box::leak(Box::new(g)) };
        assert!(within_member(&member, &c, power(leak(ok))).is_ok());
        assert!(within_member(&member, &c, power(leak(too_high.clone()))).is_err());
        assert!(within_member(&member, &c, power(leak(everywhere.clone()))).is_err());
        assert!(within_member(&admin, &c, power(leak(too_high))).is_ok());
        assert!(within_member(&admin, &c, power(leak(everywhere))).is_ok());
        let scoped = [c.parse("forms:write").unwrap()];
        let p = Power {
            kind: Kind::Live,
            grants: &[],
            scopes: &scoped,
            org_access: OrgAccess::NONE,
        };
        assert!(
            within_member(&member, &c, p).is_err(),
            "a scope covers every project"
        );
        let org_manage = Power {
            kind: Kind::Live,
            grants: &[],
            scopes: &[],
            org_access: OrgAccess(Some(Level::Manage)),
        };
        assert!(within_member(&member, &c, org_manage).is_err());
    }

    fn arb_grant() -> impl Strategy<Value = (Option<usize>, Option<usize>, Level)> {
        (
            prop::option::of(0usize..2),
            prop::option::of(0usize..2),
            prop::sample::select(Level::ALL.to_vec()),
        )
    }

    proptest! {
        /// Soundness of `within`: whatever passes it, the new key is allowed nothing,
        /// on any project, environment and level, that its creator is not allowed.
        #[test]
        fn a_key_within_its_caller_can_do_nothing_more(
            caller_grants in prop::collection::vec(arb_grant(), 1..4),
            new_grants in prop::collection::vec(arb_grant(), 1..4),
        ) {
            let org = OrgId::generate(&mut OsRng);
            let projects = [project(&org, "A"), project(&org, "B")];
            let envs = ["production", "staging"];
            let build = |gs: &[(Option<usize>, Option<usize>, Level)]| -> Vec<Grant> {
                gs.iter().map(|(p, e, l)| grant(p.map(|i| &projects[i]), e.map(|j| envs[j]), *l)).collect()
            };
            let (caller, caller_text) = testing::key(&org, Kind::Live, build(&caller_grants), OrgAccess::NONE);
            let new = build(&new_grants);
            let c = Catalog::formfex();
            prop_assume!(within(&caller, &c, Power { kind: Kind::Live, grants: &new, scopes: &[], org_access: OrgAccess::NONE }).is_ok());
            let (created, created_text) = testing::key(&org, Kind::Live, new, OrgAccess::NONE);
            let mut world = World::default().with_key(&caller).with_key(&created);
            for p in &projects {
                for e in envs {
                    world = world.with_target(p, &env(e, Kind::Live));
                }
            }
            for p in &projects {
                for e in envs {
                    for level in Level::ALL {
                        let a = asked(&p.name, e, level);
                        let mine = world.check(caller_text, &a).outcome;
                        let theirs = world.check(created_text, &a).outcome;
                        prop_assert!(!(theirs == Outcome::Valid && mine != Outcome::Valid));
                    }
                }
            }
        }
    }
}
