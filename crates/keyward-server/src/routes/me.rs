//! `GET /v1/me`: who this key is and what it may do ("Test API Key").

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Json};
use crate::routes::keys::KeyOut;
use crate::routes::orgs::OrgOut;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use keyward_app::Principal;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub key: KeyOut,
    pub organization: OrgOut,
    /// What the key may do, one line per grant, as `PROJECT:ENVIRONMENT:LEVEL`, and
    /// `org:LEVEL` for organization access.
    pub permissions: Vec<String>,
}

/// Who am I? For an API key: the key, its organization and its permissions.
#[utoipa::path(get, path = "/v1/me", tag = "keys",
    responses((status = 200, body = MeOut), (status = 401, body = crate::openapi::ProblemDoc)),
    security(("bearer" = [])))]
pub async fn me(State(s): State<AppState>, Caller(who): Caller) -> ApiResult<Json<MeOut>> {
    let Principal::Key(key, _) = &who else {
        return Err(ApiError::invalid_request(
            "/v1/me describes API keys; this request used an admin token, which may do anything",
        ));
    };
    let view = s.app.view(key).await?;
    let org = s.app.org(&who, key.org_id.as_str()).await?;
    let mut permissions: Vec<String> = view.grants.iter().map(|g| g.label()).collect();
    permissions.extend(view.scopes.iter().cloned());
    if key.org_access.0.is_some() {
        permissions.push(format!("org:{}", key.org_access));
    }
    Ok(Json(MeOut {
        key: KeyOut::from(&view),
        organization: OrgOut::from(&org),
        permissions,
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/me", get(me))
}
