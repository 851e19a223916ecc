//! An organization's other pages: projects and environments, members and
//! invitations, the audit log, and the plan with the organization's usage.

use super::chrome::{org_of, Chrome};
use super::form::Posted;
use super::keys::{actor_name, limits_text, people, when};
use super::viewer::Viewer;
use super::{render, svg, PageError, PageResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use keyward_app::usage::UsageRange;
use keyward_app::MemberInput;
use keyward_core::{timestamp, AuditAction, Kind, Level, Organization, Role};
use keyward_store::AuditQuery;
use serde::Deserialize;

/// A change made, named in the address so a reload does not repeat it.
fn done_message(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "project" => "The project was created, with a production and a preview environment.",
        "environment" => "The environment was added.",
        "invited" => "The invitation was created.",
        "member" => "The member's access was saved.",
        "removed" => "The member was removed from the organization.",
        "withdrawn" => "The invitation was withdrawn.",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

struct ProjectRow {
    id: String,
    name: String,
    environments: Vec<(String, &'static str)>,
}

#[derive(askama::Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    chrome: Option<Chrome>,
    org: Organization,
    projects: Vec<ProjectRow>,
    can_write: bool,
    done: Option<&'static str>,
    error: Option<String>,
}

async fn projects_page(
    state: &AppState,
    viewer: &Viewer,
    org: Organization,
    done: Option<&'static str>,
    error: Option<String>,
) -> PageResult {
    let tree = state.app.list_projects(&viewer.principal, &org.id).await?;
    let projects = tree
        .into_iter()
        .map(|(p, envs)| ProjectRow {
            id: p.id.to_string(),
            name: p.name.to_string(),
            environments: envs
                .into_iter()
                .map(|e| (e.name.to_string(), e.kind.as_str()))
                .collect(),
        })
        .collect();
    let mut page = render(&ProjectsPage {
        chrome: Some(Chrome::new(state, viewer, Some(&org), "projects").await?),
        can_write: viewer.manages_keys(&org.id),
        projects,
        done,
        error: error.clone(),
        org,
    })?;
    if error.is_some() {
        *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

async fn projects(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    projects_page(&state, &viewer, org, done_message(q.done.as_deref()), None).await
}

/// A refusal that belongs on the page (a name taken or malformed), or the error page.
fn refusal(e: keyward_app::AppError) -> Result<String, PageError> {
    use keyward_app::AppError as E;
    match e {
        E::Invalid { message, .. } => Ok(message),
        E::Conflict(message) => Ok(message),
        other => Err(other.into()),
    }
}

async fn create_project(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Posted { viewer, fields }: Posted,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    match state
        .app
        .create_project(&viewer.principal, &org.id, fields.text("name"))
        .await
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("/orgs/{}/projects?done=project", org.id)).into_response())
        }
        Err(e) => {
            let message = refusal(e)?;
            projects_page(&state, &viewer, org, None, Some(message)).await
        }
    }
}

async fn create_environment(
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    Posted { viewer, fields }: Posted,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let (project, _) = state
        .app
        .project_detail(&viewer.principal, &org.id, &project)
        .await?;
    let kind = Kind::parse(fields.get("kind").unwrap_or("live"))
        .map_err(|e| PageError::Forbidden(e.to_string()))?;
    match state
        .app
        .create_environment(&viewer.principal, &project, fields.text("name"), kind)
        .await
    {
        Ok(_) => Ok(
            Redirect::to(&format!("/orgs/{}/projects?done=environment", org.id)).into_response(),
        ),
        Err(e) => {
            let message = refusal(e)?;
            projects_page(&state, &viewer, org, None, Some(message)).await
        }
    }
}

