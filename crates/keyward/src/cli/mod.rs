//! The command line: argument definitions and the dispatch to one handler per command
//! group. Handlers call `keyward_app` and print; they decide nothing themselves.

mod admin;
mod audit;
mod check;
mod keys;
mod members;
mod orgs;
pub mod serve;

use crate::config::Config;
use crate::output::Failure;
use clap::{Args, Parser, Subcommand};
use keyward_app::{Keyward, Principal};
use keyward_core::Actor;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Self-hosted API keys: create, scope, rotate, revoke, check, audit."
)]
pub struct Cli {
    /// Where keyward keeps its database and pepper.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A TOML config file (also KEYWARD_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Organizations: the tenants.
    #[command(subcommand)]
    Org(orgs::OrgCommand),
    /// Projects of an organization (each gets `production` and `preview`).
    #[command(subcommand)]
    Project(orgs::ProjectCommand),
    /// API keys: create, list, show, update, revoke, reactivate, rotate, delete.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Check a key against a request; exit 0 when valid, 1 when not.
    Check(check::CheckArgs),
    /// The audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// People.
    #[command(subcommand)]
    User(members::UserCommand),
    /// Members of organizations: roles and project levels.
    #[command(subcommand)]
    Member(members::MemberCommand),
    /// Run the HTTP server: management API, verify API, API docs.
    Serve(serve::ServeArgs),
    /// Operator administration: admin tokens.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
}

/// `--yes` for commands that destroy or disable something.
#[derive(Debug, Args)]
pub struct Confirm {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

impl Confirm {
    /// Asks on a terminal; without one, refuses unless `--yes` was given.
    pub fn confirm(&self, question: &str) -> Result<(), Failure> {
        use std::io::{BufRead, IsTerminal};
        if self.yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            return Err(Failure::usage(format!(
                "{question} Not confirmed: there is no terminal to ask on; pass --yes to confirm"
            )));
        }
        crate::output::write_err(format_args!("{question} [y/N] "));
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).ok();
        if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
            Ok(())
        } else {
            Err(Failure::usage("cancelled; nothing was changed"))
        }
    }
}

/// The command line acts as the operator: whoever can run it can read the data
/// directory anyway.
pub fn operator() -> Principal {
    Principal::Operator(cli_actor())
}

/// The actor the audit log records for the command line: `cli:<OS user>`.
fn cli_actor() -> Actor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "operator".into());
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    Actor::Cli(if user.is_empty() {
        "operator".into()
    } else {
        user
    })
}

pub async fn run(
    app: &Keyward,
    config: &Config,
    command: Command,
    json: bool,
) -> Result<(), Failure> {
    match command {
        Command::Serve(_) => serve::run(app, config).await,
        Command::Admin(c) => admin::run(app, c, json).await,
        Command::User(c) => members::user(app, c, json).await,
        Command::Member(c) => members::member(app, c, json).await,
        Command::Org(c) => orgs::org(app, c, json).await,
        Command::Project(c) => orgs::project(app, c, json).await,
        Command::Keys(c) => keys::run(app, c, json).await,
        Command::Check(a) => check::run(app, a, json).await,
        Command::Audit(c) => audit::run(app, c, json).await,
    }
}
