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
pub fn parse<'a>(text: &'a str, prefix: &Prefix) -> Result<ParsedKey<'a>, (Outcome, MalformedKey)> {
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
    if !peppers.verify_str(parsed.secret.expose_secret(), &key.hash) {
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
    crate::escalation::Power::of(key).all_grants(catalog)
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
            let expanded = catalog.expand_all(&key.scopes);
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
#[path = "check_tests.rs"]
mod tests;
