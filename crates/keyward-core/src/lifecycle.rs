//! The key lifecycle as pure transitions: each takes a key (and the time) and returns
//! the key as it must be saved, with the audit action and details that describe the
//! change, or the reason the change is not allowed. The store applies both at once.

use crate::allowlist::IpAllowlist;
use crate::audit::{Actor, AuditAction};
use crate::duration;
use crate::grant::Grant;
use crate::hash::KeyHash;
use crate::ids::UserId;
use crate::key::KeyId;
use crate::kind::Kind;
use crate::level::OrgAccess;
use crate::limits::RateLimit;
use crate::metadata::Metadata;
use crate::model::{ApiKey, KeyStatus};
use crate::names::{Description, KeyName};
use crate::scope::Scope;
use crate::timestamp::{self, Timestamp};
use serde_json::{json, Value};
use time::Duration;

/// The longest grace period a rotation may give the old key.
pub const MAX_GRACE: Duration = Duration::days(7);
/// The grace period when none is asked for.
pub const DEFAULT_GRACE: Duration = Duration::hours(24);

/// Operator-set limits on keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// How far ahead an expiry may be set (2 years by default).
    pub max_lifetime: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_lifetime: Duration::days(730),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("a key needs at least one grant (PROJECT:ENVIRONMENT:LEVEL), scope (RESOURCE:ACTION), or organization access above 'none'")]
    NoAccess,
    #[error("expires_at: {at} is not in the future; give a later time")]
    ExpiryNotInFuture { at: String },
    #[error("expires_at: {at} is more than {max} ahead; the latest allowed is {latest}")]
    ExpiryTooFar {
        at: String,
        max: String,
        latest: String,
    },
    #[error("grace_period: {0} is longer than the maximum of 7 days")]
    GraceTooLong(String),
    #[error("grace_period: '{0}' is not a duration: use 0 (stop the old key now) or a number followed by s, m, h or d, up to 7d")]
    GraceSyntax(String),
    #[error("grace_period: a grace period cannot be negative")]
    GraceNegative,
    #[error("key {0} is already revoked")]
    AlreadyRevoked(KeyId),
    #[error("key {0} is not revoked, so there is nothing to reactivate")]
    NotRevoked(KeyId),
    #[error("key {0} is deleted; a deleted key can never be used, changed or reactivated again")]
    Deleted(KeyId),
    #[error("key {0} is revoked; reactivate it before rotating it")]
    RotateRevoked(KeyId),
    #[error("key {old} was already rotated and replaced by key {new}; rotate {new} instead")]
    AlreadyRotated { old: KeyId, new: KeyId },
    #[error("key {0} has expired; give it a later expiry with an update before rotating it, or create a new key")]
    RotateExpired(KeyId),
    #[error("expires_at: key {old} was replaced by key {new}; its expiry is the end of its grace period and cannot be changed")]
    RotatedExpiry { old: KeyId, new: KeyId },
}

/// Parses and bounds a grace period: from 0 (the old key stops at once) to 7 days.
pub fn grace_period(input: Option<&str>) -> Result<Duration, LifecycleError> {
    let grace = match input {
        None => DEFAULT_GRACE,
        Some(s) => duration::parse(s).map_err(|e| LifecycleError::GraceSyntax(e.0))?,
    };
    check_grace(grace)?;
    Ok(grace)
}

pub fn check_grace(grace: Duration) -> Result<(), LifecycleError> {
    if grace.is_negative() {
        return Err(LifecycleError::GraceNegative);
    }
    if grace > MAX_GRACE {
        return Err(LifecycleError::GraceTooLong(duration::format(grace)));
    }
    Ok(())
}

