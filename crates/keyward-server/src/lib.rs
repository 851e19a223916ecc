//! keyward over HTTP. [`router`] builds the whole application; [`launch`] serves it on
//! a listener, within [`ServerLimits`], until `shutdown` completes, so tests and the
//! binary start it the same way (tests bind port 0).
#![forbid(unsafe_code)]

pub mod auth;
pub mod error;
pub mod limits;
pub mod openapi;
pub mod problems;
pub mod routes;
mod serve;
pub mod state;
mod timeouts;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::ApiError;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use limits::ServerLimits;
pub use serve::launch;
pub use state::AppState;

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

/// The span of one request: method and matched route only. Never the URI's query or
/// any header, which may carry credentials.
fn request_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!("request", method = %request.method(), route, caller = tracing::field::Empty)
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::health::router())
        .merge(routes::orgs::router())
        .merge(routes::keys::router())
        .merge(routes::verify::router())
        .merge(routes::me::router())
        .merge(routes::members::router())
        .merge(routes::scopes::router())
        .merge(routes::audit::router())
        .merge(routes::setup::router())
        .merge(routes::docs::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(auth::RefuseKeysInQueryLayer::new(
            &state.app.settings().prefix,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _: &Span| {
                    let status = response.status().as_u16();
                    let ms = latency.as_secs_f64() * 1000.0;
                    if status >= 500 {
                        tracing::error!(status, ms, "answered");
                    } else {
                        tracing::debug!(status, ms, "answered");
                    }
                }),
        )
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state)
}
