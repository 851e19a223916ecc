//! What every handler shares.

use crate::forwarded::TrustedProxies;
use keyward_app::readiness::Probe;
use keyward_app::Keyward;
use keyward_core::RouteTable;
use secrecy::SecretString;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub app: Keyward,
    /// Whose `X-Forwarded-For` is believed.
    pub proxies: Arc<TrustedProxies>,
    /// Where `/metrics` is served and who may read it. Behind an `Arc`: the state is
    /// cloned for every request.
    pub metrics: Arc<MetricsAccess>,
    /// Where people reach the server, as `public_url` says: its origin
    /// (`https://keys.example.com`) is the one browsers' `Origin` may name, and an
    /// `https` one makes the session cookie `Secure` (and `__Host-`).
    pub public_origin: Option<Arc<str>>,
    /// The whole `public_url`, without a trailing slash: the start of the links the
    /// dashboard hands out, such as an invitation's.
    pub public_url: Arc<str>,
    /// The forward-auth route table and who may call `/v1/forward-auth`.
    pub forward_auth: Arc<ForwardAuth>,
    /// Components outside the application that `/readyz` reports beside its own
    /// (the database, the change notifications): add one with [`AppState::probing`].
    pub probes: Arc<[Arc<dyn Probe>]>,
}

impl AppState {
    /// The application, believing no proxy, with `/metrics` on the API listener for
    /// loopback clients only.
    pub fn new(app: Keyward) -> Self {
        AppState {
            app,
            proxies: Arc::new(TrustedProxies::default()),
            metrics: Arc::new(MetricsAccess::default()),
            public_origin: None,
            public_url: Arc::from("http://127.0.0.1:8080"),
            forward_auth: Arc::new(ForwardAuth::default()),
            probes: Arc::new([]),
        }
    }

    /// Reporting `probe`'s component in `/readyz` too (503 while it is down).
    pub fn probing(self, probe: Arc<dyn Probe>) -> Self {
        let mut probes = self.probes.to_vec();
        probes.push(probe);
        AppState {
            probes: probes.into(),
            ..self
        }
    }

    /// People reach the server at `url` (`public_url`): only its scheme, host and
    /// port count.
    pub fn reached_at(self, url: &str) -> Self {
        let origin = match url.split_once("://") {
            Some((scheme, rest)) => {
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                format!(
                    "{}://{}",
                    scheme.to_ascii_lowercase(),
                    host.to_ascii_lowercase()
                )
            }
            None => url.to_owned(),
        };
        AppState {
            public_origin: Some(origin.into()),
            public_url: Arc::from(url.trim_end_matches('/')),
            ..self
        }
    }

    /// Whether the public URL is `https`.
    pub fn public_https(&self) -> bool {
        self.public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"))
    }

    /// Answering `/v1/forward-auth` with this route table and caller rule.
    pub fn forwarding(self, forward_auth: ForwardAuth) -> Self {
        AppState {
            forward_auth: Arc::new(forward_auth),
            ..self
        }
    }

    /// Believing `X-Forwarded-For` from these proxies.
    pub fn behind(self, proxies: TrustedProxies) -> Self {
        AppState {
            proxies: Arc::new(proxies),
            ..self
        }
    }
}

/// Where `/metrics` is served, and who may read it: with a token, whoever sends it
/// (`Authorization: Bearer <token>`); without one, clients on the same machine only.
#[derive(Debug, Clone)]
pub struct MetricsAccess {
    /// On the API listener; otherwise only where [`crate::launch_metrics`] serves it.
    pub on_api_listener: bool,
    pub token: Option<SecretString>,
}

impl Default for MetricsAccess {
    fn default() -> Self {
        MetricsAccess {
            on_api_listener: true,
            token: None,
        }
    }
}

/// How `/v1/forward-auth` decides: the route table, what to do with a request no
/// route matches, and who may ask.
#[derive(Debug, Clone, Default)]
pub struct ForwardAuth {
    pub routes: RouteTable,
    /// A request no route matches: refused (`false`, the default) or allowed for any
    /// valid key (`true`).
    pub allow_unmatched: bool,
    /// With a token, callers must send it in `X-Keyward-Proxy-Token`, from anywhere;
    /// without one, only the server's own machine and the trusted proxies may ask.
    pub token: Option<SecretString>,
}
