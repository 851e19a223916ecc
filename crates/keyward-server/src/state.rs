//! What every handler shares.

use keyward_app::Keyward;

#[derive(Clone)]
pub struct AppState {
    pub app: Keyward,
}
