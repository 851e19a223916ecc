//! Step 8's state on this node: each key's rate-limit states (one GCRA arrival time per
//! named limit) and each organization's quota spent this month, in sharded maps so
//! that workers rarely meet. The rule itself is the core's
//! ([`keyward_core::meter::spend`]); this module only keeps its state and a lock
//! around it, so that concurrent checks of one key or organization are decided one
//! after another and N per window means N.
//!
//! Rate-limit states live in memory only: after a restart every key starts with its
//! limits whole. The quota is durable: each organization's count for the month is read
//! from the store at its first check, what is spent after is written in batches (with
//! the keys' last uses, every few seconds and when `keyward serve` stops), and each
//! write reads back the stored total, so spending by other processes on the same
//! database (`keyward check`, other nodes) is counted here within a batch. A count not
//! refreshed for [`RESYNC_AFTER`] (a node that wrote nothing, being idle) is read
//! again before it decides, so no node decides on a count older than about one batch
//! window: across n nodes the quota is exceeded by at most what the other nodes admit
//! in one window (docs/rate-limits-across-nodes.md). A crash forgets at most one batch
//! window of spending.
//!
//! With Redis ([`redis`]), the rate-limit states live there instead, shared by every
//! node, and this module keeps only the quota (and the per-node states it falls back
//! to when Redis fails and the operator chose `redis_unreachable = "open"`).

use ahash::RandomState;
use keyward_core::limits::{RateLimit, Tat};
use keyward_core::meter::{self, Spending, Spent};
use keyward_core::quota::Month;
use keyward_core::{KeyId, OrgId, Timestamp};
use keyward_store::QuotaDelta;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

pub mod redis;

use self::redis::{GlobalLimits, Mode, Unreachable};

const SHARDS: usize = 32;

/// A quota count older than this is read from the store again before it decides:
/// `keyward serve`'s batch window.
pub(crate) const RESYNC_AFTER: time::Duration = time::Duration::seconds(5);

/// One key's limits as last metered and their states.
struct KeyState {
    limits: Vec<RateLimit>,
    tats: Vec<Tat>,
}

/// One organization's quota count for `month`.
struct OrgQuota {
    month: Month,
    /// When `month` ends: computed once.
    resets_at: Timestamp,
    /// Spent this month as known here: stored, plus `pending`.
    used: u64,
    /// Spent here and not yet written (negative after refunds of written spending).
    pending: i64,
    /// When `used` last took in the stored total (read, or read back after a write).
    synced_at: Timestamp,
}

// aHash, not SipHash: these maps are keyed by ids keyward made (random key ids) or
// holds (organizations), never by what a client chose, and SipHash cost more than the
// whole of the GCRA arithmetic per check.
type Map<K, V> = HashMap<K, V, RandomState>;

pub(crate) struct Limiter {
    keys: Vec<Mutex<Map<KeyId, KeyState>>>,
    quotas: Vec<Mutex<Map<OrgId, OrgQuota>>>,
    /// Pending spending of months gone by, still to be written.
    leftover: Mutex<Vec<QuotaDelta>>,
    hasher: RandomState,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter {
            keys: (0..SHARDS).map(|_| Mutex::new(Map::default())).collect(),
            quotas: (0..SHARDS).map(|_| Mutex::new(Map::default())).collect(),
            leftover: Mutex::default(),
            hasher: RandomState::new(),
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these leaves plain numbers behind: carry on.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OrgQuota {
    fn new(month: Month, used: u64, now: Timestamp) -> Self {
        OrgQuota {
            month,
            resets_at: month.next().start(),
            used,
            pending: 0,
            synced_at: now,
        }
    }

    /// Whether this count may decide at `now`: its month, and not older than
    /// [`RESYNC_AFTER`].
    fn current(&self, now: Timestamp) -> bool {
        now < self.resets_at && now - self.synced_at <= RESYNC_AFTER
    }
}

impl Limiter {
    fn shard<'a, K: Hash, V>(&self, shards: &'a [Mutex<V>], k: &K) -> &'a Mutex<V> {
        &shards[(self.hasher.hash_one(k) as usize) % SHARDS]
    }

