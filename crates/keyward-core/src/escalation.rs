//! No escalation: a key acting on keys can only create, or turn a key into, one that
//! can do no more than itself. The test is per grant: every grant of the result must be
//! inside one grant of the caller (same or narrower project, environment and resources,
//! same or lower level), its organization access no higher, and its kind the same (a
//! test key must never mint a live one).

use crate::grant::{EnvScope, Grant, ProjectScope};
use crate::kind::Kind;
use crate::level::OrgAccess;
use crate::model::ApiKey;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Escalation {
    #[error("a {caller} key cannot act on {target} keys")]
    Kind { caller: Kind, target: Kind },
    #[error("this key cannot give organization access '{wanted}': it has '{has}'")]
    OrgAccess { wanted: OrgAccess, has: OrgAccess },
    #[error("this key cannot give the grant {wanted}: none of its own grants covers it")]
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

/// Checks that a key of `kind` with `grants` and `org_access` is within `caller`.
pub fn within(
    caller: &ApiKey,
    kind: Kind,
    grants: &[Grant],
    org_access: OrgAccess,
) -> Result<(), Escalation> {
    if kind != caller.kind {
        return Err(Escalation::Kind {
            caller: caller.kind,
            target: kind,
        });
    }
    if org_access > caller.org_access {
        return Err(Escalation::OrgAccess {
            wanted: org_access,
            has: caller.org_access,
        });
    }
    for g in grants {
        if !caller.grants.iter().any(|c| grant_within(g, c)) {
            let wanted = serde_json::to_string(g).unwrap_or_default();
            return Err(Escalation::Grant { wanted });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{decide, Outcome, Target};
    use crate::ids::OrgId;
    use crate::level::Level;
    use crate::testing::{self, env, grant, now, peppers, project};
    use proptest::prelude::*;
    use rand_core::OsRng;

    #[test]
    fn org_access_and_kind_cannot_be_raised() {
        let org = OrgId::generate(&mut OsRng);
        let (caller, _) = testing::key(&org, Kind::Test, vec![], OrgAccess(Some(Level::Write)));
        assert!(within(&caller, Kind::Test, &[], OrgAccess(Some(Level::Write))).is_ok());
        assert!(matches!(
            within(&caller, Kind::Test, &[], OrgAccess(Some(Level::Manage))),
            Err(Escalation::OrgAccess { .. })
        ));
        assert!(matches!(
            within(&caller, Kind::Live, &[], OrgAccess::NONE),
            Err(Escalation::Kind { .. })
        ));
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
            prop_assume!(within(&caller, Kind::Live, &new, OrgAccess::NONE).is_ok());
            let (created, created_text) = testing::key(&org, Kind::Live, new, OrgAccess::NONE);
            for p in &projects {
                for e in envs {
                    for level in Level::ALL {
                        let t = Target::Project { found: Some((p.clone(), env(e, Kind::Live))), project: p.name.clone(), environment: e.into(), resource: None, level };
                        let mine = decide(&caller_text, Some(&caller), &peppers(), &t, now()).outcome;
                        let theirs = decide(&created_text, Some(&created), &peppers(), &t, now()).outcome;
                        prop_assert!(!(theirs == Outcome::Valid && mine != Outcome::Valid));
                    }
                }
            }
        }
    }
}
