//! The permission model over HTTP: people and their roles, user-bound keys that follow
//! their creator's access, scopes, and no escalation by anyone through anything.

use crate::helpers::{grant, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Acts as a person through the operator's token, as the operator's dashboard would.
async fn as_user(
    t: &TestApp,
    user: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> crate::helpers::Reply {
    let mut b = t
        .request(method, path)
        .bearer_auth(&t.admin)
        .header("keyward-user", user);
    if let Some(body) = body {
        b = b.json(&body);
    }
    t.send(b).await
}

async fn user(t: &TestApp, email: &str) {
    t.admin(Method::POST, "/v1/users", Some(json!({ "email": email })))
        .await
        .expect(201);
}

async fn member(
    t: &TestApp,
    org: &str,
    email: &str,
    role: &str,
    projects: Value,
) -> crate::helpers::Reply {
    t.admin(
        Method::PUT,
        &format!("/v1/orgs/{org}/members/{email}"),
        Some(json!({ "role": role, "projects": projects })),
    )
    .await
}

async fn verify(t: &TestApp, key: &str, method: &str) -> Value {
    t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": key, "project": "Website", "environment": "production", "method": method })))
        .await
        .expect(200)
        .body
}

/// A small organization: Ada owns it, Bob administers it, Cyd is a member who may
/// write on Website, and Dan belongs to nothing.
async fn team(t: &TestApp) {
    t.org("Acme").await;
    for who in [
        "ada@acme.test",
        "bob@acme.test",
        "cyd@acme.test",
        "dan@acme.test",
    ] {
        user(t, who).await;
    }
    member(t, "Acme", "ada@acme.test", "owner", json!([]))
        .await
        .expect(200);
    member(t, "Acme", "bob@acme.test", "admin", json!([]))
        .await
        .expect(200);
    member(
        t,
        "Acme",
        "cyd@acme.test",
        "member",
        json!([{ "project": "Website", "level": "write" }]),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn only_owners_and_admins_create_keys_and_only_owners_touch_owners() {
    let t = TestApp::spawn().await;
    team(&t).await;
    let key = json!({ "name": "k", "grants": [grant("Website", "production", "read")] });
    let r = as_user(
        &t,
        "cyd@acme.test",
        Method::POST,
        "/v1/keys",
        Some(key.clone()),
    )
    .await
    .expect(403);
    assert_eq!(r.body["required_permission"], "org:write");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("you are a member"),
        "{}",
        r.text
    );
    let r = as_user(
        &t,
        "dan@acme.test",
        Method::POST,
        "/v1/keys",
        Some(json!({ "org": "Acme", "name": "k", "org_access": "read" })),
    )
    .await
    .expect(404);
    assert_eq!(
        r.problem(),
        "not-found",
        "a stranger cannot even see the organization"
    );
    let r = as_user(&t, "bob@acme.test", Method::POST, "/v1/keys", Some(key))
        .await
        .expect(201);
    assert!(
        r.body["owner"].as_str().unwrap().starts_with("usr_"),
        "a person's key is bound to them"
    );
    // Members read organization resources but change nothing.
    as_user(&t, "cyd@acme.test", Method::GET, "/v1/keys", None)
        .await
        .expect(200);
    as_user(
        &t,
        "cyd@acme.test",
        Method::GET,
        "/v1/orgs/Acme/members",
        None,
    )
    .await
    .expect(200);
    as_user(
        &t,
        "cyd@acme.test",
        Method::PUT,
        "/v1/orgs/Acme/members/dan@acme.test",
        Some(json!({ "role": "member" })),
    )
    .await
    .expect(403);

    // Admins manage members but not owners. (Dan joins first: only the operator adds
    // someone directly; anyone else invites.)
    member(&t, "Acme", "dan@acme.test", "member", json!([]))
        .await
        .expect(200);
    as_user(
        &t,
        "bob@acme.test",
        Method::PUT,
        "/v1/orgs/Acme/members/dan@acme.test",
        Some(json!({ "role": "member" })),
    )
    .await
    .expect(200);
    let r = as_user(
        &t,
        "bob@acme.test",
        Method::PUT,
        "/v1/orgs/Acme/members/dan@acme.test",
        Some(json!({ "role": "owner" })),
    )
    .await
    .expect(403);
    assert!(r.body["detail"].as_str().unwrap().contains("only owners"));
    as_user(
        &t,
        "bob@acme.test",
        Method::DELETE,
        "/v1/orgs/Acme/members/ada@acme.test",
        None,
    )
    .await
    .expect(403);
    // The last owner stays.
    let r = as_user(
        &t,
        "ada@acme.test",
        Method::PUT,
        "/v1/orgs/Acme/members/ada@acme.test",
        Some(json!({ "role": "admin" })),
    )
    .await
    .expect(409);
    assert!(r.body["detail"].as_str().unwrap().contains("last owner"));
    as_user(
        &t,
        "ada@acme.test",
        Method::PUT,
        "/v1/orgs/Acme/members/bob@acme.test",
        Some(json!({ "role": "owner" })),
    )
    .await
    .expect(200);
    as_user(
        &t,
        "ada@acme.test",
        Method::DELETE,
        "/v1/orgs/Acme/members/ada@acme.test",
        None,
    )
    .await
    .expect(204);

    let members = t
        .admin(Method::GET, "/v1/orgs/Acme/members", None)
        .await
        .expect(200);
    let roles: Vec<(String, String)> = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["email"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        roles.contains(&("bob@acme.test".into(), "owner".into()))
            && !roles.iter().any(|(e, _)| e == "ada@acme.test")
    );
    let audit = t
        .admin(Method::GET, "/v1/audit-events?action=member.removed", None)
        .await
        .expect(200);
    assert_eq!(audit.body["data"].as_array().unwrap().len(), 1);
    // Bad input about people.
    t.admin(
        Method::POST,
        "/v1/users",
        Some(json!({ "email": "ADA@acme.test" })),
    )
    .await
    .expect(409);
    t.admin(
        Method::POST,
        "/v1/users",
        Some(json!({ "email": "not-an-address" })),
    )
    .await
    .expect(422);
    t.admin(
        Method::PUT,
        "/v1/orgs/Acme/members/nobody@acme.test",
        Some(json!({ "role": "member" })),
    )
    .await
    .expect(404);
    t.admin(
        Method::PUT,
        "/v1/orgs/Acme/members/dan@acme.test",
        Some(json!({ "role": "boss" })),
    )
    .await
    .expect(400);
    t.admin(
        Method::PUT,
        "/v1/orgs/Acme/members/dan@acme.test",
        Some(json!({ "role": "member", "projects": [{ "project": "Nope", "level": "read" }] })),
    )
    .await
    .expect(422);
    t.admin(Method::DELETE, "/v1/orgs/Acme/members/ada@acme.test", None)
        .await
        .expect(404);
}

#[tokio::test]
async fn a_user_bound_key_follows_its_creators_access_at_the_next_check() {
    let t = TestApp::spawn().await;
    team(&t).await;
    let body =
        json!({ "name": "mine", "grants": [grant("*", "*", "manage")], "org_access": "manage" });
    let bound = as_user(
        &t,
        "bob@acme.test",
        Method::POST,
        "/v1/keys",
        Some(body.clone()),
    )
    .await
    .expect(201);
    let bound_key = bound.body["key"].as_str().unwrap().to_owned();
    let mut service_body = body;
    service_body["service"] = true.into();
    let service = as_user(
        &t,
        "bob@acme.test",
        Method::POST,
        "/v1/keys",
        Some(service_body),
    )
    .await
    .expect(201);
    assert_eq!(service.body["owner"], Value::Null);
    let service_key = service.body["key"].as_str().unwrap().to_owned();
    assert_eq!(verify(&t, &bound_key, "DELETE").await["outcome"], "valid");

    // Bob becomes a member who may only read Website: his key follows at once.
    member(
        &t,
        "Acme",
        "bob@acme.test",
        "member",
        json!([{ "project": "Website", "level": "read" }]),
    )
    .await
    .expect(200);
    assert_eq!(verify(&t, &bound_key, "GET").await["outcome"], "valid");
    let v = verify(&t, &bound_key, "POST").await;
    assert_eq!(v["outcome"], "insufficient_permission");
    assert_eq!(v["detail"], "this key needs write on project 'Website' (production); it has read (a user-bound key never exceeds its creator's current access)");
    let r = t
        .call(
            Method::POST,
            "/v1/keys",
            &bound_key,
            Some(json!({ "name": "x", "org_access": "read" })),
        )
        .await
        .expect(403);
    assert_eq!(r.body["required_permission"], "org:write");
    // Removed from the organization: nothing left.
    t.admin(Method::DELETE, "/v1/orgs/Acme/members/bob@acme.test", None)
        .await
        .expect(204);
    assert_eq!(
        verify(&t, &bound_key, "GET").await["outcome"],
        "insufficient_permission"
    );
    t.call(Method::GET, "/v1/keys", &bound_key, None)
        .await
        .expect(403);
    // The service key Bob made is not bound to him.
    assert_eq!(verify(&t, &service_key, "DELETE").await["outcome"], "valid");
    // Back as admin, the key works again: access is read at every check, not copied.
    member(&t, "Acme", "bob@acme.test", "admin", json!([]))
        .await
        .expect(200);
    assert_eq!(verify(&t, &bound_key, "DELETE").await["outcome"], "valid");
}

/// "Test API Key" shows what a user-bound key can do now, not what it was given: its
/// grants lowered to its creator's current access, and what the creator withholds.
#[tokio::test]
async fn me_shows_what_a_user_bound_key_can_do_now_and_what_its_creator_withholds() {
    let t = TestApp::spawn().await;
    team(&t).await;
    let body = json!({ "name": "mine", "grants": [grant("Website", "*", "manage")], "org_access": "manage" });
    let key = as_user(&t, "bob@acme.test", Method::POST, "/v1/keys", Some(body))
        .await
        .expect(201)
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
    assert_eq!(
        me.body["permissions"],
        json!(["Website:*:manage", "org:manage"])
    );
    assert_eq!(me.body["withheld"], json!([]));
    assert_eq!(me.body["acts_for"]["role"], "admin");

    member(
        &t,
        "Acme",
        "bob@acme.test",
        "member",
        json!([{ "project": "Website", "level": "read" }]),
    )
    .await
    .expect(200);
    let me = t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
    assert_eq!(
        me.body["permissions"],
        json!(["Website:*:read", "org:read"]),
        "{}",
        me.text
    );
    assert_eq!(
        me.body["withheld"],
        json!([
            "Website:*:manage: works at read only: its creator now holds read on project 'Website'",
            "org:manage: works at org:read only: that is what its creator's role allows now"
        ])
    );
    assert_eq!(me.body["acts_for"]["role"], "member");
    // And the check agrees with what /v1/me says.
    assert_eq!(verify(&t, &key, "GET").await["outcome"], "valid");
    assert_eq!(
        verify(&t, &key, "POST").await["outcome"],
        "insufficient_permission"
    );

    member(&t, "Acme", "bob@acme.test", "member", json!([]))
        .await
        .expect(200);
    let me = t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
    assert_eq!(me.body["permissions"], json!(["org:read"]));
    assert_eq!(
        me.body["withheld"][0],
        "Website:*:manage: does not work: its creator no longer has access to project 'Website'"
    );
}

#[tokio::test]
async fn keys_made_by_a_user_bound_key_answer_to_the_same_person() {
    let t = TestApp::spawn().await;
    team(&t).await;
    let parent = as_user(
        &t,
        "bob@acme.test",
        Method::POST,
        "/v1/keys",
        Some(json!({ "name": "p", "grants": [grant("*", "*", "manage")], "org_access": "write" })),
    )
    .await
    .expect(201);
    let parent_key = parent.body["key"].as_str().unwrap().to_owned();
    let child = t
        .call(
            Method::POST,
            "/v1/keys",
            &parent_key,
            Some(json!({ "name": "c", "grants": [grant("*", "*", "manage")] })),
        )
        .await
        .expect(201);
    assert_eq!(child.body["owner"], parent.body["owner"]);
    let child_key = child.body["key"].as_str().unwrap().to_owned();
    member(&t, "Acme", "bob@acme.test", "member", json!([]))
        .await
        .expect(200);
    assert_eq!(
        verify(&t, &child_key, "GET").await["outcome"],
        "insufficient_permission"
    );
}

#[tokio::test]
async fn scopes_come_from_the_catalog_and_grant_their_resource() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let scopes = t.admin(Method::GET, "/v1/scopes", None).await.expect(200);
    let names: Vec<&str> = scopes.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"forms:read") && names.contains(&"ai:generate"),
        "{names:?}"
    );
    t.send(t.request(Method::GET, "/v1/scopes"))
        .await
        .expect(401);

    let r = t
        .admin(
            Method::POST,
            "/v1/keys",
            Some(json!({ "org": "Acme", "name": "x", "scopes": ["forms:delete"] })),
        )
        .await
        .expect(422);
    assert_eq!(r.body["field"], "scopes");
    assert!(
        r.body["detail"].as_str().unwrap().contains("forms:read"),
        "lists the valid ones: {}",
        r.text
    );
    let (_, key) = t
        .key(&org, json!({ "scopes": ["forms:read", "responses:read"] }))
        .await;
    let at = |resource: &str, method: &str| json!({ "key": key, "project": "Website", "environment": "production", "method": method, "resource": resource });
    let outcome = |body: Value| async {
        t.admin(Method::POST, "/v1/keys/verify", Some(body))
            .await
            .expect(200)
            .body["outcome"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(outcome(at("forms", "GET")).await, "valid");
    assert_eq!(outcome(at("responses", "GET")).await, "valid");
    assert_eq!(
        outcome(at("forms", "POST")).await,
        "insufficient_permission"
    );
    assert_eq!(
        outcome(at("webhooks", "GET")).await,
        "insufficient_permission"
    );
    // forms:write creates, updates and deletes forms, as Formfex's does.
    let (_, writer) = t.key(&org, json!({ "scopes": ["forms:write"] })).await;
    for method in ["POST", "PATCH", "DELETE"] {
        let v = t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": writer, "project": "Website", "environment": "production", "method": method, "resource": "forms" }))).await.expect(200);
        assert_eq!(v.body["outcome"], "valid", "{method}");
    }
    let levels: Vec<(&str, &str)> = scopes.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["level"].as_str().unwrap()))
        .collect();
    assert!(levels.contains(&("forms:write", "manage")), "{levels:?}");
    assert!(levels.contains(&("ai:generate", "write")), "{levels:?}");
    let (_, all_forms) = t.key(&org, json!({ "scopes": ["forms:*"] })).await;
    let v = t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": all_forms, "project": "Website", "environment": "production", "method": "PUT", "resource": "forms" }))).await.expect(200);
    assert_eq!(v.body["outcome"], "valid");
    let me = t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
    assert_eq!(
        me.body["permissions"],
        json!(["forms:read", "responses:read"])
    );
    // Grants can be limited to resources too.
    let (_, limited) = t.key(&org, json!({ "grants": [{ "project": "Website", "environment": "*", "level": "write", "resources": ["forms"] }] })).await;
    let v = t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": limited, "project": "Website", "environment": "production", "method": "POST", "resource": "forms" }))).await.expect(200);
    assert_eq!(v.body["outcome"], "valid");
    let v = t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": limited, "project": "Website", "environment": "production", "method": "POST", "resource": "webhooks" }))).await.expect(200);
    assert_eq!(
        v.body["required_permission"],
        "Website:production:write:webhooks"
    );
}