    /// `org` has `stored` spent in `month` (read from the store at `now`): taken in on
    /// top of what is pending here. A month gone by is put aside to be written.
    pub(crate) fn loaded(&self, org: &OrgId, month: Month, stored: u64, now: Timestamp) {
        let mut map = lock(self.shard(&self.quotas, org));
        match map.get_mut(org) {
            Some(q) if q.month > month => {}
            Some(q) if q.month == month => {
                // A write of this node's may be under way and in `stored` or not: the
                // larger of the two views, and `written` corrects it once it lands.
                q.used = q.used.max(stored.saturating_add_signed(q.pending));
                q.synced_at = now;
            }
            Some(q) => {
                if q.pending != 0 {
                    lock(&self.leftover).push(QuotaDelta {
                        org: org.clone(),
                        month: q.month,
                        delta: q.pending,
                    });
                }
                *q = OrgQuota::new(month, stored, now);
            }
            None => {
                map.insert(org.clone(), OrgQuota::new(month, stored, now));
            }
        }
    }

    /// Step 8 for `key` of `org`: spends `cost` against `limits`, then `quota`, or
    /// nothing. `None` when there is a quota and `org`'s count for the month of `now`
    /// is not known here: the caller reads it from the store, hands it to
    /// [`Limiter::loaded`], and asks again.
    pub(crate) fn spend(
        &self,
        key: KeyId,
        org: &OrgId,
        limits: &[RateLimit],
        quota: Option<u64>,
        cost: u32,
        now: Timestamp,
    ) -> Option<Spending> {
        let mut keys = lock(self.shard(&self.keys, &key));
        let state = keys.entry(key).or_insert_with(|| KeyState {
            limits: limits.to_vec(),
            tats: vec![Tat::default(); limits.len()],
        });
        if state.limits != limits {
            // The key's limits changed: it starts over under the new ones.
            *state = KeyState {
                limits: limits.to_vec(),
                tats: vec![Tat::default(); limits.len()],
            };
        }
        let Some(limit) = quota else {
            return Some(meter::spend(limits, &mut state.tats, None, cost, now));
        };
        let mut quotas = lock(self.shard(&self.quotas, org));
        let q = quotas.get_mut(org)?;
        // Past the month's end (rarely: once a month per organization), the count
        // of the new month is read afresh; so is a count gone stale.
        if !q.current(now) {
            return None;
        }
        let spending = meter::spend(
            limits,
            &mut state.tats,
            Some(meter::Quota {
                limit,
                used: &mut q.used,
                resets_at: q.resets_at,
            }),
            cost,
            now,
        );
        if spending.spent == Spent::Admitted {
            q.pending += i64::from(cost);
        }
        Some(spending)
    }

    /// The quota's part of step 8 alone, for a node whose rate limits are decided in
    /// Redis: spends `cost` of `org`'s quota when it has room (`Admit`, to be given back
    /// with [`Limiter::unspend_quota`] if the rate limits then refuse). `None` as in
    /// [`Limiter::spend`]: the month's count is to be read first.
    pub(crate) fn spend_quota(
        &self,
        org: &OrgId,
        limit: u64,
        cost: u32,
        now: Timestamp,
    ) -> Option<keyward_core::quota::Decision> {
        let mut quotas = lock(self.shard(&self.quotas, org));
        let q = quotas.get_mut(org)?;
        if !q.current(now) {
            return None;
        }
        let decision = keyward_core::quota::decide(limit, q.used, u64::from(cost), q.resets_at);
        if let keyward_core::quota::Decision::Admit(standing) = decision {
            q.used = standing.used;
            q.pending += i64::from(cost);
        }
        Some(decision)
    }

