//! People: `/v1/users`, `/v1/orgs/{org}/members/{user}`, invitations.

use super::{Level, Role};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A new person (operator only).
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserIn {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOut {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(with = "super::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A level on a project, for a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectAccessIn {
    /// Project name or id.
    pub project: String,
    pub level: Level,
}

/// A person's role in an organization, and for members their project levels.
#[derive(Debug, Clone, Serialize)]
pub struct MemberIn {
    pub role: Role,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<ProjectAccessIn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectAccessOut {
    pub project_id: String,
    pub level: Level,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberOut {
    pub user: UserOut,
    pub role: Role,
    pub projects: Vec<ProjectAccessOut>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberList {
    pub data: Vec<MemberOut>,
}

/// An invitation to an organization.
#[derive(Debug, Clone, Serialize)]
pub struct InvitationIn {
    pub email: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<ProjectAccessIn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationOut {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: Role,
    pub projects: Vec<ProjectAccessOut>,
    /// An actor such as `user:usr_…`, `key:…` or `token:…`.
    pub invited_by: String,
    #[serde(with = "super::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "super::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An invitation just made: `token`, shown this once, accepts it (redacted in `Debug`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedInvitationOut {
    #[serde(serialize_with = "expose")]
    pub token: SecretString,
    #[serde(flatten)]
    pub invitation: InvitationOut,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationList {
    pub data: Vec<InvitationOut>,
}

/// Accepting an invitation with its token.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptIn {
    #[serde(serialize_with = "expose")]
    pub token: SecretString,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedOut {
    pub org_id: String,
    pub member: MemberOut,
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secrecy::ExposeSecret::expose_secret(secret))
}

/// Everyone, oldest first (`GET /v1/users`, operator only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    pub data: Vec<UserOut>,
}

/// One organization a person belongs to, and what they hold there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMembershipOut {
    pub org_id: String,
    /// The organization's name.
    pub org: String,
    pub role: Role,
    pub projects: Vec<ProjectAccessOut>,
}

/// A person and every organization they belong to (`GET /v1/users/{user}`, operator
/// only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetail {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(with = "super::rfc3339")]
    pub created_at: OffsetDateTime,
    pub organizations: Vec<UserMembershipOut>,
}
