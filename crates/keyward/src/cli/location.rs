//! Where a command works: on a local data directory, or on a keyward server through
//! its HTTP API. The first of these that is set decides:
//!
//! 1. `--data-dir DIR`: that data directory;
//! 2. `KEYWARD_URL`: that server, with `KEYWARD_TOKEN`, or else the token
//!    `keyward login` saved for that address;
//! 3. `KEYWARD_DATA_DIR`: that data directory;
//! 4. the server of the last `keyward login`;
//! 5. `data_dir` in the config file, or `./keyward-data`.
//!
//! `KEYWARD_URL` together with `KEYWARD_DATA_DIR` is refused as ambiguous. `serve`
//! and `init` always work on a data directory (1, 3 and 5).

use super::credentials::{self, Credentials};
use crate::output::{errln, Failure};
use secrecy::SecretString;
use std::path::Path;

/// A keyward server and the admin token to call it with.
pub struct Remote {
    /// `scheme://host[:port]` and any path prefix, without a trailing `/`.
    pub url: String,
    pub token: SecretString,
    /// Where the address and token came from, for messages.
    pub from: String,
}

pub enum Place {
    /// The data directory, as the configuration says.
    Local,
    Remote(Remote),
}

fn var(name: &str) -> Result<Option<String>, Failure> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::usage(format!("{name} is not valid UTF-8")))
        }
    }
}

/// Decides where a management command works; see the module doc.
pub fn resolve(data_dir_flag: bool) -> Result<Place, Failure> {
    if data_dir_flag {
        return Ok(Place::Local);
    }
    let url = var("KEYWARD_URL")?;
    let token = var("KEYWARD_TOKEN")?.map(SecretString::from);
    let data_dir = var("KEYWARD_DATA_DIR")?;
    if let Some(url) = url {
        if let Some(dir) = data_dir {
            return Err(Failure::usage(format!(
                "both KEYWARD_URL ({}) and KEYWARD_DATA_DIR ({dir}) are set, so it is unclear whether to manage that server or that data directory; \
                 unset one of them, or pass --data-dir DIR to use a data directory this once",
                keyward_core::echo::echo(&url, 100)
            )));
        }
        let url = normalize(&url, "KEYWARD_URL")?;
        if let Some(token) = token {
            return Ok(Place::Remote(Remote {
                url,
                token,
                from: "KEYWARD_URL, token from KEYWARD_TOKEN".into(),
            }));
        }
        let saved = saved_logins()?;
        return match saved.as_ref().and_then(|s| Some((s.token(&url)?, &s.path))) {
            Some((token, path)) => Ok(Place::Remote(Remote {
                url,
                token,
                from: format!("KEYWARD_URL, token from {}", path.display()),
            })),
            None => Err(Failure::usage(format!(
                "KEYWARD_URL is {url}, but there is no token for it: set KEYWARD_TOKEN to an admin token, or run `keyward login {url}`"
            ))),
        };
    }
    if token.is_some() {
        return Err(Failure::usage(
            "KEYWARD_TOKEN is set without KEYWARD_URL; set KEYWARD_URL to the server's address (such as https://keyward.example.com), or unset KEYWARD_TOKEN",
        ));
    }
    if data_dir.is_some() {
        return Ok(Place::Local);
    }
    let Some(saved) = saved_logins()? else {
        return Ok(Place::Local);
    };
    if let Some((url, token)) = saved.default_server() {
        return Ok(Place::Remote(Remote {
            url: url.to_owned(),
            token,
            from: format!("the login in {}", saved.path.display()),
        }));
    }
    Ok(Place::Local)
}

/// The saved logins; none where there is no config directory to keep them in (no
/// `HOME`, as for some services), which must not stop commands on a data directory.
fn saved_logins() -> Result<Option<Credentials>, Failure> {
    match credentials::path() {
        Ok(_) => Credentials::load().map(Some),
        Err(_) => Ok(None),
    }
}

/// `https://host[:port][/prefix]` without a trailing `/`; anything else is refused
/// with what to give instead.
pub fn normalize(url: &str, from: &str) -> Result<String, Failure> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let valid = rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or_default();
        !host.is_empty() && !host.contains(['@', '?', '#', ' '])
    }) && !url.contains(['?', '#']);
    if !valid {
        return Err(Failure::usage(format!(
            "{from}: '{}' is not a server address; give one such as https://keyward.example.com or http://127.0.0.1:8080",
            keyward_core::echo::echo(url, 100)
        )));
    }
    Ok(url.to_owned())
}

/// Says on stderr which server a command uses, unless `quiet`; warns when the token
/// would cross the network unencrypted.
pub fn say_remote(remote: &Remote, quiet: bool) {
    if !quiet {
        errln!(
            "keyward: using the server at {} (from {})",
            remote.url,
            remote.from
        );
    }
    warn_if_cleartext(&remote.url);
}

/// Warns when `url` is plain HTTP to another machine: the token would be readable on
/// the way.
pub fn warn_if_cleartext(url: &str) {
    let Some(rest) = url.strip_prefix("http://") else {
        return;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !local {
        errln!(
            "keyward: warning: {url} is plain HTTP, so the admin token crosses the network unencrypted; use https:// for a server on another machine"
        );
    }
}

/// Says on stderr which data directory a command uses, unless `quiet`.
pub fn say_local(dir: &Path, from: &str, quiet: bool) {
    if !quiet {
        errln!(
            "keyward: using the data directory {} (from {from})",
            shown(dir).display()
        );
    }
}

/// `dir` made absolute, for messages: a relative one depends on where the command ran.
pub fn shown(dir: &Path) -> std::path::PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// How to point the command line at the right place, for the errors that find none.
pub fn how_to_point() -> String {
    let login = credentials::path()
        .map(|p| format!(" (saved in {})", p.display()))
        .unwrap_or_default();
    format!(
        "if keyward's data is elsewhere, pass --data-dir DIR or set KEYWARD_DATA_DIR; \
         to start a new data directory there, run `keyward init`; \
         to manage a keyward server instead, set KEYWARD_URL and KEYWARD_TOKEN, or run `keyward login URL`{login}"
    )
}
