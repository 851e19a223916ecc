//! The check: given a presented key and what a request wants to do, decide exactly one
//! outcome. Every surface (CLI, verify API, forward auth, middleware) runs this same
//! function, so they all answer alike. The first failing step decides:
//!
//! 1. no credential → `missing`; several different ones → `malformed`
//! 2. shape, prefix, kind, checksum → `malformed` (no store access at all)
//! 3. no such key id, or the keyed hash does not match → `unknown`
//! 4. revoked or deleted → `revoked`; past its expiry → `expired`
//! 5. (client address, plan: later)
//! 6. environment of the other kind → `wrong_environment`
//! 7. no grant covers the request at the level needed → `insufficient_permission`
//! 8. (rate limit, quota: later)
//! 9. `valid`
//!
//! Steps 1–2 are [`credential`] and [`ParsedKey::parse`]; the caller then looks the key
//! id up (cache or store) and hands what it found to [`decide`].

use crate::access::Bound;
use crate::grant::{EnvRef, Grant, ProjectRef, Resource};
use crate::hash::PepperSet;
use crate::key::{MalformedKey, ParsedKey, Prefix};
use crate::level::Level;
use crate::model::{ApiKey, KeyStatus};
use crate::scope::Catalog;
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Every way a check can end. One list for every surface, the usage statistics and
/// the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Valid,
    Missing,
    Malformed,
    Unknown,
    Expired,
    Revoked,
    WrongEnvironment,
    InsufficientPermission,
    IpNotAllowed,
    NoApiAccess,
    RateLimited,
    QuotaExceeded,
}

impl Outcome {
    pub const ALL: [Outcome; 12] = [
        Outcome::Valid,
        Outcome::Missing,
        Outcome::Malformed,
        Outcome::Unknown,
        Outcome::Expired,
        Outcome::Revoked,
        Outcome::WrongEnvironment,
        Outcome::InsufficientPermission,
        Outcome::IpNotAllowed,
        Outcome::NoApiAccess,
        Outcome::RateLimited,
        Outcome::QuotaExceeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Valid => "valid",
            Outcome::Missing => "missing",
            Outcome::Malformed => "malformed",
            Outcome::Unknown => "unknown",
            Outcome::Expired => "expired",
            Outcome::Revoked => "revoked",
            Outcome::WrongEnvironment => "wrong_environment",
            Outcome::InsufficientPermission => "insufficient_permission",
            Outcome::IpNotAllowed => "ip_not_allowed",
            Outcome::NoApiAccess => "no_api_access",
            Outcome::RateLimited => "rate_limited",
            Outcome::QuotaExceeded => "quota_exceeded",
        }
    }

    pub fn is_valid(self) -> bool {
        self == Outcome::Valid
    }

    /// The HTTP status every surface answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Outcome::Valid => 200,
            Outcome::Missing
            | Outcome::Malformed
            | Outcome::Unknown
            | Outcome::Expired
            | Outcome::Revoked => 401,
            Outcome::WrongEnvironment
            | Outcome::InsufficientPermission
            | Outcome::IpNotAllowed
            | Outcome::NoApiAccess => 403,
            Outcome::RateLimited | Outcome::QuotaExceeded => 429,
        }
    }

    /// A sentence for the person reading the error: what happened and what to do.
    pub fn explanation(self) -> &'static str {
        match self {
            Outcome::Valid => "The key is valid for this request.",
            Outcome::Missing => "No API key was sent. Send it in the Authorization header as 'Bearer <key>', or in an 'x-api-key' header.",
            Outcome::Malformed => "This is not a well-formed API key: check that it was copied whole, without extra characters.",
            Outcome::Unknown => "No such API key. Check that you are using the right key, or create a new one.",
            Outcome::Expired => "This API key has expired. Use its replacement or create a new key.",
            Outcome::Revoked => "This API key has been revoked. Ask an administrator of the organization to reactivate it, or create a new key.",
            Outcome::WrongEnvironment => "This key's kind does not match the environment: test keys only work in test environments and live keys only in live ones.",
            Outcome::InsufficientPermission => "This API key does not have the permission this request needs.",
            Outcome::IpNotAllowed => "Requests with this key are not allowed from this address.",
            Outcome::NoApiAccess => "The organization's plan does not include API access.",
            Outcome::RateLimited => "Too many requests with this key. Wait before retrying.",
            Outcome::QuotaExceeded => "The organization's monthly request quota is spent.",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Step 1: from every credential the request carries (each header that may hold a
/// key), the one to check. None → `missing`; several that differ → `malformed`, since
/// guessing which one was meant could authorize the wrong caller.
pub fn credential<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Result<&'a str, Outcome> {
    let mut chosen: Option<&'a str> = None;
    for candidate in candidates {
        match chosen {
            None => chosen = Some(candidate),
            Some(c) if c == candidate => {}
            Some(_) => return Err(Outcome::Malformed),
        }
    }
    chosen.ok_or(Outcome::Missing)
}

/// Step 2: parse, mapping every failure to `malformed`.
pub fn parse(text: &str, prefix: &Prefix) -> Result<ParsedKey, (Outcome, MalformedKey)> {
    ParsedKey::parse(text, prefix).map_err(|why| (Outcome::Malformed, why))
}

/// A project and environment as the store (or a cache) resolved them, shared so that
/// a cached lookup costs a reference count, not a copy.
pub type FoundTarget = std::sync::Arc<(ProjectRef, EnvRef)>;

/// What a request wants to do. Borrows the request's names: the check copies nothing
/// on its way to `valid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    /// Something inside a project and environment.
    Project {
        /// The project and environment as found in the store; `None` when the names
        /// given match nothing, which no grant can cover.
        found: Option<FoundTarget>,
        /// The project and environment as the request named them, for messages.
        project: &'a str,
        environment: &'a str,
        resource: Option<&'a Resource>,
        level: Level,
    },
    /// The key's own organization's resources: projects, members, keys.
    Organization { level: Level },
}

