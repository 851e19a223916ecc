//! `GET /v1/scopes`: the operator's scope catalog.

use crate::auth::Caller;
use crate::error::Json;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use keyward_app::schema;
use keyward_core::Level;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeOut {
    /// `resource:action`, such as `forms:read`.
    pub name: String,
    /// The level the scope grants on its resource.
    #[schema(schema_with = schema::level)]
    pub level: Level,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeList {
    pub data: Vec<ScopeOut>,
    /// Wildcards also accepted: `RESOURCE:*` (every action of a resource) and `*`.
    pub wildcards: Vec<String>,
}

/// List the scopes keys can be given.
#[utoipa::path(get, path = "/v1/scopes", tag = "keys", operation_id = "list_scopes",
    responses((status = 200, body = ScopeList)),
    security(("bearer" = [])))]
pub async fn list(State(s): State<AppState>, _caller: Caller) -> Json<ScopeList> {
    let catalog = &s.app.settings().catalog;
    let data = catalog
        .scopes()
        .into_iter()
        .map(|(name, level)| ScopeOut { name, level })
        .collect();
    let mut wildcards: Vec<String> = catalog.resources().map(|r| format!("{r}:*")).collect();
    wildcards.push("*".into());
    Json(ScopeList { data, wildcards })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/scopes", get(list))
}
