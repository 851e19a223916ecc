//! [`KeywardLayer`]: a tower layer that asks keyward about each request before the
//! service sees it.
//!
//! For each request the layer
//! 1. reads the key from the same headers as keyward's API: `Authorization: Bearer`,
//!    `x-api-key` or `api-key` (several different keys are refused as `malformed`, no
//!    key as `missing`, both without asking keyward);
//! 2. asks keyward's verify API about the key and what your closure says the request
//!    wants ([`Ask`]: project, environment, resource, level or the request's method,
//!    client address, cost), or takes a recent answer from its cache (below);
//! 3. refuses with keyward's status, problem body, `WWW-Authenticate`, `RateLimit`
//!    and `Retry-After`, or passes the request on with the key's [`KeyIdentity`] in
//!    its extensions, and with the key's header removed unless told to keep it.
//!    Only an answer with the outcome `valid` lets a request through: an outcome this
//!    client does not know (a newer keyward's, read as [`Outcome::Other`]) is refused
//!    with keyward's status (a 4xx, else 401) and logged with its text.
//!
//! **Fails closed.** When keyward cannot be reached, or answers 5xx, the request is
//! refused with 503 (`Retry-After: 1`); [`KeywardLayer::fail_open`] passes it on
//! instead, with [`Unverified`] in its extensions and no [`KeyIdentity`]. An answer
//! that says the layer itself is wrong (its token refused, an [`Ask`] keyward rejects)
//! is a 500 either way, logged.
//!
//! **Cache.** 1 second and 10,000 entries unless set ([`KeywardLayer::cache`]). It is
//! keyed by a salted SHA-256 of the key and the ask, never the key; an entry lives
//! for the TTL after its request was sent, so **a key revoked in keyward is refused by
//! every request that starts more than one TTL after the revocation was
//! acknowledged**. Only answers that counted nothing are cached: a key with rate
//! limits, or whose organization has a monthly quota, reaches keyward on every
//! request, so that every request counts. With keyward's default plans (`starter`,
//! `pro`, `max`: all with a rate limit and a quota) that is every valid key: the cache
//! then keeps only refusals (unknown, revoked, expired keys, missing permissions),
//! which spare keyward the repeated bad keys. Cached requests are not counted in
//! keyward's usage and last-used times.

mod answer;
mod cache;

use crate::types::{JsonObject, Kind, Level, OrgAccess, Outcome, VerifyIn, VerifyOut};
use crate::{Client, Error};
use cache::Cache;
use http::header::{HeaderMap, HeaderName, AUTHORIZATION};
use http::request::Parts;
use http::{Request, Response};
use secrecy::SecretString;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::{Layer, Service};

/// What a request wants to do, for keyward to check the key against. Build it in the
/// layer's closure from the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ask {
    pub project: Option<String>,
    pub environment: Option<String>,
    /// A resource of the scope catalog, such as `forms`.
    pub resource: Option<String>,
    /// The level needed; left out, keyward takes it from the request's method (GET,
    /// HEAD, OPTIONS read; POST, PUT, PATCH, DELETE write).
    pub level: Option<Level>,
    /// The client's address, for keys with an allow-list (left out, such keys are
    /// refused). With axum, from `ConnectInfo<SocketAddr>` in the request's extensions.
    pub ip: Option<IpAddr>,
    /// What the request costs against rate limits and the quota; 1 when left out.
    pub cost: Option<u32>,
}

impl Ask {
    /// Something in `project`'s `environment`.
    pub fn project(project: impl Into<String>, environment: impl Into<String>) -> Self {
        Ask {
            project: Some(project.into()),
            environment: Some(environment.into()),
            ..Ask::default()
        }
    }

    /// The key's own organization's resources (projects, members, keys).
    pub fn organization() -> Self {
        Ask::default()
    }

    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }

    pub fn ip(mut self, ip: Option<IpAddr>) -> Self {
        self.ip = ip;
        self
    }

    pub fn cost(mut self, cost: u32) -> Self {
        self.cost = Some(cost);
        self
    }
}

