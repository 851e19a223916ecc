//! The command line as people expect it to behave: searches in the past count back
//! from now, output ends quietly when the reader goes away, every option explains
//! itself, shells complete it, and command names work singular and plural.

use crate::Env;

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
