//! People signed in with a session cookie: the cookie itself, and the extractors that
//! resolve it.
//!
//! * The cookie is `__Host-keyward_session` with `Secure` when people reach the server
//!   over https (the `public_url` is `https://…`, or a trusted proxy says
//!   `X-Forwarded-Proto: https`), and `keyward_session` without `Secure` over plain
//!   http (browsers refuse a `__Host-` cookie that is not `Secure`). Always `HttpOnly;
//!   SameSite=Lax; Path=/`, never a `Domain`. Only the name that fits the request is
//!   read, so over https a cookie planted by a sibling subdomain is ignored.
//! * [`SignedInPerson`] is for the dashboard's pages: signed out, it redirects to
//!   `/sign-in?next=<this page>` (303); `Option<SignedInPerson>` never fails.
//! * [`SessionCaller`] is for the JSON API: signed out is a 401 problem, and a change
//!   (any method but GET and HEAD) needs the session's CSRF token in `X-CSRF-Token`
//!   and must not come from another site. [`crate::auth::Caller`] uses it when a
//!   request carries no key or token.
//!
//! Pages that change something with a form post must check the CSRF token sent in the
//! form themselves ([`keyward_app::SignedIn::verify_csrf`]); [`SignedInPerson`] already
//! refuses cross-site posts.

use crate::auth::client_address;
use crate::error::ApiError;
use crate::problems;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use keyward_app::{NewSession, SignedIn};
use std::net::SocketAddr;

/// The cookie's name over https.
pub const SECURE_COOKIE: &str = "__Host-keyward_session";
/// The cookie's name over plain http (such as `http://localhost`).
pub const PLAIN_COOKIE: &str = "keyward_session";
/// The header that carries the CSRF token of a session with every change.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How this request's session cookie is named and set: what the pages need to sign
/// someone in or out. Never fails.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    /// Whether the browser reached us over https.
    pub secure: bool,
    /// The session token the request carried, if any (not yet checked).
    presented: Option<String>,
}

impl SessionCookie {
    /// Reads the request's cookie and whether it came over https.
    pub fn of(parts: &Parts, state: &AppState) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        let forwarded_https = state.proxies.trusts_peer(peer)
            && parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        let secure = state.public_https() || forwarded_https;
        SessionCookie {
            secure,
            presented: read_cookie(&parts.headers, Self::name_for(secure)).map(str::to_owned),
        }
    }

    fn name_for(secure: bool) -> &'static str {
        if secure {
            SECURE_COOKIE
        } else {
            PLAIN_COOKIE
        }
    }

    /// The cookie's name for this request.
    pub fn name(&self) -> &'static str {
        Self::name_for(self.secure)
    }

    /// The session token presented, if any: to sign it out, or to check.
    pub fn presented(&self) -> Option<&str> {
        self.presented.as_deref()
    }

    fn attributes(&self) -> &'static str {
        if self.secure {
            "; Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "; Path=/; HttpOnly; SameSite=Lax"
        }
    }

    /// The `Set-Cookie` field that holds `session`'s token until its absolute end.
    pub fn set(&self, session: &NewSession, now: keyward_core::Timestamp) -> HeaderValue {
        let max_age = (session.signed_in.expires_at - now).whole_seconds().max(0);
        let value = format!(
            "{}={}{}; Max-Age={max_age}",
            self.name(),
            session.token.expose_secret(),
            self.attributes()
        );
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The `Set-Cookie` field that removes the cookie.
    pub fn clear(&self) -> HeaderValue {
        let value = format!("{}={}; Max-Age=0", self.name(), self.attributes());
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// `headers` with the cookie set to `session`.
    pub fn set_on(
        &self,
        headers: &mut HeaderMap,
        session: &NewSession,
        now: keyward_core::Timestamp,
    ) {
        headers.append(SET_COOKIE, self.set(session, now));
    }

    /// `headers` with the cookie removed.
    pub fn clear_on(&self, headers: &mut HeaderMap) {
        headers.append(SET_COOKIE, self.clear());
    }
}

impl FromRequestParts<AppState> for SessionCookie {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(SessionCookie::of(parts, state))
    }
}

/// The value of cookie `name` in the request's `Cookie` fields.
fn read_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// Whether the request comes from another site: the browser says so
/// (`Sec-Fetch-Site: cross-site`), or its `Origin` is neither the public URL's nor
/// this request's own host. Requests without either (older browsers, other clients)
/// are not refused here: the CSRF token still is required of them.
pub fn cross_site(headers: &HeaderMap, state: &AppState, secure: bool) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let origin = origin.trim().to_ascii_lowercase();
    if state.public_origin.as_deref() == Some(origin.as_str()) {
        return false;
    }
    let scheme = if secure { "https" } else { "http" };
    let own = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("{scheme}://{}", h.trim().to_ascii_lowercase()));
    own.as_deref() != Some(origin.as_str())
}

