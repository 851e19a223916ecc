//! Invitations: `/v1/orgs/{org}/invitations` and `/v1/invitations/accept`. Adding a
//! person who is not a member is an invitation they (or the operator) accept; the
//! answer to an invitation is the same whether or not the address has an account.

use crate::auth::Caller;
use crate::error::{ApiResult, Json, Path};
use crate::openapi::{Conflict, Forbidden, NotFound, Unprocessable};
use crate::routes::members::{MemberOut, ProjectAccessIn, ProjectAccessOut};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;
use keyward_app::{schema, CreatedInvitation, MemberInput};
use keyward_core::{Invitation, Role, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationIn {
    /// The address to invite.
    #[schema(schema_with = schema::email)]
    pub email: String,
    /// `owner`, `admin` or `member`.
    #[schema(schema_with = schema::role, example = "member")]
    pub role: Role,
    /// For members: their level on each project they may use.
    #[serde(default)]
    pub projects: Vec<ProjectAccessIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationOut {
    pub id: String,
    pub org_id: String,
    pub email: String,
    #[schema(schema_with = schema::role)]
    pub role: Role,
    pub projects: Vec<ProjectAccessOut>,
    /// Who invited: an actor such as `user:usr_…`, `key:…` or `token:…`.
    pub invited_by: String,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Seven days after it was made.
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

impl From<&Invitation> for InvitationOut {
    fn from(i: &Invitation) -> Self {
        InvitationOut {
            id: i.id.to_string(),
            org_id: i.org_id.to_string(),
            email: i.email.clone(),
            role: i.access.role,
            projects: i
                .access
                .projects
                .iter()
                .map(|(p, l)| ProjectAccessOut {
                    project_id: p.to_string(),
                    level: *l,
                })
                .collect(),
            invited_by: i.invited_by.encode(),
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// An invitation just made: `token` is shown this once; deliver it to the person.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInvitationOut {
    /// The one-time token that accepts the invitation. It is never shown again.
    pub token: String,
    #[serde(flatten)]
    pub invitation: InvitationOut,
}

impl From<&CreatedInvitation> for CreatedInvitationOut {
    fn from(c: &CreatedInvitation) -> Self {
        CreatedInvitationOut {
            token: c.token.expose_secret().to_owned(),
            invitation: InvitationOut::from(&c.invitation),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    pub data: Vec<InvitationOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptIn {
    /// The invitation's token.
    #[schema(value_type = String)]
    pub token: SecretString,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedOut {
    pub org_id: String,
    pub member: MemberOut,
}

/// Invite a person to an organization, with a role and project levels.
#[utoipa::path(post, path = "/v1/orgs/{org}/invitations", tag = "members", operation_id = "invite_member", request_body = InvitationIn,
    params(("org" = String, Path, description = "Organization id or name")),
    responses(
        (status = 201, body = CreatedInvitationOut), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn invite(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(org): Path<String>,
    Json(body): Json<InvitationIn>,
) -> ApiResult<(StatusCode, Json<CreatedInvitationOut>)> {
    let org = s.app.org(&who, &org).await?;
    let input = MemberInput {
        role: body.role,
        projects: body
            .projects
            .into_iter()
            .map(|p| (p.project, p.level))
            .collect(),
    };
    let created = s
        .app
        .invite_member(&who, &org.id, &body.email, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedInvitationOut::from(&created)),
    ))
}

/// List an organization's pending invitations, newest first.
#[utoipa::path(get, path = "/v1/orgs/{org}/invitations", tag = "members", operation_id = "list_invitations",
    params(("org" = String, Path, description = "Organization id or name")),
    responses(
        (status = 200, body = InvitationList), (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(org): Path<String>,
) -> ApiResult<Json<InvitationList>> {
    let org = s.app.org(&who, &org).await?;
    let invitations = s.app.list_invitations(&who, &org.id).await?;
    Ok(Json(InvitationList {
        data: invitations.iter().map(InvitationOut::from).collect(),
    }))
}

/// Withdraw a pending invitation: its token stops working.
#[utoipa::path(delete, path = "/v1/orgs/{org}/invitations/{invitation_id}", tag = "members", operation_id = "withdraw_invitation",
    params(("org" = String, Path, description = "Organization id or name"), ("invitation_id" = String, Path)),
    responses(
        (status = 204), (status = 403, response = Forbidden), (status = 404, response = NotFound),
    ),
    security(("bearer" = [])))]
pub async fn revoke(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = s.app.org(&who, &org).await?;
    s.app.revoke_invitation(&who, &org.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation: as the person invited (the operator's dashboard acting for
/// them with `Keyward-User`), or as the operator on their behalf, which creates their
/// account if they have none.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "members", operation_id = "accept_invitation", request_body = AcceptIn,
    responses(
        (status = 200, body = AcceptedOut), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
    ),
    security(("bearer" = [])))]
pub async fn accept(
    State(s): State<AppState>,
    Caller(who): Caller,
    Json(body): Json<AcceptIn>,
) -> ApiResult<Json<AcceptedOut>> {
    let (user, org, access) = s
        .app
        .accept_invitation(&who, body.token.expose_secret())
        .await?;
    Ok(Json(AcceptedOut {
        org_id: org.to_string(),
        member: MemberOut::new(&user, &access),
    }))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs/{org}/invitations", get(list).post(invite))
        .route("/v1/orgs/{org}/invitations/{invitation_id}", delete(revoke))
        .route("/v1/invitations/accept", post(accept))
}
