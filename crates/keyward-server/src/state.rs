//! What every handler shares.

use crate::forwarded::TrustedProxies;
use keyward_app::Keyward;

#[derive(Clone)]
pub struct AppState {
    pub app: Keyward,
    /// Whose `X-Forwarded-For` is believed.
    pub proxies: std::sync::Arc<TrustedProxies>,
}

impl AppState {
    pub fn new(app: Keyward, proxies: TrustedProxies) -> Self {
        AppState {
            app,
            proxies: std::sync::Arc::new(proxies),
        }
    }
}
