//! People: `/v1/users` (operator) and `/v1/orgs/{org}/members/{user}`.

use crate::auth::Caller;
use crate::error::{ApiResult, Json, Path};
use crate::openapi::{Conflict, Forbidden, NotFound, Unprocessable};

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use keyward_app::{schema, MemberInput};
use keyward_core::{Level, MemberAccess, Role, Timestamp, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    #[schema(schema_with = schema::email)]
    pub email: String,
    /// Left out when blank.
    #[schema(schema_with = schema::display_name_or_null)]
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut {
            id: u.id.to_string(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectAccessIn {
    /// Project name or id.
    pub project: String,
    #[schema(schema_with = schema::level, example = "write")]
    pub level: Level,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberIn {
    /// `owner`, `admin` or `member`.
    #[schema(schema_with = schema::role, example = "member")]
    pub role: Role,
    /// For members: their level on each project they may use.
    #[serde(default)]
    pub projects: Vec<ProjectAccessIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectAccessOut {
    pub project_id: String,
    #[schema(schema_with = schema::level)]
    pub level: Level,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub user: UserOut,
    #[schema(schema_with = schema::role)]
    pub role: Role,
    pub projects: Vec<ProjectAccessOut>,
}

impl MemberOut {
    pub fn new(user: &User, access: &MemberAccess) -> Self {
        MemberOut {
            user: UserOut::from(user),
            role: access.role,
            projects: access
                .projects
                .iter()
                .map(|(p, l)| ProjectAccessOut {
                    project_id: p.to_string(),
                    level: *l,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub data: Vec<MemberOut>,
}

/// Create a person (operator only). Add them to organizations as members.
#[utoipa::path(post, path = "/v1/users", tag = "members", operation_id = "create_user", request_body = UserIn,
    responses(
        (status = 201, body = UserOut), (status = 403, response = Forbidden),
        (status = 409, response = Conflict), (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn create_user(
    State(s): State<AppState>,
    Caller(who): Caller,
    Json(body): Json<UserIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let user = s
        .app
        .create_user(&who, &body.email, body.display_name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(&user))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// Everyone, oldest first.
    pub data: Vec<UserOut>,
}

/// One organization a person belongs to, and what they hold there.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserMembershipOut {
    pub org_id: String,
    /// The organization's name.
    pub org: String,
    #[schema(schema_with = schema::role)]
    pub role: Role,
    pub projects: Vec<ProjectAccessOut>,
}

/// A person and every organization they belong to.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetail {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    pub organizations: Vec<UserMembershipOut>,
}

/// List everyone, oldest first (operator only).
#[utoipa::path(get, path = "/v1/users", tag = "members", operation_id = "list_users",
    responses((status = 200, body = UserList), (status = 403, response = Forbidden)),
    security(("bearer" = [])))]
pub async fn list_users(
    State(s): State<AppState>,
    Caller(who): Caller,
) -> ApiResult<Json<UserList>> {
    let users = s.app.list_users(&who).await?;
    Ok(Json(UserList {
        data: users.iter().map(UserOut::from).collect(),
    }))
}

/// A person, by id or e-mail address, and the organizations they belong to
/// (operator only).
#[utoipa::path(get, path = "/v1/users/{user}", tag = "members", operation_id = "get_user",
    params(("user" = String, Path, description = "User id or e-mail address")),
    responses(
        (status = 200, body = UserDetail), (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])))]
pub async fn get_user(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(user): Path<String>,
) -> ApiResult<Json<UserDetail>> {
    let (user, memberships) = s.app.user_memberships(&who, &user).await?;
    let mut organizations = Vec::with_capacity(memberships.len());
    for (org_id, access) in &memberships {
        let org = s.app.org(&who, org_id.as_str()).await?;
        let member = MemberOut::new(&user, access);
        organizations.push(UserMembershipOut {
            org_id: org.id.to_string(),
            org: org.name.to_string(),
            role: member.role,
            projects: member.projects,
        });
    }
    Ok(Json(UserDetail {
        id: user.id.to_string(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        created_at: user.created_at,
        organizations,
    }))
}

/// List an organization's members with their roles and project levels.
#[utoipa::path(get, path = "/v1/orgs/{org}/members", tag = "members", operation_id = "list_members",
    params(("org" = String, Path, description = "Organization id or name")),
    responses(
        (status = 200, body = MemberList), (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])))]
pub async fn list_members(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(org): Path<String>,
) -> ApiResult<Json<MemberList>> {
    let org = s.app.org(&who, &org).await?;
    let members = s.app.list_members(&who, &org.id).await?;
    Ok(Json(MemberList {
        data: members.iter().map(|(u, a)| MemberOut::new(u, a)).collect(),
    }))
}

/// Add a person to an organization, or change their role and project levels.
/// Takes effect on the next check of their user-bound keys.
#[utoipa::path(put, path = "/v1/orgs/{org}/members/{user}", tag = "members", operation_id = "set_member", request_body = MemberIn,
    params(("org" = String, Path, description = "Organization id or name"), ("user" = String, Path, description = "User id or e-mail address")),
    responses(
        (status = 200, body = MemberOut), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn set_member(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((org, user)): Path<(String, String)>,
    Json(body): Json<MemberIn>,
) -> ApiResult<Json<MemberOut>> {
    let org = s.app.org(&who, &org).await?;
    let input = MemberInput {
        role: body.role,
        projects: body
            .projects
            .into_iter()
            .map(|p| (p.project, p.level))
            .collect(),
    };
    let access = s.app.set_member(&who, &org.id, &user, input).await?;
    let user = s.app.user(&user).await?;
    Ok(Json(MemberOut::new(&user, &access)))
}

/// Remove a person from an organization. Their user-bound keys there stop working at
/// the next check.
#[utoipa::path(delete, path = "/v1/orgs/{org}/members/{user}", tag = "members", operation_id = "remove_member",
    params(("org" = String, Path, description = "Organization id or name"), ("user" = String, Path, description = "User id or e-mail address")),
    responses(
        (status = 204, description = "Removed"), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
    ),
    security(("bearer" = [])))]
pub async fn remove_member(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = s.app.org(&who, &org).await?;
    s.app.remove_member(&who, &org.id, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/{user}", get(get_user))
        .route("/v1/orgs/{org}/members", get(list_members))
        .route(
            "/v1/orgs/{org}/members/{user}",
            put(set_member).delete(remove_member),
        )
}