    /// Gives back quota spent by [`Limiter::spend_quota`] for a request then refused.
    pub(crate) fn unspend_quota(&self, org: &OrgId, cost: u32, now: Timestamp) {
        if let Some(q) = lock(self.shard(&self.quotas, org)).get_mut(org) {
            if q.month == Month::of(now) {
                q.used = q.used.saturating_sub(u64::from(cost));
                q.pending -= i64::from(cost);
            }
        }
    }

    /// Gives back what an admitted request of `cost` spent, when what it asked for
    /// was then refused for another reason (a 403 on the management API).
    pub(crate) fn refund(
        &self,
        key: KeyId,
        org: &OrgId,
        limits: &[RateLimit],
        quota: bool,
        cost: u32,
        now: Timestamp,
    ) {
        if let Some(state) = lock(self.shard(&self.keys, &key)).get_mut(&key) {
            if state.limits == limits {
                for (tat, limit) in state.tats.iter_mut().zip(limits) {
                    let back = (limit.period / limit.limit).whole_nanoseconds() * i128::from(cost);
                    tat.0 = (tat.0 - back).max(0);
                }
            }
        }
        if quota {
            self.unspend_quota(org, cost, now);
        }
    }

    /// The spending not yet written, taken to be written.
    pub(crate) fn take_pending(&self) -> Vec<QuotaDelta> {
        let mut out = std::mem::take(&mut *lock(&self.leftover));
        for shard in &self.quotas {
            for (org, q) in lock(shard).iter_mut() {
                if q.pending != 0 {
                    out.push(QuotaDelta {
                        org: org.clone(),
                        month: q.month,
                        delta: std::mem::take(&mut q.pending),
                    });
                }
            }
        }
        out
    }

    /// A batch was written: `totals` are the stored counts after it, for its months.
    /// What was spent here since the batch was taken stays pending on top.
    pub(crate) fn written(&self, totals: &[(OrgId, Month, u64)], now: Timestamp) {
        for (org, month, total) in totals {
            let mut map = lock(self.shard(&self.quotas, org));
            if let Some(q) = map.get_mut(org) {
                if q.month == *month {
                    q.used = total.saturating_add_signed(q.pending);
                    q.synced_at = now;
                }
            }
        }
    }

    /// A batch could not be written: put it back, to be written next time.
    pub(crate) fn unwritten(&self, batch: Vec<QuotaDelta>) {
        for d in batch {
            let mut map = lock(self.shard(&self.quotas, &d.org));
            match map.get_mut(&d.org) {
                Some(q) if q.month == d.month => q.pending += d.delta,
                _ => lock(&self.leftover).push(d),
            }
        }
    }

    /// Forgets what no longer matters: keys whose limits are whole again (a fresh
    /// state is the same), and organizations' months gone by with nothing pending.
    pub(crate) fn prune(&self, now: Timestamp) {
        let clock = meter::clock(now).whole_nanoseconds();
        for shard in &self.keys {
            lock(shard).retain(|_, s| s.tats.iter().any(|t| t.0 > clock));
        }
        let month = Month::of(now);
        for shard in &self.quotas {
            lock(shard).retain(|_, q| q.month == month || q.pending != 0);
        }
    }

    /// `org`'s count for `month` as known here, if it is.
    pub(crate) fn used_here(&self, org: &OrgId, month: Month) -> Option<u64> {
        lock(self.shard(&self.quotas, org))
            .get(org)
            .filter(|q| q.month == month)
            .map(|q| q.used)
    }

    /// How many keys have rate-limit state here.
    #[cfg(test)]
    pub(crate) fn keys_held(&self) -> usize {
        self.keys.iter().map(|s| lock(s).len()).sum()
    }
}

fn lost_count() -> crate::AppError {
    crate::AppError::Storage(keyward_store::StoreError::Backend(
        "the quota's count could not be kept".into(),
    ))
}

