//! Tenants never see each other: a key of organization A gets 404, never 403, for
//! anything of organization B, so it cannot even learn that it exists.

use crate::helpers::{grant, TestApp};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_key_of_one_organization_finds_nothing_of_another() {
    let t = TestApp::spawn().await;
    let a = t.org("Alpha").await;
    let b = t.org("Beta").await;
    let (_, key_a) = t
        .key(
            &a,
            json!({ "grants": [grant("*", "*", "manage")], "org_access": "manage" }),
        )
        .await;
    let (id_b, _) = t.key(&b, json!({ "org_access": "read" })).await;

    for (method, path) in [
        (Method::GET, format!("/v1/orgs/{b}")),
        (Method::GET, "/v1/orgs/Beta".to_owned()),
        (Method::GET, "/v1/orgs/Beta/projects".to_owned()),
        (Method::GET, "/v1/orgs/Beta/projects/Website".to_owned()),
        (
            Method::GET,
            "/v1/orgs/Beta/projects/Website/environments".to_owned(),
        ),
        (Method::GET, format!("/v1/keys/{id_b}")),
        (Method::PATCH, format!("/v1/keys/{id_b}")),
        (Method::POST, format!("/v1/keys/{id_b}/revoke")),
        (Method::POST, format!("/v1/keys/{id_b}/reactivate")),
        (Method::POST, format!("/v1/keys/{id_b}/rotate")),
        (Method::DELETE, format!("/v1/keys/{id_b}")),
        (Method::GET, "/v1/keys?org=Beta".to_owned()),
        (Method::GET, format!("/v1/audit-events?org={b}")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({ "name": "mine now" }));
        let r = t
            .call(method.clone(), &path, &key_a, body)
            .await
            .expect(404);
        assert_eq!(r.problem(), "not-found", "{method} {path}");
    }
    let r = t
        .call(
            Method::POST,
            "/v1/keys",
            &key_a,
            Some(json!({ "org": "Beta", "name": "x", "org_access": "read" })),
        )
        .await
        .expect(404);
    assert_eq!(r.problem(), "not-found");
    let r = t
        .call(
            Method::POST,
            "/v1/orgs/Beta/projects",
            &key_a,
            Some(json!({ "name": "X" })),
        )
        .await
        .expect(404);
    assert_eq!(r.problem(), "not-found");

    // What it can list is its own organization's only.
    let orgs = t
        .call(Method::GET, "/v1/orgs", &key_a, None)
        .await
        .expect(200);
    assert_eq!(orgs.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(orgs.body["data"][0]["id"], a.as_str());
    let events = t
        .call(Method::GET, "/v1/audit-events?limit=100", &key_a, None)
        .await
        .expect(200);
    for e in events.body["data"].as_array().unwrap() {
        assert_eq!(e["org_id"], a.as_str());
    }
    let keys = t
        .call(Method::GET, "/v1/keys", &key_a, None)
        .await
        .expect(200);
    for k in keys.body["data"].as_array().unwrap() {
        assert_eq!(k["org_id"], a.as_str());
    }
    // Beta's key is untouched.
    let still = t
        .admin(Method::GET, &format!("/v1/keys/{id_b}"), None)
        .await
        .expect(200);
    assert_eq!(
        (still.body["status"].as_str(), still.body["name"].as_str()),
        (Some("active"), Some("test key"))
    );
}

#[tokio::test]
async fn a_key_can_never_be_checked_against_another_organizations_project() {
    let t = TestApp::spawn().await;
    let a = t.org("Alpha").await;
    t.org("Beta").await;
    let (_, key_a) = t
        .key(&a, json!({ "grants": [grant("*", "*", "manage")] }))
        .await;
    let beta_project = t
        .admin(Method::GET, "/v1/orgs/Beta/projects/Website", None)
        .await
        .expect(200);
    let project_id = beta_project.body["id"].as_str().unwrap();
    let v = t
        .admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": key_a, "project": project_id, "environment": "production", "method": "GET" })))
        .await
        .expect(200);
    assert_eq!(v.body["outcome"], "insufficient_permission");
    let r = t.admin(Method::POST, "/v1/keys", Some(json!({ "org": "Alpha", "name": "x", "grants": [grant(project_id, "production", "read")] }))).await.expect(404);
    assert_eq!(r.problem(), "not-found");
}

#[tokio::test]
async fn the_audit_log_filters_by_key_actor_action_and_time() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (id, _) = t.key(&org, json!({ "org_access": "read" })).await;
    t.admin(Method::POST, &format!("/v1/keys/{id}/revoke"), None)
        .await
        .expect(200);
    let by_key = t
        .admin(Method::GET, &format!("/v1/audit-events?key_id={id}"), None)
        .await
        .expect(200);
    let actions: Vec<&str> = by_key.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["key.revoked", "key.created"]);
    let actor = by_key.body["data"][0]["actor"].as_str().unwrap().to_owned();
    assert!(actor.starts_with("token:"));
    let r = t
        .admin(
            Method::GET,
            &format!("/v1/audit-events?actor={actor}&action=key.revoked"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    // A bare duration counts back from now: `since=1h` is the last hour.
    t.clock.advance(time::Duration::hours(2));
    let count = |r: &crate::helpers::Reply| r.body["data"].as_array().unwrap().len();
    // Four events of Acme, and the test's admin token in the operator's stream.
    for (query, expected) in [
        ("since=1h", 0),
        ("since=3h", 5),
        ("since=3h%20ago", 5),
        ("until=1h", 5),
        ("until=3h", 0),
        ("since=2099-01-01", 0),
    ] {
        let r = t
            .admin(Method::GET, &format!("/v1/audit-events?{query}"), None)
            .await
            .expect(200);
        assert_eq!(count(&r), expected, "{query}");
    }
    let r = t
        .admin(Method::GET, "/v1/audit-events?since=1d&limit=1", None)
        .await
        .expect(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = t
        .admin(
            Method::GET,
            &format!("/v1/audit-events?cursor={cursor}&limit=100"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        r.body["data"].as_array().unwrap().len(),
        4,
        "org, project, key creation, and the admin token"
    );
    let r = t
        .admin(Method::GET, "/v1/audit-events?action=key.exploded", None)
        .await
        .expect(422);
    assert!(r.body["detail"].as_str().unwrap().contains("key.revoked"));
    t.admin(Method::GET, "/v1/audit-events?key_id=short", None)
        .await
        .expect(422);
    t.admin(Method::GET, "/v1/audit-events?cursor=abc", None)
        .await
        .expect(422);
}
