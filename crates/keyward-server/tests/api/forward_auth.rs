//! Forward auth: a reverse proxy asks `/v1/forward-auth` about each request to the
//! operator's API, describing it the way nginx, Caddy, Traefik or Envoy do, and gets
//! the same check as the verify API: 200 with the key's identity for the upstream, or
//! the outcome's status and problem body.

use crate::helpers::{grant, Reply, TestApp};
use keyward_core::{RouteSpec, RouteTable};
use keyward_server::ForwardAuth;
use reqwest::Method;
use serde_json::json;

/// The operator's API: `/api/projects/{project}/forms/**` on production, reads and
/// writes by method, and a test area on `preview`.
fn table() -> RouteTable {
    RouteTable::parse(&[
        RouteSpec {
            path: "/api/projects/{project}/forms/**".into(),
            resource: Some("forms".into()),
            project: Some("{project}".into()),
            environment: Some("production".into()),
            ..RouteSpec::default()
        },
        RouteSpec {
            path: "/sandbox/{project}/**".into(),
            project: Some("{project}".into()),
            environment: Some("preview".into()),
            ..RouteSpec::default()
        },
    ])
    .unwrap()
}

async fn spawn(token: Option<&str>) -> TestApp {
    let fa = ForwardAuth {
        routes: table(),
        allow_unmatched: false,
        token: token.map(|t| t.to_owned().into()),
    };
    TestApp::spawn_shaped(|s| s.forwarding(fa)).await
}

/// As nginx's `auth_request` with its documented `X-Original-*` headers.
async fn nginx(t: &TestApp, key: &str, method: &str, uri: &str) -> Reply {
    t.send(
        t.request(Method::GET, "/v1/forward-auth")
            .header("X-Original-Method", method)
            .header("X-Original-URI", uri)
            .bearer_auth(key),
    )
    .await
}

#[tokio::test]
async fn a_read_is_allowed_through_nginx_caddy_and_envoy_with_identity_headers() {
    let t = spawn(None).await;
    let org = t.org("Acme").await;
    let (id, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")],
                    "metadata": { "customer": "Zoë", "tier": 2 } }),
        )
        .await;
    let ok = nginx(&t, &key, "GET", "/api/projects/Website/forms/7?page=2")
        .await
        .expect(200);
    assert_eq!(ok.header("x-keyward-key-id"), Some(id.as_str()));
    assert_eq!(ok.header("x-keyward-org-id"), Some(org.as_str()));
    assert_eq!(ok.header("x-keyward-key-kind"), Some("live"));
    let metadata: serde_json::Value =
        serde_json::from_str(ok.header("x-keyward-metadata").unwrap()).unwrap();
    assert_eq!(metadata, json!({ "customer": "Zoë", "tier": 2 }));

    // Caddy and Traefik: X-Forwarded-Method and X-Forwarded-Uri, key in x-api-key.
    t.send(
        t.request(Method::GET, "/v1/forward-auth")
            .header("X-Forwarded-Method", "HEAD")
            .header("X-Forwarded-Uri", "/api/projects/Website/forms")
            .header("x-api-key", &key),
    )
    .await
    .expect(200);

    // Envoy: the original method, the original path after the prefix.
    let envoy = t
        .send(
            t.request(Method::GET, "/v1/forward-auth/api/projects/Website/forms/1")
                .bearer_auth(&key),
        )
        .await
        .expect(200);
    assert_eq!(envoy.header("x-keyward-key-id"), Some(id.as_str()));
    // ...and a DELETE through Envoy is judged as the DELETE it is.
    let denied = t
        .send(
            t.request(
                Method::DELETE,
                "/v1/forward-auth/api/projects/Website/forms/1",
            )
            .bearer_auth(&key),
        )
        .await
        .expect(403);
    assert!(
        denied.body["required_permission"]
            .to_string()
            .contains("manage"),
        "{}",
        denied.text
    );
}

