//! The shipped proxy configs, end to end: real nginx and real Caddy (Debian's
//! packages, which `scripts/test.sh` installs), started on free loopback ports from
//! `deploy/nginx/keyward.conf` and `deploy/caddy/Caddyfile` as shipped (only
//! addresses, ports and the proxy token are filled in), in front of
//! `examples/forms-api` and a real `keyward serve` run with
//! `examples/forms-api/keyward.toml` (and a plan without limits added to keyward's
//! defaults). What a client of the protected API gets is
//! what these tests check: keyward's decisions, statuses, bodies and headers; the
//! identity reaching the API and the key never reaching it.

mod caddy;
mod nginx;

use crate::serve::{cli_with, free_port, Server};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The token keyward is given and the shipped configs are filled in with: the tests
/// run forward auth as the README recommends beyond loopback.
const PROXY_TOKEN: &str = "proxy-token-for-the-e2e-tests-0123456789";

/// A shipped file from the repository's root.
fn shipped(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .unwrap()
}

/// `text` with `from` replaced by `to`, which must be there exactly once: if the
/// shipped file changes shape, the test says so rather than testing something else.
fn fill(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the shipped config should hold `{from}` once"
    );
    text.replacen(from, to, 1)
}

/// A proxy program the test started; stopped (and waited for) when dropped.
struct Proxy {
    name: &'static str,
    child: Child,
    url: String,
    /// A log file of its own besides stdout and stderr, for failure messages.
    log: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts `program` and waits until `port` accepts connections.
    fn start(
        name: &'static str,
        mut command: Command,
        port: u16,
        dir: tempfile::TempDir,
        log: Option<std::path::PathBuf>,
    ) -> Proxy {
        let child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout.log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{name} could not be started ({e}): scripts/test.sh installs it")
            });
        let mut proxy = Proxy {
            name,
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = proxy.child.try_wait().unwrap() {
                panic!("{name} exited ({status}) at start:\n{}", proxy.logs());
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not listen:\n{}",
                proxy.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }

    fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "{}{}{}",
            self.log.as_deref().map(read).unwrap_or_default(),
            read(&self._dir.path().join("stdout.log")),
            read(&self._dir.path().join("stderr.log"))
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{} logged:\n{}", self.name, self.logs());
        }
        // SIGTERM, so nginx's master stops its workers; then make sure.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer as a client of the protected API gets it.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Names in lowercase, in order, repeated fields kept.
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// A refusal from keyward, passed on whole: the status, a problem+json body of
    /// that status and `type`.
    fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let body = self.json();
        assert_eq!(body["status"], status, "{self:?}");
        assert!(
            body["type"]
                .as_str()
                .unwrap()
                .ends_with(&format!("#{kind}")),
            "expected {kind}: {self:?}"
        );
        assert_eq!(
            self.header("x-keyward-problem"),
            None,
            "the header for nginx stays with the proxy"
        );
        body
    }

    /// What forms-api said it received (an allowed request).
    fn received(&self) -> Value {
        assert_eq!(self.status / 100, 2, "{self:?}");
        self.json()["received"].clone()
    }
}

