//! API keys: `/v1/keys` and `/v1/keys/{key_id}`. Key ids are unique across
//! organizations, so a key needs no organization in its path; the operator names the
//! organization when creating or listing, a key caller works in its own.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Json, Path, Query, RawBody};
use crate::routes::{page_limit, parse_time};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use keyward_app::views::{GrantView, KeyView};
use keyward_app::{CreatedKey, KeyInput, KeyPatchInput, Principal};
use keyward_core::{
    lifecycle, EnvName, EnvScope, GrantSpec, KeyStatus, Kind, Level, OrgAccess, OrgId, Resource,
    Timestamp,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// One permission row: a project (or `*`), an environment (or `*`) and a level.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantIn {
    /// A project name or id, or `*` for every project of the organization.
    #[schema(example = "Website")]
    pub project: String,
    /// An environment name, or `*` for every environment of the key's kind.
    #[schema(example = "production")]
    pub environment: String,
    #[schema(value_type = String, example = "read")]
    pub level: Level,
    /// Limit the grant to these resources of the scope catalog; every resource if left out.
    #[schema(example = json!(["forms"]))]
    pub resources: Option<Vec<String>>,
}

impl GrantIn {
    fn spec(&self) -> ApiResult<GrantSpec> {
        let environment =
            match self.environment.trim() {
                "*" => EnvScope::All,
                name => EnvScope::Named(EnvName::parse(name).map_err(|e| {
                    ApiError::validation("grants", format!("grants: {}", e.problem))
                })?),
            };
        let project = self.project.trim();
        if project.is_empty() {
            return Err(ApiError::validation(
                "grants",
                "grants: project must be a project name or id, or '*'",
            ));
        }
        let resources = match &self.resources {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|r| {
                        Resource::parse(r)
                            .map_err(|e| ApiError::validation("grants", format!("grants: {e}")))
                    })
                    .collect::<ApiResult<_>>()?,
            ),
        };
        Ok(GrantSpec {
            project: (project != "*").then(|| project.to_owned()),
            environment,
            level: self.level,
            resources,
        })
    }
}

fn specs(grants: &[GrantIn]) -> ApiResult<Vec<GrantSpec>> {
    if grants.len() > 100 {
        return Err(ApiError::validation(
            "grants",
            "grants: at most 100 grants per key",
        ));
    }
    grants.iter().map(GrantIn::spec).collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    /// The organization (id or name). Required with an admin token; a key creates keys
    /// in its own organization.
    pub org: Option<String>,
    /// What the key is for, at most 100 characters.
    #[schema(example = "GitHub Integration")]
    pub name: String,
    pub description: Option<String>,
    /// `live` (the default) or `test`.
    #[serde(default = "live")]
    #[schema(value_type = String, example = "live")]
    pub kind: Kind,
    #[serde(default)]
    pub grants: Vec<GrantIn>,
    /// Catalog scopes such as `forms:read`, `forms:*` or `*`; see `GET /v1/scopes`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Access to organization resources: `none` (the default), `read`, `write`, `manage`.
    #[serde(default)]
    #[schema(value_type = String, example = "none")]
    pub org_access: OrgAccess,
    /// RFC 3339 time, a date, or a duration from now such as `90d`; at most 2 years ahead.
    pub expires_at: Option<String>,
    /// When a person creates the key (the `Keyward-User` header): `true` makes a
    /// service key instead of one bound to them.
    #[serde(default)]
    pub service: bool,
}

fn live() -> Kind {
    Kind::Live
}

/// Distinguishes a field left out (`None`) from one set to `null` (`Some(None)`).
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    pub name: Option<String>,
    /// `null` clears the description.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Replaces all of the key's grants.
    pub grants: Option<Vec<GrantIn>>,
    /// Replaces all of the key's scopes.
    pub scopes: Option<Vec<String>>,
    #[schema(value_type = Option<String>)]
    pub org_access: Option<OrgAccess>,
    /// `null` removes the expiry.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// How long the old key keeps working: `0` to `7d`, `24h` by default.
    #[schema(example = "24h")]
    pub grace_period: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantOut {
    /// `null` when the grant covers every project.
    pub project_id: Option<String>,
    /// The project's name, or `*`.
    pub project: String,
    pub environment: String,
    #[schema(value_type = String)]
    pub level: Level,
    /// `null`: every resource.
    pub resources: Option<Vec<String>>,
}

