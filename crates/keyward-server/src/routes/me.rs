//! `GET /v1/me`: who this key is and what it may do ("Test API Key").

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Json};
use crate::openapi::Forbidden;
use crate::problems;
use crate::routes::orgs::OrgOut;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use keyward_app::views::KeyView;
use keyward_app::{schema, Who};
use keyward_core::Role;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub key: KeyView,
    pub organization: OrgOut,
    /// What the key may do now, one line per grant as `PROJECT:ENVIRONMENT:LEVEL`
    /// (`:RESOURCES` when limited), catalog scopes by name, and `org:LEVEL` for
    /// organization access. For a user-bound key, already lowered to what its creator
    /// holds now.
    pub permissions: Vec<String>,
    /// What the key holds but its creator no longer allows, each with the reason;
    /// empty for a service key.
    pub withheld: Vec<String>,
    /// The person a user-bound key acts as; `null` for a service key.
    pub acts_for: Option<ActsFor>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActsFor {
    pub user_id: String,
    /// Their role in the organization now; `null` once they are no longer a member.
    #[schema(schema_with = schema::role_or_null)]
    pub role: Option<Role>,
}

/// Who am I? For an API key: the key, its organization and its permissions.
#[utoipa::path(get, path = "/v1/me", tag = "keys", operation_id = "get_me",
    responses((status = 200, body = MeOut), (status = 403, response = Forbidden)),
    security(("bearer" = [])))]
pub async fn me(State(s): State<AppState>, Caller(who): Caller) -> ApiResult<Json<MeOut>> {
    // A well-formed request from a known caller that is not a key: refused, not bad.
    let Who::Key(key, bound) = &who.who else {
        return Err(ApiError::new(
            &problems::FORBIDDEN,
            "/v1/me describes API keys; this request used an admin token, which may do anything",
        )
        .with("required_permission", "api_key"));
    };
    let view = s.app.view(key).await?;
    let org = s.app.org(&who, key.org_id.as_str()).await?;
    let power = s.app.power(key, bound).await?;
    Ok(Json(MeOut {
        key: view,
        organization: OrgOut::from(&org),
        permissions: power.permissions,
        withheld: power.withheld,
        acts_for: power.acts_for.map(|(user, role)| ActsFor {
            user_id: user.to_string(),
            role,
        }),
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/me", get(me))
}