/// Sends a request with curl (`--path-as-is`: the path goes as written).
fn send(method: &str, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "-i",
        "--path-as-is",
        "--max-time",
        "10",
        "-X",
        method,
    ]);
    for (name, value) in headers {
        c.args(["-H", &format!("{name}: {value}")]);
    }
    if method == "POST" {
        c.args([
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"name":"Poll"}"#,
        ]);
    }
    let out = c.arg(url).output().expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl {method} {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// keyward's default plan, as keyward defines it, and one without rate limits or a
/// quota, whose keys' allowed answers carry no RateLimit fields: added to the
/// forms-api demo's config (plans given replace all of keyward's).
const PLANS: &str = r#"
[plans.pro]
api_access = true
max_keys = 10
monthly_quota = 100000
rate_limits = [{ name = "default", limit = 300, period = "1m" }]

[plans.unmetered]
api_access = true
"#;

/// keyward, the forms API, and the keys the scenarios use.
struct Stack {
    keyward: Server,
    forms_api: u16,
    org: String,
    admin: String,
    /// May read Website's production; has metadata.
    reader: (String, String),
    /// Holds `keyward.toml`: the server's config, and the commands'.
    config: tempfile::TempDir,
}

impl Stack {
    fn start() -> Stack {
        let forms_api = forms_api::spawn(([127, 0, 0, 1], 0).into()).unwrap().port();
        let config = tempfile::tempdir().unwrap();
        let config_file = config.path().join("keyward.toml");
        std::fs::write(
            &config_file,
            shipped("examples/forms-api/keyward.toml") + PLANS,
        )
        .unwrap();
        let keyward = Server::start_with(
            &[
                ("KEYWARD_CONFIG", config_file.to_str().unwrap()),
                ("KEYWARD_FORWARD_AUTH_TOKEN", PROXY_TOKEN),
            ],
            None,
        );
        let mut stack = Stack {
            keyward,
            forms_api,
            org: String::new(),
            admin: String::new(),
            reader: (String::new(), String::new()),
            config,
        };
        stack.admin = stack
            .cli(&["admin", "tokens", "create", "--name", "e2e"])
            .as_str()
            .unwrap()
            .to_owned();
        let org = stack.cli(&["--json", "orgs", "create", "Acme"]);
        stack.org = org["id"].as_str().unwrap().to_owned();
        stack.cli(&["projects", "create", "--org", "Acme", "Website"]);
        stack.reader = stack.key(&[
            "--grant",
            "Website:production:read",
            "--metadata",
            r#"{"customer":"Zoë","tier":2}"#,
        ]);
        stack
    }

    /// A command on keyward's data directory, with keyward's config.
    fn cli(&self, args: &[&str]) -> Value {
        let config = self.config.path().join("keyward.toml");
        cli_with(
            &self.keyward.data_dir(),
            &[("KEYWARD_CONFIG", config.to_str().unwrap())],
            args,
        )
    }

    /// A new key of Acme's: (id, key).
    fn key(&self, args: &[&str]) -> (String, String) {
        self.key_of("Acme", args)
    }

    /// A new key of `org`'s: (id, key).
    fn key_of(&self, org: &str, args: &[&str]) -> (String, String) {
        let mut all = vec!["--json", "keys", "create", "--org", org, "--name", "e2e"];
        all.extend_from_slice(args);
        let v = self.cli(&all);
        (
            v["id"].as_str().unwrap().to_owned(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }

    /// Revokes through keyward's API; returns once keyward acknowledged it.
    fn revoke(&self, id: &str) {
        let a = send(
            "POST",
            &format!("{}/v1/keys/{id}/revoke", self.keyward.url),
            &[("authorization", &format!("Bearer {}", self.admin))],
        );
        assert_eq!(a.status, 200, "{a:?}");
    }
}

/// The headers keyward's answer puts on the request to the API.
const IDENTITY: [&str; 5] = [
    "x-keyward-key-id",
    "x-keyward-org-id",
    "x-keyward-key-kind",
    "x-keyward-user-id",
    "x-keyward-metadata",
];

/// Limit fields a client makes up, to see that they are not taken for keyward's.
const SPOOFED_LIMIT: &str = r#""spoofed";r=999;t=1"#;

/// An allowed answer carries keyward's RateLimit and RateLimit-Policy for the key (of
/// a `pro` organization: 300 a minute and the monthly quota), once each, and nothing
/// the client sent in their place.
fn keywards_limits_only(a: &Answer, name: &str) {
    assert_eq!(a.status, 200, "{name}: {a:?}");
    assert_eq!(a.count("ratelimit"), 1, "{name}: {a:?}");
    assert_eq!(a.count("ratelimit-policy"), 1, "{name}: {a:?}");
    let limit = a.header("ratelimit").unwrap();
    assert!(
        limit.starts_with(r#""default";r="#) && limit.contains(r#""quota";r="#),
        "{name}: {a:?}"
    );
    let policy = a.header("ratelimit-policy").unwrap();
    assert!(
        policy.starts_with(r#""default";q=300;w=60, "quota";q=100000;w="#),
        "{name}: {a:?}"
    );
}

/// Every scenario of the issue, through `proxy`, in front of `stack`; stops keyward
/// at the end (503 for the client).
fn scenarios(proxy: &Proxy, mut stack: Stack) {
    let forms = format!("{}/api/v1/projects/Website/forms", proxy.url);
    let (reader_id, reader) = stack.reader.clone();
    let name = proxy.name;

    // A valid read reaches the API, with the key's identity and without the key,
    // whichever header it came in and whatever identity the client claimed; the
    // client gets keyward's RateLimit fields, never limit fields it sent itself.
    for key_header in [
        ("x-api-key", reader.clone()),
        ("authorization", format!("Bearer {reader}")),
        ("api-key", reader.clone()),
    ] {
        let a = send(
            "GET",
            &forms,
            &[
                (key_header.0, &key_header.1),
                ("x-keyward-key-id", "spoofed"),
                ("x-keyward-user-id", "spoofed"),
                ("x-keyward-key-kind", "spoofed"),
                ("ratelimit", SPOOFED_LIMIT),
                ("ratelimit-policy", SPOOFED_LIMIT),
                ("x-keyward-ratelimit", SPOOFED_LIMIT),
            ],
        );
        keywards_limits_only(&a, name);
        let received = a.received();
        assert_eq!(received["method"], "GET", "{name}: {a:?}");
        assert_eq!(received["path"], "/api/v1/projects/Website/forms");
        let identity = &received["identity"];
        assert_eq!(
            identity["x-keyward-key-id"],
            reader_id.as_str(),
            "{name}: {a:?}"
        );
        assert_eq!(
            identity["x-keyward-org-id"],
            stack.org.as_str(),
            "{name}: {a:?}"
        );
        assert_eq!(identity["x-keyward-key-kind"], "live", "{name}: {a:?}");
        assert_eq!(
            identity.get("x-keyward-user-id"),
            None,
            "{name}: a key of no user has no user id upstream, whatever the client sent: {a:?}"
        );
        let metadata: Value =
            serde_json::from_str(identity["x-keyward-metadata"].as_str().unwrap()).unwrap();
        assert_eq!(
            metadata,
            serde_json::json!({ "customer": "Zoë", "tier": 2 })
        );
        assert_eq!(
            received["key_headers"],
            serde_json::json!([]),
            "{name}: the key must not reach the API ({})",
            key_header.0
        );
    }
    // keyward's limit fields reach the client, not the API (the client's own
    // X-Keyward-* aside: nginx passes on those the identity does not replace).
    let a = send("GET", &forms, &[("x-api-key", &reader)]);
    keywards_limits_only(&a, name);
    let names: Vec<String> = a.received()["identity"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(
        names.iter().all(|n| IDENTITY.contains(&n.as_str())),
        "{name}: only the identity reaches the API: {names:?}"
    );

    // A key whose plan has no limits: keyward sends no RateLimit fields, so the
    // client gets none (not a placeholder, not its own echoed back).
    stack.cli(&["orgs", "create", "Open", "--plan", "unmetered"]);
    stack.cli(&["projects", "create", "--org", "Open", "Website"]);
    let (_, unmetered) = stack.key_of("Open", &["--grant", "Website:production:read"]);
    let a = send(
        "GET",
        &forms,
        &[
            ("x-api-key", &unmetered),
            ("ratelimit", SPOOFED_LIMIT),
            ("x-keyward-ratelimit", SPOOFED_LIMIT),
        ],
    );
    assert_eq!(a.status, 200, "{name}: {a:?}");
    assert_eq!(a.header("ratelimit"), None, "{name}: {a:?}");
    assert_eq!(a.header("ratelimit-policy"), None, "{name}: {a:?}");
    assert!(
        a.headers.iter().all(|(_, v)| !v.contains('{')),
        "{name}: a placeholder reached the client: {a:?}"
    );

    // A key bound to a person: their user id reaches the API too.
    let user = stack.cli(&["--json", "users", "create", "ana@example.com"]);
    let user = user["id"].as_str().unwrap();
    stack.cli(&["members", "set", "--org", "Acme", "--role", "admin", user]);
    let (_, personal) = stack.key(&["--as-user", user, "--grant", "Website:production:read"]);
    let a = send("GET", &forms, &[("x-api-key", &personal)]);
    assert_eq!(
        a.received()["identity"]["x-keyward-user-id"],
        user,
        "{name}: {a:?}"
    );

    // No key: 401 with one challenge.
    let a = send("GET", &forms, &[]);
    a.problem(401, "missing");
    assert_eq!(a.count("www-authenticate"), 1, "{name}: {a:?}");
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer realm="keyward""#)
    );

    // A write with a read-only key: 403 naming the permission; the API never saw it.
    let a = send("POST", &forms, &[("x-api-key", &reader)]);
    let body = a.problem(403, "insufficient-permission");
    assert!(
        body["required_permission"]
            .as_str()
            .unwrap()
            .contains("write"),
        "{name}: {a:?}"
    );
    assert!(
        a.header("www-authenticate")
            .unwrap()
            .contains("insufficient_scope"),
        "{name}: {a:?}"
    );
    let listed = send("GET", &forms, &[("x-api-key", &reader)]).json();
    assert_eq!(
        listed["forms"],
        serde_json::json!([]),
        "{name}: the refused POST got through"
    );

    // A test key on production.
    let (_, tester) = stack.key(&["--kind", "test", "--grant", "*:*:manage"]);
    let body = send("GET", &forms, &[("x-api-key", &tester)]).problem(403, "wrong-environment");
    assert_eq!(body["outcome"], "wrong_environment");

    // A write with a key that may write reaches the API.
    let (_, writer) = stack.key(&["--grant", "Website:production:write"]);
    let a = send("POST", &forms, &[("x-api-key", &writer)]);
    assert_eq!(a.status, 201, "{name}: {a:?}");
    assert_eq!(a.received()["key_headers"], serde_json::json!([]));

    // Revoked: refused on the very next request after keyward acknowledged it.
    let (revoked_id, revoked) = stack.key(&["--grant", "Website:production:read"]);
    assert_eq!(send("GET", &forms, &[("x-api-key", &revoked)]).status, 200);
    stack.revoke(&revoked_id);
    let body = send("GET", &forms, &[("x-api-key", &revoked)]).problem(401, "revoked");
    assert_eq!(body["outcome"], "revoked");

    // Rate-limited: 429 with Retry-After and the RateLimit fields.
    let (_, limited) = stack.key(&[
        "--grant",
        "Website:production:read",
        "--rate-limit",
        "default=2/1h",
    ]);
    for _ in 0..2 {
        let a = send("GET", &forms, &[("x-api-key", &limited)]);
        assert_eq!(a.status, 200, "{name}: {a:?}");
        assert_eq!(
            a.received()["identity"].get("x-keyward-metadata"),
            None,
            "{name}: a key without metadata has none upstream: {a:?}"
        );
    }
    let a = send("GET", &forms, &[("x-api-key", &limited)]);
    a.problem(429, "rate-limited");
    let retry: u64 = a
        .header("retry-after")
        .unwrap_or_else(|| panic!("{name}: 429 without Retry-After: {a:?}"))
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 3600, "{name}: {a:?}");
    assert!(a.header("ratelimit").is_some(), "{name}: {a:?}");
    assert!(a.header("ratelimit-policy").is_some(), "{name}: {a:?}");

    // A route the table does not know: denied.
    send(
        "GET",
        &format!("{}/api/v1/admin/users", proxy.url),
        &[("x-api-key", &reader)],
    )
    .problem(403, "no-route");

    // A path the API could read as another one: keyward's 400 reaches the client.
    send(
        "GET",
        &format!("{}/api/v1/projects/Website//forms", proxy.url),
        &[("x-api-key", &reader)],
    )
    .problem(400, "invalid-request");

    // keyward down: the request is refused with 503, never let through.
    assert!(stack.keyward.terminate().success());
    let a = send("GET", &forms, &[("x-api-key", &reader)]);
    assert_eq!(a.status, 503, "{name} with keyward down: {a:?}");
    assert_eq!(a.header("content-type"), Some("application/problem+json"));
    assert_eq!(a.json()["status"], 503);
}
