//! Rate limits and the monthly quota over HTTP, with the server's clock in the test's
//! hand: N per window means N under concurrent requests, named limits combine, only
//! requests that pass every other step spend, the quota renews when the month turns,
//! and the `RateLimit` fields say all of it.

use crate::helpers::{grant, Reply, TestApp};
use keyward_core::{Plan, Plans};
use reqwest::Method;
use serde_json::{json, Value};
use time::Duration;

async fn key_with(t: &TestApp, org: &str, body: Value) -> (String, String) {
    let mut body = body;
    if body.get("grants").is_none() {
        body["grants"] = json!([grant("Website", "production", "read")]);
    }
    t.key(org, body).await
}

async fn verify(t: &TestApp, key: &str, extra: Value) -> Value {
    let mut body =
        json!({ "key": key, "project": "Website", "environment": "production", "method": "GET" });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    t.admin(Method::POST, "/v1/keys/verify", Some(body))
        .await
        .expect(200)
        .body
}

fn limit(name: &str, n: u32, period: &str) -> Value {
    json!({ "name": name, "limit": n, "period": period })
}

/// A server whose `tiny` plan (the default) allows `quota` requests a month and no
/// rate limit.
async fn with_quota(quota: u64) -> TestApp {
    TestApp::spawn_tuned(move |s| {
        s.plans = Plans::new(vec![Plan {
            name: "tiny".into(),
            api_access: true,
            max_keys: None,
            rate_limits: vec![],
            monthly_quota: Some(quota),
        }])
        .unwrap();
        s.default_plan = "tiny".into();
    })
    .await
}

#[tokio::test]
async fn a_limit_of_n_admits_exactly_n_under_concurrent_requests_and_again_after_the_window() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = key_with(
        &t,
        &org,
        json!({ "rate_limits": [limit("default", 10, "1m")] }),
    )
    .await;
    for round in 0..2 {
        let answers =
            futures_util::future::join_all((0..40).map(|_| verify(&t, &key, json!({})))).await;
        let count = |o: &str| answers.iter().filter(|a| a["outcome"] == o).count();
        assert_eq!(
            (count("valid"), count("rate_limited")),
            (10, 30),
            "round {round}"
        );
        // The window passes on the server's clock.
        t.clock.advance(Duration::MINUTE);
    }
}

