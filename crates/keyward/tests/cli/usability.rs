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
    for args in [
        &["org", "list"][..],
        &["--json", "audit", "list"],
        &["keys", "list", "--org", "Acme"],
    ] {
        let (code, stderr) = with_reader_gone(&e, args, 0);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
    let (code, stderr) = with_reader_gone(
        &e,
        &[
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
