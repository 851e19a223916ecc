//! Tests of `check.rs`, kept beside it so the module itself stays short. Each runs
//! the real check over a [`World`] of maps.
use super::*;
use crate::access::MemberAccess;
use crate::ids::{OrgId, UserId};
use crate::kind::Kind;
use crate::level::OrgAccess;
use crate::lifecycle;
use crate::model::Role;
use crate::testing::{self, asked, env, grant, now, project, World};
use proptest::prelude::*;
use rand_core::OsRng;
use std::collections::BTreeMap;
use time::Duration;

struct Org {
    id: OrgId,
    web: ProjectRef,
    prod: EnvRef,
    preview: EnvRef,
}

fn org() -> Org {
    let id = OrgId::generate(&mut OsRng);
    Org {
        web: project(&id, "Website"),
        id,
        prod: env("production", Kind::Live),
        preview: env("preview", Kind::Test),
    }
}

/// A world holding `key` and the organization's Website project with production and
/// preview.
fn world(o: &Org, key: &ApiKey) -> World {
    World::default()
        .with_key(key)
        .with_target(&o.web, &o.prod)
        .with_target(&o.web, &o.preview)
}

#[test]
fn credentials_missing_single_and_conflicting() {
    assert_eq!(Presented::pick([]), Presented::Nothing);
    assert_eq!(Presented::pick(["a"]), Presented::One(SecretRef::new("a")));
    assert_eq!(
        Presented::pick(["a", "a"]),
        Presented::One(SecretRef::new("a"))
    );
    assert_eq!(Presented::pick(["a", "b"]), Presented::Conflicting);
    assert_eq!(Presented::field(""), Presented::Nothing);
    let w = World::default();
    let a = asked("Website", "production", Level::Read);
    let v = testing::ready(check(
        &w,
        Presented::Conflicting,
        &a,
        &testing::ctx_at(now()),
    ));
    assert_eq!(v.unwrap().outcome, Outcome::Malformed);
    assert_eq!(w.check("", &a).outcome, Outcome::Missing);
}

/// A malformed key is answered before anything is fetched: the lookup here would
/// hold a key under any id, and is never asked.
#[test]
fn malformed_keys_are_answered_without_a_lookup() {
    let o = org();
    let (key, text) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    let w = world(&o, &key);
    let mut mangled = text.to_owned();
    mangled.pop();
    mangled.push(if text.ends_with('A') { 'B' } else { 'A' });
    let v = w.check(&mangled, &asked("Website", "production", Level::Read));
    assert_eq!(v.outcome, Outcome::Malformed);
    assert_eq!(v.why, Why::Malformed(MalformedKey::BadChecksum));
    assert!(v.key.is_none());
    assert!(v.detail().contains("checksum"));
}

#[test]
fn a_live_read_key_is_valid_for_get_and_refused_for_delete() {
    let o = org();
    let (key, text) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    let w = world(&o, &key);
    let get = w.check(text, &asked("Website", "production", Level::Read));
    assert_eq!(get.outcome, Outcome::Valid);
    assert_eq!(get.key.as_deref().map(|k| k.id), Some(key.id));
    assert_eq!(get.bound, Some(Bound::Service));
    // Project names match in any ASCII case, as everywhere else.
    assert_eq!(
        w.check(text, &asked("website", "production", Level::Read))
            .outcome,
        Outcome::Valid
    );
    let delete = w.check(text, &asked("Website", "production", Level::Manage));
    assert_eq!(delete.outcome, Outcome::InsufficientPermission);
    assert_eq!(
        delete.detail(),
        "this key needs manage on project 'Website' (production); it has read"
    );
    assert_eq!(
        delete.required_permission(),
        Some("Website:production:manage")
    );
}

#[test]
fn a_test_key_used_on_production_is_wrong_environment() {
    let o = org();
    let (key, text) = testing::key(
        &o.id,
        Kind::Test,
        vec![grant(None, None, Level::Manage)],
        OrgAccess::NONE,
    );
    let w = world(&o, &key);
    assert_eq!(
        w.check(text, &asked("Website", "production", Level::Read))
            .outcome,
        Outcome::WrongEnvironment
    );
    assert_eq!(
        w.check(text, &asked("Website", "preview", Level::Read))
            .outcome,
        Outcome::Valid
    );
    let _ = o.preview;
}

#[test]
fn unknown_ids_and_wrong_secrets_are_unknown() {
    let o = org();
    let (key, text) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    let a = asked("Website", "production", Level::Read);
    let empty = World::default().with_target(&o.web, &o.prod);
    assert_eq!(empty.check(text, &a).outcome, Outcome::Unknown);
    // Another key's record under this id: the secret does not match its hash.
    let (mut other, _) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    other.id = key.id;
    let v = world(&o, &other).check(text, &a);
    assert_eq!((v.outcome, v.key.is_none()), (Outcome::Unknown, true));
    // The right record, but a lookup that found the other kind under this id.
    let mut test_kind = key.clone();
    test_kind.kind = Kind::Test;
    assert_eq!(
        world(&o, &test_kind).check(text, &a).outcome,
        Outcome::Unknown
    );
}

