//! Slow and idle clients: each limit of `ServerLimits` against real sockets, with limits
//! of a few hundred milliseconds. Bounds are loose (timers fire late on a busy machine)
//! but each one would fail if the limit did not work: a lower bound shows which clock
//! closed the connection, an upper bound that one did.

use crate::helpers::{Raw, TestApp};
use keyward_server::ServerLimits;
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Long limits, to be shortened one at a time.
fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_secs(30),
        request_body_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        max_connections: 100,
        shutdown_deadline: Duration::from_secs(30),
    }
}

const GET_HEALTH: &str = "GET /healthz HTTP/1.1\r\nhost: keyward\r\n\r\n";

/// A POST to `path` with the admin token announcing `length` bytes of JSON body.
fn post_head(t: &TestApp, path: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: keyward\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n",
        t.admin
    )
}

#[tokio::test]
async fn a_client_that_sends_half_a_header_is_cut_off_at_the_header_timeout() {
    // Slowloris: connections that never finish their header would otherwise be held
    // forever, each with its memory and descriptor.
    let t = TestApp::spawn_with(ServerLimits {
        header_read_timeout: ms(300),
        ..limits()
    })
    .await;
    let mut half = Raw::connect(t.addr).await;
    half.send("GET /healthz HTTP/1.1\r\nhost: keyw").await;
    let mut silent = Raw::connect(t.addr).await;
    let took = half.closed_within(Duration::from_secs(5)).await;
    assert!(took >= ms(200), "closed after {took:?}, before the timeout");
    silent.closed_within(Duration::from_secs(5)).await;

    // A header that arrives in pieces, but in time, is served.
    let mut slow = Raw::connect(t.addr).await;
    slow.send("GET /healthz HTTP/1.1\r\n").await;
    tokio::time::sleep(ms(100)).await;
    slow.send("host: keyward\r\n\r\n").await;
    assert_eq!(slow.reply().await.status, 200);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_at_the_idle_timeout_not_the_header_timeout() {
    // Idle connections cost a descriptor each; but a backend's pooled connection must
    // survive a pause longer than the header timeout between two requests.
    let t = TestApp::spawn_with(ServerLimits {
        header_read_timeout: ms(200),
        idle_timeout: ms(1500),
        ..limits()
    })
    .await;
    let mut c = Raw::connect(t.addr).await;
    c.send(GET_HEALTH).await;
    assert_eq!(c.reply().await.status, 200);
    tokio::time::sleep(ms(600)).await;
    c.send(GET_HEALTH).await;
    assert_eq!(
        c.reply().await.status,
        200,
        "reused after three header timeouts"
    );
    let took = c.closed_within(Duration::from_secs(6)).await;
    assert!(
        took >= ms(1200),
        "closed after {took:?}, before the idle timeout"
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_a_408_problem_and_the_connection_closes() {
    let t = TestApp::spawn_with(ServerLimits {
        request_body_timeout: ms(300),
        ..limits()
    })
    .await;
    // The header promises 100 bytes; 10 come.
    let mut c = Raw::connect(t.addr).await;
    let start = Instant::now();
    c.send(&post_head(&t, "/v1/orgs", 100)).await;
    c.send(r#"{"name": "#).await;
    let reply = c.reply().await;
    let took = start.elapsed();
    assert_eq!(reply.status, 408, "{reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        reply.body.contains("/docs/problems#request-timeout"),
        "{}",
        reply.body
    );
    assert!(took >= ms(250), "answered after {took:?}");
    c.closed_within(Duration::from_secs(5)).await;

    // A byte now and then does not stretch the deadline: it is for the whole body.
    let mut drip = Raw::connect(t.addr).await;
    let start = Instant::now();
    drip.send(&post_head(&t, "/v1/orgs", 1000)).await;
    let (mut reader, mut writer) = drip.stream.into_split();
    let dripping = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        for _ in 0..40 {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(ms(50)).await;
        }
    });
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = reader.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed without an answer");
            answer.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("an answer while the client still drips");
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(start.elapsed() < ms(1500), "{:?}", start.elapsed());
    dripping.abort();

    // The raw-body route answers the same way.
    let mut c = Raw::connect(t.addr).await;
    c.send(&post_head(&t, "/v1/keys/abc/rotate", 50)).await;
    c.send("{").await;
    let reply = c.reply().await;
    assert_eq!(reply.status, 408, "{reply:?}");
    assert!(reply.body.contains("request-timeout"), "{}", reply.body);
}

#[tokio::test]
async fn limits_too_long_for_the_clock_mean_no_limit() {
    // A library caller may pass Duration::MAX; serving must not panic.
    let t = TestApp::spawn_with(ServerLimits {
        header_read_timeout: Duration::MAX,
        request_body_timeout: Duration::MAX,
        idle_timeout: Duration::MAX,
        shutdown_deadline: Duration::MAX,
        ..limits()
    })
    .await;
    let mut c = Raw::connect(t.addr).await;
    for _ in 0..2 {
        c.send(GET_HEALTH).await;
        assert_eq!(c.reply().await.status, 200);
    }
}

#[tokio::test]
async fn at_the_connection_limit_new_clients_wait_and_are_served_once_a_slot_frees() {
    let t = TestApp::spawn_with(ServerLimits {
        max_connections: 2,
        ..limits()
    })
    .await;
    // Two kept-alive connections, known to be accepted since they were answered.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = Raw::connect(t.addr).await;
        c.send(GET_HEALTH).await;
        assert_eq!(c.reply().await.status, 200);
        held.push(c);
    }
    let mut third = Raw::connect(t.addr).await;
    third
        .send("GET /healthz HTTP/1.1\r\nhost: keyward\r\nconnection: close\r\n\r\n")
        .await;
    let early = tokio::time::timeout(ms(500), third.reply()).await;
    assert!(early.is_err(), "served beyond the limit: {early:?}");

    drop(held.pop());
    let reply = tokio::time::timeout(Duration::from_secs(5), third.reply())
        .await
        .expect("served once a connection closed");
    assert_eq!(reply.status, 200);
    third.closed_within(Duration::from_secs(5)).await;
    // And the server goes on answering.
    for _ in 0..3 {
        let r = t.send(t.request(reqwest::Method::GET, "/healthz")).await;
        assert_eq!(r.status, 200);
    }
}

#[tokio::test]
async fn a_connection_that_times_out_frees_its_slot() {
    // Idle clients filling every slot cannot keep the server from answering for long.
    let t = TestApp::spawn_with(ServerLimits {
        max_connections: 1,
        header_read_timeout: ms(300),
        ..limits()
    })
    .await;
    let _silent = Raw::connect(t.addr).await;
    let start = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let status = client
        .get(format!("{}/healthz", t.url))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert!(
        start.elapsed() >= ms(200),
        "answered after {:?}, while the silent client held the only slot",
        start.elapsed()
    );
}

#[tokio::test]
async fn shutdown_closes_a_stalled_client_at_the_deadline_and_returns() {
    // SIGTERM must complete even while a client holds a partial request.
    let mut t = TestApp::spawn_with(ServerLimits {
        shutdown_deadline: ms(500),
        ..limits()
    })
    .await;
    let mut stalled = Raw::connect(t.addr).await;
    stalled.send("GET /healthz HTTP/1.1\r\nhost: kew").await;
    // The server has accepted it once it answers another request after it.
    t.send(t.request(reqwest::Method::GET, "/healthz")).await;
    let start = Instant::now();
    let served = t.shut_down();
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("launch returned")
        .unwrap();
    let took = start.elapsed();
    assert!(
        took >= ms(400),
        "returned after {took:?}, before the deadline"
    );
    stalled.closed_within(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn shutdown_refuses_new_connections_and_lets_requests_under_way_finish() {
    let mut t = TestApp::spawn_with(limits()).await;
    // An idle kept-alive connection: closed at once.
    let mut idle = Raw::connect(t.addr).await;
    idle.send(GET_HEALTH).await;
    assert_eq!(idle.reply().await.status, 200);
    // A request under way: its body is still coming.
    let body = r#"{"name": "Finishing"}"#;
    let mut busy = Raw::connect(t.addr).await;
    busy.send(&post_head(&t, "/v1/orgs", body.len())).await;
    busy.send(&body[..5]).await;
    tokio::time::sleep(ms(200)).await;

    let start = Instant::now();
    let served = t.shut_down();
    idle.closed_within(Duration::from_secs(2)).await;
    let refused = async {
        loop {
            if tokio::net::TcpStream::connect(t.addr).await.is_err() {
                break;
            }
            tokio::time::sleep(ms(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(2), refused)
        .await
        .expect("new connections are refused");

    busy.send(&body[5..]).await;
    let reply = busy.reply().await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.header("connection"), Some("close"));
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("launch returned")
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "did not wait for the 30 s deadline"
    );
}
