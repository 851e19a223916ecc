//! Forms as the browser sends them (`application/x-www-form-urlencoded`), with their
//! fields kept in order and repeated names allowed (permission rows), and the two
//! checks every posted form passes: it came from this site, and it carries the
//! session's CSRF token.

use super::viewer::Viewer;
use super::PageError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap};

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

/// `s` for a URL's query.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Whether the request came from a page of this site, as far as the browser says:
/// `Sec-Fetch-Site` (sent by every current browser) must not be `cross-site` or
/// `same-site`, and an `Origin`, when sent, must be this host's. Tools that send
/// neither (curl) pass; they cannot carry a person's cookie by accident.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return false;
        }
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or("");
            let host = host.to_str().unwrap_or("");
            let bare = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            bare == Some(host)
        }
        (Some(_), None) => false,
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
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers) {
            return Err(PageError::Csrf);
        }
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
        if !same_origin(&parts.headers) {
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

    #[test]
    fn only_requests_from_this_site_pass() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h), "curl sends neither header");
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(same_origin(&h));
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_origin(&h), "a cross-site form post");
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        h.insert(header::ORIGIN, "http://evil.test".parse().unwrap());
        assert!(!same_origin(&h), "another origin");
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h), "an opaque origin");
    }
}
