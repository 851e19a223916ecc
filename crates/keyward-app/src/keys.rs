//! The key lifecycle: create, read, update, revoke, reactivate, rotate, delete. Every
//! change is one `write_keys` call: the key(s) and the audit event(s) commit together.

use crate::cache::Touched;
use crate::error::{AppError, AppResult};
use crate::principal::Who;
use crate::views::{CreatedKeyView, GrantView, KeyView, RotatedView};
use crate::{Keyward, Principal};
use keyward_core::escalation::Power;
use keyward_core::lifecycle::{self, KeyPatch, NewKey, Transition};
use keyward_core::Scope;
use keyward_core::{
    ApiKey, ApiKeySecret, AuditAction, AuditEvent, Description, EnvScope, GeneratedKey, Grant,
    GrantSpec, KeyId, KeyName, KeyStatus, Kind, Level, OrgAccess, OrgId, ProjectScope, RateLimit,
    Timestamp,
};
use keyward_store::{KeyCursor, KeyLimit, KeyQuery, KeyWrite};
use rand_core::OsRng;
use serde_json::{json, Value};
use time::Duration;

/// Project names by id, for showing grants.
pub(crate) type ProjectNames = std::collections::HashMap<keyward_core::ProjectId, String>;

/// A new key as asked for, before validation.
#[derive(Debug, Clone)]
pub struct KeyInput {
    pub name: String,
    pub description: Option<String>,
    pub kind: Kind,
    pub grants: Vec<GrantSpec>,
    /// Catalog scope names, such as `forms:read`.
    pub scopes: Vec<String>,
    pub org_access: OrgAccess,
    pub expires_at: Option<Timestamp>,
    /// For a person: make a service key rather than one bound to them.
    pub service: bool,
    /// Networks (CIDRs or addresses) the key may be used from; empty: anywhere.
    pub ip_allowlist: Vec<String>,
    /// The operator's own data about the key (a JSON object, or null).
    pub metadata: serde_json::Value,
    /// The key's own rate limits; `None`: its plan's.
    pub rate_limits: Option<Vec<RateLimit>>,
}

/// A change to a key as asked for; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct KeyPatchInput {
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub grants: Option<Vec<GrantSpec>>,
    /// Replaces the key's scopes.
    pub scopes: Option<Vec<String>>,
    pub org_access: Option<OrgAccess>,
    /// `Some(None)` removes the expiry.
    pub expires_at: Option<Option<Timestamp>>,
    /// Replaces the allow-list (an empty list: anywhere).
    pub ip_allowlist: Option<Vec<String>>,
    /// Replaces the metadata (`null` removes it).
    pub metadata: Option<serde_json::Value>,
    /// `Some(None)` goes back to the plan's limits.
    pub rate_limits: Option<Option<Vec<RateLimit>>>,
}

/// A key just made: the only time its secret exists outside the client's hands.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: KeyView,
    pub secret: ApiKeySecret,
}

impl CreatedKey {
    /// What the API answers and `--json` prints: the full key beside its view.
    pub fn view(&self) -> CreatedKeyView<'_> {
        CreatedKeyView {
            key: self.secret.expose_secret(),
            details: &self.key,
        }
    }
}

#[derive(Debug)]
pub struct Rotated {
    pub old: KeyView,
    pub new: CreatedKey,
}

impl Rotated {
    /// What the API answers and `--json` prints.
    pub fn view(&self) -> RotatedView<'_> {
        RotatedView {
            old: &self.old,
            new: self.new.view(),
        }
    }
}

/// The audit event of a change to `key`, made by `who`.
fn event(
    who: &Principal,
    key: &ApiKey,
    action: AuditAction,
    details: Value,
    at: Timestamp,
) -> AuditEvent {
    who.event(Some(&key.org_id), action, at)
        .key(key.id)
        .details(details)
}

/// Refuses text that contains something shaped like a key or admin token: names and
/// descriptions are shown everywhere, so a key pasted into one would leak.
fn no_secret_inside(field: &'static str, text: &str) -> AppResult<()> {
    if keyward_core::echo::looks_secret(text) {
        return Err(AppError::invalid(
            field,
            format!("{field}: looks like it contains an API key; never put a key in a name or description (and rotate that key)"),
        ));
    }
    Ok(())
}

fn parse_name(text: &str) -> AppResult<KeyName> {
    no_secret_inside("name", text)?;
    KeyName::parse(text).map_err(|e| AppError::invalid("name", e))
}

fn parse_description(d: Option<String>) -> AppResult<Option<Description>> {
    d.filter(|d| !d.trim().is_empty())
        .map(|d| {
            no_secret_inside("description", &d)?;
            Description::parse(&d).map_err(|e| AppError::invalid("description", e))
        })
        .transpose()
}

