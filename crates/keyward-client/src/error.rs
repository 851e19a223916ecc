//! What a call to keyward can end in: keyward's own answer of a problem (RFC 9457
//! `application/problem+json`, typed), a transport failure, an answer that is not what
//! the API documents, or a client set up wrongly. None of them carries the token or
//! a key: requests send those in headers only, and answer bodies are never quoted.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A failed call to keyward.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// keyward answered with a problem: the request was refused or invalid.
    #[error("keyward answered {}: {}", .0.status, .0)]
    Problem(Box<Problem>),
    /// keyward could not be reached, or did not answer in time.
    #[error("cannot reach keyward: {0}")]
    Transport(#[source] TransportError),
    /// keyward (or something in front of it) answered in a way the API does not
    /// document: another status, or a body that does not fit.
    #[error("unexpected answer from keyward (HTTP {status}): {detail}")]
    Unexpected { status: u16, detail: String },
    /// The client is set up wrongly: a bad base URL, a token that cannot be a header.
    #[error("keyward client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The problem keyward answered, if it did.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Problem(p) => Some(p),
            _ => None,
        }
    }

    /// The HTTP status keyward answered, for a problem or an unexpected answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Problem(p) => Some(p.status),
            Error::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether keyward was out of reach (not answering, timing out) or answered that it
    /// is not ready: the cases a caller may retry, and a fail-closed layer refuses.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Transport(_) => true,
            Error::Problem(p) => p.status >= 500,
            Error::Unexpected { status, .. } => *status >= 500,
            Error::Config(_) => false,
        }
    }
}

/// A problem as keyward answers it: a stable `type` such as
/// `/docs/problems#insufficient-permission`, a `title`, the `status`, a `detail` for the
/// person reading it, and members some types add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For a refusal for want of a permission: the permission, such as
    /// `Website:production:write` or `org:manage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_permission: Option<String>,
    /// For a validation problem: the field to fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a refused key: the check's outcome, such as `revoked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// For a 429: seconds until the same request would be admitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Any other members (a plan limit's `plan`, `limit` and `keys`).
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// The last part of `type`: `insufficient-permission`, `not-found`, `conflict`…
    pub fn slug(&self) -> &str {
        self.type_.rsplit('#').next().unwrap_or(&self.type_)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.detail, self.slug())?;
        if let Some(p) = &self.required_permission {
            write!(f, "; it needs {p}")?;
        }
        Ok(())
    }
}

/// keyward out of reach: the connection failed or the answer did not come in time.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct TransportError {
    what: String,
    timeout: bool,
    #[source]
    source: Option<reqwest::Error>,
}

impl TransportError {
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        // reqwest's text names the URL, which holds no secret (tokens and keys travel in
        // headers); its source chain says why.
        let timeout = e.is_timeout();
        let what = if timeout {
            "no answer in time".to_owned()
        } else if e.is_connect() {
            "the connection failed".to_owned()
        } else {
            "the request failed".to_owned()
        };
        let mut what = what;
        let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(c) = cause {
            what.push_str(": ");
            what.push_str(&c.to_string());
            cause = c.source();
        }
        TransportError {
            what,
            timeout,
            source: Some(e),
        }
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        self.timeout
    }
}

/// What a serde error says without the text it failed on: a body can hold a new key.
pub(crate) fn describe_json_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let safe = message.starts_with("missing field") || message.starts_with("unknown field");
    let what = if safe {
        message
            .split(" at line ")
            .next()
            .unwrap_or("invalid")
            .to_owned()
    } else {
        match e.classify() {
            serde_json::error::Category::Syntax => "not JSON".to_owned(),
            serde_json::error::Category::Eof => "the body ended early".to_owned(),
            serde_json::error::Category::Data => "a value has the wrong type or form".to_owned(),
            serde_json::error::Category::Io => "it could not be read".to_owned(),
        }
    };
    format!(
        "the body does not fit the API ({what} at line {} column {})",
        e.line(),
        e.column()
    )
}
