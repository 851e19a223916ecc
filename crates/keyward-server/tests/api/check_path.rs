//! The check endpoints' own path (`/v1/forward-auth`, `POST /v1/keys/verify`, answered
//! beside the router for speed) keeps every guarantee the router's layers give the
//! rest of the API: keys in the query refused, the body limit and deadline, the
//! request log with its route and caller, the check latency histogram, and the
//! router's 404 and 405 for the paths it does not take.

use crate::helpers::{grant, logs, Raw, TestApp};
use keyward_server::ServerLimits;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

fn verify_body(key: &str) -> String {
    json!({ "key": key, "project": "Website", "environment": "production", "method": "GET" })
        .to_string()
}

#[tokio::test]
async fn a_key_in_the_query_is_refused_on_both_check_endpoints() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    for path in [
        format!("/v1/keys/verify?api_key={key}"),
        format!("/v1/keys/verify?x={key}"),
        format!("/v1/forward-auth/api/x?token={key}"),
    ] {
        let r = t
            .send(
                t.request(Method::POST, &path)
                    .bearer_auth(&t.admin)
                    .header("content-type", "application/json")
                    .body(verify_body(&key)),
            )
            .await
            .expect(400);
        assert_eq!(r.problem(), "key-in-query", "{path}");
        assert!(!r.text.contains(&key[10..]), "the refusal repeats the key");
    }
}

#[tokio::test]
async fn verify_bodies_are_limited_to_64_kib_and_must_be_json() {
    let t = TestApp::spawn().await;
    let huge = json!({ "key": "x".repeat(100_000) }).to_string();
    let post = |body: String, content_type: &str| {
        t.request(Method::POST, "/v1/keys/verify")
            .bearer_auth(&t.admin)
            .header("content-type", content_type)
            .body(body)
    };
    let r = t.send(post(huge, "application/json")).await.expect(413);
    assert_eq!(r.problem(), "payload-too-large");
    let r = t
        .send(post(verify_body("kw_live_x"), "text/plain"))
        .await
        .expect(415);
    assert_eq!(r.problem(), "unsupported-media-type");
    let r = t
        .send(post("{".into(), "application/json"))
        .await
        .expect(400);
    assert_eq!(r.problem(), "invalid-request");
    // The caller is checked before the body is read, as the router's extractors do.
    let r = t
        .send(
            t.request(Method::POST, "/v1/keys/verify")
                .header("content-type", "application/json")
                .body("{"),
        )
        .await
        .expect(401);
    assert_eq!(r.problem(), "missing");
}

#[tokio::test]
async fn a_verify_body_that_stops_arriving_gets_a_408() {
    let t = TestApp::spawn_with(ServerLimits {
        request_body_timeout: Duration::from_millis(300),
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        max_connections: 100,
        shutdown_deadline: Duration::from_secs(30),
    })
    .await;
    let mut c = Raw::connect(t.addr).await;
    c.send(&format!(
        "POST /v1/keys/verify HTTP/1.1\r\nhost: keyward\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"key\": ",
        t.admin
    ))
    .await;
    let reply = c.reply().await;
    assert_eq!(reply.status, 408, "{reply:?}");
    assert!(reply.body.contains("request-timeout"), "{}", reply.body);
}

#[tokio::test]
async fn paths_the_check_endpoints_do_not_take_get_the_routers_answers() {
    let t = TestApp::spawn().await;
    for path in ["/v1/forward-auth/", "/v1/forward-authx", "/v1/keys/verify/"] {
        let r = t.admin(Method::POST, path, None).await.expect(404);
        assert_eq!(r.problem(), "not-found", "{path}");
    }
    let r = t
        .admin(Method::GET, "/v1/keys/verify", None)
        .await
        .expect(405);
    assert_eq!(r.problem(), "method-not-allowed");
}

#[tokio::test]
async fn check_requests_are_logged_with_route_status_and_caller_and_timed() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    let pid = std::process::id();
    let verify_id = format!("verify-{pid}");
    let r = t
        .send(
            t.request(Method::POST, "/v1/keys/verify?probe=private-query-value")
                .bearer_auth(&t.admin)
                .header("content-type", "application/json")
                .header("x-request-id", &verify_id)
                .body(verify_body(&key)),
        )
        .await
        .expect(200);
    assert_eq!(r.header("x-request-id"), Some(verify_id.as_str()));
    assert_eq!(r.body["outcome"], "valid");
    let forward_id = format!("forward-{pid}");
    t.send(
        t.request(Method::GET, "/v1/forward-auth/anything")
            .header("x-request-id", &forward_id)
            .bearer_auth(&key),
    )
    .await
    .expect(403);

    let logs = logs();
    let line = |id: &str| {
        logs.lines()
            .find(|l| l.contains(&format!(" id={id} ")) && l.contains("answered"))
            .unwrap_or_else(|| panic!("no log line for request {id}"))
            .to_owned()
    };
    let verify = line(&verify_id);
    for part in [
        "method=POST",
        "path=/v1/keys/verify ",
        r#"route="/v1/keys/verify""#,
        "status=200",
        "ms=",
        r#"caller="token:"#,
    ] {
        assert!(verify.contains(part), "{part:?} missing from: {verify}");
    }
    let forward = line(&forward_id);
    for part in [
        "method=GET",
        r#"route="/v1/forward-auth/{*rest}""#,
        "status=403",
    ] {
        assert!(forward.contains(part), "{part:?} missing from: {forward}");
    }
    assert!(!logs.contains("private-query-value"), "a query was logged");
    assert!(!logs.contains(&key[10..]), "a key was logged");

    let metrics = t
        .admin(Method::GET, "/metrics", None)
        .await
        .expect(200)
        .text;
    let timed = metrics
        .lines()
        .find_map(|l| l.strip_prefix("keyward_check_duration_seconds_count "))
        .expect("the check latency histogram");
    assert_eq!(timed, "2", "both checks timed: {metrics}");
}
