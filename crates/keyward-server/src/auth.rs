//! Who is calling: typed extractors, one per kind of caller, so that a handler's
//! signature states who may call it.
//!
//! * [`Caller`]: an operator admin token, an API key, or a person's session cookie
//!   (management API, `/v1/me`; see [`crate::session`]);
//! * [`OperatorToken`]: an admin token only (the verify API, operator-only routes).
//!
//! Keys are read from `Authorization: Bearer`, `x-api-key` and `api-key`. A key in the
//! query string is refused outright by [`refuse_keys_in_query`].

use crate::error::ApiError;
use crate::problems;
use crate::ratelimit::Limits;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use keyward_app::{AppError, Principal};
use keyward_core::check::Outcome;
use keyward_core::token::looks_like_admin_token;
use keyward_core::{Actor, Presented};
use std::future::Ready;
use std::net::{IpAddr, SocketAddr};
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// The headers besides `Authorization` that may carry a key.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const API_KEY: HeaderName = HeaderName::from_static("api-key");

/// Every value in the request that may hold a key, in order: `Authorization: Bearer`,
/// then `x-api-key`, then `api-key`. A header that is not valid text counts as an empty
/// (so malformed) credential rather than being ignored. An iterator, not a list: the
/// check endpoints read it on every request, and it allocates nothing.
pub fn credentials(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|value| match value.to_str() {
            Ok(v) => {
                if let Some((scheme, token)) = v.trim().split_once(' ') {
                    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
                } else {
                    v.trim().eq_ignore_ascii_case("bearer").then_some("")
                }
            }
            Err(_) => Some(""),
        });
    let named = headers
        .get_all(X_API_KEY)
        .iter()
        .chain(headers.get_all(API_KEY).iter())
        .map(|value| value.to_str().map(str::trim).unwrap_or(""));
    bearer.chain(named)
}

fn record_caller(principal: &Principal) {
    // Formatting the id costs an allocation per request: only when a log wants it.
    let span = tracing::Span::current();
    if span.is_disabled() {
        return;
    }
    span.record("caller", principal.actor().encode().as_str());
}

/// The address of the client this request came from: the peer of the connection,
/// or, when that peer is a trusted proxy, the client it names (see [`crate::forwarded`]).
pub fn client_address(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    state.proxies.client(peer, &parts.headers)
}

/// The client's address, for requests whose handler records it without a caller
/// (the first-run setup). Never fails: `None` when the server was not told.
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts, state)))
    }
}

/// Where a key caller's limits stand, left by [`Caller`] for [`meter`] to answer
/// with: `RateLimit` fields on the response, or, when the operation was then refused
/// with a 403, the request's spending given back (a failed request uses up nothing).
#[derive(Clone, Default)]
pub struct MeterSlot(std::sync::Arc<std::sync::Mutex<Option<(Limits, keyward_core::Verdict)>>>);

impl MeterSlot {
    fn fill(&self, limits: Limits, verdict: keyward_core::Verdict) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((limits, verdict));
    }

    fn take(&self) -> Option<(Limits, keyward_core::Verdict)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Middleware: gives each request a [`MeterSlot`] and answers with what was left in it.
pub async fn meter(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: axum::middleware::Next,
) -> Response {
    let slot = MeterSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some((limits, verdict)) = slot.take() {
        if response.status() == axum::http::StatusCode::FORBIDDEN {
            state.app.refund(&verdict, 1).await;
        } else {
            limits.apply(response.headers_mut(), state.app.now());
        }
    }
    response
}

/// With an admin token: act as this person (user id or e-mail address).
pub const ACT_AS: &str = "keyward-user";

