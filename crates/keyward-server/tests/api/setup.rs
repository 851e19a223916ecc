//! The first-run setup link: it creates the owner account once and never again.

use crate::helpers::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_setup_link_works_exactly_once() {
    let t = TestApp::spawn().await;
    let token = t.app.begin_setup().await.unwrap().expect("no users yet");
    let page = t.send(t.request(Method::GET, "/setup")).await.expect(200);
    assert!(
        page.text.contains("<form")
            && !page.text.contains("http://")
            && !page.text.contains("https://")
    );

    let body = |token: &str, password: &str| json!({ "token": token, "email": "Ada@Example.com", "password": password, "organization": "Acme", "display_name": "Ada" });
    let r = t
        .send(
            t.request(Method::POST, "/v1/setup")
                .json(&body("wrong", "a long enough password")),
        )
        .await
        .expect(403);
    assert!(r.body["detail"].as_str().unwrap().contains("not valid"));
    // A refused password does not use up the link.
    let r = t
        .send(
            t.request(Method::POST, "/v1/setup")
                .json(&body(&token, "short")),
        )
        .await
        .expect(422);
    assert_eq!(r.body["field"], "password");
    let r = t.send(t.request(Method::POST, "/v1/setup").json(&json!({ "token": token, "email": "nope", "password": "a long enough password", "organization": "Acme" }))).await.expect(422);
    assert_eq!(r.body["field"], "email");

    let r = t
        .send(
            t.request(Method::POST, "/v1/setup")
                .json(&body(&token, "a long enough password")),
        )
        .await
        .expect(201);
    assert_eq!(r.body["email"], "ada@example.com");
    assert_eq!(r.body["organization"]["name"], "Acme");
    let again = t
        .send(
            t.request(Method::POST, "/v1/setup")
                .json(&body(&token, "a long enough password")),
        )
        .await
        .expect(403);
    assert_eq!(again.problem(), "forbidden");
    assert_eq!(
        t.app.begin_setup().await.unwrap(),
        None,
        "no new link once set up"
    );

    let events = t
        .admin(Method::GET, "/v1/audit-events?action=org.created", None)
        .await
        .expect(200);
    assert!(events.body["data"][0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("user:"));
    assert!(!events.text.contains("a long enough password"));
}

#[tokio::test]
async fn a_new_link_replaces_an_unused_one() {
    let t = TestApp::spawn().await;
    let first = t.app.begin_setup().await.unwrap().unwrap();
    let second = t.app.begin_setup().await.unwrap().unwrap();
    let body = |token: &str| json!({ "token": token, "email": "a@b.co", "password": "a long enough password", "organization": "Acme" });
    t.send(t.request(Method::POST, "/v1/setup").json(&body(&first)))
        .await
        .expect(403);
    t.send(t.request(Method::POST, "/v1/setup").json(&body(&second)))
        .await
        .expect(201);
}
