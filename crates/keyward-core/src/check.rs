//! The check: given what a request presented and what it wants to do, decide exactly
//! one outcome. [`check`] is the whole decision, written once; every surface (the
//! verify API, the management API's callers, `keyward check`, forward auth later) runs
//! it, so they all answer alike. The first failing step decides:
//!
//! 1. no credential → `missing`; several different ones → `malformed`
//! 2. shape, prefix, kind, checksum → `malformed` (no store access at all)
//! 3. no such key id, or the keyed hash does not match → `unknown`
//! 4. revoked or deleted → `revoked`; past its expiry → `expired`
//! 5. client address outside the key's allow-list → `ip_not_allowed`; the
//!    organization's plan without API access → `no_api_access`
//! 6. environment of the other kind → `wrong_environment`
//! 7. no grant covers the request at the level needed → `insufficient_permission`
//! 8. the key's rate limits (its own, or its plan's) → `rate_limited`; then the
//!    organization's monthly quota → `quota_exceeded`. Only a request that passed 1 to
//!    7 spends anything, and it spends on both or neither.
//! 9. `valid`
//!
//! The check does no I/O itself: it asks a [`Lookup`] for the key, then its
//! organization's plan, then whom a user-bound key answers to, then the project and
//! environment named, and the caller
//! (a cache in front of a store, or a map in tests) fetches them; last, it asks the
//! [`Lookup`] to [`spend`](Lookup::spend) the request against the limits, which the
//! caller keeps and decides with the pure [`limits`](crate::limits) and
//! [`quota`](crate::quota) rules. Nothing else decides.

use crate::access::{Bound, MemberAccess};
use crate::grant::{EnvRef, ProjectRef, Resource};
use crate::hash::PepperSet;
use crate::ids::{OrgId, UserId};
use crate::key::{KeyId, MalformedKey, ParsedKey, Prefixes, SecretRef};
use crate::level::Level;
use crate::limits::RateLimit;
pub use crate::meter::{Spending, Spent};
use crate::model::{ApiKey, KeyStatus};
use crate::plan::Plan;
use crate::scope::Catalog;
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

mod permission;
pub use permission::Denial;

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

/// Step 1: what the request presented, from every value that may hold a key (each
/// header that may carry one). Picked once, by whoever reads the request, and handed
/// on as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No credential at all: `missing`.
    Nothing,
    /// Several that differ: `malformed`, since guessing which one was meant could
    /// authorize the wrong caller.
    Conflicting,
    One(SecretRef<'a>),
}

impl<'a> Presented<'a> {
    pub fn pick(candidates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut chosen: Option<&'a str> = None;
        for candidate in candidates {
            match chosen {
                None => chosen = Some(candidate),
                Some(c) if c == candidate => {}
                Some(_) => return Presented::Conflicting,
            }
        }
        chosen.map_or(Presented::Nothing, |c| Presented::One(SecretRef::new(c)))
    }

    /// A key given as a field (the verify API, `keyward check`): empty means none.
    pub fn field(text: &'a str) -> Self {
        Presented::pick((!text.is_empty()).then_some(text))
    }
}

/// What a request wants to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Something inside a project and environment, named as the request names them.
    Project {
        /// A project name (any ASCII case) or id.
        project: String,
        /// An environment name.
        environment: String,
        resource: Option<Resource>,
        level: Level,
    },
    /// The key's own organization's resources: projects, members, keys.
    Organization { level: Level },
    /// Only who the caller is (steps 1 to 5): the management API judges each
    /// operation's permission itself.
    Identity,
}

/// A request description that does not hold together; `field` names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidAsk {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidAsk {
    InvalidAsk {
        field,
        message: message.into(),
    }
}

