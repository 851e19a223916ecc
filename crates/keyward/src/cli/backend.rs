//! Where management commands are carried out: the local data directory (through
//! `keyward_app`, as the operator) or a keyward server (through its HTTP API, with an
//! admin token; see [`super::remote`]). Both give the same types, so each command
//! prints the same tables and `--json` either way.

use super::operator;
use super::remote::{self, Remote};
use crate::output::Failure;
use keyward_app::usage::{KeyUsageView, UsageRange};
use keyward_app::views::{CreatedKeyView, KeyView, RotatedView};
use keyward_app::{KeyInput, KeyPatchInput, Keyward, MemberInput, OrgSummary};
use keyward_client::types as wire;
use keyward_core::timestamp::{format, Timestamp};
use keyward_core::{
    AuditEvent, Environment, Invitation, KeyStatus, Kind, MemberAccess, OrgId, Organization,
    Project, User,
};
use keyward_store::AuditQuery;
use secrecy::{ExposeSecret, SecretString};

pub enum Backend<'a> {
    Local(&'a Keyward),
    Remote(Box<Remote>),
}

/// A key just made, with its secret, shown this once.
pub struct NewKey {
    pub key: KeyView,
    pub secret: SecretString,
}

impl NewKey {
    /// What the API answers and `--json` prints: the full key beside its view.
    pub fn view(&self) -> CreatedKeyView<'_> {
        CreatedKeyView {
            key: self.secret.expose_secret(),
            details: &self.key,
        }
    }
}

pub struct RotatedKey {
    pub old: KeyView,
    pub new: NewKey,
}

impl RotatedKey {
    pub fn view(&self) -> RotatedView<'_> {
        RotatedView {
            old: &self.old,
            new: self.new.view(),
        }
    }
}

pub struct NewInvitation {
    pub invitation: Invitation,
    pub token: SecretString,
}

/// Why a command cannot run on a server, and what to do instead.
pub fn not_remote(what: &str, why: &str) -> Failure {
    Failure::usage(format!(
        "{what} is not available on a keyward server through its API ({why}); \
         run it on the server's machine against its data directory (with --data-dir)"
    ))
}

