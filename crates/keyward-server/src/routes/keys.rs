//! API keys: `/v1/keys` and `/v1/keys/{key_id}`. Key ids are unique across
//! organizations, so a key needs no organization in its path; the operator names the
//! organization when creating or listing, a key caller works in its own.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Json, Path, Query, RawBody};
use crate::openapi::{Conflict, Forbidden, NotFound, Unprocessable};
use crate::routes::{page_limit, parse_time};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use keyward_app::schema;
use keyward_app::views::{CreatedKeyView, KeyView, RotatedView};
use keyward_app::{CreatedKey, KeyInput, KeyPatchInput, Principal};
use keyward_core::{lifecycle, GrantSpec, KeyStatus, Kind, Level, OrgAccess, OrgId};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{Array, ArrayBuilder, SchemaType, Type};
use utoipa::openapi::Ref;
use utoipa::ToSchema;

/// At most this many grants per key.
const MAX_GRANTS: usize = 100;

/// One permission row: a project (or `*`), an environment (or `*`) and a level.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantIn {
    /// A project name or id, or `*` for every project of the organization.
    #[schema(example = "Website", min_length = 1)]
    pub project: String,
    /// An environment name, or `*` for every environment of the key's kind.
    #[schema(schema_with = schema::env_scope, example = "production")]
    pub environment: String,
    #[schema(schema_with = schema::level, example = "read")]
    pub level: Level,
    /// Limit the grant to these resources of the scope catalog; every resource if left out.
    #[schema(schema_with = schema::resources_or_null, example = json!(["forms"]))]
    pub resources: Option<Vec<String>>,
}

impl GrantIn {
    /// The core's rules, the same the command line's `--grant` follows.
    fn spec(&self) -> ApiResult<GrantSpec> {
        GrantSpec::from_parts(
            &self.project,
            &self.environment,
            self.level,
            self.resources.as_deref(),
        )
        .map_err(|e| ApiError::validation("grants", format!("grants: {e}")))
    }
}

fn specs(grants: &[GrantIn]) -> ApiResult<Vec<GrantSpec>> {
    if grants.len() > MAX_GRANTS {
        return Err(ApiError::validation(
            "grants",
            format!("grants: at most {MAX_GRANTS} grants per key"),
        ));
    }
    grants.iter().map(GrantIn::spec).collect()
}

fn grants() -> Array {
    ArrayBuilder::new()
        .items(Ref::from_schema_name("GrantIn"))
        .max_items(Some(MAX_GRANTS))
        .build()
}

fn grants_or_null() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(Ref::from_schema_name("GrantIn"))
        .max_items(Some(MAX_GRANTS))
        .build()
}

/// The operator's catalog decides the scopes: the `Scope` schema is filled in from it
/// (`crate::openapi::document_for`).
fn scopes() -> Array {
    ArrayBuilder::new()
        .items(Ref::from_schema_name("Scope"))
        .build()
}

fn scopes_or_null() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(Ref::from_schema_name("Scope"))
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    /// The organization (id or name). Required with an admin token; a key creates keys
    /// in its own organization.
    pub org: Option<String>,
    /// What the key is for.
    #[schema(schema_with = schema::key_name, example = "GitHub Integration")]
    pub name: String,
    /// Left out when blank.
    #[schema(schema_with = schema::description_or_null)]
    pub description: Option<String>,
    /// `live` (the default) or `test`.
    #[serde(default = "live")]
    #[schema(schema_with = schema::kind, example = "live")]
    pub kind: Kind,
    #[serde(default)]
    #[schema(schema_with = grants)]
    pub grants: Vec<GrantIn>,
    /// Catalog scopes such as `forms:read`, `forms:*` or `*`; see `GET /v1/scopes`.
    #[serde(default)]
    #[schema(schema_with = scopes)]
    pub scopes: Vec<String>,
    /// Access to organization resources: `none` (the default), `read`, `write`, `manage`.
    #[serde(default)]
    #[schema(schema_with = schema::org_access, example = "none")]
    pub org_access: OrgAccess,
    /// RFC 3339 time, a date, or a duration from now such as `90d`; at most 2 years ahead.
    pub expires_at: Option<String>,
    /// When a person creates the key (the `Keyward-User` header): `true` makes a
    /// service key instead of one bound to them.
    #[serde(default)]
    pub service: bool,
    /// IPv4 and IPv6 networks (CIDRs, or single addresses) the key may be used from,
    /// at most 100; empty (the default): anywhere.
    #[serde(default)]
    #[schema(example = json!(["203.0.113.0/24", "2001:db8::/32"]))]
    pub ip_allowlist: Vec<String>,
    /// Your own data about the key (a JSON object of at most 4 KiB), returned with every
    /// verify answer.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: serde_json::Value,
    /// The key's own rate limits, all of which must admit a request; left out or `null`:
    /// its organization's plan's. Only the operator may set them looser than the plan's.
    #[serde(default)]
    pub rate_limits: Option<Vec<RateLimitIn>>,
}

