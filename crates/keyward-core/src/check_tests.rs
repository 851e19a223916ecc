//! Tests of `check.rs`, kept beside it so the module itself stays short.
use super::*;
use crate::ids::OrgId;
use crate::kind::Kind;
use crate::level::OrgAccess;
use crate::lifecycle;
use crate::testing::{self, ctx, env, grant, now, peppers, project};
use proptest::prelude::*;
use rand_core::OsRng;
use time::Duration;

fn target<'a>(p: &'a ProjectRef, e: &'a EnvRef, level: Level) -> Target<'a> {
    Target::Project {
        found: Some(std::sync::Arc::new((p.clone(), e.clone()))),
        project: &p.name,
        environment: e.name.as_str(),
        resource: None,
        level,
    }
}

struct World {
    org: OrgId,
    web: ProjectRef,
    prod: EnvRef,
    preview: EnvRef,
}

fn world() -> World {
    let org = OrgId::generate(&mut OsRng);
    World {
        web: project(&org, "Website"),
        org,
        prod: env("production", Kind::Live),
        preview: env("preview", Kind::Test),
    }
}

#[test]
fn credentials_missing_single_and_conflicting() {
    assert_eq!(credential([]), Err(Outcome::Missing));
    assert_eq!(credential(["a"]), Ok("a"));
    assert_eq!(credential(["a", "a"]), Ok("a"));
    assert_eq!(credential(["a", "b"]), Err(Outcome::Malformed));
}

