//! The OpenAPI document is generated from the code and committed; the interactive
//! docs and the problem catalog are served by the binary itself, with no network.

use crate::helpers::TestApp;
use reqwest::Method;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

/// Fails when the API changed and `docs/openapi.json` was not regenerated. Run with
/// `KEYWARD_BLESS=1` to rewrite it.
#[test]
fn the_committed_openapi_document_is_current() {
    let generated = keyward_server::openapi::document();
    if std::env::var("KEYWARD_BLESS").is_ok() {
        std::fs::write(COMMITTED, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(committed == generated, "docs/openapi.json is out of date: run `KEYWARD_BLESS=1 cargo test -p keyward-server openapi`");
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/keys",
        "/v1/keys/{key_id}",
        "/v1/keys/verify",
        "/v1/me",
        "/v1/audit-events",
        "/v1/orgs",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
}

#[tokio::test]
async fn the_api_docs_are_served_with_no_outside_resources() {
    let t = TestApp::spawn().await;
    let served = t
        .send(t.request(Method::GET, "/openapi.json"))
        .await
        .expect(200);
    assert_eq!(served.body["openapi"], "3.1.0");
    let page = t
        .send(t.request(Method::GET, "/docs/api/"))
        .await
        .expect(200);
    assert!(page.text.contains("swagger"), "{}", page.text);
    for external in ["src=\"http", "href=\"http", "cdn", "unpkg", "jsdelivr"] {
        assert!(
            !page.text.contains(external),
            "the docs page loads {external}"
        );
    }
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let r = t
            .send(t.request(Method::GET, &format!("/docs/api/{asset}")))
            .await;
        assert_eq!(r.status.as_u16(), 200, "{asset}");
        if asset == "swagger-initializer.js" {
            assert!(r.text.contains("/openapi.json"), "{}", r.text);
        }
    }
}

#[tokio::test]
async fn every_problem_type_is_documented_at_its_uri() {
    let t = TestApp::spawn().await;
    let page = t
        .send(t.request(Method::GET, "/docs/problems"))
        .await
        .expect(200);
    for p in keyward_server::problems::ALL {
        assert!(
            page.text.contains(&format!("id=\"{}\"", p.slug)),
            "{} is documented",
            p.slug
        );
    }
    let r = t.send(t.request(Method::GET, "/v1/me")).await.expect(401);
    let slug = r.problem().to_owned();
    assert!(page.text.contains(&format!("id=\"{slug}\"")));
}
