//! `keyward serve` as a real process: the README's HTTP examples run against it as
//! written, the printed setup link works once, SIGTERM stops it cleanly and leaves a
//! complete database file, its files are private, and running out of file descriptors
//! does not stop it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    /// Lines the server printed on stdout before it was ready.
    printed: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub(crate) fn start() -> Server {
        Server::start_with(&[], None)
    }

    /// With these environment variables; `shell`, if given, runs in bash before
    /// keyward (`ulimit -n 64`, `umask 000`). The data directory does not exist yet:
    /// keyward creates it (or, on a restart, finds it). Logs (warn unless
    /// `KEYWARD_LOG` is given) go to a file.
    pub(crate) fn start_with(env: &[(&str, &str)], shell: Option<&str>) -> Server {
        Server::start_in(tempfile::tempdir().unwrap(), env, shell)
    }

    /// Stops the server with SIGTERM and starts it again on the same data.
    fn restart(mut self) -> Server {
        assert!(self.terminate().success());
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        Server::start_in(dir, &[], None)
    }

    /// Kills the server outright (SIGKILL: no clean stop) and starts it again on the
    /// same data.
    fn crash_and_restart(mut self) -> Server {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        Server::start_in(dir, &[], None)
    }

    fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)], shell: Option<&str>) -> Server {
        let port = free_port();
        let mut command = match shell {
            Some(shell) => {
                let mut c = Command::new("bash");
                c.args(["-c", &format!("{shell}; exec \"$0\" \"$@\"")])
                    .arg(env!("CARGO_BIN_EXE_keyward"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_keyward")),
        };
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("KEYWARD_DATA_DIR", dir.path().join("data"))
            .env_remove("KEYWARD_PEPPER")
            .env("KEYWARD_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap());
        let mut child = command.spawn().unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut printed = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => printed.push(line),
                Err(mpsc::RecvTimeoutError::Timeout)
                    if printed.iter().any(|l| l.contains("API docs")) =>
                {
                    break
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("keyward serve exited: {printed:?}")
                }
            }
        }
        let url = format!("http://127.0.0.1:{port}");
        let server = Server {
            child,
            url,
            printed,
            _dir: dir,
        };
        assert_eq!(
            server
                .curl(&[
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    &format!("{}/readyz", server.url)
                ])
                .0,
            "200"
        );
        server
    }

    pub(crate) fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    /// What the server logged so far.
    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap()
    }

    /// Runs curl; returns (stdout, success).
    fn curl(&self, args: &[&str]) -> (String, bool) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .args(args)
            .output()
            .expect("curl is installed");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.success(),
        )
    }

    /// Sends SIGTERM and waits for the exit; the data directory stays until drop.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "keyward serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A loopback port free at the time of asking.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ```sh blocks of the README between the tested-examples markers.
fn readme_examples() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("<!-- tested-api-examples:start -->")
        .expect("start marker");
    let end = readme
        .find("<!-- tested-api-examples:end -->")
        .expect("end marker");
    let mut script = String::new();
    let mut inside = false;
    for line in readme[start..end].lines() {
        match (inside, line.trim()) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, _) => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    script
}

