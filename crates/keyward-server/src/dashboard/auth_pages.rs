//! Getting in and out: the first-run setup, sign-in and sign-out, accepting an
//! invitation, choosing a new password from a reset link, and the person's account
//! page. Links that carry a one-time token carry it after `#`, which no browser sends
//! to a server; the page's script moves it into the form (or the person pastes it).

use super::chrome::{self, Chrome};
use super::form::{Posted, PublicForm};
use super::viewer::{MaybeViewer, Viewer};
use super::{render, PageError, PageResult};
use crate::session::{local_path, SessionCookie};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use keyward_app::{AppError, NewSession, SetupInput};
use secrecy::SecretString;
use serde::Deserialize;

/// A redirect that also sets the new session's cookie.
fn signed_in_to(
    state: &AppState,
    cookie: &SessionCookie,
    session: &NewSession,
    to: &str,
) -> Response {
    let mut r = Redirect::to(to).into_response();
    cookie.set_on(r.headers_mut(), session, state.app.now());
    r
}

/// Where a person lands after signing in: `next` when it is a page of ours.
fn landing(next: &str) -> String {
    match local_path(next) {
        p if p == "/" || p.starts_with("/sign-in") => "/".to_owned(),
        p => p,
    }
}

#[derive(askama::Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Option<Chrome>,
    next: String,
    email: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
struct SignInQuery {
    next: Option<String>,
    done: Option<String>,
}

async fn sign_in_page(
    MaybeViewer(viewer): MaybeViewer,
    Query(q): Query<SignInQuery>,
) -> PageResult {
    let next = q.next.unwrap_or_default();
    if viewer.is_some() {
        return Ok(Redirect::to(&landing(&next)).into_response());
    }
    render(&SignInPage {
        chrome: None,
        next,
        email: String::new(),
        error: None,
        notice: match q.done.as_deref() {
            Some("signed-out") => Some("You are signed out."),
            Some("everywhere") => Some("Every session of your account has ended."),
            Some("password") => Some("Your password is set. Sign in with it."),
            _ => None,
        },
    })
}

async fn sign_in(
    State(state): State<AppState>,
    cookie: SessionCookie,
    form: PublicForm,
) -> PageResult {
    let f = &form.fields;
    let email = f.text("email").to_owned();
    let password = SecretString::from(f.text("password").to_owned());
    let next = f.text("next").to_owned();
    match state
        .app
        .sign_in(&email, password, form.from, Some(&form.user_agent))
        .await
    {
        Ok(session) => Ok(signed_in_to(&state, &cookie, &session, &landing(&next))),
        Err(e @ (AppError::WrongCredentials | AppError::Throttled { .. })) => {
            let (status, retry) = match &e {
                AppError::Throttled { retry_after } => {
                    (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after))
                }
                _ => (StatusCode::UNAUTHORIZED, None),
            };
            let mut page = render(&SignInPage {
                chrome: None,
                next,
                email,
                error: Some(capitalised(&e.to_string())),
                notice: None,
            })?;
            *page.status_mut() = status;
            if let Some(seconds) = retry {
                page.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            Ok(page)
        }
        Err(e) => Err(e.into()),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect::<String>() + ".",
        None => String::new(),
    }
}

async fn sign_out(State(state): State<AppState>, Posted { viewer, .. }: Posted) -> PageResult {
    if let Some(token) = viewer.cookie.presented() {
        state.app.sign_out(token).await?;
    }
    let mut r = Redirect::to("/sign-in?done=signed-out").into_response();
    r.headers_mut().append(SET_COOKIE, viewer.cookie.clear());
    Ok(r)
}

async fn sign_out_everywhere(
    State(state): State<AppState>,
    Posted { viewer, .. }: Posted,
) -> PageResult {
    state
        .app
        .sign_out_everywhere(&viewer.principal, viewer.user_id.as_str())
        .await?;
    let mut r = Redirect::to("/sign-in?done=everywhere").into_response();
    r.headers_mut().append(SET_COOKIE, viewer.cookie.clear());
    Ok(r)
}

#[derive(askama::Template)]
#[template(path = "setup.html")]
struct SetupPage {
    chrome: Option<Chrome>,
    email: String,
    display_name: String,
    organization: String,
    error: Option<String>,
    field: Option<(&'static str, String)>,
}

impl SetupPage {
    fn field_error(&self, name: &str) -> Option<&str> {
        self.field
            .as_ref()
            .filter(|(f, _)| *f == name)
            .map(|(_, m)| m.as_str())
    }
}

async fn setup_page() -> PageResult {
    render(&SetupPage {
        chrome: None,
        email: String::new(),
        display_name: String::new(),
        organization: String::new(),
        error: None,
        field: None,
    })
}

async fn setup(
    State(state): State<AppState>,
    cookie: SessionCookie,
    form: PublicForm,
) -> PageResult {
    let f = &form.fields;
    let input = SetupInput {
        token: SecretString::from(f.text("token").to_owned()),
        email: f.text("email").to_owned(),
        password: SecretString::from(f.text("password").to_owned()),
        display_name: f.get("display_name").map(str::to_owned),
        org_name: f.text("organization").to_owned(),
        from: form.from,
    };
    match state
        .app
        .complete_setup_signed_in(input, Some(&form.user_agent))
        .await
    {
        Ok((_, org, session)) => Ok(signed_in_to(
            &state,
            &cookie,
            &session,
            &format!("/orgs/{}/keys", org.id),
        )),
        Err(e) => {
            let (status, error, field) = match e {
                AppError::Invalid { field, message } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some((field, message)),
                ),
                AppError::Forbidden { message, .. } => (StatusCode::FORBIDDEN, Some(message), None),
                AppError::Conflict(message) => (StatusCode::CONFLICT, Some(message), None),
                other => return Err(other.into()),
            };
            let mut page = render(&SetupPage {
                chrome: None,
                email: f.text("email").to_owned(),
                display_name: f.text("display_name").to_owned(),
                organization: f.text("organization").to_owned(),
                error,
                field,
            })?;
            *page.status_mut() = status;
            Ok(page)
        }
    }
}