#[test]
fn revoked_deleted_and_expired_keys_never_pass() {
    let o = org();
    let (key, text) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    let a = asked("Website", "production", Level::Read);
    let revoked = lifecycle::revoke(&key, now()).unwrap().key;
    let v = world(&o, &revoked).check(text, &a);
    assert_eq!((v.outcome, &v.why), (Outcome::Revoked, &Why::Outcome));
    assert!(v.detail().contains("reactivate"));
    let back = lifecycle::reactivate(&revoked, now()).unwrap().key;
    assert_eq!(world(&o, &back).check(text, &a).outcome, Outcome::Valid);
    // A deleted key says so, and does not suggest asking for a reactivation.
    let deleted = lifecycle::delete(&key, now()).unwrap().key;
    let v = world(&o, &deleted).check(text, &a);
    assert_eq!((v.outcome, &v.why), (Outcome::Revoked, &Why::Deleted));
    assert!(
        v.detail().contains("deleted") && !v.detail().contains("reactivate it"),
        "{}",
        v.detail()
    );
    let mut expiring = key.clone();
    expiring.expires_at = Some(now() + Duration::hours(1));
    let w = world(&o, &expiring);
    assert_eq!(w.check(text, &a).outcome, Outcome::Valid);
    assert_eq!(
        w.check_at(text, &a, now() + Duration::hours(1)).outcome,
        Outcome::Expired
    );
}

/// Step 5: the address and the plan come after the key is known to be usable, and
/// before the request is judged: a refused address or plan says nothing of permissions.
#[test]
fn the_address_then_the_plan_are_checked_before_the_request() {
    let o = org();
    let (mut key, text) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    key.ip_allowlist = crate::allowlist::IpAllowlist::parse(&["203.0.113.0/24"]).unwrap();
    let mut w = world(&o, &key);
    let write = asked("Website", "production", Level::Write);
    let read = asked("Website", "production", Level::Read);
    assert_eq!(
        w.check_from(text, &read, "203.0.113.9").outcome,
        Outcome::Valid
    );
    let v = w.check_from(text, &write, "198.51.100.1");
    assert_eq!(v.outcome, Outcome::IpNotAllowed, "before the permission");
    assert!(
        !v.detail().contains("203.0.113"),
        "names nothing of the list: {}",
        v.detail()
    );
    assert_eq!(
        w.check(text, &read).outcome,
        Outcome::IpNotAllowed,
        "an unknown address"
    );
    w.plan = Some(std::sync::Arc::new(
        crate::plan::Plans::formfex()
            .get("free")
            .unwrap()
            .as_ref()
            .clone(),
    ));
    assert_eq!(
        w.check_from(text, &write, "203.0.113.9").outcome,
        Outcome::NoApiAccess
    );
    assert_eq!(
        w.check_from(text, &read, "198.51.100.1").outcome,
        Outcome::IpNotAllowed,
        "the address first"
    );
    let revoked = lifecycle::revoke(&key, now()).unwrap().key;
    assert_eq!(
        world(&o, &revoked)
            .check_from(text, &read, "198.51.100.1")
            .outcome,
        Outcome::Revoked,
        "step 4 first"
    );
}

#[test]
fn only_requests_that_pass_steps_1_to_7_spend_the_limits() {
    let o = org();
    let (mut key, text) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    key.rate_limits = Some(vec![crate::limits::RateLimit::per(
        "burst",
        2,
        Duration::MINUTE,
    )]);
    let w = world(&o, &key);
    let read = asked("Website", "production", Level::Read);
    for failing in [
        asked("Website", "preview", Level::Read),
        asked("Website", "production", Level::Write),
    ] {
        for _ in 0..5 {
            let v = w.check(text, &failing);
            assert!(!v.outcome.is_valid());
            assert!(v.metered.is_none(), "{:?} is not metered", v.outcome);
        }
    }
    for remaining in [1, 0] {
        let v = w.check(text, &read);
        assert_eq!(v.outcome, Outcome::Valid);
        let m = v.metered.as_deref().unwrap();
        assert_eq!(m.spending.standing[0].remaining, remaining);
    }
    let v = w.check(text, &read);
    assert_eq!(v.outcome, Outcome::RateLimited);
    assert_eq!(
        v.detail(),
        "Too many requests with this key (limit burst 2 per 1m); retry in 30s."
    );
    assert_eq!(
        v.metered.as_deref().unwrap().spending.retry_after,
        Some(Duration::seconds(30))
    );
    // Half a minute on, one more.
    let later = now() + Duration::seconds(30);
    assert_eq!(w.check_at(text, &read, later).outcome, Outcome::Valid);
    assert_eq!(w.check_at(text, &read, later).outcome, Outcome::RateLimited);
}

