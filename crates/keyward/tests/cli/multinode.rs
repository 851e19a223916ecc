//! Several nodes on one PostgreSQL database (issue 12): a change acknowledged by one
//! node is refused by the others within moments (LISTEN/NOTIFY), a node killed under
//! load loses nothing acknowledged and rejoins with a correct cache, and a node whose
//! notification connection is cut stops trusting its cache, says it is not ready, and
//! recovers.
//!
//! The nodes run with a 5-minute cache ttl, so that their poll of the change log
//! cannot be what makes them see a change within these tests' bounds: only the
//! notifications (or the cache being bypassed while they are down) can.
//!
//! Bounds are generous (1 s for a propagation): these tests hold behaviour on a busy
//! 2-core machine; the figures are measured by `bench/propagation.sh` on a release
//! build, and printed here for information (`--nocapture`).

use crate::cluster::{block_on, percentile, Cluster, Conn};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const TTL: (&str, &str) = ("KEYWARD_CACHE_TTL", "5m");
const BOUND: Duration = Duration::from_secs(1);

/// Checks `key` on `conn` until it is valid: a key made on another node a moment ago
/// may be `unknown` for a few milliseconds (a missing id is looked up in the change
/// log unless it was read in the last 5 ms), never anything else.
fn until_valid(conn: &mut Conn, admin: &str, key: &str) {
    let t0 = Instant::now();
    loop {
        match conn.check(admin, key).as_deref() {
            Some("valid") => return,
            Some("unknown") if t0.elapsed() < BOUND => {}
            other => panic!("a new key on another node: {other:?}"),
        }
    }
}

/// A thread polling one node: given a key and the moment a change was acknowledged,
/// it checks the key in a tight loop on its own connection until the outcome is no
/// longer `valid`, and answers how long that took and whether its very first check
/// (sent after the acknowledgement) already saw the change.
struct Poller {
    ask: mpsc::Sender<(String, Instant)>,
    answers: mpsc::Receiver<(Duration, bool, String)>,
}

impl Poller {
    fn on(addr: String, token: String) -> Poller {
        let (ask, asked) = mpsc::channel::<(String, Instant)>();
        let (tell, answers) = mpsc::channel();
        std::thread::spawn(move || {
            let mut conn = Conn::to(&addr);
            for (key, acked) in asked {
                let mut first = true;
                let mut first_saw = false;
                let outcome = loop {
                    let outcome = conn.check(&token, &key).expect("the node answers");
                    if outcome != "valid" {
                        first_saw = first;
                        break outcome;
                    }
                    first = false;
                    if acked.elapsed() > Duration::from_secs(10) {
                        break outcome;
                    }
                };
                if tell.send((acked.elapsed(), first_saw, outcome)).is_err() {
                    break;
                }
            }
        });
        Poller { ask, answers }
    }
}

/// Makes `rounds` changes through node 0 with `change` (given the key's id and
/// secret, it returns once the change is acknowledged), each to a fresh key cached
/// valid on nodes 1 and 2 beforehand, and measures when each of those nodes first
/// refuses the key, expecting `refused`.
fn propagation(
    c: &Cluster,
    rounds: usize,
    what: &str,
    refused: &str,
    change: impl Fn(&mut Conn, &str),
) {
    let org = format!("Org-{what}").replace(' ', "-");
    c.org(&org);
    let mut a = c.nodes[0].conn();
    let pollers: Vec<Poller> = c.nodes[1..]
        .iter()
        .map(|n| Poller::on(n.addr(), c.admin.clone()))
        .collect();
    let mut warm: Vec<Conn> = c.nodes[1..].iter().map(|n| n.conn()).collect();
    let mut times = Vec::new();
    let mut first_saw = 0;
    for _ in 0..rounds {
        let (id, key) = c.key(&mut a, &org);
        for w in &mut warm {
            // Cached on each node: a later refusal is the cache dropping it.
            until_valid(w, &c.admin, &key);
            assert_eq!(w.check(&c.admin, &key).as_deref(), Some("valid"));
        }
        change(&mut a, &id);
        let acked = Instant::now();
        for p in &pollers {
            p.ask.send((key.clone(), acked)).unwrap();
        }
        for p in &pollers {
            let (took, first, outcome) = p.answers.recv().unwrap();
            assert_eq!(outcome, refused, "{what}: the other node's answer");
            assert!(
                took < BOUND,
                "{what}: refused only {took:?} after the acknowledgement"
            );
            times.push(took);
            first_saw += usize::from(first);
        }
        // Deleted keys do not count against the plan's 25.
        a.admin(&c.admin, "DELETE", &format!("/v1/keys/{id}"), Value::Null)
            .expect(200);
    }
    times.sort();
    println!(
        "{what}: {} propagations to 2 other nodes: p50 {:?}, p99 {:?}, max {:?}; \
         the first check sent after the acknowledgement already saw it in {first_saw} of {}",
        times.len(),
        percentile(&times, 50),
        percentile(&times, 99),
        times.last().unwrap(),
        times.len(),
    );
}