/// An expiry must lie in the future and no further ahead than the policy allows.
pub fn check_expiry(
    expires_at: Option<Timestamp>,
    policy: &Policy,
    now: Timestamp,
) -> Result<(), LifecycleError> {
    let Some(at) = expires_at else { return Ok(()) };
    if at <= now {
        return Err(LifecycleError::ExpiryNotInFuture {
            at: timestamp::format(at),
        });
    }
    let latest = now + policy.max_lifetime;
    if at > latest {
        return Err(LifecycleError::ExpiryTooFar {
            at: timestamp::format(at),
            max: duration::format(policy.max_lifetime),
            latest: timestamp::format(latest),
        });
    }
    Ok(())
}

/// Everything needed to create a key except its generated id and hash.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    pub name: KeyName,
    pub description: Option<Description>,
    pub kind: Kind,
    pub grants: Vec<Grant>,
    pub scopes: Vec<Scope>,
    pub org_access: OrgAccess,
    pub owner: Option<UserId>,
    pub expires_at: Option<Timestamp>,
    pub ip_allowlist: IpAllowlist,
    pub metadata: Option<Metadata>,
    /// `None`: the plan's limits.
    pub rate_limits: Option<Vec<RateLimit>>,
}

/// A change to apply: the key as it must be saved, and how to audit it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub key: ApiKey,
    pub action: AuditAction,
    pub details: Value,
}

fn grants_json(grants: &[Grant]) -> Value {
    serde_json::to_value(grants).unwrap_or(Value::Null)
}

fn metadata_json(m: Option<&Metadata>) -> Value {
    m.map_or(Value::Null, Metadata::to_value)
}

fn expiry_json(at: Option<Timestamp>) -> Value {
    at.map_or(Value::Null, |t| Value::String(timestamp::format(t)))
}

pub fn create(
    spec: NewKey,
    org_id: crate::ids::OrgId,
    id: KeyId,
    hash: KeyHash,
    created_by: Actor,
    policy: &Policy,
    now: Timestamp,
) -> Result<Transition, LifecycleError> {
    if spec.grants.is_empty() && spec.scopes.is_empty() && spec.org_access == OrgAccess::NONE {
        return Err(LifecycleError::NoAccess);
    }
    check_expiry(spec.expires_at, policy, now)?;
    let details = json!({
        "name": spec.name.as_str(),
        "kind": spec.kind,
        "grants": grants_json(&spec.grants),
        "scopes": spec.scopes,
        "org_access": spec.org_access,
        "owner": spec.owner,
        "expires_at": expiry_json(spec.expires_at),
        "ip_allowlist": spec.ip_allowlist.to_strings(),
        "metadata": metadata_json(spec.metadata.as_ref()),
        "rate_limits": spec.rate_limits,
    });
    let key = ApiKey {
        id,
        org_id,
        name: spec.name,
        description: spec.description,
        kind: spec.kind,
        grants: spec.grants,
        scopes: spec.scopes,
        org_access: spec.org_access,
        owner: spec.owner,
        created_by,
        created_at: now,
        expires_at: spec.expires_at,
        status: KeyStatus::Active,
        status_changed_at: None,
        rotated_from: None,
        rotated_to: None,
        hash,
        revision: 1,
        last_used_at: None,
        last_used_ip: None,
        ip_allowlist: spec.ip_allowlist,
        metadata: spec.metadata,
        rate_limits: spec.rate_limits,
    };
    Ok(Transition {
        key,
        action: AuditAction::KeyCreated,
        details,
    })
}

fn not_deleted(key: &ApiKey) -> Result<(), LifecycleError> {
    if key.status == KeyStatus::Deleted {
        Err(LifecycleError::Deleted(key.id))
    } else {
        Ok(())
    }
}

fn with_status(key: &ApiKey, status: KeyStatus, now: Timestamp) -> ApiKey {
    let mut next = key.clone();
    next.status = status;
    next.status_changed_at = Some(now);
    next.revision += 1;
    next
}