#[test]
fn the_plans_limits_apply_unless_the_key_has_its_own_then_the_quota() {
    let o = org();
    let (key, text) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    );
    let mut w = world(&o, &key);
    w.plan = Some(std::sync::Arc::new(crate::plan::Plan {
        name: "tiny".into(),
        api_access: true,
        max_keys: None,
        rate_limits: vec![crate::limits::RateLimit::per("default", 3, Duration::HOUR)],
        monthly_quota: Some(2),
    }));
    let read = asked("Website", "production", Level::Read);
    assert_eq!(w.check(text, &read).outcome, Outcome::Valid);
    assert_eq!(w.check(text, &read).outcome, Outcome::Valid);
    let v = w.check(text, &read);
    assert_eq!(v.outcome, Outcome::QuotaExceeded);
    assert_eq!(v.rate_limits().unwrap()[0].name, "default");
    let m = v.metered.as_deref().unwrap();
    assert_eq!(
        m.spending.standing[0].remaining, 1,
        "the quota's refusal spent no rate limit"
    );
    let q = m.spending.quota.unwrap();
    assert_eq!((q.limit, q.used, q.remaining), (2, 2, 0));
    assert!(v
        .detail()
        .starts_with("The organization's quota of 2 requests this month is spent; it renews at "));
    assert_eq!(v.outcome.http_status(), 429);
}

#[test]
fn an_unresolved_project_is_covered_by_no_grant() {
    let o = org();
    let (key, text) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Manage)],
        OrgAccess::NONE,
    );
    let v = world(&o, &key).check(text, &asked("Nope", "production", Level::Read));
    assert_eq!(v.outcome, Outcome::InsufficientPermission);
    assert!(v.detail().ends_with("it has no access there"));
    // A long name from outside is cut short in the answer.
    let long = "x".repeat(10_000);
    let v = world(&o, &key).check(text, &asked(&long, "production", Level::Read));
    assert!(v.detail().len() < 400, "{}", v.detail().len());
}

#[test]
fn an_organization_only_key_works_on_organization_resources_only() {
    let o = org();
    let (key, text) = testing::key(&o.id, Kind::Live, vec![], OrgAccess(Some(Level::Write)));
    let w = world(&o, &key);
    let at_org = |level| Asked::Organization { level };
    assert_eq!(w.check(text, &at_org(Level::Write)).outcome, Outcome::Valid);
    let v = w.check(text, &at_org(Level::Manage));
    assert_eq!(v.outcome, Outcome::InsufficientPermission);
    assert_eq!(v.required_permission(), Some("org:manage"));
    assert_eq!(
        w.check(text, &asked("Website", "production", Level::Read))
            .outcome,
        Outcome::InsufficientPermission
    );
    // Asking only who the key is judges no permission.
    assert_eq!(w.check(text, &Asked::Identity).outcome, Outcome::Valid);
}

#[test]
fn a_user_bound_key_never_exceeds_its_creators_current_access() {
    let o = org();
    let (mut key, text) = testing::key(
        &o.id,
        Kind::Live,
        vec![grant(None, None, Level::Manage)],
        OrgAccess(Some(Level::Manage)),
    );
    let creator = UserId::generate(&mut OsRng);
    key.owner = Some(creator.clone());
    let member = MemberAccess {
        role: Role::Member,
        projects: BTreeMap::from([(o.web.id.clone(), Level::Read)]),
    };
    let admin = MemberAccess {
        role: Role::Admin,
        projects: BTreeMap::new(),
    };
    let as_creator = |access: Option<&MemberAccess>| {
        let mut w = world(&o, &key);
        if let Some(a) = access {
            w.members
                .insert((o.id.clone(), creator.clone()), Arc::new(a.clone()));
        }
        w
    };
    let w = as_creator(Some(&member));
    assert_eq!(
        w.check(text, &asked("Website", "production", Level::Read))
            .outcome,
        Outcome::Valid
    );
    let v = w.check(text, &asked("Website", "production", Level::Write));
    assert_eq!(v.outcome, Outcome::InsufficientPermission);
    assert!(
        v.detail()
            .contains("it has read (a user-bound key never exceeds its creator's current access)"),
        "{}",
        v.detail()
    );
    assert_eq!(v.bound, Some(Bound::User(Some(Arc::new(member.clone())))));
    assert_eq!(
        w.check(text, &Asked::Organization { level: Level::Read })
            .outcome,
        Outcome::Valid
    );
    assert_eq!(
        w.check(
            text,
            &Asked::Organization {
                level: Level::Write
            }
        )
        .outcome,
        Outcome::InsufficientPermission
    );
    let gone = as_creator(None);
    assert_eq!(
        gone.check(text, &asked("Website", "production", Level::Read))
            .outcome,
        Outcome::InsufficientPermission
    );
    assert_eq!(
        gone.check(text, &Asked::Organization { level: Level::Read })
            .outcome,
        Outcome::InsufficientPermission
    );
    let w = as_creator(Some(&admin));
    assert_eq!(
        w.check(text, &asked("Website", "production", Level::Manage))
            .outcome,
        Outcome::Valid
    );
    assert_eq!(
        w.check(
            text,
            &Asked::Organization {
                level: Level::Manage
            }
        )
        .outcome,
        Outcome::Valid
    );
}