impl crate::Keyward {
    /// Writes the quota spending noted since the last flush and reads back the stored
    /// totals; how many organizations it wrote. On failure the spending is put back,
    /// to be written next time.
    pub async fn flush_quota(&self) -> crate::AppResult<usize> {
        let batch = self.limiter.take_pending();
        if batch.is_empty() {
            return Ok(0);
        }
        match self.store.add_quota_usage(&batch).await {
            Ok(totals) => {
                let totals: Vec<(OrgId, Month, u64)> = batch
                    .iter()
                    .zip(totals)
                    .map(|(d, t)| (d.org.clone(), d.month, t))
                    .collect();
                self.limiter.written(&totals, self.now());
                Ok(batch.len())
            }
            Err(e) => {
                self.limiter.unwritten(batch);
                Err(e.into())
            }
        }
    }

    /// Step 8 for the check's lookups: reads `org`'s count for the month once, then
    /// decides in memory, or, with Redis, the rate limits there and the quota here.
    pub(crate) async fn spend(
        &self,
        key: &keyward_core::ApiKey,
        limits: &[RateLimit],
        quota: Option<u64>,
        cost: u32,
        now: Timestamp,
    ) -> crate::AppResult<Spending> {
        if let (Some(global), false) = (&self.global, limits.is_empty()) {
            if let Some(spent) = self
                .spend_globally(global, key, limits, quota, cost, now)
                .await?
            {
                return Ok(spent);
            }
        }
        let limiter = &self.limiter;
        if let Some(spent) = limiter.spend(key.id, &key.org_id, limits, quota, cost, now) {
            return Ok(spent);
        }
        // The organization's first check this month here: its count, then again.
        self.load_quota(&key.org_id, now).await?;
        limiter
            .spend(key.id, &key.org_id, limits, quota, cost, now)
            .ok_or_else(lost_count)
    }

    async fn load_quota(&self, org: &OrgId, now: Timestamp) -> crate::AppResult<()> {
        let month = Month::of(now);
        let stored = self.store.quota_used(org, month).await?;
        self.limiter.loaded(org, month, stored, now);
        Ok(())
    }

    /// Step 8 with the rate limits in Redis, as [`meter::spend`] decides it on one
    /// node: the quota is spent here first when it has room (and given back if the
    /// limits refuse), so that a refusal by either spends on neither; when the quota has
    /// no room, Redis is only asked where the limits stand, since a refusal by the rate
    /// limits comes first. `None`: Redis failed and the operator chose `open`, so the
    /// caller decides on this node's own limits.
    async fn spend_globally(
        &self,
        global: &GlobalLimits,
        key: &keyward_core::ApiKey,
        limits: &[RateLimit],
        quota: Option<u64>,
        cost: u32,
        now: Timestamp,
    ) -> crate::AppResult<Option<Spending>> {
        let org = &key.org_id;
        let quota = match quota {
            None => None,
            Some(limit) => Some(match self.limiter.spend_quota(org, limit, cost, now) {
                Some(decided) => decided,
                None => {
                    self.load_quota(org, now).await?;
                    self.limiter
                        .spend_quota(org, limit, cost, now)
                        .ok_or_else(lost_count)?
                }
            }),
        };
        use keyward_core::quota::Decision;
        let mode = match quota {
            Some(Decision::Refuse { .. }) => Mode::Peek,
            _ => Mode::Spend,
        };
        let reserved = matches!(quota, Some(Decision::Admit(_)));
        let decision = match global.decide(&key.id, limits, mode, cost, None).await {
            Ok(decision) => decision,
            Err(_) => {
                if reserved {
                    self.limiter.unspend_quota(org, cost, now);
                }
                return match global.unreachable() {
                    Unreachable::Open => Ok(None),
                    Unreachable::Closed => Err(crate::AppError::LimiterUnavailable),
                };
            }
        };
        if !decision.admitted {
            if reserved {
                self.limiter.unspend_quota(org, cost, now);
            }
            return Ok(Some(Spending {
                spent: Spent::RateLimited,
                standing: decision.standing,
                quota: None,
                retry_after: decision.retry_after,
            }));
        }
        Ok(Some(match quota {
            Some(Decision::Refuse { standing, never }) => Spending {
                spent: Spent::QuotaExceeded,
                standing: decision.standing,
                quota: Some(standing),
                retry_after: (!never).then(|| standing.reset(now)),
            },
            Some(Decision::Admit(standing)) => Spending {
                spent: Spent::Admitted,
                standing: decision.standing,
                quota: Some(standing),
                retry_after: None,
            },
            None => Spending {
                spent: Spent::Admitted,
                standing: decision.standing,
                quota: None,
                retry_after: None,
            },
        }))
    }

