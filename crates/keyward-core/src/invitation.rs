//! Invitations: nobody joins an organization without accepting. An owner or admin (or a
//! key with the power to manage members) invites an e-mail address with a role and
//! project levels; the invitation carries a one-time token, shown once, that the person
//! (or the operator, on their behalf) uses to accept within [`LIFETIME`]. Inviting
//! says nothing about whether an account exists for the address, anywhere.
//!
//! The token is `inv_<16-character id>_<43-character secret>`: the id finds the
//! invitation, and only a keyed hash of the whole token is stored, as for keys.

use crate::access::MemberAccess;
use crate::audit::Actor;
use crate::base62;
use crate::hash::KeyHash;
use crate::ids::{InvitationId, OrgId, UserId};
use crate::key::SECRET_LEN;
use crate::timestamp::Timestamp;
use rand_core::{CryptoRng, RngCore};
use std::fmt;

/// How long an invitation can be accepted: seven days.
pub const LIFETIME: time::Duration = time::Duration::days(7);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub org_id: OrgId,
    /// Lowercased.
    pub email: String,
    /// The role and project levels the person gets on accepting.
    pub access: MemberAccess,
    pub invited_by: Actor,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub hash: KeyHash,
    pub accepted_at: Option<Timestamp>,
    pub accepted_by: Option<UserId>,
    pub revoked_at: Option<Timestamp>,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Revoked => "revoked",
            InvitationState::Expired => "expired",
        }
    }
}

impl Invitation {
    pub fn state(&self, now: Timestamp) -> InvitationState {
        match (self.accepted_at, self.revoked_at) {
            (Some(_), _) => InvitationState::Accepted,
            (None, Some(_)) => InvitationState::Revoked,
            (None, None) if self.expires_at <= now => InvitationState::Expired,
            (None, None) => InvitationState::Pending,
        }
    }
}

/// An invitation's one-time token. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationToken(String);

impl InvitationToken {
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> (InvitationId, Self) {
        let id = InvitationId::generate(rng);
        let secret = base62::random(rng, SECRET_LEN);
        let text = format!("{id}_{secret}");
        (id, InvitationToken(text))
    }

    /// The invitation a presented token names, if it has the shape of one.
    pub fn parse(text: &str) -> Option<(InvitationId, Self)> {
        let text = text.trim();
        let (id, secret) = text.rsplit_once('_')?;
        let id = InvitationId::parse(id)?;
        (secret.len() == SECRET_LEN && base62::is_base62(secret))
            .then(|| (id, InvitationToken(text.to_owned())))
    }

    /// The token text: to hand it to the person once, or to hash it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvitationToken([redacted])")
    }
}

impl fmt::Display for InvitationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted invitation token]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn tokens_round_trip_and_never_show_themselves() {
        let (id, token) = InvitationToken::generate(&mut OsRng);
        let text = token.expose_secret();
        assert!(text.starts_with("inv_"));
        let (parsed_id, parsed) = InvitationToken::parse(text).unwrap();
        assert_eq!((parsed_id, &parsed), (id, &token));
        assert!(!format!("{token:?} {token}").contains(&text[22..]));
        for bad in ["", "inv_x_y", &text[..text.len() - 1], &format!("{text}!")] {
            assert!(InvitationToken::parse(bad).is_none(), "{bad}");
        }
    }
}