/// Issue 12's promise: a revocation acknowledged on one node is refused on every
/// other node at once (here, within 1 s on a busy machine; measured figures in
/// BENCHMARKS.md), and so is a change to a key's grants: each through the other
/// nodes' caches, which held the key as valid.
#[test]
fn a_change_acknowledged_on_one_node_is_refused_by_the_others() {
    let c = Cluster::start(3, &[TTL]);
    let admin = c.admin.clone();
    propagation(&c, 60, "revoke", "revoked", |a, id| {
        a.admin(
            &admin,
            "POST",
            &format!("/v1/keys/{id}/revoke"),
            Value::Null,
        )
        .expect(200);
    });
    propagation(
        &c,
        40,
        "grant change",
        "insufficient_permission",
        |a, id| {
            a.admin(
            &admin,
            "PATCH",
            &format!("/v1/keys/{id}"),
            json!({ "grants": [{ "project": "Other", "environment": "production", "level": "read" }] }),
        )
        .expect(200);
        },
    );
}

/// A node killed (SIGKILL) under load: the others keep answering every check and
/// every change without an error; every change they acknowledged is there afterwards,
/// on every node; and the killed node, started again, answers from a correct cache,
/// a change made while it was down included.
#[test]
fn a_node_killed_under_load_loses_nothing_and_rejoins_with_a_correct_cache() {
    let mut c = Cluster::start(3, &[TTL]);
    c.org("Acme");
    let mut a = c.nodes[0].conn();
    let keys: Vec<(String, String)> = (0..20).map(|_| c.key(&mut a, "Acme")).collect();
    // Every node caches every key.
    for n in &c.nodes {
        let mut conn = n.conn();
        for (_, key) in &keys {
            until_valid(&mut conn, &c.admin, key);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicUsize::new(0));
    let revoked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut threads = Vec::new();
    // Checks on nodes 1 and 2, two connections each: never an error.
    for n in &c.nodes[1..] {
        for _ in 0..2 {
            let (addr, admin, keys) = (n.addr(), c.admin.clone(), keys.clone());
            let (stop, checks) = (stop.clone(), checks.clone());
            threads.push(std::thread::spawn(move || {
                let mut conn = Conn::to(&addr);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let outcome = conn.check(&admin, &keys[i % keys.len()].1);
                    assert!(
                        matches!(outcome.as_deref(), Some("valid" | "revoked")),
                        "{addr}: {outcome:?}"
                    );
                    checks.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            }));
        }
    }
    // Load on node 0 too, until it dies: errors there are expected.
    {
        let (addr, admin, key) = (c.nodes[0].addr(), c.admin.clone(), keys[0].1.clone());
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut conn = Conn::to(&addr);
            while !stop.load(Ordering::Relaxed) {
                if conn.check(&admin, &key).is_none() {
                    break;
                }
            }
        }));
    }
    // Revocations through nodes 1 and 2, in turn; each acknowledged one is noted.
    let changer = {
        let addrs: Vec<String> = c.nodes[1..].iter().map(|n| n.addr()).collect();
        let (admin, keys, revoked, stop) =
            (c.admin.clone(), keys.clone(), revoked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut conns: Vec<Conn> = addrs.iter().map(|a| Conn::to(a)).collect();
            // Keys 0 and 1 stay valid: they show a correct cache keeps what holds.
            for (i, (id, key)) in keys.iter().enumerate().skip(2) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let conn = &mut conns[i % 2];
                conn.admin(
                    &admin,
                    "POST",
                    &format!("/v1/keys/{id}/revoke"),
                    Value::Null,
                )
                .expect(200);
                revoked.lock().unwrap().push((id.clone(), key.clone()));
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // Killed mid-load: after some revocations were acknowledged, before the rest.
    let t0 = Instant::now();
    while revoked.lock().unwrap().len() < 5 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "revocations are slow"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    c.nodes[0].kill9();
    let killed_at = revoked.lock().unwrap().len();
    changer.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("no check on the surviving nodes failed");
    }
    let revoked = revoked.lock().unwrap().clone();
    assert!(
        killed_at < revoked.len(),
        "changes were made after the kill ({killed_at} before, {} in all)",
        revoked.len()
    );
    println!(
        "{} checks on the surviving nodes, {} revocations ({killed_at} before the kill)",
        checks.load(Ordering::Relaxed),
        revoked.len()
    );

    // One more change while node 0 is down.
    let (down_id, down_key) = &keys[1];
    c.nodes[1]
        .conn()
        .admin(
            &c.admin,
            "POST",
            &format!("/v1/keys/{down_id}/revoke"),
            Value::Null,
        )
        .expect(200);
    c.restart(0);
    for n in &c.nodes {
        let mut conn = n.conn();
        for (id, key) in revoked
            .iter()
            .chain([(down_id.clone(), down_key.clone())].iter())
        {
            assert_eq!(
                conn.check(&c.admin, key).as_deref(),
                Some("revoked"),
                "node {}: {id} was acknowledged revoked",
                n.port
            );
            let shown = conn
                .admin(&c.admin, "GET", &format!("/v1/keys/{id}"), Value::Null)
                .expect(200);
            assert_eq!(shown.body["status"], "revoked");
        }
        assert_eq!(conn.check(&c.admin, &keys[0].1).as_deref(), Some("valid"));
    }
}

