//! The key lifecycle over HTTP: every endpoint's success path and its 4xx answers.

use crate::helpers::{grant, TestApp};
use reqwest::Method;
use serde_json::json;
use time::Duration;

#[tokio::test]
async fn create_returns_the_key_once_with_its_location() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let r = t
        .admin(Method::POST, "/v1/keys", Some(json!({
            "org": "Acme", "name": "GitHub", "description": "CI", "kind": "test",
            "grants": [grant("Website", "preview", "write")], "org_access": "read", "expires_at": "30d"
        })))
        .await
        .expect(201);
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/keys/{id}").as_str())
    );
    assert!(r.body["key"]
        .as_str()
        .unwrap()
        .starts_with(&format!("kw_test_{id}_")));
    assert_eq!(r.body["grants"][0]["project"], "Website");
    assert_eq!(r.body["org_access"], "read");
    assert!(r.body["expires_at"].is_string());
    let shown = t
        .admin(Method::GET, &format!("/v1/keys/{id}"), None)
        .await
        .expect(200);
    assert!(shown.body.get("key").is_none());
    assert_eq!(shown.body["name"], "GitHub");
    assert_eq!(shown.body["description"], "CI");
}

#[tokio::test]
async fn create_refuses_bad_input_with_the_field_to_fix() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let cases = [
        (
            json!({ "org": "Acme", "name": "", "org_access": "read" }),
            422,
            "name",
        ),
        (
            json!({ "org": "Acme", "name": "x".repeat(101), "org_access": "read" }),
            422,
            "name",
        ),
        (json!({ "org": "Acme", "name": "x" }), 422, "grants"),
        (
            json!({ "org": "Acme", "name": "x", "grants": [grant("Nope", "production", "read")] }),
            404,
            "",
        ),
        (
            json!({ "org": "Acme", "name": "x", "grants": [grant("Website", "staging", "read")] }),
            422,
            "grants",
        ),
        (
            json!({ "org": "Acme", "name": "x", "grants": [grant("Website", "Prod uction", "read")] }),
            422,
            "grants",
        ),
        (
            json!({ "org": "Acme", "name": "x", "org_access": "read", "expires_at": "2001-01-01" }),
            422,
            "expires_at",
        ),
        (
            json!({ "org": "Acme", "name": "x", "org_access": "read", "expires_at": "3000-01-01" }),
            422,
            "expires_at",
        ),
        (
            json!({ "org": "Acme", "name": "x", "org_access": "read", "expires_at": "soon" }),
            422,
            "expires_at",
        ),
        (json!({ "name": "x", "org_access": "read" }), 422, "org"),
        (
            json!({ "org": "Nope", "name": "x", "org_access": "read" }),
            404,
            "",
        ),
        (
            json!({ "org": "Acme", "name": "x", "grants": [{ "project": "*", "environment": "*", "level": "admin" }] }),
            400,
            "",
        ),
        (
            json!({ "org": "Acme", "name": "x", "org_access": "everything" }),
            400,
            "",
        ),
    ];
    for (body, status, field) in cases {
        let r = t
            .admin(Method::POST, "/v1/keys", Some(body.clone()))
            .await
            .expect(status);
        if !field.is_empty() {
            assert_eq!(r.body["field"], field, "{body}: {}", r.text);
        }
    }
    let list = t
        .admin(Method::GET, "/v1/keys?org=Acme", None)
        .await
        .expect(200);
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        0,
        "nothing was half-written"
    );
}

/// A grant that names an environment no project has with the key's kind could never
/// work, whatever its project, so it is refused when given, not discovered later.
#[tokio::test]
async fn grants_that_could_never_work_are_refused_also_for_every_project() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let create = |kind: &str, g: serde_json::Value| {
        t.admin(
            Method::POST,
            "/v1/keys",
            Some(json!({ "org": "Acme", "name": "k", "kind": kind, "grants": [g] })),
        )
    };
    let r = create("live", grant("*", "preview", "write"))
        .await
        .expect(422);
    assert_eq!(r.body["field"], "grants");
    assert!(
        r.text.contains(
            "every environment named 'preview' in this organization is a test environment"
        ),
        "{}",
        r.text
    );
    let r = create("live", grant("*", "staging", "read"))
        .await
        .expect(422);
    assert!(
        r.text
            .contains("no project of this organization has an environment 'staging'"),
        "{}",
        r.text
    );
    let r = create("live", grant("Website", "preview", "read"))
        .await
        .expect(422);
    assert!(r.text.contains("is a test environment"), "{}", r.text);
    create("test", grant("*", "preview", "write"))
        .await
        .expect(201);
    create("live", grant("*", "production", "read"))
        .await
        .expect(201);
    create("live", grant("website", "*", "read"))
        .await
        .expect(201);
    let r = create("live", grant("Nope", "*", "read")).await.expect(404);
    assert!(r.text.contains("project 'Nope' not found"), "{}", r.text);
}

