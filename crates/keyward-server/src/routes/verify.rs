//! The verify API: `POST /v1/keys/verify`. The operator's backend sends a key and what
//! the request wants to do; the answer is always 200 for a well-formed call, with the
//! outcome in the body, so that "the key is bad" is never confused with "the call to
//! keyward failed".

use crate::auth::OperatorToken;
use crate::error::{ApiError, ApiResult, Json};
use crate::openapi::{Forbidden, Unprocessable};
use crate::ratelimit::{LimitStanding, Limits, QuotaView};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use keyward_app::schema;
use keyward_core::{
    ApiKey, Asked, Grant, KeyId, Kind, Level, OrgAccess, OrgId, Outcome, Presented, Scope,
    Timestamp, UserId,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyIn {
    /// The key the request carried.
    #[schema(value_type = String)]
    pub key: SecretString,
    /// Project id or name. Leave out, with `environment`, to check organization access.
    pub project: Option<String>,
    /// Environment name, such as `production`.
    pub environment: Option<String>,
    /// The request's HTTP method; or give `level`.
    #[schema(schema_with = schema::method_or_null, example = "GET")]
    pub method: Option<String>,
    /// The level needed: `read`, `write` or `manage`.
    #[schema(schema_with = schema::level_or_null)]
    pub level: Option<Level>,
    /// A resource of the scope catalog, such as `forms`.
    pub resource: Option<String>,
    /// The address the request came from (IPv4 or IPv6), checked against the key's
    /// allow-list and recorded as its last use. Left out, a key with an allow-list is
    /// refused (`ip_not_allowed`).
    #[schema(example = "203.0.113.7")]
    pub ip: Option<String>,
    /// What the request costs against the key's rate limits and its organization's
    /// monthly quota: 1 when left out; 0 reads where they stand and spends nothing.
    #[schema(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000, example = 1)]
    pub cost: Option<serde_json::Number>,
}

// Borrows from the check's result, so answering copies nothing.
/// The verify API's answer: the outcome, what to tell the client, and who the key is.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyOut<'a> {
    pub valid: bool,
    /// One of `valid`, `missing`, `malformed`, `unknown`, `expired`, `revoked`,
    /// `wrong_environment`, `insufficient_permission`, `ip_not_allowed`,
    /// `no_api_access`, `rate_limited`, `quota_exceeded`.
    #[schema(schema_with = outcome)]
    pub outcome: Outcome,
    /// The HTTP status to answer the client with.
    pub status: u16,
    /// For the person reading the error.
    #[schema(value_type = String)]
    pub detail: Cow<'a, str>,
    /// For `insufficient_permission`: the permission needed, such as `Website:production:write`.
    #[schema(value_type = Option<String>)]
    pub required_permission: Option<&'a str>,
    /// The key, when it is ours and its secret matched.
    pub key: Option<VerifiedKey<'a>>,
    /// Where the key's rate limits stand after this check: its own, or its plan's.
    /// `null` for a check that ended before the limits (any outcome but `valid`,
    /// `rate_limited` and `quota_exceeded`).
    pub rate_limits: Option<Vec<LimitStanding>>,
    /// The organization's monthly quota after this check; `null` when its plan has
    /// none or the check ended before the limits.
    pub quota: Option<QuotaView>,
    /// For `rate_limited` and `quota_exceeded`: seconds until the same request would
    /// be admitted; `null` when it never would (it costs more than a limit admits).
    pub retry_after: Option<u64>,
    /// The same as HTTP header fields, for your API to copy onto its answer:
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers), and
    /// `Retry-After` on a refusal. Empty when the check ended before the limits.
    #[schema(value_type = BTreeMap<String, String>)]
    pub headers: HeaderFields,
}

