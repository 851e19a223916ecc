//! The dashboard's stylesheet, script and icon, compiled into the binary so that the
//! pages need nothing from any other server.

use crate::state::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// One asset: its bytes and content type, cached for an hour (they change only with
/// the binary).
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/assets/keyward.css",
            get(|| async {
                asset(
                    "text/css; charset=utf-8",
                    include_str!("../../assets/keyward.css"),
                )
            }),
        )
        .route(
            "/assets/keyward.js",
            get(|| async {
                asset(
                    "text/javascript; charset=utf-8",
                    include_str!("../../assets/keyward.js"),
                )
            }),
        )
        .route(
            "/assets/icon.svg",
            get(|| async { asset("image/svg+xml", include_str!("../../assets/icon.svg")) }),
        )
}
