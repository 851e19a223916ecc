//! Rate limits across nodes: several `keyward serve` processes sharing a PostgreSQL
//! database and Redis ([`crate::cluster`]) admit a key's limit once between them, and
//! behave as `redis_unreachable` says when Redis goes away.

use crate::cluster::{block_on, redis_url, Cluster, Setup};

/// A config whose only plan allows `limit` requests a day per key: no refill during a
/// test (one request every 86,400 s / limit).
fn daily_limit(limit: u32) -> String {
    format!(
        r#"default_plan = "pro"
[plans.pro]
api_access = true
rate_limits = [{{ name = "default", limit = {limit}, period = "1d" }}]
"#
    )
}

/// Organization `Acme` on the configured default plan, and a key of it that may read
/// everything, made through the CLI on the cluster's database.
fn acme_key(c: &Cluster) -> String {
    c.json(&["org", "create", "Acme"]);
    c.json(&[
        "keys", "create", "--org", "Acme", "--name", "load", "--grant", "*:*:read",
    ])["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sends `per_node` GET /v1/me with `key` to every node at once, `concurrency`
/// connections per node: how many answers had each status.
fn load(urls: &[String], key: &str, per_node: usize, concurrency: usize) -> Vec<(u16, usize)> {
    let statuses = block_on(async {
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for url in urls {
            for _ in 0..concurrency {
                let (client, url, key) = (client.clone(), url.clone(), key.to_owned());
                let n = per_node / concurrency;
                tasks.push(tokio::spawn(async move {
                    let mut got = Vec::with_capacity(n);
                    for _ in 0..n {
                        let r = client
                            .get(format!("{url}/v1/me"))
                            .bearer_auth(&key)
                            .send()
                            .await
                            .unwrap();
                        got.push(r.status().as_u16());
                    }
                    got
                }));
            }
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let mut counts: Vec<(u16, usize)> = Vec::new();
    for s in statuses {
        match counts.iter_mut().find(|(status, _)| *status == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((s, 1)),
        }
    }
    counts.sort();
    counts
}

/// A key's rate limit of N holds across nodes with Redis: three `keyward serve`
/// processes on one database, hit at once from 12 connections with three times N
/// requests, admit N between them (the issue allows up to N × 1.01; the script is
/// atomic, so it is exactly N), and every other answer is a 429.
#[test]
fn a_rate_limit_of_n_holds_across_three_nodes_under_concurrent_load() {
    let n = 300;
    // Closed, with a long timeout: a check Redis did not decide (a timeout on this
    // shared 2-core machine) is a 503 that fails the test, rather than a silent
    // fallback to per-node limits; this test is about the script's exactness.
    let config = daily_limit(n);
    let c = Cluster::start_with(
        3,
        Setup {
            config: Some(&config),
            redis: Some(redis_url()),
            env: &[
                ("KEYWARD_REDIS_UNREACHABLE", "closed"),
                ("KEYWARD_REDIS_TIMEOUT", "2s"),
            ],
        },
    );
    let key = acme_key(&c);
    let urls: Vec<String> = c.nodes.iter().map(|node| node.url()).collect();
    let counts = load(&urls, &key, n as usize, 4);
    let admitted = counts
        .iter()
        .find(|(s, _)| *s == 200)
        .map_or(0, |(_, n)| *n);
    let refused = counts
        .iter()
        .find(|(s, _)| *s == 429)
        .map_or(0, |(_, n)| *n);
    let n = n as usize;
    assert!(
        (n..=n + n / 100).contains(&admitted),
        "{admitted} admitted for a limit of {n} across 3 nodes: {counts:?}"
    );
    assert_eq!(
        admitted + refused,
        counts.iter().map(|(_, k)| k).sum::<usize>(),
        "only 200 and 429: {counts:?}"
    );
    for node in &c.nodes {
        assert!(
            !node.logs().contains("Redis fails"),
            "no Redis failure was logged: {}",
            node.logs()
        );
    }
}

/// A Redis server of the test's own (no persistence) on a free port, stopped on drop:
/// for tests that take Redis away.
struct OwnRedis {
    child: std::process::Child,
    url: String,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = crate::serve::free_port();
        let mut child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        let url = format!("redis://127.0.0.1:{port}/0");
        let client = redis::Client::open(url.as_str()).unwrap();
        for _ in 0..100 {
            if client.get_connection().is_ok() {
                return OwnRedis { child, url };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// (status, Retry-After, body) of GET `path` on `url`, with `key` if given.
fn get(url: &str, path: &str, key: Option<&str>) -> (u16, Option<String>, String) {
    block_on(async {
        let mut r = reqwest::Client::new().get(format!("{url}{path}"));
        if let Some(key) = key {
            r = r.bearer_auth(key);
        }
        let r = r.send().await.unwrap();
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (r.status().as_u16(), retry, r.text().await.unwrap())
    })
}

/// When Redis goes away: a node with `redis_unreachable = "closed"` refuses requests
/// with keys with 503 `rate-limiter-unavailable` and `Retry-After`, and is not ready;
/// a node with `open` (the default) goes on with its own limits, ready but
/// `degraded`, and logs the failures once, not once per request.
#[test]
fn when_redis_goes_away_closed_nodes_refuse_and_open_nodes_fall_back_to_their_own_limits() {
    let mut redis = OwnRedis::start();
    let config = daily_limit(1_000);
    let mut c = Cluster::start_with(
        0,
        Setup {
            config: Some(&config),
            redis: Some(redis.url.clone()),
            ..Setup::default()
        },
    );
    let key = acme_key(&c);
    let closed = c
        .start_node(&[("KEYWARD_REDIS_UNREACHABLE", "closed")])
        .url();
    let open = c.start_node(&[]).url();
    for node in [&closed, &open] {
        assert_eq!(get(node, "/v1/me", Some(&key)).0, 200);
        assert!(get(node, "/readyz", None).2.contains("\"ready\""));
    }

    redis.stop();
    let (status, retry, body) = get(&closed, "/v1/me", Some(&key));
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("/docs/problems#rate-limiter-unavailable"),
        "{body}"
    );
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(get(&closed, "/readyz", None).0, 503);

    for _ in 0..50 {
        let (status, _, body) = get(&open, "/v1/me", Some(&key));
        assert_eq!(status, 200, "{body}");
    }
    let (status, _, body) = get(&open, "/readyz", None);
    assert_eq!(
        (status, body.contains("\"degraded\"")),
        (200, true),
        "{body}"
    );
    let logs = c.nodes[1].logs();
    let reports = logs.matches("Redis fails").count();
    assert_eq!(reports, 1, "failures are logged at most every 10 s: {logs}");
}