#[tokio::test]
async fn an_organization_only_key_works_on_organization_resources() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = t.key(&org, json!({ "org_access": "read" })).await;
    t.call(Method::GET, "/v1/keys", &key, None)
        .await
        .expect(200);
    t.call(Method::GET, "/v1/orgs/Acme/projects", &key, None)
        .await
        .expect(200);
    t.call(Method::GET, "/v1/orgs/Acme/members", &key, None)
        .await
        .expect(200);
    t.call(Method::GET, "/v1/audit-events", &key, None)
        .await
        .expect(200);
    let v = t
        .admin(
            Method::POST,
            "/v1/keys/verify",
            Some(json!({ "key": key, "level": "read" })),
        )
        .await
        .expect(200);
    assert_eq!(v.body["outcome"], "valid");
    let me = t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
    assert_eq!(me.body["permissions"], json!(["org:read"]));
}

#[tokio::test]
async fn nobody_escalates_through_create_patch_rotate_or_reactivate() {
    let t = TestApp::spawn().await;
    team(&t).await;
    let (weak_id, weak) = t
        .key(
            "Acme",
            json!({ "grants": [grant("Website", "production", "read")], "org_access": "write" }),
        )
        .await;
    let (strong_id, _) = t
        .key(
            "Acme",
            json!({ "grants": [grant("*", "*", "manage")], "org_access": "manage" }),
        )
        .await;
    let (child_id, _) = t
        .key(
            "Acme",
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    // create
    t.call(
        Method::POST,
        "/v1/keys",
        &weak,
        Some(json!({ "name": "x", "scopes": ["*"] })),
    )
    .await
    .expect(403);
    // patch: neither into more power, nor on a stronger key
    t.call(
        Method::PATCH,
        &format!("/v1/keys/{child_id}"),
        &weak,
        Some(json!({ "grants": [grant("Website", "production", "write")] })),
    )
    .await
    .expect(403);
    t.call(
        Method::PATCH,
        &format!("/v1/keys/{child_id}"),
        &weak,
        Some(json!({ "scopes": ["forms:read"] })),
    )
    .await
    .expect(403);
    t.call(
        Method::PATCH,
        &format!("/v1/keys/{strong_id}"),
        &weak,
        Some(json!({ "name": "renamed" })),
    )
    .await
    .expect(403);
    t.call(
        Method::PATCH,
        &format!("/v1/keys/{child_id}"),
        &weak,
        Some(json!({ "name": "renamed" })),
    )
    .await
    .expect(200);
    t.call(
        Method::PATCH,
        &format!("/v1/keys/{weak_id}"),
        &weak,
        Some(json!({ "org_access": "manage" })),
    )
    .await
    .expect(403);
    // rotate: the new secret would carry the stronger key's power
    t.call(
        Method::POST,
        &format!("/v1/keys/{strong_id}/rotate"),
        &weak,
        None,
    )
    .await
    .expect(403);
    // reactivate: bringing back a stronger key
    t.admin(Method::POST, &format!("/v1/keys/{strong_id}/revoke"), None)
        .await
        .expect(200);
    t.call(
        Method::POST,
        &format!("/v1/keys/{strong_id}/reactivate"),
        &weak,
        None,
    )
    .await
    .expect(403);
    // a member, through the operator's dashboard, cannot do any of it either
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/keys".to_owned(),
            Some(json!({ "name": "x", "grants": [grant("Website", "production", "read")] })),
        ),
        (
            Method::PATCH,
            format!("/v1/keys/{child_id}"),
            Some(json!({ "name": "y" })),
        ),
        (Method::POST, format!("/v1/keys/{child_id}/rotate"), None),
        (
            Method::POST,
            format!("/v1/keys/{strong_id}/reactivate"),
            None,
        ),
    ] {
        as_user(&t, "cyd@acme.test", method, &path, body)
            .await
            .expect(403);
    }
    // a key with manage can change members, but only to project levels it holds
    let (_, manager) = t
        .key(
            "Acme",
            json!({ "grants": [grant("Website", "*", "write")], "org_access": "manage" }),
        )
        .await;
    let path = "/v1/orgs/Acme/members/dan@acme.test";
    member(&t, "Acme", "dan@acme.test", "member", json!([]))
        .await
        .expect(200);
    t.call(
        Method::PUT,
        path,
        &manager,
        Some(json!({ "role": "member", "projects": [{ "project": "Website", "level": "write" }] })),
    )
    .await
    .expect(200);
    t.call(
        Method::PUT,
        path,
        &manager,
        Some(
            json!({ "role": "member", "projects": [{ "project": "Website", "level": "manage" }] }),
        ),
    )
    .await
    .expect(403);
    t.call(
        Method::PUT,
        path,
        &manager,
        Some(json!({ "role": "admin" })),
    )
    .await
    .expect(403);
}

