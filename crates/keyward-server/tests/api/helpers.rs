//! A real keyward server per test: a fresh database, port 0, a real HTTP client. The
//! database is a SQLite file, or, with `KEYWARD_TEST_DATABASE=postgres`, a fresh
//! PostgreSQL database (dropped after the test; see `keyward_store::testing`), so the
//! whole suite runs against either backend (scripts/test.sh runs it on both).
//! Logs of every test in this process go to one buffer, so tests can assert that no
//! secret ever reaches a log line.

use keyward_app::{Keyward, ManualClock, Principal, Settings};
use keyward_core::{Actor, PepperSet};
use keyward_server::{AppState, MetricsAccess, ServerLimits, TrustedProxies};
use keyward_store::faults::Faults;
use keyward_store::testing::TestDatabase;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use time::OffsetDateTime;

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once per process, a subscriber that records everything at TRACE level.
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(buffer.clone());
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    })
    .clone()
}

pub fn logs() -> String {
    String::from_utf8_lossy(&capture_logs().lock().unwrap()).into_owned()
}

pub struct TestApp {
    pub url: String,
    /// The listening address, for raw TCP clients.
    pub addr: std::net::SocketAddr,
    pub client: reqwest::Client,
    pub app: Keyward,
    pub clock: Arc<ManualClock>,
    /// An operator admin token.
    pub admin: String,
    /// Every response body this test received, to search for leaked secrets.
    pub bodies: Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
    /// The PostgreSQL database, when the suite runs on PostgreSQL.
    db: Option<TestDatabase>,
    /// Dropping it (with the app) shuts the server down.
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The problem `type` slug, such as `not-found`.
    pub fn problem(&self) -> &str {
        self.body["type"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("/docs/problems#")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, printing the body if it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        if status >= 400 {
            assert_eq!(
                self.header("content-type"),
                Some("application/problem+json"),
                "{}",
                self.text
            );
            assert_eq!(self.body["status"], status, "{}", self.text);
            assert!(
                self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{}",
                self.text
            );
        }
        self
    }
}

/// The backend the suite runs on, from `KEYWARD_TEST_DATABASE`: `sqlite` (the
/// default) or `postgres`.
pub fn on_postgres() -> bool {
    match std::env::var("KEYWARD_TEST_DATABASE").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => false,
        Ok("postgres") => true,
        Ok(other) => panic!("KEYWARD_TEST_DATABASE is '{other}': use sqlite or postgres"),
    }
}

