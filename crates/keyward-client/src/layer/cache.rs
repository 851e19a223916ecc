//! The layer's local cache of keyward's answers.
//!
//! Entries are keyed by a SHA-256 of a per-process random salt, the key and everything
//! asked of it, so the cache never holds a key in clear, and one key asked two
//! different things has two entries. An entry expires `ttl` after the request that
//! fetched it was **sent**: keyward answered with its state at some moment after that,
//! so a change keyward acknowledged at time T is seen by every request after T + ttl,
//! whenever the answer raced with the change.
//!
//! Only answers that counted nothing are kept (see [`VerifyOut::is_metered`]): a key
//! with rate limits, or in an organization with a quota, must reach keyward on every
//! request, or the limits would count only the cache's misses.

use super::Ask;
use crate::types::{Level, VerifyOut};
use sha2::{Digest, Sha256};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Entry {
    expires: Instant,
    answer: Arc<VerifyOut>,
}

pub(crate) struct Cache {
    entries: quick_cache::sync::Cache<[u8; 32], Entry>,
    ttl: Duration,
    salt: u64,
}

/// What a cache entry is found by: a digest, never the key.
#[derive(Clone, Copy)]
pub(crate) struct Fingerprint(pub(crate) [u8; 32]);

impl Cache {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Cache {
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
            ttl,
            // Random per process (std seeds it from the OS), so a digest seen in a heap
            // dump cannot be matched against a table of digests of known keys.
            salt: std::collections::hash_map::RandomState::new().hash_one(0x6b77_u64),
        }
    }

    pub(crate) fn fingerprint(&self, key: &str, ask: &Ask, method: &str) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(self.salt.to_le_bytes());
        let mut field = |value: Option<&str>| {
            // Length-prefixed, with absent distinct from empty, so no two different
            // asks write the same bytes.
            match value {
                None => h.update([0u8]),
                Some(v) => {
                    h.update([1u8]);
                    h.update((v.len() as u64).to_le_bytes());
                    h.update(v.as_bytes());
                }
            }
        };
        field(Some(key));
        field(ask.project.as_deref());
        field(ask.environment.as_deref());
        field(ask.resource.as_deref());
        field(ask.level.as_ref().map(Level::as_str));
        field(ask.level.is_none().then_some(method));
        field(ask.ip.map(|ip| ip.to_string()).as_deref());
        field(ask.cost.map(|c| c.to_string()).as_deref());
        Fingerprint(h.finalize().into())
    }

    /// The answer kept for `fp`, if it has not expired by `now`.
    pub(crate) fn get(&self, fp: Fingerprint, now: Instant) -> Option<Arc<VerifyOut>> {
        let entry = self.entries.get(&fp.0)?;
        if now < entry.expires {
            Some(entry.answer)
        } else {
            self.entries.remove(&fp.0);
            None
        }
    }

    /// Keeps `answer`, fetched by a request sent at `sent` and arrived at `now`, if it
    /// counted nothing.
    pub(crate) fn put(
        &self,
        fp: Fingerprint,
        sent: Instant,
        now: Instant,
        answer: &Arc<VerifyOut>,
    ) {
        if answer.is_metered() {
            return;
        }
        let expires = sent + self.ttl;
        if now < expires {
            self.entries.insert(
                fp.0,
                Entry {
                    expires,
                    answer: Arc::clone(answer),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LimitStanding, Outcome};

    fn answer(outcome: Outcome, limits: Option<Vec<LimitStanding>>) -> Arc<VerifyOut> {
        Arc::new(VerifyOut {
            valid: outcome == Outcome::Valid,
            status: if outcome == Outcome::Valid { 200 } else { 401 },
            outcome,
            detail: String::new(),
            required_permission: None,
            key: None,
            rate_limits: limits,
            quota: None,
            retry_after: None,
            headers: Default::default(),
        })
    }

    fn fp(cache: &Cache, n: u8) -> Fingerprint {
        cache.fingerprint(&format!("kw_live_{n}"), &Ask::organization(), "GET")
    }

    /// Answers that counted against limits are never kept: each request with such a
    /// key must reach keyward to be counted.
    #[test]
    fn only_answers_that_counted_nothing_are_kept() {
        let cache = Cache::new(Duration::from_secs(60), 100);
        let limit = LimitStanding {
            name: "default".into(),
            limit: 10,
            period: "1m".into(),
            remaining: 9,
            reset: 6,
        };
        let now = Instant::now();
        cache.put(fp(&cache, 1), now, now, &answer(Outcome::Valid, None));
        cache.put(fp(&cache, 2), now, now, &answer(Outcome::Revoked, None));
        cache.put(
            fp(&cache, 3),
            now,
            now,
            &answer(Outcome::Valid, Some(vec![limit])),
        );
        cache.put(
            fp(&cache, 4),
            now,
            now,
            &answer(Outcome::RateLimited, Some(vec![])),
        );
        assert!(cache.get(fp(&cache, 1), now).is_some());
        assert!(cache.get(fp(&cache, 2), now).is_some());
        assert!(cache.get(fp(&cache, 3), now).is_none());
        assert!(cache.get(fp(&cache, 4), now).is_none());
    }

    /// The staleness bound counts from when the request was sent, not when its
    /// answer arrived: an answer whose request left a TTL ago is not kept at all.
    #[test]
    fn an_entry_lives_one_ttl_from_when_its_request_was_sent() {
        let ttl = Duration::from_secs(1);
        let cache = Cache::new(ttl, 100);
        let sent = Instant::now();
        // Arrived a TTL after its request left: never kept.
        cache.put(
            fp(&cache, 1),
            sent,
            sent + ttl,
            &answer(Outcome::Valid, None),
        );
        assert!(cache.get(fp(&cache, 1), sent + ttl).is_none());
        // Arrived at once: served until one TTL after the request left, then not.
        let arrived = sent + Duration::from_millis(300);
        cache.put(fp(&cache, 2), sent, arrived, &answer(Outcome::Valid, None));
        assert!(cache.get(fp(&cache, 2), arrived).is_some());
        assert!(cache
            .get(fp(&cache, 2), sent + ttl - Duration::from_millis(1))
            .is_some());
        assert!(cache.get(fp(&cache, 2), sent + ttl).is_none());
    }
}