/// Who the key is: in the extensions of every request the layer let through.
///
/// With axum: `Extension(who): Extension<KeyIdentity>`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyIdentity {
    pub key_id: String,
    pub org_id: String,
    pub name: String,
    pub kind: Kind,
    /// The person a user-bound key acts as; `None` for a service key.
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub org_access: OrgAccess,
    /// Your own data about the key, as set on it.
    pub metadata: Option<JsonObject>,
}

/// In the extensions, instead of a [`KeyIdentity`], of a request a fail-open layer let
/// through because keyward could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified;

type AskFn = dyn Fn(&Parts) -> Ask + Send + Sync;

#[derive(Clone)]
struct Shared {
    client: Client,
    ask: Arc<AskFn>,
    /// Shared by every service the layer makes (axum makes one per route).
    cache: Option<Arc<Cache>>,
    fail_open: bool,
    strip_key: bool,
}

/// The layer; see the [module documentation](self).
#[derive(Clone)]
pub struct KeywardLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for KeywardLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeywardLayer")
            .field("client", &self.shared.client)
            .field("cache", &self.shared.cache.is_some())
            .field("fail_open", &self.shared.fail_open)
            .field("strip_key", &self.shared.strip_key)
            .finish()
    }
}

impl KeywardLayer {
    /// A layer asking keyward through `client` (with an admin token), about what `ask`
    /// makes of each request. Fails closed, caches for 1 second (10,000 entries), and
    /// removes the key's header before the service.
    pub fn new(client: Client, ask: impl Fn(&Parts) -> Ask + Send + Sync + 'static) -> Self {
        KeywardLayer {
            shared: Arc::new(Shared {
                client,
                ask: Arc::new(ask),
                cache: Some(Arc::new(Cache::new(Duration::from_secs(1), 10_000))),
                fail_open: false,
                strip_key: true,
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = Shared::clone(&self.shared);
        change(&mut shared);
        KeywardLayer {
            shared: Arc::new(shared),
        }
    }

    /// Keeps answers for `ttl` (the staleness bound) and at most `capacity` of them.
    /// A zero `ttl` or `capacity` turns the cache off.
    pub fn cache(self, ttl: Duration, capacity: usize) -> Self {
        self.with(|s| {
            s.cache = (!ttl.is_zero() && capacity > 0).then(|| Arc::new(Cache::new(ttl, capacity)));
        })
    }

    /// Asks keyward about every request.
    pub fn no_cache(self) -> Self {
        self.with(|s| s.cache = None)
    }

    /// When keyward cannot be reached, lets requests through with [`Unverified`] in
    /// their extensions instead of refusing them with 503.
    pub fn fail_open(self) -> Self {
        self.with(|s| s.fail_open = true)
    }

    /// Leaves the key's header (`Authorization: Bearer`, `x-api-key`, `api-key`) on
    /// the request the service sees. By default it is removed, so the key cannot
    /// reach the service's logs or an upstream it calls.
    pub fn keep_key_header(self) -> Self {
        self.with(|s| s.strip_key = false)
    }
}

impl<S> Layer<S> for KeywardLayer {
    type Service = KeywardService<S>;

    fn layer(&self, inner: S) -> KeywardService<S> {
        KeywardService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`KeywardLayer`] wraps around yours.
#[derive(Clone)]
pub struct KeywardService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for KeywardService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeywardService").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for KeywardService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone that was made ready serves this request; the fresh one waits.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let pass = match shared.decide(&mut parts).await {
                Decision::Refuse(response) => return Ok(response.map(ResBody::from)),
                Decision::Pass(pass) => pass,
            };
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            let headers = response.headers_mut();
            for (name, value) in pass {
                if !headers.contains_key(&name) {
                    headers.insert(name, value);
                }
            }
            Ok(response)
        })
    }
}

enum Decision {
    Refuse(Response<String>),
    /// Let through, with these fields (`RateLimit`, `RateLimit-Policy`) for the answer.
    Pass(Vec<(HeaderName, http::HeaderValue)>),
}