    /// Whether the rate limiter's Redis answers: `None` without Redis. For `/readyz`.
    pub async fn redis_ping(&self) -> Option<(Unreachable, Result<(), redis::Failure>)> {
        let global = self.global.as_ref()?;
        Some((global.unreachable(), global.ping().await))
    }

    /// Gives back what `verdict` spent: for a request admitted by the check and then
    /// refused by the operation's own permission (the management API's 403), which
    /// must not use up the caller's limits.
    pub async fn refund(&self, verdict: &keyward_core::Verdict, cost: u32) {
        let (Some(key), Some(metered), Some(limits)) = (
            verdict.key.as_deref(),
            verdict.metered.as_deref(),
            verdict.rate_limits(),
        ) else {
            return;
        };
        if metered.spending.spent != Spent::Admitted {
            return;
        }
        let now = self.now();
        let quota = metered.spending.quota.is_some();
        if let (Some(global), false) = (&self.global, limits.is_empty()) {
            // Given back in Redis. Should Redis fail now (logged as any failure), the
            // request stays spent there: a refund is a courtesy, not a guarantee.
            let _ = global
                .decide(&key.id, limits, Mode::Refund, cost, None)
                .await;
            if quota {
                self.limiter.unspend_quota(&key.org_id, cost, now);
            }
            return;
        }
        self.limiter
            .refund(key.id, &key.org_id, limits, quota, cost, now);
    }