struct MemberRow {
    user_id: String,
    email: String,
    name: String,
    role: Role,
    projects: Vec<String>,
    /// Each project's name and the member's level on it (`""`: none), for the form.
    levels: Vec<(String, &'static str)>,
    is_self: bool,
}

struct InvitationRow {
    id: String,
    email: String,
    role: Role,
    expires: String,
}

#[derive(askama::Template)]
#[template(path = "members.html")]
struct MembersPage {
    chrome: Option<Chrome>,
    org: Organization,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    project_names: Vec<String>,
    levels: [Level; 3],
    roles: [Role; 3],
    can_manage: bool,
    done: Option<&'static str>,
    error: Option<String>,
    /// A new invitation's link, shown once.
    link: Option<(String, String)>,
}

async fn members_page(
    state: &AppState,
    viewer: &Viewer,
    org: Organization,
    done: Option<&'static str>,
    error: Option<String>,
    link: Option<(String, String)>,
) -> PageResult {
    let who = &viewer.principal;
    let tree = state.app.list_projects(who, &org.id).await?;
    let names: std::collections::HashMap<_, _> = tree
        .iter()
        .map(|(p, _)| (p.id.clone(), p.name.to_string()))
        .collect();
    let members = state
        .app
        .list_members(who, &org.id)
        .await?
        .into_iter()
        .map(|(user, access)| MemberRow {
            levels: tree
                .iter()
                .map(|(p, _)| {
                    let level = access.projects.get(&p.id).map_or("", |l| l.as_str());
                    (p.name.to_string(), level)
                })
                .collect(),
            is_self: user.id == viewer.user_id,
            user_id: user.id.to_string(),
            name: user.display_name.clone().unwrap_or_default(),
            email: user.email,
            role: access.role,
            projects: access
                .projects
                .iter()
                .map(|(p, l)| {
                    format!(
                        "{}: {l}",
                        names.get(p).map_or_else(|| p.to_string(), Clone::clone)
                    )
                })
                .collect(),
        })
        .collect();
    let can_manage = who.org_access(&org.id).allows(Level::Manage);
    let invitations = if can_manage {
        state
            .app
            .list_invitations(who, &org.id)
            .await?
            .into_iter()
            .map(|i| InvitationRow {
                id: i.id.to_string(),
                email: i.email,
                role: i.access.role,
                expires: when(&i.expires_at),
            })
            .collect()
    } else {
        Vec::new()
    };
    let failed = error.is_some();
    let mut page = render(&MembersPage {
        chrome: Some(Chrome::new(state, viewer, Some(&org), "members").await?),
        project_names: tree.iter().map(|(p, _)| p.name.to_string()).collect(),
        levels: Level::ALL,
        roles: [Role::Member, Role::Admin, Role::Owner],
        members,
        invitations,
        can_manage,
        done,
        error,
        link,
        org,
    })?;
    if failed {
        *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

async fn members(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    members_page(
        &state,
        &viewer,
        org,
        done_message(q.done.as_deref()),
        None,
        None,
    )
    .await
}

/// A role and project levels from a form: `role`, then `project`/`level` pairs.
fn member_input(fields: &super::form::Fields) -> Result<MemberInput, String> {
    let role = Role::parse(fields.get("role").unwrap_or("member"))
        .ok_or_else(|| "Choose a role: member, admin or owner.".to_owned())?;
    let mut projects = Vec::new();
    for (project, level) in fields.all("project").zip(fields.all("level")) {
        if project.is_empty() || level.is_empty() {
            continue;
        }
        let level = Level::parse(level).map_err(|e| e.to_string())?;
        projects.push((project.to_owned(), level));
    }
    Ok(MemberInput { role, projects })
}

async fn invite(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Posted { viewer, fields }: Posted,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let input = match member_input(&fields) {
        Ok(i) => i,
        Err(message) => return members_page(&state, &viewer, org, None, Some(message), None).await,
    };
    match state
        .app
        .invite_member(&viewer.principal, &org.id, fields.text("email"), input)
        .await
    {
        Ok(created) => {
            let link = format!(
                "{}/invitations/accept#token={}",
                state.public_url.trim_end_matches('/'),
                created.token.expose_secret()
            );
            let to = created.invitation.email.clone();
            members_page(
                &state,
                &viewer,
                org,
                Some("The invitation was created."),
                None,
                Some((to, link)),
            )
            .await
        }
        Err(e) => {
            let message = refusal(e)?;
            members_page(&state, &viewer, org, None, Some(message), None).await
        }
    }
}

async fn set_member(
    State(state): State<AppState>,
    Path((org, user)): Path<(String, String)>,
    Posted { viewer, fields }: Posted,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let input = match member_input(&fields) {
        Ok(i) => i,
        Err(message) => return members_page(&state, &viewer, org, None, Some(message), None).await,
    };
    match state
        .app
        .set_member(&viewer.principal, &org.id, &user, input)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/orgs/{}/members?done=member", org.id)).into_response()),
        Err(e) => {
            let message = refusal(e)?;
            members_page(&state, &viewer, org, None, Some(message), None).await
        }
    }
}

async fn remove_member(
    State(state): State<AppState>,
    Path((org, user)): Path<(String, String)>,
    Posted { viewer, .. }: Posted,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    match state
        .app
        .remove_member(&viewer.principal, &org.id, &user)
        .await
    {
        Ok(()) => {
            Ok(Redirect::to(&format!("/orgs/{}/members?done=removed", org.id)).into_response())
        }
        Err(e) => {
            let message = refusal(e)?;
            members_page(&state, &viewer, org, None, Some(message), None).await
        }
    }
}

async fn withdraw(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Posted { viewer, .. }: Posted,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    state
        .app
        .revoke_invitation(&viewer.principal, &org.id, &id)
        .await?;
    Ok(Redirect::to(&format!("/orgs/{}/members?done=withdrawn", org.id)).into_response())
}

#[derive(Deserialize)]
struct AuditFilter {
    action: Option<String>,
    key: Option<String>,
    since: Option<String>,
    /// The last event id of the previous page; anything else starts from the newest.
    before: Option<String>,
}

struct AuditRow {
    at: String,
    action: String,
    actor: String,
    key: Option<String>,
    ip: String,
    details: String,
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Option<Chrome>,
    org: Organization,
    rows: Vec<AuditRow>,
    actions: Vec<&'static str>,
    action: String,
    key: String,
    since: String,
    error: Option<String>,
    next: Option<i64>,
}

const AUDIT_PAGE: u32 = 50;

async fn audit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
    Query(f): Query<AuditFilter>,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let mut error = None;
    let action_text = f.action.clone().unwrap_or_default();
    let action = match action_text.as_str() {
        "" => None,
        a => match AuditAction::parse(a) {
            Some(a) => Some(a),
            None => {
                error = Some("Choose an action from the list.".to_owned());
                None
            }
        },
    };
    let key_text = f.key.clone().unwrap_or_default();
    let key_id = match key_text.trim() {
        "" => None,
        k => match keyward_core::KeyId::parse(k) {
            Ok(id) => Some(id),
            Err(_) => {
                error = Some("The key id is not one: copy it from the API Keys page.".to_owned());
                None
            }
        },
    };
    let since_text = f.since.clone().unwrap_or_default();
    let since = match since_text.trim() {
        "" => None,
        s => match timestamp::parse_time_ago(s, state.app.now()) {
            Ok(t) => Some(t),
            Err(e) => {
                error = Some(format!("Since: {e}"));
                None
            }
        },
    };
    let events = state
        .app
        .audit_events(
            &viewer.principal,
            &AuditQuery {
                org_id: Some(org.id.clone()),
                action,
                key_id,
                since,
                before_id: f.before.as_deref().and_then(|b| b.parse().ok()),
                limit: Some(AUDIT_PAGE),
                ..AuditQuery::default()
            },
        )
        .await?;
    let people = people(&state, &viewer, &org).await?;
    let next = (events.len() == AUDIT_PAGE as usize)
        .then(|| events.last().and_then(|e| e.id))
        .flatten();
    let rows = events
        .into_iter()
        .map(|e| AuditRow {
            at: when(&e.at),
            action: e.action.as_str().to_owned(),
            actor: actor_name(&e.actor.encode(), &people),
            key: e.key_id.map(|k| k.to_string()),
            ip: e.ip.unwrap_or_default(),
            details: if e.details.is_null() {
                String::new()
            } else {
                e.details.to_string()
            },
        })
        .collect();
    render(&AuditPage {
        chrome: Some(Chrome::new(&state, &viewer, Some(&org), "audit").await?),
        actions: AuditAction::ALL.iter().map(|a| a.as_str()).collect(),
        rows,
        action: action_text,
        key: key_text,
        since: since_text,
        error,
        next,
        org,
    })
}

#[derive(askama::Template)]
#[template(path = "plan.html")]
struct PlanPage {
    chrome: Option<Chrome>,
    org: Organization,
    plan: Option<std::sync::Arc<keyward_core::Plan>>,
    keys_held: Option<u64>,
    key_limit: Option<u32>,
    quota_used: Option<u64>,
    quota_limit: Option<u64>,
    quota_resets: String,
    meter_class: String,
    limits: String,
    chart: String,
    total: u64,
    legend: [(&'static str, &'static str); 4],
    top: Vec<(String, u64)>,
}

async fn plan(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let who = &viewer.principal;
    let summary = state.app.org_summary(who, org.id.as_str()).await?;
    let plan = state.app.settings().plans.get(&org.plan).cloned();
    let today = state.app.now().date();
    // The API's default report: the last DEFAULT_DAYS days, ending today.
    let range = UsageRange::parse(None, None, today)?;
    let usage = state.app.org_usage(who, &org.id, range).await?;
    let (quota_used, quota_limit, quota_resets) = match &summary.quota {
        Some(q) => (Some(q.used), Some(q.limit), when(&q.resets_at)),
        None => (None, None, String::new()),
    };
    let percent = match (quota_used, quota_limit) {
        (Some(used), Some(limit)) if limit > 0 => (used.saturating_mul(10) / limit).min(10) * 10,
        _ => 0,
    };
    let limits = plan
        .as_ref()
        .map(|p| limits_text(&p.rate_limits))
        .unwrap_or_default();
    render(&PlanPage {
        chrome: Some(Chrome::new(&state, &viewer, Some(&org), "plan").await?),
        keys_held: summary.keys_held,
        key_limit: summary.key_limit,
        quota_used,
        quota_limit,
        quota_resets,
        meter_class: format!("meter meter-{percent}"),
        limits,
        chart: svg::usage_chart(&usage.days),
        total: usage.total,
        legend: svg::LEGEND,
        top: usage
            .keys
            .iter()
            .take(10)
            .map(|k| (k.key_id.to_string(), k.total))
            .collect(),
        plan,
        org,
    })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/projects", get(projects).post(create_project))
        .route(
            "/orgs/{org}/projects/{project}/environments",
            post(create_environment),
        )
        .route("/orgs/{org}/members", get(members))
        .route("/orgs/{org}/members/invite", post(invite))
        .route("/orgs/{org}/members/{user}", post(set_member))
        .route("/orgs/{org}/members/{user}/remove", post(remove_member))
        .route("/orgs/{org}/invitations/{id}/withdraw", post(withdraw))
        .route("/orgs/{org}/audit", get(audit))
        .route("/orgs/{org}/plan", get(plan))
}