/// The Formbricks bug: a grant naming another organization's project must never work,
/// even if such a grant got into the database.
#[tokio::test]
async fn a_grant_on_another_organizations_project_never_works() {
    use keyward_core::{
        Actor, EnvScope, GeneratedKey, Grant, KeyName, Kind, Level, OrgAccess, OrgId, Prefix,
        ProjectId, ProjectScope,
    };
    let t = TestApp::spawn().await;
    let a = t.org("Alpha").await;
    t.org("Beta").await;
    let beta_website = t
        .admin(Method::GET, "/v1/orgs/Beta/projects/Website", None)
        .await
        .expect(200)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let generated = GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut rand_core::OsRng);
    let spec = keyward_core::lifecycle::NewKey {
        name: KeyName::parse("smuggled").unwrap(),
        description: None,
        kind: Kind::Live,
        grants: vec![Grant {
            project: ProjectScope::One(ProjectId::parse(&beta_website).unwrap()),
            environment: EnvScope::All,
            level: Level::Manage,
            resources: None,
        }],
        scopes: vec![],
        org_access: OrgAccess::NONE,
        owner: None,
        expires_at: None,
        ip_allowlist: Default::default(),
        metadata: None,
        rate_limits: None,
    };
    let created = keyward_core::lifecycle::create(
        spec,
        OrgId::parse(&a).unwrap(),
        generated.id,
        t.app.settings().peppers.hash(&generated.secret),
        Actor::System,
        &Default::default(),
        t.app.now(),
    )
    .unwrap();
    t.app
        .store()
        .write_keys(keyward_store::KeyWrite {
            inserts: vec![created.key],
            ..Default::default()
        })
        .await
        .unwrap();
    // Written behind the server's back, as another process would: seen within the
    // cache's ttl.
    t.clock.advance(keyward_app::Settings::DEFAULT_CACHE_TTL);
    let key = generated.secret.expose_secret();
    for project in [beta_website.as_str(), "Website"] {
        let v = t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": key, "project": project, "environment": "production", "method": "GET" }))).await.expect(200);
        assert_eq!(v.body["outcome"], "insufficient_permission", "{project}");
    }
}

