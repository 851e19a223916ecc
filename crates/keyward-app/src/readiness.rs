//! Readiness: whether each component a node depends on to answer correctly works now,
//! for `/readyz`. The application's own components are listed here ([`Keyward::
//! readiness`]): the database, the change notifications, the rate limiter's Redis;
//! others that live outside it are [`Probe`]s handed to the server, which asks them
//! beside these.

use crate::cache::FeedHealth;
use crate::{Keyward, Unreachable};
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
    /// Whether the node can serve only while this component is up. A component that
    /// is not (the rate limiter's Redis with `redis_unreachable = "open"`) leaves the
    /// node in service, degraded, while it is down.
    pub required: bool,
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
            required: true,
        }
    }

    pub fn down(name: &'static str, detail: impl Into<String>) -> Self {
        Component {
            name,
            state: ComponentState::Down,
            detail: Some(detail.into()),
            required: true,
        }
    }

    /// The same component, one the node serves without (see [`Component::required`]).
    pub fn not_required(self) -> Self {
        Component {
            required: false,
            ..self
        }
    }

    pub fn is_up(&self) -> bool {
        self.state == ComponentState::Up
    }

    /// Down (or recovering) and needed: the node is not ready.
    pub fn keeps_node_out(&self) -> bool {
        !self.is_up() && self.required
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
    /// The application's own components: the database; where a change feed is
    /// followed, the notification connection (down, the cache is bypassed and every
    /// check reads the database, still correct, but slower and heavier on it); with
    /// rate limits in Redis, Redis (down with `redis_unreachable = "open"`, checks use
    /// per-node limits, so the node still serves: not required).
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
                required: true,
            }),
            FeedHealth::Down => out.push(Component::down(
                name,
                "not listening for changes made on other nodes: checks read the database until it reconnects",
            )),
        }
        let name = "redis";
        match self.redis_ping().await {
            None => {}
            Some((_, Ok(()))) => out.push(Component::up(name)),
            Some((Unreachable::Closed, Err(e))) => {
                tracing::warn!(error = %e, "readiness: the rate limiter's Redis does not answer");
                out.push(Component::down(
                    name,
                    "does not answer; checks fail meanwhile (redis_unreachable = closed)",
                ));
            }
            Some((Unreachable::Open, Err(e))) => {
                tracing::warn!(error = %e, "readiness: the rate limiter's Redis does not answer");
                out.push(
                    Component::down(
                        name,
                        "does not answer; checks use per-node limits meanwhile (redis_unreachable = open)",
                    )
                    .not_required(),
                );
            }
        }
        out
    }
}