/// Why a check ended in `insufficient_permission`, in terms a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// The permission needed, as it would be written in a grant: `Website:production:write`,
    /// or `org:write` for organization resources.
    pub required_permission: String,
    pub needed: Level,
    /// The highest level the key has there, if any.
    pub has: Option<Level>,
    /// "this key needs write on project 'Website' (production); it has read".
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub denial: Option<Denial>,
}

impl Decision {
    fn of(outcome: Outcome) -> Self {
        Decision {
            outcome,
            denial: None,
        }
    }
}

/// What a check needs besides the key and the request.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub now: Timestamp,
    /// The operator's scope catalog, to expand the key's scopes.
    pub catalog: &'a Catalog,
    /// For a user-bound key, its creator's access now.
    pub bound: &'a Bound,
}

/// Steps 3 to 9 for a key that parsed, given what the lookup of its id found.
pub fn decide(
    parsed: &ParsedKey,
    stored: Option<&ApiKey>,
    peppers: &PepperSet,
    target: &Target,
    ctx: Context<'_>,
) -> Decision {
    match authenticate(parsed, stored, peppers, ctx.now) {
        Ok(key) => judge(key, target, ctx),
        Err(outcome) => Decision::of(outcome),
    }
}

/// Steps 6 to 9 for a key that [`authenticate`] accepted.
pub fn judge(key: &ApiKey, target: &Target, ctx: Context<'_>) -> Decision {
    // 6.
    if let Target::Project {
        found: Some(found), ..
    } = target
    {
        if found.1.kind != key.kind {
            return Decision::of(Outcome::WrongEnvironment);
        }
    }
    // 7.
    match permission(key, target, ctx.catalog, ctx.bound) {
        Ok(()) => Decision::of(Outcome::Valid),
        Err(denial) => Decision {
            outcome: Outcome::InsufficientPermission,
            denial: Some(denial),
        },
    }
}

/// Steps 3 and 4 alone: whether the key is ours, its secret right, and it is usable
/// now. Used where a key identifies its caller before any permission is asked.
pub fn authenticate<'k>(
    parsed: &ParsedKey,
    stored: Option<&'k ApiKey>,
    peppers: &PepperSet,
    now: Timestamp,
) -> Result<&'k ApiKey, Outcome> {
    // 3. Unknown id or wrong secret look the same to the caller.
    let Some(key) = stored.filter(|k| k.id == parsed.id && k.kind == parsed.kind) else {
        return Err(Outcome::Unknown);
    };
    if !peppers.verify(&parsed.secret, &key.hash) {
        return Err(Outcome::Unknown);
    }
    // 4.
    if key.status != KeyStatus::Active {
        return Err(Outcome::Revoked);
    }
    if key.is_expired(now) {
        return Err(Outcome::Expired);
    }
    Ok(key)
}

/// The key's grants and the grants its scopes stand for: everything it may do,
/// before any cap by its creator's access.
pub fn all_grants(key: &ApiKey, catalog: &Catalog) -> Vec<Grant> {
    let mut grants = key.grants.clone();
    for scope in &key.scopes {
        grants.extend(catalog.expand(scope));
    }
    grants
}

const CAPPED: &str = " (a user-bound key never exceeds its creator's current access)";

/// Step 7 alone: whether `key`'s grants, scopes (or organization access) cover
/// `target`, capped, for a user-bound key, by what its creator holds now.
pub fn permission(
    key: &ApiKey,
    target: &Target,
    catalog: &Catalog,
    bound: &Bound,
) -> Result<(), Denial> {
    match target {
        Target::Organization { level } => {
            let own = key.org_access;
            let held = bound.org_cap().map_or(own, |cap| own.min(cap));
            if held.allows(*level) {
                return Ok(());
            }
            let note = if held < own { CAPPED } else { "" };
            Err(Denial {
                required_permission: format!("org:{level}"),
                needed: *level,
                has: held.0,
                message: format!("this key needs {level} access to the organization's resources; it has {held}{note}"),
            })
        }
        Target::Project {
            found,
            project,
            environment,
            resource,
            level,
        } => {
            // Scopes expand to grants; a key without scopes allocates nothing here.
            let expanded: Vec<Grant> = key.scopes.iter().flat_map(|s| catalog.expand(s)).collect();
            let own = found.as_deref().and_then(|(p, e)| {
                key.grants
                    .iter()
                    .chain(&expanded)
                    .filter(|g| g.reaches(&key.org_id, p, e, *resource))
                    .map(|g| g.level)
                    .max()
            });
            let has = match (found.as_deref(), own) {
                (Some((p, _)), Some(own)) => match bound.project_cap(&p.id) {
                    None => Some(own),
                    Some(cap) => cap.map(|cap| cap.min(own)),
                },
                _ => None,
            };
            if has.is_some_and(|h| h >= *level) {
                return Ok(());
            }
            let on = match resource {
                Some(r) => format!("{r} in project '{project}' ({environment})"),
                None => format!("project '{project}' ({environment})"),
            };
            let required_permission = match resource {
                Some(r) => format!("{project}:{environment}:{level}:{r}"),
                None => format!("{project}:{environment}:{level}"),
            };
            let holds = has.map_or("no access there".to_owned(), |h| h.to_string());
            let note = if has < own { CAPPED } else { "" };
            Err(Denial {
                required_permission,
                needed: *level,
                has,
                message: format!("this key needs {level} on {on}; it has {holds}{note}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
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
        let (mut key, parsed) =
            testing::key(&w.org, Kind::Live, vec![], OrgAccess(Some(Level::Read)));
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
}
