//! The OpenAPI document is a contract clients generate code from and schemathesis
//! tests the server against (`scripts/contract.sh`): these check its shape, and pin
//! each server fix that the contract run found.

use crate::helpers::{grant, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

fn document() -> Value {
    serde_json::from_str(&keyward_server::openapi::document()).unwrap()
}

/// Every operation of the document, as (method, path, operation).
fn operations(doc: &Value) -> Vec<(&'static str, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method, path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Client generators name functions after operation ids: two alike break them.
#[test]
fn every_operation_id_is_unique() {
    let doc = document();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
            .to_owned();
        if let Some(first) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId '{id}' is used by {first} and {method} {path}");
        }
    }
    assert!(seen.len() > 20, "{seen:?}");
}

/// Links lead somewhere: each names an operation of the document and fills only
/// parameters that operation has (the stateful contract run follows them).
#[test]
fn every_link_leads_to_an_operation_and_its_parameters() {
    let doc = document();
    let text = keyward_server::openapi::document();
    assert!(!text.contains("\"operation_id\""), "a link is misspelt");
    let by_id: BTreeMap<String, Value> = operations(&doc)
        .into_iter()
        .map(|(_, _, op)| (op["operationId"].as_str().unwrap().to_owned(), op))
        .collect();
    let mut links = 0;
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let Some(found) = response.get("links").and_then(Value::as_object) else {
                continue;
            };
            for (name, link) in found {
                links += 1;
                let target = link["operationId"].as_str().unwrap_or_default();
                let target = by_id.get(target).unwrap_or_else(|| {
                    panic!("{method} {path} {status}: link {name} leads nowhere")
                });
                let names: Vec<&str> = target["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for parameter in link["parameters"].as_object().unwrap().keys() {
                    assert!(
                        names.contains(&parameter.as_str()),
                        "{method} {path} {status}: link {name} fills unknown {parameter}"
                    );
                }
            }
        }
    }
    assert!(links > 10, "{links} links");
}

/// What clients download is what is committed and checked.
#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let t = TestApp::spawn().await;
    let served = t
        .send(t.request(Method::GET, "/openapi.json"))
        .await
        .expect(200);
    assert_eq!(served.text, keyward_server::openapi::document());
    assert_eq!(served.header("content-type"), Some("application/json"));
}

/// A client reading the document learns every error it can meet, each as a problem.
#[test]
fn every_operation_documents_the_errors_any_request_can_meet_as_problems() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let mut expected = vec!["400", "500"];
        if op.get("security").is_some() {
            expected.push("401");
        }
        if op.get("requestBody").is_some() {
            expected.extend(["413", "415"]);
        }
        for status in expected {
            assert!(
                responses.contains_key(status),
                "{method} {path} does not document {status}"
            );
        }
        for (status, response) in responses {
            if !status.starts_with('4') && !status.starts_with('5') {
                continue;
            }
            let response = match response["$ref"].as_str() {
                Some(r) => {
                    let name = r.trim_start_matches("#/components/responses/");
                    &doc["components"]["responses"][name]
                }
                None => response,
            };
            let content = response["content"].as_object().unwrap();
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                ["application/problem+json"],
                "{method} {path} {status}"
            );
        }
    }
}

/// The document says the rotate body may be `null`; the server agrees.
#[tokio::test]
async fn a_rotation_with_a_null_body_takes_the_default_grace_period() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let (id, _) = t
        .key("Acme", json!({ "grants": [grant("*", "*", "read")] }))
        .await;
    let r = t
        .send(
            t.request(Method::POST, &format!("/v1/keys/{id}/rotate"))
                .bearer_auth(&t.admin)
                .header("content-type", "application/json")
                .body("null"),
        )
        .await
        .expect(201);
    assert_eq!(r.body["old"]["id"], id.as_str());
    assert!(r.body["new"]["key"].as_str().is_some(), "{}", r.text);
}

/// An admin token is a good credential of the wrong kind for `/v1/me`: refused
/// (403), not called a malformed request (400).
#[tokio::test]
async fn me_refuses_a_caller_that_is_not_a_key_as_forbidden() {
    let t = TestApp::spawn().await;
    let r = t.admin(Method::GET, "/v1/me", None).await.expect(403);
    assert_eq!(r.problem(), "forbidden");
    assert_eq!(r.body["required_permission"], "api_key");
}

/// A stale cursor is named as the `cursor` parameter the client sent.
#[tokio::test]
async fn a_cursor_that_names_no_key_is_refused_on_the_cursor_field() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let r = t
        .admin(
            Method::GET,
            "/v1/keys?org=Acme&cursor=0000000000000000",
            None,
        )
        .await
        .expect(422);
    assert_eq!(r.body["field"], "cursor");
}
