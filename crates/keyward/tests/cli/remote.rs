//! Where the command line works: a data directory only where one is (no command but
//! `init` and `serve` creates one), or a real `keyward serve` through its HTTP API
//! with `KEYWARD_URL` and `KEYWARD_TOKEN` or a `keyward login`, whose saved token is
//! private and refused when it is not.

use crate::serve::Server;
use crate::Env;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `c` with `input` on stdin.
fn with_input(mut c: Command, input: &str) -> Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// An admin token made from the server's data directory, as an operator does there.
fn admin_token(e: &Env, server: &Server) -> String {
    let out = e
        .bare()
        .args(["admin", "tokens", "create", "--name", "cli"])
        .env("KEYWARD_DATA_DIR", server.data_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A mistyped data directory used to become a new, empty keyward with a new pepper,
/// and the operator's keys seemed gone. Now every command but `init` and `serve`
/// stops, says where it looked and why there, and how to point it elsewhere.
#[test]
fn no_command_but_init_creates_a_data_directory() {
    let e = Env::empty();
    let missing = e.data().join("missing");
    let how = [
        "--data-dir",
        "KEYWARD_DATA_DIR",
        "keyward init",
        "KEYWARD_URL",
        "keyward login",
    ];
    let by_flag = e
        .bare()
        .arg("--data-dir")
        .arg(&missing)
        .args(["orgs", "list"])
        .output()
        .unwrap();
    let by_var = e
        .bare()
        .args(["keys", "list", "--org", "Acme"])
        .env("KEYWARD_DATA_DIR", &missing)
        .output()
        .unwrap();
    let by_default = e
        .bare()
        .args(["audit", "list"])
        .current_dir(e.data())
        .output()
        .unwrap();
    for (out, path, from) in [
        (by_flag, missing.clone(), "--data-dir"),
        (by_var, missing.clone(), "KEYWARD_DATA_DIR"),
        (by_default, e.data().join("keyward-data"), "the default"),
    ] {
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!(
                "there is no keyward data directory at {} (from {from})",
                path.display()
            )),
            "{err}"
        );
        for hint in how {
            assert!(err.contains(hint), "{hint}: {err}");
        }
        assert!(!path.exists(), "{} was created", path.display());
    }

    // A folder that exists but holds no keyward: no database, no pepper made in it.
    let out = e.run(&["orgs", "create", "Acme"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds no keyward database"), "{err}");
    assert!(!e.data().join("keyward.db").exists());
    assert!(!e.data().join("pepper").exists());

    // `init` makes it ready, once; the commands then work.
    assert_eq!(e.json(&["init"])["created"], true);
    assert_eq!(mode(&e.data().join("pepper")), 0o600);
    assert_eq!(e.json(&["init"])["created"], false);
    e.json(&["orgs", "create", "Acme"]);
}

/// Each command says which data directory or server it works on, and from which
/// setting; `--quiet` drops that line.
#[test]
fn commands_say_where_they_work() {
    let e = Env::new();
    let out = e.run(&["--json", "orgs", "list"]);
    let (stdout, err) = text(&out);
    assert_eq!(
        err,
        format!(
            "keyward: using the data directory {} (from --data-dir)\n",
            e.data().display()
        )
    );
    assert_eq!(stdout.trim(), "[]", "stdout stays JSON");
    let out = e.run(&["-q", "orgs", "list"]);
    assert_eq!(text(&out).1, "");
}

/// KEYWARD_URL and KEYWARD_DATA_DIR together could mean either; neither is guessed.
#[test]
fn a_server_and_a_data_directory_together_are_refused() {
    let e = Env::new();
    let out = e
        .bare()
        .args(["orgs", "list"])
        .env("KEYWARD_URL", "http://127.0.0.1:9")
        .env("KEYWARD_TOKEN", "kw_admin_not_used")
        .env("KEYWARD_DATA_DIR", e.data())
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("both KEYWARD_URL") && err.contains("--data-dir"),
        "{err}"
    );
    assert!(!err.contains("kw_admin_not_used"), "{err}");
    // --data-dir decides for this once.
    let out = e
        .command(&["orgs", "list"])
        .env("KEYWARD_URL", "http://127.0.0.1:9")
        .env("KEYWARD_DATA_DIR", e.data())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
}

/// `keyward login` checks the token with the server and saves it readable by its
/// owner alone (0600, in a 0700 folder); a file others can read is refused, saying
/// how to fix it; a wrong token or a server that is down is a clear error, and the
/// token is never printed.
#[test]
fn login_saves_a_private_token_and_refuses_a_shared_file() {
    let e = Env::empty();
    let server = Server::start();
    let token = admin_token(&e, &server);
    let file = e.config.path().join("keyward/credentials.toml");

    // A wrong token: refused by the server, nothing saved.
    let wrong = format!("{}x", &token[..token.len() - 1]);
    let mut c = e.bare();
    c.args(["login", &server.url]);
    let out = with_input(c, &format!("{wrong}\n"));
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused the token") && err.contains("admin tokens create"),
        "{err}"
    );
    assert!(!stdout.contains(&wrong) && !err.contains(&wrong));
    assert!(!file.exists());

    // Nothing listening: says it cannot reach the server.
    let down = format!("http://127.0.0.1:{}", crate::serve::free_port());
    let mut c = e.bare();
    c.args(["login", &down]);
    let (_, err) = text(&with_input(c, &format!("{token}\n")));
    assert!(
        err.contains(&format!("cannot reach the keyward server at {down}")),
        "{err}"
    );
    assert!(!file.exists());

    let mut c = e.bare();
    c.args(["login", &format!("{}/", server.url)]);
    let out = with_input(c, &format!("{token}\n"));
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(!stdout.contains(&token) && !err.contains(&token));
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains(&format!("\"{}\"", server.url)), "{saved}");

    // Commands now go to that server, and say so.
    let out = e.bare().args(["orgs", "list"]).output().unwrap();
    let (_, err) = text(&out);
    assert!(
        err.contains(&format!(
            "keyward: using the server at {} (from the login in {})",
            server.url,
            file.display()
        )),
        "{err}"
    );

    // Readable by others: refused, with the fix.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = e.bare().args(["orgs", "list"]).output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", file.display())),
        "{err}"
    );
    assert!(!err.contains(&token));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Logged out, the file goes, and commands are back on a data directory.
    let out = e.bare().args(["logout"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(!file.exists());
    let out = e
        .bare()
        .args(["orgs", "list"])
        .current_dir(e.data())
        .output()
        .unwrap();
    assert!(
        text(&out).1.contains("(from the default)"),
        "{}",
        text(&out).1
    );
}
