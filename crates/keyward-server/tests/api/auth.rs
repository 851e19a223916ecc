//! How callers are identified: headers accepted, RFC 6750 challenges, keys in URLs
//! refused, and secrets kept out of every answer and log line.

use crate::helpers::{grant, logs, TestApp};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_key_is_accepted_in_each_documented_header() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (id, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    for builder in [
        t.request(Method::GET, "/v1/me").bearer_auth(&key),
        t.request(Method::GET, "/v1/me")
            .header("authorization", format!("bearer {key}")),
        t.request(Method::GET, "/v1/me").header("x-api-key", &key),
        t.request(Method::GET, "/v1/me").header("api-key", &key),
    ] {
        let r = t.send(builder).await.expect(200);
        assert_eq!(r.body["key"]["id"], id.as_str());
        assert_eq!(r.body["permissions"], json!(["Website:production:read"]));
        assert_eq!(r.body["organization"]["name"], "Acme");
    }
}

#[tokio::test]
async fn no_credential_is_401_with_a_challenge_without_error_code() {
    let t = TestApp::spawn().await;
    let r = t.send(t.request(Method::GET, "/v1/me")).await.expect(401);
    assert_eq!(r.problem(), "missing");
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="keyward""#)
    );
}

#[tokio::test]
async fn bad_credentials_are_401_invalid_token_with_the_outcome() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (id, key) = t
        .key(&org, json!({ "grants": [grant("*", "*", "read")] }))
        .await;
    let mut typo = key.clone();
    typo.replace_range(30..31, if &key[30..31] == "x" { "y" } else { "x" });
    let forged = "kw_live_0000000000000000_000000000000000000000000000000000000000000000000";
    let other = keyward_core::GeneratedKey::generate(
        &keyward_core::Prefix::default(),
        keyward_core::Kind::Live,
        &mut rand_core::OsRng,
    );
    for (credential, outcome) in [
        (typo.as_str(), "malformed"),
        (forged, "malformed"),
        ("", "malformed"),
        (other.secret.expose_secret(), "unknown"),
        (
            "kw_admin_0000000000000000_0000000000000000000000000000000000000000000000000",
            "unknown",
        ),
    ] {
        let r = t
            .call(Method::GET, "/v1/me", credential, None)
            .await
            .expect(401);
        assert_eq!(r.body["outcome"], outcome, "{credential}");
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer realm="keyward", error="invalid_token""#)
        );
    }
    // Revoked and expired keys say so.
    t.admin(Method::POST, &format!("/v1/keys/{id}/revoke"), None)
        .await
        .expect(200);
    let r = t.call(Method::GET, "/v1/me", &key, None).await.expect(401);
    assert_eq!(r.problem(), "revoked");
}

#[tokio::test]
async fn two_different_keys_in_one_request_are_malformed() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, a) = t
        .key(&org, json!({ "grants": [grant("*", "*", "read")] }))
        .await;
    let (_, b) = t
        .key(&org, json!({ "grants": [grant("*", "*", "read")] }))
        .await;
    let r = t
        .send(
            t.request(Method::GET, "/v1/me")
                .bearer_auth(&a)
                .header("x-api-key", &b),
        )
        .await
        .expect(401);
    assert_eq!(r.body["outcome"], "malformed");
    // The same key twice is fine.
    t.send(
        t.request(Method::GET, "/v1/me")
            .bearer_auth(&a)
            .header("x-api-key", &a),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn a_key_in_the_query_string_is_refused_and_told_to_use_a_header() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(&org, json!({ "grants": [grant("*", "*", "read")] }))
        .await;
    for path in [
        format!("/v1/me?api_key={key}"),
        format!("/v1/me?access_token={key}"),
        format!("/v1/keys?x={key}"),
        "/healthz?token=abc".into(),
    ] {
        let r = t.send(t.request(Method::GET, &path)).await.expect(400);
        assert_eq!(r.problem(), "key-in-query");
        assert!(r.body["detail"].as_str().unwrap().contains("header"));
        assert!(!r.text.contains(&key));
    }
}

#[tokio::test]
async fn me_is_for_keys_and_verify_is_for_operators() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = t.key(&org, json!({ "org_access": "manage" })).await;
    let r = t.admin(Method::GET, "/v1/me", None).await.expect(403);
    assert_eq!(r.problem(), "forbidden");
    let r = t
        .call(
            Method::POST,
            "/v1/keys/verify",
            &key,
            Some(json!({ "key": key, "method": "GET" })),
        )
        .await
        .expect(403);
    assert_eq!(r.problem(), "forbidden");
    assert_eq!(r.body["required_permission"], "operator");
}

#[tokio::test]
async fn a_revoked_admin_token_stops_working() {
    let t = TestApp::spawn().await;
    t.admin(Method::GET, "/v1/orgs", None).await.expect(200);
    let tokens = t.app.list_admin_tokens().await.unwrap();
    let operator = keyward_app::Principal::operator(keyward_core::Actor::Cli("tests".into()));
    t.app
        .revoke_admin_token(&operator, tokens[0].id.as_str())
        .await
        .unwrap();
    let r = t.admin(Method::GET, "/v1/orgs", None).await.expect(401);
    assert_eq!(r.body["outcome"], "unknown");
}

