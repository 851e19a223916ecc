//! The check cache, so that a valid key costs no database access: keys by id, unknown
//! key ids, the access of user-bound keys' creators, organizations' plans, projects and
//! environments, and admin tokens. Entries are bounded in count and in bytes, in
//! quick_cache caches (S3-FIFO eviction, sharded, scan resistant); unknown ids live in a
//! cache of their own, so a flood of made-up ids cannot push known keys out.
//!
//! Freshness has two parts:
//!
//! * changes made through this process invalidate what they touch as soon as they
//!   commit, before they are acknowledged, behind a [`Fence`] that keeps checks which
//!   read the store earlier from putting the old state back;
//! * changes made elsewhere (the CLI, another node) are read from the store's change
//!   log once per `ttl`, and drop exactly what they touched. Between two reads, the
//!   cache is trusted only until `ttl` after the last read began; past that, lookups go
//!   to the store until a read succeeds. So a change made elsewhere is seen within
//!   `ttl`, even if a read of the log hangs or its request is cancelled;
//! * where the store has a change feed (PostgreSQL's LISTEN/NOTIFY), the log is also
//!   read as soon as a change is announced (see `follow.rs`), so changes made elsewhere
//!   are seen within milliseconds, the poll above staying as the backstop. While the
//!   feed is down, and after it reconnects until a read of the log that began after
//!   the reconnection has succeeded, announcements may have been lost: the cache is
//!   not trusted at all ([`FeedHealth`]), and lookups go to the store.

mod fence;
mod known;
mod targets;

pub use fence::{Ticket, Touched};
pub use known::KnownIds;
pub use targets::OrgTargets;

use fence::Fence;
use keyward_core::timestamp::to_millis;
use keyward_core::token::AdminToken;
use keyward_core::{ApiKey, KeyId, MemberAccess, OrgId, Timestamp, UserId};
use keyward_store::{Change, Changes};
use quick_cache::sync::Cache;
use quick_cache::{UnitWeighter, Weighter};
use std::mem::size_of;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Weighs entries by the bytes they hold, roughly: enough to keep the cache within its
/// memory budget whatever the keys' names, grants and scopes.
#[derive(Debug, Clone, Copy)]
struct ByBytes;

trait Weigh {
    fn bytes(&self) -> usize;
}

impl Weigh for Arc<ApiKey> {
    fn bytes(&self) -> usize {
        let k = &**self;
        let text = |s: &str| s.len();
        size_of::<ApiKey>()
            + 64 // the Arc, the cache's own slot
            + text(k.org_id.as_str())
            + text(k.name.as_str())
            + k.description.as_ref().map_or(0, |d| text(d.as_str()))
            + k.grants
                .iter()
                .map(|g| {
                    size_of::<keyward_core::Grant>()
                        + 32
                        + g.resources
                            .as_ref()
                            .map_or(0, |r| r.iter().map(|r| 48 + r.as_str().len()).sum())
                })
                .sum::<usize>()
            + k.scopes.iter().map(|s| 32 + s.as_str().len()).sum::<usize>()
            + k.owner.as_ref().map_or(0, |u| text(u.as_str()))
            + 64 // created_by, last_used_ip
    }
}

impl Weigh for Option<Arc<MemberAccess>> {
    fn bytes(&self) -> usize {
        96 + self.as_ref().map_or(0, |a| a.projects.len() * 64)
    }
}

impl Weigh for Arc<OrgTargets> {
    fn bytes(&self) -> usize {
        64 + self.bytes
    }
}

impl<K, V: Weigh> Weighter<K, V> for ByBytes {
    fn weight(&self, _key: &K, value: &V) -> u64 {
        value.bytes().max(1) as u64
    }
}

/// Whether lookups may answer from the cache now.
pub enum Freshness<'a> {
    Trusted,
    /// Trust ran out and this caller reads the change log: hand what it read to
    /// [`CheckCache::refreshed`]. Dropping it unread (a cancelled request) lets the
    /// next caller try.
    Due(Refresh<'a>),
    /// Trust ran out and another caller is reading the log (or the cache is off): go
    /// to the store.
    Untrusted,
}

/// The right to read the change log: one reader at a time holds it.
pub struct Refresh<'a> {
    cursor: tokio::sync::MutexGuard<'a, Option<i64>>,
    started: Timestamp,
}

impl Refresh<'_> {
    /// Where to read the change log from.
    pub fn cursor(&self) -> Option<i64> {
        *self.cursor
    }
}