#[test]
fn the_readme_http_examples_work_against_a_real_server() {
    let server = Server::start();
    let script = readme_examples();
    assert!(
        script.contains("/v1/keys/verify") && script.contains("jq"),
        "{script}"
    );
    let script = script.replace("http://127.0.0.1:8080", &server.url);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_keyward")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("PATH", path)
        .env("KEYWARD_DATA_DIR", server.data_dir())
        .env_remove("KEYWARD_PEPPER")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the README examples failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""outcome":"valid""#), "{stdout}");
    assert!(stdout.contains(r#""action":"key.revoked""#), "{stdout}");
}

#[test]
fn serve_prints_a_setup_link_that_works_once_and_stops_cleanly_on_sigterm() {
    let mut server = Server::start();
    assert!(
        server
            .printed
            .iter()
            .any(|l| l.contains(&format!("listening on {}", server.url))),
        "{:?}",
        server.printed
    );
    let link = server.printed.iter().find_map(|l| {
        l.split_once("first-run setup (works once): ")
            .map(|(_, link)| link.to_owned())
    });
    let link = link.unwrap_or_else(|| panic!("no setup link in {:?}", server.printed));
    let (page, token) = link.split_once("#token=").unwrap();
    assert_eq!(page, format!("{}/setup", server.url));
    let body = format!(
        r#"{{"token":"{token}","email":"owner@example.com","password":"correct horse battery staple","organization":"Acme"}}"#
    );
    let post = |body: &str| {
        server
            .curl(&[
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "content-type: application/json",
                "-d",
                body,
                &format!("{}/v1/setup", server.url),
            ])
            .0
    };
    assert_eq!(post(&body), "201");
    assert_eq!(post(&body), "403", "the link works once");
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["serve", "--listen", &addr])
        .env("KEYWARD_DATA_DIR", dir.path())
        .env_remove("KEYWARD_PEPPER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("--listen"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["serve", "--listen", "localhost"])
        .env("KEYWARD_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an address:port"));
}

#[test]
fn bad_logging_settings_are_errors_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, expected) in [
        ("KEYWARD_LOG", "info,[[[", "KEYWARD_LOG"),
        // A word that names nothing would otherwise be taken for a target, and log
        // nothing at all.
        ("KEYWARD_LOG", "verbose", "'verbose' is neither a level"),
        ("RUST_LOG", "keyward_server=loud", "RUST_LOG"),
        ("KEYWARD_LOG_FORMAT", "yaml", "use text or json"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYWARD_DATA_DIR", dir.path())
            .env_remove("KEYWARD_PEPPER")
            .env_remove("KEYWARD_LOG")
            .env_remove("RUST_LOG")
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn each_request_is_logged_at_info_with_its_id_and_client() {
    let server = Server::start_with(
        &[("KEYWARD_LOG", "info,keyward_server=debug,sqlx=warn")],
        None,
    );
    let (head, ok) = server.curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-H",
        "x-request-id: from-the-cli-test",
        &format!("{}/healthz?secret-query", server.url),
    ]);
    assert!(ok);
    assert!(
        head.to_ascii_lowercase()
            .contains("x-request-id: from-the-cli-test"),
        "{head}"
    );
    let logs = server.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("id=from-the-cli-test"))
        .unwrap_or_else(|| panic!("no request line in:\n{logs}"));
    for part in [
        "INFO",
        "method=GET",
        "path=/healthz ",
        "client=127.0.0.1:",
        "status=200",
    ] {
        assert!(line.contains(part), "{part:?} missing from {line}");
    }
    assert!(!logs.contains("secret-query"), "{logs}");
}

/// The mode bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_database_is_private_and_sigterm_leaves_it_complete_in_one_file() {
    // Whatever the umask, only keyward's user can read the keys' hashes and the audit
    // log; and a copy of keyward.db alone, taken after a clean stop, holds everything.
    let mut server = Server::start_with(&[], Some("umask 000"));
    let data = server.data_dir();
    assert_eq!(mode(&data), 0o700, "the data directory");
    for file in ["keyward.db", "keyward.db-wal", "keyward.db-shm", "pepper"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }

    let token = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["admin", "token", "create", "--name", "test"])
        .env("KEYWARD_DATA_DIR", &data)
        .env_remove("KEYWARD_PEPPER")
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let (code, _) = server.curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("authorization: Bearer {token}"),
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"name": "Written just before the stop"}"#,
        &format!("{}/v1/orgs", server.url),
    ]);
    assert_eq!(code, "201");
    assert!(
        std::fs::metadata(data.join("keyward.db-wal"))
            .unwrap()
            .len()
            > 0,
        "the write is in the write-ahead log"
    );

    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let wal = data.join("keyward.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the write-ahead log was folded into the database"
    );
    let copy = server._dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(data.join("keyward.db"), copy.join("keyward.db")).unwrap();
    std::fs::copy(data.join("pepper"), copy.join("pepper")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["--json", "org", "list"])
        .env("KEYWARD_DATA_DIR", &copy)
        .env_remove("KEYWARD_PEPPER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Written just before the stop"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// CPU time (user and system, in clock ticks) the process `pid` used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn running_out_of_file_descriptors_neither_spins_nor_stops_the_server() {
    // With a connection limit above what `ulimit -n 64` allows, accepting fails with
    // EMFILE: the server must pause rather than retry in a loop, and answer again once
    // the idle clients have timed out.
    let server = Server::start_with(
        &[
            ("KEYWARD_MAX_CONNECTIONS", "1000"),
            ("KEYWARD_HEADER_READ_TIMEOUT", "1s"),
        ],
        Some("ulimit -n 64"),
    );
    let addr = server.url.trim_start_matches("http://").to_owned();
    let idle: Vec<_> = (0..150)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.child.id();
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    assert!(
        used < 30,
        "{used} ticks of CPU in one second: the accept loop spins"
    );

    let (code, _) = server.curl(&[
        "--max-time",
        "30",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/readyz", server.url),
    ]);
    assert_eq!(
        code, "200",
        "answers, database included, once the idle clients are gone"
    );
    drop(idle);
    let logs = server.logs();
    let warnings = logs.matches("cannot accept connections").count();
    assert!(
        (1..=20).contains(&warnings),
        "{warnings} warnings about accepting:\n{logs}"
    );
    assert!(
        logs.contains("max_connections"),
        "the limit is said to be too high"
    );
}

