//! The check as a use case: pick the credential, parse it, look the key up, resolve the
//! project and environment the request is about within the key's own organization,
//! and let `keyward_core::check` decide.

use crate::cache::{CachedKey, Found};
use crate::error::AppResult;
use crate::{Keyward, Principal};
use keyward_core::check::{self, Context, Decision, Denial, Outcome, Target};
use keyward_core::key::MalformedKey;
use keyward_core::{ApiKey, Bound, EnvRef, KeyId, Level, OrgId, ProjectRef, Resource, Timestamp};
use std::sync::Arc;

/// What a request wants to do, as its caller names it.
#[derive(Debug, Clone)]
pub enum CheckRequest {
    Project {
        /// A project name or id.
        project: String,
        /// An environment name.
        environment: String,
        resource: Option<Resource>,
        level: Level,
    },
    Organization {
        level: Level,
    },
}

#[derive(Debug, Clone)]
pub struct CheckResult {
    pub outcome: Outcome,
    /// The key, for every outcome from `revoked` on (its secret matched).
    pub key: Option<Arc<CachedKey>>,
    pub denial: Option<Denial>,
    /// Why the key was `malformed`, when it was.
    pub malformed: Option<MalformedKey>,
}

impl CheckResult {
    /// What to tell the person behind the request: the denial, why the key is
    /// malformed, or the outcome's explanation.
    pub fn detail(&self) -> std::borrow::Cow<'_, str> {
        match (&self.denial, &self.malformed) {
            (Some(d), _) => d.message.as_str().into(),
            (None, Some(m)) => format!("{m}.").into(),
            _ => self.outcome.explanation().into(),
        }
    }

    fn early(outcome: Outcome, malformed: Option<MalformedKey>) -> Self {
        CheckResult {
            outcome,
            key: None,
            denial: None,
            malformed,
        }
    }
}

impl Keyward {
    /// Steps 1 to 4 of the check: the credential, its shape, the key it names and
    /// whether it is usable now. `Err` holds the finished answer when one of them fails.
    async fn identify<'a>(
        &self,
        credentials: impl IntoIterator<Item = &'a str>,
        now: Timestamp,
    ) -> AppResult<Result<Arc<CachedKey>, CheckResult>> {
        let text = match check::credential(credentials) {
            Ok(text) => text,
            Err(outcome) => return Ok(Err(CheckResult::early(outcome, None))),
        };
        let parsed = match check::parse(text, &self.settings.prefix) {
            Ok(p) => p,
            Err((outcome, why)) => return Ok(Err(CheckResult::early(outcome, Some(why)))),
        };
        let cached = self.lookup(&parsed.id, now).await?;
        let stored = cached.as_ref().map(|c| &c.key);
        if let Err(outcome) = check::authenticate(&parsed, stored, &self.settings.peppers, now) {
            return Ok(Err(CheckResult {
                outcome,
                key: cached.filter(|_| outcome != Outcome::Unknown),
                denial: None,
                malformed: None,
            }));
        }
        Ok(cached.ok_or_else(|| CheckResult::early(Outcome::Unknown, None)))
    }

    /// Identifies the key a request carries (steps 1 to 4 of the check), for requests
    /// where the key is the caller. Permission is asked later, per operation.
    pub async fn authenticate_key<'a>(
        &self,
        credentials: impl IntoIterator<Item = &'a str>,
    ) -> AppResult<Result<Principal, CheckResult>> {
        Ok(self
            .identify(credentials, self.now())
            .await?
            .map(|c| Principal::Key(Box::new(c.key.clone()), c.bound.clone())))
    }

    /// Reads the store's change counter when the cache's trust in it has run out (once
    /// per `cache_ttl`), dropping the cache if anything changed.
    pub(crate) async fn revalidate(&self, now: Timestamp) -> AppResult<()> {
        if !self.cache.due(now) {
            return Ok(());
        }
        match self.store.change_counter().await {
            Ok(counter) => {
                self.cache.revalidated(counter, now);
                Ok(())
            }
            Err(e) => {
                self.cache.revalidation_failed();
                Err(e.into())
            }
        }
    }

    /// The key with this id and whom it answers to, from the cache when it is there.
    async fn lookup(&self, id: &KeyId, now: Timestamp) -> AppResult<Option<Arc<CachedKey>>> {
        self.revalidate(now).await?;
        if let Some(hit) = self.cache.key(id, now) {
            return Ok(hit);
        }
        let value = match self.store.key(id).await? {
            Some(key) => {
                let bound = self.bound(&key).await?;
                Some(Arc::new(CachedKey { key, bound }))
            }
            None => None,
        };
        self.cache.put_key(*id, value.clone(), now);
        Ok(value)
    }

    /// Checks the credentials a request carried (every header value that may hold a
    /// key) against what it wants to do. With the key cached, this touches no store.
    pub async fn check<'a>(
        &self,
        credentials: impl IntoIterator<Item = &'a str>,
        request: &CheckRequest,
    ) -> AppResult<CheckResult> {
        let now = self.now();
        let cached = match self.identify(credentials, now).await? {
            Ok(cached) => cached,
            Err(answer) => return Ok(answer),
        };
        // Only a key whose secret matched gets this far, so a wrong secret cannot
        // probe which project names exist.
        let target = match request {
            CheckRequest::Organization { level } => Target::Organization { level: *level },
            CheckRequest::Project {
                project,
                environment,
                resource,
                level,
            } => Target::Project {
                found: self
                    .resolve_target(&cached.key.org_id, project, environment, now)
                    .await?,
                project,
                environment,
                resource: resource.as_ref(),
                level: *level,
            },
        };
        let ctx = Context {
            now,
            catalog: &self.settings.catalog,
            bound: &cached.bound,
        };
        let Decision { outcome, denial } = check::judge(&cached.key, &target, ctx);
        Ok(CheckResult {
            outcome,
            key: Some(cached),
            denial,
            malformed: None,
        })
    }

    /// Whom `key` answers to now: nobody for a service key, its creator's current
    /// access (read at every check) for a user-bound one.
    pub async fn bound(&self, key: &ApiKey) -> AppResult<Bound> {
        Ok(match &key.owner {
            None => Bound::Service,
            Some(user) => Bound::User(self.store.member_access(&key.org_id, user).await?),
        })
    }

    /// The project and environment named, looked up only inside the key's organization:
    /// a project of another organization is as good as nonexistent.
    async fn resolve_target(
        &self,
        org: &OrgId,
        project: &str,
        environment: &str,
        now: Timestamp,
    ) -> AppResult<Found> {
        let (project, environment) = (project.trim(), environment.trim());
        if let Some(hit) = self.cache.target(org, project, environment, now) {
            return Ok(hit);
        }
        let found = match self.store.find_project(org, project).await? {
            None => None,
            Some(p) => {
                let envs = self.store.list_environments(&p.id).await?;
                envs.into_iter()
                    .find(|e| e.name.as_str() == environment)
                    .map(|e| {
                        Arc::new((
                            ProjectRef {
                                id: p.id,
                                org_id: p.org_id,
                                name: p.name.to_string(),
                            },
                            EnvRef {
                                name: e.name,
                                kind: e.kind,
                            },
                        ))
                    })
            }
        };
        self.cache.put_target(
            org.clone(),
            project.to_owned(),
            environment.to_owned(),
            found.clone(),
            now,
        );
        Ok(found)
    }
}
