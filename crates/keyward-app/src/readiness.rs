//! Readiness: whether each component a node depends on to answer correctly works now,
//! for `/readyz`. The application's own components are listed here ([`Keyward::
//! readiness`]); others that live outside it (such as a Redis for rate limits) are
//! [`Probe`]s handed to the server, which asks them beside these.

use crate::cache::FeedHealth;
use crate::Keyward;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The longest one component may take to answer before it counts as down: a hanging
/// database must not hang the readiness check of an orchestrator.
pub const PROBE_LIMIT: Duration = Duration::from_secs(2);

/// One component's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `database`, `notifications`, ...
    pub name: &'static str,
    pub state: ComponentState,
    /// What is wrong, for the operator; never a secret.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentState {
    Up,
    /// Connected again, and not yet back in service (the change feed catching up).
    Recovering,
    Down,
}

impl ComponentState {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentState::Up => "up",
            ComponentState::Recovering => "recovering",
            ComponentState::Down => "down",
        }
    }
}

impl Component {
    pub fn up(name: &'static str) -> Self {
        Component {
            name,
            state: ComponentState::Up,
            detail: None,
        }
    }

    pub fn down(name: &'static str, detail: impl Into<String>) -> Self {
        Component {
            name,
            state: ComponentState::Down,
            detail: Some(detail.into()),
        }
    }

    pub fn is_up(&self) -> bool {
        self.state == ComponentState::Up
    }
}

/// A component outside the application whose readiness `/readyz` reports.
pub trait Probe: Send + Sync + 'static {
    /// The component's name in `/readyz`, such as `redis`.
    fn name(&self) -> &'static str;
    /// Answers within [`PROBE_LIMIT`] or counts as down.
    fn probe(&self) -> Pin<Box<dyn Future<Output = Component> + Send + '_>>;
}

/// Runs `probe` within [`PROBE_LIMIT`]; past it, `name` is down.
pub async fn within_limit(name: &'static str, probe: impl Future<Output = Component>) -> Component {
    match tokio::time::timeout(PROBE_LIMIT, probe).await {
        Ok(c) => c,
        Err(_) => Component::down(name, format!("no answer within {PROBE_LIMIT:?}")),
    }
}

impl Keyward {
    /// The application's own components: the database, and where a change feed is
    /// followed, the notification connection (down, the cache is bypassed and every
    /// check reads the database, still correct, but slower and heavier on it).
    pub async fn readiness(&self) -> Vec<Component> {
        let database = within_limit("database", async {
            match self.store.count_users().await {
                Ok(_) => Component::up("database"),
                Err(e) => {
                    tracing::error!(error = %e, "readiness: the database does not answer");
                    Component::down("database", "the database does not answer")
                }
            }
        })
        .await;
        let mut out = vec![database];
        let name = "notifications";
        match self.cache.feed_health() {
            FeedHealth::NotFollowed => {}
            FeedHealth::Up => out.push(Component::up(name)),
            FeedHealth::CatchingUp => out.push(Component {
                name,
                state: ComponentState::Recovering,
                detail: Some(
                    "listening again, reading the changes that may have been missed".into(),
                ),
            }),
            FeedHealth::Down => out.push(Component::down(
                name,
                "not listening for changes made on other nodes: checks read the database until it reconnects",
            )),
        }
        out
    }
}