impl Shared {
    async fn decide(&self, parts: &mut Parts) -> Decision {
        let key = match presented(&parts.headers) {
            Presented::Nothing => {
                return Decision::Refuse(answer::local(
                    Outcome::Missing,
                    "No API key was sent. Send it in the Authorization header as 'Bearer <key>', or in an 'x-api-key' header.",
                ))
            }
            Presented::Conflicting => {
                return Decision::Refuse(answer::local(
                    Outcome::Malformed,
                    "The request carried several different API keys; send one, in one header.",
                ))
            }
            Presented::One(key) => key,
        };
        if self.strip_key {
            strip(&mut parts.headers);
        }
        let ask = (self.ask)(parts);
        let method = parts.method.as_str().to_owned();
        let answer = match self.answer(key, &ask, &method).await {
            Ok(answer) => answer,
            Err(e) if e.is_unavailable() && self.fail_open => {
                tracing::warn!(error = %e, "keyward is out of reach; letting the request through unverified (fail open)");
                parts.extensions.insert(Unverified);
                return Decision::Pass(Vec::new());
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "keyward is out of reach; refusing the request (fail closed)");
                return Decision::Refuse(answer::unavailable());
            }
            Err(e) => {
                tracing::error!(error = %e, "keyward refused to check a key: the layer's token or its Ask is wrong");
                return Decision::Refuse(answer::misconfigured());
            }
        };
        if let Outcome::Other(outcome) = &answer.outcome {
            // A newer keyward's outcome: whatever it means, this layer cannot tell
            // that it lets the request through, so it refuses it (fail closed).
            tracing::warn!(
                outcome = %outcome,
                status = answer.status,
                "keyward answered an outcome this client does not know; refusing the request (upgrade keyward-client)"
            );
        }
        match (&answer.key, answer.valid, &answer.outcome) {
            (Some(key), true, Outcome::Valid) => {
                parts.extensions.insert(KeyIdentity {
                    key_id: key.id.clone(),
                    org_id: key.org_id.clone(),
                    name: key.name.clone(),
                    kind: key.kind.clone(),
                    user_id: key.owner.clone(),
                    scopes: key.scopes.clone(),
                    org_access: key.org_access.clone(),
                    metadata: key.metadata.clone(),
                });
                Decision::Pass(answer::limit_fields(&answer))
            }
            _ => Decision::Refuse(answer::refusal(&answer)),
        }
    }

    /// keyward's answer about `key` and `ask`, from the cache when it may be.
    async fn answer(
        &self,
        key: SecretString,
        ask: &Ask,
        method: &str,
    ) -> Result<Arc<VerifyOut>, Error> {
        use secrecy::ExposeSecret;
        let fingerprint = self
            .cache
            .as_ref()
            .map(|c| c.fingerprint(key.expose_secret(), ask, method));
        if let (Some(cache), Some(fp)) = (&self.cache, fingerprint) {
            if let Some(answer) = cache.get(fp, Instant::now()) {
                return Ok(answer);
            }
        }
        let check = VerifyIn {
            key,
            project: ask.project.clone(),
            environment: ask.environment.clone(),
            method: ask.level.is_none().then(|| method.to_owned()),
            level: ask.level.clone(),
            resource: ask.resource.clone(),
            ip: ask.ip.map(|ip| ip.to_string()),
            cost: ask.cost,
        };
        let sent = Instant::now();
        let answer = Arc::new(self.client.verify(&check).await?);
        if let (Some(cache), Some(fp)) = (&self.cache, fingerprint) {
            cache.put(fp, sent, Instant::now(), &answer);
        }
        Ok(answer)
    }
}

/// The key a request carries, read as keyward's API reads it.
enum Presented {
    Nothing,
    Conflicting,
    One(SecretString),
}

/// `Authorization: Bearer <key>`, `x-api-key` and `api-key`: the same key in several
/// is one key; different ones are refused.
fn presented(headers: &HeaderMap) -> Presented {
    let mut chosen: Option<&str> = None;
    for candidate in candidates(headers) {
        match chosen {
            None => chosen = Some(candidate),
            Some(c) if c == candidate => {}
            Some(_) => return Presented::Conflicting,
        }
    }
    match chosen {
        None | Some("") => Presented::Nothing,
        Some(key) => Presented::One(SecretString::from(key.to_owned())),
    }
}

