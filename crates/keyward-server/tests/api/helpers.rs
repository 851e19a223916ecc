//! A real keyward server per test: a fresh SQLite file, port 0, a real HTTP client.
//! Logs of every test in this process go to one buffer, so tests can assert that no
//! secret ever reaches a log line.

use keyward_app::{Keyward, ManualClock, Principal, Settings};
use keyward_core::{Actor, PepperSet};
use keyward_server::AppState;
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
    pub client: reqwest::Client,
    pub app: Keyward,
    pub clock: Arc<ManualClock>,
    /// An operator admin token.
    pub admin: String,
    /// Every response body this test received, to search for leaked secrets.
    pub bodies: Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
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

pub const PEPPER: &str = "http-test-pepper-0123456789abcdefghijklmnopqr";

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with_faults(keyward_store::faults::Faults::new()).await
    }

    /// A server whose store can be slowed or stalled by the test through `faults`.
    pub async fn spawn_with_faults(faults: Arc<keyward_store::faults::Faults>) -> TestApp {
        capture_logs();
        let dir = tempfile::tempdir().unwrap();
        let store = keyward_store::open_with_faults(
            &format!("sqlite://{}", dir.path().join("keyward.db").display()),
            faults,
        )
        .await
        .unwrap();
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let settings = Settings::new(PepperSet::parse(PEPPER).unwrap());
        let app = Keyward::new(store, settings, clock.clone());
        let admin = app
            .create_admin_token(&Principal::operator(Actor::Cli("test".into())), "tests")
            .await
            .unwrap()
            .secret
            .expose_secret()
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = AppState {
            app: app.clone(),
            public_url: url.as_str().into(),
        };
        tokio::spawn(keyward_server::launch(state, listener, async {
            rx.await.ok();
        }));
        TestApp {
            url,
            client: reqwest::Client::new(),
            app,
            clock,
            admin,
            bodies: Mutex::new(Vec::new()),
            _dir: dir,
            _shutdown: tx,
        }
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
        let url = format!("sqlite://{}", self._dir.path().join("keyward.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }

    /// Every response body received so far, joined.
    pub fn all_bodies(&self) -> String {
        self.bodies.lock().unwrap().join("\n")
    }
}

pub fn grant(project: &str, environment: &str, level: &str) -> Value {
    json!({ "project": project, "environment": environment, "level": level })
}
