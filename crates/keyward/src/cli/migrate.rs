//! `keyward migrate`: applies the database's pending migrations as a step of its own,
//! for operators who migrate before rolling out new nodes (with `migrate_on_start =
//! false`), and `--check` to see what is pending without applying anything.

use crate::config::Config;
use crate::output::{outln, print_json, Failure};
use clap::Args;
use keyward_store::{Migration, StoreError};
use serde_json::json;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Apply nothing: list the pending migrations and exit 1 if there are any (0 when
    /// the database is up to date).
    #[arg(long)]
    pub check: bool,
}

fn names(migrations: &[Migration]) -> Vec<String> {
    migrations.iter().map(Migration::to_string).collect()
}

pub async fn run(config: &Config, args: &MigrateArgs, json: bool) -> Result<(), Failure> {
    let url = &config.database_url;
    if args.check {
        let pending = keyward_store::pending_migrations(url)
            .await
            .map_err(open_failure)?;
        if json {
            print_json(&json!({ "pending": names(&pending), "up_to_date": pending.is_empty() }));
        } else if pending.is_empty() {
            outln!("The database is up to date: no migration is pending.");
        } else {
            for m in &pending {
                outln!("pending: {m}");
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        return Err(Failure {
            message: Some(format!(
                "{} migration(s) pending ({}); `keyward migrate` applies them",
                pending.len(),
                names(&pending).join(", ")
            )),
            code: 1,
        });
    }
    let ran = keyward_store::migrate(url).await.map_err(open_failure)?;
    if json {
        print_json(&json!({ "applied": names(&ran) }));
    } else if ran.is_empty() {
        outln!("The database is up to date: no migration was pending, nothing was changed.");
    } else {
        for m in &ran {
            outln!("applied: {m}");
        }
        outln!("The database is up to date.");
    }
    Ok(())
}

/// Why the database could not be opened, with what to do about it.
pub fn open_failure(e: StoreError) -> Failure {
    match &e {
        StoreError::SchemaBehind(_) => Failure::usage(format!(
            "cannot open the database: {e}; apply them with `keyward migrate` (migrate_on_start is false, so no command migrates by itself)"
        )),
        _ => Failure::usage(format!("cannot open the database: {e}")),
    }
}