#[test]
fn scopes_grant_their_resource_only() {
    let o = org();
    let (mut key, text) = testing::key(&o.id, Kind::Live, vec![], OrgAccess(Some(Level::Read)));
    key.scopes = vec![Catalog::formfex().parse("forms:read").unwrap()];
    let w = world(&o, &key);
    let at = |resource: Option<&str>, level| Asked::Project {
        project: "Website".into(),
        environment: "production".into(),
        resource: resource.map(|r| Resource::parse(r).unwrap()),
        level,
    };
    let run = |a: &Asked| w.check(text, a).outcome;
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

/// The verify API and `keyward check` build what they ask from the same parts, with
/// the same refusals.
#[test]
fn requests_are_built_from_their_parts_once() {
    let read = Asked::from_parts(
        Some(" Website "),
        Some("production"),
        Some("get"),
        None,
        None,
    );
    assert_eq!(read, Ok(asked("Website", "production", Level::Read)));
    assert_eq!(
        Asked::from_parts(None, None, None, Some(Level::Manage), None),
        Ok(Asked::Organization {
            level: Level::Manage
        })
    );
    let refused = [
        (
            Asked::from_parts(Some("W"), Some("p"), Some("GET"), Some(Level::Read), None),
            "method",
        ),
        (
            Asked::from_parts(Some("W"), Some("p"), None, None, None),
            "method",
        ),
        (
            Asked::from_parts(Some("W"), Some("p"), Some("BREW"), None, None),
            "method",
        ),
        (
            Asked::from_parts(Some("W"), None, Some("GET"), None, None),
            "environment",
        ),
        (
            Asked::from_parts(None, Some("p"), Some("GET"), None, None),
            "project",
        ),
        (
            Asked::from_parts(Some("W"), Some(" "), Some("GET"), None, None),
            "environment",
        ),
        (
            Asked::from_parts(Some("W"), Some("p"), Some("GET"), None, Some("Forms!")),
            "resource",
        ),
        (
            Asked::from_parts(None, None, Some("GET"), None, Some("forms")),
            "resource",
        ),
    ];
    for (result, field) in refused {
        assert_eq!(result.map_err(|e| e.field), Err(field));
    }
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
    /// reaches the project and environment at a level at least the one needed; and a
    /// grant never reaches another organization's project, even through a lookup that
    /// wrongly resolved one.
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
        let o = org();
        let other = project(&o.id, "Other");
        let projects = [o.web.clone(), other];
        let envs = ["production", "staging"];
        let built: Vec<Grant> = grants
            .iter()
            .map(|(p, e, l)| grant(p.map(|i| &projects[i]), e.map(|j| envs[j]), *l))
            .collect();
        let (key, text) = testing::key(&o.id, Kind::Live, built.clone(), OrgAccess::NONE);
        let mut p = projects[project_index].clone();
        if in_other_org {
            p.org_id = OrgId::generate(&mut OsRng);
        }
        let e = env(envs[env_index], Kind::Live);
        let mut w = World::default().with_key(&key).with_target(&p, &e);
        w.across_orgs = true;
        let v = w.check(text, &asked(&p.name, e.name.as_str(), needed));
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
        prop_assert_eq!(v.outcome == Outcome::Valid, expected, "{:?}", v);
    }

    /// Adding a grant never takes a permission away.
    #[test]
    fn grants_only_add(level in arb_level(), extra in arb_level(), needed in arb_level()) {
        let o = org();
        let base = vec![grant(Some(&o.web), Some("production"), level)];
        let mut more = base.clone();
        more.push(grant(None, None, extra));
        let a = asked("Website", "production", needed);
        let (k1, t1) = testing::key(&o.id, Kind::Live, base, OrgAccess::NONE);
        let (k2, t2) = testing::key(&o.id, Kind::Live, more, OrgAccess::NONE);
        let before = world(&o, &k1).check(t1, &a).outcome;
        let after = world(&o, &k2).check(t2, &a).outcome;
        prop_assert!(!(before == Outcome::Valid && after != Outcome::Valid));
    }
}
