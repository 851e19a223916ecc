//! [`Client`]: keyward's base URL, an admin token (or an API key) kept as a secret,
//! and timeouts. Every call goes through [`Client::send`], which turns keyward's
//! answers into typed values or an [`Error`].

use crate::error::{describe_json_error, Error, TransportError};
use crate::Problem;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// The header that makes an admin token act as a person (a user id or e-mail address).
const ACTING_AS: &str = "keyward-user";

/// A client for one keyward server. Cheap to clone: clones share connections.
///
/// ```no_run
/// # async fn run() -> Result<(), keyward_client::Error> {
/// use keyward_client::{Client, types::KeyListQuery};
/// let client = Client::new("http://127.0.0.1:8080", std::env::var("KEYWARD_TOKEN").unwrap().into())?;
/// let keys = client.list_keys(&KeyListQuery { org: Some("Acme".into()), ..Default::default() }).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    /// The `Authorization` value, marked sensitive so that no debug print of a request
    /// shows it.
    authorization: HeaderValue,
    acting_as: Option<HeaderValue>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base.as_str())
            .field("token", &"[REDACTED]")
            .field("acting_as", &self.acting_as)
            .finish()
    }
}

/// How to build a [`Client`]: base URL, token and timeouts.
pub struct ClientBuilder {
    base_url: String,
    token: SecretString,
    timeout: Duration,
    connect_timeout: Duration,
    acting_as: Option<String>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("acting_as", &self.acting_as)
            .finish()
    }
}

impl ClientBuilder {
    /// The whole time a call may take, from connecting to the last byte of the
    /// answer: 10 seconds unless set.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time to connect: 2 seconds unless set.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// With an admin token: act as this person (a user id or e-mail address), with
    /// their role and project levels (the `Keyward-User` header).
    pub fn acting_as(mut self, user: impl Into<String>) -> Self {
        self.acting_as = Some(user.into());
        self
    }

    pub fn build(self) -> Result<Client, Error> {
        let base = base_url(&self.base_url)?;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret().trim()))
                .map_err(|_| {
                    Error::Config(
                "the token holds characters a header cannot carry; check that it was copied whole"
                    .into(),
            )
                })?;
        authorization.set_sensitive(true);
        if self.token.expose_secret().trim().is_empty() {
            return Err(Error::Config(
                "the token is empty: give an admin token (kw_admin_…) or an API key".into(),
            ));
        }
        let acting_as = self
            .acting_as
            .map(|user| {
                HeaderValue::from_str(user.trim()).map_err(|_| {
                    Error::Config("acting_as: give a user id or an e-mail address".into())
                })
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("keyward-client/", env!("CARGO_PKG_VERSION")))
            // A redirect would resend the token elsewhere; keyward never redirects its API.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            authorization,
            acting_as,
        })
    }
}