/// Two owners demoted at the same time, each request seeing the other still owner:
/// exactly one succeeds, and the organization keeps its owner.
#[tokio::test]
async fn concurrent_demotions_never_leave_an_organization_without_an_owner() {
    let t = TestApp::spawn().await;
    team(&t).await;
    for round in 0..5 {
        member(&t, "Acme", "bob@acme.test", "owner", json!([]))
            .await
            .expect(200);
        let demote = |who: &'static str| member(&t, "Acme", who, "member", json!([]));
        let (a, b) = tokio::join!(demote("ada@acme.test"), demote("bob@acme.test"));
        let statuses = [a.status.as_u16(), b.status.as_u16()];
        assert!(
            statuses == [200, 409] || statuses == [409, 200],
            "round {round}: {statuses:?} {} {}",
            a.text,
            b.text
        );
        let members = t
            .admin(Method::GET, "/v1/orgs/Acme/members", None)
            .await
            .expect(200);
        let owners: Vec<&str> = members.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "owner")
            .map(|m| m["user"]["email"].as_str().unwrap())
            .collect();
        assert_eq!(owners.len(), 1, "round {round}: {owners:?}");
        // Put Ada back as the owner for the next round.
        member(&t, "Acme", "ada@acme.test", "owner", json!([]))
            .await
            .expect(200);
        member(&t, "Acme", "bob@acme.test", "admin", json!([]))
            .await
            .expect(200);
    }
}