#[test]
fn bad_server_limits_are_errors_that_say_where_they_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyward.toml");
    std::fs::write(&config, "header_read_timeout = \"10 parsecs\"\n").unwrap();
    for (env, expected) in [
        (
            ("KEYWARD_IDLE_TIMEOUT", "0"),
            "idle_timeout from KEYWARD_IDLE_TIMEOUT must be longer than 0",
        ),
        (
            ("KEYWARD_REQUEST_BODY_TIMEOUT", "soon"),
            "request_body_timeout from KEYWARD_REQUEST_BODY_TIMEOUT: 'soon' is not a duration",
        ),
        (
            ("KEYWARD_MAX_CONNECTIONS", "0"),
            "max_connections from KEYWARD_MAX_CONNECTIONS: '0' is not a whole number of at least 1",
        ),
        (
            ("KEYWARD_CONFIG", config.to_str().unwrap()),
            "header_read_timeout from the config file: '10 parsecs' is not a duration",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYWARD_DATA_DIR", dir.path().join("data"))
            .env_remove("KEYWARD_PEPPER")
            .env(env.0, env.1)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{env:?}: {err}");
    }
}

/// A route table that cannot work stops the server at start, naming the route, its
/// line in the file and what to change; so does a bad forward-auth setting.
#[test]
fn bad_forward_auth_routes_are_errors_that_name_the_route_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyward.toml");
    std::fs::write(
        &config,
        "[[routes]]\npath = \"/api/{project}/**\"\nproject = \"{project}\"\nenvironment = \"production\"\n\n[[routes]]\npath = \"/api/**/x\"\n",
    )
    .unwrap();
    for (env, expected) in [
        (
            ("KEYWARD_CONFIG", config.to_str().unwrap()),
            "[[routes]], line 7: route 2 ('/api/**/x'): '**' matches the rest of the path, so it can only come last",
        ),
        (
            ("KEYWARD_FORWARD_AUTH_UNMATCHED", "maybe"),
            "forward_auth_unmatched from KEYWARD_FORWARD_AUTH_UNMATCHED is 'maybe'; give 'deny'",
        ),
        (
            ("KEYWARD_FORWARD_AUTH_TOKEN", "short"),
            "forward_auth_token from KEYWARD_FORWARD_AUTH_TOKEN must be 16 to 256",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYWARD_DATA_DIR", dir.path().join("data"))
            .env_remove("KEYWARD_PEPPER")
            .env(env.0, env.1)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{env:?}: {err}");
    }
}

/// A key's "last used" is written in batches, and the last batch when the server stops:
/// a use just before SIGTERM is not lost.
#[test]
fn a_clean_stop_writes_the_last_uses_noted() {
    let mut server = Server::start();
    let data = server.data_dir();
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(args)
            .env("KEYWARD_DATA_DIR", &data)
            .env_remove("KEYWARD_PEPPER")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default()
    };
    cli(&["--json", "orgs", "create", "Acme"]);
    let key = cli(&[
        "--json",
        "keys",
        "create",
        "--org",
        "Acme",
        "--name",
        "k",
        "--org-access",
        "read",
    ]);
    let (secret, id) = (key["key"].as_str().unwrap(), key["id"].as_str().unwrap());
    let (me, ok) = server.curl(&[
        "-H",
        &format!("x-api-key: {secret}"),
        &format!("{}/v1/me", server.url),
    ]);
    assert!(ok && me.contains(id), "{me}");
    assert!(server.terminate().success());
    let shown = cli(&["--json", "keys", "show", id]);
    assert!(shown["last_used_at"].is_string(), "{shown}");
}

