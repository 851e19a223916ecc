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

/// A loopback address where nothing listens, held (bound, never listening) so that no
/// other test's server can take it while this one uses it.
fn nothing_listening() -> (tokio::net::TcpSocket, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}", socket.local_addr().unwrap());
    (socket, url)
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
    // Without HOME (as for some services) there is no login to look for: no matter.
    let by_default = e
        .bare()
        .args(["audit", "list"])
        .current_dir(e.data())
        .env_remove("HOME")
        .env_remove("XDG_CONFIG_HOME")
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
    // Another last character (a token ending in `x` would be its own "wrong" one).
    let other = if token.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{other}", &token[..token.len() - 1]);
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
    let (_held, down) = nothing_listening();
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

    // The order: KEYWARD_DATA_DIR (and --data-dir) win over the login; KEYWARD_URL
    // naming the logged-in server uses its saved token.
    let out = e
        .bare()
        .args(["orgs", "list"])
        .env("KEYWARD_DATA_DIR", server.data_dir())
        .output()
        .unwrap();
    assert!(
        text(&out).1.contains("(from KEYWARD_DATA_DIR)"),
        "{}",
        text(&out).1
    );
    let out = e
        .bare()
        .args(["--json", "orgs", "list"])
        .env("KEYWARD_URL", &server.url)
        .output()
        .unwrap();
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "(from KEYWARD_URL, token from {})",
            file.display()
        )),
        "{err}"
    );
    assert_eq!(stdout.trim(), "[]");
    let out = e
        .bare()
        .args(["orgs", "list"])
        .env("KEYWARD_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no token for it") && err.contains("keyward login http://127.0.0.1:9"),
        "another server needs its own token: {err}"
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

/// Runs `args` through the server's API, with KEYWARD_URL and KEYWARD_TOKEN.
fn remote(e: &Env, server: &Server, token: &str, args: &[&str]) -> Output {
    e.bare()
        .args(args)
        .current_dir(e.data())
        .env("KEYWARD_URL", &server.url)
        .env("KEYWARD_TOKEN", token)
        .output()
        .unwrap()
}

/// Its stdout; it must have succeeded.
fn ok(args: &[&str], out: &Output) -> String {
    let (stdout, err) = text(out);
    assert!(out.status.success(), "{args:?}: {err}");
    stdout
}

