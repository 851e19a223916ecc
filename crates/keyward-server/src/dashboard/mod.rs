//! The dashboard: server-rendered pages where people sign in and manage their
//! organization's API keys, members and projects.
//!
//! Every page is HTML rendered by askama templates (`templates/`), escaped by default,
//! with its CSS and its one small script compiled into the binary: nothing is loaded
//! from anywhere else, so the dashboard works offline. Every form works without
//! JavaScript; the script only adds a copy button, moves a link's token out of the
//! address bar and makes dialogs modal. Every change goes through the same use cases as
//! the API, with the person's own [`Principal`](keyward_app::Principal), so a page can
//! never do what the API would refuse.
//!
//! Security, for every page: a CSRF token in every form (checked by [`form::Posted`]),
//! posts from other sites refused, a Content-Security-Policy that allows no inline
//! script or style and no framing, `no-store` caching, and no referrer sent to other
//! sites.

mod assets;
mod auth_pages;
mod chrome;
mod form;
mod key_form;
mod keys;
mod org_pages;
mod svg;
mod viewer;

use crate::state::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Router;

pub use viewer::Viewer;

/// The policy every page is served with: only this server's own script, styles and
/// images; no inline script or style; no plugins; no framing; forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Middleware: the security headers of every dashboard response.
async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null`
    // with every form post, which could then not be told from a cross-site one.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The dashboard's routes, with their security headers.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth_pages::router())
        .merge(keys::router())
        .merge(org_pages::router())
        .layer(axum::middleware::from_fn(secure_headers))
        .merge(assets::router())
}

/// A rendered page, or the page that says what went wrong.
pub type PageResult = Result<Response, PageError>;

/// Renders a template into a page.
pub fn render<T: askama::Template>(template: &T) -> PageResult {
    match template.render() {
        Ok(html) => Ok(Html(html).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "a dashboard template failed to render");
            Err(PageError::Internal)
        }
    }
}

/// What a page answers instead of itself.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended, or a cross-site post): as the session
    /// answers it, to the sign-in page and back.
    Session(crate::session::PersonRejection),
    /// Nothing there, or nothing this person may see.
    NotFound(String),
    /// Visible, but not for this person to do.
    Forbidden(String),
    /// A form without a valid CSRF token.
    Csrf,
    /// Something else, already logged.
    Internal,
}

impl From<keyward_app::AppError> for PageError {
    fn from(e: keyward_app::AppError) -> Self {
        use keyward_app::AppError as E;
        match e {
            E::NotFound { .. } => PageError::NotFound(e.to_string()),
            // Forms put their own refusals next to their fields; one that reaches here
            // is about the address itself (a malformed key id): there is nothing there.
            E::Invalid { message, .. } => PageError::NotFound(message),
            E::Forbidden { message, .. } => PageError::Forbidden(message),
            E::Storage(source) => {
                tracing::error!(error = %source, "storage failed under a dashboard page");
                PageError::Internal
            }
            other => PageError::Forbidden(other.to_string()),
        }
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            PageError::Session(_) => {
                return match self {
                    PageError::Session(rejection) => rejection.into_response(),
                    _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m.as_str()),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m.as_str()),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not sent from this page, or your session changed since it was \
                 opened. Go back, reload the page and try again.",
            ),
            PageError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not do this. It has been logged; try again in a moment.",
            ),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message,
        };
        let body = askama::Template::render(&page)
            .unwrap_or_else(|_| format!("<!doctype html><title>{title}</title><p>{status}</p>"));
        (status, Html(body)).into_response()
    }
}