pub struct CheckCache {
    enabled: bool,
    keys: Cache<KeyId, Arc<ApiKey>, ByBytes>,
    unknown_keys: Cache<KeyId, (), UnitWeighter>,
    members: Cache<(OrgId, UserId), Option<Arc<MemberAccess>>, ByBytes>,
    orgs: Cache<OrgId, Arc<OrgTargets>, ByBytes>,
    admin_tokens: Cache<KeyId, Option<Arc<AdminToken>>, UnitWeighter>,
    fence: Fence,
    /// Key ids that exist, to answer made-up ones without a store read.
    pub known: KnownIds,
    ttl_ms: i64,
    /// Until when (Unix ms) lookups may trust the cache.
    trusted_until: AtomicI64,
    /// When (Unix ms) the last successful read of the change log began.
    read_at: AtomicI64,
    /// The change log position read up to (`None` before the first read), behind the
    /// lock that lets one caller at a time read the log.
    cursor: tokio::sync::Mutex<Option<i64>>,
    /// Where the time of each read after a miss goes, if anywhere.
    loads: Option<prometheus::Histogram>,
    /// The change feed's hold on trust: [`NO_FEED`], [`FEED_DOWN`], `-epoch` (listening
    /// since connection `epoch`, not caught up yet) or `epoch` (caught up).
    feed: AtomicI64,
}

/// No change feed is followed: trust is the poll's alone.
const NO_FEED: i64 = 0;
/// A followed change feed is not listening: announcements are being lost.
const FEED_DOWN: i64 = i64::MIN;

/// Where a followed change feed stands, as far as the cache is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedHealth {
    /// No feed is followed (SQLite, or the cache is off): the poll alone keeps the
    /// cache fresh.
    NotFollowed,
    /// Not listening: the cache is not trusted.
    Down,
    /// Listening again, and not yet caught up on what may have been missed: the cache
    /// is not trusted.
    CatchingUp,
    /// Listening, and caught up.
    Up,
}

/// How a byte budget is shared: most of it for keys.
const KEYS_SHARE: u64 = 60;
const MEMBERS_SHARE: u64 = 15;
const ORGS_SHARE: u64 = 25;

impl CheckCache {
    /// Up to `capacity` keys (and as many of each other kind, fewer unknown ids and
    /// admin tokens) within about `memory` bytes in all; changes made elsewhere seen
    /// within `ttl`. A capacity, budget or ttl of zero turns the cache off.
    pub fn new(capacity: usize, memory: u64, ttl: time::Duration) -> Self {
        let ttl_ms = ttl.whole_milliseconds().clamp(0, i64::MAX as i128) as i64;
        let enabled = capacity > 0 && memory > 0 && ttl_ms > 0;
        let items = capacity.max(1);
        let share = |pct: u64| (memory / 100 * pct).max(1);
        CheckCache {
            enabled,
            keys: Cache::with_weighter(items, share(KEYS_SHARE), ByBytes),
            unknown_keys: Cache::new((items / 8).max(1)),
            members: Cache::with_weighter(items, share(MEMBERS_SHARE), ByBytes),
            orgs: Cache::with_weighter(items.min(10_000), share(ORGS_SHARE), ByBytes),
            admin_tokens: Cache::new(items.min(1024)),
            fence: Fence::default(),
            known: KnownIds::default(),
            ttl_ms,
            trusted_until: AtomicI64::new(i64::MIN),
            read_at: AtomicI64::new(i64::MIN),
            cursor: tokio::sync::Mutex::new(None),
            loads: None,
            feed: AtomicI64::new(NO_FEED),
        }
    }

    /// Times every read after a miss (from [`begin`](Self::begin) to the `put_…` that
    /// ends it) into `loads`.
    pub fn timing_loads(mut self, loads: prometheus::Histogram) -> Self {
        self.loads = Some(loads);
        self
    }

    fn loaded(&self, ticket: &Ticket<'_>) {
        if let Some(loads) = &self.loads {
            loads.observe(ticket.elapsed().as_secs_f64());
        }
    }