#[derive(askama::Template)]
#[template(path = "accept.html")]
struct AcceptPage {
    chrome: Option<Chrome>,
    signed_in_as: Option<String>,
    error: Option<String>,
}

async fn accept_page(
    State(state): State<AppState>,
    MaybeViewer(viewer): MaybeViewer,
) -> PageResult {
    let chrome = match &viewer {
        Some(v) => Some(Chrome::new(&state, v, None, "").await?),
        None => None,
    };
    render(&AcceptPage {
        chrome,
        signed_in_as: viewer.map(|v| v.email),
        error: None,
    })
}

/// A refusal of an invitation, a reset link or a password, as the page shows it.
fn link_refusal(e: AppError) -> Result<(StatusCode, String), PageError> {
    Ok(match e {
        AppError::NotFound { .. } => (
            StatusCode::NOT_FOUND,
            "This link is not valid: it was used, withdrawn, or has expired. Ask for a new one."
                .into(),
        ),
        AppError::Invalid { message, .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, capitalised(&message))
        }
        AppError::Conflict(message) => (StatusCode::CONFLICT, capitalised(&message)),
        AppError::Forbidden { message, .. } => (StatusCode::FORBIDDEN, capitalised(&message)),
        other => return Err(other.into()),
    })
}

async fn accept(
    State(state): State<AppState>,
    MaybeViewer(viewer): MaybeViewer,
    cookie: SessionCookie,
    form: PublicForm,
) -> PageResult {
    let f = &form.fields;
    let token = f.text("token");
    let outcome = match &viewer {
        // Signed in: the invitation must be for them; the form carries their token.
        Some(v) => {
            if !v.csrf_matches(f.text("csrf")) {
                return Err(PageError::Csrf);
            }
            state
                .app
                .accept_invitation(&v.principal, token)
                .await
                .map(|(_, org, _)| Redirect::to(&format!("/orgs/{org}/keys")).into_response())
        }
        None => state
            .app
            .accept_invitation_with_password(
                token,
                SecretString::from(f.text("password").to_owned()),
                f.get("display_name"),
                form.from,
                Some(&form.user_agent),
            )
            .await
            .map(|(session, org, _)| {
                signed_in_to(&state, &cookie, &session, &format!("/orgs/{org}/keys"))
            }),
    };
    match outcome {
        Ok(r) => Ok(r),
        Err(e) => {
            let (status, message) = link_refusal(e)?;
            let chrome = match &viewer {
                Some(v) => Some(Chrome::new(&state, v, None, "").await?),
                None => None,
            };
            let mut page = render(&AcceptPage {
                chrome,
                signed_in_as: viewer.map(|v| v.email),
                error: Some(message),
            })?;
            *page.status_mut() = status;
            Ok(page)
        }
    }
}

#[derive(askama::Template)]
#[template(path = "reset.html")]
struct ResetPage {
    chrome: Option<Chrome>,
    error: Option<String>,
}

async fn reset_page() -> PageResult {
    render(&ResetPage {
        chrome: None,
        error: None,
    })
}

async fn reset(
    State(state): State<AppState>,
    cookie: SessionCookie,
    form: PublicForm,
) -> PageResult {
    let f = &form.fields;
    match state
        .app
        .reset_password(
            f.text("token"),
            SecretString::from(f.text("password").to_owned()),
            form.from,
        )
        .await
    {
        Ok(_) => {
            // Every session ended with the reset, this browser's too.
            let mut r = Redirect::to("/sign-in?done=password").into_response();
            r.headers_mut().append(SET_COOKIE, cookie.clear());
            Ok(r)
        }
        Err(e) => {
            let (status, message) = link_refusal(e)?;
            let mut page = render(&ResetPage {
                chrome: None,
                error: Some(message),
            })?;
            *page.status_mut() = status;
            Ok(page)
        }
    }
}

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Option<Chrome>,
    email: String,
    orgs_empty: bool,
}

async fn account(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let chrome = Chrome::new(&state, &viewer, None, "").await?;
    render(&AccountPage {
        orgs_empty: chrome.orgs.is_empty(),
        chrome: Some(chrome),
        email: viewer.email,
    })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(chrome::home))
        .route("/switch", get(chrome::switch))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", axum::routing::post(sign_out))
        .route(
            "/sign-out-everywhere",
            axum::routing::post(sign_out_everywhere),
        )
        .route("/setup", get(setup_page).post(setup))
        .route("/invitations/accept", get(accept_page).post(accept))
        .route("/reset-password", get(reset_page).post(reset))
        .route("/account", get(account))
}
