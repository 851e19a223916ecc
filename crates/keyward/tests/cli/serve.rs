//! `keyward serve` as a real process: the README's HTTP examples run against it as
//! written, the printed setup link works once, and SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    url: String,
    /// Lines the server printed on stdout before it was ready.
    printed: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("KEYWARD_DATA_DIR", dir.path())
            .env_remove("KEYWARD_PEPPER")
            .env("KEYWARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
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

    fn data_dir(&self) -> &Path {
        self._dir.path()
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

    fn terminate(mut self) -> std::process::ExitStatus {
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
    let server = Server::start();
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
