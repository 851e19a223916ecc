//! When each key was last used, and from where, without a database write per request:
//! a valid check notes the key in memory (the latest time per key, in sharded maps so
//! workers rarely meet), and [`Keyward::flush_usage`] writes what was noted in one
//! transaction. `keyward serve` flushes every [`FLUSH_EVERY`] and once more when it
//! stops; so a crash loses at most that long of "last used" updates, and nothing else.
//!
//! These writes change nothing a check decides, so they invalidate no cache entry (the
//! change log leaves them out).

use crate::error::AppResult;
use crate::Keyward;
use keyward_core::{KeyId, Timestamp};
use keyward_store::KeyUse;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;

/// How often `keyward serve` writes what it noted.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

const SHARDS: usize = 16;

/// The latest use noted per key: when, and from where if known.
type Seen = HashMap<KeyId, (Timestamp, Option<IpAddr>)>;

pub(crate) struct UsageNotes {
    shards: Vec<Mutex<Seen>>,
    hasher: RandomState,
}

impl Default for UsageNotes {
    fn default() -> Self {
        UsageNotes {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl UsageNotes {
    pub(crate) fn note(&self, key: KeyId, at: Timestamp, from: Option<IpAddr>) {
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        let seen = map.entry(key).or_insert((at, from));
        if at >= seen.0 {
            *seen = (at, from.or(seen.1));
        }
    }

    fn take(&self) -> Vec<KeyUse> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let taken = std::mem::take(&mut *shard.lock().unwrap_or_else(|p| p.into_inner()));
            out.extend(taken.into_iter().map(|(key, (at, from))| KeyUse {
                key,
                at,
                from: from.map(|ip| ip.to_string()),
            }));
        }
        out
    }
}

impl Keyward {
    /// What `keyward serve` does every [`FLUSH_EVERY`]: writes the last uses noted,
    /// and builds the filter of known key ids when it is missing (at start, or after it
    /// stepped aside). Each part's failure is returned after the other part ran.
    pub async fn housekeeping(&self) -> AppResult<()> {
        self.limiter.prune(self.now());
        let flushed = self.flush_usage().await.map(|_| ());
        let built = match self.cache.known.wanted() {
            true => self.build_known_ids().await.map(|_| ()),
            false => Ok(()),
        };
        flushed.and(built)
    }

    /// Writes the keys' last uses noted since the last flush; how many keys it wrote.
    /// On failure the notes are put back, to be written next time.
    pub async fn flush_usage(&self) -> AppResult<usize> {
        // The quota's spending first: it is what a crash would cost the operator. Its
        // failure is returned after the last uses were written too.
        let quota = self.flush_quota().await;
        let uses = self.usage.take();
        if uses.is_empty() {
            return quota.map(|_| 0);
        }
        match self.store.record_key_uses(&uses).await {
            Ok(()) => quota.map(|_| uses.len()),
            Err(e) => {
                for u in uses {
                    self.usage
                        .note(u.key, u.at, u.from.and_then(|ip| ip.parse().ok()));
                }
                Err(e.into())
            }
        }
    }
}