/// Whether `key` may be revoked: it is neither deleted nor already revoked.
pub fn revocable(key: &ApiKey) -> Result<(), LifecycleError> {
    not_deleted(key)?;
    if key.status == KeyStatus::Revoked {
        return Err(LifecycleError::AlreadyRevoked(key.id));
    }
    Ok(())
}

/// Whether `key` may be reactivated: it is revoked (and so not deleted).
pub fn reactivatable(key: &ApiKey) -> Result<(), LifecycleError> {
    not_deleted(key)?;
    if key.status != KeyStatus::Revoked {
        return Err(LifecycleError::NotRevoked(key.id));
    }
    Ok(())
}

pub fn revoke(key: &ApiKey, now: Timestamp) -> Result<Transition, LifecycleError> {
    revocable(key)?;
    Ok(Transition {
        key: with_status(key, KeyStatus::Revoked, now),
        action: AuditAction::KeyRevoked,
        details: json!({ "status": { "before": key.status, "after": KeyStatus::Revoked } }),
    })
}

pub fn reactivate(key: &ApiKey, now: Timestamp) -> Result<Transition, LifecycleError> {
    reactivatable(key)?;
    Ok(Transition {
        key: with_status(key, KeyStatus::Active, now),
        action: AuditAction::KeyReactivated,
        details: json!({ "status": { "before": key.status, "after": KeyStatus::Active } }),
    })
}

pub fn delete(key: &ApiKey, now: Timestamp) -> Result<Transition, LifecycleError> {
    not_deleted(key)?;
    Ok(Transition {
        key: with_status(key, KeyStatus::Deleted, now),
        action: AuditAction::KeyDeleted,
        details: json!({ "status": { "before": key.status, "after": KeyStatus::Deleted } }),
    })
}

/// Whether `key` may be rotated now: it is neither deleted, revoked, expired, nor
/// already replaced.
pub fn rotatable(key: &ApiKey, now: Timestamp) -> Result<(), LifecycleError> {
    not_deleted(key)?;
    if key.status == KeyStatus::Revoked {
        return Err(LifecycleError::RotateRevoked(key.id));
    }
    if let Some(new) = &key.rotated_to {
        return Err(LifecycleError::AlreadyRotated {
            old: key.id,
            new: *new,
        });
    }
    if key.is_expired(now) {
        return Err(LifecycleError::RotateExpired(key.id));
    }
    Ok(())
}

/// The changes `key`'s state allows now, by the same preconditions the transitions
/// check (without building them): what a dashboard offers, so that it never offers
/// what would be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offered {
    pub revoke: bool,
    pub reactivate: bool,
    pub rotate: bool,
    pub delete: bool,
}

impl Offered {
    pub fn of(key: &ApiKey, now: Timestamp) -> Self {
        Offered {
            revoke: revocable(key).is_ok(),
            reactivate: reactivatable(key).is_ok(),
            rotate: rotatable(key, now).is_ok(),
            delete: not_deleted(key).is_ok(),
        }
    }

    /// Whether anything at all may be done.
    pub fn any(self) -> bool {
        self.revoke || self.reactivate || self.rotate || self.delete
    }
}

/// The result of a rotation: the old key, now ending at the close of its grace period,
/// and the new key that replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    pub old: ApiKey,
    pub new: ApiKey,
    pub details: Value,
}

/// Replaces `old` by a key with a new id and secret and the same name, grants and
/// settings. The old key keeps working until `now + grace` (or its own expiry, if
/// sooner); a grace of zero stops it at once.
pub fn rotate(
    old: &ApiKey,
    new_id: KeyId,
    new_hash: KeyHash,
    grace: Duration,
    actor: Actor,
    now: Timestamp,
) -> Result<Rotation, LifecycleError> {
    not_deleted(old)?;
    check_grace(grace)?;
    rotatable(old, now)?;
    let grace_end = now + grace;
    let mut retired = old.clone();
    retired.rotated_to = Some(new_id);
    retired.expires_at = Some(old.expires_at.map_or(grace_end, |at| at.min(grace_end)));
    retired.revision += 1;
    let new = ApiKey {
        id: new_id,
        created_by: actor,
        created_at: now,
        status: KeyStatus::Active,
        status_changed_at: None,
        rotated_from: Some(old.id),
        rotated_to: None,
        hash: new_hash,
        revision: 1,
        last_used_at: None,
        last_used_ip: None,
        ..old.clone()
    };
    let details = json!({
        "new_key_id": new_id,
        "grace_period": duration::format(grace),
        "old_key_expires_at": expiry_json(retired.expires_at),
    });
    Ok(Rotation {
        old: retired,
        new,
        details,
    })
}

