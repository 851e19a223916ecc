//! The verify API, `POST /v1/keys/verify`: a key and what a request wants to do in,
//! the outcome, what to tell the client and who the key is out.

use super::{JsonObject, Kind, Level, OrgAccess, Outcome};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// A check of a key against a request. Leave out `project` and `environment` to check
/// organization access; give `method` or `level`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyIn {
    /// The key the request carried (redacted in `Debug`).
    #[serde(serialize_with = "expose")]
    pub key: SecretString,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The request's HTTP method, from which keyward takes the level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// A resource of the scope catalog, such as `forms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The client's address, checked against the key's allow-list. Left out, a key
    /// with an allow-list is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// What the request costs against rate limits and the quota: 1 when left out; 0
    /// reads where the key stands and spends nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<u32>,
}

impl VerifyIn {
    /// A check of `key` with nothing else set yet.
    pub fn new(key: SecretString) -> Self {
        VerifyIn {
            key,
            project: None,
            environment: None,
            method: None,
            level: None,
            resource: None,
            ip: None,
            cost: None,
        }
    }
}

fn expose<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

/// The verify API's answer. Always 200 for a well-formed call: the outcome is here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyOut {
    pub valid: bool,
    pub outcome: Outcome,
    /// The HTTP status to answer the client with.
    pub status: u16,
    /// For the person reading the error.
    pub detail: String,
    /// For `insufficient_permission`: the permission needed, such as
    /// `Website:production:write`.
    #[serde(default)]
    pub required_permission: Option<String>,
    /// The key, when it is one of keyward's and its secret matched.
    #[serde(default)]
    pub key: Option<VerifiedKey>,
    /// Where the key's rate limits stand after this check; `null` for a check that
    /// ended before the limits.
    #[serde(default)]
    pub rate_limits: Option<Vec<LimitStanding>>,
    /// The organization's monthly quota after this check; `null` when its plan has
    /// none or the check ended before the limits.
    #[serde(default)]
    pub quota: Option<QuotaView>,
    /// For `rate_limited` and `quota_exceeded`: seconds until the same request would
    /// be admitted; `null` when it never would.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// `RateLimit-Policy`, `RateLimit` and, on a refusal, `Retry-After`, ready to copy
    /// onto the answer.
    pub headers: BTreeMap<String, String>,
}

impl VerifyOut {
    /// Whether this answer was counted against limits: the key has rate limits or its
    /// organization a quota, so the next check must reach keyward to count too.
    pub fn is_metered(&self) -> bool {
        self.outcome.is_metered()
            || self.rate_limits.as_ref().is_some_and(|l| !l.is_empty())
            || self.quota.is_some()
    }
}

/// Who the key is, as the operator's API needs it to serve the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedKey {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub kind: Kind,
    /// Grants as stored: `project` is a project id or `*`.
    pub grants: Vec<JsonObject>,
    pub scopes: Vec<String>,
    pub org_access: OrgAccess,
    /// The user the key acts as; `null` for a service key.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default, with = "super::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The operator's own data about the key.
    #[serde(default)]
    pub metadata: Option<JsonObject>,
}

/// Where one of a key's rate limits stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitStanding {
    pub name: String,
    pub limit: u32,
    /// Such as `10s`, `1m`.
    pub period: String,
    pub remaining: u32,
    /// Seconds until it is whole again (with nothing left: until the next request is
    /// admitted).
    pub reset: u64,
}

/// An organization's monthly quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaView {
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    #[serde(with = "super::rfc3339")]
    pub resets_at: OffsetDateTime,
}
