//! The check endpoints' own path: `/v1/forward-auth` (any method) and
//! `POST /v1/keys/verify` are answered here, beside the router rather than through it.
//!
//! These are the endpoints a busy operator's API calls on every one of its requests;
//! everything else is management, called by people. Through the router, a forward-auth
//! request spent more instructions in axum's routing and the tower layers (the trace
//! span, panic catching, the body limit, the key-in-query refusal, the meter, each with
//! its own future, several boxed) than in the check itself. Here the same things are
//! done inline, in one future:
//!
//! * a key in the query string is refused, exactly as [`crate::auth::RefuseKeysInQueryLayer`]
//!   refuses it;
//! * the body, which only verify reads, is limited to [`crate::BODY_LIMIT`] and keeps
//!   its deadline ([`crate::timeouts::DeadlineBody`], put on in [`crate::serve`]);
//! * a panic becomes the same 500 as [`crate::panicked`] makes;
//! * the request is logged in the same span, with the same fields, as the router's
//!   requests ([`crate::request_span`]), and timed into the check latency histogram;
//! * the handlers are the router's own ([`routes::forward_auth::forward_auth`],
//!   [`routes::verify::verify`]) with the router's own extractors, so the answers are
//!   the same byte for byte.
//!
//! The meter layer ([`crate::auth::meter`]) is not needed: neither endpoint is called
//! with the key being checked as its caller. A verify request with another method
//! than POST goes to the router, which answers 405 as before.

use crate::auth::OperatorToken;
use crate::error::{ApiError, Json};
use crate::routes;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::time::Instant;
use tracing::Instrument;

/// An endpoint with its own path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/v1/forward-auth`, any method.
    ForwardAuth,
    /// `/v1/forward-auth/{*rest}` (Envoy), any method.
    ForwardAuthRest,
    /// `POST /v1/keys/verify`.
    Verify,
}

impl Endpoint {
    /// The endpoint `method` and `path` ask for, if it has its own path. Exactly the
    /// requests the router would have routed to these handlers, and no others.
    pub(crate) fn of(method: &Method, path: &str) -> Option<Endpoint> {
        match path {
            routes::forward_auth::PREFIX => Some(Endpoint::ForwardAuth),
            "/v1/keys/verify" if method == Method::POST => Some(Endpoint::Verify),
            _ => {
                // The router's `{*rest}` needs at least one character after the slash.
                let rest = path.strip_prefix(routes::forward_auth::PREFIX)?;
                (rest.len() > 1 && rest.starts_with('/')).then_some(Endpoint::ForwardAuthRest)
            }
        }
    }

    /// The route as the router's log names it.
    fn route(self) -> &'static str {
        match self {
            Endpoint::ForwardAuth => routes::forward_auth::PREFIX,
            Endpoint::ForwardAuthRest => "/v1/forward-auth/{*rest}",
            Endpoint::Verify => "/v1/keys/verify",
        }
    }
}

/// Answers `request` at `endpoint`, as the router and its layers would have.
pub(crate) async fn answer(state: AppState, endpoint: Endpoint, request: Request) -> Response {
    let started = Instant::now();
    let span = crate::request_span(&request, endpoint.route());
    let answered = AssertUnwindSafe(handle(&state, endpoint, request))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let response = answered.unwrap_or_else(crate::panicked);
    let latency = started.elapsed();
    state.app.metrics().check_answered(latency);
    crate::log_answer(&span, response.status(), latency);
    response
}

async fn handle(state: &AppState, endpoint: Endpoint, request: Request) -> Response {
    if let Some(refusal) = request.uri().query().and_then(crate::auth::key_in_query) {
        return refusal;
    }
    match endpoint {
        Endpoint::ForwardAuth | Endpoint::ForwardAuthRest => {
            routes::forward_auth::forward_auth(State(state.clone()), request).await
        }
        Endpoint::Verify => verify(state, request)
            .await
            .unwrap_or_else(IntoResponse::into_response),
    }
}

/// The verify handler with its extractors, in the order axum runs them: the caller
/// first, then the body, limited as the router's `DefaultBodyLimit` limits it.
async fn verify(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let operator = OperatorToken::from_request_parts(&mut parts, state).await?;
    let body = Body::new(http_body_util::Limited::new(body, crate::BODY_LIMIT));
    let body = Json::from_request(Request::from_parts(parts, body), state).await?;
    routes::verify::verify(State(state.clone()), operator, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_check_endpoints_take_their_own_path() {
        let cases = [
            (Method::GET, "/v1/forward-auth", Some(Endpoint::ForwardAuth)),
            (
                Method::DELETE,
                "/v1/forward-auth",
                Some(Endpoint::ForwardAuth),
            ),
            (
                Method::PUT,
                "/v1/forward-auth/api/v1/x",
                Some(Endpoint::ForwardAuthRest),
            ),
            (
                Method::GET,
                "/v1/forward-auth/a",
                Some(Endpoint::ForwardAuthRest),
            ),
            // What the router answers itself: 404s and a 405.
            (Method::GET, "/v1/forward-auth/", None),
            (Method::GET, "/v1/forward-authx", None),
            (Method::GET, "/v1/forward-auth-x/y", None),
            (Method::POST, "/v1/keys/verify", Some(Endpoint::Verify)),
            (Method::GET, "/v1/keys/verify", None),
            (Method::POST, "/v1/keys/verify/", None),
            (Method::POST, "/v1/keys", None),
            (Method::GET, "/", None),
        ];
        for (method, path, expected) in cases {
            assert_eq!(Endpoint::of(&method, path), expected, "{method} {path}");
        }
    }
}
