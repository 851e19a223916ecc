//! A small, bounded cache for the check, so that a valid key costs no database
//! access: keys by id (with whom they answer to), admin tokens, and the projects and
//! environments requests name.
//!
//! Freshness: the store keeps a change counter that every change a check depends on
//! increments. Once per `ttl` (one second by default) the cache reads it: unchanged,
//! everything cached is still true and stays; changed, the cache starts over. So a
//! change made by another process or node (the CLI on the same SQLite file, later
//! another server on PostgreSQL) is seen within `ttl`, a change made through this
//! process is cleared at once, and a busy key is not reloaded every second.
//!
//! Sharded maps behind read-write locks: reads, the common case, do not contend. When
//! a shard is full, expired entries go first, then the whole shard; the cache is a
//! speed-up, never a source of truth.

use keyward_core::check::FoundTarget;
use keyward_core::token::AdminToken;
use keyward_core::{ApiKey, Bound, KeyId, OrgId, Timestamp};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use time::Duration;

const SHARDS: usize = 16;

/// How long an entry may go unvalidated by use before it is dropped: freshness comes
/// from the change counter, this only lets idle keys leave.
const MAX_AGE: Duration = Duration::minutes(5);

/// A key as the check needs it: the record and whom it answers to.
#[derive(Debug)]
pub struct CachedKey {
    pub key: ApiKey,
    pub bound: Bound,
}

/// A project and environment lookup: `None` when the names match nothing.
pub type Found = Option<FoundTarget>;

/// One cached lookup, with the names it answers for (entries are filed by a hash of
/// the names, so that a lookup allocates nothing).
#[derive(Clone)]
struct TargetEntry {
    org: OrgId,
    project: String,
    environment: String,
    found: Found,
}

