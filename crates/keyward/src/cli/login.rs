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
/// else from its first line. Ctrl-C at the prompt cancels the login (exit 130), with
/// the terminal as it was.
fn read_token(url: &str) -> Result<SecretString, Failure> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let cannot = |e: std::io::Error| Failure::usage(format!("cannot read the token: {e}"));
    let line = if stdin.is_terminal() {
        // The prompt comes once the echo is off: nothing typed after it shows.
        let typed = without_echo(|interrupt| {
            crate::output::write_err(format_args!(
                "Admin token for {url} (from `keyward admin tokens create` on the server; not shown as you type): "
            ));
            read_line_or(&mut stdin.lock(), interrupt)
        });
        crate::output::write_err(format_args!("\n"));
        match typed.map_err(cannot)? {
            Typed::Line(line) => line,
            Typed::Interrupted => {
                return Err(Failure::cancelled(
                    "login cancelled (Ctrl-C); no token was saved",
                ))
            }
        }
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).map_err(cannot)?;
        line
    };
    let token = SecretString::from(line.trim().to_owned());
    if token.expose_secret().is_empty() {
        return Err(Failure::usage(
            "no token given; create one on the server with `keyward admin tokens create --name NAME`, then paste it here or pipe it in",
        ));
    }
    Ok(token)
}

/// What was typed at the prompt.
enum Typed {
    /// A line, without its end; what came before the end of input if it had none.
    Line(String),
    /// The interrupt character (Ctrl-C).
    Interrupted,
}

/// Runs `read` with the terminal's echo off, and puts the terminal back as it was
/// after, however `read` ends. `read` is given the terminal's interrupt character
/// (Ctrl-C): the terminal sends it as a byte instead of a SIGINT, since a SIGINT
/// would end the process with the echo still off, and the shell the person returns
/// to would not show what they type. The terminal still edits the line (backspace,
/// Ctrl-U), and the interrupt character also ends a line, so that a read returns as
/// soon as it is pressed.
fn without_echo<T>(read: impl FnOnce(u8) -> std::io::Result<T>) -> std::io::Result<T> {
    #[cfg(unix)]
    {
        use rustix::termios::{
            tcgetattr, tcsetattr, LocalModes, OptionalActions, SpecialCodeIndex,
        };
        let stdin = std::io::stdin();
        let before = tcgetattr(&stdin)?;
        // 0 is _POSIX_VDISABLE, no interrupt character: take Ctrl-C's.
        let interrupt = match before.special_codes[SpecialCodeIndex::VINTR] {
            0 => 0x03,
            c => c,
        };
        let mut quiet = before.clone();
        quiet
            .local_modes
            .remove(LocalModes::ECHO | LocalModes::ISIG);
        quiet.special_codes[SpecialCodeIndex::VEOL] = interrupt;
        tcsetattr(&stdin, OptionalActions::Flush, &quiet)?;
        let result = read(interrupt);
        tcsetattr(&stdin, OptionalActions::Now, &before)?;
        result
    }
    #[cfg(not(unix))]
    read(0x03)
}

/// A line from `input`, or [`Typed::Interrupted`] as soon as `interrupt` comes. On a
/// terminal in canonical mode each read returns one line, ended by a newline, the
/// interrupt character (the terminal's other end of line) or the end of input.
fn read_line_or(input: &mut impl std::io::Read, interrupt: u8) -> std::io::Result<Typed> {
    let mut line = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        match chunk.iter().position(|&b| b == interrupt || b == b'\n') {
            Some(at) if chunk[at] == interrupt => return Ok(Typed::Interrupted),
            Some(at) => {
                line.extend_from_slice(&chunk[..at]);
                break;
            }
            None => line.extend_from_slice(chunk),
        }
    }
    String::from_utf8(line).map(Typed::Line).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not UTF-8 text; paste the token as `keyward admin tokens create` printed it",
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(input: &[u8]) -> Typed {
        read_line_or(&mut std::io::Cursor::new(input), 0x03).unwrap()
    }

    /// The prompt's reading: a line ends at a newline or the end of input, and the
    /// interrupt character cancels, wherever it comes.
    #[test]
    fn a_line_ends_at_a_newline_and_ctrl_c_cancels() {
        assert!(matches!(typed(b"kw_admin_abc\nmore"), Typed::Line(l) if l == "kw_admin_abc"));
        assert!(matches!(typed(b"kw_admin_abc"), Typed::Line(l) if l == "kw_admin_abc"));
        assert!(matches!(typed(b""), Typed::Line(l) if l.is_empty()));
        assert!(matches!(typed(b"kw_adm\x03"), Typed::Interrupted));
        assert!(matches!(typed(b"\x03kw_admin_abc\n"), Typed::Interrupted));
    }
}