impl Keyward {
    /// Turns grants as written (project names, `*`) into grants on project ids, checking
    /// that each project belongs to `org` and each named environment exists there with
    /// the key's kind.
    async fn resolve_grants(
        &self,
        org: &OrgId,
        kind: Kind,
        specs: &[GrantSpec],
    ) -> AppResult<Vec<Grant>> {
        let tree = match specs.is_empty() {
            true => Vec::new(),
            false => self.store.project_tree(org).await?,
        };
        let mut grants: Vec<Grant> = Vec::new();
        for spec in specs {
            let project = match &spec.project {
                None => {
                    if let EnvScope::Named(env) = &spec.environment {
                        // `*` still names an environment: one that no project has with
                        // the key's kind could never be reached.
                        let kinds: Vec<Kind> = tree
                            .iter()
                            .flat_map(|(_, envs)| envs.iter().filter(|e| &e.name == env))
                            .map(|e| e.kind)
                            .collect();
                        if !kinds.contains(&kind) {
                            let why = match kinds.first() {
                                None => format!("no project of this organization has an environment '{env}'"),
                                Some(other) => format!("every environment named '{env}' in this organization is a {other} environment, and a {kind} key only works in {kind} environments"),
                            };
                            return Err(AppError::invalid(
                                "grants",
                                format!("grant '*:{env}:{}' could never work: {why}", spec.level),
                            ));
                        }
                    }
                    ProjectScope::All
                }
                Some(reference) => {
                    let reference = reference.trim();
                    let Some((project, envs)) = tree.iter().find(|(p, _)| {
                        p.id.as_str() == reference
                            || p.name.as_str().eq_ignore_ascii_case(reference)
                    }) else {
                        return Err(AppError::not_found("project", reference));
                    };
                    if let EnvScope::Named(env) = &spec.environment {
                        let Some(found) = envs.iter().find(|e| &e.name == env) else {
                            let names: Vec<_> = envs.iter().map(|e| e.name.to_string()).collect();
                            return Err(AppError::invalid(
                                "grants",
                                format!(
                                    "project '{}' has no environment '{env}'; it has: {}",
                                    project.name,
                                    names.join(", ")
                                ),
                            ));
                        };
                        if found.kind != kind {
                            return Err(AppError::invalid(
                                "grants",
                                format!(
                                    "environment '{env}' of project '{}' is a {} environment, and a {kind} key only works in {kind} environments",
                                    project.name, found.kind
                                ),
                            ));
                        }
                    }
                    ProjectScope::One(project.id.clone())
                }
            };
            let grant = Grant {
                project,
                environment: spec.environment.clone(),
                level: spec.level,
                resources: spec.resources.clone(),
            };
            if !grants.contains(&grant) {
                grants.push(grant);
            }
        }
        Ok(grants)
    }

