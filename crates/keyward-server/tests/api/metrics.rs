//! `/metrics`: Prometheus text for this machine's scrapers without a token, for anyone
//! with the token once one is set, and on a listener of its own when asked.

use crate::helpers::TestApp;
use keyward_server::{AppState, MetricsAccess, ServerLimits};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;

/// The value of one series (`name{labels}`) in a metrics text.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

async fn scrape(t: &TestApp) -> String {
    let r = t.send(t.request(Method::GET, "/metrics")).await.expect(200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    r.text
}

/// From the server's own machine, with no credential: checks by outcome move with each
/// check, the verify API's latency is observed, and the other figures are there.
#[tokio::test]
async fn metrics_from_loopback_count_every_check_by_outcome() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let (_, key) = t.key("Acme", json!({ "org_access": "read" })).await;
    let before = scrape(&t).await;
    let valid = r#"keyward_checks_total{outcome="valid"}"#;
    let malformed = r#"keyward_checks_total{outcome="malformed"}"#;
    let timed = "keyward_check_duration_seconds_count";
    for k in [key.as_str(), "kw_live_nonsense"] {
        t.admin(
            Method::POST,
            "/v1/keys/verify",
            Some(json!({ "key": k, "level": "read" })),
        )
        .await;
    }
    t.app.flush_usage().await.unwrap();
    let after = scrape(&t).await;
    assert_eq!(value(&after, valid), value(&before, valid) + 1.0);
    assert_eq!(value(&after, malformed), value(&before, malformed) + 1.0);
    assert_eq!(value(&after, timed), value(&before, timed) + 2.0);
    for series in [
        r#"keyward_checks_total{outcome="rate_limited"}"#,
        r#"keyward_checks_total{outcome="quota_exceeded"}"#,
        r#"keyward_check_cache_hits_total{cache="keys"}"#,
        r#"keyward_check_cache_misses_total{cache="keys"}"#,
        r#"keyward_usage_batches_total{result="written"}"#,
        r#"keyward_store_duration_seconds_count{operation="usage_write"}"#,
        r#"keyward_store_duration_seconds_count{operation="check_load"}"#,
        "keyward_open_connections",
    ] {
        value(&after, series);
    }
    assert!(value(&after, "keyward_open_connections") >= 1.0);
    assert!(value(&after, r#"keyward_usage_batches_total{result="written"}"#) >= 1.0);
}

/// With a token set, nobody reads the metrics without it, this machine included.
#[tokio::test]
async fn with_a_token_set_metrics_need_it() {
    let t = TestApp::spawn_with_metrics(MetricsAccess {
        on_api_listener: true,
        token: Some("scrape-token-0123456789abcdef".into()),
    })
    .await;
    let r = t.send(t.request(Method::GET, "/metrics")).await.expect(401);
    assert_eq!(r.problem(), "token-required");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = t
        .send(t.request(Method::GET, "/metrics").bearer_auth(&t.admin))
        .await
        .expect(401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    let r = t
        .send(
            t.request(Method::GET, "/metrics")
                .bearer_auth("scrape-token-0123456789abcdef"),
        )
        .await
        .expect(200);
    assert!(r.text.contains("keyward_checks_total"), "{}", r.text);
}

/// On a listener of its own, `/metrics` is there and not on the API's.
#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let t = TestApp::spawn_with_metrics(MetricsAccess {
        on_api_listener: false,
        token: None,
    })
    .await;
    t.send(t.request(Method::GET, "/metrics")).await.expect(404);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState {
        metrics: Arc::new(MetricsAccess {
            on_api_listener: false,
            token: None,
        }),
        ..AppState::new(t.app.clone())
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(keyward_server::launch_metrics(
        state,
        listener,
        ServerLimits::default(),
        async {
            stopped.await.ok();
        },
    ));
    let r = t
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("keyward_checks_total"));
    let r = t
        .client
        .get(format!("http://{addr}/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404, "the API is not on it");
    stop.send(()).unwrap();
    served.await.unwrap();
}