impl Asked {
    /// What the verify API and `keyward check` are asked, from the parts they take:
    /// a project and environment (or neither, for organization resources), the
    /// request's method or the level it needs, and optionally a catalog resource.
    pub fn from_parts(
        project: Option<&str>,
        environment: Option<&str>,
        method: Option<&str>,
        level: Option<Level>,
        resource: Option<&str>,
    ) -> Result<Asked, InvalidAsk> {
        let level = match (method, level) {
            (Some(_), Some(_)) => {
                return Err(invalid("method", "give either method or level, not both"))
            }
            (Some(m), None) => {
                Level::for_method(m).map_err(|e| invalid("method", format!("method: {e}")))?
            }
            (None, Some(l)) => l,
            (None, None) => {
                return Err(invalid(
                    "method",
                    "give the request's method (such as GET) or the level it needs",
                ))
            }
        };
        match (named(project), named(environment)) {
            (Some(project), Some(environment)) => Ok(Asked::Project {
                project: project.to_owned(),
                environment: environment.to_owned(),
                resource: resource
                    .map(|r| {
                        Resource::parse(r.trim())
                            .map_err(|e| invalid("resource", format!("resource: {e}")))
                    })
                    .transpose()?,
                level,
            }),
            (None, None) if resource.is_some() => Err(invalid(
                "resource",
                "a resource is inside a project: give the project and environment too",
            )),
            (None, None) => Ok(Asked::Organization { level }),
            (Some(_), None) => Err(invalid(
                "environment",
                "give both project and environment, or neither for organization access",
            )),
            (None, Some(_)) => Err(invalid(
                "project",
                "give both project and environment, or neither for organization access",
            )),
        }
    }
}

/// A name given, trimmed; `None` when absent or blank.
fn named(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A project and environment a request named, as found in the key's organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTarget {
    pub project: ProjectRef,
    pub environment: EnvRef,
}

/// What the check needs fetched, in the order it needs it. Implemented by the
/// application (a cache in front of the store) and by tests (maps).
pub trait Lookup {
    type Error;

    /// The key with this id, if there is one.
    fn key(
        &self,
        id: KeyId,
    ) -> impl Future<Output = Result<Option<Arc<ApiKey>>, Self::Error>> + Send;

    /// The plan of `org` now; `None` when the organization has a plan the operator no
    /// longer offers (which the check treats as no API access: it fails closed).
    fn plan(
        &self,
        org: &OrgId,
    ) -> impl Future<Output = Result<Option<Arc<Plan>>, Self::Error>> + Send;

    /// What `user` holds in `org` now; `None` if not a member.
    fn member(
        &self,
        org: &OrgId,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<Arc<MemberAccess>>, Self::Error>> + Send;

    /// The project (by name, any ASCII case, or id) and environment (by name) of
    /// `org`; `None` when the names match nothing there.
    fn target(
        &self,
        org: &OrgId,
        project: &str,
        environment: &str,
    ) -> impl Future<Output = Result<Option<Arc<ResolvedTarget>>, Self::Error>> + Send;

    /// Step 8: spend `cost` against `limits` (the key's) and then `quota` (its
    /// organization's requests a month, `None` for none): on both, or, when either
    /// refuses, on neither.
    fn spend(
        &self,
        key: &ApiKey,
        limits: &[RateLimit],
        quota: Option<u64>,
        cost: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<Spending, Self::Error>> + Send;
}

/// The limits a check was metered against and where they stand: for the verify
/// answer's JSON and the `RateLimit` headers.
#[derive(Debug, Clone)]
pub struct Metered {
    pub plan: Arc<Plan>,
    pub spending: Spending,
}

/// What a check needs besides the request and the lookups.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub now: Timestamp,
    /// The address the request came from, when known: checked against the key's
    /// allow-list.
    pub from: Option<IpAddr>,
    /// What the request costs against rate limits and the quota: usually 1; 0 reads
    /// where they stand without spending.
    pub cost: u32,
    pub prefixes: &'a Prefixes,
    pub peppers: &'a PepperSet,
    /// The operator's scope catalog, to expand the key's scopes.
    pub catalog: &'a Catalog,
}

/// Why a check ended as it did, beyond its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The outcome says it all.
    Outcome,
    /// Not a key of ours, and which part is off (never repeating the input).
    Malformed(MalformedKey),
    /// `revoked` for a key deleted for good, which cannot be reactivated.
    Deleted,
    /// `insufficient_permission`: what is needed and what the key has.
    Denied(Denial),
    /// `rate_limited` or `quota_exceeded`: see [`Verdict::metered`].
    Limited,
}