    /// The names of the projects of `org`, for showing grants.
    pub(crate) async fn project_names(&self, org: &OrgId) -> AppResult<ProjectNames> {
        Ok(self
            .store
            .list_projects(org)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name.to_string()))
            .collect())
    }

    /// Grants as people see them, each project named.
    pub(crate) fn grant_views(names: &ProjectNames, grants: &[Grant]) -> Vec<GrantView> {
        grants
            .iter()
            .map(|g| {
                let name = match &g.project {
                    ProjectScope::One(id) => names.get(id).map(String::as_str),
                    ProjectScope::All => None,
                };
                GrantView::new(g, name)
            })
            .collect()
    }

    /// The key as people see it, with its projects named.
    pub async fn view(&self, key: &ApiKey) -> AppResult<KeyView> {
        let names = match key.grants.iter().any(|g| g.project != ProjectScope::All) {
            true => self.project_names(&key.org_id).await?,
            false => ProjectNames::new(),
        };
        Ok(KeyView::new(
            key,
            Self::grant_views(&names, &key.grants),
            self.now(),
        ))
    }

    pub async fn create_key(
        &self,
        who: &Principal,
        org: &OrgId,
        input: KeyInput,
    ) -> AppResult<CreatedKey> {
        who.require_sees(org)?;
        who.require(org, Level::Write, "creating a key")?;
        let actor = &who.actor();
        let name = parse_name(&input.name)?;
        let description = parse_description(input.description)?;
        let grants = self.resolve_grants(org, input.kind, &input.grants).await?;
        let scopes = self.parse_scopes(&input.scopes)?;
        let power = Power {
            kind: input.kind,
            grants: &grants,
            scopes: &scopes,
            org_access: input.org_access,
        };
        who.require_within(org, &self.settings.catalog, power)?;
        let plan = self.plan_of(org).await?;
        let ip_allowlist = self.parse_allowlist(who, &input.ip_allowlist)?;
        let metadata = Self::parse_metadata(input.metadata)?;
        self.check_limits(who, &plan, input.rate_limits.as_deref())?;
        // A person's keys act as them unless they ask for a service key; a key's keys
        // answer to the same person it does, so they can never outgrow it.
        let owner = match &who.who {
            Who::User { id, .. } if !input.service => Some(id.clone()),
            Who::Key(caller, _) => caller.owner.clone(),
            _ => None,
        };
        let spec = NewKey {
            name,
            description,
            kind: input.kind,
            grants,
            scopes,
            org_access: input.org_access,
            owner,
            expires_at: input.expires_at,
            ip_allowlist,
            metadata,
            rate_limits: input.rate_limits,
        };
        let generated =
            GeneratedKey::generate(self.settings.prefixes.current(), input.kind, &mut OsRng);
        let hash = self.settings.peppers.hash(&generated.secret);
        let now = self.now();
        let t = lifecycle::create(
            spec,
            org.clone(),
            generated.id,
            hash,
            actor.clone(),
            &self.settings.policy,
            now,
        )?;
        let audit = event(who, &t.key, t.action, t.details, now);
        let written = self
            .store
            .write_keys(KeyWrite {
                inserts: vec![t.key.clone()],
                events: vec![audit],
                limit: plan.key_limit().map(|max| KeyLimit {
                    org: org.clone(),
                    max,
                    now,
                }),
                ..KeyWrite::default()
            })
            .await
            .map_err(|e| match e {
                keyward_store::StoreError::KeyLimit { held } => AppError::PlanLimit {
                    plan: plan.name.clone(),
                    limit: plan.key_limit().unwrap_or_default(),
                    held,
                    api_access: plan.api_access,
                },
                other => other.into(),
            });
        // The id may be cached as unknown. After the write (whatever its result, which
        // may be unknown), before the answer.
        self.cache.invalidate(Touched::Key(t.key.id));
        written?;
        Ok(CreatedKey {
            key: self.view(&t.key).await?,
            secret: generated.secret,
        })
    }

    /// A key by id, if `who` may see it: another organization's key is "not found".
    pub async fn key(&self, who: &Principal, id: &str) -> AppResult<ApiKey> {
        let id = KeyId::parse(id.trim()).map_err(|e| AppError::invalid("key_id", e))?;
        let key = self
            .store
            .key(&id)
            .await?
            .filter(|k| who.sees(&k.org_id))
            .ok_or_else(|| AppError::not_found("key", id.as_str()))?;
        who.require(&key.org_id, Level::Read, "reading keys")?;
        Ok(key)
    }

    /// One page of `org`'s keys, newest first. `after` is the last key id of the
    /// previous page.
    pub async fn list_keys(
        &self,
        who: &Principal,
        org: &OrgId,
        status: Option<KeyStatus>,
        kind: Option<Kind>,
        after: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<KeyView>> {
        who.require_sees(org)?;
        who.require(org, Level::Read, "listing keys")?;
        let bad_cursor = || {
            AppError::invalid(
                "cursor",
                "the cursor does not name a key of this listing; start again without it",
            )
        };
        let after = match after {
            None => None,
            Some(id) => {
                // Only "no such key" makes a bad cursor: a storage failure stays one.
                let key = self.key(who, id).await.map_err(|e| match e {
                    AppError::NotFound { .. } | AppError::Invalid { .. } => bad_cursor(),
                    other => other,
                })?;
                if &key.org_id != org {
                    return Err(bad_cursor());
                }
                Some(KeyCursor {
                    created_at: key.created_at,
                    id: key.id,
                })
            }
        };
        let keys = self
            .store
            .list_keys(&KeyQuery {
                org_id: org.clone(),
                status,
                kind,
                after,
                limit,
            })
            .await?;
        let names = self.project_names(org).await?;
        let now = self.now();
        Ok(keys
            .iter()
            .map(|k| KeyView::new(k, Self::grant_views(&names, &k.grants), now))
            .collect())
    }

    async fn commit(&self, who: &Principal, t: Transition) -> AppResult<KeyView> {
        let now = self.now();
        let audit = event(who, &t.key, t.action, t.details, now);
        let written = self
            .store
            .write_keys(KeyWrite {
                updates: vec![t.key.clone()],
                events: vec![audit],
                ..KeyWrite::default()
            })
            .await;
        self.cache.invalidate(Touched::Key(t.key.id));
        written?;
        self.view(&t.key).await
    }

    /// A key acting on a key: it needs `level` on the organization, and the target
    /// must be within its own power.
    fn may_change(
        &self,
        who: &Principal,
        key: &ApiKey,
        level: Level,
        doing: &str,
    ) -> AppResult<()> {
        who.require(&key.org_id, level, doing)?;
        who.require_within_key(key, &self.settings.catalog)
    }

    /// Checks scope names against the operator's catalog.
    fn parse_scopes(&self, names: &[String]) -> AppResult<Vec<Scope>> {
        let mut scopes: Vec<Scope> = Vec::new();
        for name in names {
            let scope = self
                .settings
                .catalog
                .parse(name)
                .map_err(|e| AppError::invalid("scopes", format!("scopes: {e}")))?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(scopes)
    }

    pub async fn update_key(
        &self,
        who: &Principal,
        key: &ApiKey,
        input: KeyPatchInput,
    ) -> AppResult<KeyView> {
        self.may_change(who, key, Level::Write, "updating a key")?;
        let grants = match &input.grants {
            Some(specs) => Some(self.resolve_grants(&key.org_id, key.kind, specs).await?),
            None => None,
        };
        let patch = KeyPatch {
            name: input.name.map(|n| parse_name(&n)).transpose()?,
            description: input.description.map(parse_description).transpose()?,
            grants,
            scopes: input
                .scopes
                .as_deref()
                .map(|s| self.parse_scopes(s))
                .transpose()?,
            org_access: input.org_access,
            expires_at: input.expires_at,
            ip_allowlist: input
                .ip_allowlist
                .as_deref()
                .map(|l| self.parse_allowlist(who, l))
                .transpose()?,
            metadata: input.metadata.map(Self::parse_metadata).transpose()?,
            rate_limits: match input.rate_limits {
                None => None,
                Some(limits) => {
                    let plan = self.plan_of(&key.org_id).await?;
                    self.check_limits(who, &plan, limits.as_deref())?;
                    Some(limits)
                }
            },
        };
        let t = lifecycle::update(key, patch, &self.settings.policy, self.now())?;
        who.require_within_key(&t.key, &self.settings.catalog)?;
        self.commit(who, t).await
    }

    pub async fn revoke_key(&self, who: &Principal, key: &ApiKey) -> AppResult<KeyView> {
        self.may_change(who, key, Level::Write, "revoking a key")?;
        let t = lifecycle::revoke(key, self.now())?;
        self.commit(who, t).await
    }

    pub async fn reactivate_key(&self, who: &Principal, key: &ApiKey) -> AppResult<KeyView> {
        self.may_change(who, key, Level::Write, "reactivating a key")?;
        let t = lifecycle::reactivate(key, self.now())?;
        self.commit(who, t).await
    }

    pub async fn delete_key(&self, who: &Principal, key: &ApiKey) -> AppResult<KeyView> {
        self.may_change(who, key, Level::Manage, "deleting a key")?;
        let t = lifecycle::delete(key, self.now())?;
        self.commit(who, t).await
    }

    /// Replaces `key` by a new key with the same settings; the old one keeps working
    /// for `grace` (0 to 7 days).
    pub async fn rotate_key(
        &self,
        who: &Principal,
        key: &ApiKey,
        grace: Duration,
    ) -> AppResult<Rotated> {
        // Rotation hands out a secret with the key's power: never beyond the caller's.
        self.may_change(who, key, Level::Write, "rotating a key")?;
        let actor = &who.actor();
        let generated =
            GeneratedKey::generate(self.settings.prefixes.current(), key.kind, &mut OsRng);
        let hash = self.settings.peppers.hash(&generated.secret);
        let now = self.now();
        let r = lifecycle::rotate(key, generated.id, hash, grace, actor.clone(), now)?;
        let events = vec![
            event(who, &r.old, AuditAction::KeyRotated, r.details, now),
            event(
                who,
                &r.new,
                AuditAction::KeyCreated,
                json!({ "rotated_from": r.old.id }),
                now,
            ),
        ];
        let written = self
            .store
            .write_keys(KeyWrite {
                inserts: vec![r.new.clone()],
                updates: vec![r.old.clone()],
                events,
                limit: None,
            })
            .await;
        self.cache.invalidate(Touched::Key(r.old.id));
        self.cache.invalidate(Touched::Key(r.new.id));
        written?;
        Ok(Rotated {
            old: self.view(&r.old).await?,
            new: CreatedKey {
                key: self.view(&r.new).await?,
                secret: generated.secret,
            },
        })
    }
}
