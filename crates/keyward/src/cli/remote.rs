//! Management commands through a keyward server's HTTP API.

use super::location::Remote;
use super::Command;
use crate::output::Failure;
use secrecy::{ExposeSecret, SecretString};

/// A connection to one server, with its admin token.
pub struct Api {
    http: reqwest::Client,
    url: String,
    token: SecretString,
}

/// Why a call failed: the server's answer, or no answer.
pub enum ApiError {
    /// The server answered with this status and problem `detail` (or title).
    Status(u16, Option<String>),
    /// No answer: the server could not be reached, or the answer was not read.
    Transport(String),
}

pub fn client(url: &str, token: &SecretString) -> Result<Api, Failure> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("keyward-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::usage(format!("cannot start an HTTP client: {e}")))?;
    Ok(Api {
        http,
        url: url.to_owned(),
        token: token.clone(),
    })
}

impl Api {
    /// Succeeds only for an operator admin token: the operator's own audit stream is
    /// for the operator alone.
    pub async fn check_operator(&self) -> Result<(), ApiError> {
        let response = self
            .http
            .get(format!(
                "{}/v1/audit-events?operator=true&limit=1",
                self.url
            ))
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(());
        }
        let body: Option<serde_json::Value> = response.json().await.ok();
        let detail = body.and_then(|b| {
            b.get("detail")
                .or_else(|| b.get("title"))
                .and_then(|d| d.as_str().map(str::to_owned))
        });
        Err(ApiError::Status(status, detail))
    }
}

/// reqwest's message, which names the address but never the token (that is in a
/// header), with its causes.
fn transport(e: reqwest::Error) -> ApiError {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    ApiError::Transport(text)
}

/// A failed call, said for people: what happened and what to do.
pub fn explain(url: &str, e: &ApiError) -> String {
    match e {
        ApiError::Transport(text) => format!(
            "cannot reach the keyward server at {url} ({text}); check the address and that the server is running"
        ),
        ApiError::Status(401, _) => format!(
            "the server at {url} refused the token: it is not a valid admin token (unknown, revoked or mistyped); \
             create one on the server with `keyward admin tokens create --name NAME`, then `keyward login {url}` or set KEYWARD_TOKEN"
        ),
        ApiError::Status(403, detail) => format!(
            "the server at {url} accepted the token but it is not an operator admin token{}; \
             the command line needs one from `keyward admin tokens create` on the server",
            detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        ApiError::Status(404, _) => format!(
            "the server at {url} answered 404 Not Found; is this the address of a keyward server (without a path such as /v1)?"
        ),
        ApiError::Status(status, detail) => format!(
            "the server at {url} answered {status}{}",
            detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
        ),
    }
}

pub async fn run(remote: Remote, command: Command, json: bool) -> Result<(), Failure> {
    let _ = (command, json, client(&remote.url, &remote.token)?);
    Err(Failure::usage(format!(
        "this build of keyward cannot manage a server yet ({}); pass --data-dir to work on a data directory",
        remote.url
    )))
}