/// The answer of a check.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub outcome: Outcome,
    pub why: Why,
    /// The key, once its secret matched: for every outcome from `revoked` on.
    pub key: Option<Arc<ApiKey>>,
    /// Whom the key answers to now, once it passed steps 3 and 4.
    pub bound: Option<Bound>,
    /// The limits it was metered against, once it passed steps 1 to 7.
    pub metered: Option<Box<Metered>>,
}

impl Verdict {
    fn early(outcome: Outcome, why: Why) -> Self {
        Verdict {
            outcome,
            why,
            key: None,
            bound: None,
            metered: None,
        }
    }

    /// The rate limits the key was metered against: its own, or else its plan's.
    pub fn rate_limits(&self) -> Option<&[RateLimit]> {
        let metered = self.metered.as_ref()?;
        let key = self.key.as_ref()?;
        Some(
            key.rate_limits
                .as_deref()
                .unwrap_or(&metered.plan.rate_limits),
        )
    }

    /// What to tell the person behind the request.
    pub fn detail(&self) -> Cow<'_, str> {
        match &self.why {
            Why::Outcome => self.outcome.explanation().into(),
            Why::Malformed(m) => format!("{m}.").into(),
            Why::Deleted => {
                "This API key was deleted and cannot be reactivated. Create a new key.".into()
            }
            Why::Denied(d) => d.message.as_str().into(),
            Why::Limited => self.limited_detail().into(),
        }
    }

    fn limited_detail(&self) -> String {
        let (Some(metered), Some(limits)) = (self.metered.as_deref(), self.rate_limits()) else {
            return self.outcome.explanation().into();
        };
        let s = &metered.spending;
        let when = match s.retry_after {
            Some(after) => format!(
                "retry in {}",
                crate::duration::format(whole_seconds_up(after))
            ),
            None => "this request costs more than the limit allows at all".into(),
        };
        match s.spent {
            Spent::QuotaExceeded => match s.quota {
                Some(q) => format!(
                    "The organization's quota of {} requests this month is spent; it renews at {} ({when}).",
                    q.limit,
                    crate::timestamp::format(q.resets_at)
                ),
                None => self.outcome.explanation().into(),
            },
            _ => {
                let spent: Vec<String> = limits
                    .iter()
                    .zip(&s.standing)
                    .filter(|(_, st)| st.remaining == 0 || s.retry_after.is_none())
                    .map(|(l, _)| l.to_string())
                    .collect();
                format!(
                    "Too many requests with this key (limit {}); {when}.",
                    spent.join(", ")
                )
            }
        }
    }

    /// For `insufficient_permission`: the permission needed, as a grant is written.
    pub fn required_permission(&self) -> Option<&str> {
        match &self.why {
            Why::Denied(d) => Some(&d.required_permission),
            _ => None,
        }
    }
}