fn candidates(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers.get_all(AUTHORIZATION).iter().filter_map(|value| {
        let v = value.to_str().ok()?.trim();
        match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
            None if v.eq_ignore_ascii_case("bearer") => Some(""),
            _ => None,
        }
    });
    let named = ["x-api-key", "api-key"].into_iter().flat_map(move |name| {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().map(str::trim).unwrap_or(""))
    });
    bearer.chain(named)
}

/// Removes the headers that carry a key; an `Authorization` of another scheme stays.
fn strip(headers: &mut HeaderMap) {
    headers.remove("x-api-key");
    headers.remove("api-key");
    let bearer = headers.get_all(AUTHORIZATION).iter().any(|v| {
        v.to_str()
            .map(|v| {
                v.trim()
                    .get(..6)
                    .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
            })
            .unwrap_or(true)
    });
    if bearer {
        headers.remove(AUTHORIZATION);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const KEY: &str = "kw_live_0123456789abcdef_SECRETSECRETSECRET";

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in fields {
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        h
    }

    fn read(fields: &[(&str, &str)]) -> Option<String> {
        use secrecy::ExposeSecret;
        match presented(&headers(fields)) {
            Presented::One(key) => Some(key.expose_secret().to_owned()),
            Presented::Nothing => None,
            Presented::Conflicting => Some("conflicting".into()),
        }
    }

    /// The layer reads keys as keyward's API does: any of the three headers, the same
    /// key in several is one key, different keys are refused, nothing is missing.
    #[test]
    fn the_key_is_read_from_the_apis_three_headers() {
        let bearer = format!("Bearer {KEY}");
        let lower = format!("bearer  {KEY} ");
        for fields in [
            vec![("authorization", bearer.as_str())],
            vec![("authorization", lower.as_str())],
            vec![("x-api-key", KEY)],
            vec![("api-key", KEY)],
            vec![("x-api-key", KEY), ("authorization", bearer.as_str())],
        ] {
            assert_eq!(read(&fields).as_deref(), Some(KEY), "{fields:?}");
        }
        assert_eq!(read(&[]), None);
        assert_eq!(read(&[("authorization", "Basic dXNlcjpwYXNz")]), None);
        assert_eq!(read(&[("authorization", "Bearer")]), None);
        assert_eq!(
            read(&[("x-api-key", KEY), ("api-key", "kw_live_other")]).as_deref(),
            Some("conflicting")
        );
    }

    /// The key's headers are removed before the service; another scheme's
    /// `Authorization` (the service's own) stays.
    #[test]
    fn stripping_removes_the_key_headers_only() {
        let bearer = format!("Bearer {KEY}");
        let mut h = headers(&[
            ("authorization", bearer.as_str()),
            ("x-api-key", KEY),
            ("api-key", KEY),
            ("accept", "application/json"),
        ]);
        strip(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        let mut h = headers(&[("authorization", "Basic dXNlcjpwYXNz"), ("x-api-key", KEY)]);
        strip(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key(AUTHORIZATION));
    }

    /// A fake keyward on a free loopback port whose verify API gives `answer` to
    /// every check, counting them; and a layer as made by default (fail closed, with
    /// its cache) asking it, around a service that says "passed" and the key kind it
    /// was told.
    async fn layer_asking(
        answer: serde_json::Value,
    ) -> (
        impl Service<Request<String>, Response = Response<String>, Error = std::convert::Infallible>
            + Clone,
        Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&asked);
        let keyward = axum::Router::new().route(
            "/v1/keys/verify",
            axum::routing::post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                async move { axum::Json(answer) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, keyward).await });
        let client = Client::new(&url, SecretString::from("kw_admin_test".to_owned())).unwrap();
        let layer = KeywardLayer::new(client, |_| Ask::organization());
        let service = layer.layer(tower::service_fn(|request: Request<String>| async move {
            let kind = request
                .extensions()
                .get::<KeyIdentity>()
                .map(|who| who.kind.to_string())
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(Response::new(format!("passed: {kind}")))
        }));
        (service, asked)
    }

    fn verify_answer(valid: bool, outcome: &str, status: u16, kind: &str) -> serde_json::Value {
        serde_json::json!({
            "valid": valid,
            "outcome": outcome,
            "status": status,
            "detail": "As a newer keyward words it.",
            "required_permission": null,
            "key": {
                "id": "0123456789abcdef", "org_id": "org_1", "name": "ci", "kind": kind,
                "grants": [], "scopes": [], "org_access": "none", "owner": null,
                "expires_at": null, "metadata": null
            },
            "rate_limits": null,
            "quota": null,
            "retry_after": null,
            "headers": {}
        })
    }

    async fn send(
        service: &(impl Service<
            Request<String>,
            Response = Response<String>,
            Error = std::convert::Infallible,
        > + Clone),
    ) -> Response<String> {
        use tower::ServiceExt;
        let request = Request::builder()
            .uri("/forms")
            .header("x-api-key", KEY)
            .body(String::new())
            .unwrap();
        service.clone().oneshot(request).await.unwrap()
    }

    /// A newer keyward may answer an outcome this client does not know. The answer
    /// still reads (no 500 on every request after an upgrade of keyward), and the
    /// request is refused with the status keyward gave and its outcome's exact text,
    /// never let through, whatever `valid` says; nor is it cached.
    #[tokio::test]
    async fn an_unknown_outcome_is_read_and_refused() {
        let (service, asked) =
            layer_asking(verify_answer(false, "some-future-outcome", 403, "live")).await;
        for n in 1..=2 {
            let response = send(&service).await;
            assert_eq!(response.status(), http::StatusCode::FORBIDDEN);
            let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
            assert_eq!(body["outcome"], "some-future-outcome", "{body}");
            assert_eq!(body["type"], "/docs/problems#some-future-outcome");
            assert_eq!(body["detail"], "As a newer keyward words it.");
            assert!(!response.body().contains("passed"));
            assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), n);
        }

        // Even an answer that says valid: the layer cannot know what the outcome
        // allows, so it refuses (401, since 200 is no refusal's status).
        let (service, _) =
            layer_asking(verify_answer(true, "valid_with_conditions", 200, "live")).await;
        let response = send(&service).await;
        assert_eq!(response.status(), http::StatusCode::UNAUTHORIZED);
        assert!(!response.body().contains("passed"), "{}", response.body());
    }

    /// A valid key of a kind this client does not know (a newer keyward's) is let
    /// through as keyward decided, its kind given as keyward wrote it.
    #[tokio::test]
    async fn a_valid_key_of_an_unknown_kind_passes() {
        let (service, _) = layer_asking(verify_answer(true, "valid", 200, "sandbox")).await;
        let response = send(&service).await;
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(response.body(), "passed: sandbox");
    }

    /// Cache entries are found by a digest: one per key and ask, and never the key.
    #[test]
    fn fingerprints_differ_by_key_and_ask_and_hold_no_key() {
        let cache = Cache::new(Duration::from_secs(1), 10);
        let ask = Ask::project("Website", "production").resource("forms");
        let base = cache.fingerprint(KEY, &ask, "GET").0;
        assert_eq!(base, cache.fingerprint(KEY, &ask, "GET").0);
        for other in [
            cache.fingerprint("kw_live_other", &ask, "GET").0,
            cache.fingerprint(KEY, &ask, "POST").0,
            cache
                .fingerprint(KEY, &ask.clone().level(Level::Read), "GET")
                .0,
            cache
                .fingerprint(KEY, &Ask::project("Website", "preview"), "GET")
                .0,
            cache
                .fingerprint(KEY, &Ask::project("Websit", "eproduction"), "GET")
                .0,
            cache.fingerprint(KEY, &ask.clone().cost(2), "GET").0,
            cache
                .fingerprint(KEY, &ask.clone().ip(Some([203, 0, 113, 7].into())), "GET")
                .0,
        ] {
            assert_ne!(base, other);
        }
        assert!(!base
            .windows(8)
            .any(|w| KEY.as_bytes().windows(8).any(|k| k == w)));
    }
}