pub const PEPPER: &str = "http-test-pepper-0123456789abcdefghijklmnopqr";

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_configured(ServerLimits::default(), Faults::new()).await
    }

    /// A server with these timeouts and connection limit.
    pub async fn spawn_with(limits: ServerLimits) -> TestApp {
        TestApp::spawn_configured(limits, Faults::new()).await
    }

    /// A server whose store can be slowed or stalled by the test through `faults`.
    pub async fn spawn_with_faults(faults: Arc<Faults>) -> TestApp {
        TestApp::spawn_configured(ServerLimits::default(), faults).await
    }

    pub async fn spawn_configured(limits: ServerLimits, faults: Arc<Faults>) -> TestApp {
        TestApp::spawn_all(limits, faults, |s| s, |_| {}).await
    }

    /// A server whose `/metrics` is served and guarded as `access` says.
    pub async fn spawn_with_metrics(access: MetricsAccess) -> TestApp {
        let shape = |s: AppState| AppState {
            metrics: Arc::new(access),
            ..s
        };
        TestApp::spawn_all(ServerLimits::default(), Faults::new(), shape, |_| {}).await
    }

    /// A server that believes `X-Forwarded-For` from these proxies.
    pub async fn spawn_behind(proxies: &[&str]) -> TestApp {
        let proxies = TrustedProxies::parse(proxies).unwrap();
        let shape = |s: AppState| s.behind(proxies);
        TestApp::spawn_all(ServerLimits::default(), Faults::new(), shape, |_| {}).await
    }

    /// A server whose state `shape` changed first, such as its public URL.
    pub async fn spawn_shaped(shape: impl FnOnce(AppState) -> AppState) -> TestApp {
        TestApp::spawn_all(ServerLimits::default(), Faults::new(), shape, |_| {}).await
    }

    /// A server whose settings `tune` changed first, such as its plans.
    pub async fn spawn_tuned(tune: impl FnOnce(&mut Settings)) -> TestApp {
        TestApp::spawn_all(ServerLimits::default(), Faults::new(), |s| s, tune).await
    }

    /// A server with these limits and store faults, its state shaped by `shape` and
    /// its settings by `tune`.
    async fn spawn_all(
        limits: ServerLimits,
        faults: Arc<Faults>,
        shape: impl FnOnce(AppState) -> AppState,
        tune: impl FnOnce(&mut Settings),
    ) -> TestApp {
        capture_logs();
        let dir = tempfile::tempdir().unwrap();
        let db = if on_postgres() {
            Some(TestDatabase::create().await)
        } else {
            None
        };
        let url = match &db {
            Some(db) => db.url().to_owned(),
            None => format!("sqlite://{}", dir.path().join("keyward.db").display()),
        };
        let store = keyward_store::open_with_faults(&url, faults).await.unwrap();
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let mut settings = Settings::new(PepperSet::parse(PEPPER).unwrap());
        tune(&mut settings);
        let app = Keyward::new(store, settings, clock.clone());
        let admin = app
            .create_admin_token(&Principal::operator(Actor::Cli("test".into())), "tests")
            .await
            .unwrap()
            .secret
            .expose_secret()
            .to_owned();
        // As keyward serve does: made-up keys are answered from the known ids.
        app.build_known_ids().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = shape(AppState::new(app.clone()));
        let served = tokio::spawn(keyward_server::launch(state, listener, limits, async {
            rx.await.ok();
        }));
        TestApp {
            url,
            addr,
            client: reqwest::Client::new(),
            app,
            clock,
            admin,
            bodies: Mutex::new(Vec::new()),
            _dir: dir,
            db,
            shutdown: Some(tx),
            served: Some(served),
        }
    }

    /// Asks the server to shut down; the handle completes when `launch` has returned.
    pub fn shut_down(&mut self) -> tokio::task::JoinHandle<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.served.take().expect("shut down once")
    }

    async fn reply(&self, response: Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        self.bodies.lock().unwrap().push(text.clone());
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{}", self.url, path))
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> Reply {
        self.reply(builder.send().await.unwrap()).await
    }

    /// A request with a bearer credential and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        credential: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut b = self.request(method, path).bearer_auth(credential);
        if let Some(body) = body {
            b = b.json(&body);
        }
        self.send(b).await
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, &self.admin.clone(), body).await
    }

    /// Creates an organization with a project `Website`; returns the org id.
    pub async fn org(&self, name: &str) -> String {
        let org = self
            .admin(Method::POST, "/v1/orgs", Some(json!({ "name": name })))
            .await
            .expect(201);
        self.admin(
            Method::POST,
            &format!("/v1/orgs/{name}/projects"),
            Some(json!({ "name": "Website" })),
        )
        .await
        .expect(201);
        org.body["id"].as_str().unwrap().to_owned()
    }

    /// The id of the organization with this name.
    pub async fn org_id(&self, name: &str) -> String {
        let org = self
            .admin(Method::GET, &format!("/v1/orgs/{name}"), None)
            .await
            .expect(200);
        org.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a key as the operator; returns (id, full key).
    pub async fn key(&self, org: &str, body: Value) -> (String, String) {
        let mut body = body;
        body["org"] = org.into();
        if body.get("name").is_none() {
            body["name"] = "test key".into();
        }
        let r = self
            .admin(Method::POST, "/v1/keys", Some(body))
            .await
            .expect(201);
        (
            r.body["id"].as_str().unwrap().to_owned(),
            r.body["key"].as_str().unwrap().to_owned(),
        )
    }

    /// Runs SQL on the server's database behind its back: to break it on purpose.
    pub async fn sabotage(&self, sql: &str) {
        use sqlx::Connection;
        match &self.db {
            Some(db) => {
                let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            }
            None => {
                let url = format!("sqlite://{}", self._dir.path().join("keyward.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            }
        }
    }

    /// Drops a table of the server's database behind its back, whatever refers to it.
    pub async fn drop_table(&self, table: &str) {
        match &self.db {
            Some(_) => self.sabotage(&format!("DROP TABLE {table} CASCADE;")).await,
            None => {
                self.sabotage(&format!("PRAGMA foreign_keys = OFF; DROP TABLE {table};"))
                    .await
            }
        }
    }

    /// Everything the server's database holds, to search for secrets: the SQLite files
    /// (the database, its log and shared memory) byte for byte, or every row of every
    /// PostgreSQL table in its text form.
    pub async fn database_bytes(&self) -> Vec<u8> {
        use sqlx::Connection;
        let mut bytes = Vec::new();
        match &self.db {
            Some(db) => {
                let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                )
                .fetch_all(&mut conn)
                .await
                .unwrap();
                assert!(tables.len() > 10, "{tables:?}");
                for table in tables {
                    let rows: Vec<String> =
                        sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                            .fetch_all(&mut conn)
                            .await
                            .unwrap();
                    for row in rows {
                        bytes.extend(row.into_bytes());
                    }
                }
            }
            None => {
                for entry in std::fs::read_dir(self._dir.path()).unwrap() {
                    bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
                }
            }
        }
        bytes
    }

    /// Every response body received so far, joined.
    pub fn all_bodies(&self) -> String {
        self.bodies.lock().unwrap().join("\n")
    }
}

pub fn grant(project: &str, environment: &str, level: &str) -> Value {
    json!({ "project": project, "environment": environment, "level": level })
}

/// A hand-driven HTTP/1.1 connection, for clients that misbehave on purpose: half a
/// header, a body that stops, a connection kept and never used.
pub struct Raw {
    pub stream: tokio::net::TcpStream,
    read: Vec<u8>,
}

/// One answer read off a [`Raw`] connection.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// The status line and headers, header names lowercased.
    pub head: String,
    pub body: String,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            (n == name).then(|| v.trim())
        })
    }
}