/// The check, steps 1 to 9 (see the module documentation).
pub async fn check<L: Lookup>(
    lookup: &L,
    presented: Presented<'_>,
    asked: &Asked,
    ctx: &Context<'_>,
) -> Result<Verdict, L::Error> {
    // 1.
    let text = match presented {
        Presented::Nothing => return Ok(Verdict::early(Outcome::Missing, Why::Outcome)),
        Presented::Conflicting => return Ok(Verdict::early(Outcome::Malformed, Why::Outcome)),
        Presented::One(text) => text,
    };
    // 2. Nothing is fetched for a string that is not a key of ours.
    let parsed = match ParsedKey::parse(text.expose_secret(), ctx.prefixes) {
        Ok(parsed) => parsed,
        Err(why) => return Ok(Verdict::early(Outcome::Malformed, Why::Malformed(why))),
    };
    // 3. An unknown id and a wrong secret look the same to the caller.
    let key = lookup.key(parsed.id).await?.filter(|k| {
        k.id == parsed.id
            && k.kind == parsed.kind
            && ctx
                .peppers
                .verify_str(parsed.secret.expose_secret(), &k.hash)
    });
    let Some(key) = key else {
        return Ok(Verdict::early(Outcome::Unknown, Why::Outcome));
    };
    // 4.
    let unusable = match key.status {
        KeyStatus::Deleted => Some((Outcome::Revoked, Why::Deleted)),
        KeyStatus::Revoked => Some((Outcome::Revoked, Why::Outcome)),
        KeyStatus::Active if key.is_expired(ctx.now) => Some((Outcome::Expired, Why::Outcome)),
        KeyStatus::Active => None,
    };
    if let Some((outcome, why)) = unusable {
        return Ok(Verdict {
            outcome,
            why,
            key: Some(key),
            bound: None,
            metered: None,
        });
    }
    // 5.
    let plan = if !key.ip_allowlist.allows(ctx.from) {
        Err(Outcome::IpNotAllowed)
    } else {
        match lookup.plan(&key.org_id).await? {
            Some(plan) if plan.api_access => Ok(plan),
            _ => Err(Outcome::NoApiAccess),
        }
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(outcome) => {
            return Ok(Verdict {
                outcome,
                why: Why::Outcome,
                key: Some(key),
                bound: None,
                metered: None,
            })
        }
    };
    // Whom the key answers to: read now, so a creator's demotion counts at once.
    let bound = match &key.owner {
        None => Bound::Service,
        Some(user) => Bound::User(lookup.member(&key.org_id, user).await?),
    };
    let judged = match asked {
        Asked::Identity => Ok(()),
        Asked::Organization { level } => permission::organization(&key, &bound, *level),
        Asked::Project {
            project,
            environment,
            resource,
            level,
        } => {
            // Only a key whose secret matched gets here, so a wrong secret cannot
            // probe which project names exist.
            let found = lookup.target(&key.org_id, project, environment).await?;
            // 6.
            if found
                .as_ref()
                .is_some_and(|t| t.environment.kind != key.kind)
            {
                return Ok(Verdict {
                    outcome: Outcome::WrongEnvironment,
                    why: Why::Outcome,
                    key: Some(key),
                    bound: Some(bound),
                    metered: None,
                });
            }
            // 7.
            let wanted = permission::Wanted {
                project,
                environment,
                resource: resource.as_ref(),
                level: *level,
            };
            permission::project(&key, &bound, ctx.catalog, found.as_deref(), &wanted)
        }
    };
    if let Err(denial) = judged {
        return Ok(Verdict {
            outcome: Outcome::InsufficientPermission,
            why: Why::Denied(denial),
            key: Some(key),
            bound: Some(bound),
            metered: None,
        });
    }
    // 8.
    let limits = key.rate_limits.as_deref().unwrap_or(&plan.rate_limits);
    let spending = lookup
        .spend(&key, limits, plan.monthly_quota, ctx.cost, ctx.now)
        .await?;
    let (outcome, why) = match spending.spent {
        Spent::Admitted => (Outcome::Valid, Why::Outcome),
        Spent::RateLimited => (Outcome::RateLimited, Why::Limited),
        Spent::QuotaExceeded => (Outcome::QuotaExceeded, Why::Limited),
    };
    // 9.
    Ok(Verdict {
        outcome,
        why,
        key: Some(key),
        bound: Some(bound),
        metered: Some(Box::new(Metered { plan, spending })),
    })
}

/// A wait as a client is told it: in whole seconds, rounded up, so that a retry at
/// that time is admitted.
pub fn whole_seconds_up(d: time::Duration) -> time::Duration {
    let whole = d.whole_seconds();
    let rest = d - time::Duration::seconds(whole);
    time::Duration::seconds(whole + i64::from(rest > time::Duration::ZERO))
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
