//! The check as a use case: `keyward_core::check` decides; this module only fetches
//! what it asks for, from the cache when the cache may be trusted, from the store
//! otherwise, and puts what it read into the cache behind the fence that keeps a read
//! taken before a change from outliving that change.

use crate::cache::{Freshness, OrgTargets};
use crate::error::{AppError, AppResult};
use crate::{Keyward, Principal};
use keyward_core::check::{self, Context, Lookup, ResolvedTarget};
use keyward_core::{
    ApiKey, Asked, KeyId, MemberAccess, OrgId, Presented, Timestamp, UserId, Verdict,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The longest a read of the change log may take before the cache gives up on it for
/// this check and reads the store directly; the next check tries again.
const CHANGE_LOG_READ_LIMIT: Duration = Duration::from_secs(2);

/// The check's lookups, for one check at `now`.
struct Fetch<'a> {
    app: &'a Keyward,
    now: Timestamp,
}

impl Lookup for Fetch<'_> {
    type Error = AppError;

    async fn key(&self, id: KeyId) -> AppResult<Option<Arc<ApiKey>>> {
        let cache = &self.app.cache;
        if self.app.fresh(self.now).await {
            if let Some(hit) = cache.key(&id) {
                return Ok(hit);
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

    async fn target(
        &self,
        org: &OrgId,
        project: &str,
        environment: &str,
    ) -> AppResult<Option<Arc<ResolvedTarget>>> {
        {
            let cache = &self.app.cache;
            let cached = match self.app.fresh(self.now).await {
                true => cache.org(org),
                false => None,
            };
            let targets = match cached {
                Some(hit) => hit,
                None => {
                    let ticket = cache.begin();
                    let tree = self.app.store.project_tree(org).await?;
                    let targets = Arc::new(OrgTargets::new(tree));
                    cache.put_org(ticket, org, &targets);
                    targets
                }
            };
            Ok(targets.find(project, environment))
        }
    }
}

impl Keyward {
    /// Whether the cache may answer now: reads the store's change log when the cache's
    /// trust has run out (once per `cache_ttl`), dropping what changed elsewhere. A
    /// read that fails or hangs only sends this check to the store.
    pub(crate) async fn fresh(&self, now: Timestamp) -> bool {
        let refresh = match self.cache.freshness(now) {
            Freshness::Trusted => return true,
            Freshness::Untrusted => return false,
            Freshness::Due(refresh) => refresh,
        };
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
        let now = self.now();
        let ctx = Context {
            now,
            prefixes: &self.settings.prefixes,
            peppers: &self.settings.peppers,
            catalog: &self.settings.catalog,
        };
        let verdict = check::check(&Fetch { app: self, now }, presented, asked, &ctx).await?;
        if let (true, Some(key)) = (verdict.outcome.is_valid(), &verdict.key) {
            self.usage.note(key.id, now, from);
        }
        Ok(verdict)
    }

    /// The caller a request's key stands for (steps 1 to 5 of the check), or the
    /// verdict that refuses it. Permission is asked later, per operation.
    pub async fn caller(
        &self,
        presented: Presented<'_>,
        from: Option<IpAddr>,
    ) -> AppResult<Result<Principal, Verdict>> {
        let verdict = self.check_from(presented, &Asked::Identity, from).await?;
        Ok(match (&verdict.key, &verdict.bound) {
            (Some(key), Some(bound)) if verdict.outcome.is_valid() => {
                Ok(Principal::key(key.clone(), bound.clone()))
            }
            _ => Err(verdict),
        })
    }
}