/// The answer's `headers`: the fields by name, in the order a `BTreeMap` of them
/// would serialise (byte order of the names), without building one.
#[derive(Debug, Default)]
pub struct HeaderFields(Vec<(Cow<'static, str>, String)>);

impl HeaderFields {
    fn of(limits: &Limits, now: Timestamp) -> Self {
        Self::from_fields(limits.fields(now))
    }

    fn from_fields(fields: Vec<(header::HeaderName, String)>) -> Self {
        let mut fields: Vec<(Cow<'static, str>, String)> = fields
            .into_iter()
            .map(|(name, value)| (header_case(name.as_str()), value))
            .collect();
        fields.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        HeaderFields(fields)
    }
}

impl Serialize for HeaderFields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Who the key is, as the operator's API needs it to serve the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedKey<'a> {
    #[schema(schema_with = schema::key_id)]
    pub id: &'a KeyId,
    #[schema(schema_with = schema::org_id)]
    pub org_id: &'a OrgId,
    pub name: &'a str,
    #[schema(schema_with = schema::kind)]
    pub kind: Kind,
    /// Grants as stored: `project` is a project id or `*`.
    #[schema(value_type = Vec<Object>)]
    pub grants: &'a [Grant],
    #[schema(value_type = Vec<String>)]
    pub scopes: &'a [Scope],
    #[schema(schema_with = schema::org_access)]
    pub org_access: OrgAccess,
    /// The user the key acts as; `null` for a service key.
    #[schema(value_type = Option<String>)]
    pub owner: Option<&'a UserId>,
    #[serde(with = "keyward_core::timestamp::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// Your own data about the key, as set on it; `null` when none.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl<'a> From<&'a ApiKey> for VerifiedKey<'a> {
    fn from(k: &'a ApiKey) -> Self {
        VerifiedKey {
            id: &k.id,
            org_id: &k.org_id,
            name: k.name.as_str(),
            kind: k.kind,
            grants: &k.grants,
            scopes: &k.scopes,
            org_access: k.org_access,
            owner: k.owner.as_ref(),
            expires_at: k.expires_at,
            metadata: k.metadata.as_ref().map(keyward_core::Metadata::as_map),
        }
    }
}

/// Every check outcome, as the verify API names it.
fn outcome() -> utoipa::openapi::schema::Object {
    schema::one_of(Outcome::ALL.map(Outcome::as_str))
}

/// Check a key against a request.
#[utoipa::path(post, path = "/v1/keys/verify", tag = "verify", operation_id = "verify_key", request_body = VerifyIn,
    responses(
        (status = 200, body = VerifyOut), (status = 403, response = Forbidden),
        (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn verify(
    State(s): State<AppState>,
    _operator: OperatorToken,
    Json(body): Json<VerifyIn>,
) -> ApiResult<Response> {
    let asked = Asked::from_parts(
        body.project.as_deref(),
        body.environment.as_deref(),
        body.method.as_deref(),
        body.level,
        body.resource.as_deref(),
    )
    .map_err(|e| ApiError::validation(e.field, e.message))?;
    let from = body
        .ip
        .as_deref()
        .map(|ip| {
            ip.trim().parse::<std::net::IpAddr>().map_err(|_| {
                ApiError::validation(
                    "ip",
                    format!(
                        "ip: '{}' is not an IPv4 or IPv6 address",
                        keyward_core::echo::echo(ip, 60)
                    ),
                )
            })
        })
        .transpose()?;
    let cost = match &body.cost {
        None => 1,
        Some(n) => super::whole_u32(n)
            .filter(|c| *c <= 1_000_000_000)
            .ok_or_else(|| {
                ApiError::validation(
                    "cost",
                    "cost: give a whole number from 0 to 1,000,000,000 (1 when left out)",
                )
            })?,
    };
    let verdict = s
        .app
        .check_costing(
            Presented::field(body.key.expose_secret()),
            &asked,
            from,
            cost,
        )
        .await?;
    let now = s.app.now();
    let limits = Limits::of(&verdict, now);
    let out = VerifyOut {
        valid: verdict.outcome.is_valid(),
        outcome: verdict.outcome,
        status: verdict.outcome.http_status(),
        detail: verdict.detail(),
        required_permission: verdict.required_permission(),
        key: verdict.key.as_deref().map(VerifiedKey::from),
        headers: limits
            .as_ref()
            .map(|l| HeaderFields::of(l, now))
            .unwrap_or_default(),
        retry_after: limits.as_ref().and_then(|l| l.retry_after),
        quota: limits.as_ref().and_then(|l| l.quota.clone()),
        rate_limits: limits.map(|l| l.rate_limits),
    };
    // Serialised here, while the answer can still borrow from the result; into room
    // for a whole answer with limits (about 850 bytes), not grown step by step.
    let mut body = Vec::with_capacity(1024);
    serde_json::to_writer(&mut body, &out).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise a verify answer");
        ApiError::new(
            &crate::problems::INTERNAL,
            "internal error; it has been logged",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A field name as people write it: `RateLimit-Policy`, `Retry-After`.
fn header_case(name: &str) -> Cow<'static, str> {
    match name {
        "ratelimit-policy" => "RateLimit-Policy".into(),
        "ratelimit" => "RateLimit".into(),
        "retry-after" => "Retry-After".into(),
        other => other.to_owned().into(),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/keys/verify", post(verify))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::{RATELIMIT, RATELIMIT_POLICY};
    use std::collections::BTreeMap;

    #[test]
    fn the_header_fields_serialise_as_a_map_of_them_did() {
        let value = |s: &str| s.to_owned();
        let sets = [
            vec![],
            vec![
                (RATELIMIT_POLICY, value(r#""default";q=100;w=10"#)),
                (RATELIMIT, value(r#""default";r=99;t=1"#)),
            ],
            vec![
                (
                    RATELIMIT_POLICY,
                    value(r#""burst";q=1;w=1, "quota";q=5;w=2678400"#),
                ),
                (RATELIMIT, value(r#""burst";r=0;t=1, "quota";r=5;t=60"#)),
                (header::RETRY_AFTER, value("1")),
            ],
            vec![
                (header::RETRY_AFTER, value("7")),
                (header::HeaderName::from_static("x-other"), value("a\"b")),
                (RATELIMIT, value("r")),
            ],
        ];
        for fields in sets {
            let map: BTreeMap<String, String> = fields
                .iter()
                .map(|(name, value)| (header_case(name.as_str()).into_owned(), value.clone()))
                .collect();
            assert_eq!(
                serde_json::to_string(&HeaderFields::from_fields(fields)).unwrap(),
                serde_json::to_string(&map).unwrap()
            );
        }
    }
}
