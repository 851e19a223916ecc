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

use crate::grant::{EnvRef, ProjectRef, Resource};
use crate::hash::PepperSet;
use crate::key::{MalformedKey, ParsedKey, Prefix};
use crate::level::Level;
use crate::model::{ApiKey, KeyStatus};
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

/// What a request wants to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Something inside a project and environment.
    Project {
        /// The project and environment as found in the store; `None` when the names
        /// given match nothing, which no grant can cover.
        found: Option<(ProjectRef, EnvRef)>,
        /// The project and environment as the request named them, for messages.
        project: String,
        environment: String,
        resource: Option<Resource>,
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

/// Steps 3 to 9 for a key that parsed, given what the lookup of its id found.
pub fn decide(
    parsed: &ParsedKey,
    stored: Option<&ApiKey>,
    peppers: &PepperSet,
    target: &Target,
    now: Timestamp,
) -> Decision {
    let key = match authenticate(parsed, stored, peppers, now) {
        Ok(key) => key,
        Err(outcome) => return Decision::of(outcome),
    };
    // 6.
    if let Target::Project {
        found: Some((_, env)),
        ..
    } = target
    {
        if env.kind != key.kind {
            return Decision::of(Outcome::WrongEnvironment);
        }
    }
    // 7.
    match permission(key, target) {
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

/// Step 7 alone: whether `key`'s grants (or organization access) cover `target`.
pub fn permission(key: &ApiKey, target: &Target) -> Result<(), Denial> {
    match target {
        Target::Organization { level } => {
            if key.org_access.allows(*level) {
                return Ok(());
            }
            Err(Denial {
                required_permission: format!("org:{level}"),
                needed: *level,
                has: key.org_access.0,
                message: format!(
                    "this key needs {level} access to the organization's resources; it has {}",
                    key.org_access
                ),
            })
        }
        Target::Project {
            found,
            project,
            environment,
            resource,
            level,
        } => {
            let has = found.as_ref().and_then(|(p, e)| {
                key.grants
                    .iter()
                    .filter(|g| g.reaches(&key.org_id, p, e, resource.as_ref()))
                    .map(|g| g.level)
                    .max()
            });
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
            Err(Denial {
                required_permission,
                needed: *level,
                has,
                message: format!("this key needs {level} on {on}; it has {holds}"),
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
    use crate::testing::{self, env, grant, now, peppers, project};
    use proptest::prelude::*;
    use rand_core::OsRng;
    use time::Duration;

    fn target(p: &ProjectRef, e: &EnvRef, level: Level) -> Target {
        Target::Project {
            found: Some((p.clone(), e.clone())),
            project: p.name.clone(),
            environment: e.name.to_string(),
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
            now(),
        );
        assert_eq!(get.outcome, Outcome::Valid);
        let delete = decide(
            &parsed,
            Some(&key),
            &peppers(),
            &target(&w.web, &w.prod, Level::Manage),
            now(),
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
            now(),
        );
        assert_eq!(d.outcome, Outcome::WrongEnvironment);
        let d = decide(
            &parsed,
            Some(&key),
            &peppers(),
            &target(&w.web, &w.preview, Level::Read),
            now(),
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
            decide(&parsed, None, &peppers(), &t, now()).outcome,
            Outcome::Unknown
        );
        // Another key's record under this id: the secret does not match its hash.
        let (mut other, _) = testing::key(
            &w.org,
            Kind::Live,
            vec![grant(None, None, Level::Read)],
            OrgAccess::NONE,
        );
        other.id = key.id.clone();
        assert_eq!(
            decide(&parsed, Some(&other), &peppers(), &t, now()).outcome,
            Outcome::Unknown
        );
        // The right record, but checked with another pepper.
        let wrong = PepperSet::parse("another-pepper-0123456789abcdefghijklmnopq").unwrap();
        assert_eq!(
            decide(&parsed, Some(&key), &wrong, &t, now()).outcome,
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
            decide(&parsed, Some(&revoked), &peppers(), &t, now()).outcome,
            Outcome::Revoked
        );
        let back = lifecycle::reactivate(&revoked, now()).unwrap().key;
        assert_eq!(
            decide(&parsed, Some(&back), &peppers(), &t, now()).outcome,
            Outcome::Valid
        );
        let deleted = lifecycle::delete(&key, now()).unwrap().key;
        assert_eq!(
            decide(&parsed, Some(&deleted), &peppers(), &t, now()).outcome,
            Outcome::Revoked
        );
        let mut expiring = key.clone();
        expiring.expires_at = Some(now() + Duration::hours(1));
        assert_eq!(
            decide(&parsed, Some(&expiring), &peppers(), &t, now()).outcome,
            Outcome::Valid
        );
        let later = now() + Duration::hours(1);
        assert_eq!(
            decide(&parsed, Some(&expiring), &peppers(), &t, later).outcome,
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
            project: "Nope".into(),
            environment: "production".into(),
            resource: None,
            level: Level::Read,
        };
        let d = decide(&parsed, Some(&key), &peppers(), &t, now());
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
            decide(&parsed, Some(&key), &peppers(), &org(Level::Write), now()).outcome,
            Outcome::Valid
        );
        let d = decide(&parsed, Some(&key), &peppers(), &org(Level::Manage), now());
        assert_eq!(d.outcome, Outcome::InsufficientPermission);
        assert_eq!(d.denial.unwrap().required_permission, "org:manage");
        let p = decide(
            &parsed,
            Some(&key),
            &peppers(),
            &target(&w.web, &w.prod, Level::Read),
            now(),
        );
        assert_eq!(p.outcome, Outcome::InsufficientPermission);
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
            let d = decide(&parsed, Some(&key), &peppers(), &target(&p, &e, needed), now());
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
            let before = decide(&p1, Some(&k1), &peppers(), &t, now()).outcome;
            let after = decide(&p2, Some(&k2), &peppers(), &t, now()).outcome;
            prop_assert!(!(before == Outcome::Valid && after != Outcome::Valid));
        }
    }
}