#[tokio::test]
async fn a_write_with_a_read_only_key_is_refused_naming_the_permission() {
    let t = spawn(None).await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    let r = nginx(&t, &key, "POST", "/api/projects/Website/forms")
        .await
        .expect(403);
    assert_eq!(r.problem(), "insufficient-permission");
    assert!(
        r.body["required_permission"].to_string().contains("write"),
        "{}",
        r.text
    );
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/problem+json"));
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));
}

#[tokio::test]
async fn a_test_key_on_a_production_route_is_the_wrong_environment() {
    let t = spawn(None).await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(
            &org,
            json!({ "kind": "test", "grants": [grant("*", "*", "manage")] }),
        )
        .await;
    let r = nginx(&t, &key, "GET", "/api/projects/Website/forms")
        .await
        .expect(403);
    assert_eq!(r.problem(), "wrong-environment");
    nginx(&t, &key, "GET", "/sandbox/Website/x")
        .await
        .expect(200);
}

#[tokio::test]
async fn a_revoked_key_is_refused_as_soon_as_the_revoke_is_acknowledged() {
    let t = spawn(None).await;
    let org = t.org("Acme").await;
    let (id, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    nginx(&t, &key, "GET", "/api/projects/Website/forms")
        .await
        .expect(200);
    t.admin(Method::POST, &format!("/v1/keys/{id}/revoke"), None)
        .await
        .expect(200);
    let r = nginx(&t, &key, "GET", "/api/projects/Website/forms")
        .await
        .expect(401);
    assert_eq!(r.problem(), "revoked");
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
}

#[tokio::test]
async fn a_rate_limited_key_gets_429_with_retry_after_and_ratelimit_fields() {
    let t = spawn(None).await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")],
                    "rate_limits": [{ "name": "default", "limit": 2, "period": "1h" }] }),
        )
        .await;
    for _ in 0..2 {
        let ok = nginx(&t, &key, "GET", "/api/projects/Website/forms")
            .await
            .expect(200);
        assert!(ok.header("ratelimit").is_some());
    }
    let r = nginx(&t, &key, "GET", "/api/projects/Website/forms")
        .await
        .expect(429);
    assert_eq!(r.problem(), "rate-limited");
    assert!(r.header("retry-after").is_some());
    assert!(r.header("ratelimit-policy").is_some());
}

#[tokio::test]
async fn a_request_no_route_matches_is_refused_unless_the_operator_allows_it() {
    let t = spawn(None).await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    let r = nginx(&t, &key, "GET", "/admin/secrets").await.expect(403);
    assert_eq!(r.problem(), "no-route");

    let fa = ForwardAuth {
        routes: table(),
        allow_unmatched: true,
        token: None,
    };
    let open = TestApp::spawn_shaped(|s| s.forwarding(fa)).await;
    let org = open.org("Acme").await;
    let (_, key) = open
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    nginx(&open, &key, "GET", "/admin/secrets")
        .await
        .expect(200);
    nginx(&open, "", "GET", "/admin/secrets").await.expect(401);
}