#[test]
fn a_live_read_key_is_valid_for_get_and_refused_for_delete() {
    let w = world();
    let (key, parsed) = testing::key(
        &w.org,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    let get = decide(
        &parsed,
        Some(&key),
        &peppers(),
        &target(&w.web, &w.prod, Level::Read),
        ctx(),
    );
    assert_eq!(get.outcome, Outcome::Valid);
    let delete = decide(
        &parsed,
        Some(&key),
        &peppers(),
        &target(&w.web, &w.prod, Level::Manage),
        ctx(),
    );
    assert_eq!(delete.outcome, Outcome::InsufficientPermission);
    let denial = delete.denial.unwrap();
    assert_eq!(
        denial.message,
        "this key needs manage on project 'Website' (production); it has read"
    );
    assert_eq!(denial.required_permission, "Website:production:manage");
}

#[test]
fn a_test_key_used_on_production_is_wrong_environment() {
    let w = world();
    let (key, parsed) = testing::key(
        &w.org,
        Kind::Test,
        vec![grant(None, None, Level::Manage)],
        OrgAccess::NONE,
    );
    let d = decide(
        &parsed,
        Some(&key),
        &peppers(),
        &target(&w.web, &w.prod, Level::Read),
        ctx(),
    );
    assert_eq!(d.outcome, Outcome::WrongEnvironment);
    let d = decide(
        &parsed,
        Some(&key),
        &peppers(),
        &target(&w.web, &w.preview, Level::Read),
        ctx(),
    );
    assert_eq!(d.outcome, Outcome::Valid);
}

#[test]
fn unknown_ids_and_wrong_secrets_are_unknown() {
    let w = world();
    let (key, parsed) = testing::key(
        &w.org,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    let t = target(&w.web, &w.prod, Level::Read);
    assert_eq!(
        decide(&parsed, None, &peppers(), &t, ctx()).outcome,
        Outcome::Unknown
    );
    // Another key's record under this id: the secret does not match its hash.
    let (mut other, _) = testing::key(
        &w.org,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    other.id = key.id;
    assert_eq!(
        decide(&parsed, Some(&other), &peppers(), &t, ctx()).outcome,
        Outcome::Unknown
    );
    // The right record, but checked with another pepper.
    let wrong = PepperSet::parse("another-pepper-0123456789abcdefghijklmnopq").unwrap();
    assert_eq!(
        decide(&parsed, Some(&key), &wrong, &t, ctx()).outcome,
        Outcome::Unknown
    );
}

#[test]
fn revoked_deleted_and_expired_keys_never_pass() {
    let w = world();
    let (key, parsed) = testing::key(
        &w.org,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    let t = target(&w.web, &w.prod, Level::Read);
    let revoked = lifecycle::revoke(&key, now()).unwrap().key;
    assert_eq!(
        decide(&parsed, Some(&revoked), &peppers(), &t, ctx()).outcome,
        Outcome::Revoked
    );
    let back = lifecycle::reactivate(&revoked, now()).unwrap().key;
    assert_eq!(
        decide(&parsed, Some(&back), &peppers(), &t, ctx()).outcome,
        Outcome::Valid
    );
    let deleted = lifecycle::delete(&key, now()).unwrap().key;
    assert_eq!(
        decide(&parsed, Some(&deleted), &peppers(), &t, ctx()).outcome,
        Outcome::Revoked
    );
    let mut expiring = key.clone();
    expiring.expires_at = Some(now() + Duration::hours(1));
    assert_eq!(
        decide(&parsed, Some(&expiring), &peppers(), &t, ctx()).outcome,
        Outcome::Valid
    );
    let later = now() + Duration::hours(1);
    assert_eq!(
        decide(
            &parsed,
            Some(&expiring),
            &peppers(),
            &t,
            Context {
                now: later,
                ..ctx()
            }
        )
        .outcome,
        Outcome::Expired
    );
}

#[test]
fn an_unresolved_project_is_covered_by_no_grant() {
    let w = world();
    let (key, parsed) = testing::key(
        &w.org,
        Kind::Live,
        vec![grant(None, None, Level::Manage)],
        OrgAccess::NONE,
    );
    let t = Target::Project {
        found: None,
        project: "Nope",
        environment: "production",
        resource: None,
        level: Level::Read,
    };
    let d = decide(&parsed, Some(&key), &peppers(), &t, ctx());
    assert_eq!(d.outcome, Outcome::InsufficientPermission);
    assert!(d
        .denial
        .unwrap()
        .message
        .ends_with("it has no access there"));
}

#[test]
fn an_organization_only_key_works_on_organization_resources_only() {
    let w = world();
    let (key, parsed) = testing::key(&w.org, Kind::Live, vec![], OrgAccess(Some(Level::Write)));
    let org = |level| Target::Organization { level };
    assert_eq!(
        decide(&parsed, Some(&key), &peppers(), &org(Level::Write), ctx()).outcome,
        Outcome::Valid
    );
    let d = decide(&parsed, Some(&key), &peppers(), &org(Level::Manage), ctx());
    assert_eq!(d.outcome, Outcome::InsufficientPermission);
    assert_eq!(d.denial.unwrap().required_permission, "org:manage");
    let p = decide(
        &parsed,
        Some(&key),
        &peppers(),
        &target(&w.web, &w.prod, Level::Read),
        ctx(),
    );
    assert_eq!(p.outcome, Outcome::InsufficientPermission);
}

#[test]
fn a_user_bound_key_never_exceeds_its_creators_current_access() {
    use crate::access::{Bound, MemberAccess};
    use crate::model::Role;
    use std::collections::BTreeMap;
    let w = world();
    let (key, parsed) = testing::key(
        &w.org,
        Kind::Live,
        vec![grant(None, None, Level::Manage)],
        OrgAccess(Some(Level::Manage)),
    );
    let member = Bound::User(Some(MemberAccess {
        role: Role::Member,
        projects: BTreeMap::from([(w.web.id.clone(), Level::Read)]),
    }));
    let with = |bound: &Bound, level| {
        decide(
            &parsed,
            Some(&key),
            &peppers(),
            &target(&w.web, &w.prod, level),
            Context { bound, ..ctx() },
        )
    };
    assert_eq!(with(&member, Level::Read).outcome, Outcome::Valid);
    let d = with(&member, Level::Write);
    assert_eq!(d.outcome, Outcome::InsufficientPermission);
    assert!(d
        .denial
        .unwrap()
        .message
        .contains("it has read (a user-bound key never exceeds its creator's current access)"));
    let gone = Bound::User(None);
    assert_eq!(
        with(&gone, Level::Read).outcome,
        Outcome::InsufficientPermission
    );
    let admin = Bound::User(Some(MemberAccess {
        role: Role::Admin,
        projects: BTreeMap::new(),
    }));
    assert_eq!(with(&admin, Level::Manage).outcome, Outcome::Valid);
    let org = |bound: &Bound, level| {
        decide(
            &parsed,
            Some(&key),
            &peppers(),
            &Target::Organization { level },
            Context { bound, ..ctx() },
        )
        .outcome
    };
    assert_eq!(org(&member, Level::Read), Outcome::Valid);
    assert_eq!(org(&member, Level::Write), Outcome::InsufficientPermission);
    assert_eq!(org(&gone, Level::Read), Outcome::InsufficientPermission);
    assert_eq!(org(&admin, Level::Manage), Outcome::Valid);
}

#[test]
fn scopes_grant_their_resource_only() {
    let w = world();
    let (mut key, parsed) = testing::key(&w.org, Kind::Live, vec![], OrgAccess(Some(Level::Read)));
    let catalog = crate::scope::Catalog::formfex();
    key.scopes = vec![catalog.parse("forms:read").unwrap()];
    let forms = Resource::parse("forms").unwrap();
    let others = [Resource::parse("responses").unwrap()];
    let at = |resource: Option<&str>, level| Target::Project {
        found: Some(std::sync::Arc::new((w.web.clone(), w.prod.clone()))),
        project: "Website",
        environment: "production",
        resource: resource.map(|r| if r == "forms" { &forms } else { &others[0] }),
        level,
    };
    let run = |t: &Target| decide(&parsed, Some(&key), &peppers(), t, ctx()).outcome;
    assert_eq!(run(&at(Some("forms"), Level::Read)), Outcome::Valid);
    assert_eq!(
        run(&at(Some("forms"), Level::Write)),
        Outcome::InsufficientPermission
    );
    assert_eq!(
        run(&at(Some("responses"), Level::Read)),
        Outcome::InsufficientPermission
    );
    assert_eq!(run(&at(None, Level::Read)), Outcome::InsufficientPermission);
}

#[test]
fn every_outcome_has_its_documented_status() {
    let statuses: Vec<u16> = Outcome::ALL.iter().map(|o| o.http_status()).collect();
    assert_eq!(
        statuses,
        [200, 401, 401, 401, 401, 401, 403, 403, 403, 403, 429, 429]
    );
    for o in Outcome::ALL {
        assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
    }
}

fn arb_level() -> impl Strategy<Value = Level> {
    prop::sample::select(Level::ALL.to_vec())
}

proptest! {
    /// The permission rule, against the definition: allowed exactly when some grant
    /// reaches the project and environment at a level at least the one needed.
    #[test]
    fn permission_is_the_maximum_over_reaching_grants(
        grants in prop::collection::vec(
            (prop::option::of(0usize..2), prop::option::of(0usize..2), arb_level()),
            1..5,
        ),
        in_other_org in any::<bool>(),
        project_index in 0usize..2,
        env_index in 0usize..2,
        needed in arb_level(),
    ) {
        use crate::grant::{EnvScope, Grant, ProjectScope};
        let w = world();
        let other = project(&w.org, "Other");
        let projects = [w.web.clone(), other];
        let envs = ["production", "staging"];
        let built: Vec<Grant> = grants
            .iter()
            .map(|(p, e, l)| grant(p.map(|i| &projects[i]), e.map(|j| envs[j]), *l))
            .collect();
        let (key, parsed) = testing::key(&w.org, Kind::Live, built.clone(), OrgAccess::NONE);
        let mut p = projects[project_index].clone();
        if in_other_org {
            p.org_id = OrgId::generate(&mut OsRng);
        }
        let e = env(envs[env_index], Kind::Live);
        let d = decide(&parsed, Some(&key), &peppers(), &target(&p, &e, needed), ctx());
        let expected = !in_other_org
            && built.iter().any(|g| {
                let project_ok = match &g.project {
                    ProjectScope::All => true,
                    ProjectScope::One(id) => id == &p.id,
                };
                let env_ok = match &g.environment {
                    EnvScope::All => true,
                    EnvScope::Named(n) => n == &e.name,
                };
                project_ok && env_ok && g.level >= needed
            });
        prop_assert_eq!(d.outcome == Outcome::Valid, expected, "{:?}", d);
    }

    /// Adding a grant never takes a permission away.
    #[test]
    fn grants_only_add(level in arb_level(), extra in arb_level(), needed in arb_level()) {
        let w = world();
        let base = vec![grant(Some(&w.web), Some("production"), level)];
        let mut more = base.clone();
        more.push(grant(None, None, extra));
        let t = target(&w.web, &w.prod, needed);
        let (k1, p1) = testing::key(&w.org, Kind::Live, base, OrgAccess::NONE);
        let (k2, p2) = testing::key(&w.org, Kind::Live, more, OrgAccess::NONE);
        let before = decide(&p1, Some(&k1), &peppers(), &t, ctx()).outcome;
        let after = decide(&p2, Some(&k2), &peppers(), &t, ctx()).outcome;
        prop_assert!(!(before == Outcome::Valid && after != Outcome::Valid));
    }
}
