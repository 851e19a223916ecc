//! Sign-in over JSON: `/v1/sessions` (sign in, who am I, sign out, sign out
//! everywhere) and `/v1/password-resets/complete`. Signing in sets the session cookie
//! (see [`crate::session`]); with it, the rest of the management API answers as the
//! person, as it does for `Keyward-User`.

use crate::auth::ClientAddress;
use crate::error::{ApiResult, Json};
use crate::openapi::{Forbidden, Unauthorized, Unprocessable};
use crate::session::{cross_site, csrf_refused, SessionCaller, SessionCookie};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use keyward_app::{schema, SignedIn, Who};
use keyward_core::{Role, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionIn {
    /// The person's e-mail address (case does not matter).
    pub email: String,
    #[schema(value_type = String)]
    pub password: SecretString,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonOut {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipOut {
    pub org_id: String,
    #[schema(schema_with = schema::role)]
    pub role: Role,
}

/// A person's session: who they are, and what to send with every change.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub user: PersonOut,
    /// The organizations the person belongs to, with their role there.
    pub memberships: Vec<MembershipOut>,
    /// The session's public id.
    pub session_id: String,
    /// Send it as the `X-CSRF-Token` header with every request that changes something
    /// (any method but GET and HEAD) made with the session cookie.
    pub csrf_token: String,
    /// The latest the session lasts, however active (it ends sooner when unused for
    /// the idle timeout).
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

impl From<&SignedIn> for SessionOut {
    fn from(s: &SignedIn) -> Self {
        let memberships = match &s.principal.who {
            Who::User { orgs, .. } => orgs
                .iter()
                .map(|(org, access)| MembershipOut {
                    org_id: org.to_string(),
                    role: access.role,
                })
                .collect(),
            _ => Vec::new(),
        };
        SessionOut {
            user: PersonOut {
                id: s.person.id.to_string(),
                email: s.person.email.clone(),
                display_name: s.person.display_name.clone(),
            },
            memberships,
            session_id: s.session_id.to_string(),
            csrf_token: s.csrf.as_str().to_owned(),
            expires_at: s.expires_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetIn {
    /// The token from the reset link (the part after `#token=`).
    #[schema(value_type = String)]
    pub token: SecretString,
    /// The new password: 12 to 256 characters.
    #[schema(value_type = String)]
    pub password: SecretString,
}

/// Answers that carry a CSRF token or set a cookie are never cached.
fn no_store(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Sign in with an e-mail address and password: sets the session cookie.
///
/// Every sign-in starts a new session (a session cookie sent with it is ended). A
/// wrong address or password is the same 401; 5 failures for one address, or 20 from
/// one network, within 15 minutes refuse further attempts (429, even with the right
/// password) until `Retry-After`.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", operation_id = "create_session", request_body = SessionIn,
    responses(
        (status = 201, body = SessionOut, headers(("Set-Cookie" = String, description = "The session cookie: `keyward_session` (over https `__Host-keyward_session`, `Secure`), `HttpOnly; SameSite=Lax; Path=/`"))),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 429, response = crate::openapi::TooManyRequests),
    ))]
pub async fn create(
    State(s): State<AppState>,
    ClientAddress(from): ClientAddress,
    cookie: SessionCookie,
    headers: HeaderMap,
    Json(body): Json<SessionIn>,
) -> ApiResult<(StatusCode, HeaderMap, Json<SessionOut>)> {
    // A sign-in posted by another site would sign the browser in as someone else.
    if cross_site(&headers, &s, cookie.secure) {
        return Err(csrf_refused("signing in from another site is refused"));
    }
    let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    let new = s
        .app
        .sign_in(&body.email, body.password, from, user_agent)
        .await?;
    if let Some(old) = cookie.presented() {
        s.app.sign_out(old).await?;
    }
    let mut out = HeaderMap::new();
    cookie.set_on(&mut out, &new, s.app.now());
    no_store(&mut out);
    Ok((
        StatusCode::CREATED,
        out,
        Json(SessionOut::from(&new.signed_in)),
    ))
}

/// The person signed in with the session cookie, and the session's CSRF token.
#[utoipa::path(get, path = "/v1/sessions/current", tag = "sessions", operation_id = "get_current_session",
    responses((status = 200, body = SessionOut)),
    security(("session" = [])))]
pub async fn current(caller: SessionCaller) -> (HeaderMap, Json<SessionOut>) {
    let mut out = HeaderMap::new();
    no_store(&mut out);
    (out, Json(SessionOut::from(&caller.signed_in)))
}

/// Sign out: ends this session and removes the cookie.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "sessions", operation_id = "delete_current_session",
    responses((status = 204), (status = 403, response = Forbidden)),
    security(("session" = [])))]
pub async fn sign_out(
    State(s): State<AppState>,
    caller: SessionCaller,
) -> ApiResult<(StatusCode, HeaderMap)> {
    if let Some(token) = caller.cookie.presented() {
        s.app.sign_out(token).await?;
    }
    let mut out = HeaderMap::new();
    caller.cookie.clear_on(&mut out);
    Ok((StatusCode::NO_CONTENT, out))
}

/// Sign out everywhere: ends every session of the person signed in, this one too.
#[utoipa::path(delete, path = "/v1/sessions", tag = "sessions", operation_id = "delete_all_sessions",
    responses((status = 204), (status = 403, response = Forbidden)),
    security(("session" = [])))]
pub async fn sign_out_everywhere(
    State(s): State<AppState>,
    caller: SessionCaller,
) -> ApiResult<(StatusCode, HeaderMap)> {
    let me = &caller.signed_in;
    s.app
        .sign_out_everywhere(&me.principal, me.person.id.as_str())
        .await?;
    let mut out = HeaderMap::new();
    caller.cookie.clear_on(&mut out);
    Ok((StatusCode::NO_CONTENT, out))
}

/// Set a new password with a one-time reset link (from the operator: `keyward users
/// reset-link`). Every session of the person ends; the link then stops working.
#[utoipa::path(post, path = "/v1/password-resets/complete", tag = "sessions", operation_id = "complete_password_reset", request_body = PasswordResetIn,
    responses(
        (status = 204), (status = 403, response = Forbidden),
        (status = 422, response = Unprocessable),
    ))]
pub async fn complete_reset(
    State(s): State<AppState>,
    ClientAddress(from): ClientAddress,
    Json(body): Json<PasswordResetIn>,
) -> ApiResult<StatusCode> {
    s.app
        .reset_password(body.token.expose_secret(), body.password, from)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(create).delete(sign_out_everywhere))
        .route("/v1/sessions/current", get(current).delete(sign_out))
        .route("/v1/password-resets/complete", post(complete_reset))
}
