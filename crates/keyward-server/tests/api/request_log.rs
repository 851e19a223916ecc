//! The request log and `x-request-id`: every request leaves one line at info with what
//! an operator needs to find it (method, path, status, latency, request id, client),
//! and the id is the one the client can see in the answer.

use crate::helpers::{logs, Raw, TestApp};
use reqwest::Method;

/// The log line of the answer to request `id`.
fn answered_line(id: &str) -> String {
    logs()
        .lines()
        .find(|l| l.contains(&format!(" id={id} ")) && l.contains("answered"))
        .unwrap_or_else(|| panic!("no log line for request {id}"))
        .to_owned()
}

#[tokio::test]
async fn each_request_is_logged_with_its_id_path_status_and_client_but_not_its_query() {
    let t = TestApp::spawn().await;
    let id = format!("trace-{}", std::process::id());
    let mut c = Raw::connect(t.addr).await;
    let client = c.stream.local_addr().unwrap();
    c.send(&format!(
        "GET /v1/orgs?probe=private-query-value HTTP/1.1\r\nhost: keyward\r\nauthorization: Bearer {}\r\nx-request-id: {id}\r\n\r\n",
        t.admin
    ))
    .await;
    let reply = c.reply().await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("x-request-id"), Some(id.as_str()), "echoed");

    let line = answered_line(&id);
    for part in [
        " INFO ",
        "method=GET",
        "path=/v1/orgs ",
        r#"route="/v1/orgs""#,
        "status=200",
        "ms=",
        &format!("client={client}"),
        r#"caller="token:"#,
    ] {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
    assert!(
        !logs().contains("private-query-value"),
        "a query string was logged"
    );
}

#[tokio::test]
async fn a_request_without_a_sane_id_gets_one_that_the_answer_and_the_log_share() {
    let t = TestApp::spawn().await;
    for sent in [None, Some("with space"), Some(&*"x".repeat(200))] {
        let mut request = t.request(Method::GET, "/healthz");
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let reply = t.send(request).await;
        let id = reply.header("x-request-id").expect("an id").to_owned();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        answered_line(&id);
    }
    // Errors carry it too.
    let reply = t.send(t.request(Method::GET, "/nowhere")).await.expect(404);
    assert!(reply.header("x-request-id").is_some());
}