#[tokio::test]
async fn lists_page_with_a_cursor_and_filter_by_status_and_kind() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let kind = if i % 2 == 0 { "live" } else { "test" };
        let (id, _) = t
            .key(&org, json!({ "kind": kind, "org_access": "read" }))
            .await;
        ids.push(id);
        t.clock.advance(Duration::SECOND);
    }
    t.admin(Method::POST, &format!("/v1/keys/{}/revoke", ids[0]), None)
        .await
        .expect(200);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/keys?org=Acme&limit=2&cursor={c}"),
            None => "/v1/keys?org=Acme&limit=2".into(),
        };
        let page = t.admin(Method::GET, &path, None).await.expect(200);
        seen.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    let revoked = t
        .admin(Method::GET, "/v1/keys?org=Acme&status=revoked", None)
        .await
        .expect(200);
    assert_eq!(revoked.body["data"].as_array().unwrap().len(), 1);
    let tests = t
        .admin(Method::GET, &format!("/v1/keys?org={org}&kind=test"), None)
        .await
        .expect(200);
    assert_eq!(tests.body["data"].as_array().unwrap().len(), 2);
    t.admin(Method::GET, "/v1/keys?org=Acme&status=gone", None)
        .await
        .expect(400);
    t.admin(
        Method::GET,
        "/v1/keys?org=Acme&cursor=0000000000000000",
        None,
    )
    .await
    .expect(422);
}

#[tokio::test]
async fn patch_changes_fields_and_null_clears_them() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (id, key) = t.key(&org, json!({ "description": "old", "expires_at": "10d", "grants": [grant("Website", "production", "read")] })).await;
    let path = format!("/v1/keys/{id}");
    let r = t
        .admin(Method::PATCH, &path, Some(json!({ "name": "renamed", "description": null, "expires_at": null, "grants": [grant("Website", "production", "write")] })))
        .await
        .expect(200);
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["description"], serde_json::Value::Null);
    assert_eq!(r.body["expires_at"], serde_json::Value::Null);
    assert_eq!(r.body["grants"][0]["level"], "write");
    let v = t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": key, "project": "Website", "environment": "production", "method": "POST" }))).await.expect(200);
    assert_eq!(v.body["outcome"], "valid");
    // Leaving a field out keeps it.
    let r = t
        .admin(Method::PATCH, &path, Some(json!({ "description": "new" })))
        .await
        .expect(200);
    assert_eq!(r.body["name"], "renamed");
    t.admin(Method::PATCH, &path, Some(json!({ "name": "" })))
        .await
        .expect(422);
    t.admin(Method::PATCH, &path, Some(json!({ "grants": [] })))
        .await
        .expect(422);
    t.admin(
        Method::PATCH,
        &path,
        Some(json!({ "expires_at": "2000-01-01" })),
    )
    .await
    .expect(422);
    t.admin(
        Method::PATCH,
        "/v1/keys/0000000000000000",
        Some(json!({ "name": "x" })),
    )
    .await
    .expect(404);
    let history = t
        .admin(
            Method::GET,
            &format!("/v1/audit-events?key_id={id}&action=key.updated"),
            None,
        )
        .await
        .expect(200);
    let first = &history.body["data"].as_array().unwrap().last().unwrap()["details"];
    assert_eq!(first["before"]["name"], "test key");
    assert_eq!(first["after"]["name"], "renamed");
}

