//! Rate limits across nodes: each key's GCRA states in Redis, decided by one Lua script
//! (`gcra.lua`) that applies the core's rule ([`keyward_core::limits`]) to all of a
//! key's limits at once, atomically, in one round trip (EVALSHA, loading the script on
//! `NOSCRIPT`). The monthly quota stays where it is without Redis: counted on each node
//! and written to the store in batches (see the parent module).
//!
//! One clock: the script reads Redis's `TIME`, so nodes whose clocks disagree still
//! share one GCRA timeline; the answers (remaining, reset, retry after) are durations,
//! so they mean the same on every node whatever its own clock says.
//!
//! When Redis does not answer within the timeout, the check goes the way the operator
//! chose ([`Unreachable`]); after [`FAILURES_BEFORE_REST`] failures in a row Redis is
//! left alone for [`REST_AFTER_FAILURE`], so that a hung Redis costs a few timeouts a
//! second, not one per check, while one slow answer fails only its own check. Failures
//! are logged at most once per [`REPORT_EVERY`].

use keyward_core::limits::{RateLimit, Standing};
use keyward_core::KeyId;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration as StdDuration, Instant};
use time::Duration;

/// After this many failures in a row (no answer between them)...
pub const FAILURES_BEFORE_REST: u64 = 3;
/// ...checks go the `redis_unreachable` way without asking Redis for this long; then
/// the next check asks again.
pub const REST_AFTER_FAILURE: StdDuration = StdDuration::from_secs(1);
/// Failures are logged at most this often, with how many there were.
pub const REPORT_EVERY: StdDuration = StdDuration::from_secs(10);

/// What a check does when Redis does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// The node falls back to its own in-memory limits: each key's limits still hold,
    /// per node, so across n nodes a key gets up to n times its limit until Redis
    /// answers again.
    Open,
    /// The check fails: the request is refused with 503 `rate-limiter-unavailable`.
    Closed,
}

impl Unreachable {
    /// The default, and why: Redis holds only rate-limit state, no part of who may do
    /// what, so losing it should not stop the operator's API; falling back to per-node
    /// limits keeps every key limited (within nodes × its limit) meanwhile. Operators
    /// who sell exact limits choose `closed`.
    pub const DEFAULT: Unreachable = Unreachable::Open;

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Unreachable::Open),
            "closed" => Some(Unreachable::Closed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Unreachable::Open => "open",
            Unreachable::Closed => "closed",
        }
    }
}

/// Where the global limits live and what happens when they cannot be reached.
#[derive(Clone)]
pub struct RedisSettings {
    /// `redis://[user:password@]host[:port][/db]`; may hold a password, so never shown.
    pub url: SecretString,
    /// Put before every key keyward writes, so that several deployments (or tests) can
    /// share one Redis.
    pub key_prefix: String,
    /// The longest a check waits for Redis.
    pub timeout: StdDuration,
    pub unreachable: Unreachable,
}

impl RedisSettings {
    pub const DEFAULT_KEY_PREFIX: &'static str = "keyward:";
    pub const DEFAULT_TIMEOUT: StdDuration = StdDuration::from_millis(50);
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &"[redacted]")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("unreachable", &self.unreachable)
            .finish()
    }
}

/// What the script is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Decide, and when every limit admits, spend on all of them.
    Spend,
    /// Decide and spend nothing: where the limits stand for a request the quota refused.
    Peek,
    /// Give back what an admitted request spent.
    Refund,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Spend => "spend",
            Mode::Peek => "peek",
            Mode::Refund => "refund",
        }
    }
}

/// The script's answer: the core's [`keyward_core::limits::Verdict`] without the states,
/// which stay in Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub admitted: bool,
    /// On a refusal: when the same request would be admitted; `None`: never.
    pub retry_after: Option<Duration>,
    pub standing: Vec<Standing>,
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("Redis did not answer within {0:?}")]
    Timeout(StdDuration),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis answered the rate-limit script with {0} values, not a decision")]
    Unexpected(usize),
    #[error("Redis failed {FAILURES_BEFORE_REST} times in a row less than {REST_AFTER_FAILURE:?} ago; not asked")]
    Resting,
}

/// Rate limits in Redis, shared by every node that names the same Redis and prefix.
pub struct GlobalLimits {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: StdDuration,
    pub(crate) unreachable: Unreachable,
    trouble: Trouble,
}

impl std::fmt::Debug for GlobalLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalLimits")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("unreachable", &self.unreachable)
            .finish_non_exhaustive()
    }
}

