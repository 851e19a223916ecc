//! Forward auth: `/v1/forward-auth`, called by a reverse proxy (nginx `auth_request`,
//! Caddy `forward_auth`, Traefik `ForwardAuth`, Envoy `ext_authz`) before each request
//! to the operator's API. The original method and path go through the route table
//! ([`keyward_core::routes`]) to become what the request asks for; then the same check
//! as the verify API answers: 200 with the key's identity for the upstream, or the
//! outcome's status and problem body for the client.
//!
//! Where the original request is read from:
//! * `/v1/forward-auth`: `X-Original-Method` and `X-Original-URI` (nginx), or
//!   `X-Forwarded-Method` and `X-Forwarded-Uri` (Caddy, Traefik). Both families at
//!   once are refused: a proxy that passes the client's headers on (Caddy does) must
//!   not let the client pick which pair is believed.
//! * `/v1/forward-auth/{*rest}`: Envoy, which sends the original method and appends
//!   the original path; the headers are ignored there.
//!
//! Who may ask: with `forward_auth_token` set, callers that send it in
//! `X-Keyward-Proxy-Token`; without one, only the server's own machine (loopback) and
//! the `trusted_proxies`. Otherwise anyone could probe keys without an operator token.

use crate::error::{ApiError, ApiResult};
use crate::problems;
use crate::ratelimit::Limits;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use keyward_core::{Asked, Presented};
use secrecy::ExposeSecret;
use std::borrow::Cow;
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// The header a proxy sends `forward_auth_token` in.
pub const PROXY_TOKEN: &str = "x-keyward-proxy-token";

/// The path Envoy's `path_prefix` should name.
pub(crate) const PREFIX: &str = "/v1/forward-auth";

const KEY_ID: HeaderName = HeaderName::from_static("x-keyward-key-id");
const ORG_ID: HeaderName = HeaderName::from_static("x-keyward-org-id");
const KEY_KIND: HeaderName = HeaderName::from_static("x-keyward-key-kind");
const USER_ID: HeaderName = HeaderName::from_static("x-keyward-user-id");
const METADATA: HeaderName = HeaderName::from_static("x-keyward-metadata");

const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");

/// The original request, as the proxy described it.
struct Original {
    /// Upper case, as the route table's methods are.
    method: Method,
    /// The original URI, or for Envoy this request's own.
    uri: Uri,
    /// Where the original path starts in `uri`'s path: after the prefix for Envoy.
    skip: usize,
}

impl Original {
    fn path(&self) -> &str {
        &self.uri.path()[self.skip..]
    }
}

/// The header a refusal repeats its problem body in, as compact ASCII JSON: nginx's
/// `auth_request` drops the body of the answer it gets, and turns any status but 2xx,
/// 401 and 403 into a 500 of its own, so the shipped nginx config rebuilds the
/// client's answer from this header and `$upstream_status` (`deploy/nginx/`).
pub const PROBLEM: HeaderName = HeaderName::from_static("x-keyward-problem");

pub async fn forward_auth(State(s): State<AppState>, request: Request) -> Response {
    match decide(&s, request).await {
        Ok(allowed) => allowed,
        Err(refused) => {
            let body = refused.problem_json();
            let header = ascii_json(&body);
            let mut response = refused.into_response_with(body);
            if let Ok(value) = HeaderValue::from_str(&header) {
                response.headers_mut().insert(PROBLEM, value);
            }
            response
        }
    }
}

async fn decide(s: &AppState, request: Request) -> ApiResult<Response> {
    let (parts, _) = request.into_parts();
    caller_allowed(s, &parts)?;
    let original = original(&parts)?;
    let from = crate::auth::client_address(&parts, s);
    let fa = &s.forward_auth;
    let (method, path) = (original.method.as_str(), original.path());
    let asked = match fa.routes.find(method, path) {
        Some(m) => m
            .asked(method, |name| {
                parts.headers.get(name).and_then(|v| v.to_str().ok())
            })
            .map_err(|e| ApiError::invalid_request(e.message))?,
        None if fa.allow_unmatched => Asked::Identity,
        None => {
            return Err(ApiError::new(
                &problems::NO_ROUTE,
                format!(
                    "no route of the forward-auth table matches {method} {}; the operator can add one to [[routes]]",
                    keyward_core::echo::echo(path, 120)
                ),
            ))
        }
    };
    let creds = crate::auth::credentials(&parts.headers);
    let verdict = s
        .app
        .check_costing(Presented::pick(creds), &asked, from, 1)
        .await?;
    let now = s.app.now();
    let limits = Limits::of(&verdict, now);
    let key = match (&verdict.key, verdict.outcome.is_valid()) {
        (Some(key), true) => key,
        _ => {
            let mut e = ApiError::from_outcome(verdict.outcome, verdict.detail());
            if let Some(permission) = verdict.required_permission() {
                e = e.with("required_permission", permission);
                e.challenge = Some(format!(
                    r#"Bearer realm="keyward", error="insufficient_scope", scope="{}""#,
                    permission.replace('"', "")
                ));
            }
            return Err(match limits {
                Some(limits) => limits.onto(e, now),
                None => e,
            });
        }
    };
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    // Room for the identity and the limits at once, rather than growing twice.
    headers.reserve(8);
    let mut put = |name: HeaderName, value: &str| {
        // Ids and kinds are ASCII; metadata is made so below. Never a 500 over a header.
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put(KEY_ID, key.id.as_str());
    put(ORG_ID, key.org_id.as_str());
    put(KEY_KIND, key.kind.as_str());
    if let Some(owner) = &key.owner {
        put(USER_ID, owner.as_str());
    }
    if let Some(metadata) = &key.metadata {
        if let Ok(json) = serde_json::to_string(metadata.as_map()) {
            put(METADATA, &ascii_json(&json));
        }
    }
    if let Some(limits) = limits {
        limits.apply(headers, now);
    }
    Ok(response)
}

/// Whether this caller may ask at all (see the module's documentation).
fn caller_allowed(s: &AppState, parts: &Parts) -> Result<(), ApiError> {
    match &s.forward_auth.token {
        Some(token) => {
            let sent = parts
                .headers
                .get(PROXY_TOKEN)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if bool::from(sent.ct_eq(token.expose_secret().as_bytes())) {
                return Ok(());
            }
            Err(ApiError::new(
                &problems::FORBIDDEN,
                "forward auth answers only proxies that send the operator's forward_auth_token in the X-Keyward-Proxy-Token header; this request carried none, or another",
            )
            .with("required_permission", "forward_auth_token"))
        }
        None => {
            let peer = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip());
            if peer.is_some_and(|ip| ip.to_canonical().is_loopback()) || s.proxies.trusts_peer(peer)
            {
                return Ok(());
            }
            Err(ApiError::new(
                &problems::FORBIDDEN,
                "forward auth answers only the server's own machine and the trusted_proxies, unless the operator sets a forward_auth_token for proxies to send in X-Keyward-Proxy-Token",
            )
            .with("required_permission", "forward_auth_token"))
        }
    }
}

