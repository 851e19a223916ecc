//! Plans and what a key carries besides its power, over HTTP: how many keys an
//! organization may hold, API access that follows the plan at the next check, IP
//! allow-lists (also behind a trusted proxy), metadata, and keys' own rate limits.

use crate::helpers::{grant, Reply, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn org_on(t: &TestApp, name: &str, plan: &str) -> String {
    let org = t
        .admin(
            Method::POST,
            "/v1/orgs",
            Some(json!({ "name": name, "plan": plan })),
        )
        .await
        .expect(201);
    assert_eq!(org.body["plan"], plan);
    t.admin(
        Method::POST,
        &format!("/v1/orgs/{name}/projects"),
        Some(json!({ "name": "Website" })),
    )
    .await
    .expect(201);
    org.body["id"].as_str().unwrap().to_owned()
}

async fn create(t: &TestApp, org: &str, body: Value) -> Reply {
    let mut body = body;
    body["org"] = org.into();
    body["name"] = "a key".into();
    if body.get("grants").is_none() {
        body["grants"] = json!([grant("Website", "production", "manage")]);
    }
    t.admin(Method::POST, "/v1/keys", Some(body)).await
}

async fn verify(t: &TestApp, body: Value) -> Value {
    let mut body = body;
    body["project"] = "Website".into();
    body["environment"] = "production".into();
    body["method"] = "GET".into();
    t.admin(Method::POST, "/v1/keys/verify", Some(body))
        .await
        .expect(200)
        .body
}

async fn set_plan(t: &TestApp, org: &str, plan: &str) -> Reply {
    t.admin(
        Method::PATCH,
        &format!("/v1/orgs/{org}"),
        Some(json!({ "plan": plan })),
    )
    .await
}

#[tokio::test]
async fn an_organization_holds_no_more_keys_than_its_plan_allows() {
    let t = TestApp::spawn().await;
    let org = org_on(&t, "Acme", "starter").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create(&t, &org, json!({})).await.expect(201).body["id"].clone());
    }
    let refused = create(&t, &org, json!({})).await.expect(403);
    assert_eq!(refused.problem(), "plan-limit");
    assert_eq!(
        (
            &refused.body["plan"],
            &refused.body["limit"],
            &refused.body["keys"]
        ),
        (&json!("starter"), &json!(3), &json!(3))
    );
    assert!(
        refused.body["detail"].as_str().unwrap().contains("starter"),
        "{}",
        refused.body
    );

    // A rotation replaces a key: it is not a new one, even at the limit.
    t.admin(
        Method::POST,
        &format!("/v1/keys/{}/rotate", ids[0].as_str().unwrap()),
        Some(json!({ "grace_period": "1h" })),
    )
    .await
    .expect(201);
    create(&t, &org, json!({})).await.expect(403);

    // A deleted key frees its place.
    t.admin(
        Method::DELETE,
        &format!("/v1/keys/{}", ids[1].as_str().unwrap()),
        None,
    )
    .await
    .expect(200);
    create(&t, &org, json!({})).await.expect(201);
    create(&t, &org, json!({})).await.expect(403);
}

#[tokio::test]
async fn concurrent_creations_never_pass_the_limit() {
    // Twelve requests at once on an empty starter organization: the count and the
    // insert are one transaction, so exactly three win.
    let t = TestApp::spawn().await;
    let org = org_on(&t, "Acme", "starter").await;
    let replies =
        futures_util::future::join_all((0..12).map(|_| create(&t, &org, json!({})))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 403).count(),
        9,
        "{statuses:?}"
    );
    let listed = t
        .admin(Method::GET, &format!("/v1/keys?org={org}"), None)
        .await
        .expect(200);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_plan_without_api_access_refuses_keys_and_checks_from_the_moment_it_is_set() {
    let t = TestApp::spawn().await;
    let free = org_on(&t, "Freebie", "free").await;
    let refused = create(&t, &free, json!({})).await.expect(403);
    assert_eq!(refused.problem(), "plan-limit");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("does not include API access"),
        "{}",
        refused.body
    );

    let org = org_on(&t, "Acme", "pro").await;
    let made = create(&t, &org, json!({})).await.expect(201);
    let key = made.body["key"].as_str().unwrap().to_owned();
    assert_eq!(verify(&t, json!({ "key": key })).await["outcome"], "valid");
    t.call(Method::GET, "/v1/me", &key, None).await.expect(200);

    // Downgraded: the very next check, on either surface, is refused.
    let moved = set_plan(&t, &org, "free").await.expect(200);
    assert_eq!(moved.body["plan"], "free");
    let v = verify(&t, json!({ "key": key })).await;
    assert_eq!(
        (v["outcome"].as_str(), v["status"].as_u64()),
        (Some("no_api_access"), Some(403))
    );
    let me = t.call(Method::GET, "/v1/me", &key, None).await.expect(403);
    assert_eq!(me.problem(), "no-api-access");

    // Upgraded again: the same key works, nothing was lost.
    set_plan(&t, &org, "starter").await.expect(200);
    assert_eq!(verify(&t, json!({ "key": key })).await["outcome"], "valid");

    // Each move is in the organization's audit log, before and after.
    let events = t
        .admin(
            Method::GET,
            &format!("/v1/audit-events?org={org}&action=org.updated"),
            None,
        )
        .await
        .expect(200);
    let details: Vec<&Value> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["details"])
        .collect();
    assert_eq!(
        details,
        [
            &json!({ "before": { "plan": "free" }, "after": { "plan": "starter" } }),
            &json!({ "before": { "plan": "pro" }, "after": { "plan": "free" } }),
        ]
    );
}

