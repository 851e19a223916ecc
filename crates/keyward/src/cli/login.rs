//! `keyward login [URL]` and `keyward logout [URL]`: an admin token saved in the
//! user's config directory (see [`super::credentials`]), so that commands manage that
//! server through its HTTP API. The token is read from a prompt that does not echo
//! (or from standard input when it is not a terminal), never from the command line,
//! and is checked against the server before it is saved.

use super::credentials::Credentials;
use super::location::{normalize, warn_if_cleartext};
use crate::output::{errln, outln, print_json, Failure};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server's address, such as https://keyward.example.com.
    #[arg(env = "KEYWARD_URL")]
    url: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The server to forget [default: the one commands use, from KEYWARD_URL or the
    /// last login].
    #[arg(env = "KEYWARD_URL")]
    url: Option<String>,
    /// Forget every saved server.
    #[arg(long, conflicts_with = "url")]
    all: bool,
}

pub async fn login(args: &LoginArgs, json: bool) -> Result<(), Failure> {
    let Some(url) = &args.url else {
        return Err(Failure::usage(
            "give the server's address: keyward login https://keyward.example.com",
        ));
    };
    let url = normalize(url, "the server's address")?;
    warn_if_cleartext(&url);
    // Read before anything is written: a refused file is reported before the prompt.
    let mut saved = Credentials::load()?;
    let token = read_token(&url)?;
    check_token(&url, &token).await?;
    saved.set(&url, &token);
    saved.save()?;
    if json {
        print_json(&json!({ "url": url, "saved_in": saved.path }));
    } else {
        outln!(
            "Logged in to {url}; the token is saved in {} (mode 0600).",
            saved.path.display()
        );
        errln!(
            "Commands now manage this server, unless --data-dir, KEYWARD_URL or KEYWARD_DATA_DIR say otherwise."
        );
    }
    Ok(())
}

pub fn logout(args: &LogoutArgs, json: bool) -> Result<(), Failure> {
    let mut saved = Credentials::load()?;
    let urls: Vec<String> = if args.all {
        saved.servers().map(str::to_owned).collect()
    } else {
        let url = match &args.url {
            Some(url) => normalize(url, "the server's address")?,
            None => saved.default_url().map(str::to_owned).ok_or_else(|| {
                Failure::usage(format!(
                    "there is no saved login in {}; nothing to forget",
                    saved.path.display()
                ))
            })?,
        };
        vec![url]
    };
    let mut forgotten = Vec::new();
    for url in urls {
        if saved.remove(&url) {
            forgotten.push(url);
        } else if !args.all {
            return Err(Failure::usage(format!(
                "there is no saved login for {url} in {}",
                saved.path.display()
            )));
        }
    }
    saved.save()?;
    if json {
        print_json(&json!({ "forgotten": forgotten }));
    } else if forgotten.is_empty() {
        outln!("There were no saved logins.");
    } else {
        for url in &forgotten {
            outln!("Logged out of {url}.");
        }
        errln!(
            "The token still works until it is revoked on the server: keyward admin tokens revoke ID (run there)."
        );
    }
    Ok(())
}

/// The token, from a prompt that does not echo when standard input is a terminal,
/// else from its first line.
fn read_token(url: &str) -> Result<SecretString, Failure> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let mut line = String::new();
    let read = if stdin.is_terminal() {
        crate::output::write_err(format_args!(
            "Admin token for {url} (from `keyward admin tokens create` on the server; not shown as you type): "
        ));
        let read = without_echo(|| stdin.lock().read_line(&mut line));
        crate::output::write_err(format_args!("\n"));
        read
    } else {
        stdin.lock().read_line(&mut line)
    };
    read.map_err(|e| Failure::usage(format!("cannot read the token: {e}")))?;
    let token = SecretString::from(line.trim().to_owned());
    if token.expose_secret().is_empty() {
        return Err(Failure::usage(
            "no token given; create one on the server with `keyward admin tokens create --name NAME`, then paste it here or pipe it in",
        ));
    }
    Ok(token)
}

/// Runs `read` with the terminal's echo off, and turns it back on after.
fn without_echo<T>(read: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    #[cfg(unix)]
    {
        use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
        let stdin = std::io::stdin();
        let before = tcgetattr(&stdin)?;
        let mut quiet = before.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        tcsetattr(&stdin, OptionalActions::Flush, &quiet)?;
        let result = read();
        tcsetattr(&stdin, OptionalActions::Now, &before)?;
        result
    }
    #[cfg(not(unix))]
    read()
}

/// Asks the server something only an operator admin token may: its own audit stream,
/// one event. A refusal says why, without the token.
async fn check_token(url: &str, token: &SecretString) -> Result<(), Failure> {
    super::remote::Remote::new(url, token)?
        .check_operator()
        .await
        .map_err(|e| {
            Failure::usage(format!(
                "the token was not saved: {}",
                e.message.unwrap_or_default()
            ))
        })
}