#[tokio::test]
async fn revoke_reactivate_rotate_and_delete_follow_the_lifecycle() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (id, key) = t
        .key(&org, json!({ "grants": [grant("*", "*", "read")] }))
        .await;
    let verify = |key: String| {
        let t = &t;
        async move {
            t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": key, "project": "Website", "environment": "production", "method": "GET" })))
                .await
                .expect(200)
                .body["outcome"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let p = |action: &str| format!("/v1/keys/{id}/{action}");
    t.admin(Method::POST, &p("reactivate"), None)
        .await
        .expect(409);
    t.admin(Method::POST, &p("revoke"), None).await.expect(200);
    assert_eq!(verify(key.clone()).await, "revoked");
    t.admin(Method::POST, &p("revoke"), None).await.expect(409);
    t.admin(Method::POST, &p("rotate"), None).await.expect(409);
    t.admin(Method::POST, &p("reactivate"), None)
        .await
        .expect(200);
    assert_eq!(verify(key.clone()).await, "valid");

    t.admin(
        Method::POST,
        &p("rotate"),
        Some(json!({ "grace_period": "8d" })),
    )
    .await
    .expect(422);
    t.admin(Method::POST, &p("rotate"), Some(json!({ "grace": "1h" })))
        .await
        .expect(400);
    let r = t
        .admin(
            Method::POST,
            &p("rotate"),
            Some(json!({ "grace_period": "1h" })),
        )
        .await
        .expect(201);
    let new_id = r.body["new"]["id"].as_str().unwrap().to_owned();
    let new_key = r.body["new"]["key"].as_str().unwrap().to_owned();
    assert_eq!(r.body["old"]["rotated_to"], new_id.as_str());
    assert_eq!(r.body["new"]["rotated_from"], id.as_str());
    assert_eq!(verify(key.clone()).await, "valid");
    t.clock.advance(Duration::hours(1));
    assert_eq!(verify(key.clone()).await, "expired");
    assert_eq!(verify(new_key.clone()).await, "valid");
    t.admin(Method::POST, &p("rotate"), None).await.expect(409);

    // A rotation with no body uses the default grace period of 24 hours.
    let r = t
        .admin(Method::POST, &format!("/v1/keys/{new_id}/rotate"), None)
        .await
        .expect(201);
    let old_expiry = r.body["old"]["expires_at"].as_str().unwrap().to_owned();
    let expected = keyward_core::timestamp::format(t.app.now() + Duration::hours(24));
    assert_eq!(old_expiry, expected);

    t.admin(Method::DELETE, &format!("/v1/keys/{new_id}"), None)
        .await
        .expect(200);
    assert_eq!(verify(new_key.clone()).await, "revoked");
    // A deleted key's 401 says it is gone for good, not to ask for a reactivation.
    let r = t
        .call(Method::GET, "/v1/me", &new_key, None)
        .await
        .expect(401);
    assert_eq!(r.body["outcome"], "revoked");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("deleted") && detail.contains("cannot be reactivated"),
        "{detail}"
    );
    t.admin(Method::DELETE, &format!("/v1/keys/{new_id}"), None)
        .await
        .expect(409);
    t.admin(Method::POST, &format!("/v1/keys/{new_id}/reactivate"), None)
        .await
        .expect(409);
    let gone = t
        .admin(Method::GET, &format!("/v1/keys/{new_id}"), None)
        .await
        .expect(200);
    assert_eq!(gone.body["status"], "deleted");
}

#[tokio::test]
async fn a_key_with_organization_access_manages_keys_within_its_own_power() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, writer) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")], "org_access": "write" }),
        )
        .await;
    let (_, reader) = t.key(&org, json!({ "org_access": "read" })).await;
    let (_, project_only) = t
        .key(&org, json!({ "grants": [grant("*", "*", "manage")] }))
        .await;

    // Within its power: created, in its own organization without naming it.
    let ok = t
        .call(Method::POST, "/v1/keys", &writer, Some(json!({ "name": "child", "grants": [grant("Website", "production", "read")], "org_access": "read" })))
        .await
        .expect(201);
    let child = ok.body["id"].as_str().unwrap().to_owned();
    assert!(ok.body["created_by"].as_str().unwrap().starts_with("key:"));
    // Beyond it: refused, naming what is lacking.
    for body in [
        json!({ "name": "x", "grants": [grant("Website", "production", "write")] }),
        json!({ "name": "x", "grants": [grant("*", "production", "read")] }),
        json!({ "name": "x", "org_access": "manage" }),
        json!({ "name": "x", "kind": "test", "org_access": "read" }),
    ] {
        let r = t
            .call(Method::POST, "/v1/keys", &writer, Some(body.clone()))
            .await
            .expect(403);
        assert_eq!(r.problem(), "forbidden", "{body}");
        assert_eq!(
            r.header("www-authenticate")
                .map(|h| h.contains("insufficient_scope")),
            Some(true)
        );
    }
    // Read access lists but cannot change; no organization access cannot even list.
    t.call(Method::GET, "/v1/keys", &reader, None)
        .await
        .expect(200);
    let r = t
        .call(
            Method::POST,
            &format!("/v1/keys/{child}/revoke"),
            &reader,
            None,
        )
        .await
        .expect(403);
    assert_eq!(r.body["required_permission"], "org:write");
    let r = t
        .call(Method::GET, "/v1/keys", &project_only, None)
        .await
        .expect(403);
    assert_eq!(r.body["required_permission"], "org:read");
    // Write cannot delete (manage), and nobody can rotate a key more powerful than itself.
    t.call(Method::DELETE, &format!("/v1/keys/{child}"), &writer, None)
        .await
        .expect(403);
    let (strong, _) = t
        .key(&org, json!({ "grants": [grant("*", "*", "manage")] }))
        .await;
    t.call(
        Method::POST,
        &format!("/v1/keys/{strong}/rotate"),
        &writer,
        None,
    )
    .await
    .expect(403);
    t.call(
        Method::PATCH,
        &format!("/v1/keys/{child}"),
        &writer,
        Some(json!({ "org_access": "manage" })),
    )
    .await
    .expect(403);
    t.call(
        Method::POST,
        &format!("/v1/keys/{child}/rotate"),
        &writer,
        None,
    )
    .await
    .expect(201);
    // Organizations are the operator's.
    t.call(
        Method::POST,
        "/v1/orgs",
        &writer,
        Some(json!({ "name": "Mine" })),
    )
    .await
    .expect(403);
}
