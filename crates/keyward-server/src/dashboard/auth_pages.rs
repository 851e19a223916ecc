//! Pages for getting in and out: the home redirect and the organization switcher;
//! sign-in, setup, invitations and password resets.

use super::chrome;
use crate::state::AppState;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(chrome::home))
        .route("/switch", get(chrome::switch))
}