impl Raw {
    pub async fn connect(addr: std::net::SocketAddr) -> Raw {
        Raw {
            stream: tokio::net::TcpStream::connect(addr).await.unwrap(),
            read: Vec::new(),
        }
    }

    pub async fn send(&mut self, text: &str) {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(text.as_bytes()).await.unwrap();
    }

    /// Reads bytes; `None` when the server closed the connection.
    async fn fill(&mut self) -> Option<()> {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                self.read.extend_from_slice(&chunk[..n]);
                Some(())
            }
        }
    }

    /// Reads one answer (bodies with a content-length only, as keyward sends them).
    pub async fn reply(&mut self) -> RawReply {
        let end = loop {
            if let Some(i) = self.read.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill()
                .await
                .expect("the server closed before answering");
        };
        let head = String::from_utf8_lossy(&self.read[..end]).into_owned();
        let head = head
            .lines()
            .map(|l| match l.split_once(':') {
                Some((n, v)) => format!("{}:{v}", n.to_ascii_lowercase()),
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let mut reply = RawReply {
            status,
            head,
            body: String::new(),
        };
        let length: usize = reply
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        while self.read.len() < end + 4 + length {
            self.fill().await.expect("the server closed mid-answer");
        }
        reply.body = String::from_utf8_lossy(&self.read[end + 4..end + 4 + length]).into_owned();
        self.read.drain(..end + 4 + length);
        reply
    }

    /// Waits until the server closes the connection, for at most `limit`; returns how
    /// long that took, and fails if the server sent anything meanwhile.
    pub async fn closed_within(&mut self, limit: std::time::Duration) -> std::time::Duration {
        let start = std::time::Instant::now();
        let closed =
            tokio::time::timeout(limit, async { while self.fill().await.is_some() {} }).await;
        assert!(closed.is_ok(), "still open after {limit:?}");
        assert!(
            self.read.is_empty(),
            "unexpected bytes: {}",
            String::from_utf8_lossy(&self.read)
        );
        start.elapsed()
    }
}