#[tokio::test]
async fn a_smaller_plan_keeps_the_keys_held_and_refuses_new_ones() {
    let t = TestApp::spawn().await;
    let org = org_on(&t, "Acme", "pro").await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(
            create(&t, &org, json!({})).await.expect(201).body["key"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    set_plan(&t, &org, "starter").await.expect(200);
    for key in &keys {
        assert_eq!(verify(&t, json!({ "key": key })).await["outcome"], "valid");
    }
    let refused = create(&t, &org, json!({})).await.expect(403);
    assert_eq!(
        (&refused.body["limit"], &refused.body["keys"]),
        (&json!(3), &json!(5))
    );
}

#[tokio::test]
async fn only_the_operator_changes_a_plan_and_only_to_one_that_exists() {
    let t = TestApp::spawn().await;
    let org = org_on(&t, "Acme", "pro").await;
    let key = create(&t, &org, json!({ "org_access": "manage" }))
        .await
        .expect(201)
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_key = t
        .call(
            Method::PATCH,
            &format!("/v1/orgs/{org}"),
            &key,
            Some(json!({ "plan": "max" })),
        )
        .await
        .expect(403);
    assert_eq!(by_key.problem(), "forbidden");

    let unknown = set_plan(&t, &org, "platinum").await.expect(422);
    let detail = unknown.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("platinum") && detail.contains("starter"),
        "{detail}"
    );
    set_plan(&t, "NoSuchOrg", "max").await.expect(404);
    let org_now = t
        .admin(Method::GET, &format!("/v1/orgs/{org}"), None)
        .await
        .expect(200);
    assert_eq!(org_now.body["plan"], "pro");
}

#[tokio::test]
async fn an_allow_list_admits_its_networks_and_nothing_else() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let made = create(
        &t,
        &org,
        json!({ "ip_allowlist": ["203.0.113.7/24", "::ffff:198.51.100.0/120", "2001:db8::1"] }),
    )
    .await
    .expect(201);
    // Stored and shown normalised: host bits cleared, mapped addresses as IPv4.
    assert_eq!(
        made.body["ip_allowlist"],
        json!(["203.0.113.0/24", "198.51.100.0/24", "2001:db8::1/128"])
    );
    let key = made.body["key"].as_str().unwrap();
    for (ip, outcome) in [
        ("203.0.113.0", "valid"),
        ("203.0.113.255", "valid"),
        ("::ffff:203.0.113.9", "valid"),
        ("198.51.100.44", "valid"),
        ("2001:db8::1", "valid"),
        ("203.0.114.1", "ip_not_allowed"),
        ("2001:db8::2", "ip_not_allowed"),
        ("10.0.0.1", "ip_not_allowed"),
    ] {
        let v = verify(&t, json!({ "key": key, "ip": ip })).await;
        assert_eq!(v["outcome"], outcome, "from {ip}");
        if outcome != "valid" {
            assert_eq!(v["status"], 403);
        }
    }
    // No address given: a key with an allow-list is refused, not waved through.
    assert_eq!(
        verify(&t, json!({ "key": key })).await["outcome"],
        "ip_not_allowed"
    );
    // On the management API the address is the connection's: these tests call from
    // 127.0.0.1, which the list does not hold.
    let me = t.call(Method::GET, "/v1/me", key, None).await.expect(403);
    assert_eq!(me.problem(), "ip-not-allowed");
    let bad = t
        .admin(
            Method::POST,
            "/v1/keys/verify",
            Some(json!({ "key": key, "project": "Website", "environment": "production", "method": "GET", "ip": "203.0.113.300" })),
        )
        .await
        .expect(422);
    assert!(bad.body["detail"].as_str().unwrap().contains("ip"));

    // Everywhere (/0) and exactly one address (/32, /128).
    for (list, ip, outcome) in [
        (json!(["0.0.0.0/0"]), "8.8.8.8", "valid"),
        (json!(["0.0.0.0/0"]), "2001:db8::1", "ip_not_allowed"),
        (json!(["::/0"]), "2001:db8::1", "valid"),
        (json!(["192.0.2.1/32"]), "192.0.2.1", "valid"),
        (json!(["192.0.2.1/32"]), "192.0.2.2", "ip_not_allowed"),
        (json!(["2001:db8::5/128"]), "2001:db8::5", "valid"),
    ] {
        let key = create(&t, &org, json!({ "ip_allowlist": list }))
            .await
            .expect(201)
            .body["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let v = verify(&t, json!({ "key": key, "ip": ip })).await;
        assert_eq!(v["outcome"], outcome, "{list} from {ip}");
    }
}

#[tokio::test]
async fn allow_lists_are_checked_when_set_and_changed_at_once() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    for (list, says) in [
        (json!(["not-an-address"]), "not-an-address"),
        (json!(["10.0.0.0/33"]), "10.0.0.0/33"),
        (
            json!((0..101)
                .map(|i| format!("10.0.{i}.0/24"))
                .collect::<Vec<_>>()),
            "at most 100",
        ),
    ] {
        let r = create(&t, &org, json!({ "ip_allowlist": list }))
            .await
            .expect(422);
        assert!(
            r.body["detail"].as_str().unwrap().contains(says),
            "{}",
            r.body
        );
    }

    let made = create(&t, &org, json!({})).await.expect(201);
    let (id, key) = (
        made.body["id"].as_str().unwrap(),
        made.body["key"].as_str().unwrap(),
    );
    assert_eq!(made.body["ip_allowlist"], json!([]));
    t.call(Method::GET, "/v1/me", key, None).await.expect(200);
    // Restricted: the next request from elsewhere is refused.
    let patched = t
        .admin(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            Some(json!({ "ip_allowlist": ["192.0.2.0/24"] })),
        )
        .await
        .expect(200);
    assert_eq!(patched.body["ip_allowlist"], json!(["192.0.2.0/24"]));
    t.call(Method::GET, "/v1/me", key, None).await.expect(403);
    // Opened to loopback: works again at once. An empty list allows every address.
    t.admin(
        Method::PATCH,
        &format!("/v1/keys/{id}"),
        Some(json!({ "ip_allowlist": ["127.0.0.1"] })),
    )
    .await
    .expect(200);
    t.call(Method::GET, "/v1/me", key, None).await.expect(200);
    t.admin(
        Method::PATCH,
        &format!("/v1/keys/{id}"),
        Some(json!({ "ip_allowlist": [] })),
    )
    .await
    .expect(200);
    assert_eq!(
        verify(&t, json!({ "key": key, "ip": "8.8.8.8" })).await["outcome"],
        "valid"
    );
}

