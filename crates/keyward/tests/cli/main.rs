//! End-to-end tests of the `keyward` binary: each runs the built program against a
//! fresh data directory, as an operator would, and reads what it prints.
#![allow(clippy::unwrap_used)]

mod client;
mod cluster;
mod global_limits;
mod migrate;
mod multinode;
mod proxies;
mod remote;
mod serve;
mod usability;

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
    /// The user's config directory (`XDG_CONFIG_HOME`), where `keyward login` saves.
    config: tempfile::TempDir,
}

impl Env {
    /// A data directory made ready with `keyward init`, as an operator starts.
    fn new() -> Self {
        let e = Env::empty();
        e.json(&["init"]);
        e
    }

    /// An empty folder as the data directory: no command but `init` and `serve` may
    /// use it.
    fn empty() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
            config: tempfile::tempdir().unwrap(),
        }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.bare();
        c.arg("--data-dir").arg(self.data()).args(args);
        c
    }

    /// The program with a clean environment (no KEYWARD_* variables, the user's config
    /// directory in this test's own folder), without arguments yet.
    fn bare(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyward"));
        for var in [
            "KEYWARD_PEPPER",
            "KEYWARD_CONFIG",
            "KEYWARD_DATA_DIR",
            "KEYWARD_DATABASE_URL",
            "KEYWARD_DATABASE_MAX_CONNECTIONS",
            "KEYWARD_MIGRATE_ON_START",
            "KEYWARD_KEY_PREFIX",
            "KEYWARD_REDIS_URL",
            "KEYWARD_REDIS_KEY_PREFIX",
            "KEYWARD_REDIS_TIMEOUT",
            "KEYWARD_REDIS_UNREACHABLE",
            "KEYWARD_URL",
            "KEYWARD_TOKEN",
        ] {
            c.env_remove(var);
        }
        c.env("XDG_CONFIG_HOME", self.config.path())
            .env("HOME", self.config.path())
            .env("USER", "tester")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed, and parses its `--json` output.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Runs a command that must fail with `code`; returns its stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn setup(&self) {
        self.json(&["org", "create", "Acme"]);
        self.json(&["project", "create", "--org", "Acme", "Website"]);
    }

    fn create(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["keys", "create", "--org", "Acme", "--name", "ci"];
        all.extend_from_slice(args);
        let v = self.json(&all);
        (
            v["id"].as_str().unwrap().to_owned(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }

    fn check(&self, key: &str, env: &str, method: &str) -> (i32, Value) {
        let out = self.run(&[
            "--json",
            "check",
            key,
            "--project",
            "Website",
            "--environment",
            env,
            "--method",
            method,
        ]);
        (
            out.status.code().unwrap(),
            serde_json::from_slice(&out.stdout).unwrap(),
        )
    }

    fn key_count(&self) -> usize {
        self.json(&["keys", "list", "--org", "Acme"])
            .as_array()
            .unwrap()
            .len()
    }
}

#[test]
fn the_whole_lifecycle_works_from_the_command_line() {
    let e = Env::new();
    e.setup();
    let (id, key) = e.create(&["--grant", "Website:production:read", "--expires", "30d"]);
    assert!(key.starts_with(&format!("kw_live_{id}_")));

    let (code, v) = e.check(&key, "production", "GET");
    assert_eq!((code, v["outcome"].as_str()), (0, Some("valid")));
    let (code, v) = e.check(&key, "production", "DELETE");
    assert_eq!(
        (code, v["outcome"].as_str()),
        (1, Some("insufficient_permission"))
    );
    assert_eq!(v["required_permission"], "Website:production:manage");

    let shown = e.json(&["keys", "show", &id]);
    assert_eq!(shown["name"], "ci");
    assert!(
        shown.get("key").is_none(),
        "the key is shown only at creation"
    );

    e.json(&[
        "keys",
        "update",
        &id,
        "--name",
        "renamed",
        "--grant",
        "Website:production:manage",
    ]);
    assert_eq!(e.check(&key, "production", "DELETE").0, 0);

    e.json(&["keys", "revoke", &id, "--yes"]);
    assert_eq!(e.check(&key, "production", "GET").1["outcome"], "revoked");
    e.json(&["keys", "reactivate", &id]);
    assert_eq!(e.check(&key, "production", "GET").1["outcome"], "valid");

    let rotated = e.json(&["keys", "rotate", &id, "--grace", "0", "--yes"]);
    let new_key = rotated["new"]["key"].as_str().unwrap().to_owned();
    let new_id = rotated["new"]["id"].as_str().unwrap().to_owned();
    assert_eq!(rotated["new"]["rotated_from"], id.as_str());
    assert_eq!(rotated["old"]["rotated_to"], new_id.as_str());
    assert_eq!(e.check(&key, "production", "GET").1["outcome"], "expired");
    assert_eq!(e.check(&new_key, "production", "GET").1["outcome"], "valid");

    e.json(&["keys", "delete", &new_id, "--yes"]);
    assert_eq!(
        e.check(&new_key, "production", "GET").1["outcome"],
        "revoked"
    );
    let err = e.fails(&["keys", "reactivate", &new_id], 2);
    assert!(err.contains("deleted"), "{err}");

    let actions: Vec<String> = e
        .json(&["audit", "list", "--org", "Acme"])
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|ev| ev["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "org.created",
            "project.created",
            "key.created",
            "key.updated",
            "key.revoked",
            "key.reactivated",
            "key.rotated",
            "key.created",
            "key.deleted"
        ]
    );
    let for_key = e.json(&["audit", "list", "--key", &id, "--action", "key.revoked"]);
    assert_eq!(for_key.as_array().unwrap().len(), 1);
    assert_eq!(for_key[0]["actor"], "cli:tester");
}

#[test]
fn a_test_key_on_production_is_wrong_environment() {
    let e = Env::new();
    e.setup();
    let (_, key) = e.create(&["--kind", "test", "--grant", "*:*:manage"]);
    let (code, v) = e.check(&key, "production", "GET");
    assert_eq!(
        (code, v["outcome"].as_str()),
        (1, Some("wrong_environment"))
    );
    assert_eq!(e.check(&key, "preview", "DELETE").1["outcome"], "valid");
}

#[test]
fn a_mistyped_key_is_malformed_and_a_made_up_one_unknown() {
    let e = Env::new();
    e.setup();
    let (_, key) = e.create(&["--grant", "*:*:read"]);
    let mut typo = key.clone();
    typo.replace_range(20..21, if &key[20..21] == "A" { "B" } else { "A" });
    assert_eq!(
        e.check(&typo, "production", "GET").1["outcome"],
        "malformed"
    );
    assert_eq!(
        e.check("not-a-key", "production", "GET").1["outcome"],
        "malformed"
    );
    // Another server's key (other pepper, other database) is well formed but unknown.
    let other = Env::new();
    other.setup();
    let (_, foreign) = other.create(&["--grant", "*:*:read"]);
    assert_eq!(
        e.check(&foreign, "production", "GET").1["outcome"],
        "unknown"
    );
}

#[test]
fn the_key_can_be_read_from_standard_input() {
    let e = Env::new();
    e.setup();
    let (_, key) = e.create(&["--grant", "*:*:read"]);
    let mut child = e
        .command(&[
            "check",
            "-",
            "--project",
            "Website",
            "--environment",
            "production",
            "--method",
            "GET",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{key}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
}

#[test]
fn bad_input_is_refused_with_a_message_naming_the_field_and_nothing_is_written() {
    let e = Env::new();
    e.setup();
    let base = ["keys", "create", "--org", "Acme", "--name", "x"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "keys".into(),
                "create".into(),
                "--org".into(),
                "Nope".into(),
                "--name".into(),
                "x".into(),
                "--grant".into(),
                "*:*:read".into(),
            ],
            "organization 'Nope' not found",
        ),
        (
            with(&["--grant", "Nope:production:read"]),
            "project 'Nope' not found",
        ),
        (
            with(&["--grant", "*:*:read", "--expires", "2001-01-01"]),
            "expires_at",
        ),
        (with(&["--grant", "*:*:read", "--expires", "3y"]), "expires"),
        (
            with(&["--grant", "*:*:read", "--expires", "800d"]),
            "more than 730d ahead",
        ),
        (
            with(&["--grant", "*:*:read", "--kind", "prod"]),
            "use 'live' or 'test'",
        ),
        (
            with(&["--grant", "*:*:admin"]),
            "use 'read', 'write' or 'manage'",
        ),
        (
            with(&["--grant", "*:*:read", "--org-access", "all"]),
            "'none', 'read', 'write' or 'manage'",
        ),
        (
            with(&[]),
            "at least one grant (PROJECT:ENVIRONMENT:LEVEL), scope (RESOURCE:ACTION), or organization access",
        ),
        (
            vec![
                "keys".into(),
                "create".into(),
                "--org".into(),
                "Acme".into(),
                "--name".into(),
                " ".into(),
                "--grant".into(),
                "*:*:read".into(),
            ],
            "name: must not be empty",
        ),
        (
            vec![
                "keys".into(),
                "create".into(),
                "--org".into(),
                "Acme".into(),
                "--name".into(),
                "n".repeat(101),
                "--grant".into(),
                "*:*:read".into(),
            ],
            "at most 100",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = e.fails(&args, 2);
        assert!(
            err.contains(expected),
            "{args:?}: {err:?} should mention {expected:?}"
        );
    }
    assert_eq!(e.key_count(), 0);

    let err = e.fails(&["org", "create", "ACME"], 2);
    assert!(err.contains("already exists"), "{err}");
    let err = e.fails(&["project", "create", "--org", "Acme", "website"], 2);
    assert!(err.contains("already exists"), "{err}");

    let (id, _) = e.create(&["--grant", "*:*:read"]);
    let err = e.fails(&["keys", "rotate", &id, "--grace", "8d", "--yes"], 2);
    assert!(err.contains("longer than the maximum of 7 days"), "{err}");
    let err = e.fails(&["keys", "show", "short"], 2);
    assert!(err.contains("invalid key id"), "{err}");
    let err = e.fails(&["keys", "show", "0000000000000000"], 2);
    assert!(err.contains("not found"), "{err}");
    let err = e.fails(
        &[
            "check",
            "x",
            "--project",
            "Website",
            "--environment",
            "production",
            "--method",
            "TRACE",
        ],
        2,
    );
    assert!(err.contains("unsupported HTTP method"), "{err}");
    assert_eq!(e.key_count(), 1, "only the one good key exists");
}

#[test]
fn destructive_commands_need_confirmation_without_a_terminal() {
    let e = Env::new();
    e.setup();
    let (id, key) = e.create(&["--grant", "*:*:read"]);
    for cmd in ["revoke", "delete", "rotate"] {
        let err = e.fails(&["keys", cmd, &id], 2);
        assert!(err.contains("--yes"), "{err}");
    }
    assert_eq!(e.check(&key, "production", "GET").1["outcome"], "valid");
    assert_eq!(e.key_count(), 1);
}

#[test]
fn tables_are_the_default_output() {
    let e = Env::new();
    e.setup();
    e.create(&["--grant", "Website:production:read"]);
    let out = e.run(&["keys", "list", "--org", "Acme"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ID"), "{text}");
    assert!(text.contains("Website:production:read"), "{text}");
}

#[cfg(unix)]
#[test]
fn a_first_run_generates_a_private_pepper_and_never_silently_replaces_it() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::empty();
    let out = e.run(&["init"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("generated a new pepper"));
    let pepper = e.data().join("pepper");
    e.json(&["org", "create", "Acme"]);
    assert_eq!(
        std::fs::metadata(&pepper).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let first = std::fs::read_to_string(&pepper).unwrap();
    e.json(&["project", "create", "--org", "Acme", "Website"]);
    let (_, key) = e.create(&["--grant", "*:*:read"]);
    assert_eq!(
        std::fs::read_to_string(&pepper).unwrap(),
        first,
        "the pepper is reused"
    );
    assert_eq!(e.check(&key, "production", "GET").1["outcome"], "valid");

    // The pepper gone while keys exist: refuse, rather than make every key invalid.
    std::fs::remove_file(&pepper).unwrap();
    let err = e.fails(&["keys", "list", "--org", "Acme"], 2);
    assert!(
        err.contains("restore the pepper file or set KEYWARD_PEPPER"),
        "{err}"
    );
    assert!(!pepper.exists());

    // Given through the environment instead, it works again.
    let out = e
        .command(&[
            "--json",
            "check",
            &key,
            "--project",
            "Website",
            "--environment",
            "production",
            "--method",
            "GET",
        ])
        .env("KEYWARD_PEPPER", first.trim())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn configuration_comes_from_a_file_and_the_environment_and_typos_are_errors() {
    let e = Env::new();
    let config = e.data().join("keyward.toml");
    std::fs::write(
        &config,
        "key_prefix = \"fxk\"\nmax_key_lifetime = \"30d\"\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let v = e.json(&["--config", c, "org", "create", "Acme"]);
    assert_eq!(v["plan"], "pro");
    e.json(&[
        "--config", c, "project", "create", "--org", "Acme", "Website",
    ]);
    let created = e.json(&[
        "--config", c, "keys", "create", "--org", "Acme", "--name", "x", "--grant", "*:*:read",
    ]);
    assert!(created["key"].as_str().unwrap().starts_with("fxk_live_"));
    let err = e.fails(
        &[
            "--config",
            c,
            "keys",
            "create",
            "--org",
            "Acme",
            "--name",
            "x",
            "--grant",
            "*:*:read",
            "--expires",
            "31d",
        ],
        2,
    );
    assert!(err.contains("more than 30d ahead"), "{err}");

    let out = e
        .command(&["keys", "list", "--org", "Acme"])
        .env("KEYWARD_KEY_PREFIX", "Bad_Prefix")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("KEYWARD_KEY_PREFIX") && err.contains("lowercase letters and digits"),
        "{err}"
    );

    std::fs::write(&config, "key_prefx = \"fxk\"\n").unwrap();
    let err = e.fails(&["--config", c, "org", "list"], 2);
    assert!(
        err.contains("unknown field") && err.contains("key_prefx"),
        "{err}"
    );
}

#[test]
fn the_data_directory_can_come_from_the_environment() {
    let e = Env::empty();
    let dir = e.data().join("from-env");
    for args in [&["init"][..], &["--json", "org", "create", "Acme"]] {
        let out = e
            .bare()
            .args(args)
            .env("KEYWARD_DATA_DIR", &dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "keyward: using the data directory {} (from KEYWARD_DATA_DIR)",
                dir.display()
            )),
            "{stderr}"
        );
    }
    assert!(dir.join("keyward.db").exists());
}

#[test]
fn admin_tokens_are_shown_once_listed_without_secrets_and_revoked() {
    let e = Env::new();
    let out = e.run(&["admin", "token", "create", "--name", "billing backend"]);
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        token.starts_with("kw_admin_") && !token.contains(' '),
        "alone on stdout: {token}"
    );
    let json = e.json(&["admin", "token", "create", "--name", "second"]);
    assert!(json["token"].as_str().unwrap().starts_with("kw_admin_"));
    let list = e.json(&["admin", "token", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let listed = serde_json::to_string(&list).unwrap();
    assert!(
        !listed.contains(&token[token.len() - 49..]),
        "no secret in the listing"
    );
    let id = list[0]["id"].as_str().unwrap().to_owned();
    e.fails(&["admin", "token", "revoke", &id], 2);
    e.json(&["admin", "token", "revoke", &id, "--yes"]);
    assert!(e.json(&["admin", "token", "list"])[0]["revoked_at"].is_string());
    let err = e.fails(&["admin", "token", "revoke", &id, "--yes"], 2);
    assert!(err.contains("already revoked"), "{err}");
    let err = e.fails(&["admin", "token", "create", "--name", ""], 2);
    assert!(err.contains("name"), "{err}");
}

#[test]
fn people_scopes_and_user_bound_keys_from_the_command_line() {
    let e = Env::new();
    e.setup();
    e.json(&["user", "create", "ada@acme.test"]);
    e.json(&["user", "create", "cyd@acme.test"]);
    e.json(&[
        "member",
        "set",
        "--org",
        "Acme",
        "ada@acme.test",
        "--role",
        "owner",
    ]);
    e.json(&[
        "member",
        "set",
        "--org",
        "Acme",
        "cyd@acme.test",
        "--role",
        "member",
        "--project",
        "Website:read",
    ]);
    let members = e.json(&["member", "list", "--org", "Acme"]);
    assert_eq!(members.as_array().unwrap().len(), 2);

    // Cyd is a member: she cannot create keys.
    let err = e.fails(
        &[
            "keys",
            "create",
            "--org",
            "Acme",
            "--name",
            "x",
            "--as-user",
            "cyd@acme.test",
            "--grant",
            "Website:production:read",
        ],
        2,
    );
    assert!(err.contains("you are a member"), "{err}");
    // Ada's key is bound to her, and stops when she leaves.
    e.json(&[
        "member",
        "set",
        "--org",
        "Acme",
        "cyd@acme.test",
        "--role",
        "owner",
    ]);
    let (_, key) = e.create(&["--as-user", "ada@acme.test", "--grant", "*:*:manage"]);
    assert_eq!(e.check(&key, "production", "DELETE").1["outcome"], "valid");
    e.json(&[
        "member",
        "remove",
        "--org",
        "Acme",
        "ada@acme.test",
        "--yes",
    ]);
    assert_eq!(
        e.check(&key, "production", "GET").1["outcome"],
        "insufficient_permission"
    );

    // Scopes: checked against the catalog, granting their resource.
    let err = e.fails(
        &[
            "keys",
            "create",
            "--org",
            "Acme",
            "--name",
            "x",
            "--scope",
            "forms:delete",
        ],
        2,
    );
    assert!(err.contains("forms:read"), "{err}");
    let (_, scoped) = e.create(&["--scope", "forms:read"]);
    let out = e.run(&[
        "--json",
        "check",
        &scoped,
        "--project",
        "Website",
        "--environment",
        "production",
        "--method",
        "GET",
        "--resource",
        "forms",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (_, limited) = e.create(&["--grant", "Website:*:write:forms"]);
    let out = e.run(&[
        "--json",
        "check",
        &limited,
        "--project",
        "Website",
        "--environment",
        "production",
        "--method",
        "POST",
        "--resource",
        "responses",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

/// Invitations from the command line: the token is printed once, accepting it (here
/// by the operator, for someone without an account) makes the member, and a used or
/// withdrawn token opens nothing.
#[test]
fn invitations_are_made_accepted_and_withdrawn_from_the_command_line() {
    let e = Env::new();
    e.setup();
    let made = e.json(&[
        "members",
        "invite",
        "--org",
        "Acme",
        "Bea@Acme.test",
        "--role",
        "member",
        "--project",
        "Website:write",
    ]);
    assert_eq!(made["email"], "bea@acme.test");
    let token = made["token"].as_str().unwrap().to_owned();
    let pending = e.json(&["members", "invitations", "--org", "Acme"]);
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert!(
        !pending.to_string().contains(&token),
        "listed without its token"
    );
    let joined = e.json(&["members", "accept", &token]);
    assert_eq!(joined["email"], "bea@acme.test");
    assert_eq!(joined["role"], "member");
    let err = e.fails(&["members", "accept", &token], 2);
    assert!(err.contains("used, revoked or have expired"), "{err}");
    assert!(
        !err.contains(&token[20..]),
        "the token is not repeated: {err}"
    );
    let members = e.json(&["members", "list", "--org", "Acme"]);
    assert!(members.to_string().contains("bea@acme.test"));

    let second = e.json(&[
        "members",
        "invite",
        "--org",
        "Acme",
        "cal@acme.test",
        "--role",
        "admin",
    ]);
    let id = second["id"].as_str().unwrap();
    e.json(&["members", "withdraw", "--org", "Acme", id]);
    e.fails(&["members", "accept", second["token"].as_str().unwrap()], 2);
    let events = e.json(&[
        "audit",
        "list",
        "--org",
        "Acme",
        "--action",
        "member.invited",
    ]);
    assert_eq!(events.as_array().unwrap().len(), 2);
}

/// Changing the key prefix keeps earlier keys working: the setting is a list, new keys
/// get the first prefix and keys with the others still check.
#[test]
fn keys_issued_under_an_earlier_prefix_keep_working_after_a_change() {
    let e = Env::new();
    e.setup();
    let (_, old) = e.create(&["--grant", "*:*:read"]);
    assert!(old.starts_with("kw_live_"));
    let config = e.data().join("keyward.toml");
    std::fs::write(&config, "key_prefix = [\"fxk\", \"kw\"]\n").unwrap();
    let c = config.to_str().unwrap();
    let new = e.json(&[
        "--config", c, "keys", "create", "--org", "Acme", "--name", "n", "--grant", "*:*:read",
    ]);
    let new = new["key"].as_str().unwrap().to_owned();
    assert!(new.starts_with("fxk_live_"), "{new}");
    for key in [&old, &new] {
        let out = e
            .command(&[
                "--config",
                c,
                "check",
                key,
                "--project",
                "Website",
                "--environment",
                "production",
                "--method",
                "GET",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The same list from the environment; and dropping a prefix retires its keys.
    let out = e
        .command(&[
            "check",
            &old,
            "--project",
            "Website",
            "--environment",
            "production",
            "--method",
            "GET",
        ])
        .env("KEYWARD_KEY_PREFIX", "fxk")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("malformed"));
}

#[test]
fn plans_allow_lists_and_metadata_from_the_command_line() {
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let e = Env::new();
    let config = e.data().join("keyward.toml");
    std::fs::write(
        &config,
        r#"default_plan = "small"

[plans.small]
api_access = true
max_keys = 2
rate_limits = [{ name = "default", limit = 5, period = "1m" }]

[plans.off]
api_access = false
"#,
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let org = e.json(&["--config", c, "org", "create", "Acme"]);
    assert_eq!(org["plan"], "small");
    e.json(&[
        "--config", c, "project", "create", "--org", "Acme", "Website",
    ]);
    let create = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "--config",
            c,
            "keys",
            "create",
            "--org",
            "Acme",
            "--name",
            "ci",
            "--grant",
            "Website:production:read",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    let run = |v: Vec<String>| e.json(&strs(&v));

    let made = run(create(&[
        "--allow-ip",
        "203.0.113.7/24",
        "--metadata",
        r#"{"customer":"cus_1"}"#,
        "--rate-limit",
        "default=2/1m",
    ]));
    assert_eq!(made["ip_allowlist"], serde_json::json!(["203.0.113.0/24"]));
    assert_eq!(made["metadata"]["customer"], "cus_1");
    assert_eq!(made["rate_limits"][0]["limit"], 2);
    let key = made["key"].as_str().unwrap().to_owned();
    let check = |ip: &str| {
        let out = e.run(&[
            "--config",
            c,
            "--json",
            "check",
            &key,
            "--project",
            "Website",
            "--environment",
            "production",
            "--method",
            "GET",
            "--ip",
            ip,
        ]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(check("203.0.113.200")["outcome"], "valid");
    assert_eq!(check("203.0.113.200")["metadata"]["customer"], "cus_1");
    assert_eq!(check("198.51.100.1")["outcome"], "ip_not_allowed");
    let err = e.fails(
        &[
            "--config",
            c,
            "check",
            &key,
            "--project",
            "Website",
            "--environment",
            "production",
            "--method",
            "GET",
            "--ip",
            "not-an-ip",
        ],
        2,
    );
    assert!(err.contains("--ip") && err.contains("not-an-ip"), "{err}");

    run(create(&[]));
    let err = e.fails(&strs(&create(&[])), 2);
    assert!(err.contains("small") && err.contains('2'), "{err}");

    let moved = e.json(&["--config", c, "org", "update", "Acme", "--plan", "off"]);
    assert_eq!(moved["plan"], "off");
    assert_eq!(check("203.0.113.200")["outcome"], "no_api_access");
    let err = e.fails(
        &["--config", c, "org", "update", "Acme", "--plan", "gold"],
        2,
    );
    assert!(err.contains("gold") && err.contains("small"), "{err}");

    // A plan the file does not define, or a bad one, is refused at start.
    std::fs::write(&config, "default_plan = \"gold\"\n").unwrap();
    let err = e.fails(&["--config", c, "org", "list"], 2);
    assert!(err.contains("gold") && err.contains("starter"), "{err}");
    std::fs::write(
        &config,
        "[plans.x]\napi_access = true\nrate_limits = [{ name = \"default\", limit = 0, period = \"1m\" }]\n",
    )
    .unwrap();
    let err = e.fails(&["--config", c, "org", "list"], 2);
    assert!(err.contains("plan 'x'") && err.contains("limit"), "{err}");
}

/// The operator can give a person a way in: a one-time reset link under the public URL
/// (the token in the fragment, so no server logs it), which a newer one replaces, and
/// can sign a person out everywhere.
#[test]
fn users_reset_link_prints_a_link_under_the_public_url_and_sign_out_counts() {
    let env = Env::new();
    env.json(&["users", "create", "ada@acme.test"]);
    let out = env
        .command(&["users", "reset-link", "ada@acme.test"])
        .env("KEYWARD_PUBLIC_URL", "https://keys.example.com/")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        link.starts_with("https://keys.example.com/reset-password#token=rst_"),
        "{link}"
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("ada@acme.test") && said.contains("(in "),
        "{said}"
    );
    let json = env.json(&["users", "reset-link", "ada@acme.test"]);
    assert!(json["link"].as_str().unwrap().contains("#token=rst_"));
    assert_eq!(json["email"], "ada@acme.test");
    let audit = env.json(&[
        "audit",
        "list",
        "--operator",
        "--action",
        "user.reset_link_created",
    ]);
    let text = audit.to_string();
    assert!(
        !text.contains(&link[link.len() - 43..]),
        "no token in the audit log"
    );
    assert_eq!(
        env.json(&["users", "sign-out", "ada@acme.test"])["sessions_ended"],
        0
    );
    env.fails(&["users", "reset-link", "nobody@acme.test"], 2);
}