#[tokio::test]
async fn named_limits_combine_and_every_one_must_admit() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = key_with(
        &t,
        &org,
        json!({ "rate_limits": [limit("burst", 3, "1s"), limit("sustained", 5, "1h")] }),
    )
    .await;
    async fn outcomes(t: &TestApp, key: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(
                verify(t, key, json!({})).await["outcome"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        out
    }
    assert_eq!(
        outcomes(&t, &key, 4).await,
        ["valid", "valid", "valid", "rate_limited"],
        "the burst limit"
    );
    t.clock.advance(Duration::SECOND);
    assert_eq!(
        outcomes(&t, &key, 3).await,
        ["valid", "valid", "rate_limited"],
        "now the sustained one"
    );
    let v = verify(&t, &key, json!({})).await;
    // The sustained limit frees one request every 3600 s / 5 = 720 s; 1 s has passed.
    assert_eq!(v["retry_after"], 719);
    assert_eq!(v["status"], 429);
    assert_eq!(v["rate_limits"][1]["remaining"], 0);
    assert_eq!(v["headers"]["Retry-After"], "719");
    assert!(
        v["detail"].as_str().unwrap().contains("sustained 5 per 1h"),
        "{v}"
    );
}

#[tokio::test]
async fn checks_that_fail_for_another_reason_spend_nothing() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = key_with(
        &t,
        &org,
        json!({ "rate_limits": [limit("default", 2, "1h")] }),
    )
    .await;
    for _ in 0..5 {
        for (extra, outcome) in [
            (json!({ "environment": "preview" }), "wrong_environment"),
            (json!({ "method": "DELETE" }), "insufficient_permission"),
        ] {
            let v = verify(&t, &key, extra).await;
            assert_eq!(v["outcome"], outcome);
            assert!(
                v["rate_limits"].is_null() && v["headers"] == json!({}),
                "{v}"
            );
        }
        // The management API: a key without organization access is refused the
        // list of keys (403), which gives back what the request spent.
        t.call(Method::GET, "/v1/keys", &key, None)
            .await
            .expect(403);
    }
    assert_eq!(verify(&t, &key, json!({})).await["outcome"], "valid");
    let me = t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
    // Two spent of the limit and of the quota: nothing by the fifteen refusals.
    let state = me.header("ratelimit").unwrap();
    assert!(
        state.starts_with(r#""default";r=0;t=1800, "quota";r=99998;t="#),
        "{state}"
    );
    let refused = t.call(Method::GET, "/v1/me", &key, None).await.expect(429);
    assert_eq!(refused.problem(), "rate-limited");
}

#[tokio::test]
async fn the_management_api_answers_with_the_ratelimit_fields_and_429() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = key_with(
        &t,
        &org,
        json!({ "rate_limits": [limit("default", 2, "1m")] }),
    )
    .await;
    let first = t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
    let policy = first.header("ratelimit-policy").unwrap();
    assert!(
        policy.starts_with(r#""default";q=2;w=60, "quota";q=100000;w="#),
        "{policy}"
    );
    assert!(
        first
            .header("ratelimit")
            .unwrap()
            .starts_with(r#""default";r=1;t=30, "quota";r=99999;t="#),
        "{:?}",
        first.header("ratelimit")
    );
    assert_eq!(first.header("retry-after"), None);
    t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
    let refused = t.call(Method::GET, "/v1/me", &key, None).await.expect(429);
    assert_eq!(refused.problem(), "rate-limited");
    assert_eq!(refused.header("retry-after"), Some("30"));
    assert_eq!(refused.body["retry_after"], 30);
    assert_eq!(refused.body["outcome"], "rate_limited");
    assert!(refused
        .header("ratelimit")
        .unwrap()
        .starts_with(r#""default";r=0;t=30"#));
    // The operator's own token is never limited.
    for _ in 0..5 {
        t.admin(Method::GET, "/v1/orgs", None).await.expect(200);
    }
    t.clock.advance(Duration::seconds(30));
    t.call(Method::GET, "/v1/me", &key, None).await.expect(200);
}

#[tokio::test]
async fn the_quota_is_spent_by_cost_and_renews_when_the_month_turns() {
    let t = with_quota(5).await;
    let org = t.org("Acme").await;
    let (_, key) = key_with(&t, &org, json!({})).await;
    // To a minute before the month turns, UTC.
    let now = t.app.now();
    let turn = keyward_core::quota::Month::of(now).next().start();
    t.clock.advance(turn - now - Duration::MINUTE);

    let v = verify(&t, &key, json!({ "cost": 3 })).await;
    assert_eq!(v["outcome"], "valid");
    assert_eq!(v["quota"]["used"], 3);
    assert_eq!(v["quota"]["remaining"], 2);
    assert_eq!(
        verify(&t, &key, json!({ "cost": 2.0 })).await["outcome"],
        "valid"
    );
    let v = verify(&t, &key, json!({})).await;
    assert_eq!(v["outcome"], "quota_exceeded");
    assert_eq!(v["status"], 429);
    assert_eq!(v["retry_after"], 60, "until the month turns");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("quota of 5 requests"),
        "{v}"
    );
    let me = t.call(Method::GET, "/v1/me", &key, None).await.expect(429);
    assert_eq!(me.problem(), "quota-exceeded");
    assert_eq!(me.header("retry-after"), Some("60"));
    // Cost 0 reads where things stand and is never refused.
    let peek = verify(&t, &key, json!({ "cost": 0 })).await;
    assert_eq!(
        (peek["outcome"].as_str(), &peek["quota"]["remaining"]),
        (Some("valid"), &json!(0))
    );

    let org_now = t
        .admin(Method::GET, &format!("/v1/orgs/{org}"), None)
        .await
        .expect(200);
    assert_eq!(org_now.body["quota"]["used"], 5);
    assert_eq!(org_now.body["keys"], json!({ "held": 1, "limit": null }));

    t.clock.advance(Duration::MINUTE);
    let v = verify(&t, &key, json!({})).await;
    assert_eq!(v["outcome"], "valid", "a new month");
    assert_eq!(v["quota"]["used"], 1);
}

#[tokio::test]
async fn the_quota_is_shared_by_the_organizations_keys_and_written_down() {
    let t = with_quota(4).await;
    let org = t.org("Acme").await;
    let (_, a) = key_with(&t, &org, json!({})).await;
    let (_, b) = key_with(&t, &org, json!({})).await;
    let other = t.org("Other").await;
    let (_, c) = key_with(&t, &other, json!({})).await;
    let answers = futures_util::future::join_all(
        (0..10).map(|i| verify(&t, if i % 2 == 0 { &a } else { &b }, json!({}))),
    )
    .await;
    let valid = answers.iter().filter(|v| v["outcome"] == "valid").count();
    assert_eq!(valid, 4, "one quota for both keys");
    assert_eq!(
        verify(&t, &c, json!({})).await["outcome"],
        "valid",
        "another organization's is its own"
    );
    // Written in the batch, and read back by a server that starts afresh on the file.
    t.app.flush_usage().await.unwrap();
    let stored = t
        .app
        .store()
        .quota_used(
            &keyward_core::OrgId::parse(&org).unwrap(),
            keyward_core::quota::Month::of(t.app.now()),
        )
        .await
        .unwrap();
    assert_eq!(stored, 4);
}

#[tokio::test]
async fn a_cost_is_checked_and_one_larger_than_a_limit_is_refused_for_good() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (_, key) = key_with(
        &t,
        &org,
        json!({ "rate_limits": [limit("default", 10, "1m")] }),
    )
    .await;
    let v = verify(&t, &key, json!({ "cost": 11 })).await;
    assert_eq!(v["outcome"], "rate_limited");
    assert!(v["retry_after"].is_null(), "{v}");
    assert!(v["headers"].get("Retry-After").is_none(), "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("costs more than the limit allows"),
        "{v}"
    );
    assert_eq!(v["rate_limits"][0]["remaining"], 10, "nothing was spent");
    for bad in [json!(-1), json!(1.5), json!("2"), json!(5_000_000_000u64)] {
        let r: Reply = t
            .admin(
                Method::POST,
                "/v1/keys/verify",
                Some(json!({ "key": key, "project": "Website", "environment": "production", "method": "GET", "cost": bad })),
            )
            .await;
        assert!(
            r.status.as_u16() == 422 || r.status.as_u16() == 400,
            "{bad}: {}",
            r.body
        );
        assert!(
            r.body["detail"].as_str().unwrap().contains("cost"),
            "{bad}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_keys_limits_follow_a_change_at_the_next_request() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let (id, key) = key_with(
        &t,
        &org,
        json!({ "rate_limits": [limit("default", 1, "1h")] }),
    )
    .await;
    assert_eq!(verify(&t, &key, json!({})).await["outcome"], "valid");
    assert_eq!(verify(&t, &key, json!({})).await["outcome"], "rate_limited");
    t.admin(
        Method::PATCH,
        &format!("/v1/keys/{id}"),
        Some(json!({ "rate_limits": [limit("default", 3, "1h")] })),
    )
    .await
    .expect(200);
    let v = verify(&t, &key, json!({})).await;
    assert_eq!(v["outcome"], "valid", "under the new limit");
    assert_eq!(v["rate_limits"][0]["limit"], 3);
    // Back to the plan's (pro: 300 a minute).
    t.admin(
        Method::PATCH,
        &format!("/v1/keys/{id}"),
        Some(json!({ "rate_limits": null })),
    )
    .await
    .expect(200);
    let v = verify(&t, &key, json!({})).await;
    assert_eq!(
        v["rate_limits"][0],
        json!({ "name": "default", "limit": 300, "period": "1m", "remaining": 299, "reset": 1 })
    );

    // The key itself sees its organization's quota, but not how many keys it holds:
    // it has no organization access.
    let own = t
        .call(Method::GET, &format!("/v1/orgs/{org}"), &key, None)
        .await
        .expect(200);
    assert!(own.body["keys"].is_null(), "{}", own.body);
    assert_eq!(own.body["quota"]["limit"], 100_000);
    let all = t
        .admin(Method::GET, &format!("/v1/orgs/{org}"), None)
        .await
        .expect(200);
    assert_eq!(all.body["keys"], json!({ "held": 1, "limit": 10 }));
}
