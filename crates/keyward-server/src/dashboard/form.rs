//! Forms as the browser sends them (`application/x-www-form-urlencoded`), with their
//! fields kept in order and repeated names allowed (permission rows), and the two
//! checks every posted form passes: it came from this site (as
//! [`crate::session::cross_site`] judges), and, once signed in, it carries the
//! session's CSRF token.

use super::viewer::Viewer;
use super::PageError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;

/// The fields of a posted form.
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, trimmed; `""` when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The first value of `name`, trimmed, if present and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `name`, in order, blank ones included (rows line up).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    /// Whether the box `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// The body of a form, read whole (the server's body limit applies).
async fn body(request: Request, state: &AppState) -> Result<Fields, PageError> {
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|_| PageError::Forbidden("This form is too large to send.".into()))?;
    Ok(Fields::parse(&bytes))
}

/// A form posted by a signed-in person from one of their pages: from this site, with
/// the CSRF token of their session.
pub struct Posted {
    pub viewer: Viewer,
    pub fields: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body_) = request.into_parts();
        // Signed in, and (as the session checks for every post) not from another site.
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let fields = body(Request::from_parts(parts, body_), state).await?;
        if !viewer.csrf_matches(fields.text("csrf")) {
            return Err(PageError::Csrf);
        }
        Ok(Posted { viewer, fields })
    }
}

/// A form posted by someone who need not be signed in (sign-in, setup, a reset or an
/// invitation link): it must still come from this site.
pub struct PublicForm {
    pub fields: Fields,
    /// The client's address, as [`crate::auth::client_address`] finds it.
    pub from: Option<std::net::IpAddr>,
    /// The browser's own description, shortened, for a person's list of sessions.
    pub user_agent: String,
}

impl FromRequest<AppState> for PublicForm {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (parts, body_) = request.into_parts();
        let secure = crate::session::SessionCookie::of(&parts, state).secure;
        if crate::session::cross_site(&parts.headers, state, secure) {
            return Err(PageError::Csrf);
        }
        let from = crate::auth::client_address(&parts, state);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        let fields = body(Request::from_parts(parts, body_), state).await?;
        Ok(PublicForm {
            fields,
            from,
            user_agent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_keep_their_order_and_blanks() {
        let f = Fields::parse(b"project=Web&project=&env=production&env=staging&csrf=x+y");
        assert_eq!(f.all("project").collect::<Vec<_>>(), ["Web", ""]);
        assert_eq!(f.all("env").collect::<Vec<_>>(), ["production", "staging"]);
        assert_eq!(f.text("csrf"), "x y");
        assert_eq!(f.get("project"), Some("Web"));
        assert_eq!(f.get("missing"), None);
    }
}
