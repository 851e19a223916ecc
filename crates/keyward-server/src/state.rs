//! What every handler shares.

use crate::forwarded::TrustedProxies;
use keyward_app::Keyward;
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
    /// The address people reach this server at (`public_url`), for the links the
    /// dashboard hands out, such as an invitation's.
    pub public_url: Arc<str>,
}

impl AppState {
    /// The application, believing no proxy, with `/metrics` on the API listener for
    /// loopback clients only.
    pub fn new(app: Keyward) -> Self {
        AppState {
            app,
            proxies: Arc::new(TrustedProxies::default()),
            metrics: Arc::new(MetricsAccess::default()),
            public_url: Arc::from("http://127.0.0.1:8080"),
        }
    }

    /// Reached by people at `url` (`http://…` or `https://…`, no trailing slash needed).
    pub fn reached_at(self, url: &str) -> Self {
        AppState {
            public_url: Arc::from(url.trim_end_matches('/')),
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
