//! `credentials.toml`: the admin tokens `keyward login` saved, one per server, and
//! the server used when `KEYWARD_URL` is not set. It lives in
//! `$XDG_CONFIG_HOME/keyward/` (else `~/.config/keyward/`), is written atomically
//! with mode 0600 in a directory of mode 0700, and is refused when other users could
//! read it: a token there is as good as the operator's password.

use crate::output::Failure;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file as written. The token is a plain `String` only while it is being
/// (de)serialized; everything else holds it as a [`SecretString`].
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// The server used when `KEYWARD_URL` is not set: the last one logged in to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<String>,
    #[serde(default)]
    servers: BTreeMap<String, Server>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Server {
    token: String,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Server { token: [redacted] }")
    }
}

/// The saved logins, read from [`path`].
pub struct Credentials {
    pub path: PathBuf,
    file: File,
}

/// Where the file is: `$XDG_CONFIG_HOME/keyward/credentials.toml`, or
/// `$HOME/.config/keyward/credentials.toml` (a relative `XDG_CONFIG_HOME` is ignored,
/// as the XDG specification says).
pub fn path() -> Result<PathBuf, Failure> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => match std::env::var_os("HOME").map(PathBuf::from) {
            Some(home) if home.is_absolute() => home.join(".config"),
            _ => {
                return Err(Failure::usage(
                    "cannot tell where to keep logins: neither XDG_CONFIG_HOME nor HOME is set to an absolute path",
                ))
            }
        },
    };
    Ok(base.join("keyward").join("credentials.toml"))
}

impl Credentials {
    /// The saved logins, or none if the file does not exist. A file other users can
    /// read is refused, with the command that fixes it.
    pub fn load() -> Result<Self, Failure> {
        let path = path()?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Credentials {
                    path,
                    file: File::default(),
                })
            }
            Err(e) => {
                return Err(Failure::usage(format!(
                    "cannot read the login file {}: {e}",
                    path.display()
                )))
            }
        };
        refuse_if_shared(&path)?;
        // toml's error quotes the offending line, which may hold a token: say where only.
        let file: File = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            Failure::usage(format!(
                "the login file {} is not valid{}; fix it, or delete it and run `keyward login` again",
                path.display(),
                line.map_or(String::new(), |l| format!(" (line {l})"))
            ))
        })?;
        Ok(Credentials { path, file })
    }

    /// The server used when `KEYWARD_URL` is not set, and its token.
    pub fn default_server(&self) -> Option<(&str, SecretString)> {
        let url = self.file.default.as_deref()?;
        Some((url, self.token(url)?))
    }

    /// The token saved for `url`.
    pub fn token(&self, url: &str) -> Option<SecretString> {
        self.file
            .servers
            .get(url)
            .map(|s| SecretString::from(s.token.clone()))
    }

    pub fn servers(&self) -> impl Iterator<Item = &str> {
        self.file.servers.keys().map(String::as_str)
    }

    pub fn default_url(&self) -> Option<&str> {
        self.file.default.as_deref()
    }

    /// Saves `token` for `url` and makes it the default server.
    pub fn set(&mut self, url: &str, token: &SecretString) {
        self.file.servers.insert(
            url.to_owned(),
            Server {
                token: token.expose_secret().to_owned(),
            },
        );
        self.file.default = Some(url.to_owned());
    }

    /// Forgets `url`'s token; true if there was one. The default moves to another
    /// saved server, if any.
    pub fn remove(&mut self, url: &str) -> bool {
        let removed = self.file.servers.remove(url).is_some();
        if self.file.default.as_deref() == Some(url) {
            self.file.default = self.file.servers.keys().next().cloned();
        }
        removed
    }

    /// Writes the file atomically (a private temporary file renamed over it), or
    /// deletes it when no login is left.
    pub fn save(&self) -> Result<(), Failure> {
        let fail = |what: &str, e: std::io::Error| {
            Failure::usage(format!(
                "cannot {what} the login file {}: {e}",
                self.path.display()
            ))
        };
        if self.file.servers.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail("delete", e)),
                _ => Ok(()),
            };
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        crate::private::create_dir(dir).map_err(|e| fail("create the folder of", e))?;
        let text = toml::to_string(&self.file)
            .map_err(|e| fail("write", std::io::Error::other(e.to_string())))?;
        let text = format!(
            "# keyward login: admin tokens for keyward servers. Keep this file private (mode 0600).\n{text}"
        );
        let tmp = dir.join(format!(".credentials.toml.{}", std::process::id()));
        // One left by a run that died here (same process id) would block create_new.
        let _ = std::fs::remove_file(&tmp);
        let written =
            crate::private::write_new(&tmp, &text).and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail("write", e));
        }
        Ok(())
    }
}

/// Refuses a login file that other users can read or write.
fn refuse_if_shared(path: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Failure::usage(format!(
                "the login file {p} has mode {:03o}, so other users may have read its tokens; \
                 run `chmod 600 {p}` (and, if others could log in here, revoke those tokens and log in again)",
                mode & 0o777,
                p = path.display()
            )));
        }
    }
    Ok(())
}
