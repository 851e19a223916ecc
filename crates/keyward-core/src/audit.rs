//! Audit events: who did what to which key, when and from where. Append-only, written
//! in the same transaction as the change they describe, and never holding a secret
//! (the types that go in here have no way to carry one).

use crate::ids::{OrgId, UserId};
use crate::key::KeyId;
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The operator at the command line, with their OS user name.
    Cli(String),
    /// An operator admin token, by its public id.
    AdminToken(String),
    User(UserId),
    Key(KeyId),
    /// keyward itself, such as a rotation's grace period ending.
    System,
}

impl Actor {
    /// The stored form: `cli:alice`, `token:…`, `user:usr_…`, `key:…`, `system`.
    pub fn encode(&self) -> String {
        self.to_string()
    }

    pub fn decode(s: &str) -> Self {
        match s.split_once(':') {
            Some(("cli", name)) => Actor::Cli(name.to_owned()),
            Some(("token", id)) => Actor::AdminToken(id.to_owned()),
            Some(("user", id)) => Actor::User(UserId::from_trusted(id.to_owned())),
            Some(("key", id)) => match KeyId::parse(id) {
                Ok(id) => Actor::Key(id),
                Err(_) => Actor::System,
            },
            _ => Actor::System,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Cli(name) => write!(f, "cli:{name}"),
            Actor::AdminToken(id) => write!(f, "token:{id}"),
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Key(id) => write!(f, "key:{id}"),
            Actor::System => f.write_str("system"),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    #[serde(rename = "org.created")]
    OrgCreated,
    #[serde(rename = "org.updated")]
    OrgUpdated,
    #[serde(rename = "project.created")]
    ProjectCreated,
    #[serde(rename = "environment.created")]
    EnvironmentCreated,
    #[serde(rename = "member.added")]
    MemberAdded,
    #[serde(rename = "member.changed")]
    MemberChanged,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "member.invited")]
    MemberInvited,
    #[serde(rename = "invitation.revoked")]
    InvitationRevoked,
    #[serde(rename = "key.created")]
    KeyCreated,
    #[serde(rename = "key.updated")]
    KeyUpdated,
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    #[serde(rename = "key.reactivated")]
    KeyReactivated,
    #[serde(rename = "key.rotated")]
    KeyRotated,
    #[serde(rename = "key.deleted")]
    KeyDeleted,
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "admin_token.created")]
    AdminTokenCreated,
    #[serde(rename = "admin_token.revoked")]
    AdminTokenRevoked,
    #[serde(rename = "user.signed_in")]
    UserSignedIn,
    #[serde(rename = "user.signed_out_everywhere")]
    UserSignedOutEverywhere,
    #[serde(rename = "user.reset_link_created")]
    ResetLinkCreated,
    #[serde(rename = "user.password_reset")]
    PasswordReset,
}

impl AuditAction {
    pub const ALL: [AuditAction; 22] = [
        AuditAction::OrgCreated,
        AuditAction::OrgUpdated,
        AuditAction::ProjectCreated,
        AuditAction::EnvironmentCreated,
        AuditAction::MemberAdded,
        AuditAction::MemberChanged,
        AuditAction::MemberRemoved,
        AuditAction::MemberInvited,
        AuditAction::InvitationRevoked,
        AuditAction::KeyCreated,
        AuditAction::KeyUpdated,
        AuditAction::KeyRevoked,
        AuditAction::KeyReactivated,
        AuditAction::KeyRotated,
        AuditAction::KeyDeleted,
        AuditAction::UserCreated,
        AuditAction::AdminTokenCreated,
        AuditAction::AdminTokenRevoked,
        AuditAction::UserSignedIn,
        AuditAction::UserSignedOutEverywhere,
        AuditAction::ResetLinkCreated,
        AuditAction::PasswordReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::OrgCreated => "org.created",
            AuditAction::OrgUpdated => "org.updated",
            AuditAction::ProjectCreated => "project.created",
            AuditAction::EnvironmentCreated => "environment.created",
            AuditAction::MemberAdded => "member.added",
            AuditAction::MemberChanged => "member.changed",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::MemberInvited => "member.invited",
            AuditAction::InvitationRevoked => "invitation.revoked",
            AuditAction::KeyCreated => "key.created",
            AuditAction::KeyUpdated => "key.updated",
            AuditAction::KeyRevoked => "key.revoked",
            AuditAction::KeyReactivated => "key.reactivated",
            AuditAction::KeyRotated => "key.rotated",
            AuditAction::KeyDeleted => "key.deleted",
            AuditAction::UserCreated => "user.created",
            AuditAction::AdminTokenCreated => "admin_token.created",
            AuditAction::AdminTokenRevoked => "admin_token.revoked",
            AuditAction::UserSignedIn => "user.signed_in",
            AuditAction::UserSignedOutEverywhere => "user.signed_out_everywhere",
            AuditAction::ResetLinkCreated => "user.reset_link_created",
            AuditAction::PasswordReset => "user.password_reset",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the audit log. `id` is assigned by the store and orders events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub id: Option<i64>,
    #[serde(with = "crate::timestamp::rfc3339")]
    pub at: Timestamp,
    /// The organization the event belongs to; `None` for the operator's own stream
    /// (admin tokens, people), which only the operator reads.
    pub org_id: Option<OrgId>,
    pub actor: Actor,
    pub action: AuditAction,
    pub key_id: Option<KeyId>,
    /// What changed: for updates, `before` and `after` of every changed field.
    pub details: serde_json::Value,
    /// The client address, when the change came over the network.
    pub ip: Option<String>,
}

impl AuditEvent {
    /// An event of `org` (`None`: the operator's stream) about to be recorded.
    pub fn new(org: Option<OrgId>, actor: Actor, action: AuditAction, at: Timestamp) -> Self {
        AuditEvent {
            id: None,
            at,
            org_id: org,
            actor,
            action,
            key_id: None,
            details: serde_json::Value::Object(Default::default()),
            ip: None,
        }
    }

    /// About this key.
    pub fn key(mut self, id: KeyId) -> Self {
        self.key_id = Some(id);
        self
    }

    /// With these details (never a secret).
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// Made by a request from this address.
    pub fn from(mut self, ip: Option<std::net::IpAddr>) -> Self {
        self.ip = ip.map(|ip| ip.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn actors_round_trip_through_their_stored_form() {
        for actor in [
            Actor::Cli("alice".into()),
            Actor::AdminToken("tok123".into()),
            Actor::User(UserId::generate(&mut OsRng)),
            Actor::Key(KeyId::generate(&mut OsRng)),
            Actor::System,
        ] {
            assert_eq!(Actor::decode(&actor.encode()), actor);
        }
    }

    #[test]
    fn actions_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
    }
}
