//! `/healthz` (the process is up) and `/readyz` (it can reach its database).

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
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: answers while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: answers 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses((status = 200, body = Health), (status = 503, response = Unavailable)))]
pub async fn readyz(State(s): State<AppState>) -> ApiResult<Json<Health>> {
    match s.app.store().count_users().await {
        Ok(_) => Ok(Json(Health { status: "ready" })),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            Err(ApiError::new(
                &problems::UNAVAILABLE,
                "the database does not answer",
            ))
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}
