//! `/healthz` (the process is up) and `/readyz` (it can reach its database, and the
//! Redis its rate limits live in when there is one).

use crate::error::{ApiError, ApiResult, Json};
use crate::openapi::Unavailable;
use crate::problems;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` (`/healthz`), `ready`, or `degraded`: ready, but the rate limiter's Redis
    /// does not answer and checks use per-node limits meanwhile.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: answers while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: answers 200 when the database answers, 503 otherwise. With the rate
/// limits in Redis, Redis is asked too: when it does not answer, 503 if
/// `redis_unreachable` is `closed` (checks fail), else 200 with status `degraded`
/// (checks fall back to per-node limits, so the node still serves).
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses((status = 200, body = Health), (status = 503, response = Unavailable)))]
pub async fn readyz(State(s): State<AppState>) -> ApiResult<Json<Health>> {
    if let Err(e) = s.app.store().count_users().await {
        tracing::error!(error = %e, "readiness check failed");
        return Err(ApiError::new(
            &problems::UNAVAILABLE,
            "the database does not answer",
        ));
    }
    if let Some((unreachable, Err(e))) = s.app.redis_ping().await {
        tracing::warn!(error = %e, "readiness: the rate limiter's Redis does not answer");
        return match unreachable {
            keyward_app::Unreachable::Closed => Err(ApiError::new(
                &problems::UNAVAILABLE,
                "the rate limiter's Redis does not answer, and redis_unreachable is closed",
            )),
            keyward_app::Unreachable::Open => Ok(Json(Health { status: "degraded" })),
        };
    }
    Ok(Json(Health { status: "ready" }))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}
