//! The verify API: always 200 for a well-formed call, the outcome in the body.

use crate::helpers::{grant, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn verify(t: &TestApp, body: Value) -> Value {
    t.admin(Method::POST, "/v1/keys/verify", Some(body))
        .await
        .expect(200)
        .body
}

#[tokio::test]
async fn verify_answers_every_outcome_with_200() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (id, live) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    let (_, test) = t
        .key(
            &org,
            json!({ "kind": "test", "grants": [grant("*", "*", "manage")] }),
        )
        .await;
    let req = |key: &str, method: &str| json!({ "key": key, "project": "Website", "environment": "production", "method": method });

    let v = verify(&t, req(&live, "GET")).await;
    assert_eq!(
        (
            v["valid"].as_bool(),
            v["outcome"].as_str(),
            v["status"].as_u64()
        ),
        (Some(true), Some("valid"), Some(200))
    );
    assert_eq!(v["key"]["id"], id.as_str());
    assert_eq!(v["key"]["org_id"], org.as_str());

    let v = verify(&t, req(&live, "DELETE")).await;
    assert_eq!(
        (v["outcome"].as_str(), v["status"].as_u64()),
        (Some("insufficient_permission"), Some(403))
    );
    assert_eq!(v["required_permission"], "Website:production:manage");
    assert_eq!(
        v["detail"],
        "this key needs manage on project 'Website' (production); it has read"
    );

    assert_eq!(
        verify(&t, req(&test, "GET")).await["outcome"],
        "wrong_environment"
    );
    assert_eq!(verify(&t, req("", "GET")).await["outcome"], "missing");
    let v = verify(&t, req("kw_live_nope", "GET")).await;
    assert_eq!(
        (v["outcome"].as_str(), v["key"].is_null()),
        (Some("malformed"), true)
    );
    let other = keyward_core::GeneratedKey::generate(
        &keyward_core::Prefix::default(),
        keyward_core::Kind::Live,
        &mut rand_core::OsRng,
    );
    assert_eq!(
        verify(&t, req(other.secret.expose_secret(), "GET")).await["outcome"],
        "unknown"
    );
    let v = verify(
        &t,
        json!({ "key": live, "project": "Website", "environment": "production", "level": "write" }),
    )
    .await;
    assert_eq!(v["outcome"], "insufficient_permission");
    let v = verify(
        &t,
        json!({ "key": live, "project": "Nope", "environment": "production", "method": "GET" }),
    )
    .await;
    assert_eq!(v["outcome"], "insufficient_permission");
    // Organization access, with neither project nor environment.
    let v = verify(&t, json!({ "key": live, "method": "GET" })).await;
    assert_eq!(v["required_permission"], "org:read");
}

#[tokio::test]
async fn verify_refuses_calls_that_are_not_well_formed() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    for (body, status, field) in [
        (
            json!({ "key": "k", "project": "Website", "environment": "production" }),
            422,
            "method",
        ),
        (
            json!({ "key": "k", "project": "Website", "environment": "production", "method": "GET", "level": "read" }),
            422,
            "method",
        ),
        (
            json!({ "key": "k", "project": "Website", "method": "GET" }),
            422,
            "environment",
        ),
        (
            json!({ "key": "k", "project": "Website", "environment": "production", "method": "BREW" }),
            422,
            "method",
        ),
        (
            json!({ "key": "k", "project": "Website", "environment": "production", "method": "GET", "resource": "Forms!" }),
            422,
            "resource",
        ),
        (
            json!({ "project": "Website", "environment": "production", "method": "GET" }),
            400,
            "",
        ),
    ] {
        let r = t
            .admin(Method::POST, "/v1/keys/verify", Some(body.clone()))
            .await
            .expect(status);
        if !field.is_empty() {
            assert_eq!(r.body["field"], field, "{body}");
        }
    }
    let r = t
        .send(
            t.request(Method::POST, "/v1/keys/verify")
                .json(&json!({ "key": "k", "method": "GET" })),
        )
        .await
        .expect(401);
    assert_eq!(r.problem(), "missing");
}
