//! A small forms API behind [`KeywardLayer`]: every route under `/projects/{project}`
//! needs a key with a grant on that project's environment (`production` unless the
//! request says `X-Environment`), for the `forms` resource, at the level its method
//! needs. The handlers read who the key is from the request's extensions.
//!
//! ```sh
//! KEYWARD_URL=http://127.0.0.1:8080 KEYWARD_TOKEN=kw_admin_… \
//!   cargo run -p keyward-client --example forms_service
//! curl -H "x-api-key: $KEY" http://127.0.0.1:3000/projects/Website/forms
//! ```
//!
//! `LISTEN` sets the address (`127.0.0.1:3000`); `FAIL_OPEN=1` lets requests through
//! unverified while keyward is out of reach (the default refuses them with 503).

use axum::extract::{ConnectInfo, Path};
use axum::routing::get;
use axum::{Extension, Json, Router};
use keyward_client::{Ask, Client, KeyIdentity, KeywardLayer};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// What each request asks of its key: the project from the path, the environment from
/// `X-Environment`, the level from the method (keyward's default), the client's address
/// for keys with an allow-list.
fn ask(parts: &axum::http::request::Parts) -> Ask {
    let project = parts
        .uri
        .path()
        .strip_prefix("/projects/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let environment = parts
        .headers
        .get("x-environment")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("production")
        .to_owned();
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    Ask::project(project, environment).resource("forms").ip(ip)
}

/// The service's routes; [`KeywardLayer`] guards those under `/projects`.
pub fn app(layer: KeywardLayer) -> Router {
    Router::new()
        .route(
            "/projects/{project}/forms",
            get(list_forms).post(create_form),
        )
        .route_layer(layer)
        .route("/healthz", get(|| async { "ok" }))
}

async fn list_forms(
    Path(project): Path<String>,
    Extension(who): Extension<KeyIdentity>,
) -> Json<Value> {
    Json(json!({
        "project": project,
        "forms": [{ "id": "form_1", "title": "Contact us" }],
        "read_by": { "key_id": who.key_id, "org_id": who.org_id, "kind": who.kind.as_str() },
    }))
}

async fn create_form(
    Path(project): Path<String>,
    Extension(who): Extension<KeyIdentity>,
    Json(form): Json<Value>,
) -> (axum::http::StatusCode, Json<Value>) {
    (
        axum::http::StatusCode::CREATED,
        Json(json!({
            "project": project,
            "form": form,
            "created_by": { "key_id": who.key_id, "user_id": who.user_id, "metadata": who.metadata },
        })),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("KEYWARD_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("KEYWARD_TOKEN")
        .map_err(|_| "set KEYWARD_TOKEN to an admin token (keyward admin tokens create)")?;
    let client = Client::new(&url, token.into())?;
    let mut layer = KeywardLayer::new(client, ask);
    if std::env::var("FAIL_OPEN").is_ok_and(|v| v == "1") {
        layer = layer.fail_open();
    }
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("forms service on http://{listen}, asking keyward at {url}");
    axum::serve(
        listener,
        app(layer).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