impl GlobalLimits {
    /// Prepares the connection without making it (the first check does, and a node
    /// starts while Redis is down). Must be called on a Tokio runtime. Errs when the
    /// URL cannot be a Redis URL, saying why.
    pub fn new(settings: &RedisSettings) -> Result<Self, String> {
        let client = Self::check_url(settings)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout.max(StdDuration::from_millis(500))))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(2)
            .set_max_delay(StdDuration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot prepare the Redis connection: {:?}", e.kind()))?;
        Ok(GlobalLimits {
            connection,
            script: redis::Script::new(include_str!("gcra.lua")),
            prefix: settings.key_prefix.clone(),
            timeout: settings.timeout,
            unreachable: settings.unreachable,
            trouble: Trouble::new(),
        })
    }

    /// Whether `settings.url` is a Redis URL keyward can use: the client for it, or
    /// what to fix (never repeating the URL, which may hold a password).
    pub fn check_url(settings: &RedisSettings) -> Result<redis::Client, String> {
        let url = settings.url.expose_secret();
        if url.starts_with("rediss://") {
            return Err("rediss:// (TLS) is not supported yet: use redis:// on a private network, or a TLS tunnel".into());
        }
        if !url.starts_with("redis://") && !url.starts_with("redis+unix://") {
            return Err(
                "the URL must start with redis://, such as redis://127.0.0.1:6379/0".into(),
            );
        }
        redis::Client::open(url)
            .map_err(|_| "not a Redis URL: use redis://[user:password@]host[:port][/db]".to_owned())
    }

    /// The Redis key of `key`'s state under `limits`: the key id in braces (one hash
    /// slot for a key, should Redis be a cluster one day) and the limits as written, so
    /// that a change of limits starts afresh, as on one node.
    pub(crate) fn state_key(&self, key: &KeyId, limits: &[RateLimit]) -> String {
        let mut name = format!("{}rl:{{{key}}}:", self.prefix);
        for (i, l) in limits.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(
                name,
                "{sep}{}={}/{}",
                l.name,
                l.limit,
                l.period.whole_seconds()
            );
        }
        name
    }

    /// Runs the script for `key`'s `limits`: at `at` (time since the Unix epoch) when
    /// given (tests), else on Redis's clock.
    pub(crate) async fn decide(
        &self,
        key: &KeyId,
        limits: &[RateLimit],
        mode: Mode,
        cost: u32,
        at: Option<Duration>,
    ) -> Result<Decision, Failure> {
        if self.trouble.resting() {
            return Err(Failure::Resting);
        }
        let mut invocation = self.script.key(self.state_key(key, limits));
        invocation.arg(mode.as_str()).arg(cost);
        match at {
            Some(t) => invocation.arg(format!(
                "{}.{:09}",
                t.whole_seconds(),
                t.subsec_nanoseconds()
            )),
            None => invocation.arg(""),
        };
        for l in limits {
            invocation
                .arg(l.limit)
                .arg(l.period.whole_nanoseconds() as i64)
                .arg(l.interval().whole_nanoseconds() as i64);
        }
        let mut connection = self.connection.clone();
        let answer = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<Vec<i64>>(&mut connection),
        )
        .await;
        let values = match answer {
            Ok(Ok(values)) => values,
            Ok(Err(e)) => return Err(self.trouble.failed(Failure::Redis(e))),
            Err(_) => return Err(self.trouble.failed(Failure::Timeout(self.timeout))),
        };
        self.trouble.answered();
        if values.len() != 2 + 2 * limits.len() {
            return Err(self.trouble.failed(Failure::Unexpected(values.len())));
        }
        let standing = values[2..]
            .chunks(2)
            .map(|pair| Standing {
                remaining: u32::try_from(pair[0].max(0)).unwrap_or(u32::MAX),
                reset: Duration::nanoseconds(pair[1]),
            })
            .collect();
        let admitted = values[0] == 1;
        Ok(Decision {
            admitted,
            retry_after: match values[1] {
                n if n < 0 || admitted => None,
                n => Some(Duration::nanoseconds(n)),
            },
            standing,
        })
    }

    /// Whether Redis answers a PING within the timeout: for `/readyz`.
    pub async fn ping(&self) -> Result<(), Failure> {
        let mut connection = self.connection.clone();
        let ping = redis::cmd("PING");
        match tokio::time::timeout(self.timeout, ping.query_async::<String>(&mut connection)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Failure::Redis(e)),
            Err(_) => Err(Failure::Timeout(self.timeout)),
        }
    }

    /// What a check does while Redis fails.
    pub fn unreachable(&self) -> Unreachable {
        self.unreachable
    }
}

/// Failures seen: when Redis may be asked again, and when they were last logged.
struct Trouble {
    start: Instant,
    /// Milliseconds after `start` until which Redis is not asked (0: ask).
    resting_until: AtomicU64,
    last_report: AtomicU64,
    /// Failures since the last report.
    failures: AtomicU64,
    /// Failures since the last answer.
    in_a_row: AtomicU64,
    down: AtomicBool,
}

impl Trouble {
    fn new() -> Self {
        Trouble {
            start: Instant::now(),
            resting_until: AtomicU64::new(0),
            last_report: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            in_a_row: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }

    fn millis(&self) -> u64 {
        // Offset by the rest, so that 0 never means "just now".
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
            + REPORT_EVERY.as_millis() as u64
    }

    fn resting(&self) -> bool {
        let until = self.resting_until.load(Ordering::Relaxed);
        until != 0 && self.millis() < until
    }

    fn failed(&self, failure: Failure) -> Failure {
        let now = self.millis();
        if self.in_a_row.fetch_add(1, Ordering::Relaxed) + 1 >= FAILURES_BEFORE_REST {
            self.resting_until.store(
                now + REST_AFTER_FAILURE.as_millis() as u64,
                Ordering::Relaxed,
            );
        }
        self.down.store(true, Ordering::Relaxed);
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let last = self.last_report.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= REPORT_EVERY.as_millis() as u64;
        if due
            && self
                .last_report
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.failures.store(0, Ordering::Relaxed);
            tracing::warn!(
                error = %failure,
                failures,
                "the rate limiter's Redis fails; checks go the redis_unreachable way \
                 (logged at most every 10 s, with the failures since)"
            );
        }
        failure
    }

    fn answered(&self) {
        if self.in_a_row.load(Ordering::Relaxed) != 0 {
            self.in_a_row.store(0, Ordering::Relaxed);
        }
        if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed) {
            self.resting_until.store(0, Ordering::Relaxed);
            tracing::info!("the rate limiter's Redis answers again");
        }
    }
}

#[cfg(test)]
#[path = "redis_tests.rs"]
mod tests;