/// A change to a key's editable fields. `None` leaves a field as it is; for the
/// optional fields, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyPatch {
    pub name: Option<KeyName>,
    pub description: Option<Option<Description>>,
    pub grants: Option<Vec<Grant>>,
    pub scopes: Option<Vec<Scope>>,
    pub org_access: Option<OrgAccess>,
    pub expires_at: Option<Option<Timestamp>>,
    pub ip_allowlist: Option<IpAllowlist>,
    /// `Some(None)` removes the metadata.
    pub metadata: Option<Option<Metadata>>,
    /// `Some(None)` goes back to the plan's limits.
    pub rate_limits: Option<Option<Vec<RateLimit>>>,
}

pub fn update(
    key: &ApiKey,
    patch: KeyPatch,
    policy: &Policy,
    now: Timestamp,
) -> Result<Transition, LifecycleError> {
    not_deleted(key)?;
    let mut next = key.clone();
    let mut before = serde_json::Map::new();
    let mut after = serde_json::Map::new();
    let mut changed = |field: &str, old: Value, new: Value| {
        if old != new {
            before.insert(field.to_owned(), old);
            after.insert(field.to_owned(), new);
        }
    };
    if let Some(name) = patch.name {
        changed("name", json!(key.name), json!(name));
        next.name = name;
    }
    if let Some(description) = patch.description {
        changed("description", json!(key.description), json!(description));
        next.description = description;
    }
    if let Some(grants) = patch.grants {
        changed("grants", grants_json(&key.grants), grants_json(&grants));
        next.grants = grants;
    }
    if let Some(scopes) = patch.scopes {
        changed("scopes", json!(key.scopes), json!(scopes));
        next.scopes = scopes;
    }
    if let Some(access) = patch.org_access {
        changed("org_access", json!(key.org_access), json!(access));
        next.org_access = access;
    }
    if let Some(expires_at) = patch.expires_at {
        if expires_at != key.expires_at {
            if let Some(new) = &key.rotated_to {
                return Err(LifecycleError::RotatedExpiry {
                    old: key.id,
                    new: *new,
                });
            }
            check_expiry(expires_at, policy, now)?;
        }
        changed(
            "expires_at",
            expiry_json(key.expires_at),
            expiry_json(expires_at),
        );
        next.expires_at = expires_at;
    }
    if let Some(list) = patch.ip_allowlist {
        changed(
            "ip_allowlist",
            json!(key.ip_allowlist.to_strings()),
            json!(list.to_strings()),
        );
        next.ip_allowlist = list;
    }
    if let Some(metadata) = patch.metadata {
        changed(
            "metadata",
            metadata_json(key.metadata.as_ref()),
            metadata_json(metadata.as_ref()),
        );
        next.metadata = metadata;
    }
    if let Some(limits) = patch.rate_limits {
        changed("rate_limits", json!(key.rate_limits), json!(limits));
        next.rate_limits = limits;
    }
    if next.grants.is_empty() && next.scopes.is_empty() && next.org_access == OrgAccess::NONE {
        return Err(LifecycleError::NoAccess);
    }
    next.revision += 1;
    Ok(Transition {
        key: next,
        action: AuditAction::KeyUpdated,
        details: json!({ "before": before, "after": after }),
    })
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
