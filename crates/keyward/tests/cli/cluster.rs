//! Several `keyward serve` processes sharing one PostgreSQL database, as an operator
//! runs them behind a load balancer: a [`Cluster`] makes a fresh database, runs
//! `keyward migrate` once, and starts each node on a loopback port of its own with
//! migrate_on_start off; it kills the nodes and drops the database when it goes. With
//! [`Setup::redis`], the nodes keep their rate limits in that Redis under a key prefix
//! of the cluster's own, whose keys are deleted when it goes.
//!
//! Nodes are talked to over plain HTTP/1.1 keep-alive connections ([`Conn`]), one per
//! thread, so that timing a propagation measures keyward, not process spawns.

use keyward_store::testing::TestDatabase;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The pepper every node shares: a key made on one verifies on all.
const PEPPER: &str = "1:clusterTestPepper0123456789abcdefghijklmnopq";

pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub(crate) struct Node {
    child: Option<Child>,
    pub(crate) port: u16,
    dir: PathBuf,
    /// This node's settings on top of the cluster's.
    more: Vec<(String, String)>,
}

impl Node {
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// A new keep-alive connection to this node.
    pub(crate) fn conn(&self) -> Conn {
        Conn::to(&self.addr())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// Kills the node outright (SIGKILL: no clean stop).
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The Redis the tests share, unless `KEYWARD_TEST_REDIS_URL` names another.
pub(crate) fn redis_url() -> String {
    std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// What every node of a cluster shares besides the database.
#[derive(Default)]
pub(crate) struct Setup<'a> {
    /// The config file's text (plans, ...), if any.
    pub(crate) config: Option<&'a str>,
    /// A Redis URL for the rate limits, if any.
    pub(crate) redis: Option<String>,
    /// More settings, as environment variables.
    pub(crate) env: &'a [(&'a str, &'a str)],
}

pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Node>,
    /// An operator admin token, for the management and verify APIs of every node.
    pub(crate) admin: String,
    env: Vec<(String, String)>,
    redis: Option<(String, String)>,
    dir: tempfile::TempDir,
    db: TestDatabase,
}

impl Cluster {
    /// `n` nodes; `env` is given to each (such as `KEYWARD_CACHE_TTL`).
    pub(crate) fn start(n: usize, env: &[(&str, &str)]) -> Cluster {
        Cluster::start_with(
            n,
            Setup {
                env,
                ..Setup::default()
            },
        )
    }