fn changes_something(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

/// The 403 for a change refused as cross-site or without its CSRF token.
pub fn csrf_refused(detail: &str) -> ApiError {
    ApiError::new(&problems::CSRF, detail).with("required_permission", "csrf")
}

/// A person calling the JSON API with their session cookie. A change needs the
/// session's CSRF token in `X-CSRF-Token` and must not come from another site.
pub struct SessionCaller {
    pub signed_in: SignedIn,
    pub cookie: SessionCookie,
}

impl SessionCaller {
    /// The session the request's cookie opens: `None` without a cookie; a 401 when it
    /// opens none; a 403 for a change without the CSRF token, or from another site.
    pub async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Self>, ApiError> {
        let cookie = SessionCookie::of(parts, state);
        let Some(token) = cookie.presented() else {
            return Ok(None);
        };
        let Some(mut signed_in) = state.app.session(token).await? else {
            let mut e = ApiError::new(
                &problems::SIGNED_OUT,
                "your session has ended (signed out, idle or expired): sign in again",
            );
            e.challenge = Some(r#"Bearer realm="keyward""#.into());
            let mut fields = HeaderMap::new();
            cookie.clear_on(&mut fields);
            e.headers = Some(Box::new(fields));
            return Err(e);
        };
        if changes_something(&parts.method) {
            if cross_site(&parts.headers, state, cookie.secure) {
                return Err(csrf_refused(
                    "a change made with a session cookie must come from this server's own pages, not from another site",
                ));
            }
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !signed_in.verify_csrf(presented) {
                return Err(csrf_refused(
                    "a change made with a session cookie needs the header X-CSRF-Token with the session's csrf_token (from signing in, or GET /v1/sessions/current)",
                ));
            }
        }
        if let Some(ip) = client_address(parts, state) {
            signed_in.principal = signed_in.principal.from_address(ip);
        }
        Ok(Some(SessionCaller { signed_in, cookie }))
    }
}

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match SessionCaller::resolve(parts, state).await? {
            Some(caller) => Ok(caller),
            None => {
                let mut e = ApiError::new(
                    &problems::SIGNED_OUT,
                    "this needs a session: sign in with POST /v1/sessions (the answer sets the session cookie)",
                );
                e.challenge = Some(r#"Bearer realm="keyward""#.into());
                Err(e)
            }
        }
    }
}

/// A person signed in, for the dashboard's pages. Signed out, the page redirects to
/// the sign-in page, which comes back here after.
pub struct SignedInPerson {
    pub signed_in: SignedIn,
    pub cookie: SessionCookie,
}

/// Why [`SignedInPerson`] could not be had; each answers as a page should.
#[derive(Debug)]
pub enum PersonRejection {
    /// Not signed in: `303 See Other` to `/sign-in?next=<path>` (and the ended
    /// session's cookie removed).
    SignedOut {
        next: String,
        cookie: Option<HeaderValue>,
    },
    /// A change posted from another site: 403.
    CrossSite,
    /// The store failed: 500, logged.
    Failed(ApiError),
}

impl PersonRejection {
    /// Where to send the person: the sign-in page, back to `next` after.
    pub fn location(next: &str) -> String {
        format!("/sign-in?next={}", encode(&local_path(next)))
    }
}

impl IntoResponse for PersonRejection {
    fn into_response(self) -> Response {
        match self {
            PersonRejection::SignedOut { next, cookie } => {
                let mut r = StatusCode::SEE_OTHER.into_response();
                if let Ok(to) = HeaderValue::from_str(&Self::location(&next)) {
                    r.headers_mut().insert(LOCATION, to);
                }
                if let Some(cookie) = cookie {
                    r.headers_mut().append(SET_COOKIE, cookie);
                }
                r
            }
            PersonRejection::CrossSite => (
                StatusCode::FORBIDDEN,
                "This form was sent from another site; go back to the page and try again.",
            )
                .into_response(),
            PersonRejection::Failed(e) => e.into_response(),
        }
    }
}

/// `next` as a local path: a path on this server (`/…`, not `//host` nor `/\host`,
/// which browsers read as another host), else `/`.
pub fn local_path(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control());
    if ok {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FromRequestParts<AppState> for SignedInPerson {
    type Rejection = PersonRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, PersonRejection> {
        let cookie = SessionCookie::of(parts, state);
        if changes_something(&parts.method) && cross_site(&parts.headers, state, cookie.secure) {
            return Err(PersonRejection::CrossSite);
        }
        let next = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let Some(token) = cookie.presented() else {
            return Err(PersonRejection::SignedOut { next, cookie: None });
        };
        match state.app.session(token).await {
            Ok(Some(mut signed_in)) => {
                if let Some(ip) = client_address(parts, state) {
                    signed_in.principal = signed_in.principal.from_address(ip);
                }
                Ok(SignedInPerson { signed_in, cookie })
            }
            Ok(None) => Err(PersonRejection::SignedOut {
                next,
                cookie: Some(cookie.clear()),
            }),
            Err(e) => Err(PersonRejection::Failed(e.into())),
        }
    }
}

impl OptionalFromRequestParts<AppState> for SignedInPerson {
    type Rejection = PersonRejection;

    /// `None` when signed out; a cross-site change or a failing store still refuse.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, PersonRejection> {
        match <Self as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(person) => Ok(Some(person)),
            Err(PersonRejection::SignedOut { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_ever_a_local_path() {
        assert_eq!(local_path("/keys?org=Acme"), "/keys?org=Acme");
        for away in [
            "//evil.test/x",
            "/\\evil.test",
            "https://evil.test",
            "evil",
            "",
        ] {
            assert_eq!(local_path(away), "/", "{away}");
        }
        assert_eq!(
            PersonRejection::location("/keys?org=A&x=1"),
            "/sign-in?next=/keys%3Forg%3DA%26x%3D1"
        );
    }

    #[test]
    fn the_cookie_is_read_by_its_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("other=1; keyward_session_x=2; keyward_session=abc"),
        );
        assert_eq!(read_cookie(&h, PLAIN_COOKIE), Some("abc"));
        assert_eq!(read_cookie(&h, SECURE_COOKIE), None);
    }
}