/// Runs the command line on a server's data directory; it must succeed. Its `--json`
/// output, parsed (or the text, as a JSON string).
pub(crate) fn cli(data: &Path, args: &[&str]) -> serde_json::Value {
    cli_with(data, &[], args)
}

/// [`cli`] with these environment variables too (a config file for one).
pub(crate) fn cli_with(data: &Path, env: &[(&str, &str)], args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .env("KEYWARD_DATA_DIR", data)
        .env_remove("KEYWARD_PEPPER")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|_| text.trim().into())
}

/// Checks are counted in memory and written every few seconds, and the last batch at a
/// clean stop: N checks sent just before SIGTERM are all there after a restart, by
/// outcome, with the key's last use and its address, and spent from the quota.
#[test]
fn every_check_before_sigterm_is_in_the_usage_after_a_restart() {
    let server = Server::start();
    let data = server.data_dir();
    let admin = cli(&data, &["admin", "tokens", "create", "--name", "t"]);
    let admin = admin.as_str().unwrap().to_owned();
    cli(&data, &["orgs", "create", "Acme"]);
    cli(&data, &["projects", "create", "--org", "Acme", "Website"]);
    let key = cli(
        &data,
        &[
            "--json",
            "keys",
            "create",
            "--org",
            "Acme",
            "--name",
            "k",
            "--org-access",
            "read",
            "--grant",
            "Website:production:read",
        ],
    );
    let (secret, id) = (key["key"].as_str().unwrap(), key["id"].as_str().unwrap());
    const N: usize = 20;
    let verify = |environment: &str| {
        let body = format!(
            r#"{{"key": "{secret}", "project": "Website", "environment": "{environment}", "method": "GET"}}"#
        );
        let (out, ok) = server.curl(&[
            "-H",
            &format!("Authorization: Bearer {admin}"),
            "-H",
            "content-type: application/json",
            "-d",
            &body,
            &format!("{}/v1/keys/verify", server.url),
        ]);
        assert!(ok, "{out}");
        out
    };
    for _ in 0..N - 1 {
        assert!(verify("production").contains(r#""outcome":"valid""#));
    }
    assert!(verify("preview").contains("wrong_environment"));
    // The last one from a client of the API itself: its address is the last use's.
    let (me, ok) = server.curl(&[
        "-H",
        &format!("x-api-key: {secret}"),
        &format!("{}/v1/me", server.url),
    ]);
    assert!(ok, "{me}");

    let server = server.restart();
    let (usage, ok) = server.curl(&[
        "-H",
        &format!("Authorization: Bearer {admin}"),
        &format!("{}/v1/keys/{id}/usage", server.url),
    ]);
    assert!(ok, "{usage}");
    let usage: serde_json::Value = serde_json::from_str(&usage).unwrap();
    assert_eq!(usage["total"], N + 1, "{usage}");
    assert_eq!(
        usage["outcomes"],
        serde_json::json!({ "valid": N, "wrong_environment": 1 })
    );
    let from_cli = cli(&data, &["--json", "keys", "usage", id]);
    assert_eq!(from_cli["total"], N + 1);
    let table = cli(
        &data,
        &["keys", "usage", id, "--from", usage["to"].as_str().unwrap()],
    );
    let table = table.as_str().unwrap();
    assert!(table.contains(&format!("total       {}", N + 1)), "{table}");
    let shown = cli(&data, &["--json", "keys", "show", id]);
    assert!(shown["last_used_at"].is_string(), "{shown}");
    assert_eq!(shown["last_used_ip"], "127.0.0.1", "{shown}");
    // The quota spent is durable too: the N valid checks (the refused one spent
    // nothing), read back from the database by a new process.
    let org = cli(&data, &["--json", "orgs", "show", "Acme"]);
    assert_eq!(org["quota"]["used"], N, "{org}");
    assert_eq!(org["quota"]["limit"], 100_000, "{org}");
    assert_eq!(org["keys"], serde_json::json!({ "held": 1, "limit": 10 }));
}

/// `/metrics` on a listener of its own, behind a token: not on the API's listener,
/// and not without the token.
#[test]
fn metrics_on_their_own_listener_with_a_token() {
    let port = free_port();
    let token = "scrape-token-0123456789abcdef";
    let server = Server::start_with(
        &[
            ("KEYWARD_METRICS_LISTEN", &format!("127.0.0.1:{port}")),
            ("KEYWARD_METRICS_TOKEN", token),
        ],
        None,
    );
    assert!(
        server
            .printed
            .iter()
            .any(|l| l.contains(&format!("127.0.0.1:{port}/metrics"))),
        "{:?}",
        server.printed
    );
    let status = |url: String, auth: Option<&str>| {
        let header = auth.map(|t| format!("Authorization: Bearer {t}"));
        let mut args = vec!["-o", "/dev/null", "-w", "%{http_code}"];
        if let Some(h) = &header {
            args.extend(["-H", h.as_str()]);
        }
        args.push(&url);
        server.curl(&args).0
    };
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    assert_eq!(
        status(format!("{}/metrics", server.url), Some(token)),
        "404"
    );
    assert_eq!(status(metrics.clone(), None), "401");
    assert_eq!(status(metrics.clone(), Some("not-the-token-at-all")), "401");
    assert_eq!(status(metrics.clone(), Some(token)), "200");
    let (text, _) = server.curl(&["-H", &format!("Authorization: Bearer {token}"), &metrics]);
    assert!(
        text.contains("keyward_checks_total{outcome=\"valid\"}"),
        "{text}"
    );
}

#[test]
fn bad_metrics_settings_are_errors_that_say_where_they_came_from() {
    let dir = tempfile::tempdir().unwrap();
    for (env, expected) in [
        (
            ("KEYWARD_METRICS_LISTEN", "localhost"),
            "metrics_listen from KEYWARD_METRICS_LISTEN: 'localhost' is not an address:port",
        ),
        (
            ("KEYWARD_METRICS_TOKEN", "short"),
            "metrics_token from KEYWARD_METRICS_TOKEN must be 16 to 256 visible ASCII characters",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYWARD_DATA_DIR", dir.path().join("data"))
            .env_remove("KEYWARD_PEPPER")
            .env(env.0, env.1)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{env:?}: {err}");
        if env.0 == "KEYWARD_METRICS_TOKEN" {
            assert!(!err.contains("'short'"), "a token is never repeated: {err}");
        }
    }
}

/// Without a clean stop, a crash loses at most the checks of the last batch window:
/// what was counted is written within 5 seconds (the bound the README states) with
/// no stop at all, and a SIGKILL then takes nothing of it away.
#[test]
fn a_crash_loses_at_most_the_last_batch_window() {
    let server = Server::start();
    let data = server.data_dir();
    let admin = cli(&data, &["admin", "tokens", "create", "--name", "t"]);
    let admin = admin.as_str().unwrap().to_owned();
    cli(&data, &["orgs", "create", "Acme"]);
    let key = cli(
        &data,
        &[
            "--json",
            "keys",
            "create",
            "--org",
            "Acme",
            "--name",
            "k",
            "--org-access",
            "read",
        ],
    );
    let (secret, id) = (key["key"].as_str().unwrap(), key["id"].as_str().unwrap());
    let check = |server: &Server| {
        let (me, ok) = server.curl(&[
            "-H",
            &format!("x-api-key: {secret}"),
            &format!("{}/v1/me", server.url),
        ]);
        assert!(ok, "{me}");
    };
    let total = |server: &Server| -> u64 {
        let (usage, ok) = server.curl(&[
            "-H",
            &format!("Authorization: Bearer {admin}"),
            &format!("{}/v1/keys/{id}/usage", server.url),
        ]);
        assert!(ok, "{usage}");
        let usage: serde_json::Value = serde_json::from_str(&usage).unwrap();
        usage["total"].as_u64().unwrap()
    };
    const M: u64 = 10;
    for _ in 0..M {
        check(&server);
    }
    let counted = Instant::now();
    // Reading usage with the admin token is no check of the key: it counts nothing.
    while total(&server) < M {
        assert!(
            counted.elapsed() < Duration::from_secs(7),
            "not written within the 5-second window (and 2 s to spare)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    check(&server);
    let server = server.crash_and_restart();
    let after = total(&server);
    assert!(
        (M..=M + 1).contains(&after),
        "{after}: what was written stays; only the last window may be lost"
    );
}