#[tokio::test]
async fn keys_in_urls_and_malformed_descriptions_are_refused_with_4xx_never_5xx() {
    let t = spawn(None).await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    // A key in forward auth's own query, and in the original URI's.
    let r = t
        .send(t.request(Method::GET, &format!("/v1/forward-auth?api_key={key}")))
        .await
        .expect(400);
    assert_eq!(r.problem(), "key-in-query");
    assert!(
        !r.text.contains(&key[10..]),
        "the refusal never repeats the key"
    );
    let r = nginx(
        &t,
        &key,
        "GET",
        &format!("/api/projects/Website/forms?api_key={key}"),
    )
    .await
    .expect(400);
    assert_eq!(r.problem(), "key-in-query");
    assert!(
        !r.text.contains(&key[10..]),
        "the refusal never repeats the key"
    );

    for (method, uri) in [
        ("GET", "no-slash"),
        ("GET", "http://elsewhere/x"),
        ("G ET", "/api/projects/Website/forms"),
        ("BREW", "/api/projects/Website/forms"),
        ("GET", ""),
    ] {
        let r = nginx(&t, &key, method, uri).await;
        assert!(r.status.is_client_error(), "{method} {uri}: {}", r.status);
    }
    // A path the upstream may normalise into another one than the table matched
    // (nginx resolves '..' and merges slashes) is refused, not matched as written.
    for uri in [
        "/api/projects/Website/forms/../../Other/forms",
        "/api/projects/Website/forms/%2e%2e/%2E%2E/Other/forms",
        "/api/projects/Website/forms//x",
        "/api/projects/Website%2Fforms",
    ] {
        nginx(&t, &key, "GET", uri).await.expect(400);
    }
    // No description at all; both families at once (a client may have sent one).
    t.send(t.request(Method::GET, "/v1/forward-auth").bearer_auth(&key))
        .await
        .expect(400);
    t.send(
        t.request(Method::GET, "/v1/forward-auth")
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", "/api/projects/Website/forms")
            .header("X-Forwarded-Method", "DELETE")
            .header("X-Forwarded-Uri", "/api/projects/Website/forms")
            .bearer_auth(&key),
    )
    .await
    .expect(400);
}

#[tokio::test]
async fn with_a_forward_auth_token_only_proxies_sending_it_are_answered() {
    let token = "proxy-token-0123456789abcdef";
    let t = spawn(Some(token)).await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")] }),
        )
        .await;
    let ask = |sent: Option<&str>| {
        let mut b = t
            .request(Method::GET, "/v1/forward-auth")
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", "/api/projects/Website/forms")
            .bearer_auth(&key);
        if let Some(s) = sent {
            b = b.header("X-Keyward-Proxy-Token", s);
        }
        b
    };
    let r = t.send(ask(None)).await.expect(403);
    assert_eq!(r.body["required_permission"], "forward_auth_token");
    t.send(ask(Some("proxy-token-0123456789abcdeX")))
        .await
        .expect(403);
    t.send(ask(Some(token))).await.expect(200);
}

/// nginx's `auth_request` drops a refusal's body and turns 400 and 429 into a 500 of
/// its own: the shipped nginx config rebuilds the client's answer from
/// `X-Keyward-Problem`, so every refusal must carry its whole problem body there, in a
/// form a header holds (ASCII), and an allowed request must carry none.
#[tokio::test]
async fn every_refusal_repeats_its_problem_body_in_a_header_nginx_can_pass_on() {
    let t = spawn(None).await;
    let org = t.org("Acme").await;
    let (_, key) = t
        .key(
            &org,
            json!({ "grants": [grant("Website", "production", "read")],
                    "rate_limits": [{ "name": "default", "limit": 1, "period": "1h" }] }),
        )
        .await;
    let ok = nginx(&t, &key, "GET", "/api/projects/Website/forms")
        .await
        .expect(200);
    assert_eq!(ok.header("x-keyward-problem"), None);

    let refusals = [
        (
            nginx(&t, "", "GET", "/api/projects/Website/forms").await,
            401,
        ),
        (
            nginx(&t, &key, "POST", "/api/projects/Website/forms").await,
            403,
        ),
        (nginx(&t, &key, "GET", "/admin").await, 403),
        (
            nginx(&t, &key, "GET", "/api/projects/Website/forms").await,
            429,
        ),
        (nginx(&t, &key, "GET", "/api//forms").await, 400),
    ];
    for (r, status) in refusals {
        let r = r.expect(status);
        let header = r
            .header("x-keyward-problem")
            .unwrap_or_else(|| panic!("{status} without X-Keyward-Problem: {}", r.text));
        assert!(
            header.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
            "{header}"
        );
        let problem: serde_json::Value = serde_json::from_str(header).unwrap();
        assert_eq!(problem, r.body, "the header holds the body, whole");
        assert_eq!(problem["status"], status);
    }
}
