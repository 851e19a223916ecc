//! The data directory's life: `keyward init` (and `serve`) make it ready, with its
//! database and pepper; every other command only checks that it is there, and says
//! where it looked and how to point elsewhere when it is not. Run again, `init`
//! changes nothing.

use crate::config::Config;
use crate::output::{outln, print_json, Failure};
use serde_json::json;

/// The SQLite file a `sqlite:` database URL names, if it names one.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Whether the data directory holds a database and a pepper (or one is configured).
pub fn initialised(config: &Config) -> bool {
    sqlite_file(&config.database_url).is_none_or(|db| db.exists())
        && (config.pepper.is_some() || config.data_dir.join("pepper").exists())
}

/// Refuses to go on where there is no database: opening one would create it, and an
/// operator who mistyped a path would get an empty keyward with a new pepper.
pub fn require_initialised(config: &Config) -> Result<(), Failure> {
    let Some(db) = sqlite_file(&config.database_url) else {
        return Ok(());
    };
    if db.exists() {
        return Ok(());
    }
    let dir = super::location::shown(&config.data_dir);
    let how = super::location::how_to_point();
    let from = &config.data_dir_from;
    let message = if db != config.data_dir.join("keyward.db") {
        let db = super::location::shown(&db);
        format!(
            "there is no keyward database at {} (KEYWARD_DATABASE_URL or the config file's database_url); {how}",
            db.display()
        )
    } else if config.data_dir.is_dir() {
        format!(
            "the data directory {} (from {from}) holds no keyward database (keyward.db); {how}",
            dir.display()
        )
    } else {
        format!(
            "there is no keyward data directory at {} (from {from}); {how}",
            dir.display()
        )
    };
    Err(Failure::usage(message))
}

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
