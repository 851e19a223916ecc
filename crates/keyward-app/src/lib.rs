//! keyward's use cases, shared by the CLI and the HTTP server so that both follow one
//! path. Each use case loads what it needs from the [`Store`], lets `keyward-core`
//! decide, and commits the change together with its audit event.
#![forbid(unsafe_code)]

mod audit;
pub mod cache;
mod check;
pub mod clock;
mod error;
mod follow;
mod invitations;
mod key_settings;
mod keys;
mod limiter;
mod members;
pub mod metrics;
mod operator;
mod orgs;
mod power;
mod principal;
pub mod readiness;
#[cfg(feature = "openapi")]
pub mod schema;
mod sessions;
pub mod usage;
pub mod views;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AppError, AppResult};
pub use follow::Following;
pub use invitations::CreatedInvitation;
pub use keys::{CreatedKey, KeyInput, KeyPatchInput, Rotated};
pub use limiter::redis::{Failure as RedisFailure, GlobalLimits, RedisSettings, Unreachable};
pub use members::MemberInput;
pub use operator::{CreatedToken, SetupInput};
pub use orgs::OrgSummary;
pub use power::PowerView;
pub use principal::{Principal, Who};
pub use sessions::{NewSession, Person, ResetLink, SignedIn};

use keyward_core::lifecycle::Policy;
use keyward_core::{Catalog, PepperSet, Plans, Prefixes};
use keyward_store::Store;
use std::sync::Arc;

/// The settings the use cases need; the binary builds them from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The key prefixes accepted; new keys and tokens get the first.
    pub prefixes: Prefixes,
    pub peppers: PepperSet,
    pub policy: Policy,
    /// The operator's scope catalog.
    pub catalog: Catalog,
    /// The plans the operator offers.
    pub plans: Plans,
    /// The plan new organizations get when none is named.
    pub default_plan: String,
    /// How many keys (and as many memberships and organizations) the check cache
    /// holds at most; 0 turns it off.
    pub cache_capacity: usize,
    /// About how many bytes the check cache may hold in all.
    pub cache_memory: u64,
    /// How long the cache is trusted between reads of the store's change log: the
    /// longest a change made elsewhere (another process, another node) takes to be seen.
    pub cache_ttl: time::Duration,
    /// A person's session ends after this long without a request.
    pub session_idle_timeout: time::Duration,
    /// A person's session ends this long after sign-in, however active.
    pub session_lifetime: time::Duration,
}

impl Settings {
    /// The default cache: 100,000 keys within 64 MiB, trusted for one second.
    pub const DEFAULT_CACHE_CAPACITY: usize = 100_000;
    pub const DEFAULT_CACHE_MEMORY: u64 = 64 * 1024 * 1024;
    pub const DEFAULT_CACHE_TTL: time::Duration = time::Duration::SECOND;
    /// The plan new organizations get unless the operator says otherwise.
    pub const DEFAULT_PLAN: &'static str = "pro";
    /// Sessions: 12 hours idle, 7 days in all.
    pub const DEFAULT_SESSION_IDLE_TIMEOUT: time::Duration = time::Duration::hours(12);
    pub const DEFAULT_SESSION_LIFETIME: time::Duration = time::Duration::days(7);

    /// What `keyward serve` uses with no configuration, around `peppers`.
    pub fn new(peppers: PepperSet) -> Self {
        Settings {
            prefixes: Prefixes::default(),
            peppers,
            policy: Policy::default(),
            catalog: Catalog::formfex(),
            plans: Plans::formfex(),
            default_plan: Self::DEFAULT_PLAN.to_owned(),
            cache_capacity: Self::DEFAULT_CACHE_CAPACITY,
            cache_memory: Self::DEFAULT_CACHE_MEMORY,
            cache_ttl: Self::DEFAULT_CACHE_TTL,
            session_idle_timeout: Self::DEFAULT_SESSION_IDLE_TIMEOUT,
            session_lifetime: Self::DEFAULT_SESSION_LIFETIME,
        }
    }
}

/// The application: a store, the settings, a clock and the check cache. Cloning it
/// (once per request, as server state) is one reference count.
#[derive(Clone)]
pub struct Keyward(Arc<Inner>);

#[doc(hidden)]
pub struct Inner {
    store: Arc<dyn Store>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    cache: cache::CheckCache,
    usage: usage::notes::UsageNotes,
    limiter: limiter::Limiter,
    /// The rate limits shared through Redis, when configured; else they are per node.
    global: Option<limiter::redis::GlobalLimits>,
    metrics: metrics::Metrics,
    /// Failed sign-ins, per e-mail address and per client address.
    throttle: std::sync::Mutex<keyward_core::signin_throttle::Throttle>,
}

impl std::ops::Deref for Keyward {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Keyward {
    pub fn new(store: Arc<dyn Store>, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self::with_global_limits(store, settings, clock, None)
    }

    /// [`Keyward::new`] with the rate limits in Redis (`global`), shared by every node
    /// that names the same Redis, rather than in this process's memory.
    pub fn with_global_limits(
        store: Arc<dyn Store>,
        settings: Settings,
        clock: Arc<dyn Clock>,
        global: Option<GlobalLimits>,
    ) -> Self {
        let metrics = metrics::Metrics::new();
        Keyward(Arc::new(Inner {
            cache: cache::CheckCache::new(
                settings.cache_capacity,
                settings.cache_memory,
                settings.cache_ttl,
            )
            .timing_loads(metrics.cache_loads()),
            store,
            settings,
            clock,
            usage: usage::notes::UsageNotes::default(),
            limiter: limiter::Limiter::default(),
            global,
            metrics,
            throttle: Default::default(),
        }))
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> keyward_core::Timestamp {
        self.clock.now()
    }

    /// Where the followed change feed stands (see [`follow_changes`](Self::follow_changes)).
    pub fn feed_health(&self) -> cache::FeedHealth {
        self.cache.feed_health()
    }
}