/// A named rate limit: `limit` requests per `period`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitIn {
    /// 1 to 32 lowercase letters, digits, `-` and `_`, such as `burst`.
    #[schema(example = "burst")]
    pub name: String,
    /// Requests per period, 1 to 1,000,000,000.
    /// (A JSON number: `100` and `100.0` are the same.)
    #[schema(value_type = u32, minimum = 1, maximum = 1_000_000_000, example = 100)]
    pub limit: serde_json::Number,
    /// 1s to 31d, such as `10s`, `1m`, `1h`.
    #[schema(example = "10s")]
    pub period: String,
}

/// Rate limits as the API takes them, checked by the core's rules.
fn rate_limits(given: Option<Vec<RateLimitIn>>) -> ApiResult<Option<Vec<keyward_core::RateLimit>>> {
    given
        .map(|list| {
            list.into_iter()
                .map(|l| {
                    let period = keyward_core::duration::parse(&l.period).map_err(|e| {
                        ApiError::validation("rate_limits", format!("rate_limits: {e}"))
                    })?;
                    let limit = super::whole_u32(&l.limit).ok_or_else(|| {
                        ApiError::validation(
                            "rate_limits",
                            format!(
                                "rate limit '{}': the limit must be a whole number from 1 to 1,000,000,000",
                                keyward_core::echo::echo(&l.name, 40)
                            ),
                        )
                    })?;
                    Ok(keyward_core::RateLimit::per(&l.name, limit, period))
                })
                .collect()
        })
        .transpose()
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
    /// A new name; `null` or left out keeps it.
    #[schema(schema_with = schema::key_name_or_null)]
    pub name: Option<String>,
    /// A new description; `null` or blank clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schema::description_or_null)]
    pub description: Option<Option<String>>,
    /// Replaces all of the key's grants.
    #[schema(schema_with = grants_or_null)]
    pub grants: Option<Vec<GrantIn>>,
    /// Replaces all of the key's scopes.
    #[schema(schema_with = scopes_or_null)]
    pub scopes: Option<Vec<String>>,
    #[schema(schema_with = schema::org_access_or_null)]
    pub org_access: Option<OrgAccess>,
    /// `null` removes the expiry.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    /// Replaces the allow-list; `[]`: anywhere.
    pub ip_allowlist: Option<Vec<String>>,
    /// Replaces the metadata; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<serde_json::Value>>,
    /// Replaces the key's own rate limits; `null`: back to the plan's.
    #[serde(default, deserialize_with = "double_option")]
    pub rate_limits: Option<Option<Vec<RateLimitIn>>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// How long the old key keeps working: `0` to `7d`, `24h` by default.
    #[schema(example = "24h")]
    pub grace_period: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub data: Vec<KeyView>,
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
    #[param(schema_with = schema::key_status)]
    pub status: Option<KeyStatus>,
    /// `live` or `test`.
    #[param(schema_with = schema::kind)]
    pub kind: Option<Kind>,
    /// The `next_cursor` of the previous page.
    #[param(schema_with = schema::key_id_param)]
    pub cursor: Option<String>,
    /// 1 to 100, 50 by default.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The key in a path.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    /// The key's id: 16 letters and digits.
    #[param(schema_with = schema::key_id_param)]
    pub key_id: String,
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
        Json(c.view()),
    )
        .into_response()
}

