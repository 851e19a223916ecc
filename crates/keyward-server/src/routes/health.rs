//! `/healthz` (the process is up) and `/readyz` (every component it depends on works:
//! the database, the change notifications on PostgreSQL, the Redis its rate limits
//! live in when there is one, and any [`Probe`] the server was given).
//!
//! [`Probe`]: keyward_app::readiness::Probe

use crate::error::{ApiError, Json};
use crate::openapi::Unavailable;
use crate::problems;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use keyward_app::readiness::within_limit;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: answers while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Whether the node can serve, and the state of each component it depends on.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`; or `degraded`: ready, but the rate limiter's Redis does not answer and
    /// checks use per-node limits meanwhile (`redis_unreachable = "open"`). Otherwise
    /// the answer is a 503 problem.
    #[schema(example = "ready")]
    pub status: &'static str,
    pub components: Vec<ComponentOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentOut {
    /// `database`; `notifications` (PostgreSQL's LISTEN connection, on PostgreSQL);
    /// `redis` (when rate limits are kept in Redis).
    #[schema(example = "database")]
    pub name: &'static str,
    /// `up`; `recovering` (connected again, catching up: not in service yet); `down`.
    #[schema(example = "up")]
    pub status: &'static str,
    /// What is wrong, when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Readiness: 200 with each component's state when every one is up (or only the rate
/// limiter's Redis is down with `redis_unreachable` open: status `degraded`, checks
/// fall back to per-node limits); otherwise 503, a problem body whose detail names
/// what is down and whose `components` member holds the same list.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses((status = 200, body = Readiness), (status = 503, response = Unavailable)))]
pub async fn readyz(State(s): State<AppState>) -> Response {
    let mut components = s.app.readiness().await;
    for probe in s.probes.iter() {
        components.push(within_limit(probe.name(), probe.probe()).await);
    }
    let degraded = components.iter().any(|c| !c.is_up());
    let down: Vec<String> = components
        .iter()
        .filter(|c| c.keeps_node_out())
        .map(|c| match &c.detail {
            Some(d) => format!("{} is {} ({d})", c.name, c.state.as_str()),
            None => format!("{} is {}", c.name, c.state.as_str()),
        })
        .collect();
    let components: Vec<ComponentOut> = components
        .into_iter()
        .map(|c| ComponentOut {
            name: c.name,
            status: c.state.as_str(),
            detail: c.detail,
        })
        .collect();
    if down.is_empty() {
        return Json(Readiness {
            status: if degraded { "degraded" } else { "ready" },
            components,
        })
        .into_response();
    }
    let listed = serde_json::to_value(&components).unwrap_or_default();
    ApiError::new(
        &problems::UNAVAILABLE,
        format!("not ready: {}", down.join("; ")),
    )
    .with("components", listed)
    .into_response()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}