impl From<&GrantView> for GrantOut {
    fn from(g: &GrantView) -> Self {
        GrantOut {
            project_id: g.project_id.clone(),
            project: g.project.clone(),
            environment: g.environment.clone(),
            level: g.level,
            resources: g.resources.as_ref().map(|r| r.iter().cloned().collect()),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyOut {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = String)]
    pub kind: Kind,
    /// `active`, `revoked` or `deleted`.
    #[schema(value_type = String)]
    pub status: KeyStatus,
    /// Past its expiry (or its grace period after a rotation).
    pub expired: bool,
    pub grants: Vec<GrantOut>,
    pub scopes: Vec<String>,
    #[schema(value_type = String)]
    pub org_access: OrgAccess,
    /// The user the key acts as; `null` for a service key.
    pub owner: Option<String>,
    pub created_by: String,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[serde(with = "keyward_core::timestamp::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    pub rotated_from: Option<String>,
    pub rotated_to: Option<String>,
    #[serde(with = "keyward_core::timestamp::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
}

impl From<&KeyView> for KeyOut {
    fn from(k: &KeyView) -> Self {
        KeyOut {
            id: k.id.to_string(),
            org_id: k.org_id.to_string(),
            name: k.name.clone(),
            description: k.description.clone(),
            kind: k.kind,
            status: k.status,
            expired: k.expired,
            grants: k.grants.iter().map(GrantOut::from).collect(),
            scopes: k.scopes.clone(),
            org_access: k.org_access,
            owner: k.owner.clone(),
            created_by: k.created_by.clone(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            rotated_from: k.rotated_from.as_ref().map(ToString::to_string),
            rotated_to: k.rotated_to.as_ref().map(ToString::to_string),
            last_used_at: k.last_used_at,
        }
    }
}

/// A key just created or rotated: `key` holds the full key, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyOut {
    /// The full API key. It is never shown again.
    pub key: String,
    #[serde(flatten)]
    pub details: KeyOut,
}

impl From<&CreatedKey> for CreatedKeyOut {
    fn from(c: &CreatedKey) -> Self {
        CreatedKeyOut {
            key: c.secret.expose_secret().to_owned(),
            details: KeyOut::from(&c.key),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedOut {
    /// The key that was rotated, now ending at the close of its grace period.
    pub old: KeyOut,
    /// Its replacement, with the full key shown this once.
    pub new: CreatedKeyOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub data: Vec<KeyOut>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeyListQuery {
    /// The organization (id or name); required with an admin token.
    pub org: Option<String>,
    /// `active`, `revoked` or `deleted`.
    #[param(value_type = Option<String>)]
    pub status: Option<KeyStatus>,
    /// `live` or `test`.
    #[param(value_type = Option<String>)]
    pub kind: Option<Kind>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100, 50 by default.
    pub limit: Option<u32>,
}

async fn org_for(s: &AppState, who: &Principal, org: Option<&str>) -> ApiResult<OrgId> {
    match (org, who.default_org()) {
        (Some(org), _) => Ok(s.app.org(who, org).await?.id),
        (None, Some(own)) => Ok(own.clone()),
        (None, None) => Err(ApiError::validation(
            "org",
            "org: name the organization (id or name); an admin token, or a person in several organizations, works across them",
        )),
    }
}

fn created(c: &CreatedKey) -> Response {
    let location = format!("/v1/keys/{}", c.key.id);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(CreatedKeyOut::from(c)),
    )
        .into_response()
}

/// Create a key. The response holds the full key, shown this once.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = KeyIn,
    responses((status = 201, body = CreatedKeyOut), (status = 403, body = crate::openapi::ProblemDoc), (status = 404, body = crate::openapi::ProblemDoc), (status = 422, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn create_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Json(body): Json<KeyIn>,
) -> ApiResult<Response> {
    let org = org_for(&s, &who, body.org.as_deref()).await?;
    let expires_at = body
        .expires_at
        .as_deref()
        .map(|e| parse_time("expires_at", e, s.app.now()))
        .transpose()?;
    let input = KeyInput {
        name: body.name,
        description: body.description,
        kind: body.kind,
        grants: specs(&body.grants)?,
        scopes: body.scopes,
        org_access: body.org_access,
        expires_at,
        service: body.service,
    };
    let c = s.app.create_key(&who, &org, input).await?;
    Ok(created(&c))
}

/// List keys, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", params(KeyListQuery),
    responses((status = 200, body = KeyList), (status = 404, body = crate::openapi::ProblemDoc), (status = 422, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn list_keys(
    State(s): State<AppState>,
    Caller(who): Caller,
    Query(q): Query<KeyListQuery>,
) -> ApiResult<Json<KeyList>> {
    let org = org_for(&s, &who, q.org.as_deref()).await?;
    let limit = page_limit(q.limit)?;
    let keys = s
        .app
        .list_keys(&who, &org, q.status, q.kind, q.cursor.as_deref(), limit)
        .await?;
    let next_cursor = (keys.len() == limit as usize)
        .then(|| keys.last().map(|k| k.id.to_string()))
        .flatten();
    Ok(Json(KeyList {
        data: keys.iter().map(KeyOut::from).collect(),
        next_cursor,
    }))
}

/// Get a key.
#[utoipa::path(get, path = "/v1/keys/{key_id}", tag = "keys", params(("key_id" = String, Path)),
    responses((status = 200, body = KeyOut), (status = 404, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn get_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyOut>> {
    let key = s.app.key(&who, &id).await?;
    Ok(Json(KeyOut::from(&s.app.view(&key).await?)))
}

/// Change a key's name, description, grants, organization access or expiry.
#[utoipa::path(patch, path = "/v1/keys/{key_id}", tag = "keys", params(("key_id" = String, Path)), request_body = KeyPatch,
    responses((status = 200, body = KeyOut), (status = 403, body = crate::openapi::ProblemDoc), (status = 404, body = crate::openapi::ProblemDoc), (status = 409, body = crate::openapi::ProblemDoc), (status = 422, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn patch_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Json(body): Json<KeyPatch>,
) -> ApiResult<Json<KeyOut>> {
    let key = s.app.key(&who, &id).await?;
    let now = s.app.now();
    let patch = KeyPatchInput {
        name: body.name,
        description: body.description,
        grants: body.grants.as_deref().map(specs).transpose()?,
        scopes: body.scopes,
        org_access: body.org_access,
        expires_at: match body.expires_at {
            None => None,
            Some(None) => Some(None),
            Some(Some(t)) => Some(Some(parse_time("expires_at", &t, now)?)),
        },
    };
    Ok(Json(KeyOut::from(
        &s.app.update_key(&who, &key, patch).await?,
    )))
}

/// Revoke a key: it stops working at once and can be reactivated.
#[utoipa::path(post, path = "/v1/keys/{key_id}/revoke", tag = "keys", params(("key_id" = String, Path)),
    responses((status = 200, body = KeyOut), (status = 404, body = crate::openapi::ProblemDoc), (status = 409, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyOut>> {
    let key = s.app.key(&who, &id).await?;
    Ok(Json(KeyOut::from(&s.app.revoke_key(&who, &key).await?)))
}

/// Reactivate a revoked key.
#[utoipa::path(post, path = "/v1/keys/{key_id}/reactivate", tag = "keys", params(("key_id" = String, Path)),
    responses((status = 200, body = KeyOut), (status = 404, body = crate::openapi::ProblemDoc), (status = 409, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn reactivate_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyOut>> {
    let key = s.app.key(&who, &id).await?;
    Ok(Json(KeyOut::from(&s.app.reactivate_key(&who, &key).await?)))
}

/// Rotate a key: a new key with the same settings; the old one works for the grace period.
#[utoipa::path(post, path = "/v1/keys/{key_id}/rotate", tag = "keys", params(("key_id" = String, Path)), request_body(content = Option<RotateIn>),
    responses((status = 201, body = RotatedOut), (status = 404, body = crate::openapi::ProblemDoc), (status = 409, body = crate::openapi::ProblemDoc), (status = 422, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn rotate_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    // The body is optional: an empty one means the default grace period.
    let body: RotateIn = if body.iter().all(u8::is_ascii_whitespace) {
        RotateIn::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid_request(format!("the JSON body does not fit: {e}")))?
    };
    let grace = lifecycle::grace_period(body.grace_period.as_deref())
        .map_err(|e| ApiError::validation("grace_period", e.to_string()))?;
    let key = s.app.key(&who, &id).await?;
    let r = s.app.rotate_key(&who, &key, grace).await?;
    let location = format!("/v1/keys/{}", r.new.key.id);
    let out = RotatedOut {
        old: KeyOut::from(&r.old),
        new: CreatedKeyOut::from(&r.new),
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(out),
    )
        .into_response())
}

/// Delete a key for good. The record stays, as `deleted`, for the audit log.
#[utoipa::path(delete, path = "/v1/keys/{key_id}", tag = "keys", params(("key_id" = String, Path)),
    responses((status = 200, body = KeyOut), (status = 404, body = crate::openapi::ProblemDoc), (status = 409, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn delete_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyOut>> {
    let key = s.app.key(&who, &id).await?;
    Ok(Json(KeyOut::from(&s.app.delete_key(&who, &key).await?)))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keys", get(list_keys).post(create_key))
        .route(
            "/v1/keys/{key_id}",
            get(get_key).patch(patch_key).delete(delete_key),
        )
        .route("/v1/keys/{key_id}/revoke", post(revoke_key))
        .route("/v1/keys/{key_id}/reactivate", post(reactivate_key))
        .route("/v1/keys/{key_id}/rotate", post(rotate_key))
}
