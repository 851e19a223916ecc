//! `keyward init`: makes a data directory ready (its database and pepper), which no
//! command but this and `serve` does. Run again, it changes nothing.

use crate::config::Config;
use crate::output::{outln, print_json, Failure};
use serde_json::json;

/// Says what `init` found or made; `existed`: the directory was ready before.
pub fn report(config: &Config, existed: bool, json: bool) -> Result<(), Failure> {
    let dir = super::location::shown(&config.data_dir);
    if json {
        print_json(&json!({ "data_dir": dir, "created": !existed }));
    } else if existed {
        outln!(
            "The data directory {} is ready already; nothing was changed.",
            dir.display()
        );
    } else {
        outln!(
            "The data directory {} is ready. Next: `keyward serve`, or `keyward orgs create NAME`.",
            dir.display()
        );
    }
    Ok(())
}
