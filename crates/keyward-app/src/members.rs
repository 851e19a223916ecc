//! People: users, and their membership of organizations with a role and project
//! levels. Changing a membership changes, at the next check, what that person's
//! user-bound keys may do.

use crate::cache::Touched;
use crate::error::{AppError, AppResult};
use crate::principal::Who;
use crate::{Keyward, Principal};
use keyward_core::{AuditAction, Level, MemberAccess, OrgId, Role, User, UserId};
use rand_core::OsRng;
use serde_json::json;
use std::collections::BTreeMap;

/// A membership as asked for: a role and levels on projects named by name or id.
#[derive(Debug, Clone)]
pub struct MemberInput {
    pub role: Role,
    pub projects: Vec<(String, Level)>,
}

pub(crate) fn access_json(a: &MemberAccess) -> serde_json::Value {
    let projects: BTreeMap<String, Level> = a
        .projects
        .iter()
        .map(|(p, l)| (p.to_string(), *l))
        .collect();
    json!({ "role": a.role, "projects": projects })
}

/// The answer for a person who is not a member, whether or not they have an account
/// anywhere: an organization learns nothing about people outside it.
fn not_a_member(user: &str) -> AppError {
    AppError::NotFound {
        what: "member",
        reference: keyward_core::echo::echo(user, 100),
        hint: "; to add someone to the organization, invite them (POST /v1/orgs/{org}/invitations, or keyward members invite)",
    }
}

/// A display name as given: blank is none; otherwise the rules of a name.
pub(crate) fn display_name(given: Option<&str>) -> AppResult<Option<String>> {
    given
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            keyward_core::KeyName::parse(n)
                .map(String::from)
                .map_err(|e| AppError::invalid("display_name", e))
        })
        .transpose()
}

/// People span organizations, so only the operator sees them all.
pub(crate) fn require_operator(who: &Principal, what: &str) -> AppResult<()> {
    if who.is_operator() {
        return Ok(());
    }
    Err(AppError::Forbidden {
        required_permission: "operator".into(),
        message: format!("only the operator can {what}"),
    })
}

impl Keyward {
    /// Creates a person (without a password: signing in comes with the dashboard).
    pub async fn create_user(
        &self,
        who: &Principal,
        email: &str,
        display_name: Option<&str>,
    ) -> AppResult<User> {
        require_operator(who, "create users")?;
        let email = crate::operator::email(email)?;
        let display_name = self::display_name(display_name)?;
        let user = User {
            id: UserId::generate(&mut OsRng),
            email,
            display_name,
            password_hash: String::new(),
            created_at: self.now(),
        };
        let event = who
            .event(None, AuditAction::UserCreated, user.created_at)
            .details(json!({ "user_id": user.id, "email": user.email }));
        self.store.insert_user(&user, &event).await?;
        Ok(user)
    }

    /// Every person, oldest first. The operator's alone: people of one organization
    /// are its members (`list_members`).
    pub async fn list_users(&self, who: &Principal) -> AppResult<Vec<User>> {
        require_operator(who, "list users")?;
        Ok(self.store.list_users().await?)
    }

    /// A person and every organization they belong to, with what they hold there.
    pub async fn user_memberships(
        &self,
        who: &Principal,
        id_or_email: &str,
    ) -> AppResult<(User, Vec<(OrgId, MemberAccess)>)> {
        require_operator(who, "show a user")?;
        let user = self.user(id_or_email).await?;
        let orgs = self.store.memberships(&user.id).await?;
        Ok((user, orgs))
    }

    pub async fn user(&self, id_or_email: &str) -> AppResult<User> {
        self.store
            .find_user(id_or_email.trim())
            .await?
            .ok_or_else(|| AppError::not_found("user", id_or_email))
    }

    /// The principal for a person acting through the operator (or, later, a session).
    pub async fn user_principal(&self, id_or_email: &str) -> AppResult<Principal> {
        let user = self.user(id_or_email).await?;
        let orgs = self
            .store
            .memberships(&user.id)
            .await?
            .into_iter()
            .collect();
        Ok(Who::User { id: user.id, orgs }.into())
    }

    pub async fn list_members(
        &self,
        who: &Principal,
        org: &OrgId,
    ) -> AppResult<Vec<(User, MemberAccess)>> {
        who.require_sees(org)?;
        who.require(org, Level::Read, "listing members")?;
        Ok(self.store.list_members(org).await?)
    }

    /// A role and project levels as asked for, with the projects found in `org`.
    pub(crate) async fn member_access(
        &self,
        org: &OrgId,
        input: &MemberInput,
    ) -> AppResult<MemberAccess> {
        let mut projects = BTreeMap::new();
        for (reference, level) in &input.projects {
            // A project named in the body that does not exist is a mistake in the
            // body (422), not a missing resource at the URL (404).
            let project = self.project(org, reference).await.map_err(|e| match e {
                AppError::NotFound { .. } => AppError::invalid(
                    "projects",
                    format!(
                        "project '{}' does not exist in this organization",
                        keyward_core::echo::echo(reference, 60)
                    ),
                ),
                other => other,
            })?;
            projects.insert(project.id, *level);
        }
        Ok(MemberAccess {
            role: input.role,
            projects,
        })
    }

