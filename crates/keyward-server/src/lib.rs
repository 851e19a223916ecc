//! keyward over HTTP. [`router`] builds the whole application; [`launch`] serves it on
//! a listener, within [`ServerLimits`], until `shutdown` completes, so tests and the
//! binary start it the same way (tests bind port 0). [`launch_metrics`] serves
//! `/metrics` alone, for a listener of its own.
#![forbid(unsafe_code)]

pub mod auth;
mod check_timing;
pub mod dashboard;
pub mod error;
mod fast;
pub mod forwarded;
pub mod limits;
pub mod openapi;
pub mod problems;
pub mod ratelimit;
mod request_id;
pub mod routes;
mod serve;
pub mod session;
pub mod state;
mod timeouts;

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::ApiError;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use forwarded::TrustedProxies;
pub use limits::ServerLimits;
pub use serve::{launch, launch_metrics};
pub use state::{AppState, ForwardAuth, MetricsAccess};

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

async fn not_found() -> ApiError {
    ApiError::new(
        &problems::NOT_FOUND,
        "no such endpoint; see /docs/api for the API",
    )
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        &problems::METHOD_NOT_ALLOWED,
        format!("this endpoint does not accept {method}; see /docs/api"),
    )
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    ApiError::new(&problems::INTERNAL, "internal error; it has been logged").into_response()
}

/// The span of a request the router answers, named by its matched route.
fn routed_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    request_span(request, route)
}

/// The span of one request: method, matched route, path, request id and client
/// address; the caller once known. Never the URI's query or any other header, which
/// may carry credentials. The fields are only formatted when a subscriber wants them.
fn request_span(request: &Request, route: &str) -> Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        path = %LoggedPath(request.uri().path()),
        id = %LoggedId(request.headers().get(request_id::X_REQUEST_ID)),
        client = %LoggedClient(request.extensions().get::<ConnectInfo<SocketAddr>>()),
        caller = tracing::field::Empty,
    )
}

/// A path as logged: a key pasted into a URL's path must not reach the logs either.
struct LoggedPath<'a>(&'a str);

impl fmt::Display for LoggedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if keyward_core::echo::looks_secret(self.0) {
            f.write_str("[a path that looks like it holds a key]")
        } else {
            f.write_str(self.0)
        }
    }
}

/// The request id, already made sane by [`request_id::ensure`].
struct LoggedId<'a>(Option<&'a axum::http::HeaderValue>);

impl fmt::Display for LoggedId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.and_then(|v| v.to_str().ok()).unwrap_or("-"))
    }
}

/// The peer address of the connection (a proxy's, behind one).
struct LoggedClient<'a>(Option<&'a ConnectInfo<SocketAddr>>);

impl fmt::Display for LoggedClient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ConnectInfo(addr)) => addr.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// The request log's line for an answer, in the request's span.
fn log_answer(span: &Span, status: StatusCode, latency: Duration) {
    let _in = span.enter();
    let status = status.as_u16();
    let ms = latency.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(status, ms, "answered");
    } else {
        tracing::info!(status, ms, "answered");
    }
}

pub fn router(state: AppState) -> Router {
    let checks = check_timing::TimeChecksLayer(state.app.clone());
    let metrics = match state.metrics.on_api_listener {
        true => routes::metrics::router(),
        false => Router::new(),
    };
    let routes = Router::new()
        .merge(routes::health::router())
        .merge(routes::orgs::router())
        .merge(routes::keys::router())
        .merge(routes::verify::router().route_layer(checks.clone()))
        .merge(routes::forward_auth::router().route_layer(checks))
        .merge(routes::me::router())
        .merge(routes::members::router())
        .merge(routes::invitations::router())
        .merge(routes::scopes::router())
        .merge(routes::audit::router())
        .merge(routes::usage::router())
        .merge(routes::setup::router())
        .merge(routes::sessions::router())
        .merge(routes::docs::router())
        .merge(dashboard::router())
        .merge(metrics);
    layered(routes, state)
}

/// `/metrics` alone, for a listener of its own, with the same answers to anything else
/// and the same request handling as [`router`].
pub fn metrics_router(state: AppState) -> Router {
    layered(routes::metrics::router(), state)
}

/// What every request goes through, whichever listener it came on.
fn layered(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::meter,
        ))
        .layer(auth::RefuseKeysInQueryLayer)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(routed_span)
                .on_request(())
                .on_response(|response: &Response, latency: Duration, span: &Span| {
                    log_answer(span, response.status(), latency);
                }),
        )
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state)
}
