//! Invitations: how a person who is not a member joins an organization, by accepting.
//! Inviting follows the rules of changing a membership (manage access; only owners
//! invite owners; a key invites only members with project levels it holds itself), and
//! says nothing about whether the address has an account anywhere. Accepting is the
//! person's (acting through the operator's dashboard with `Keyward-User`) or the
//! operator's on their behalf, who then also creates the account if there is none.

use crate::cache::Touched;
use crate::error::{AppError, AppResult};
use crate::members::{access_json, MemberInput};
use crate::principal::Who;
use crate::{Keyward, NewSession, Principal};
use keyward_core::invitation::LIFETIME;
use keyward_core::{
    AuditAction, Invitation, InvitationId, InvitationState, InvitationToken, Level, MemberAccess,
    OrgId, User, UserId,
};
use rand_core::OsRng;
use secrecy::SecretString;
use serde_json::json;
use std::net::IpAddr;

/// An invitation just made: the only time its token exists outside the invitee's hands.
#[derive(Debug)]
pub struct CreatedInvitation {
    pub invitation: Invitation,
    pub token: InvitationToken,
}

/// The same answer for every token that does not open a pending invitation for this
/// caller: wrong, used, revoked, expired, or meant for someone else.
fn no_invitation() -> AppError {
    AppError::NotFound {
        what: "invitation",
        reference: "with this token".into(),
        hint: "; it may have been used, revoked or have expired (invitations last 7 days): ask for a new one",
    }
}

impl Keyward {
    pub async fn invite_member(
        &self,
        who: &Principal,
        org: &OrgId,
        email: &str,
        input: MemberInput,
    ) -> AppResult<CreatedInvitation> {
        who.require_sees(org)?;
        who.require(org, Level::Manage, "inviting members")?;
        let email = crate::operator::email(email)?;
        let access = self.member_access(org, &input).await?;
        self.may_touch_member(who, org, None, Some(&access)).await?;
        // Within the organization, say so when the address is already a member's; about
        // anyone else, say nothing.
        if let Some(user) = self.store.find_user(&email).await? {
            if self.store.member_access(org, &user.id).await?.is_some() {
                return Err(AppError::Conflict(format!(
                    "{email} is already a member of this organization; change their access instead"
                )));
            }
        }
        let (id, token) = InvitationToken::generate(&mut OsRng);
        let now = self.now();
        let invitation = Invitation {
            id,
            org_id: org.clone(),
            email,
            access,
            invited_by: who.actor(),
            created_at: now,
            expires_at: now + LIFETIME,
            hash: self.settings.peppers.hash_str(token.expose_secret()),
            accepted_at: None,
            accepted_by: None,
            revoked_at: None,
        };
        let event = who
            .event(Some(org), AuditAction::MemberInvited, now)
            .details(json!({
                "invitation_id": invitation.id,
                "email": invitation.email,
                "access": access_json(&invitation.access),
                "expires_at": keyward_core::timestamp::format(invitation.expires_at),
            }));
        self.store.insert_invitation(&invitation, &event).await?;
        Ok(CreatedInvitation { invitation, token })
    }

    /// An organization's invitations that are still pending, newest first.
    pub async fn list_invitations(
        &self,
        who: &Principal,
        org: &OrgId,
    ) -> AppResult<Vec<Invitation>> {
        who.require_sees(org)?;
        who.require(org, Level::Read, "listing invitations")?;
        let now = self.now();
        let mut all = self.store.list_invitations(org).await?;
        all.retain(|i| i.state(now) == InvitationState::Pending);
        Ok(all)
    }

    pub async fn revoke_invitation(&self, who: &Principal, org: &OrgId, id: &str) -> AppResult<()> {
        who.require_sees(org)?;
        who.require(org, Level::Manage, "revoking invitations")?;
        let now = self.now();
        let parsed = InvitationId::parse(id.trim())
            .ok_or_else(|| AppError::not_found("pending invitation", id))?;
        let invitation = self
            .store
            .invitation(&parsed)
            .await?
            .filter(|i| &i.org_id == org && i.state(now) == InvitationState::Pending)
            .ok_or_else(|| AppError::not_found("pending invitation", id))?;
        let event = who
            .event(Some(org), AuditAction::InvitationRevoked, now)
            .details(json!({ "invitation_id": invitation.id, "email": invitation.email }));
        self.store
            .revoke_invitation(&invitation.id, now, &event)
            .await
            .map_err(|e| match e {
                keyward_store::StoreError::Stale => AppError::not_found("pending invitation", id),
                other => other.into(),
            })
    }

