//! The command line as people expect it to behave: searches in the past count back
//! from now, output ends quietly when the reader goes away, every option explains
//! itself, shells complete it, and command names work singular and plural.

use crate::Env;
use std::process::Stdio;

/// `--since 1h` is the last hour (it once meant "from an hour ahead" and found nothing).
#[test]
fn audit_searches_count_back_from_now() {
    let e = Env::new();
    e.setup();
    let events = |args: &[&str]| -> usize {
        let mut all = vec!["audit", "list"];
        all.extend_from_slice(args);
        e.json(&all).as_array().unwrap().len()
    };
    assert_eq!(events(&[]), 2, "org and project created");
    assert_eq!(events(&["--since", "1h"]), 2);
    assert_eq!(events(&["--since", "1h ago"]), 2);
    assert_eq!(events(&["--until", "1h"]), 0);
    assert_eq!(events(&["--since", "2099-01-01T00:00:00Z"]), 0);
    let err = e.fails(&["audit", "list", "--since", "yesterday"], 2);
    assert!(
        err.contains("since: 'yesterday' is not a time") && err.contains("a duration ago"),
        "{err}"
    );
}

/// Runs `args` with stdout a pipe whose reader reads `lines` lines and then goes
/// away, as `| head -1` does; returns the exit code and stderr.
fn with_reader_gone(e: &Env, args: &[&str], lines: usize) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = e
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..lines {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
    }
    drop(reader);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap().code(), stderr)
}

/// `keyward … | head -1` ends quietly: no panic about a broken pipe, and the exit
/// code is the command's own (a check that says no still exits 1).
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let e = Env::new();
    e.setup();
    // --quiet: without it, the line naming the data directory is on stderr.
    for args in [
        &["-q", "org", "list"][..],
        &["-q", "--json", "audit", "list"],
        &["--quiet", "keys", "list", "--org", "Acme"],
    ] {
        let (code, stderr) = with_reader_gone(&e, args, 0);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
    let (code, stderr) = with_reader_gone(
        &e,
        &[
            "-q",
            "check",
            "kw_live_0000000000000000_nope",
            "--project",
            "Website",
            "--environment",
            "production",
            "--method",
            "GET",
        ],
        0,
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr, "");
}

/// `keyward completions bash|zsh|fish` prints a script for that shell, without
/// needing (or creating) a data directory.
#[test]
fn completion_scripts_for_each_shell() {
    let e = Env::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef keyward"),
        ("fish", "complete -c keyward"),
    ] {
        // No --data-dir: the default ./keyward-data must not appear.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["completions", shell])
            .current_dir(e.data())
            .env_remove("KEYWARD_DATA_DIR")
            .env_remove("KEYWARD_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {}", &script[..200]);
        for command in ["orgs", "keys", "audit", "users", "members", "completions"] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
    assert!(
        !e.data().join("keyward-data").exists(),
        "completions open no data directory"
    );
    let err = e.fails(&["completions", "tcsh"], 2);
    assert!(err.contains("bash, zsh, fish"), "{err}");

    // Larger than a pipe's buffer, so the reader leaving mid-way is a real EPIPE.
    let (code, stderr) = with_reader_gone(&e, &["completions", "zsh"], 1);
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
}

/// The README and scripts use `org`, `project`, `user`, `member`; the canonical
/// names are plural, as `keys` always was. Both spellings work for every group.
#[test]
fn command_groups_answer_to_singular_and_plural() {
    let e = Env::new();
    e.json(&["orgs", "create", "Acme"]);
    e.json(&["projects", "create", "--org", "Acme", "Website"]);
    e.json(&["users", "create", "ada@acme.test"]);
    e.json(&[
        "members",
        "set",
        "--org",
        "Acme",
        "ada@acme.test",
        "--role",
        "owner",
    ]);
    e.json(&[
        "key", "create", "--org", "Acme", "--name", "x", "--grant", "*:*:read",
    ]);
    e.json(&["admin", "tokens", "create", "--name", "backend"]);
    for (plural, singular) in [
        (&["orgs", "list"][..], &["org", "list"][..]),
        (
            &["projects", "list", "--org", "Acme"],
            &["project", "list", "--org", "Acme"],
        ),
        (
            &["keys", "list", "--org", "Acme"],
            &["key", "list", "--org", "Acme"],
        ),
        (
            &["members", "list", "--org", "Acme"],
            &["member", "list", "--org", "Acme"],
        ),
        (&["users", "list"], &["user", "list"]),
        (&["admin", "tokens", "list"], &["admin", "token", "list"]),
    ] {
        let a = e.json(plural);
        assert_eq!(a.as_array().unwrap().len(), 1, "{plural:?}");
        assert_eq!(a, e.json(singular), "{singular:?}");
    }
}

