//! The check as a use case: `keyward_core::check` decides; this module only fetches
//! what it asks for, from the cache when the cache may be trusted, from the store
//! otherwise, and puts what it read into the cache behind the fence that keeps a read
//! taken before a change from outliving that change.

use crate::cache::{Freshness, OrgTargets, Refresh};
use crate::error::{AppError, AppResult};
use crate::{Keyward, Principal};
use keyward_core::check::{self, Context, Lookup, ResolvedTarget, Spending};
use keyward_core::limits::RateLimit;
use keyward_core::{
    ApiKey, Asked, KeyId, MemberAccess, OrgId, Plan, Presented, Timestamp, UserId, Verdict,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The longest a read of the change log may take before the cache gives up on it for
/// this check and reads the store directly; the next check tries again.
const CHANGE_LOG_READ_LIMIT: Duration = Duration::from_secs(2);

/// A key id missing from the known ids is answered `unknown` only once the change log
/// was read this recently: a key made elsewhere a moment ago is seen, and a flood of
/// made-up ids costs at most one read of the log per this interval.
const MISS_RECHECK: time::Duration = time::Duration::milliseconds(5);

/// The check's lookups, for one check at `now`.
struct Fetch<'a> {
    app: &'a Keyward,
    now: Timestamp,
}

impl Fetch<'_> {
    /// The organization as the check needs it: its plan, projects and environments.
    async fn organization(&self, org: &OrgId) -> AppResult<Arc<OrgTargets>> {
        let cache = &self.app.cache;
        if self.app.fresh(self.now).await {
            if let Some(hit) = cache.org(org) {
                return Ok(hit);
            }
        }
        let ticket = cache.begin();
        let plan = self.app.store.find_org(org.as_str()).await?.map(|o| o.plan);
        let tree = self.app.store.project_tree(org).await?;
        let entry = Arc::new(OrgTargets::new(plan, tree));
        cache.put_org(ticket, org, &entry);
        Ok(entry)
    }
}

impl Lookup for Fetch<'_> {
    type Error = AppError;

    async fn key(&self, id: KeyId) -> AppResult<Option<Arc<ApiKey>>> {
        let cache = &self.app.cache;
        if self.app.fresh(self.now).await {
            if let Some(hit) = cache.key(&id) {
                return Ok(hit);
            }
            if cache.known.may_exist(&id) == Some(false) {
                if let Some(refresh) = cache.refresh_since(self.now - MISS_RECHECK, self.now).await
                {
                    self.app.read_changes(refresh).await;
                }
                if cache.known.may_exist(&id) == Some(false) {
                    return Ok(None);
                }
            }
        }
        let ticket = cache.begin();
        let found = self.app.store.key(&id).await?.map(Arc::new);
        cache.put_key(ticket, id, &found);
        Ok(found)
    }

    async fn member(&self, org: &OrgId, user: &UserId) -> AppResult<Option<Arc<MemberAccess>>> {
        let cache = &self.app.cache;
        if self.app.fresh(self.now).await {
            if let Some(hit) = cache.member(org, user) {
                return Ok(hit);
            }
        }
        let ticket = cache.begin();
        let found = self.app.store.member_access(org, user).await?.map(Arc::new);
        cache.put_member(ticket, org, user, &found);
        Ok(found)
    }

    async fn plan(&self, org: &OrgId) -> AppResult<Option<Arc<Plan>>> {
        let entry = self.organization(org).await?;
        Ok(entry
            .plan
            .as_deref()
            .and_then(|name| self.app.settings.plans.get(name))
            .cloned())
    }

    async fn target(
        &self,
        org: &OrgId,
        project: &str,
        environment: &str,
    ) -> AppResult<Option<Arc<ResolvedTarget>>> {
        Ok(self.organization(org).await?.find(project, environment))
    }

    async fn spend(
        &self,
        key: &ApiKey,
        limits: &[RateLimit],
        quota: Option<u64>,
        cost: u32,
        now: Timestamp,
    ) -> AppResult<Spending> {
        self.app.spend(key, limits, quota, cost, now).await
    }
}