#[tokio::test]
async fn a_key_limited_to_some_networks_cannot_make_a_key_usable_from_others() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let maker = create(
        &t,
        &org,
        json!({ "ip_allowlist": ["127.0.0.0/8"], "org_access": "write", "grants": [grant("*", "*", "manage")] }),
    )
    .await
    .expect(201)
    .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_key = |list: Value| json!({ "org": org, "name": "child", "grants": [grant("Website", "production", "read")], "ip_allowlist": list });
    for wider in [json!([]), json!(["0.0.0.0/0"]), json!(["127.0.0.0/7"])] {
        let r = t
            .call(
                Method::POST,
                "/v1/keys",
                &maker,
                Some(new_key(wider.clone())),
            )
            .await
            .expect(403);
        assert!(
            r.body["detail"].as_str().unwrap().contains("ip_allowlist"),
            "{wider}: {}",
            r.body
        );
    }
    t.call(
        Method::POST,
        "/v1/keys",
        &maker,
        Some(new_key(json!(["127.0.0.1"]))),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_checked() {
    let t = TestApp::spawn_behind(&["127.0.0.1"]).await;
    let org = t.org("Acme").await;
    let key = create(&t, &org, json!({ "ip_allowlist": ["203.0.113.0/24"] }))
        .await
        .expect(201)
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = |forwarded: Option<&'static str>| {
        let mut b = t.request(Method::GET, "/v1/me").bearer_auth(&key);
        if let Some(f) = forwarded {
            b = b.header("x-forwarded-for", f);
        }
        t.send(b)
    };
    me(Some("203.0.113.7")).await.expect(200);
    // The client's own entry comes first; the proxy appends the address it saw.
    me(Some("203.0.113.7, 198.51.100.1")).await.expect(403);
    me(Some("198.51.100.1, 203.0.113.7")).await.expect(200);
    // Not an address: the client is unknown, and an allow-list refuses the unknown.
    me(Some("203.0.113.7, garbage")).await.expect(403);
    // No header: the proxy itself (127.0.0.1) is the client.
    me(None).await.expect(403);

    // A server that trusts no proxy ignores the header: anyone could send it.
    let plain = TestApp::spawn().await;
    let org = plain.org("Acme").await;
    let key = create(&plain, &org, json!({ "ip_allowlist": ["203.0.113.0/24"] }))
        .await
        .expect(201)
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = plain
        .send(
            plain
                .request(Method::GET, "/v1/me")
                .bearer_auth(&key)
                .header("x-forwarded-for", "203.0.113.7"),
        )
        .await
        .expect(403);
    assert_eq!(r.problem(), "ip-not-allowed");
}