/// The original method and path (without its query), from the proxy's headers, or
/// for Envoy from this request's own method and path after the prefix.
fn original(parts: &Parts) -> Result<Original, ApiError> {
    let (method, uri, skip) = match parts.uri.path().strip_prefix(PREFIX) {
        Some(rest) if rest.starts_with('/') => (
            upper_method(parts.method.as_str())?,
            parts.uri.clone(),
            PREFIX.len(),
        ),
        _ => {
            let nginx = (
                one(&parts.headers, &X_ORIGINAL_METHOD)?,
                one(&parts.headers, &X_ORIGINAL_URI)?,
            );
            let forwarded = (
                one(&parts.headers, &X_FORWARDED_METHOD)?,
                one(&parts.headers, &X_FORWARDED_URI)?,
            );
            let sent = |(m, u): &(Option<&str>, Option<&str>)| m.is_some() || u.is_some();
            let (method, uri) = match (sent(&nginx), sent(&forwarded)) {
                (true, true) => return Err(ApiError::invalid_request(
                    "both X-Original-* and X-Forwarded-Method/Uri were sent: the proxy must send one pair only, and clear the other (a client may have sent it)",
                )),
                (true, false) => nginx,
                _ => forwarded,
            };
            let (Some(method), Some(uri)) = (method, uri) else {
                return Err(ApiError::invalid_request(
                    "forward auth needs the original method and URI: X-Original-Method and X-Original-URI (nginx), or X-Forwarded-Method and X-Forwarded-Uri (Caddy, Traefik)",
                ));
            };
            let method = upper_method(method.trim())?;
            let uri: Uri = uri
                .trim()
                .parse()
                .ok()
                .filter(|u: &Uri| u.scheme().is_none() && u.path().starts_with('/'))
                .ok_or_else(|| {
                    ApiError::invalid_request(
                        "the original URI is not a path such as /api/v1/items?page=2",
                    )
                })?;
            (method, uri, 0)
        }
    };
    let original = Original { method, uri, skip };
    if let Some(what) = keyward_core::routes::ambiguous_path(original.path()) {
        return Err(ApiError::invalid_request(format!(
            "the original path has {what}, which the upstream may read as another path than the route table does: refused"
        )));
    }
    if original
        .uri
        .query()
        .and_then(crate::auth::key_in_query)
        .is_some()
    {
        return Err(ApiError::new(
            &problems::KEY_IN_QUERY,
            "the original URI carries an API key in its query string: send the key in the 'Authorization: Bearer <key>' or 'x-api-key' header, and rotate this key, since URLs are logged",
        ));
    }
    Ok(original)
}

/// The original method, in upper case: methods are case-sensitive in HTTP, but
/// proxies pass on what clients send, and the route table names them in upper case.
fn upper_method(sent: &str) -> Result<Method, ApiError> {
    let upper = match sent.bytes().any(|b| b.is_ascii_lowercase()) {
        true => Cow::Owned(sent.to_ascii_uppercase()),
        false => Cow::Borrowed(sent),
    };
    Method::from_bytes(upper.as_bytes())
        .map_err(|_| ApiError::invalid_request("the original method is not an HTTP method"))
}

/// The one value of a header, if sent; several values, or one that is not text, are
/// refused rather than picked from.
fn one<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h str>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid_request(format!(
            "the {name} header was sent more than once"
        )));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| ApiError::invalid_request(format!("the {name} header is not valid text")))
}

/// JSON with every character a header field cannot hold (non-ASCII, control
/// characters, DEL) written as `\uXXXX`, so it fits a header and still reads back as
/// the same JSON. Outside strings JSON is printable ASCII already; serde_json escapes
/// control characters in strings, but not DEL.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c == ' ' || c.is_ascii_graphic() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PREFIX, any(forward_auth))
        .route("/v1/forward-auth/{*rest}", any(forward_auth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_header_is_ascii_and_reads_back_as_the_same_json() {
        let value = serde_json::json!({ "name": "Zoë 🚀", "ctl": "a\u{1}b\u{7f}c\td", "n": 3 });
        let json = serde_json::to_string(&value).unwrap();
        let header = ascii_json(&json);
        assert!(
            header.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
            "{header}"
        );
        assert!(HeaderValue::from_str(&header).is_ok(), "{header}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&header).unwrap(),
            value
        );
    }
}