/// The base URL as given, checked: http (or https with the `rustls` feature), no user
/// name, password, query or fragment.
fn base_url(given: &str) -> Result<Url, Error> {
    let shown = given.chars().take(100).collect::<String>();
    let mut url = Url::parse(given.trim()).map_err(|e| {
        Error::Config(format!(
            "'{shown}' is not a URL ({e}); give keyward's address such as http://127.0.0.1:8080"
        ))
    })?;
    match url.scheme() {
        "http" => {}
        "https" if cfg!(feature = "rustls") => {}
        "https" => {
            return Err(Error::Config(
                "https needs the keyward-client feature \"rustls\"; enable it, or use http on a private network".into(),
            ))
        }
        other => {
            return Err(Error::Config(format!(
                "the URL's scheme is '{other}': use http:// or https://"
            )))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "the URL holds a user name or password: give the token separately, never in the URL"
                .into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(
            "the URL holds a query or fragment: give only keyward's address, such as https://keyward.example.com"
                .into(),
        ));
    }
    if url.cannot_be_a_base() {
        return Err(Error::Config(format!("'{shown}' cannot be a base URL")));
    }
    // Paths are appended segment by segment; a trailing slash would leave an empty one.
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

impl Client {
    /// A client for keyward at `base_url` (such as `http://127.0.0.1:8080`) with
    /// `token`: an admin token (`kw_admin_…`) for the management and verify APIs, or an
    /// API key for what that key may do.
    pub fn new(base_url: &str, token: SecretString) -> Result<Client, Error> {
        Client::builder(base_url, token).build()
    }

    pub fn builder(base_url: &str, token: SecretString) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_owned(),
            token,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            acting_as: None,
        }
    }

    /// The base URL, as checked.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// The URL of `segments` under the base, each segment percent-encoded (an
    /// organization named `Acme / Corp` stays one segment). Empty, `.` and `..` are
    /// refused: URLs read the last two as "this" and "the parent" path, so they would
    /// reach another endpoint.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        if let Some(bad) = segments
            .iter()
            .find(|s| s.is_empty() || **s == "." || **s == "..")
        {
            return Err(Error::Config(format!(
                "'{bad}' cannot name an organization, project, key or person in a URL; use its id"
            )));
        }
        let mut url = self.base.clone();
        // The base was checked to be one that can hold path segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        Ok(url)
    }

    /// Sends a request and reads the answer as `T`.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: Option<&(dyn ErasedQuery + Sync)>,
        body: Option<&(dyn ErasedBody + Sync)>,
    ) -> Result<T, Error> {
        let (status, headers, bytes) = self.exchange(method, segments, query, body).await?;
        if !status.is_success() {
            return Err(refusal(status, &headers, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Unexpected {
            status: status.as_u16(),
            detail: describe_json_error(&e),
        })
    }

    /// Sends a request whose answer has no body (204).
    pub(crate) async fn send_empty(&self, method: Method, segments: &[&str]) -> Result<(), Error> {
        let (status, headers, bytes) = self.exchange(method, segments, None, None).await?;
        if !status.is_success() {
            return Err(refusal(status, &headers, &bytes));
        }
        Ok(())
    }

    async fn exchange(
        &self,
        method: Method,
        segments: &[&str],
        query: Option<&(dyn ErasedQuery + Sync)>,
        body: Option<&(dyn ErasedBody + Sync)>,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), Error> {
        let mut request = self
            .http
            .request(method, self.url(segments)?)
            .header(AUTHORIZATION, self.authorization.clone());
        if let Some(user) = &self.acting_as {
            request = request.header(ACTING_AS, user.clone());
        }
        if let Some(query) = query {
            request = request.query(&query.pairs()?);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.json()?);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::Transport(TransportError::from_reqwest(e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::Transport(TransportError::from_reqwest(e)))?;
        Ok((status, headers, bytes.to_vec()))
    }
}

/// A query string's pairs, from any `Serialize` query type.
pub(crate) trait ErasedQuery {
    fn pairs(&self) -> Result<Vec<(String, String)>, Error>;
}

impl<T: Serialize> ErasedQuery for T {
    fn pairs(&self) -> Result<Vec<(String, String)>, Error> {
        let value = serde_json::to_value(self)
            .map_err(|e| Error::Config(format!("cannot write the query: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Ok(Vec::new());
        };
        Ok(map
            .into_iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some((name, s)),
                other => Some((name, other.to_string())),
            })
            .collect())
    }
}

/// A JSON body, from any `Serialize` body type.
pub(crate) trait ErasedBody {
    fn json(&self) -> Result<Vec<u8>, Error>;
}

impl<T: Serialize> ErasedBody for T {
    fn json(&self) -> Result<Vec<u8>, Error> {
        // A body type's fields are names and values the caller chose; the error (from a
        // map with non-text keys, say) quotes none of them.
        serde_json::to_vec(self).map_err(|_| Error::Config("cannot write the body as JSON".into()))
    }
}

/// The error for an answer that is not a success.
fn refusal(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let is_problem = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if is_problem {
        if let Ok(mut problem) = serde_json::from_slice::<Problem>(body) {
            problem.status = status.as_u16();
            return Error::Problem(Box::new(problem));
        }
    }
    Error::Unexpected {
        status: status.as_u16(),
        detail: match (is_problem, status) {
            (true, _) => "a problem body that does not fit RFC 9457".into(),
            (false, StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT) => {
                "a proxy in front of keyward could not reach it".into()
            }
            (false, _) => format!(
                "{} without a problem body: is this keyward's address?",
                status.canonical_reason().unwrap_or("an answer")
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "kw_admin_SECRETSECRETSECRET";

    /// Paths are built segment by segment: a name with `/`, `?` or `#` stays one
    /// segment of the path, and `..` is refused, so no name reaches another endpoint.
    #[test]
    fn each_name_is_one_encoded_path_segment() {
        let client =
            Client::new("http://127.0.0.1:8080/keyward/", TOKEN.to_owned().into()).unwrap();
        assert_eq!(
            client
                .url(&["v1", "orgs", "Acme / Corp?x#y", "projects"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/keyward/v1/orgs/Acme%20%2F%20Corp%3Fx%23y/projects"
        );
        for bad in ["..", ".", ""] {
            let e = client.url(&["v1", "keys", bad]).unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{bad:?}: {e:?}");
        }
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let builder = Client::builder("http://127.0.0.1:8080", TOKEN.to_owned().into());
        assert!(!format!("{builder:?}").contains("SECRET"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
        let check = crate::types::VerifyIn::new(TOKEN.to_owned().into());
        assert!(!format!("{check:?}").contains("SECRET"));
    }

    /// https needs the `rustls` feature; without it the error says so (a workspace
    /// build may unify the feature on, so both cases are checked here).
    #[test]
    fn https_is_accepted_exactly_when_the_rustls_feature_is_on() {
        let https = cfg!(feature = "rustls");
        match Client::new("https://keyward.example.com", TOKEN.to_owned().into()) {
            Ok(client) => {
                assert!(https, "accepted without the feature");
                assert_eq!(client.base_url(), "https://keyward.example.com/");
            }
            Err(Error::Config(message)) => {
                assert!(!https, "refused with the feature: {message}");
                assert!(message.contains("rustls"), "{message}");
            }
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn an_empty_token_is_a_configuration_error() {
        let e = Client::new("http://127.0.0.1:8080", " ".to_owned().into()).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
    }
}
