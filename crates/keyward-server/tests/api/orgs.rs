//! Organizations, projects and environments over HTTP.

use crate::helpers::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn organizations_are_created_listed_and_found_by_id_or_name() {
    let t = TestApp::spawn().await;
    let r = t
        .admin(
            Method::POST,
            "/v1/orgs",
            Some(json!({ "name": "Acme", "plan": "starter" })),
        )
        .await
        .expect(201);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["plan"], "starter");
    t.admin(Method::POST, "/v1/orgs", Some(json!({ "name": "ACME" })))
        .await
        .expect(409);
    let r = t
        .admin(Method::POST, "/v1/orgs", Some(json!({ "name": " " })))
        .await
        .expect(422);
    assert_eq!(r.body["field"], "name");
    t.admin(
        Method::POST,
        "/v1/orgs",
        Some(json!({ "name": "B", "plan": "Gold Plan!" })),
    )
    .await
    .expect(422);
    for reference in [id.as_str(), "acme"] {
        let r = t
            .admin(Method::GET, &format!("/v1/orgs/{reference}"), None)
            .await
            .expect(200);
        assert_eq!(r.body["id"], id.as_str());
    }
    t.admin(Method::GET, "/v1/orgs/nope", None)
        .await
        .expect(404);
    let list = t.admin(Method::GET, "/v1/orgs", None).await.expect(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn projects_start_with_production_and_preview_and_take_more_environments() {
    let t = TestApp::spawn().await;
    t.admin(Method::POST, "/v1/orgs", Some(json!({ "name": "Acme" })))
        .await
        .expect(201);
    let r = t
        .admin(
            Method::POST,
            "/v1/orgs/Acme/projects",
            Some(json!({ "name": "Website" })),
        )
        .await
        .expect(201);
    let envs: Vec<(String, String)> = r.body["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        envs.contains(&("production".into(), "live".into()))
            && envs.contains(&("preview".into(), "test".into()))
    );
    t.admin(
        Method::POST,
        "/v1/orgs/Acme/projects",
        Some(json!({ "name": "website" })),
    )
    .await
    .expect(409);
    t.admin(
        Method::POST,
        "/v1/orgs/Acme/projects",
        Some(json!({ "name": "*" })),
    )
    .await
    .expect(422);
    t.admin(
        Method::POST,
        "/v1/orgs/Nope/projects",
        Some(json!({ "name": "X" })),
    )
    .await
    .expect(404);
    t.admin(Method::GET, "/v1/orgs/Acme/projects/Website", None)
        .await
        .expect(200);
    t.admin(Method::GET, "/v1/orgs/Acme/projects/Nope", None)
        .await
        .expect(404);
    let list = t
        .admin(Method::GET, "/v1/orgs/Acme/projects", None)
        .await
        .expect(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);

    let path = "/v1/orgs/Acme/projects/Website/environments";
    let r = t
        .admin(
            Method::POST,
            path,
            Some(json!({ "name": "staging", "kind": "test" })),
        )
        .await
        .expect(201);
    assert_eq!(r.body["kind"], "test");
    t.admin(
        Method::POST,
        path,
        Some(json!({ "name": "staging", "kind": "test" })),
    )
    .await
    .expect(409);
    let r = t
        .admin(
            Method::POST,
            path,
            Some(json!({ "name": "Staging EU", "kind": "test" })),
        )
        .await
        .expect(422);
    assert_eq!(r.body["field"], "name");
    t.admin(
        Method::POST,
        path,
        Some(json!({ "name": "qa", "kind": "prod" })),
    )
    .await
    .expect(400);
    let list = t.admin(Method::GET, path, None).await.expect(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 3);

    // A test key granted the new environment works there.
    let (_, key) = t.key("Acme", json!({ "kind": "test", "grants": [{ "project": "Website", "environment": "staging", "level": "read" }] })).await;
    let v = t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": key, "project": "Website", "environment": "staging", "method": "GET" }))).await.expect(200);
    assert_eq!(v.body["outcome"], "valid");
}

#[tokio::test]
async fn keys_read_projects_with_organization_access_only() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, reader) = t.key(&org, json!({ "org_access": "read" })).await;
    let (_, none) = t
        .key(
            &org,
            json!({ "grants": [{ "project": "*", "environment": "*", "level": "manage" }] }),
        )
        .await;
    t.call(Method::GET, "/v1/orgs/Acme/projects", &reader, None)
        .await
        .expect(200);
    t.call(
        Method::POST,
        "/v1/orgs/Acme/projects",
        &reader,
        Some(json!({ "name": "New" })),
    )
    .await
    .expect(403);
    let r = t
        .call(Method::GET, "/v1/orgs/Acme/projects", &none, None)
        .await
        .expect(403);
    assert_eq!(r.body["required_permission"], "org:read");
}