/// Create a key. The response holds the full key, shown this once.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", operation_id = "create_key", request_body = KeyIn,
    responses(
        (status = 201, body = CreatedKeyView, headers(("location" = String, description = "The new key's URL"))),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    ),
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
        ip_allowlist: body.ip_allowlist,
        metadata: body.metadata,
        rate_limits: rate_limits(body.rate_limits)?,
    };
    let c = s.app.create_key(&who, &org, input).await?;
    Ok(created(&c))
}

/// List keys, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", operation_id = "list_keys", params(KeyListQuery),
    responses(
        (status = 200, body = KeyList), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Unprocessable),
    ),
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
        data: keys,
        next_cursor,
    }))
}

/// Get a key.
#[utoipa::path(get, path = "/v1/keys/{key_id}", tag = "keys", operation_id = "get_key", params(KeyPath),
    responses(
        (status = 200, body = KeyView), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn get_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyView>> {
    let key = s.app.key(&who, &id).await?;
    Ok(Json(s.app.view(&key).await?))
}

/// Change a key's name, description, grants, organization access or expiry.
#[utoipa::path(patch, path = "/v1/keys/{key_id}", tag = "keys", operation_id = "update_key", params(KeyPath), request_body = KeyPatch,
    responses(
        (status = 200, body = KeyView), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn patch_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Json(body): Json<KeyPatch>,
) -> ApiResult<Json<KeyView>> {
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
        ip_allowlist: body.ip_allowlist,
        metadata: body.metadata.map(|m| m.unwrap_or(serde_json::Value::Null)),
        rate_limits: match body.rate_limits {
            None => None,
            Some(limits) => Some(rate_limits(limits)?),
        },
    };
    Ok(Json(s.app.update_key(&who, &key, patch).await?))
}

/// Revoke a key: it stops working at once and can be reactivated.
#[utoipa::path(post, path = "/v1/keys/{key_id}/revoke", tag = "keys", operation_id = "revoke_key", params(KeyPath),
    responses(
        (status = 200, body = KeyView), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyView>> {
    let key = s.app.key(&who, &id).await?;
    Ok(Json(s.app.revoke_key(&who, &key).await?))
}

/// Reactivate a revoked key.
#[utoipa::path(post, path = "/v1/keys/{key_id}/reactivate", tag = "keys", operation_id = "reactivate_key", params(KeyPath),
    responses(
        (status = 200, body = KeyView), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn reactivate_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyView>> {
    let key = s.app.key(&who, &id).await?;
    Ok(Json(s.app.reactivate_key(&who, &key).await?))
}

/// Rotate a key: a new key with the same settings; the old one works for the grace period.
#[utoipa::path(post, path = "/v1/keys/{key_id}/rotate", tag = "keys", operation_id = "rotate_key", params(KeyPath), request_body(content = Option<RotateIn>),
    responses(
        (status = 201, body = RotatedView, headers(("location" = String, description = "The new key's URL"))),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn rotate_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    // The body is optional: an empty one, or `null`, means the default grace period.
    let body: RotateIn = if body.iter().all(u8::is_ascii_whitespace) {
        RotateIn::default()
    } else {
        serde_json::from_slice::<Option<RotateIn>>(&body)
            .map_err(|e| ApiError::invalid_request(format!("the JSON body does not fit: {e}")))?
            .unwrap_or_default()
    };
    let grace = lifecycle::grace_period(body.grace_period.as_deref())
        .map_err(|e| ApiError::validation("grace_period", e.to_string()))?;
    let key = s.app.key(&who, &id).await?;
    let r = s.app.rotate_key(&who, &key, grace).await?;
    let location = format!("/v1/keys/{}", r.new.key.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(r.view()),
    )
        .into_response())
}

/// Delete a key for good. The record stays, as `deleted`, for the audit log.
#[utoipa::path(delete, path = "/v1/keys/{key_id}", tag = "keys", operation_id = "delete_key", params(KeyPath),
    responses(
        (status = 200, body = KeyView), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn delete_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyView>> {
    let key = s.app.key(&who, &id).await?;
    Ok(Json(s.app.delete_key(&who, &key).await?))
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
