//! First-run setup over the API: `POST /v1/setup` uses the one-time token to create
//! the owner account. The page the printed link opens (`GET /setup`) is the
//! dashboard's (`crate::dashboard`).

use crate::auth::ClientAddress;
use crate::error::{ApiResult, Json};
use crate::openapi::{Conflict, Forbidden, Unprocessable};
use crate::routes::orgs::OrgOut;
use crate::session::SessionCookie;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use axum::Router;
use keyward_app::SetupInput;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupIn {
    /// The token from the setup link (the part after `#token=`).
    #[schema(value_type = String)]
    pub token: SecretString,
    pub email: String,
    /// At least 12 characters.
    #[schema(value_type = String)]
    pub password: SecretString,
    pub display_name: Option<String>,
    /// The first organization's name.
    pub organization: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupOut {
    pub user_id: String,
    pub email: String,
    pub organization: OrgOut,
    /// The new owner is signed in (the answer sets the session cookie): send this as
    /// `X-CSRF-Token` with changes made with it.
    pub csrf_token: String,
}

/// Create the owner account with the one-time setup token.
#[utoipa::path(post, path = "/v1/setup", tag = "setup", operation_id = "complete_setup", request_body = SetupIn,
    responses(
        (status = 201, body = SetupOut, headers(("Set-Cookie" = String, description = "The new owner's session cookie"))),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict), (status = 422, response = Unprocessable),
    ))]
pub async fn complete(
    State(s): State<AppState>,
    ClientAddress(from): ClientAddress,
    cookie: SessionCookie,
    headers: HeaderMap,
    Json(body): Json<SetupIn>,
) -> ApiResult<(StatusCode, HeaderMap, Json<SetupOut>)> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let (user, org, session) = s
        .app
        .complete_setup_signed_in(
            SetupInput {
                token: body.token,
                email: body.email,
                password: body.password,
                display_name: body.display_name,
                org_name: body.organization,
                from,
            },
            user_agent,
        )
        .await?;
    tracing::info!(user = %user.id, org = %org.id, "first-run setup completed");
    let mut out = HeaderMap::new();
    cookie.set_on(&mut out, &session, s.app.now());
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((
        StatusCode::CREATED,
        out,
        Json(SetupOut {
            user_id: user.id.to_string(),
            email: user.email,
            organization: OrgOut::from(&org),
            csrf_token: session.signed_in.csrf.as_str().to_owned(),
        }),
    ))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/setup", post(complete))
}