impl Backend<'_> {
    pub fn now(&self) -> Timestamp {
        match self {
            Backend::Local(app) => app.now(),
            Backend::Remote(_) => time::OffsetDateTime::now_utc(),
        }
    }

    pub async fn create_org(
        &self,
        name: &str,
        plan: Option<&str>,
    ) -> Result<Organization, Failure> {
        match self {
            Backend::Local(app) => Ok(app.create_org(&operator(), name, plan).await?),
            Backend::Remote(r) => {
                let org = wire::OrgIn {
                    name: name.to_owned(),
                    plan: plan.map(str::to_owned),
                };
                remote::org(r.client.create_org(&org).await.map_err(|e| r.fail(&e))?)
            }
        }
    }

    /// An organization by name or id.
    pub async fn org(&self, org: &str) -> Result<Organization, Failure> {
        match self {
            Backend::Local(app) => Ok(app.org(&operator(), org).await?),
            Backend::Remote(r) => remote::org(
                r.client
                    .get_org(org.trim())
                    .await
                    .map_err(|e| r.fail(&e))?
                    .org,
            ),
        }
    }

    pub async fn set_org_plan(&self, org: &str, plan: &str) -> Result<Organization, Failure> {
        match self {
            Backend::Local(app) => {
                let org = app.org(&operator(), org).await?;
                Ok(app.set_org_plan(&operator(), &org.id, plan).await?)
            }
            Backend::Remote(r) => {
                let patch = wire::OrgPatch {
                    plan: Some(plan.to_owned()),
                };
                remote::org(
                    r.client
                        .update_org(org.trim(), &patch)
                        .await
                        .map_err(|e| r.fail(&e))?,
                )
            }
        }
    }

    pub async fn org_summary(&self, org: &str) -> Result<OrgSummary, Failure> {
        match self {
            Backend::Local(app) => Ok(app.org_summary(&operator(), org).await?),
            Backend::Remote(r) => {
                remote::org_summary(r.client.get_org(org.trim()).await.map_err(|e| r.fail(&e))?)
            }
        }
    }

    pub async fn list_orgs(&self) -> Result<Vec<Organization>, Failure> {
        match self {
            Backend::Local(app) => Ok(app.list_orgs(&operator()).await?),
            Backend::Remote(r) => r
                .client
                .list_orgs()
                .await
                .map_err(|e| r.fail(&e))?
                .data
                .into_iter()
                .map(remote::org)
                .collect(),
        }
    }

    pub async fn create_project(
        &self,
        org: &OrgId,
        name: &str,
    ) -> Result<(Project, Vec<Environment>), Failure> {
        match self {
            Backend::Local(app) => Ok(app.create_project(&operator(), org, name).await?),
            Backend::Remote(r) => remote::project(
                r.client
                    .create_project(
                        org.as_str(),
                        &wire::ProjectIn {
                            name: name.to_owned(),
                        },
                    )
                    .await
                    .map_err(|e| r.fail(&e))?,
            ),
        }
    }

    pub async fn list_projects(
        &self,
        org: &OrgId,
    ) -> Result<Vec<(Project, Vec<Environment>)>, Failure> {
        match self {
            Backend::Local(app) => Ok(app.list_projects(&operator(), org).await?),
            Backend::Remote(r) => r
                .client
                .list_projects(org.as_str())
                .await
                .map_err(|e| r.fail(&e))?
                .data
                .into_iter()
                .map(remote::project)
                .collect(),
        }
    }

    /// A new key in `org`; with `as_user`, made as that person (bound to them unless
    /// `input.service`, and never beyond what they hold).
    pub async fn create_key(
        &self,
        as_user: Option<&str>,
        org: &OrgId,
        input: KeyInput,
    ) -> Result<NewKey, Failure> {
        match self {
            Backend::Local(app) => {
                let who = match as_user {
                    Some(user) => app.user_principal(user).await?,
                    None => operator(),
                };
                let created = app.create_key(&who, org, input).await?;
                Ok(NewKey {
                    key: created.key,
                    secret: SecretString::from(created.secret.expose_secret().to_owned()),
                })
            }
            Backend::Remote(r) => {
                let key = wire::KeyIn {
                    org: Some(org.to_string()),
                    name: input.name,
                    description: input.description,
                    kind: Some(remote_word(input.kind.as_str())?),
                    grants: input
                        .grants
                        .iter()
                        .map(remote::grant)
                        .collect::<Result<_, _>>()?,
                    scopes: input.scopes,
                    org_access: Some(remote_word(&input.org_access.to_string())?),
                    expires_at: input.expires_at.map(format),
                    service: input.service,
                    ip_allowlist: input.ip_allowlist,
                    metadata: remote::metadata(input.metadata)?,
                    rate_limits: input.rate_limits.as_deref().map(remote::rate_limits),
                };
                let client = match as_user {
                    Some(user) => r.acting_as(user)?,
                    None => r.client.clone(),
                };
                remote::new_key(client.create_key(&key).await.map_err(|e| r.fail(&e))?)
            }
        }
    }

    /// Every key of `org` with this status and kind, newest first.
    pub async fn list_keys(
        &self,
        org: &OrgId,
        status: Option<KeyStatus>,
        kind: Option<Kind>,
    ) -> Result<Vec<KeyView>, Failure> {
        match self {
            Backend::Local(app) => {
                let mut keys = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let page = app
                        .list_keys(&operator(), org, status, kind, after.as_deref(), 500)
                        .await?;
                    let done = page.len() < 500;
                    after = page.last().map(|k| k.id.to_string());
                    keys.extend(page);
                    if done {
                        return Ok(keys);
                    }
                }
            }
            Backend::Remote(r) => {
                let query = wire::KeyListQuery {
                    org: Some(org.to_string()),
                    status: status.map(|s| remote_word(s.as_str())).transpose()?,
                    kind: kind.map(|k| remote_word(k.as_str())).transpose()?,
                    ..wire::KeyListQuery::default()
                };
                r.client
                    .list_all_keys(&query)
                    .await
                    .map_err(|e| r.fail(&e))?
                    .into_iter()
                    .map(remote::key)
                    .collect()
            }
        }
    }

    pub async fn key(&self, key_id: &str) -> Result<KeyView, Failure> {
        match self {
            Backend::Local(app) => {
                let key = app.key(&operator(), key_id).await?;
                Ok(app.view(&key).await?)
            }
            Backend::Remote(r) => remote::key(
                r.client
                    .get_key(key_id.trim())
                    .await
                    .map_err(|e| r.fail(&e))?,
            ),
        }
    }

    pub async fn update_key(&self, key_id: &str, patch: KeyPatchInput) -> Result<KeyView, Failure> {
        match self {
            Backend::Local(app) => {
                let key = app.key(&operator(), key_id).await?;
                Ok(app.update_key(&operator(), &key, patch).await?)
            }
            Backend::Remote(r) => {
                let grants = |g: Vec<keyward_core::GrantSpec>| {
                    g.iter().map(remote::grant).collect::<Result<Vec<_>, _>>()
                };
                let wire_patch = wire::KeyPatch {
                    name: patch.name,
                    description: patch.description,
                    grants: patch.grants.map(grants).transpose()?,
                    scopes: patch.scopes,
                    org_access: patch
                        .org_access
                        .map(|a| remote_word(&a.to_string()))
                        .transpose()?,
                    expires_at: patch.expires_at.map(|e| e.map(format)),
                    ip_allowlist: patch.ip_allowlist,
                    metadata: patch.metadata.map(remote::metadata).transpose()?,
                    rate_limits: patch
                        .rate_limits
                        .map(|l| l.as_deref().map(remote::rate_limits)),
                };
                remote::key(
                    r.client
                        .update_key(key_id.trim(), &wire_patch)
                        .await
                        .map_err(|e| r.fail(&e))?,
                )
            }
        }
    }

    pub async fn revoke_key(&self, key_id: &str) -> Result<KeyView, Failure> {
        match self {
            Backend::Local(app) => {
                let key = app.key(&operator(), key_id).await?;
                Ok(app.revoke_key(&operator(), &key).await?)
            }
            Backend::Remote(r) => remote::key(
                r.client
                    .revoke_key(key_id.trim())
                    .await
                    .map_err(|e| r.fail(&e))?,
            ),
        }
    }

    pub async fn reactivate_key(&self, key_id: &str) -> Result<KeyView, Failure> {
        match self {
            Backend::Local(app) => {
                let key = app.key(&operator(), key_id).await?;
                Ok(app.reactivate_key(&operator(), &key).await?)
            }
            Backend::Remote(r) => remote::key(
                r.client
                    .reactivate_key(key_id.trim())
                    .await
                    .map_err(|e| r.fail(&e))?,
            ),
        }
    }

    pub async fn delete_key(&self, key_id: &str) -> Result<KeyView, Failure> {
        match self {
            Backend::Local(app) => {
                let key = app.key(&operator(), key_id).await?;
                Ok(app.delete_key(&operator(), &key).await?)
            }
            Backend::Remote(r) => remote::key(
                r.client
                    .delete_key(key_id.trim())
                    .await
                    .map_err(|e| r.fail(&e))?,
            ),
        }
    }

    pub async fn rotate_key(
        &self,
        key_id: &str,
        grace: time::Duration,
    ) -> Result<RotatedKey, Failure> {
        match self {
            Backend::Local(app) => {
                let key = app.key(&operator(), key_id).await?;
                let rotated = app.rotate_key(&operator(), &key, grace).await?;
                Ok(RotatedKey {
                    old: rotated.old,
                    new: NewKey {
                        key: rotated.new.key,
                        secret: SecretString::from(rotated.new.secret.expose_secret().to_owned()),
                    },
                })
            }
            Backend::Remote(r) => {
                let rotate = wire::RotateIn {
                    grace_period: Some(keyward_core::duration::format(grace)),
                };
                remote::rotated(
                    r.client
                        .rotate_key(key_id.trim(), &rotate)
                        .await
                        .map_err(|e| r.fail(&e))?,
                )
            }
        }
    }

    pub async fn key_usage(
        &self,
        key_id: &str,
        range: UsageRange,
    ) -> Result<KeyUsageView, Failure> {
        match self {
            Backend::Local(app) => Ok(app.key_usage(&operator(), key_id, range).await?),
            Backend::Remote(r) => {
                let query = wire::UsageQuery {
                    from: Some(range.from),
                    to: Some(range.to),
                };
                remote::usage(
                    r.client
                        .key_usage(key_id.trim(), &query)
                        .await
                        .map_err(|e| r.fail(&e))?,
                )
            }
        }
    }

    /// The events `query` selects, newest first, at most `query.limit`.
    pub async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, Failure> {
        match self {
            Backend::Local(app) => Ok(app.audit_events(&operator(), query).await?),
            Backend::Remote(r) => {
                let limit = query.limit.unwrap_or(100);
                let mut wire_query = wire::AuditQuery {
                    org: query.org_id.as_ref().map(ToString::to_string),
                    operator: query.operator_only.then_some(true),
                    key_id: query.key_id.as_ref().map(ToString::to_string),
                    actor: query.actor.clone(),
                    action: query.action.map(|a| a.as_str().to_owned()),
                    since: query.since.map(format),
                    until: query.until.map(format),
                    cursor: None,
                    limit: Some(limit.min(100)),
                };
                let mut events = Vec::new();
                loop {
                    let page = r
                        .client
                        .list_audit_events(&wire_query)
                        .await
                        .map_err(|e| r.fail(&e))?;
                    for e in page.data {
                        if events.len() < limit as usize {
                            events.push(remote::event(e)?);
                        }
                    }
                    match page.next_cursor {
                        Some(cursor) if events.len() < limit as usize => {
                            wire_query.cursor = Some(cursor);
                        }
                        _ => return Ok(events),
                    }
                }
            }
        }
    }

    /// A person by id or e-mail address, for the audit table's names; `None` when
    /// they cannot be found (or, on a server, looked up: its API lists people only
    /// as members of `org`).
    pub async fn user_in(&self, id: &str, org: Option<&OrgId>) -> Option<User> {
        match self {
            Backend::Local(app) => app.user(id).await.ok(),
            Backend::Remote(_) => self
                .list_members(org?)
                .await
                .ok()?
                .into_iter()
                .map(|(u, _)| u)
                .find(|u| u.id.as_str() == id),
        }
    }

    pub async fn create_user(&self, email: &str, name: Option<&str>) -> Result<User, Failure> {
        match self {
            Backend::Local(app) => Ok(app.create_user(&operator(), email, name).await?),
            Backend::Remote(r) => {
                let user = wire::UserIn {
                    email: email.to_owned(),
                    display_name: name.map(str::to_owned),
                };
                Ok(remote::user(
                    r.client.create_user(&user).await.map_err(|e| r.fail(&e))?,
                ))
            }
        }
    }

    pub async fn list_users(&self) -> Result<Vec<User>, Failure> {
        match self {
            Backend::Local(app) => Ok(app.list_users(&operator()).await?),
            Backend::Remote(r) => Ok(r
                .client
                .list_users()
                .await
                .map_err(|e| r.fail(&e))?
                .data
                .into_iter()
                .map(remote::user)
                .collect()),
        }
    }

    /// A person, and each organization they belong to: its id, its name and what
    /// they hold there.
    pub async fn user_memberships(
        &self,
        user: &str,
    ) -> Result<(User, Vec<(OrgId, String, MemberAccess)>), Failure> {
        match self {
            Backend::Local(app) => {
                let (user, memberships) = app.user_memberships(&operator(), user).await?;
                let mut orgs = Vec::with_capacity(memberships.len());
                for (org_id, access) in memberships {
                    let org = app.org(&operator(), org_id.as_str()).await?;
                    orgs.push((org.id, org.name.to_string(), access));
                }
                Ok((user, orgs))
            }
            Backend::Remote(r) => {
                let detail = r
                    .client
                    .get_user(user.trim())
                    .await
                    .map_err(|e| r.fail(&e))?;
                let orgs = detail
                    .organizations
                    .into_iter()
                    .map(|m| {
                        Ok((
                            OrgId::from_trusted(m.org_id),
                            m.org,
                            remote::access(m.role, m.projects)?,
                        ))
                    })
                    .collect::<Result<_, Failure>>()?;
                let user = remote::user(wire::UserOut {
                    id: detail.id,
                    email: detail.email,
                    display_name: detail.display_name,
                    created_at: detail.created_at,
                });
                Ok((user, orgs))
            }
        }
    }

    pub async fn list_members(&self, org: &OrgId) -> Result<Vec<(User, MemberAccess)>, Failure> {
        match self {
            Backend::Local(app) => Ok(app.list_members(&operator(), org).await?),
            Backend::Remote(r) => r
                .client
                .list_members(org.as_str())
                .await
                .map_err(|e| r.fail(&e))?
                .data
                .into_iter()
                .map(remote::member)
                .collect(),
        }
    }

    pub async fn set_member(
        &self,
        org: &OrgId,
        user: &str,
        input: MemberInput,
    ) -> Result<(User, MemberAccess), Failure> {
        match self {
            Backend::Local(app) => {
                let access = app.set_member(&operator(), org, user, input).await?;
                Ok((app.user(user).await?, access))
            }
            Backend::Remote(r) => {
                let member = wire::MemberIn {
                    role: remote_word(input.role.as_str())?,
                    projects: projects_in(input.projects)?,
                };
                remote::member(
                    r.client
                        .set_member(org.as_str(), user.trim(), &member)
                        .await
                        .map_err(|e| r.fail(&e))?,
                )
            }
        }
    }

    pub async fn remove_member(&self, org: &OrgId, user: &str) -> Result<(), Failure> {
        match self {
            Backend::Local(app) => Ok(app.remove_member(&operator(), org, user).await?),
            Backend::Remote(r) => r
                .client
                .remove_member(org.as_str(), user.trim())
                .await
                .map_err(|e| r.fail(&e)),
        }
    }

    pub async fn invite_member(
        &self,
        org: &OrgId,
        email: &str,
        input: MemberInput,
    ) -> Result<NewInvitation, Failure> {
        match self {
            Backend::Local(app) => {
                let created = app.invite_member(&operator(), org, email, input).await?;
                Ok(NewInvitation {
                    invitation: created.invitation,
                    token: SecretString::from(created.token.expose_secret().to_owned()),
                })
            }
            Backend::Remote(r) => {
                let invitation = wire::InvitationIn {
                    email: email.to_owned(),
                    role: remote_word(input.role.as_str())?,
                    projects: projects_in(input.projects)?,
                };
                remote::new_invitation(
                    r.client
                        .invite_member(org.as_str(), &invitation)
                        .await
                        .map_err(|e| r.fail(&e))?,
                )
            }
        }
    }

    pub async fn list_invitations(&self, org: &OrgId) -> Result<Vec<Invitation>, Failure> {
        match self {
            Backend::Local(app) => Ok(app.list_invitations(&operator(), org).await?),
            Backend::Remote(r) => r
                .client
                .list_invitations(org.as_str())
                .await
                .map_err(|e| r.fail(&e))?
                .data
                .into_iter()
                .map(remote::invitation)
                .collect(),
        }
    }

    pub async fn withdraw_invitation(&self, org: &OrgId, id: &str) -> Result<(), Failure> {
        match self {
            Backend::Local(app) => Ok(app.revoke_invitation(&operator(), org, id).await?),
            Backend::Remote(r) => r
                .client
                .withdraw_invitation(org.as_str(), id.trim())
                .await
                .map_err(|e| r.fail(&e)),
        }
    }

    pub async fn accept_invitation(
        &self,
        token: &SecretString,
    ) -> Result<(User, OrgId, MemberAccess), Failure> {
        match self {
            Backend::Local(app) => Ok(app
                .accept_invitation(&operator(), token.expose_secret())
                .await?),
            Backend::Remote(r) => {
                let accepted = r
                    .client
                    .accept_invitation(&remote::accept(token))
                    .await
                    .map_err(|e| r.fail(&e))?;
                let (user, access) = remote::member(accepted.member)?;
                Ok((user, OrgId::from_trusted(accepted.org_id), access))
            }
        }
    }
}

/// A word of a local vocabulary (kind, level, …) as the client's type: both write
/// them the same.
fn remote_word<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, Failure> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| Failure::usage(format!("'{s}' has no counterpart in the API")))
}

fn projects_in(
    projects: Vec<(String, keyward_core::Level)>,
) -> Result<Vec<wire::ProjectAccessIn>, Failure> {
    projects
        .into_iter()
        .map(|(project, level)| {
            Ok(wire::ProjectAccessIn {
                project,
                level: remote_word(level.as_str())?,
            })
        })
        .collect()
}