/// The caller of a management route: an admin token (the operator) or an API key.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let creds = credentials(&parts.headers);
        // No key or token: a person with a session cookie, with exactly the power of
        // `Keyward-User` (the same principal); a change also needs the CSRF token.
        if credentials(&parts.headers).next().is_none() {
            if let Some(session) = crate::session::SessionCaller::resolve(parts, state).await? {
                record_caller(&session.signed_in.principal);
                return Ok(Caller(session.signed_in.principal));
            }
        }
        let from = client_address(parts, state);
        // Step 1 of the check, once: the key path below is handed what was picked.
        let presented = Presented::pick(creds);
        let admin = match presented {
            Presented::One(text)
                if looks_like_admin_token(text.expose_secret(), &state.app.settings().prefixes) =>
            {
                Some(text)
            }
            _ => None,
        };
        let principal = if let Some(text) = admin {
            let token = state
                .app
                .authenticate_admin(text.expose_secret())
                .await?
                .ok_or_else(|| {
                    ApiError::from_outcome(
                        Outcome::Unknown,
                        "This admin token is unknown, wrong or revoked.",
                    )
                })?;
            match parts.headers.get(ACT_AS) {
                // The operator's own dashboard or backend acting for a signed-in person:
                // that person's role and project levels apply, not the token's power.
                Some(user) => {
                    let user = user.to_str().map_err(|_| {
                        ApiError::invalid_request("the Keyward-User header is not valid text")
                    })?;
                    state.app.user_principal(user).await.map_err(|e| match e {
                        // Only a missing person is "not found"; a failing store is
                        // a server error, logged as one.
                        AppError::NotFound { .. } => ApiError::new(
                            &problems::NOT_FOUND,
                            "the user named in the Keyward-User header does not exist",
                        ),
                        other => ApiError::from(other),
                    })?
                }
                None => Principal::operator(Actor::AdminToken(token.id.to_string())),
            }
        } else {
            let (verdict, principal) = state.app.caller(presented, from).await?;
            let now = state.app.now();
            let limits = Limits::of(&verdict, now);
            match principal {
                Some(principal) => {
                    if let (Some(slot), Some(limits)) =
                        (parts.extensions.get::<MeterSlot>(), limits)
                    {
                        slot.fill(limits, verdict);
                    }
                    principal
                }
                None => {
                    let e = ApiError::from_outcome(verdict.outcome, verdict.detail());
                    return Err(match limits {
                        Some(limits) => limits.onto(e, now),
                        None => e,
                    });
                }
            }
        };
        let principal = match from {
            Some(ip) => principal.from_address(ip),
            None => principal,
        };
        record_caller(&principal);
        Ok(Caller(principal))
    }
}

/// An operator admin token, required by the verify API: a key must not be able to
/// test other keys.
pub struct OperatorToken(pub Principal);

impl FromRequestParts<AppState> for OperatorToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await?.0 {
            p if p.is_operator() => Ok(OperatorToken(p)),
            _ => Err(ApiError::new(
                &problems::FORBIDDEN,
                "this endpoint needs an operator admin token (kw_admin_…) acting as itself, not an API key or a person; create one with `keyward admin token create`",
            )
            .with("required_permission", "operator")),
        }
    }
}

const KEY_PARAMS: &[&str] = &[
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "key",
    "token",
    "access_token",
    "bearer",
    "auth",
];

/// Refuses any request whose query string carries a key, before anything else sees
/// it: such a key is already in somebody's logs, and must not be accepted as if it
/// were fine. A plain tower layer (no boxing): it sits in front of every request.
#[derive(Clone, Copy, Default)]
pub struct RefuseKeysInQueryLayer;

impl<S> Layer<S> for RefuseKeysInQueryLayer {
    type Service = RefuseKeysInQuery<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RefuseKeysInQuery { inner }
    }
}

#[derive(Clone)]
pub struct RefuseKeysInQuery<S> {
    inner: S,
}

impl<S> Service<Request> for RefuseKeysInQuery<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match request.uri().query().and_then(key_in_query) {
            Some(refusal) => Either::Left(std::future::ready(Ok(refusal))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}

pub(crate) fn key_in_query(query: &str) -> Option<Response> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let (name, _) = pairs.iter().find(|(name, value)| {
        KEY_PARAMS.contains(&name.to_ascii_lowercase().as_str())
            || keyward_core::echo::looks_secret(value)
    })?;
    Some(
        ApiError::new(
            &problems::KEY_IN_QUERY,
            format!(
                "API keys are not accepted in the URL (query parameter '{}'): send the key in the 'Authorization: Bearer <key>' or 'x-api-key' header, and rotate this key, since URLs are logged",
                keyward_core::echo::echo(name, 40)
            ),
        )
        .into_response(),
    )
}