/// Every management command works through the API, and prints exactly what it
/// prints on the server's own data directory, tables and JSON alike.
#[test]
fn remote_commands_print_what_local_ones_print() {
    let e = Env::empty();
    let server = Server::start();
    let token = admin_token(&e, &server);
    let on_server = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&ok(&all, &remote(&e, &server, &token, &all))).unwrap()
    };
    let local = |args: &[&str]| -> Output {
        e.bare()
            .arg("--data-dir")
            .arg(server.data_dir())
            .args(args)
            .output()
            .unwrap()
    };

    let out = remote(&e, &server, &token, &["orgs", "create", "Acme"]);
    assert!(
        text(&out).1.contains(&format!(
            "keyward: using the server at {} (from KEYWARD_URL, token from KEYWARD_TOKEN)",
            server.url
        )),
        "{}",
        text(&out).1
    );
    ok(&["orgs", "create"], &out);
    on_server(&["orgs", "update", "Acme", "--plan", "pro"]);
    on_server(&["projects", "create", "--org", "Acme", "Website"]);
    let created = on_server(&[
        "keys",
        "create",
        "--org",
        "Acme",
        "--name",
        "ci",
        "--grant",
        "Website:production:read",
        "--expires",
        "30d",
        "--metadata",
        r#"{"customer": "c_1"}"#,
        "--rate-limit",
        "burst=100/10s",
    ]);
    let id = created["id"].as_str().unwrap().to_owned();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("kw_live_{id}_")));
    on_server(&[
        "keys",
        "update",
        &id,
        "--name",
        "renamed",
        "--allow-ip",
        "10.0.0.0/8",
    ]);
    on_server(&["keys", "revoke", &id, "--yes"]);
    on_server(&["keys", "reactivate", &id]);
    let rotated = on_server(&["keys", "rotate", &id, "--grace", "0", "--yes"]);
    let new_id = rotated["new"]["id"].as_str().unwrap().to_owned();
    let new_key = rotated["new"]["key"].as_str().unwrap().to_owned();
    on_server(&["keys", "update", &new_id, "--allow-anywhere"]);
    let doomed = on_server(&[
        "keys",
        "create",
        "--org",
        "Acme",
        "--name",
        "doomed",
        "--kind",
        "test",
        "--org-access",
        "read",
    ]);
    on_server(&["keys", "delete", doomed["id"].as_str().unwrap(), "--yes"]);
    on_server(&["users", "create", "ada@acme.test", "--name", "Ada"]);
    on_server(&[
        "members",
        "set",
        "--org",
        "Acme",
        "ada@acme.test",
        "--role",
        "admin",
    ]);
    on_server(&["users", "create", "dan@acme.test"]);
    on_server(&[
        "members",
        "set",
        "--org",
        "Acme",
        "dan@acme.test",
        "--role",
        "member",
        "--project",
        "Website:write",
    ]);
    // As a person: bound to Ada, within what she holds.
    let hers = on_server(&[
        "keys",
        "create",
        "--org",
        "Acme",
        "--name",
        "ada's",
        "--as-user",
        "ada@acme.test",
        "--grant",
        "Website:production:write",
    ]);
    assert!(
        hers["owner"].as_str().unwrap().starts_with("usr_"),
        "{hers}"
    );
    let invited = on_server(&[
        "members",
        "invite",
        "--org",
        "Acme",
        "bo@acme.test",
        "--role",
        "admin",
    ]);
    let withdrawn = on_server(&[
        "members",
        "invite",
        "--org",
        "Acme",
        "cy@acme.test",
        "--role",
        "member",
    ]);
    on_server(&[
        "members",
        "withdraw",
        "--org",
        "Acme",
        withdrawn["id"].as_str().unwrap(),
    ]);

    // The same reads, on the data directory and through the API.
    for args in [
        &["orgs", "list"][..],
        &["orgs", "show", "Acme"],
        &["projects", "list", "--org", "Acme"],
        &["keys", "list", "--org", "Acme"],
        &["keys", "list", "--org", "Acme", "--status", "deleted"],
        &["keys", "show", &id],
        &["keys", "show", &new_id],
        &["keys", "usage", &new_id],
        &["members", "list", "--org", "Acme"],
        &["members", "invitations", "--org", "Acme"],
        &["users", "list"],
        &["users", "show", "dan@acme.test"],
        &["audit", "list", "--org", "Acme"],
        &["audit", "list", "--key", &id, "--action", "key.revoked"],
        &[
            "check",
            &key,
            "--project",
            "Website",
            "--environment",
            "production",
            "--level",
            "read",
            "--cost",
            "0",
        ],
    ] {
        for json in [false, true] {
            let mut all = if json { vec!["--json"] } else { vec![] };
            all.extend_from_slice(args);
            let here = local(&all);
            let there = remote(&e, &server, &token, &all);
            assert_eq!(
                here.status.code(),
                there.status.code(),
                "{all:?}: {}",
                text(&there).1
            );
            assert_eq!(text(&here).0, text(&there).0, "{all:?}");
            assert!(!text(&here).0.is_empty(), "{all:?}");
        }
    }

    // A check through the verify API (after the comparisons: its use is counted in
    // the server's memory before it reaches the database).
    let check = |key: &str| {
        remote(
            &e,
            &server,
            &token,
            &[
                "check",
                key,
                "--project",
                "Website",
                "--environment",
                "production",
                "--method",
                "GET",
            ],
        )
    };
    let out = check(&new_key);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert!(
        text(&out).0.contains("outcome:     valid"),
        "{}",
        text(&out).0
    );
    assert_eq!(check(&key).status.code(), Some(1), "the rotated-away key");

    // Accepting an invitation and removing a member, through the API.
    let out = remote(
        &e,
        &server,
        &token,
        &["members", "accept", invited["token"].as_str().unwrap()],
    );
    assert_eq!(
        ok(&["accept"], &out).trim(),
        "bo@acme.test is now admin of Acme"
    );
    on_server(&[
        "members",
        "remove",
        "--org",
        "Acme",
        "ada@acme.test",
        "--yes",
    ]);
    let members = on_server(&["members", "list", "--org", "Acme"]);
    assert_eq!(
        members.as_array().unwrap().len(),
        2,
        "bo and dan: {members}"
    );

    // What the API does not offer is refused, saying what to do instead.
    for args in [
        &["admin", "tokens", "list"][..],
        &["admin", "tokens", "create", "--name", "more"],
        &["users", "reset-link", "ada@acme.test"],
        &["users", "sign-out", "ada@acme.test"],
    ] {
        let out = remote(&e, &server, &token, args);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("not available on a keyward server") && err.contains("--data-dir"),
            "{args:?}: {err}"
        );
    }
    // A server's refusal reads as the local one does.
    let out = remote(&e, &server, &token, &["keys", "show", "0000000000000000"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not found") || err.contains("no key"), "{err}");
    assert!(
        !e.data().join("keyward-data").exists(),
        "no data directory made"
    );
}

/// A wrong token and a server that is down are errors that say so, and never show
/// the token; no data directory is made on the way.
#[test]
fn a_wrong_token_or_a_stopped_server_is_a_clear_error() {
    let e = Env::empty();
    let server = Server::start();
    let wrong = "kw_admin_0123456789abcdef_0123456789012345678901234567890123456789abc";
    let out = remote(&e, &server, wrong, &["orgs", "list"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused the token") && err.contains("keyward login"),
        "{err}"
    );
    assert!(!err.contains(&wrong[20..]), "{err}");

    // An API key is not the operator: people are the operator's alone.
    let on_data = |args: &[&str]| {
        let out = e
            .bare()
            .arg("--data-dir")
            .arg(server.data_dir())
            .args(args)
            .output()
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&ok(args, &out)).unwrap()
    };
    on_data(&["--json", "orgs", "create", "Acme"]);
    let created = on_data(&[
        "--json",
        "keys",
        "create",
        "--org",
        "Acme",
        "--name",
        "k",
        "--org-access",
        "manage",
    ]);
    let api_key = created["key"].as_str().unwrap();
    let out = remote(&e, &server, api_key, &["users", "list"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("operator admin token"), "{err}");
    assert!(!err.contains(&api_key[20..]), "{err}");

    // A server that is down: nothing listens at its address.
    let token = admin_token(&e, &server);
    let (_held, down) = nothing_listening();
    let out = e
        .bare()
        .args(["keys", "list", "--org", "Acme"])
        .current_dir(e.data())
        .env("KEYWARD_URL", &down)
        .env("KEYWARD_TOKEN", &token)
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot reach the keyward server at {down}"))
            && err.contains("that the server is running"),
        "{err}"
    );
    assert!(!err.contains(&token[20..]), "{err}");
    assert!(!e.data().join("keyward-data").exists());
}

/// A shell command line run on a real pseudo-terminal (util-linux `script`), whose
/// keyboard is the test: what the terminal displays is collected as it comes.
struct Terminal {
    child: std::process::Child,
    keyboard: std::process::ChildStdin,
    display: std::sync::mpsc::Receiver<Vec<u8>>,
    shown: Vec<u8>,
}

impl Terminal {
    fn run(e: &Env, command: &str) -> Terminal {
        use std::io::Read;
        let mut child = Command::new("script")
            .args(["-qec", command, "/dev/null"])
            .env("SHELL", "/bin/sh")
            .env("XDG_CONFIG_HOME", e.config.path())
            .env("HOME", e.config.path())
            .env_remove("KEYWARD_URL")
            .env_remove("KEYWARD_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("util-linux `script` is installed");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, display) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            keyboard: child.stdin.take().unwrap(),
            child,
            display,
            shown: Vec::new(),
        }
    }

    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.shown).into_owned()
    }

    /// Waits until the terminal shows `text` (10 s at most).
    fn wait_for(&mut self, text: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.shown().contains(text) {
            assert!(
                std::time::Instant::now() < deadline,
                "the terminal never showed {text:?}: {}",
                self.shown()
            );
            if let Ok(chunk) = self
                .display
                .recv_timeout(std::time::Duration::from_millis(100))
            {
                self.shown.extend(chunk);
            }
        }
    }

    fn type_in(&mut self, keys: &[u8]) {
        self.keyboard.write_all(keys).unwrap();
        self.keyboard.flush().unwrap();
    }

    /// Waits for the command line to end (the keyboard stays connected until then);
    /// returns whether it succeeded, and all the terminal showed.
    fn finish(mut self) -> (bool, String) {
        let status = self.child.wait().unwrap();
        while let Ok(chunk) = self
            .display
            .recv_timeout(std::time::Duration::from_millis(500))
        {
            self.shown.extend(chunk);
        }
        (status.success(), self.shown())
    }
}

