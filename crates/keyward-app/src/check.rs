//! The check as a use case: pick the credential, parse it, look the key up, resolve the
//! project and environment the request is about within the key's own organization,
//! and let `keyward_core::check` decide.

use crate::error::AppResult;
use crate::Keyward;
use keyward_core::check::{self, Context, Decision, Denial, Outcome, Target};
use keyward_core::key::MalformedKey;
use keyward_core::{ApiKey, Bound, EnvRef, Level, ProjectRef, Resource};

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
    pub key: Option<ApiKey>,
    pub denial: Option<Denial>,
    /// Why the key was `malformed`, when it was.
    pub malformed: Option<MalformedKey>,
}

impl CheckResult {
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
    /// Identifies the key a request carries (steps 1 to 4 of the check), for requests
    /// where the key is the caller. Permission is asked later, per operation.
    pub async fn authenticate_key<'a>(
        &self,
        credentials: impl IntoIterator<Item = &'a str>,
    ) -> AppResult<Result<ApiKey, CheckResult>> {
        let text = match check::credential(credentials) {
            Ok(text) => text,
            Err(outcome) => return Ok(Err(CheckResult::early(outcome, None))),
        };
        let parsed = match check::parse(text, &self.settings.prefix) {
            Ok(p) => p,
            Err((outcome, why)) => return Ok(Err(CheckResult::early(outcome, Some(why)))),
        };
        let stored = self.store.key(&parsed.id).await?;
        match check::authenticate(&parsed, stored.as_ref(), &self.settings.peppers, self.now()) {
            Ok(key) => Ok(Ok(key.clone())),
            Err(outcome) => Ok(Err(CheckResult::early(outcome, None))),
        }
    }

    /// Checks the credentials a request carried (every header value that may hold a
    /// key) against what it wants to do.
    pub async fn check<'a>(
        &self,
        credentials: impl IntoIterator<Item = &'a str>,
        request: &CheckRequest,
    ) -> AppResult<CheckResult> {
        let text = match check::credential(credentials) {
            Ok(text) => text,
            Err(outcome) => return Ok(CheckResult::early(outcome, None)),
        };
        let parsed = match check::parse(text, &self.settings.prefix) {
            Ok(p) => p,
            Err((outcome, why)) => return Ok(CheckResult::early(outcome, Some(why))),
        };
        let stored = self.store.key(&parsed.id).await?;
        let target = match (request, &stored) {
            (CheckRequest::Organization { level }, _) => Target::Organization { level: *level },
            (
                CheckRequest::Project {
                    project,
                    environment,
                    resource,
                    level,
                },
                key,
            ) => {
                // Only a key whose secret matched learns anything about projects: a
                // wrong secret must not be able to probe which project names exist.
                let verified = key
                    .as_ref()
                    .filter(|k| self.settings.peppers.verify(&parsed.secret, &k.hash));
                let found = match verified {
                    Some(key) => self.resolve_target(key, project, environment).await?,
                    None => None,
                };
                Target::Project {
                    found,
                    project: project.clone(),
                    environment: environment.clone(),
                    resource: resource.clone(),
                    level: *level,
                }
            }
        };
        let bound = match &stored {
            Some(key) => self.bound(key).await?,
            None => Bound::Service,
        };
        let ctx = Context {
            now: self.now(),
            catalog: &self.settings.catalog,
            bound: &bound,
        };
        let Decision { outcome, denial } = check::decide(
            &parsed,
            stored.as_ref(),
            &self.settings.peppers,
            &target,
            ctx,
        );
        let key = stored.filter(|_| !matches!(outcome, Outcome::Unknown));
        Ok(CheckResult {
            outcome,
            key,
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
        key: &ApiKey,
        project: &str,
        environment: &str,
    ) -> AppResult<Option<(ProjectRef, EnvRef)>> {
        let Some(p) = self.store.find_project(&key.org_id, project.trim()).await? else {
            return Ok(None);
        };
        let envs = self.store.list_environments(&p.id).await?;
        Ok(envs
            .into_iter()
            .find(|e| e.name.as_str() == environment.trim())
            .map(|e| {
                (
                    ProjectRef {
                        id: p.id,
                        org_id: p.org_id,
                        name: p.name.to_string(),
                    },
                    EnvRef {
                        name: e.name,
                        kind: e.kind,
                    },
                )
            }))
    }
}
