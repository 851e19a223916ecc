//! The command line: argument definitions and the dispatch to one handler per command
//! group. Handlers call `keyward_app` and print; they decide nothing themselves.

mod admin;
mod audit;
pub mod backend;
mod check;
pub mod completions;
mod credentials;
pub mod init;
mod keys;
pub mod location;
pub mod login;
mod members;
pub mod migrate;
mod orgs;
pub mod remote;
pub mod serve;
mod usage;

use crate::config::Config;
use crate::output::Failure;
use backend::Backend;
use clap::{Args, Parser, Subcommand};
use keyward_app::{Keyward, Principal};
use keyward_core::Actor;
use secrecy::SecretString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Self-hosted API keys: create, scope, rotate, revoke, check, audit."
)]
pub struct Cli {
    /// Where keyward keeps its database and pepper [default: ./keyward-data]. Given as
    /// an option, it wins over KEYWARD_URL and a login; see the README for the order.
    // clap reads the variable into the flag too; `data_dir_from_flag` tells them apart,
    // since KEYWARD_URL comes between the two (see cli::location).
    #[arg(long, global = true, value_name = "DIR", env = "KEYWARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Whether `data_dir` was given on the command line (not by KEYWARD_DATA_DIR).
    #[arg(skip)]
    pub data_dir_from_flag: bool,
    /// A TOML config file; see the README's Configuration for its settings.
    #[arg(long, global = true, value_name = "FILE", env = "KEYWARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Do not say on stderr which data directory or server the command uses.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    // Each group's canonical name is plural; the singular is a visible alias, so both
    // `keyward org list` and `keyward orgs list` work.
    /// Organizations: the tenants.
    #[command(subcommand, name = "orgs", visible_alias = "org")]
    Org(orgs::OrgCommand),
    /// Projects of an organization (each gets `production` and `preview`).
    #[command(subcommand, name = "projects", visible_alias = "project")]
    Project(orgs::ProjectCommand),
    /// API keys: create, list, show, update, revoke, reactivate, rotate, delete.
    #[command(subcommand, visible_alias = "key")]
    Keys(keys::KeysCommand),
    /// Check a key against a request; exit 0 when valid, 1 when not.
    Check(check::CheckArgs),
    /// The audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// People: create, list and show users; password-reset links; sign-out.
    #[command(subcommand, name = "users", visible_alias = "user")]
    User(members::UserCommand),
    /// Members of organizations: roles and project levels.
    #[command(subcommand, name = "members", visible_alias = "member")]
    Member(members::MemberCommand),
    /// Run the HTTP server: management API, verify API, API docs. Creates the data
    /// directory and its pepper on a first run.
    Serve(serve::ServeArgs),
    /// Create the data directory, its database and its pepper (no other command
    /// creates them); does nothing to one that is ready.
    Init,
    /// Apply the database's pending migrations (or, with --check, list them); for
    /// operators who set migrate_on_start = false and migrate as a step of its own.
    Migrate(migrate::MigrateArgs),
    /// Save an admin token for a keyward server, so that commands manage it through
    /// its HTTP API.
    Login(login::LoginArgs),
    /// Forget a saved admin token (it keeps working until revoked on the server).
    Logout(login::LogoutArgs),
    /// Operator administration: admin tokens.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Print a shell completion script (see the README for where to put it).
    Completions(completions::CompletionsArgs),
}

/// Parses the command line, or prints why not and exits. clap quotes a rejected value
/// ("invalid value '…' for '--status'"), and a key pasted into the wrong option must
/// never be repeated back (see `keyward_core::echo`), so such values are replaced in
/// the message first.
/// A secret given on the command line (a key, a token), kept in a type whose `Debug`
/// never shows it.
pub fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
}

/// The secret given, or, for `-`, the first line of standard input (which keeps it out
/// of shell history and the process list), trimmed.
pub fn secret_or_stdin(given: SecretString, what: &str) -> Result<SecretString, Failure> {
    use secrecy::ExposeSecret;
    if given.expose_secret() != "-" {
        return Ok(SecretString::from(given.expose_secret().trim()));
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("cannot read the {what} from standard input: {e}")))?;
    Ok(SecretString::from(line.trim()))
}

pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let parsed = Cli::command().try_get_matches().and_then(|matches| {
        let mut cli = Cli::from_arg_matches(&matches)?;
        cli.data_dir_from_flag =
            matches.value_source("data_dir") == Some(clap::parser::ValueSource::CommandLine);
        Ok(cli)
    });
    let error = match parsed {
        Ok(cli) => return cli,
        Err(e) => e,
    };
    let secrets: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .flat_map(|a| {
            let value = a.split_once('=').map(|(_, v)| v.to_owned());
            [Some(a), value]
        })
        .flatten()
        .filter(|a| keyward_core::echo::looks_secret(a))
        .collect();
    if secrets.is_empty() || !error.use_stderr() {
        error.exit();
    }
    let mut text = error.render().to_string();
    for secret in &secrets {
        text = text.replace(secret.as_str(), &keyward_core::echo::echo(secret, 0));
    }
    crate::output::write_err(format_args!("{text}"));
    std::process::exit(error.exit_code());
}

/// `--yes` for commands that destroy or disable something.
#[derive(Debug, Args)]
pub struct Confirm {
    /// Do not ask for confirmation (needed when there is no terminal to ask on).
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
    Principal::operator(cli_actor())
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
        command => manage(&Backend::Local(app), command, json, &config.public_url).await,
    }
}

/// A management command on a keyward server, through its API; see [`remote`].
pub async fn run_remote(
    place: location::Remote,
    command: Command,
    json: bool,
) -> Result<(), Failure> {
    let b = Backend::Remote(Box::new(remote::Remote::new(&place.url, &place.token)?));
    // The links `users reset-link` prints would point at the server; it is refused
    // there anyway (the API makes no reset links).
    manage(&b, command, json, &place.url).await
}

/// The commands that work the same on a data directory and on a server.
async fn manage(
    b: &Backend<'_>,
    command: Command,
    json: bool,
    public_url: &str,
) -> Result<(), Failure> {
    match command {
        Command::User(c) => members::user(b, c, json, public_url).await,
        Command::Member(c) => members::member(b, c, json).await,
        Command::Org(c) => orgs::org(b, c, json).await,
        Command::Project(c) => orgs::project(b, c, json).await,
        Command::Keys(c) => keys::run(b, c, json).await,
        Command::Check(a) => check::run(b, a, json).await,
        Command::Audit(c) => audit::run(b, c, json).await,
        Command::Completions(a) => completions::run(&a),
        Command::Admin(_) => Err(backend::not_remote(
            "`admin tokens`",
            "admin tokens are made, listed and revoked from the server's own data directory, so that a lost token cannot mint more",
        )),
        Command::Serve(_) | Command::Init | Command::Migrate(_) => Err(Failure::usage(
            "`serve`, `init` and `migrate` work on a local data directory or database; KEYWARD_URL and logins are for the other commands",
        )),
        Command::Login(_) | Command::Logout(_) => Err(Failure::usage(
            "`login` and `logout` need no data directory or server",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};

    /// A key or token given as an argument never shows in the parsed arguments' Debug
    /// form, which is what ends up in a log or a panic message.
    #[test]
    fn secrets_in_arguments_are_redacted() {
        let key = "kw_live_0123456789abcdef_0123456789012345678901234567890123456789ABCDEF";
        for args in [
            vec![
                "keyward",
                "check",
                key,
                "--project",
                "W",
                "--environment",
                "p",
                "--method",
                "GET",
            ],
            vec!["keyward", "members", "accept", key],
        ] {
            let cli = Cli::try_parse_from(&args).unwrap();
            let shown = format!("{cli:?}");
            assert!(!shown.contains(&key[25..]), "{shown}");
        }
    }

    /// Every command and every argument explains itself in `--help`: a missing doc
    /// comment would show an option with no word of what it does.
    #[test]
    fn every_command_and_argument_has_help() {
        let command = Cli::command();
        command.clone().debug_assert();
        let mut missing = Vec::new();
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        walk(&command, "keyward", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
    }

    /// Variables that stand in for options are named in `--help`.
    #[test]
    fn options_read_from_the_environment_say_so() {
        let help = Cli::command().render_help().to_string();
        for var in ["KEYWARD_DATA_DIR", "KEYWARD_CONFIG"] {
            assert!(help.contains(&format!("[env: {var}")), "{var}: {help}");
        }
    }
}