    /// The pending invitation `token` opens, or the one answer for every other token.
    async fn pending_invitation(&self, token: &str) -> AppResult<Invitation> {
        let (id, token) = InvitationToken::parse(token).ok_or_else(no_invitation)?;
        let now = self.now();
        self.store
            .invitation(&id)
            .await?
            .filter(|i| i.state(now) == InvitationState::Pending)
            .filter(|i| {
                self.settings
                    .peppers
                    .verify_str(token.expose_secret(), &i.hash)
            })
            .ok_or_else(no_invitation)
    }

    /// Accepts the invitation `token` opens: for the person it was sent to (acting
    /// through the operator's dashboard, or signed in), or for whoever the operator
    /// says, creating their account when there is none. Returns the person and their
    /// access.
    pub async fn accept_invitation(
        &self,
        who: &Principal,
        token: &str,
    ) -> AppResult<(User, OrgId, MemberAccess)> {
        let invitation = self.pending_invitation(token).await?;
        let now = self.now();
        let (user, new_user) = match &who.who {
            // A person accepts only what was sent to their own address.
            Who::User { id, .. } => {
                let user = self
                    .store
                    .find_user(id.as_str())
                    .await?
                    .filter(|u| u.email.eq_ignore_ascii_case(&invitation.email))
                    .ok_or_else(no_invitation)?;
                (user, false)
            }
            Who::Operator(_) => match self.store.find_user(&invitation.email).await? {
                Some(user) => (user, false),
                None => (
                    User {
                        id: UserId::generate(&mut OsRng),
                        email: invitation.email.clone(),
                        display_name: None,
                        password_hash: String::new(),
                        created_at: now,
                    },
                    true,
                ),
            },
            Who::Key(..) => {
                return Err(AppError::Forbidden {
                    required_permission: "person".into(),
                    message: "an invitation is accepted by the person invited (or the operator), not by a key".into(),
                })
            }
        };
        self.commit_acceptance(who, &invitation, user, new_user)
            .await
    }

    /// Accepts the invitation `token` opens for someone new, in the browser: creates
    /// their account with `password` (12 to 256 characters) and `display_name`, makes
    /// them a member, and signs them in. Someone whose address already has an account
    /// signs in and accepts as themselves ([`accept_invitation`](Self::accept_invitation)
    /// with their session's principal) instead: this answers 409 for them, which tells
    /// the holder of the invitation that the address has an account here.
    pub async fn accept_invitation_with_password(
        &self,
        token: &str,
        password: SecretString,
        display_name: Option<&str>,
        from: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> AppResult<(NewSession, OrgId, MemberAccess)> {
        let invitation = self.pending_invitation(token).await?;
        let display_name = crate::members::display_name(display_name)?;
        if self.store.find_user(&invitation.email).await?.is_some() {
            return Err(AppError::Conflict(
                "an account with this e-mail address already exists: sign in, then accept the invitation as yourself".into(),
            ));
        }
        let password_hash = crate::sessions::new_password_hash(password).await?;
        let user = User {
            id: UserId::generate(&mut OsRng),
            email: invitation.email.clone(),
            display_name,
            password_hash,
            created_at: self.now(),
        };
        let who = Principal {
            who: Who::User {
                id: user.id.clone(),
                orgs: Default::default(),
            },
            from,
        };
        let (user, org, access) = self
            .commit_acceptance(&who, &invitation, user, true)
            .await?;
        let session = self.start_session(&user, from, user_agent).await?;
        Ok((session, org, access))
    }

    /// Makes `user` (created first when `new_user`) a member as `invitation` says.
    async fn commit_acceptance(
        &self,
        who: &Principal,
        invitation: &Invitation,
        user: User,
        new_user: bool,
    ) -> AppResult<(User, OrgId, MemberAccess)> {
        let now = self.now();
        let org = invitation.org_id.clone();
        let mut events = Vec::new();
        if new_user {
            events.push(
                who.event(None, AuditAction::UserCreated, now).details(
                    json!({ "user_id": user.id, "email": user.email, "via": "invitation" }),
                ),
            );
        }
        events.push(
            who.event(Some(&org), AuditAction::MemberAdded, now)
                .details(json!({
                    "user_id": user.id,
                    "before": null,
                    "after": access_json(&invitation.access),
                    "invitation_id": invitation.id,
                    "invited_by": invitation.invited_by,
                })),
        );
        let written = self
            .store
            .accept_invitation(&invitation.id, &user, new_user, now, &events)
            .await;
        self.cache
            .invalidate(Touched::Member(Some(org.clone()), user.id.clone()));
        match written {
            Ok(()) => Ok((user, org, invitation.access.clone())),
            Err(keyward_store::StoreError::Stale) => Err(no_invitation()),
            Err(e) => Err(e.into()),
        }
    }
}