impl Keyward {
    /// Whether the cache may answer now: reads the store's change log when the cache's
    /// trust has run out (once per `cache_ttl`), dropping what changed elsewhere. A
    /// read that fails or hangs only sends this check to the store.
    pub(crate) async fn fresh(&self, now: Timestamp) -> bool {
        match self.cache.freshness(now) {
            Freshness::Trusted => true,
            Freshness::Untrusted => false,
            Freshness::Due(refresh) => self.read_changes(refresh).await,
        }
    }

    /// Reads the change log from where `refresh` says and drops what changed; false
    /// when the read failed or took too long (the cache then stays untrusted).
    pub(crate) async fn read_changes(&self, refresh: Refresh<'_>) -> bool {
        let read = tokio::time::timeout(
            CHANGE_LOG_READ_LIMIT,
            self.store.changes_since(refresh.cursor()),
        )
        .await;
        match read {
            Ok(Ok(changes)) => {
                self.cache.refreshed(refresh, changes);
                true
            }
            // The cache stays untrusted; the check reads the store, which reports its
            // own failure if it is down.
            Ok(Err(_)) | Err(_) => false,
        }
    }

    /// Checks what a request presented against what it asks. With the key cached,
    /// this touches no store.
    pub async fn check(&self, presented: Presented<'_>, asked: &Asked) -> AppResult<Verdict> {
        self.check_from(presented, asked, None).await
    }

    /// [`check`](Self::check) for a request from `from`: a valid key's use is noted,
    /// with the address, for its "last used".
    pub async fn check_from(
        &self,
        presented: Presented<'_>,
        asked: &Asked,
        from: Option<IpAddr>,
    ) -> AppResult<Verdict> {
        self.check_costing(presented, asked, from, 1).await
    }

    /// [`check_from`](Self::check_from) for a request that costs `cost` against the
    /// key's rate limits and its organization's quota (0: spends nothing).
    pub async fn check_costing(
        &self,
        presented: Presented<'_>,
        asked: &Asked,
        from: Option<IpAddr>,
        cost: u32,
    ) -> AppResult<Verdict> {
        let now = self.now();
        let ctx = Context {
            now,
            from,
            cost,
            prefixes: &self.settings.prefixes,
            peppers: &self.settings.peppers,
            catalog: &self.settings.catalog,
        };
        let verdict = check::check(&Fetch { app: self, now }, presented, asked, &ctx).await?;
        self.counted(&verdict, now, from);
        Ok(verdict)
    }

    /// The caller a request's key stands for (steps 1 to 5 of the check, then the
    /// key's limits), with the verdict; no caller when the verdict refuses it.
    /// Permission is asked later, per operation.
    pub async fn caller(
        &self,
        presented: Presented<'_>,
        from: Option<IpAddr>,
    ) -> AppResult<(Verdict, Option<Principal>)> {
        let verdict = self.check_from(presented, &Asked::Identity, from).await?;
        let principal = match (&verdict.key, &verdict.bound) {
            (Some(key), Some(bound)) if verdict.outcome.is_valid() => {
                Some(Principal::key(key.clone(), bound.clone()))
            }
            _ => None,
        };
        Ok((verdict, principal))
    }
}

impl Keyward {
    /// Builds (or rebuilds) the filter of key ids that exist, so that made-up keys are
    /// answered without a store read: the change log position first, then every id,
    /// then, holding the right to read the log, what changed since that position.
    /// `keyward serve` calls it at start and whenever the filter stepped aside.
    pub async fn build_known_ids(&self) -> AppResult<usize> {
        if !self.cache.enabled() {
            return Ok(0);
        }
        let start = self.store.changes_since(None).await?.cursor;
        let ids = self.store.key_ids().await?;
        // No other read of the log may apply changes to the filter between its install
        // and its catch-up.
        let _reading = self.cache.hold_log().await;
        self.cache.known.install(&ids, start);
        let since = self.store.changes_since(Some(start)).await?;
        let created: Option<Vec<KeyId>> = since.changes.as_ref().map(|changes| {
            changes
                .iter()
                .filter_map(|c| match c {
                    keyward_store::Change::Key(id) => Some(*id),
                    _ => None,
                })
                .collect()
        });
        self.cache
            .known
            .followed(Some(start), since.cursor, created.as_deref());
        Ok(ids.len())
    }
}