const PROMPT: &str = "not shown as you type";

/// On a terminal, `keyward login` asks for the token without echoing it: typed into
/// a real pseudo-terminal, it never shows in what the terminal displays, and the
/// login works.
#[test]
fn login_on_a_terminal_does_not_echo_the_token() {
    let e = Env::empty();
    let server = Server::start();
    let token = admin_token(&e, &server);
    let command = format!("{} login {}", env!("CARGO_BIN_EXE_keyward"), server.url);
    let mut terminal = Terminal::run(&e, &command);
    // Type only once the prompt is up, as a person would.
    terminal.wait_for(PROMPT);
    terminal.type_in(format!("{token}\n").as_bytes());
    let (success, shown) = terminal.finish();
    assert!(success, "{shown}");
    assert!(shown.contains("Logged in to"), "{shown}");
    assert!(
        !shown.contains(&token[20..]),
        "the token was echoed: {shown}"
    );
    assert_eq!(
        mode(&e.config.path().join("keyward/credentials.toml")),
        0o600
    );
}

/// Ctrl-C at the token prompt cancels the login, saying so, with exit 130, and
/// leaves the terminal as it was: the echo back on, so that the shell the person
/// returns to shows what they type. (A SIGINT used to end keyward with the echo
/// still off.) `stty -a`, run on the same terminal afterwards, says how it was left.
#[test]
fn ctrl_c_at_the_login_prompt_cancels_and_gives_the_echo_back() {
    let e = Env::empty();
    let (_held, url) = nothing_listening();
    let command = format!(
        "trap : INT; {} login {url}; echo \"exit=$?\"; stty -a",
        env!("CARGO_BIN_EXE_keyward")
    );
    let mut terminal = Terminal::run(&e, &command);
    terminal.wait_for(PROMPT);
    terminal.type_in(b"kw_admin_half_typ\x03");
    let (_, shown) = terminal.finish();
    assert!(shown.contains("exit=130"), "{shown}");
    assert!(
        shown.contains("login cancelled (Ctrl-C); no token was saved"),
        "{shown}"
    );
    assert!(!shown.contains("kw_admin_half_typ"), "echoed: {shown}");
    let modes: Vec<&str> = shown
        .split_once("exit=130")
        .unwrap()
        .1
        .split(|c: char| c.is_whitespace() || c == ';')
        .collect();
    for on in ["echo", "isig", "icanon"] {
        assert!(
            modes.contains(&on) && !modes.contains(&format!("-{on}").as_str()),
            "the terminal was left with {on} off: {shown}"
        );
    }
    assert!(!e.config.path().join("keyward/credentials.toml").exists());
}