/// Admin tokens and people are audited in the operator's own stream, which only the
/// operator reads; every event made over HTTP records the caller's address.
#[tokio::test]
async fn operator_events_are_audited_and_http_events_carry_the_callers_address() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    t.admin(
        Method::POST,
        "/v1/users",
        Some(json!({ "email": "ada@acme.test" })),
    )
    .await
    .expect(201);
    let (key_id, key) = t.key(&org, json!({ "org_access": "manage" })).await;
    let operator = keyward_app::Principal::operator(keyward_core::Actor::Cli("tests".into()));
    let second = t.app.create_admin_token(&operator, "second").await.unwrap();
    t.app
        .revoke_admin_token(&operator, second.token.id.as_str())
        .await
        .unwrap();

    let stream = t
        .admin(Method::GET, "/v1/audit-events?operator=true", None)
        .await
        .expect(200);
    let events = stream.body["data"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "admin_token.revoked",
            "admin_token.created",
            "user.created",
            "admin_token.created"
        ],
        "{}",
        stream.text
    );
    assert!(events.iter().all(|e| e["org_id"].is_null()));
    let user_created = &events[2];
    assert_eq!(
        user_created["ip"], "127.0.0.1",
        "over HTTP: the caller's address"
    );
    assert!(user_created["actor"]
        .as_str()
        .unwrap()
        .starts_with("token:"));
    assert!(events[0]["ip"].is_null(), "at the command line: no address");
    assert_eq!(events[0]["details"]["name"], "second");

    let key_created = t
        .admin(
            Method::GET,
            &format!("/v1/audit-events?key_id={key_id}"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(key_created.body["data"][0]["ip"], "127.0.0.1");
    // An organization's own readers never see the operator's stream.
    let r = t
        .call(Method::GET, "/v1/audit-events?operator=true", &key, None)
        .await
        .expect(403);
    assert_eq!(r.body["required_permission"], "operator");
    let own = t
        .call(Method::GET, "/v1/audit-events", &key, None)
        .await
        .expect(200);
    assert!(own.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["org_id"] == org.as_str()));
}

/// No answer other than the one that creates a key, no log line and no audit record
/// ever holds a key's secret, whatever requests carry it.
#[tokio::test]
async fn secrets_never_reach_responses_logs_or_the_audit_log() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (id, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "*", "read")], "org_access": "manage" }),
        )
        .await;
    let rotated = t
        .admin(
            Method::POST,
            &format!("/v1/keys/{id}/rotate"),
            Some(json!({ "grace_period": "1h" })),
        )
        .await
        .expect(201);
    let new_key = rotated.body["new"]["key"].as_str().unwrap().to_owned();
    t.bodies.lock().unwrap().clear(); // the two answers that rightly showed a key

    // Exercise every path a key can travel: headers, query, verify bodies, errors.
    let mut typo = key.clone();
    typo.pop();
    for credential in [&key, &new_key, &typo] {
        t.call(Method::GET, "/v1/me", credential, None).await;
        t.call(Method::GET, "/v1/keys", credential, None).await;
        t.call(Method::GET, "/v1/audit-events", credential, None)
            .await;
        t.send(t.request(Method::GET, &format!("/v1/me?api_key={credential}")))
            .await;
        // Logged requests carry their id and path: a key there must not be logged.
        t.send(
            t.request(Method::GET, "/v1/me")
                .header("x-api-key", credential.as_str())
                .header("x-request-id", credential.as_str()),
        )
        .await;
        t.admin(Method::GET, &format!("/v1/keys/{credential}"), None)
            .await;
        t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": credential, "project": "Website", "environment": "production", "method": "DELETE" }))).await;
        t.admin(
            Method::POST,
            "/v1/keys/verify",
            Some(json!({ "key": credential, "bogus": 1 })),
        )
        .await;
        t.call(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            credential,
            Some(json!({ "name": credential })),
        )
        .await;
        // A key pasted where an id, a name or a value belonged is never quoted back.
        t.admin(Method::GET, &format!("/v1/keys/{credential}"), None)
            .await;
        t.admin(Method::GET, &format!("/v1/orgs/{credential}"), None)
            .await;
        t.admin(
            Method::GET,
            &format!("/v1/orgs/Acme/projects/{credential}"),
            None,
        )
        .await;
        t.admin(
            Method::POST,
            "/v1/keys",
            Some(json!({ "org": "Acme", "name": "x", "kind": credential })),
        )
        .await;
        t.admin(Method::POST, "/v1/keys", Some(json!({ "org": "Acme", "name": "x", "grants": [{ "project": credential, "environment": credential, "level": credential }] }))).await;
        t.admin(Method::POST, "/v1/keys", Some(json!({ "org": "Acme", "name": "x", "org_access": "read", "expires_at": credential, "scopes": [credential] }))).await;
        t.admin(Method::POST, "/v1/keys/verify", Some(json!({ "key": "x", "project": "Website", "environment": "production", "method": credential }))).await;
        t.admin(
            Method::PUT,
            &format!("/v1/orgs/Acme/members/{credential}"),
            Some(json!({ "role": credential })),
        )
        .await;
    }
    let audit = t
        .admin(Method::GET, "/v1/audit-events?limit=100", None)
        .await
        .expect(200);
    let logs = logs();
    assert!(logs.contains("request"), "logs were captured");
    for secret in [&key, &new_key] {
        let secret_part = &secret[secret.len() - 49..];
        assert!(
            !t.all_bodies().contains(secret_part),
            "a response body held a secret"
        );
        assert!(
            !audit.text.contains(secret_part),
            "the audit log held a secret"
        );
        assert!(!logs.contains(secret_part), "a log line held a secret");
    }
    assert!(
        !logs.contains(&t.admin[t.admin.len() - 49..]),
        "a log line held the admin token"
    );
    assert!(!logs.contains(crate::helpers::PEPPER));
}
