//! A tiny forms API: the upstream keyward's forward auth protects in the examples and
//! in the nginx and Caddy end-to-end tests. It knows nothing of keys. It trusts the
//! identity headers its proxy sets (`X-Keyward-*`) and says in every answer what it
//! `received`: the method, the path, those headers, and which key headers reached it
//! (names only, never values), so a test can see that the proxy passed the identity
//! on and kept the key back.
//!
//! Routes (`{project}` is any one path segment):
//! * `GET /api/v1/projects/{project}/forms`: the project's forms.
//! * `POST /api/v1/projects/{project}/forms`: a new form, named by the JSON body's
//!   `name`; 201.
//! * `GET`, `DELETE /api/v1/projects/{project}/forms/{id}`: one form; 404 if none.
//! * `GET /healthz`: `ok`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// The headers a key may arrive in (keyward reads the same three); their arrival at
/// the upstream means the proxy did not strip them.
const KEY_HEADERS: [&str; 3] = ["authorization", "x-api-key", "api-key"];

/// Forms by project, in memory.
#[derive(Default)]
struct Forms {
    by_project: BTreeMap<String, Vec<Value>>,
    next_id: u64,
}

/// Serves connections from `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener) {
    let forms = Arc::new(Mutex::new(Forms::default()));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait and go on rather than spin or stop.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let forms = forms.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let forms = forms.clone();
                async move { Ok::<_, Infallible>(answer(&forms, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Serves on `addr` (port 0 for any free one) on a thread of its own, for tests;
/// returns the address it listens on. It runs until the process ends.
pub fn spawn(addr: std::net::SocketAddr) -> std::io::Result<std::net::SocketAddr> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let local = std_listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) {
                serve(listener).await;
            }
        });
    });
    Ok(local)
}

/// What this request brought: shown in every answer.
fn received(req: &Request<Incoming>) -> Value {
    let identity: BTreeMap<String, &str> = req
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-keyward-"))
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or("?")))
        .collect();
    let keys: Vec<&str> = KEY_HEADERS
        .into_iter()
        .filter(|name| req.headers().contains_key(*name))
        .collect();
    json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "identity": identity,
        "key_headers": keys,
    })
}

async fn answer(forms: &Mutex<Forms>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let received = received(&req);
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method().clone(), segments.as_slice()) {
        (Method::GET, ["healthz"]) => reply(StatusCode::OK, json!("ok")),
        (Method::GET, ["api", "v1", "projects", project, "forms"]) => {
            let list = forms
                .lock()
                .map(|f| f.by_project.get(*project).cloned().unwrap_or_default())
                .unwrap_or_default();
            reply(
                StatusCode::OK,
                json!({ "forms": list, "received": received }),
            )
        }
        (Method::POST, ["api", "v1", "projects", project, "forms"]) => {
            let project = (*project).to_owned();
            let name = match Limited::new(req.into_body(), 64 * 1024).collect().await {
                Ok(body) => serde_json::from_slice::<Value>(&body.to_bytes())
                    .ok()
                    .and_then(|v| v["name"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "Untitled".to_owned()),
                Err(_) => {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        json!({ "error": "the body could not be read (at most 64 KiB)", "received": received }),
                    )
                }
            };
            let Ok(mut f) = forms.lock() else {
                return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({}));
            };
            f.next_id += 1;
            let form = json!({ "id": f.next_id, "name": name });
            f.by_project.entry(project).or_default().push(form.clone());
            reply(
                StatusCode::CREATED,
                json!({ "form": form, "received": received }),
            )
        }
        (
            method @ (Method::GET | Method::DELETE),
            ["api", "v1", "projects", project, "forms", id],
        ) => {
            let Ok(mut f) = forms.lock() else {
                return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({}));
            };
            let list = f.by_project.entry((*project).to_owned()).or_default();
            let id: Option<u64> = id.parse().ok();
            let at = list
                .iter()
                .position(|form| id.is_some() && form["id"].as_u64() == id);
            match (at, method == Method::DELETE) {
                (None, _) => reply(
                    StatusCode::NOT_FOUND,
                    json!({ "error": "no such form", "received": received }),
                ),
                (Some(at), false) => reply(
                    StatusCode::OK,
                    json!({ "form": list[at], "received": received }),
                ),
                (Some(at), true) => {
                    let form = list.remove(at);
                    reply(
                        StatusCode::OK,
                        json!({ "deleted": form, "received": received }),
                    )
                }
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({ "error": "no such route", "received": received }),
        ),
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::{Read, Write};

    fn ask(addr: std::net::SocketAddr, request: &str) -> String {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    /// The end-to-end tests rely on `received`: it must name the key headers that
    /// arrived and show the identity headers, and never echo a key.
    #[test]
    fn it_reports_what_it_received_without_repeating_keys() {
        let addr = super::spawn(([127, 0, 0, 1], 0).into()).unwrap();
        let answer = ask(
            addr,
            "POST /api/v1/projects/Website/forms HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             x-api-key: kw_live_secret\r\nx-keyward-key-id: k1\r\ncontent-length: 16\r\n\r\n{\"name\":\"Poll\"}\n",
        );
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
        let body: serde_json::Value =
            serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["form"]["name"], "Poll");
        assert_eq!(body["received"]["method"], "POST");
        assert_eq!(body["received"]["identity"]["x-keyward-key-id"], "k1");
        assert_eq!(
            body["received"]["key_headers"],
            serde_json::json!(["x-api-key"])
        );
        assert!(!answer.contains("kw_live_secret"), "{answer}");

        let answer = ask(
            addr,
            "GET /api/v1/projects/Website/forms HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        );
        assert!(answer.contains(r#""name":"Poll""#), "{answer}");
        assert!(answer.contains(r#""key_headers":[]"#), "{answer}");

        let one =
            "/api/v1/projects/Website/forms/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        assert!(ask(addr, &format!("GET {one}")).starts_with("HTTP/1.1 200"));
        assert!(ask(addr, &format!("DELETE {one}")).starts_with("HTTP/1.1 200"));
        assert!(ask(addr, &format!("GET {one}")).starts_with("HTTP/1.1 404"));
    }
}
