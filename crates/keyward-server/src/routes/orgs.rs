//! Organizations, projects and environments: `/v1/orgs/...`.

use crate::auth::Caller;
use crate::error::{ApiResult, Json, Path};
use crate::openapi::{Conflict, Forbidden, NotFound, Unprocessable};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use keyward_app::schema;
use keyward_core::{Environment, Kind, Organization, Project, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgOut {
    #[schema(schema_with = schema::org_id)]
    pub id: String,
    pub name: String,
    pub plan: String,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<&Organization> for OrgOut {
    fn from(o: &Organization) -> Self {
        OrgOut {
            id: o.id.to_string(),
            name: o.name.to_string(),
            plan: o.plan.clone(),
            created_at: o.created_at,
        }
    }
}

/// An organization and where it stands against its plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgDetail {
    #[serde(flatten)]
    pub org: OrgOut,
    /// `null` for a key without organization access, which may not read the keys.
    pub keys: Option<KeysHeld>,
    /// This month's quota; `null` when the plan has none.
    pub quota: Option<crate::ratelimit::QuotaView>,
}

/// How many keys an organization holds against its plan's limit.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeysHeld {
    /// Keys that count: not deleted, expired, or replaced by a rotation.
    pub held: u64,
    /// The plan's limit; `null` for none.
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgIn {
    /// Unique across the server, ignoring case.
    #[schema(schema_with = schema::org_name)]
    pub name: String,
    /// The plan; the configured default when left out.
    #[schema(schema_with = schema::plan_or_null)]
    pub plan: Option<String>,
}

/// A change to an organization: for now, its plan (the operator's alone).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    /// A plan this server offers. A smaller plan keeps the keys the organization holds
    /// working and refuses new ones until it is within the limit; a plan without API
    /// access refuses every check at once.
    #[schema(schema_with = schema::plan_or_null)]
    pub plan: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnvOut {
    pub id: String,
    pub name: String,
    #[schema(schema_with = schema::kind, example = "live")]
    pub kind: Kind,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<&Environment> for EnvOut {
    fn from(e: &Environment) -> Self {
        EnvOut {
            id: e.id.to_string(),
            name: e.name.to_string(),
            kind: e.kind,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectOut {
    pub id: String,
    pub org_id: String,
    pub name: String,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    pub environments: Vec<EnvOut>,
}

impl ProjectOut {
    fn new(p: &Project, envs: &[Environment]) -> Self {
        ProjectOut {
            id: p.id.to_string(),
            org_id: p.org_id.to_string(),
            name: p.name.to_string(),
            created_at: p.created_at,
            environments: envs.iter().map(EnvOut::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectIn {
    /// Unique in the organization, ignoring case; neither `*` nor starting with `proj_`.
    #[schema(schema_with = schema::project_name)]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvIn {
    /// Lowercase letters, digits and '-', such as `staging`.
    #[schema(schema_with = schema::env_name)]
    pub name: String,
    #[schema(schema_with = schema::kind, example = "test")]
    pub kind: Kind,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgList {
    pub data: Vec<OrgOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    pub data: Vec<ProjectOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnvList {
    pub data: Vec<EnvOut>,
}

/// List the organizations the caller can see: all of them for the operator, its own
/// for a key.
#[utoipa::path(get, path = "/v1/orgs", tag = "organizations", operation_id = "list_orgs",
    responses((status = 200, body = OrgList)),
    security(("bearer" = [])))]
pub async fn list_orgs(State(s): State<AppState>, Caller(who): Caller) -> ApiResult<Json<OrgList>> {
    let orgs = s.app.list_orgs(&who).await?;
    Ok(Json(OrgList {
        data: orgs.iter().map(OrgOut::from).collect(),
    }))
}

/// Create an organization (operator only).
#[utoipa::path(post, path = "/v1/orgs", tag = "organizations", operation_id = "create_org", request_body = OrgIn,
    responses(
        (status = 201, body = OrgOut), (status = 403, response = Forbidden),
        (status = 409, response = Conflict), (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn create_org(
    State(s): State<AppState>,
    Caller(who): Caller,
    Json(body): Json<OrgIn>,
) -> ApiResult<(StatusCode, Json<OrgOut>)> {
    let org = s
        .app
        .create_org(&who, &body.name, body.plan.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(OrgOut::from(&org))))
}

/// Get an organization by id or name, with the keys it holds and its monthly quota.
#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "organizations", operation_id = "get_org",
    params(("org" = String, Path, description = "Organization id or name")),
    responses((status = 200, body = OrgDetail), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub async fn get_org(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(org): Path<String>,
) -> ApiResult<Json<OrgDetail>> {
    let summary = s.app.org_summary(&who, &org).await?;
    Ok(Json(OrgDetail {
        org: OrgOut::from(&summary.org),
        keys: summary.keys_held.map(|held| KeysHeld {
            held,
            limit: summary.key_limit,
        }),
        quota: summary.quota.map(crate::ratelimit::QuotaView::from),
    }))
}

/// Change an organization's plan (operator only).
#[utoipa::path(patch, path = "/v1/orgs/{org}", tag = "organizations", operation_id = "update_org", request_body = OrgPatch,
    params(("org" = String, Path, description = "Organization id or name")),
    responses(
        (status = 200, body = OrgOut), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn update_org(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(org): Path<String>,
    Json(body): Json<OrgPatch>,
) -> ApiResult<Json<OrgOut>> {
    let found = s.app.org(&who, &org).await?;
    let updated = match body.plan {
        Some(plan) => s.app.set_org_plan(&who, &found.id, &plan).await?,
        None => found,
    };
    Ok(Json(OrgOut::from(&updated)))
}

/// List an organization's projects with their environments.
#[utoipa::path(get, path = "/v1/orgs/{org}/projects", tag = "projects", operation_id = "list_projects",
    params(("org" = String, Path, description = "Organization id or name")),
    responses(
        (status = 200, body = ProjectList), (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])))]
pub async fn list_projects(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(org): Path<String>,
) -> ApiResult<Json<ProjectList>> {
    let org = s.app.org(&who, &org).await?;
    let projects = s.app.list_projects(&who, &org.id).await?;
    Ok(Json(ProjectList {
        data: projects
            .iter()
            .map(|(p, e)| ProjectOut::new(p, e))
            .collect(),
    }))
}

/// Create a project; it starts with `production` (live) and `preview` (test).
#[utoipa::path(post, path = "/v1/orgs/{org}/projects", tag = "projects", operation_id = "create_project", request_body = ProjectIn,
    params(("org" = String, Path, description = "Organization id or name")),
    responses(
        (status = 201, body = ProjectOut), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn create_project(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(org): Path<String>,
    Json(body): Json<ProjectIn>,
) -> ApiResult<(StatusCode, Json<ProjectOut>)> {
    let org = s.app.org(&who, &org).await?;
    let (p, envs) = s.app.create_project(&who, &org.id, &body.name).await?;
    Ok((StatusCode::CREATED, Json(ProjectOut::new(&p, &envs))))
}

async fn project_of(
    s: &AppState,
    who: &keyward_app::Principal,
    org: &str,
    project: &str,
) -> ApiResult<(Project, Vec<Environment>)> {
    let org = s.app.org(who, org).await?;
    Ok(s.app.project_detail(who, &org.id, project).await?)
}

/// Get a project by id or name.
#[utoipa::path(get, path = "/v1/orgs/{org}/projects/{project}", tag = "projects", operation_id = "get_project",
    params(("org" = String, Path, description = "Organization id or name"), ("project" = String, Path, description = "Project id or name")),
    responses(
        (status = 200, body = ProjectOut), (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])))]
pub async fn get_project(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((org, project)): Path<(String, String)>,
) -> ApiResult<Json<ProjectOut>> {
    let (p, envs) = project_of(&s, &who, &org, &project).await?;
    Ok(Json(ProjectOut::new(&p, &envs)))
}

/// List a project's environments.
#[utoipa::path(get, path = "/v1/orgs/{org}/projects/{project}/environments", tag = "projects", operation_id = "list_environments",
    params(("org" = String, Path, description = "Organization id or name"), ("project" = String, Path, description = "Project id or name")),
    responses(
        (status = 200, body = EnvList), (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])))]
pub async fn list_environments(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((org, project)): Path<(String, String)>,
) -> ApiResult<Json<EnvList>> {
    let (_, envs) = project_of(&s, &who, &org, &project).await?;
    Ok(Json(EnvList {
        data: envs.iter().map(EnvOut::from).collect(),
    }))
}

/// Add an environment of a kind to a project.
#[utoipa::path(post, path = "/v1/orgs/{org}/projects/{project}/environments", tag = "projects", operation_id = "create_environment", request_body = EnvIn,
    params(("org" = String, Path, description = "Organization id or name"), ("project" = String, Path, description = "Project id or name")),
    responses(
        (status = 201, body = EnvOut), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn create_environment(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((org, project)): Path<(String, String)>,
    Json(body): Json<EnvIn>,
) -> ApiResult<(StatusCode, Json<EnvOut>)> {
    let (p, _) = project_of(&s, &who, &org, &project).await?;
    let env = s
        .app
        .create_environment(&who, &p, &body.name, body.kind)
        .await?;
    Ok((StatusCode::CREATED, Json(EnvOut::from(&env))))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs", get(list_orgs).post(create_org))
        .route("/v1/orgs/{org}", get(get_org).patch(update_org))
        .route(
            "/v1/orgs/{org}/projects",
            get(list_projects).post(create_project),
        )
        .route("/v1/orgs/{org}/projects/{project}", get(get_project))
        .route(
            "/v1/orgs/{org}/projects/{project}/environments",
            get(list_environments).post(create_environment),
        )
}