    /// The person `user` names and what they hold in `org`. Only the operator, who runs
    /// the platform, may name someone who is not a member (to add them directly, on
    /// their behalf); anyone else gets the same "not a member" whether or not the
    /// person has an account anywhere.
    async fn member_of(
        &self,
        who: &Principal,
        org: &OrgId,
        user: &str,
    ) -> AppResult<(User, Option<MemberAccess>)> {
        let found = match self.store.find_user(user.trim()).await? {
            Some(found) => found,
            None if who.is_operator() => return Err(AppError::not_found("user", user)),
            None => return Err(not_a_member(user)),
        };
        let access = self.store.member_access(org, &found.id).await?;
        if access.is_none() && !who.is_operator() {
            return Err(not_a_member(user));
        }
        Ok((found, access))
    }

    /// Sets a person's role and project levels in `org`. Managing members needs manage
    /// access; only owners make or change owners; a key can only make members, with
    /// project levels it holds itself; and the last owner cannot be demoted.
    pub async fn set_member(
        &self,
        who: &Principal,
        org: &OrgId,
        user: &str,
        input: MemberInput,
    ) -> AppResult<MemberAccess> {
        who.require_sees(org)?;
        who.require(org, Level::Manage, "managing members")?;
        let (user, before) = self.member_of(who, org, user).await?;
        let access = self.member_access(org, &input).await?;
        self.may_touch_member(who, org, before.as_ref(), Some(&access))
            .await?;
        let action = if before.is_some() {
            AuditAction::MemberChanged
        } else {
            AuditAction::MemberAdded
        };
        let event = who.event(Some(org), action, self.now()).details(json!({
            "user_id": user.id,
            "before": before.as_ref().map(access_json),
            "after": access_json(&access),
        }));
        let written = self
            .store
            .set_membership(
                org,
                &user.id,
                before.as_ref().map(|b| b.role),
                &access,
                &event,
            )
            .await;
        // What this person's user-bound keys may do here has changed.
        self.cache
            .invalidate(Touched::Member(Some(org.clone()), user.id.clone()));
        written?;
        Ok(access)
    }

    pub async fn remove_member(&self, who: &Principal, org: &OrgId, user: &str) -> AppResult<()> {
        who.require_sees(org)?;
        who.require(org, Level::Manage, "managing members")?;
        let (user, before) = self.member_of(who, org, user).await?;
        let Some(before) = before else {
            return Err(not_a_member(user.email.as_str()));
        };
        self.may_touch_member(who, org, Some(&before), None).await?;
        let event = who
            .event(Some(org), AuditAction::MemberRemoved, self.now())
            .details(json!({ "user_id": user.id, "before": access_json(&before) }));
        let written = self
            .store
            .remove_membership(org, &user.id, before.role, &event)
            .await;
        self.cache
            .invalidate(Touched::Member(Some(org.clone()), user.id.clone()));
        written?;
        Ok(())
    }

    /// The rules for changing a membership from `before` to `after` (`None`: removed).
    pub(crate) async fn may_touch_member(
        &self,
        who: &Principal,
        org: &OrgId,
        before: Option<&MemberAccess>,
        after: Option<&MemberAccess>,
    ) -> AppResult<()> {
        let owner_involved = [before, after]
            .iter()
            .flatten()
            .any(|a| a.role == Role::Owner);
        let forbidden = |message: &str| AppError::Forbidden {
            required_permission: "no_escalation".into(),
            message: message.into(),
        };
        match &who.who {
            Who::Operator(_) => {}
            Who::User { .. } => {
                if owner_involved && who.role(org) != Some(Role::Owner) {
                    return Err(forbidden("only owners can make, change or remove owners"));
                }
            }
            Who::Key(key, bound) => {
                if [before, after]
                    .iter()
                    .flatten()
                    .any(|a| a.role != Role::Member)
                {
                    return Err(forbidden(
                        "a key can only manage members, never owners or admins",
                    ));
                }
                if let Some(after) = after {
                    for (project, level) in &after.projects {
                        // Some unrestricted grant of the key's on that project, at that level.
                        let holds = keyward_core::escalation::Power::of(key)
                            .all_grants(&self.settings.catalog)
                            .iter()
                            .filter(|g| g.resources.is_none() && g.level >= *level)
                            .any(|g| match &g.project {
                                keyward_core::ProjectScope::All => true,
                                keyward_core::ProjectScope::One(p) => p == project,
                            });
                        // And, for a user-bound key, what its creator holds there.
                        let creator_holds = match bound {
                            keyward_core::Bound::Service => true,
                            keyward_core::Bound::User(a) => a
                                .as_ref()
                                .and_then(|a| a.on_project(project))
                                .is_some_and(|l| l >= *level),
                        };
                        if !holds || !creator_holds {
                            return Err(forbidden(&format!(
                                "this key cannot give {level} on project {project}: it does not hold that itself"
                            )));
                        }
                    }
                }
            }
        }
        // That an organization keeps an owner is checked by the store, inside the
        // transaction, where concurrent demotions cannot both pass it.
        Ok(())
    }
}