    pub fn freshness(&self, now: Timestamp) -> Freshness<'_> {
        if !self.enabled || self.feed.load(Ordering::Acquire) < 0 {
            return Freshness::Untrusted;
        }
        if to_millis(now) < self.trusted_until.load(Ordering::Acquire) {
            return Freshness::Trusted;
        }
        match self.cursor.try_lock() {
            Ok(cursor) => Freshness::Due(Refresh {
                cursor,
                started: now,
            }),
            Err(_) => Freshness::Untrusted,
        }
    }

    /// The right to read the change log at `now`, waiting for a read under way; `None`
    /// when a read that began at or after `since` has succeeded (nothing to add).
    pub async fn refresh_since(&self, since: Timestamp, now: Timestamp) -> Option<Refresh<'_>> {
        let since = to_millis(since);
        if self.read_at.load(Ordering::Acquire) >= since {
            return None;
        }
        let cursor = self.cursor.lock().await;
        if self.read_at.load(Ordering::Acquire) >= since {
            return None;
        }
        Some(Refresh {
            cursor,
            started: now,
        })
    }

    /// The right to read the change log at `now`, waiting for a read under way; `None`
    /// when the log was already read up to position `seq`.
    pub async fn refresh_through(&self, seq: Option<i64>, now: Timestamp) -> Option<Refresh<'_>> {
        let cursor = self.cursor.lock().await;
        if matches!((*cursor, seq), (Some(read), Some(seq)) if read >= seq) {
            return None;
        }
        Some(Refresh {
            cursor,
            started: now,
        })
    }

    /// A change feed is followed and is not listening: stop trusting the cache.
    pub fn feed_down(&self) {
        self.feed.store(FEED_DOWN, Ordering::Release);
    }

    /// The followed feed is listening since its connection `epoch` (from 1): the cache
    /// stays untrusted until [`feed_caught_up`](Self::feed_caught_up).
    pub fn feed_listening(&self, epoch: u64) {
        let epoch = epoch.clamp(1, i64::MAX as u64) as i64;
        self.feed.store(-epoch, Ordering::Release);
    }

    /// A read of the change log that began while the feed was listening since
    /// connection `epoch` has been applied: trust the cache again, unless the feed
    /// went down (or reconnected) meanwhile. Whether it did.
    pub fn feed_caught_up(&self, epoch: u64) -> bool {
        let epoch = epoch.clamp(1, i64::MAX as u64) as i64;
        self.feed
            .compare_exchange(-epoch, epoch, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// No change feed is followed any more: the poll alone keeps the cache fresh.
    pub fn feed_unfollowed(&self) {
        self.feed.store(NO_FEED, Ordering::Release);
    }

    /// Where the followed change feed stands.
    pub fn feed_health(&self) -> FeedHealth {
        match self.feed.load(Ordering::Acquire) {
            NO_FEED => FeedHealth::NotFollowed,
            FEED_DOWN => FeedHealth::Down,
            n if n < 0 => FeedHealth::CatchingUp,
            _ => FeedHealth::Up,
        }
    }

    /// The right to read the change log, for something other than a refresh (building
    /// the known ids), waiting for a read under way.
    pub async fn hold_log(&self) -> tokio::sync::MutexGuard<'_, Option<i64>> {
        self.cursor.lock().await
    }

    /// Whether the cache is on at all.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Applies what the change log said since the refresh's cursor, and trusts the
    /// cache until `ttl` after the refresh began.
    pub fn refreshed(&self, mut refresh: Refresh<'_>, read: Changes) {
        let created: Option<Vec<KeyId>> = read.changes.as_ref().map(|changes| {
            changes
                .iter()
                .filter_map(|c| match c {
                    Change::Key(id) => Some(*id),
                    _ => None,
                })
                .collect()
        });
        self.known
            .followed(*refresh.cursor, read.cursor, created.as_deref());
        match read.changes {
            Some(changes) => {
                for change in changes {
                    self.invalidate(match change {
                        Change::Key(id) => Touched::Key(id),
                        Change::Member { org, user } => Touched::Member(org, user),
                        Change::Org(org) => Touched::Org(org),
                        Change::AdminToken(id) => Touched::AdminToken(id),
                    });
                }
            }
            None => self.invalidate(Touched::Everything),
        }
        *refresh.cursor = Some(read.cursor);
        let started = to_millis(refresh.started);
        self.read_at.fetch_max(started, Ordering::AcqRel);
        self.trusted_until
            .fetch_max(started.saturating_add(self.ttl_ms), Ordering::AcqRel);
    }

    /// After a change to `scope` committed, before it is acknowledged.
    pub fn invalidate(&self, scope: Touched) {
        let remove = {
            let scope = scope.clone();
            move || match &scope {
                Touched::Key(id) => {
                    self.keys.remove(id);
                    self.unknown_keys.remove(id);
                    // It may be a key just made here: known from now on.
                    self.known.add(id);
                }
                Touched::Member(Some(org), user) => {
                    self.members.remove(&(org.clone(), user.clone()));
                }
                Touched::Member(None, user) => self.members.retain(|(_, u), _| u != user),
                Touched::Org(org) => {
                    self.orgs.remove(org);
                }
                Touched::AdminToken(id) => {
                    self.admin_tokens.remove(id);
                }
                Touched::Everything => {
                    self.keys.clear();
                    self.unknown_keys.clear();
                    self.members.clear();
                    self.orgs.clear();
                    self.admin_tokens.clear();
                }
            }
        };
        self.fence.invalidate(scope, remove);
    }

    /// Taken by a load before it reads the store.
    pub fn begin(&self) -> Ticket<'_> {
        self.fence.begin()
    }

    /// `Some(None)`: known not to exist; `None`: not cached.
    pub fn key(&self, id: &KeyId) -> Option<Option<Arc<ApiKey>>> {
        match self.keys.get(id) {
            Some(key) => Some(Some(key)),
            None => self.unknown_keys.get(id).map(|()| None),
        }
    }

    pub fn put_key(&self, ticket: Ticket<'_>, id: KeyId, found: &Option<Arc<ApiKey>>) {
        self.loaded(&ticket);
        if !self.enabled {
            return;
        }
        self.fence.admit(ticket, &Touched::Key(id), || match found {
            Some(key) => self.keys.insert(id, key.clone()),
            None => self.unknown_keys.insert(id, ()),
        });
    }

    pub fn member(&self, org: &OrgId, user: &UserId) -> Option<Option<Arc<MemberAccess>>> {
        self.members.get(&(org.clone(), user.clone()))
    }

    pub fn put_member(
        &self,
        ticket: Ticket<'_>,
        org: &OrgId,
        user: &UserId,
        found: &Option<Arc<MemberAccess>>,
    ) {
        self.loaded(&ticket);
        if !self.enabled {
            return;
        }
        let scope = Touched::Member(Some(org.clone()), user.clone());
        self.fence.admit(ticket, &scope, || {
            self.members
                .insert((org.clone(), user.clone()), found.clone())
        });
    }

    pub fn org(&self, org: &OrgId) -> Option<Arc<OrgTargets>> {
        self.orgs.get(org)
    }

    pub fn put_org(&self, ticket: Ticket<'_>, org: &OrgId, targets: &Arc<OrgTargets>) {
        self.loaded(&ticket);
        if !self.enabled {
            return;
        }
        self.fence.admit(ticket, &Touched::Org(org.clone()), || {
            self.orgs.insert(org.clone(), targets.clone())
        });
    }

    pub fn admin_token(&self, id: &KeyId) -> Option<Option<Arc<AdminToken>>> {
        self.admin_tokens.get(id)
    }

    pub fn put_admin_token(&self, ticket: Ticket<'_>, id: KeyId, found: &Option<Arc<AdminToken>>) {
        self.loaded(&ticket);
        if !self.enabled {
            return;
        }
        self.fence.admit(ticket, &Touched::AdminToken(id), || {
            self.admin_tokens.insert(id, found.clone())
        });
    }

    /// Entries held, of every kind.
    pub fn len(&self) -> usize {
        self.keys.len()
            + self.unknown_keys.len()
            + self.members.len()
            + self.orgs.len()
            + self.admin_tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each cache's name, and how many lookups it answered and did not, so far.
    pub fn stats(&self) -> [(&'static str, u64, u64); 5] {
        [
            ("keys", self.keys.hits(), self.keys.misses()),
            (
                "unknown_keys",
                self.unknown_keys.hits(),
                self.unknown_keys.misses(),
            ),
            ("members", self.members.hits(), self.members.misses()),
            ("orgs", self.orgs.hits(), self.orgs.misses()),
            (
                "admin_tokens",
                self.admin_tokens.hits(),
                self.admin_tokens.misses(),
            ),
        ]
    }

    /// The weight held by the byte-bounded caches, and their total budget.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.keys.weight() + self.members.weight() + self.orgs.weight(),
            self.keys.capacity() + self.members.capacity() + self.orgs.capacity(),
        )
    }
}

#[cfg(test)]
mod tests;
