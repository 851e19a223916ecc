//! Usage over HTTP: a key's checks per day and outcome, and an organization's, read by
//! whoever may read the organization's keys and by nobody else; ranges checked, each
//! refusal naming its field; "last used" and its address in every key view.

use crate::helpers::{grant, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn verify(t: &TestApp, key: &str, environment: &str) {
    t.admin(
        Method::POST,
        "/v1/keys/verify",
        Some(json!({ "key": key, "project": "Website", "environment": environment, "method": "GET" })),
    )
    .await
    .expect(200);
}

fn today(t: &TestApp) -> String {
    keyward_core::timestamp::format_day(t.app.now().date())
}

/// Every check of a key is counted by outcome, once written (every few seconds);
/// the operator, a key that may read the organization's keys and a member read it;
/// a key without that access is refused, and another organization learns nothing.
#[tokio::test]
async fn usage_is_read_by_whoever_may_read_the_keys_and_nobody_else() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    t.org("Beta").await;
    let (id, key) = t
        .key(
            "Acme",
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    let (_, reader) = t.key("Acme", json!({ "org_access": "read" })).await;
    let (_, blind) = t
        .key(
            "Acme",
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    let (_, stranger) = t.key("Beta", json!({ "org_access": "manage" })).await;
    for _ in 0..3 {
        verify(&t, &key, "production").await;
    }
    verify(&t, &key, "preview").await;

    let path = format!("/v1/keys/{id}/usage");
    let r = t.admin(Method::GET, &path, None).await.expect(200);
    assert_eq!(r.body["total"], 0, "not written yet: {}", r.text);
    t.app.flush_usage().await.unwrap();

    let r = t.admin(Method::GET, &path, None).await.expect(200);
    assert_eq!(r.body["key_id"], id.as_str());
    assert_eq!(r.body["total"], 4);
    assert_eq!(
        r.body["outcomes"],
        json!({ "valid": 3, "wrong_environment": 1 })
    );
    let days = r.body["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the last 30 days by default");
    assert_eq!(days[29]["day"], today(&t).as_str());
    assert_eq!(days[29]["total"], 4);
    assert_eq!(days[0]["total"], 0);
    assert_eq!(days[0]["outcomes"], json!({}));

    let as_reader = t.call(Method::GET, &path, &reader, None).await.expect(200);
    assert_eq!(as_reader.body["total"], 4);
    let r = t.call(Method::GET, &path, &blind, None).await.expect(403);
    assert_eq!(r.body["required_permission"], "org:read");
    t.call(Method::GET, &path, &stranger, None)
        .await
        .expect(404);
    t.call(Method::GET, "/v1/orgs/Acme/usage", &stranger, None)
        .await
        .expect(404);
    t.call(Method::GET, "/v1/orgs/Acme/usage", &blind, None)
        .await
        .expect(403);

    let org = t
        .call(Method::GET, "/v1/orgs/Acme/usage", &reader, None)
        .await
        .expect(200);
    let keys = org.body["keys"].as_array().unwrap();
    let ours = keys.iter().find(|k| k["key_id"] == id.as_str()).unwrap();
    assert_eq!(ours["total"], 4);
    assert_eq!(
        ours["outcomes"],
        json!({ "valid": 3, "wrong_environment": 1 })
    );
    assert_eq!(
        org.body["days"][29]["outcomes"]["wrong_environment"], 1,
        "{}",
        org.text
    );
    let beta = t
        .call(Method::GET, "/v1/orgs/Beta/usage", &stranger, None)
        .await
        .expect(200);
    assert!(
        beta.body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["key_id"] != id.as_str()),
        "{}",
        beta.text
    );

    // People, through the operator's dashboard: a member reads, a stranger does not.
    t.admin(
        Method::POST,
        "/v1/users",
        Some(json!({ "email": "cyd@acme.test" })),
    )
    .await
    .expect(201);
    t.admin(
        Method::POST,
        "/v1/users",
        Some(json!({ "email": "dan@beta.test" })),
    )
    .await
    .expect(201);
    t.admin(
        Method::PUT,
        "/v1/orgs/Acme/members/cyd@acme.test",
        Some(json!({ "role": "member", "projects": [] })),
    )
    .await
    .expect(200);
    let as_user = |who: &'static str, path: String| {
        let b = t
            .request(Method::GET, &path)
            .bearer_auth(&t.admin)
            .header("keyward-user", who);
        t.send(b)
    };
    let r = as_user("cyd@acme.test", path.clone()).await.expect(200);
    assert_eq!(r.body["total"], 4);
    as_user("dan@beta.test", path.clone()).await.expect(404);
    as_user("dan@beta.test", "/v1/orgs/Acme/usage".into())
        .await
        .expect(404);
}

/// A range is UTC days, `from` not after `to`, at most 366 of them; anything else is
/// refused with a problem naming the field to fix.
#[tokio::test]
async fn usage_ranges_are_days_in_order_and_bounded() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let (id, _) = t.key("Acme", json!({ "org_access": "read" })).await;
    let t = &t;
    let get = |query: &str| {
        let path = format!("/v1/keys/{id}/usage?{query}");
        async move { t.admin(Method::GET, &path, None).await }
    };
    let day = |r: &crate::helpers::Reply| {
        (
            r.body["from"].as_str().unwrap().to_owned(),
            r.body["to"].as_str().unwrap().to_owned(),
            r.body["days"].as_array().unwrap().len(),
        )
    };
    let r = get("from=2024-01-01&to=2024-12-31").await.expect(200);
    assert_eq!(day(&r), ("2024-01-01".into(), "2024-12-31".into(), 366));
    let r = get(&format!("from={}", today(t))).await.expect(200);
    assert_eq!(day(&r).2, 1);
    let r = get("to=2027-01-31").await.expect(200);
    assert_eq!(day(&r), ("2027-01-02".into(), "2027-01-31".into(), 30));

    for (query, field) in [
        ("from=2024-01-01&to=2025-01-01", "from"),
        ("from=2027-02-01&to=2027-01-31", "from"),
        ("from=2027-1-1", "from"),
        ("to=tomorrow", "to"),
        ("to=2027-02-30", "to"),
    ] {
        let r = get(query).await.expect(422);
        assert_eq!(r.body["field"], field, "{query}: {}", r.text);
    }
    let r = get("since=2027-01-01").await.expect(400);
    assert!(r.text.contains("since"), "{}", r.text);
}

/// Every key view says when the key was last used and from which address.
#[tokio::test]
async fn key_views_show_the_last_use_and_its_address() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let (id, key) = t.key("Acme", json!({ "org_access": "read" })).await;
    let r = t
        .admin(Method::GET, &format!("/v1/keys/{id}"), None)
        .await
        .expect(200);
    assert_eq!(
        (&r.body["last_used_at"], &r.body["last_used_ip"]),
        (&Value::Null, &Value::Null)
    );
    t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
    t.app.flush_usage().await.unwrap();
    for path in [format!("/v1/keys/{id}"), "/v1/keys?org=Acme".into()] {
        let r = t.admin(Method::GET, &path, None).await.expect(200);
        let view = if r.body["data"].is_array() {
            r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["id"] == id.as_str())
                .unwrap()
                .clone()
        } else {
            r.body.clone()
        };
        assert!(view["last_used_at"].is_string(), "{path}: {view}");
        assert_eq!(view["last_used_ip"], "127.0.0.1", "{path}: {view}");
    }
}
