//! The verify API: `POST /v1/keys/verify`. The operator's backend sends a key and what
//! the request wants to do; the answer is always 200 for a well-formed call, with the
//! outcome in the body, so that "the key is bad" is never confused with "the call to
//! keyward failed".

use crate::auth::OperatorToken;
use crate::error::{ApiError, ApiResult, Json};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use keyward_app::CheckRequest;
use keyward_core::{
    ApiKey, Grant, KeyId, Kind, Level, OrgAccess, OrgId, Outcome, Resource, Scope, Timestamp,
    UserId,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyIn {
    /// The key the request carried.
    pub key: String,
    /// Project id or name. Leave out, with `environment`, to check organization access.
    pub project: Option<String>,
    /// Environment name, such as `production`.
    pub environment: Option<String>,
    /// The request's HTTP method; or give `level`.
    #[schema(example = "GET")]
    pub method: Option<String>,
    /// The level needed: `read`, `write` or `manage`.
    #[schema(value_type = Option<String>)]
    pub level: Option<Level>,
    /// A resource of the scope catalog, such as `forms`.
    pub resource: Option<String>,
}

// Borrows from the check's result, so answering copies nothing.
/// The verify API's answer: the outcome, what to tell the client, and who the key is.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyOut<'a> {
    pub valid: bool,
    /// One of `valid`, `missing`, `malformed`, `unknown`, `expired`, `revoked`,
    /// `wrong_environment`, `insufficient_permission`, `ip_not_allowed`,
    /// `no_api_access`, `rate_limited`, `quota_exceeded`.
    #[schema(value_type = String)]
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
}

/// Who the key is, as the operator's API needs it to serve the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedKey<'a> {
    #[schema(value_type = String)]
    pub id: &'a KeyId,
    #[schema(value_type = String)]
    pub org_id: &'a OrgId,
    pub name: &'a str,
    #[schema(value_type = String)]
    pub kind: Kind,
    /// Grants as stored: `project` is a project id or `*`.
    #[schema(value_type = Vec<Object>)]
    pub grants: &'a [Grant],
    #[schema(value_type = Vec<String>)]
    pub scopes: &'a [Scope],
    #[schema(value_type = String)]
    pub org_access: OrgAccess,
    /// The user the key acts as; `null` for a service key.
    #[schema(value_type = Option<String>)]
    pub owner: Option<&'a UserId>,
    #[serde(with = "keyward_core::timestamp::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
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
        }
    }
}

/// Check a key against a request.
#[utoipa::path(post, path = "/v1/keys/verify", tag = "verify", request_body = VerifyIn,
    responses((status = 200, body = VerifyOut), (status = 400, body = crate::openapi::ProblemDoc), (status = 401, body = crate::openapi::ProblemDoc), (status = 403, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn verify(
    State(s): State<AppState>,
    _operator: OperatorToken,
    Json(body): Json<VerifyIn>,
) -> ApiResult<Response> {
    let level = match (&body.method, body.level) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "method",
                "give either method or level, not both",
            ))
        }
        (Some(m), None) => Level::for_method(m)
            .map_err(|e| ApiError::validation("method", format!("method: {e}")))?,
        (None, Some(l)) => l,
        (None, None) => {
            return Err(ApiError::validation(
                "method",
                "give the request's method (such as GET) or the level it needs",
            ))
        }
    };
    let request = match (body.project, body.environment) {
        (Some(project), Some(environment)) => CheckRequest::Project {
            project,
            environment,
            resource: body
                .resource
                .map(|r| {
                    Resource::parse(&r)
                        .map_err(|e| ApiError::validation("resource", format!("resource: {e}")))
                })
                .transpose()?,
            level,
        },
        (None, None) => CheckRequest::Organization { level },
        _ => {
            return Err(ApiError::validation(
                "environment",
                "give both project and environment, or neither for organization access",
            ))
        }
    };
    let credentials: Vec<&str> = if body.key.is_empty() {
        vec![]
    } else {
        vec![body.key.as_str()]
    };
    let result = s.app.check(credentials, &request).await?;
    let detail = result.detail();
    let out = VerifyOut {
        valid: result.outcome.is_valid(),
        outcome: result.outcome,
        status: result.outcome.http_status(),
        detail,
        required_permission: result
            .denial
            .as_ref()
            .map(|d| d.required_permission.as_str()),
        key: result.key.as_ref().map(|c| VerifiedKey::from(&c.key)),
    };
    // Serialised here, while the answer can still borrow from the result.
    let body = serde_json::to_vec(&out).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise a verify answer");
        ApiError::new(
            &crate::problems::INTERNAL,
            "internal error; it has been logged",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/keys/verify", post(verify))
}