    /// `n` nodes sharing `setup`.
    pub(crate) fn start_with(n: usize, setup: Setup) -> Cluster {
        let db = block_on(TestDatabase::create());
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(String, String)> = Vec::new();
        if let Some(config) = setup.config {
            let path = dir.path().join("keyward.toml");
            std::fs::write(&path, config).unwrap();
            env.push(("KEYWARD_CONFIG".into(), path.display().to_string()));
        }
        let redis = setup.redis.map(|url| {
            let prefix = format!("keyward-test-{}:", db.name());
            env.push(("KEYWARD_REDIS_URL".into(), url.clone()));
            env.push(("KEYWARD_REDIS_KEY_PREFIX".into(), prefix.clone()));
            (url, prefix)
        });
        env.extend(
            setup
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let mut cluster = Cluster {
            nodes: Vec::new(),
            admin: String::new(),
            env,
            redis,
            dir,
            db,
        };
        std::fs::create_dir_all(cluster.dir.path().join("cli")).unwrap();
        let migrated = cluster.cli(&["migrate"]);
        assert!(migrated.contains("applied"), "{migrated}");
        cluster.admin = cluster
            .cli(&["admin", "tokens", "create", "--name", "cluster"])
            .trim()
            .to_owned();
        for i in 0..n {
            let node = cluster.spawn(i, crate::serve::free_port(), Vec::new());
            cluster.nodes.push(node);
        }
        for i in 0..n {
            cluster.wait_ready(i);
        }
        cluster
    }

    pub(crate) fn database_name(&self) -> &str {
        self.db.name()
    }

    /// The environment every keyward of the cluster runs with.
    fn command(&self, data: &std::path::Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyward"));
        for var in [
            "KEYWARD_CONFIG",
            "KEYWARD_URL",
            "KEYWARD_TOKEN",
            "KEYWARD_DATABASE_MAX_CONNECTIONS",
        ] {
            c.env_remove(var);
        }
        c.env("KEYWARD_DATABASE_URL", self.db.url())
            .env("KEYWARD_PEPPER", PEPPER)
            .env("KEYWARD_DATA_DIR", data)
            .env("KEYWARD_MIGRATE_ON_START", "false")
            .env("KEYWARD_LOG", "warn")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    /// Starts one more node, with `more` on top of the cluster's settings; waits until
    /// it is ready.
    pub(crate) fn start_node(&mut self, more: &[(&str, &str)]) -> &Node {
        let i = self.nodes.len();
        let more = more
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let node = self.spawn(i, crate::serve::free_port(), more);
        self.nodes.push(node);
        self.wait_ready(i);
        &self.nodes[i]
    }

    /// Runs a command of the CLI on the shared database that must succeed; its
    /// `--json` output.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.cli(&all)).unwrap()
    }

    /// Runs a command of the CLI on the shared database; its stdout.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let out = self
            .command(&self.dir.path().join("cli"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn spawn(&self, i: usize, port: u16, more: Vec<(String, String)>) -> Node {
        let dir = self.dir.path().join(format!("node{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = self
            .command(&dir.join("data"))
            .envs(more.iter().map(|(k, v)| (k, v)))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        Node {
            child: Some(child),
            port,
            dir,
            more,
        }
    }

    /// Waits (up to 30 s) until node `i` answers `/readyz` with 200: serving, and on
    /// PostgreSQL listening for changes and caught up.
    pub(crate) fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(r) = Conn::try_to(&self.nodes[i].addr())
                .and_then(|mut c| c.try_send("GET", "/readyz", None, None))
            {
                if r.status == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {i} not ready within 30 s:\n{}",
                self.nodes[i].logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts node `i` again (after [`Node::kill9`]) on its port and data directory.
    pub(crate) fn restart(&mut self, i: usize) {
        let port = self.nodes[i].port;
        let more = std::mem::take(&mut self.nodes[i].more);
        let node = self.spawn(i, port, more);
        self.nodes[i] = node;
        self.wait_ready(i);
    }

    /// An organization on the `max` plan (25 keys) with projects `Website` and
    /// `Other`, made through node 0.
    pub(crate) fn org(&self, name: &str) {
        let mut c = self.nodes[0].conn();
        c.admin(
            &self.admin,
            "POST",
            "/v1/orgs",
            json!({ "name": name, "plan": "max" }),
        )
        .expect(201);
        c.admin(
            &self.admin,
            "POST",
            &format!("/v1/orgs/{name}/projects"),
            json!({ "name": "Website" }),
        )
        .expect(201);
        c.admin(
            &self.admin,
            "POST",
            &format!("/v1/orgs/{name}/projects"),
            json!({ "name": "Other" }),
        )
        .expect(201);
    }

    /// A key of `org` that may read Website's production data, made through node 0:
    /// (id, key).
    pub(crate) fn key(&self, conn: &mut Conn, org: &str) -> (String, String) {
        let r = conn
            .admin(
                &self.admin,
                "POST",
                "/v1/keys",
                json!({ "org": org, "name": "cluster",
                        "grants": [{ "project": "Website", "environment": "production", "level": "read" }] }),
            )
            .expect(201);
        (
            r.body["id"].as_str().unwrap().to_owned(),
            r.body["key"].as_str().unwrap().to_owned(),
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The nodes first (their Drop kills them), then the Redis keys they wrote; the
        // database goes with its own Drop.
        self.nodes.clear();
        let Some((url, prefix)) = &self.redis else {
            return;
        };
        let Ok(client) = redis::Client::open(url.as_str()) else {
            return;
        };
        if let Ok(mut c) = client.get_connection() {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query(&mut c)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(keys).query(&mut c);
            }
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Reply {
    #[track_caller]
    pub(crate) fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }
}

/// One HTTP/1.1 keep-alive connection, reconnecting if the server closed it.
pub(crate) struct Conn {
    addr: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    pub(crate) fn to(addr: &str) -> Conn {
        Conn::try_to(addr).unwrap_or_else(|| panic!("cannot connect to {addr}"))
    }

    pub(crate) fn try_to(addr: &str) -> Option<Conn> {
        let mut c = Conn {
            addr: addr.to_owned(),
            stream: None,
        };
        c.connect().then_some(c)
    }

    fn connect(&mut self) -> bool {
        match TcpStream::connect(&self.addr) {
            Ok(s) => {
                s.set_nodelay(true).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                self.stream = Some(BufReader::new(s));
                true
            }
            Err(_) => false,
        }
    }

    /// Sends a request; `None` when the node cannot be reached or the connection
    /// broke (one reconnection is tried first, for a keep-alive the server closed).
    pub(crate) fn try_send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Option<Reply> {
        for _ in 0..2 {
            if self.stream.is_none() && !self.connect() {
                return None;
            }
            match self.once(method, path, token, body) {
                Ok(r) => return Some(r),
                Err(_) => self.stream = None,
            }
        }
        None
    }

    fn once(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> std::io::Result<Reply> {
        let stream = self.stream.as_mut().unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.addr);
        if let Some(t) = token {
            req.push_str(&format!("authorization: Bearer {t}\r\n"));
        }
        if !body.is_empty() {
            req.push_str("content-type: application/json\r\n");
        }
        req.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        stream.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        if stream.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or(std::io::ErrorKind::InvalidData)?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            if stream.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            if name.eq_ignore_ascii_case("connection") && value.trim() == "close" {
                close = true;
            }
        }
        let mut buf = vec![0; length];
        stream.read_exact(&mut buf)?;
        if close {
            self.stream = None;
        }
        Ok(Reply {
            status,
            body: serde_json::from_slice(&buf).unwrap_or(Value::Null),
        })
    }

    /// A request with the admin token that must reach the node.
    pub(crate) fn admin(&mut self, token: &str, method: &str, path: &str, body: Value) -> Reply {
        let body = (!body.is_null()).then_some(body);
        self.try_send(method, path, Some(token), body.as_ref())
            .unwrap_or_else(|| panic!("{method} {path}: no answer from {}", self.addr))
    }

    /// The outcome of checking `key` for a read of Website's production data; `None`
    /// when the node did not answer 200.
    pub(crate) fn check(&mut self, token: &str, key: &str) -> Option<String> {
        let body = json!({ "key": key, "project": "Website", "environment": "production",
                           "method": "GET", "cost": 0 });
        let r = self.try_send("POST", "/v1/keys/verify", Some(token), Some(&body))?;
        (r.status == 200).then(|| r.body["outcome"].as_str().unwrap_or("").to_owned())
    }
}

/// The `p`th percentile (0..=100) of `sorted`.
pub(crate) fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = (sorted.len() * p).div_ceil(100).saturating_sub(1);
    sorted[i.min(sorted.len() - 1)]
}
