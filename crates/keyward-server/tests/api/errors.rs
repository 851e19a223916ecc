//! Whatever a client sends, the answer is a 4xx problem body, never a 500 or a panic.

use crate::helpers::{logs, TestApp};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn unreadable_bodies_are_4xx_problems() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let post = |body: &'static str, content_type: &'static str| {
        t.request(Method::POST, "/v1/keys")
            .bearer_auth(&t.admin)
            .header("content-type", content_type)
            .body(body)
    };
    let r = t
        .send(post("{not json", "application/json"))
        .await
        .expect(400);
    assert_eq!(r.problem(), "invalid-request");
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    let r = t
        .send(post(r#"{"org":"Acme","name":"x"}"#, "text/plain"))
        .await
        .expect(415);
    assert_eq!(r.problem(), "unsupported-media-type");
    let r = t
        .send(post(
            r#"{"org":"Acme","name":"x","surprise":true}"#,
            "application/json",
        ))
        .await
        .expect(400);
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("unknown field `surprise`"));
    let r = t
        .send(post(
            r#"{"org":"Acme","name":"x","kind":"prod"}"#,
            "application/json",
        ))
        .await
        .expect(400);
    assert!(r.body["detail"].as_str().unwrap().contains("kind"));
    let r = t
        .send(post(r#"[1,2,3]"#, "application/json"))
        .await
        .expect(400);
    assert_eq!(r.problem(), "invalid-request");
    let huge = format!(r#"{{"org":"Acme","name":"{}"}}"#, "x".repeat(100_000));
    let r = t
        .send(
            t.request(Method::POST, "/v1/keys")
                .bearer_auth(&t.admin)
                .header("content-type", "application/json")
                .body(huge),
        )
        .await
        .expect(413);
    assert_eq!(r.problem(), "payload-too-large");
}

#[tokio::test]
async fn unknown_routes_methods_and_parameters_are_4xx_problems() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let r = t
        .admin(Method::GET, "/v1/nothing-here", None)
        .await
        .expect(404);
    assert_eq!(r.problem(), "not-found");
    let r = t.admin(Method::PUT, "/v1/keys", None).await.expect(405);
    assert_eq!(r.problem(), "method-not-allowed");
    let r = t
        .admin(Method::GET, "/v1/keys?org=Acme&limit=1000", None)
        .await
        .expect(422);
    assert_eq!(r.body["field"], "limit");
    let r = t
        .admin(Method::GET, "/v1/keys?limit=-1", None)
        .await
        .expect(400);
    assert_eq!(r.problem(), "invalid-request");
    let r = t
        .admin(Method::GET, "/v1/keys?colour=blue", None)
        .await
        .expect(400);
    assert!(r.body["detail"].as_str().unwrap().contains("colour"));
    let r = t
        .admin(Method::GET, "/v1/keys/not-a-key-id", None)
        .await
        .expect(422);
    assert_eq!(r.body["field"], "key_id");
    let r = t.admin(Method::GET, "/v1/keys/%FF%FE", None).await;
    assert!(r.status.is_client_error(), "{}", r.text);
    let r = t
        .admin(Method::GET, "/v1/audit-events?since=yesterday", None)
        .await
        .expect(422);
    assert_eq!(r.body["field"], "since");
}

#[tokio::test]
async fn odd_but_valid_input_never_causes_a_server_error() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let nasty = [
        "",
        " ",
        "\u{0}",
        "'; DROP TABLE api_keys; --",
        "../../etc/passwd",
        "💥",
        &"z".repeat(5000),
    ];
    for s in nasty {
        for (method, path, body) in [
            (
                Method::POST,
                "/v1/orgs".to_owned(),
                Some(json!({ "name": s })),
            ),
            (
                Method::POST,
                "/v1/keys".to_owned(),
                Some(
                    json!({ "org": "Acme", "name": s, "grants": [{ "project": s, "environment": "production", "level": "read" }] }),
                ),
            ),
            (
                Method::POST,
                "/v1/keys/verify".to_owned(),
                Some(json!({ "key": s, "project": s, "environment": s, "method": s })),
            ),
            (Method::GET, format!("/v1/orgs/{}", urlencode(s)), None),
            (
                Method::GET,
                format!("/v1/audit-events?actor={}", urlencode(s)),
                None,
            ),
        ] {
            let r = t.admin(method, &path, body).await;
            assert!(r.status.as_u16() < 500, "{path} with {s:?}: {}", r.text);
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let t = TestApp::spawn().await;
    let r = t.send(t.request(Method::GET, "/healthz")).await.expect(200);
    assert_eq!(r.body["status"], "ok");
    let r = t.send(t.request(Method::GET, "/readyz")).await.expect(200);
    assert_eq!(r.body["status"], "ready");
    assert_eq!(r.body["components"][0]["name"], "database");
    assert_eq!(r.body["components"][0]["status"], "up");
}

/// A component outside the application (Redis, for one) that is down makes the node
/// not ready, and the body names which component and why, beside the others.
#[tokio::test]
async fn readiness_names_each_component_and_fails_when_one_is_down() {
    use keyward_app::readiness::{Component, Probe};
    struct Broken;
    impl Probe for Broken {
        fn name(&self) -> &'static str {
            "redis"
        }
        fn probe(
            &self,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Component> + Send + '_>> {
            Box::pin(async { Component::down("redis", "connection refused") })
        }
    }
    let t = TestApp::spawn_shaped(|s| s.probing(std::sync::Arc::new(Broken))).await;
    let r = t.send(t.request(Method::GET, "/readyz")).await.expect(503);
    assert_eq!(r.problem(), "unavailable");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("redis is down (connection refused)"),
        "{}",
        r.body
    );
    let components = r.body["components"].as_array().unwrap();
    assert_eq!(components.len(), 2, "{components:?}");
    assert_eq!(components[0]["name"], "database");
    assert_eq!(components[0]["status"], "up");
    assert_eq!(components[1]["name"], "redis");
    assert_eq!(components[1]["status"], "down");
    assert_eq!(components[1]["detail"], "connection refused");
}

/// A failing store is a server error, logged once with its cause: never passed off as
/// "not found" (a person named in Keyward-User) or "invalid cursor" (a listing).
#[tokio::test]
async fn storage_failures_are_server_errors_logged_once() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (id, _) = t.key(&org, json!({ "org_access": "read" })).await;
    t.drop_table("key_grants").await;
    let r = t
        .admin(Method::GET, &format!("/v1/keys?org=Acme&cursor={id}"), None)
        .await
        .expect(500);
    assert_eq!(r.problem(), "internal");
    t.drop_table("memberships").await;
    let r = t
        .send(
            t.request(Method::GET, "/v1/keys?org=Acme")
                .bearer_auth(&t.admin)
                .header("keyward-user", "nobody@acme.test"),
        )
        .await
        .expect(404);
    assert!(
        r.text.contains("Keyward-User"),
        "a missing person is still 404"
    );
    t.sabotage("INSERT INTO users (id, email, created_at) VALUES ('usr_0123456789abcdef', 'ada@acme.test', 0);").await;
    let r = t
        .send(
            t.request(Method::GET, "/v1/keys?org=Acme")
                .bearer_auth(&t.admin)
                .header("keyward-user", "ada@acme.test"),
        )
        .await
        .expect(500);
    assert!(
        !r.text.contains("memberships"),
        "no internals in the answer: {}",
        r.text
    );
    let logs = logs();
    // Each backend's own words for a missing table.
    let lines = |table: &str| {
        logs.lines()
            .filter(|l| {
                l.contains(&format!("no such table: {table}"))
                    || (l.contains(&format!("relation \\\"{table}\\\" does not exist"))
                        || l.contains(&format!("relation \"{table}\" does not exist")))
            })
            .count()
    };
    assert_eq!(lines("key_grants"), 1, "logged once");
    assert_eq!(lines("memberships"), 1, "logged once");
}
