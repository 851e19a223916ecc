//! What every handler shares.

use keyward_app::Keyward;

#[derive(Clone)]
pub struct AppState {
    pub app: Keyward,
    /// The address people reach this server at, for links it prints or returns.
    pub public_url: std::sync::Arc<str>,
}