/// Terminates the listening connection of node process `pid`; how many there were.
fn terminate_listener(c: &Cluster, pid: u32) -> usize {
    block_on(async {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND datname = $2",
        )
        .bind(format!("keyward-listener pid={pid}"))
        .bind(c.database_name())
        .fetch_all(&mut admin)
        .await
        .unwrap();
        killed.into_iter().filter(|k| *k).count()
    })
}

/// Where the tests' databases are made (see `keyward_store::testing`).
fn admin_url() -> String {
    std::env::var("KEYWARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| keyward_store::testing::DEFAULT_ADMIN_URL.to_owned())
}

/// Whether new connections to the cluster's database are allowed (the nodes keep
/// the ones they hold).
fn allow_connections(c: &Cluster, allow: bool) {
    block_on(async {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
        sqlx::query(&format!(
            "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS {allow}",
            c.database_name()
        ))
        .execute(&mut admin)
        .await
        .unwrap();
    })
}

/// A node whose notification connection is cut cannot learn of changes made
/// elsewhere: from that moment it bypasses its cache (a key revoked on another node
/// is refused at once, though its cache held it valid and its ttl is 5 minutes), its
/// /readyz says it is not ready and why, and once it listens again and has caught up
/// it is ready and follows changes as before.
#[test]
fn a_node_that_loses_its_notifications_bypasses_its_cache_until_it_has_caught_up() {
    let c = Cluster::start(2, &[TTL]);
    c.org("Acme");
    let mut a = c.nodes[0].conn();
    let mut b = c.nodes[1].conn();
    let (id, key) = c.key(&mut a, "Acme");
    let (other_id, other) = c.key(&mut a, "Acme");
    for k in [&key, &other] {
        until_valid(&mut b, &c.admin, k);
    }

    // The listener cannot come back while new connections are refused; the node's
    // pool keeps the connections it holds. It holds only as many as it has needed at
    // once, and while the listener is down its change-log reads, /readyz and the
    // checks below each take one: open several first, so that the node under test
    // reads its database with the connections it has, as a node that has been
    // serving would, rather than fail to open one more.
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                let mut conn = c.nodes[1].conn();
                for _ in 0..20 {
                    conn.admin(&c.admin, "GET", "/v1/orgs", Value::Null)
                        .expect(200);
                }
            });
        }
    });
    allow_connections(&c, false);
    assert_eq!(terminate_listener(&c, c.nodes[1].pid()), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let down = loop {
        let r = b.try_send("GET", "/readyz", None, None).unwrap();
        if r.status == 503 {
            break r;
        }
        assert!(Instant::now() < deadline, "readyz still {}", r.body);
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        down.body["type"], "/docs/problems#unavailable",
        "{}",
        down.body
    );
    let components = down.body["components"].as_array().unwrap();
    let notifications = components
        .iter()
        .find(|c| c["name"] == "notifications")
        .expect("the notification connection is reported");
    assert_eq!(notifications["status"], "down", "{}", down.body);
    assert!(components
        .iter()
        .any(|c| c["name"] == "database" && c["status"] == "up"));

    a.admin(
        &c.admin,
        "POST",
        &format!("/v1/keys/{id}/revoke"),
        Value::Null,
    )
    .expect(200);
    assert_eq!(
        b.check(&c.admin, &key).as_deref(),
        Some("revoked"),
        "the first check after the acknowledgement, on the node that cannot hear it"
    );
    assert_eq!(b.check(&c.admin, &other).as_deref(), Some("valid"));

    allow_connections(&c, true);
    c.wait_ready(1);
    let r = b
        .try_send("GET", "/readyz", None, None)
        .unwrap()
        .expect(200);
    assert_eq!(r.body["status"], "ready");
    // Following again: a revocation reaches B's (trusted again) cache.
    assert_eq!(b.check(&c.admin, &other).as_deref(), Some("valid"));
    a.admin(
        &c.admin,
        "POST",
        &format!("/v1/keys/{other_id}/revoke"),
        Value::Null,
    )
    .expect(200);
    let t0 = Instant::now();
    while b.check(&c.admin, &other).as_deref() == Some("valid") {
        assert!(t0.elapsed() < BOUND, "B follows changes again");
    }
    let logs = c.nodes[1].logs();
    assert!(logs.contains("lost the listening connection"), "{logs}");
}