/// `keyward users list` shows everyone created, and `users show` where they belong.
#[test]
fn users_are_listed_and_shown() {
    let e = Env::new();
    e.setup();
    assert_eq!(e.json(&["users", "list"]), serde_json::json!([]));
    e.json(&["users", "create", "ada@acme.test", "--name", "Ada"]);
    e.json(&["users", "create", "cyd@acme.test"]);
    e.json(&[
        "members",
        "set",
        "--org",
        "Acme",
        "ada@acme.test",
        "--role",
        "admin",
    ]);
    let users = e.json(&["users", "list"]);
    let emails: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ada@acme.test", "cyd@acme.test"]);
    assert_eq!(users[0]["display_name"], "Ada");

    let table = e.run(&["users", "list"]);
    let text = String::from_utf8(table.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("EMAIL"),
        "{text}"
    );
    assert!(
        lines[1].contains("ada@acme.test") && lines[1].contains("Ada"),
        "{text}"
    );
    assert!(lines[2].contains("cyd@acme.test"), "{text}");

    let ada = e.json(&["users", "show", "ada@acme.test"]);
    assert_eq!(ada["organizations"][0]["org"], "Acme");
    assert_eq!(ada["organizations"][0]["role"], "admin");
    let shown = e.run(&["users", "show", "cyd@acme.test"]);
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("organizations:  none"), "{text}");
    let err = e.fails(&["users", "show", "nobody@acme.test"], 2);
    assert!(err.contains("not found"), "{err}");
}

/// The audit table stays readable in a 100-column terminal whatever the events hold:
/// one line per event, details summarised and cut short; `--json` has them in full.
#[test]
fn the_audit_table_fits_in_100_columns() {
    let e = Env::new();
    e.setup();
    for name in ["Mobile", "Backoffice", "Analytics"] {
        e.json(&["projects", "create", "--org", "Acme", name]);
    }
    let long_name = "n".repeat(100);
    let (id, _) = e.create(&["--grant", "Website:production:read"]);
    let mut update = vec!["keys", "update", &id, "--name", &long_name];
    for grant in [
        "Website:production:read",
        "Mobile:production:manage",
        "Backoffice:production:write:forms,responses,webhooks",
        "Analytics:*:read",
        "*:*:read:analytics",
    ] {
        update.extend(["--grant", grant]);
    }
    e.json(&update);
    e.json(&[
        "users",
        "create",
        "someone.with.a.long.address@a-rather-long-domain.example",
    ]);
    e.json(&[
        "members",
        "set",
        "--org",
        "Acme",
        "someone.with.a.long.address@a-rather-long-domain.example",
        "--role",
        "member",
        "--project",
        "Website:read",
        "--project",
        "Mobile:write",
    ]);

    let events = e.json(&["audit", "list"]);
    let events = events.as_array().unwrap();
    let updated = events
        .iter()
        .find(|e| e["action"] == "key.updated")
        .unwrap();
    assert_eq!(updated["details"]["after"]["name"], long_name.as_str());
    let out = e.run(&["audit", "list"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), events.len() + 1, "one line per event:\n{text}");
    for line in &lines {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(
        lines[1].contains("member.added") && lines[1].contains("someone.with"),
        "{text}"
    );
    assert!(
        lines[2].contains("user.created"),
        "the operator's own stream too: {text}"
    );
    assert!(lines[3].contains("changed grants, name"), "{text}");
}

/// A key pasted where a filter, status or role belonged is never repeated back.
#[test]
fn a_key_in_the_wrong_option_is_not_echoed() {
    let e = Env::new();
    e.setup();
    let (_, key) = e.create(&["--grant", "*:*:read"]);
    let secret = &key[key.len() - 20..];
    for args in [
        &["audit", "list", "--action", &key][..],
        &["audit", "list", "--since", &key],
        &["keys", "list", "--org", "Acme", "--status", &key],
        &["members", "set", "--org", "Acme", "x@y.z", "--role", &key],
        &[
            "members",
            "set",
            "--org",
            "Acme",
            "x@y.z",
            "--role",
            "member",
            "--project",
            &key,
        ],
    ] {
        let err = e.fails(args, 2);
        assert!(!err.contains(secret), "{args:?}: {err}");
    }
}
