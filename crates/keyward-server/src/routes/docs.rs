//! Documentation served by the server itself, with no network access: the OpenAPI
//! document at `/openapi.json` (the same text as the committed `docs/openapi.json`),
//! Swagger UI at `/docs/api` (assets compiled in), and the problem types at
//! `/docs/problems`.

use crate::openapi;
use crate::problems;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use utoipa_swagger_ui::{Config, SwaggerUi};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders `code spans` in the catalog's plain text.
fn inline_code(s: &str) -> String {
    escape(s)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_owned()
            }
        })
        .collect()
}

async fn problems_page() -> impl IntoResponse {
    let mut rows = String::new();
    for p in problems::ALL {
        rows.push_str(&format!(
            "<section id=\"{slug}\"><h2>{title}</h2><p><code>type: {uri}</code> · HTTP {status}</p><p>{help}</p></section>\n",
            slug = escape(p.slug),
            title = escape(p.title),
            uri = escape(&p.type_uri()),
            status = p.status.as_u16(),
            help = inline_code(p.help),
        ));
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>keyward problem types</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}\
         code{{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}}section{{border-top:1px solid #d0d7de;padding-top:.5rem}}</style>\
         </head><body><h1>Problem types</h1><p>Every error keyward answers is an RFC 9457 <code>application/problem+json</code> body \
         whose <code>type</code> is one of these. Match on <code>type</code>, not on <code>title</code> or <code>detail</code>.</p>{rows}</body></html>"
    );
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Html(page),
    )
}

/// The OpenAPI document, with this server's scope catalog.
async fn openapi_json(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::document_for(&s.app.settings().catalog, &s.app.settings().plans),
    )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/docs/problems", get(problems_page))
        .route("/openapi.json", get(openapi_json))
        .merge(SwaggerUi::new("/docs/api").config(
            // No online validator: it would send this server's address to swagger.io,
            // and fail offline.
            Config::from("/openapi.json").validator_url("none"),
        ))
}