/// Nobody joins an organization without accepting, and an organization learns nothing
/// about people outside it: a key of one organization can neither add a person of
/// another nor tell whether an address has an account anywhere.
#[tokio::test]
async fn outsiders_are_invited_and_the_answers_never_reveal_an_account() {
    let t = TestApp::spawn().await;
    team(&t).await;
    t.org("Beta").await;
    user(&t, "eve@beta.test").await;
    member(&t, "Beta", "eve@beta.test", "owner", json!([]))
        .await
        .expect(200);
    let (_, key) = t
        .key(
            &t.org_id("Acme").await,
            json!({ "org_access": "manage", "grants": [grant("Website", "*", "read")] }),
        )
        .await;

    // Adding directly: the same "not a member" for an account elsewhere and for none.
    let body = json!({ "role": "member", "projects": [] });
    let known = t
        .call(
            Method::PUT,
            "/v1/orgs/Acme/members/eve@beta.test",
            &key,
            Some(body.clone()),
        )
        .await
        .expect(404);
    let unknown = t
        .call(
            Method::PUT,
            "/v1/orgs/Acme/members/nobody@nowhere.test",
            &key,
            Some(body.clone()),
        )
        .await
        .expect(404);
    assert_eq!(
        known.body["detail"]
            .as_str()
            .unwrap()
            .replace("eve@beta.test", "X"),
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .replace("nobody@nowhere.test", "X"),
    );
    assert!(known.text.contains("invite them"), "{}", known.text);
    // People through the dashboard are held to the same, even owners.
    as_user(
        &t,
        "ada@acme.test",
        Method::PUT,
        "/v1/orgs/Acme/members/eve@beta.test",
        Some(body),
    )
    .await
    .expect(404);
    t.call(
        Method::DELETE,
        "/v1/orgs/Acme/members/eve@beta.test",
        &key,
        None,
    )
    .await
    .expect(404);

    // Inviting answers alike whether or not the address has an account.
    let invite = |email: &str| {
        t.call(
            Method::POST,
            "/v1/orgs/Acme/invitations",
            &key,
            Some(json!({ "email": email, "role": "member", "projects": [{ "project": "Website", "level": "read" }] })),
        )
    };
    let for_eve = invite("Eve@Beta.test").await.expect(201);
    let for_nobody = invite("nobody@nowhere.test").await.expect(201);
    let mut keys_a: Vec<&String> = for_eve.body.as_object().unwrap().keys().collect();
    let mut keys_b: Vec<&String> = for_nobody.body.as_object().unwrap().keys().collect();
    keys_a.sort();
    keys_b.sort();
    assert_eq!(keys_a, keys_b);
    assert_eq!(for_eve.body["email"], "eve@beta.test");
    // A key invites only within its own power: no write on Website, no admins.
    let r = t
        .call(Method::POST, "/v1/orgs/Acme/invitations", &key, Some(json!({ "email": "x@y.test", "role": "member", "projects": [{ "project": "Website", "level": "write" }] })))
        .await
        .expect(403);
    assert_eq!(r.body["required_permission"], "no_escalation");
    t.call(
        Method::POST,
        "/v1/orgs/Acme/invitations",
        &key,
        Some(json!({ "email": "x@y.test", "role": "admin" })),
    )
    .await
    .expect(403);
    // Already a member: said plainly, within the organization.
    invite("cyd@acme.test").await.expect(409);
    let pending = t
        .call(Method::GET, "/v1/orgs/Acme/invitations", &key, None)
        .await
        .expect(200);
    assert_eq!(pending.body["data"].as_array().unwrap().len(), 2);
    for created in [&for_eve, &for_nobody] {
        let token = created.body["token"].as_str().unwrap();
        assert!(
            !pending.text.contains(&token[21..]),
            "a token is shown once, never listed"
        );
    }

    let token = for_eve.body["token"].as_str().unwrap().to_owned();
    let accept = |as_who: Option<&'static str>, token: String| {
        let mut b = t
            .request(Method::POST, "/v1/invitations/accept")
            .bearer_auth(&t.admin)
            .json(&json!({ "token": token }));
        if let Some(who) = as_who {
            b = b.header("keyward-user", who);
        }
        t.send(b)
    };
    // Not for someone else, not for a key.
    accept(Some("dan@acme.test"), token.clone())
        .await
        .expect(404);
    t.call(
        Method::POST,
        "/v1/invitations/accept",
        &key,
        Some(json!({ "token": token })),
    )
    .await
    .expect(403);
    let joined = accept(Some("eve@beta.test"), token.clone())
        .await
        .expect(200);
    assert_eq!(joined.body["member"]["role"], "member");
    assert_eq!(joined.body["member"]["projects"][0]["level"], "read");
    // Used once.
    let again = accept(Some("eve@beta.test"), token).await.expect(404);
    assert!(
        again.text.contains("used, revoked or have expired"),
        "{}",
        again.text
    );
    let audit = t
        .admin(
            Method::GET,
            "/v1/audit-events?org=Acme&action=member.added",
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        audit.body["data"][0]["details"]["invited_by"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some("key")
    );

    // The operator accepts for someone with no account yet, creating it.
    let nobody = for_nobody.body["token"].as_str().unwrap().to_owned();
    let joined = accept(None, nobody).await.expect(200);
    assert_eq!(
        joined.body["member"]["user"]["email"],
        "nobody@nowhere.test"
    );

    // Withdrawn and expired invitations open nothing.
    let late = invite("late@x.test").await.expect(201);
    let id = late.body["id"].as_str().unwrap();
    t.call(
        Method::DELETE,
        &format!("/v1/orgs/Acme/invitations/{id}"),
        &key,
        None,
    )
    .await
    .expect(204);
    accept(None, late.body["token"].as_str().unwrap().to_owned())
        .await
        .expect(404);
    let slow = invite("slow@x.test").await.expect(201);
    t.clock.advance(time::Duration::days(7));
    accept(None, slow.body["token"].as_str().unwrap().to_owned())
        .await
        .expect(404);
    accept(None, "inv_0123456789abcdef_nope".into())
        .await
        .expect(404);
}
