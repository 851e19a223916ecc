//! What every handler shares.

use keyward_app::Keyward;
use secrecy::SecretString;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub app: Keyward,
    /// Where `/metrics` is served and who may read it. Behind an `Arc`: the state is
    /// cloned for every request.
    pub metrics: Arc<MetricsAccess>,
}

impl AppState {
    /// The application, with `/metrics` on the API listener for loopback clients only.
    pub fn new(app: Keyward) -> Self {
        AppState {
            app,
            metrics: Arc::new(MetricsAccess::default()),
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