struct Sharded<K, V> {
    shards: Vec<RwLock<HashMap<K, (Timestamp, V)>>>,
    hasher: RandomState,
    per_shard: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> Sharded<K, V> {
    fn new(capacity: usize) -> Self {
        Sharded {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    fn shard(&self, k: &K) -> &RwLock<HashMap<K, (Timestamp, V)>> {
        &self.shards[(self.hasher.hash_one(k) as usize) % SHARDS]
    }

    fn get(&self, k: &K, now: Timestamp) -> Option<V> {
        let shard = self.shard(k).read().unwrap_or_else(|p| p.into_inner());
        shard
            .get(k)
            .filter(|(until, _)| *until > now)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, k: K, v: V, until: Timestamp, now: Timestamp) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = self.shard(&k).write().unwrap_or_else(|p| p.into_inner());
        if shard.len() >= self.per_shard {
            shard.retain(|_, (u, _)| *u > now);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(k, (until, v));
    }

    fn remove(&self, k: &K) {
        self.shard(k)
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(k);
    }

    fn clear(&self) {
        for s in &self.shards {
            s.write().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map_or(0, |m| m.len()))
            .sum()
    }
}

pub struct CheckCache {
    keys: Sharded<KeyId, Option<Arc<CachedKey>>>,
    admin_tokens: Sharded<KeyId, Option<Arc<AdminToken>>>,
    targets: Sharded<u64, Vec<TargetEntry>>,
    target_hasher: RandomState,
    ttl: Duration,
    /// Until when (Unix ms) the change counter read last is trusted.
    checked_until: AtomicI64,
    /// The change counter as last read; `i64::MIN` before the first read.
    counter: AtomicI64,
    /// One task at a time reads the counter; the others use the cache meanwhile.
    refreshing: AtomicBool,
}

impl CheckCache {
    /// `capacity` entries of each kind (0 turns caching off), each kept `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = if ttl <= Duration::ZERO { 0 } else { capacity };
        CheckCache {
            keys: Sharded::new(capacity),
            admin_tokens: Sharded::new(capacity.min(1024)),
            targets: Sharded::new(capacity),
            target_hasher: RandomState::new(),
            ttl,
            checked_until: AtomicI64::new(i64::MIN),
            counter: AtomicI64::new(i64::MIN),
            refreshing: AtomicBool::new(false),
        }
    }

    /// Whether the caller must read the store's change counter now and report it with
    /// [`revalidated`](Self::revalidated). True for one caller at a time.
    pub fn due(&self, now: Timestamp) -> bool {
        self.keys.per_shard > 0
            && keyward_core::timestamp::to_millis(now) >= self.checked_until.load(Ordering::Acquire)
            && !self.refreshing.swap(true, Ordering::AcqRel)
    }

    /// Takes the change counter just read: when it moved, everything cached may be
    /// stale and is dropped.
    pub fn revalidated(&self, counter: i64, now: Timestamp) {
        if self.counter.swap(counter, Ordering::AcqRel) != counter {
            self.keys.clear();
            self.admin_tokens.clear();
            self.targets.clear();
        }
        self.checked_until.store(
            keyward_core::timestamp::to_millis(now + self.ttl),
            Ordering::Release,
        );
        self.refreshing.store(false, Ordering::Release);
    }

    /// The counter could not be read: let the next caller try again.
    pub fn revalidation_failed(&self) {
        self.refreshing.store(false, Ordering::Release);
    }

    /// `Some(None)`: known not to exist; `None`: not cached.
    pub fn key(&self, id: &KeyId, now: Timestamp) -> Option<Option<Arc<CachedKey>>> {
        self.keys.get(id, now)
    }

    pub fn put_key(&self, id: KeyId, value: Option<Arc<CachedKey>>, now: Timestamp) {
        self.keys.put(id, value, now + MAX_AGE, now);
    }

    fn target_hash(&self, org: &OrgId, project: &str, env: &str) -> u64 {
        self.target_hasher.hash_one((org.as_str(), project, env))
    }

    /// `Some(found)` when cached; allocates nothing.
    pub fn target(&self, org: &OrgId, project: &str, env: &str, now: Timestamp) -> Option<Found> {
        let hash = self.target_hash(org, project, env);
        let shard = self
            .targets
            .shard(&hash)
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let (until, entries) = shard.get(&hash)?;
        if *until <= now {
            return None;
        }
        entries
            .iter()
            .find(|e| &e.org == org && e.project == project && e.environment == env)
            .map(|e| e.found.clone())
    }

    pub fn put_target(
        &self,
        org: OrgId,
        project: String,
        env: String,
        found: Found,
        now: Timestamp,
    ) {
        let hash = self.target_hash(&org, &project, &env);
        let mut entries = self.targets.get(&hash, now).unwrap_or_default();
        entries.retain(|e| !(e.org == org && e.project == project && e.environment == env));
        entries.push(TargetEntry {
            org,
            project,
            environment: env,
            found,
        });
        self.targets.put(hash, entries, now + MAX_AGE, now);
    }

    pub fn admin_token(&self, id: &KeyId, now: Timestamp) -> Option<Option<Arc<AdminToken>>> {
        self.admin_tokens.get(id, now)
    }

    pub fn put_admin_token(&self, id: KeyId, value: Option<Arc<AdminToken>>, now: Timestamp) {
        self.admin_tokens.put(id, value, now + MAX_AGE, now);
    }

    pub fn forget_admin_token(&self, id: &KeyId) {
        self.admin_tokens.remove(id);
    }

    /// Forgets a key after it changed here.
    pub fn forget_key(&self, id: &KeyId) {
        self.keys.remove(id);
    }

    /// Forgets every key: after a membership change, which can change what any
    /// user-bound key may do.
    pub fn forget_keys(&self) {
        self.keys.clear();
    }

    /// Forgets every project and environment lookup: after one was created.
    pub fn forget_targets(&self) {
        self.targets.clear();
    }

    pub fn len(&self) -> usize {
        self.keys.len() + self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_core::timestamp::from_millis;
    use rand_core::OsRng;

    #[test]
    fn the_cache_stays_within_its_capacity_and_forgets_expired_entries() {
        let cache = CheckCache::new(160, Duration::SECOND);
        let now = from_millis(0);
        for _ in 0..10_000 {
            cache.put_key(KeyId::generate(&mut OsRng), None, now);
        }
        assert!(cache.len() <= 160, "{}", cache.len());
        let id = KeyId::generate(&mut OsRng);
        cache.put_key(id, None, now);
        assert!(matches!(cache.key(&id, now), Some(None)));
        assert!(cache.key(&id, now + MAX_AGE).is_none(), "expired");
        // The change counter: the first reading starts afresh; then unchanged keeps
        // entries and changed drops them.
        assert!(cache.due(now));
        assert!(!cache.due(now), "one caller at a time");
        cache.revalidated(7, now);
        assert!(!cache.due(now));
        cache.put_key(id, None, now);
        assert!(matches!(cache.key(&id, now), Some(None)));
        assert!(cache.due(now + Duration::SECOND));
        cache.revalidated(7, now + Duration::SECOND);
        assert!(
            matches!(cache.key(&id, now), Some(None)),
            "kept: nothing changed"
        );
        assert!(cache.due(now + Duration::SECOND * 2));
        cache.revalidated(8, now + Duration::SECOND * 2);
        assert!(cache.key(&id, now).is_none(), "dropped: something changed");
        let off = CheckCache::new(0, Duration::SECOND);
        off.put_key(id, None, now);
        assert!(off.key(&id, now).is_none(), "capacity 0 turns caching off");
    }
}