    /// Where `org`'s monthly quota stands now, if its plan has one: the stored count
    /// plus what this node spent since its last write.
    pub async fn quota_standing(
        &self,
        who: &crate::Principal,
        org: &OrgId,
    ) -> crate::AppResult<Option<keyward_core::quota::QuotaStanding>> {
        let found = self.org(who, org.as_str()).await?;
        let plan = self.plan_of(&found.id).await?;
        let Some(limit) = plan.monthly_quota else {
            return Ok(None);
        };
        let now = self.now();
        let month = Month::of(now);
        let stored = self.store.quota_used(&found.id, month).await?;
        let used = self.limiter.used_here(&found.id, month).unwrap_or(stored);
        let used = used.max(stored);
        Ok(Some(keyward_core::quota::QuotaStanding {
            limit,
            used,
            remaining: limit.saturating_sub(used),
            resets_at: month.next().start(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    fn org() -> OrgId {
        OrgId::generate(&mut rand_core::OsRng)
    }

    fn key() -> KeyId {
        KeyId::generate(&mut rand_core::OsRng)
    }

    #[test]
    fn concurrent_spending_admits_exactly_the_limit() {
        let limiter = std::sync::Arc::new(Limiter::default());
        let (k, o) = (key(), org());
        let limits = vec![RateLimit::per("default", 100, Duration::MINUTE)];
        let now = datetime!(2026-12-02 12:00 UTC);
        limiter.loaded(&o, Month::of(now), 0, now);
        let admitted: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (limiter, o, limits) = (limiter.clone(), o.clone(), limits.clone());
                    s.spawn(move || {
                        (0..50)
                            .filter(|_| {
                                limiter
                                    .spend(k, &o, &limits, Some(1_000), 1, now)
                                    .unwrap()
                                    .spent
                                    == Spent::Admitted
                            })
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(admitted, 100);
        let pending = limiter.take_pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            pending[0].delta, 100,
            "exactly what was admitted is written"
        );
    }

    #[test]
    fn spending_is_written_once_and_a_failed_write_is_kept() {
        let limiter = Limiter::default();
        let (k, o) = (key(), org());
        let now = datetime!(2026-12-31 23:59:59 UTC);
        limiter.loaded(&o, Month::of(now), 40, now);
        for _ in 0..3 {
            limiter.spend(k, &o, &[], Some(50), 2, now).unwrap();
        }
        let batch = limiter.take_pending();
        assert_eq!(batch[0].delta, 6);
        assert!(limiter.take_pending().is_empty(), "taken once");
        limiter.unwritten(batch);
        let batch = limiter.take_pending();
        assert_eq!(batch[0].delta, 6, "put back after a failed write");
        // Another process spent 4 meanwhile: the stored total says so.
        limiter.written(&[(o.clone(), Month::of(now), 50)], now);
        assert_eq!(
            limiter.spend(k, &o, &[], Some(50), 1, now).unwrap().spent,
            Spent::QuotaExceeded
        );
        // The month turns: the count starts over.
        let january = now + Duration::seconds(1);
        assert_eq!(
            limiter.spend(k, &o, &[], Some(50), 1, january),
            None,
            "the new month's count is read first"
        );
        limiter.loaded(&o, Month::of(january), 0, january);
        assert_eq!(
            limiter
                .spend(k, &o, &[], Some(50), 1, january)
                .unwrap()
                .spent,
            Spent::Admitted
        );
    }

    #[test]
    fn a_refund_gives_back_the_limit_and_the_quota() {
        let limiter = Limiter::default();
        let (k, o) = (key(), org());
        let limits = [RateLimit::per("default", 1, Duration::HOUR)];
        let now = datetime!(2026-12-02 12:00 UTC);
        limiter.loaded(&o, Month::of(now), 0, now);
        assert_eq!(
            limiter
                .spend(k, &o, &limits, Some(1), 1, now)
                .unwrap()
                .spent,
            Spent::Admitted
        );
        limiter.refund(k, &o, &limits, true, 1, now);
        assert_eq!(
            limiter
                .spend(k, &o, &limits, Some(1), 1, now)
                .unwrap()
                .spent,
            Spent::Admitted
        );
        assert_eq!(limiter.take_pending()[0].delta, 1);
    }

    #[test]
    fn whole_limits_and_old_months_are_forgotten() {
        let limiter = Limiter::default();
        let o = org();
        let limits = [RateLimit::per("default", 10, Duration::SECOND)];
        let now = datetime!(2026-12-02 12:00 UTC);
        for _ in 0..100 {
            limiter.spend(key(), &o, &limits, None, 1, now);
        }
        assert_eq!(limiter.keys_held(), 100);
        limiter.prune(now);
        assert_eq!(limiter.keys_held(), 100, "still refilling");
        limiter.prune(now + Duration::SECOND);
        assert_eq!(limiter.keys_held(), 0);
    }

    #[test]
    fn a_key_whose_limits_change_starts_over() {
        let limiter = Limiter::default();
        let (k, o) = (key(), org());
        let now = datetime!(2026-12-02 12:00 UTC);
        let one = [RateLimit::per("default", 1, Duration::HOUR)];
        let two = [RateLimit::per("default", 2, Duration::HOUR)];
        assert_eq!(
            limiter.spend(k, &o, &one, None, 1, now).unwrap().spent,
            Spent::Admitted
        );
        assert_eq!(
            limiter.spend(k, &o, &one, None, 1, now).unwrap().spent,
            Spent::RateLimited
        );
        assert_eq!(
            limiter.spend(k, &o, &two, None, 1, now).unwrap().spent,
            Spent::Admitted
        );
    }
}