#[tokio::test]
async fn metadata_is_kept_returned_by_verify_and_bounded() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let metadata = json!({ "customer": "cus_123", "tier": 2, "tags": ["beta"] });
    let made = create(&t, &org, json!({ "metadata": metadata }))
        .await
        .expect(201);
    assert_eq!(made.body["metadata"], metadata);
    let (id, key) = (
        made.body["id"].as_str().unwrap(),
        made.body["key"].as_str().unwrap(),
    );
    let v = verify(&t, json!({ "key": key })).await;
    assert_eq!(v["key"]["metadata"], metadata);

    for (bad, says) in [
        (json!("a string"), "object"),
        (json!([1, 2]), "object"),
        (json!({ "blob": "x".repeat(5000) }), "4096"),
        (json!({ "oops": key }), "key"),
    ] {
        let r = create(&t, &org, json!({ "metadata": bad }))
            .await
            .expect(422);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{detail}");
        // The refusal does not repeat a secret it was sent.
        assert!(!detail.contains(key), "{detail}");
    }

    t.admin(
        Method::PATCH,
        &format!("/v1/keys/{id}"),
        Some(json!({ "metadata": null })),
    )
    .await
    .expect(200);
    let v = verify(&t, json!({ "key": key })).await;
    assert_eq!(v["outcome"], "valid");
    assert!(v["key"]["metadata"].is_null(), "{v}");
}

#[tokio::test]
async fn only_the_operator_gives_a_key_limits_looser_than_its_plan() {
    let t = TestApp::spawn().await;
    let org = org_on(&t, "Acme", "starter").await; // 60 a minute
    t.admin(
        Method::POST,
        "/v1/users",
        Some(json!({ "email": "ada@acme.test" })),
    )
    .await
    .expect(201);
    t.admin(
        Method::PUT,
        &format!("/v1/orgs/{org}/members/ada@acme.test"),
        Some(json!({ "role": "owner" })),
    )
    .await
    .expect(200);
    let as_ada = |body: Value| {
        let mut body = body;
        body["org"] = org.clone().into();
        body["name"] = "ada's".into();
        body["grants"] = json!([grant("Website", "production", "read")]);
        t.send(
            t.request(Method::POST, "/v1/keys")
                .bearer_auth(&t.admin)
                .header("keyward-user", "ada@acme.test")
                .json(&body),
        )
    };
    let looser = json!([{ "name": "default", "limit": 600, "period": "1m" }]);
    let stricter = json!([{ "name": "default", "limit": 10, "period": "1m" }, { "name": "burst", "limit": 2, "period": "1s" }]);

    let r = as_ada(json!({ "rate_limits": looser })).await.expect(403);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("starter: default 60 per 1m"), "{detail}");
    let made = as_ada(json!({ "rate_limits": stricter })).await.expect(201);
    assert_eq!(made.body["rate_limits"], stricter);
    let made = as_ada(json!({})).await.expect(201);
    assert!(made.body["rate_limits"].is_null(), "{}", made.body);

    // The operator may; a bad limit is refused whoever asks.
    create(&t, &org, json!({ "rate_limits": looser }))
        .await
        .expect(201);
    for (bad, says) in [
        (
            json!([{ "name": "default", "limit": 0, "period": "1m" }]),
            "limit",
        ),
        (
            json!([{ "name": "default", "limit": 5, "period": "0s" }]),
            "period",
        ),
        (
            json!([{ "name": "default", "limit": 5, "period": "40d" }]),
            "period",
        ),
        (
            json!([{ "name": "Bad Name", "limit": 5, "period": "1m" }]),
            "name",
        ),
        (
            json!([{ "name": "a", "limit": 5, "period": "1m" }, { "name": "a", "limit": 9, "period": "1h" }]),
            "twice",
        ),
    ] {
        let r = create(&t, &org, json!({ "rate_limits": bad.clone() })).await;
        assert_eq!(r.status.as_u16(), 422, "{bad}: {}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap_or_default().contains(says),
            "{bad}: {}",
            r.body
        );
    }
}
