//! Settings → API Keys: the list, the form that creates a key, the dialog that shows
//! it once, each key's page (settings, grants, usage, history) and its actions.

use super::chrome::{org_of, Chrome};
use super::form::Posted;
use super::key_form::{day, Errors, Intent, KeyForm, EXPIRY_CHOICES};
use super::viewer::Viewer;
use super::{render, svg, PageError, PageResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use keyward_app::usage::UsageRange;
use keyward_app::views::KeyView;
use keyward_app::{KeyInput, KeyPatchInput};
use keyward_core::{timestamp, Actor, AuditEvent, KeyStatus, Kind, Level, Organization, Timestamp};
use keyward_store::AuditQuery;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};

/// Keys shown on one page of the list.
const PAGE: u32 = 50;

/// A time as the pages show it: `2026-12-02 14:05 UTC`.
pub fn when(at: &Timestamp) -> String {
    let text = timestamp::format(*at);
    format!("{} {} UTC", &text[..10], &text[11..16])
}

/// An optional time, or `fallback`.
pub fn when_or(at: &Option<Timestamp>, fallback: &str) -> String {
    at.as_ref().map_or_else(|| fallback.to_owned(), when)
}

/// Who did something, in words: a person's e-mail address when known.
pub fn actor_name(encoded: &str, people: &HashMap<String, String>) -> String {
    match Actor::decode(encoded) {
        Actor::User(id) => people
            .get(id.as_str())
            .cloned()
            .unwrap_or_else(|| format!("user {id}")),
        Actor::Key(id) => format!("key {id}"),
        Actor::AdminToken(id) => format!("admin token {id}"),
        Actor::Cli(who) => format!("command line ({who})"),
        Actor::System => "keyward".to_owned(),
    }
}

/// The organization's people by user id, for naming who did what.
pub async fn people(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
) -> Result<HashMap<String, String>, PageError> {
    let members = state.app.list_members(&viewer.principal, &org.id).await?;
    Ok(members
        .into_iter()
        .map(|(user, _)| (user.id.to_string(), user.email))
        .collect())
}

/// Rate limits in words: `burst 100 per 10s, sustained 5000 per 1h`.
pub fn limits_text(limits: &[keyward_core::RateLimit]) -> String {
    limits
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A short line for what a key may do.
fn summary(key: &KeyView) -> Vec<String> {
    let mut parts: Vec<String> = key.grants.iter().map(|g| g.label()).collect();
    parts.extend(key.scopes.iter().cloned());
    if key.org_access.0.is_some() {
        parts.push(format!("organization: {}", key.org_access));
    }
    parts
}

/// A finished change, named in the address so a reload does not repeat it.
fn done_message(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "revoked" => "The key was revoked. Requests with it now get 401.",
        "reactivated" => "The key was reactivated and works again.",
        "deleted" => "The key was deleted. It can never be used again.",
        "updated" => "The key's settings were saved.",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

/// One key as a row of the list.
struct KeyRow {
    key: KeyView,
    permissions: Vec<String>,
    created_by: String,
    created: String,
    last_used: String,
    expires: String,
}

#[derive(askama::Template)]
#[template(path = "keys.html")]
struct KeysPage {
    chrome: Option<Chrome>,
    org: Organization,
    rows: Vec<KeyRow>,
    status: String,
    kind: String,
    filtered: bool,
    next: Option<String>,
    done: Option<&'static str>,
    can_manage: bool,
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(KeyStatus::parse);
    let kind = q
        .kind
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|k| Kind::parse(k).ok());
    let after = q.after.as_deref().filter(|a| !a.is_empty());
    let keys = match state
        .app
        .list_keys(&viewer.principal, &org.id, status, kind, after, PAGE)
        .await
    {
        // A stale "next page" link starts the list again rather than failing.
        Err(keyward_app::AppError::Invalid { .. }) => {
            return Ok(Redirect::to(&format!("/orgs/{}/keys", org.id)).into_response())
        }
        other => other?,
    };
    let people = people(&state, &viewer, &org).await?;
    let next = (keys.len() == PAGE as usize)
        .then(|| keys.last().map(|k| k.id.to_string()))
        .flatten();
    let rows = keys
        .into_iter()
        .map(|key| KeyRow {
            permissions: summary(&key),
            created_by: actor_name(&key.created_by, &people),
            created: when(&key.created_at),
            last_used: when_or(&key.last_used_at, "Never"),
            expires: when_or(&key.expires_at, "Never"),
            key,
        })
        .collect();
    render(&KeysPage {
        chrome: Some(Chrome::new(&state, &viewer, Some(&org), "keys").await?),
        can_manage: viewer.manages_keys(&org.id),
        rows,
        status: status.map_or("", |s| s.as_str()).into(),
        kind: kind.map_or("", |k| k.as_str()).into(),
        filtered: status.is_some() || kind.is_some(),
        next,
        done: done_message(q.done.as_deref()),
        org,
    })
}

/// What the key form offers to choose from.
struct Choices {
    projects: Vec<String>,
    environments: Vec<String>,
    scopes: Vec<(String, Level)>,
    plan_limits: String,
    latest_day: String,
}

async fn choices(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
) -> Result<Choices, PageError> {
    let tree = state.app.list_projects(&viewer.principal, &org.id).await?;
    let mut environments = BTreeSet::new();
    for (_, envs) in &tree {
        environments.extend(envs.iter().map(|e| e.name.to_string()));
    }
    let settings = state.app.settings();
    let plan_limits = settings
        .plans
        .get(&org.plan)
        .map(|p| limits_text(&p.rate_limits))
        .unwrap_or_default();
    Ok(Choices {
        projects: tree.iter().map(|(p, _)| p.name.to_string()).collect(),
        environments: environments.into_iter().collect(),
        scopes: settings.catalog.scopes(),
        plan_limits,
        latest_day: day(state.app.now() + settings.policy.max_lifetime),
    })
}

#[derive(askama::Template)]
#[template(path = "key_new.html")]
struct NewKeyPage {
    chrome: Option<Chrome>,
    org: Organization,
    form: KeyForm,
    errors: Errors,
    choices: Choices,
    levels: [Level; 3],
    expiry_choices: [(&'static str, &'static str); 4],
    editing: bool,
    expires: String,
}

async fn new_key_page(
    state: &AppState,
    viewer: &Viewer,
    org: Organization,
    form: KeyForm,
    errors: Errors,
) -> PageResult {
    if !viewer.manages_keys(&org.id) {
        return Err(PageError::Forbidden(
            "Only owners and admins of this organization create API keys. Ask one of them \
             to create the key, or to make you an admin."
                .into(),
        ));
    }
    render(&NewKeyPage {
        chrome: Some(Chrome::new(state, viewer, Some(&org), "keys").await?),
        choices: choices(state, viewer, &org).await?,
        org,
        form,
        levels: Level::ALL,
        expiry_choices: EXPIRY_CHOICES,
        errors,
        editing: false,
        expires: String::new(),
    })
}

async fn new_key(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    new_key_page(&state, &viewer, org, KeyForm::blank(), Errors::default()).await
}

#[derive(askama::Template)]
#[template(path = "key_created.html")]
struct CreatedPage {
    chrome: Option<Chrome>,
    org: Organization,
    key: KeyView,
    /// The whole key: on this page once, never again.
    secret: String,
    /// For a rotation: the key it replaces, and until when that one still works.
    replaces: Option<(String, String)>,
}

fn unprocessable(mut page: axum::response::Response) -> axum::response::Response {
    *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    page
}

async fn create(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Posted { viewer, fields }: Posted,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let mut form = KeyForm::posted(&fields);
    let intent = KeyForm::intent(&fields);
    if intent != Intent::Save {
        form.apply(intent);
        return new_key_page(&state, &viewer, org, form, Errors::default()).await;
    }
    let mut errors = Errors::default();
    if form.name.is_empty() {
        errors.add(
            "name",
            "Give the key a name, such as the service that will use it.",
        );
    }
    let parsed = form.parse(state.app.now(), &mut errors);
    let Some(parsed) = parsed.filter(|_| errors.is_empty()) else {
        let page = new_key_page(&state, &viewer, org, form, errors).await?;
        return Ok(unprocessable(page));
    };
    let input = KeyInput {
        name: form.name.clone(),
        description: Some(form.description.clone()).filter(|d| !d.is_empty()),
        kind: parsed.kind,
        grants: parsed.grants,
        scopes: form.scopes.clone(),
        org_access: parsed.org_access,
        expires_at: parsed.expires_at.flatten(),
        service: form.service,
        ip_allowlist: parsed.ip_allowlist,
        metadata: serde_json::Value::Null,
        rate_limits: parsed.rate_limits,
    };
    match state
        .app
        .create_key(&viewer.principal, &org.id, input)
        .await
    {
        Ok(created) => render(&CreatedPage {
            chrome: Some(Chrome::new(&state, &viewer, Some(&org), "keys").await?),
            secret: created.secret.expose_secret().to_owned(),
            key: created.key,
            replaces: None,
            org,
        }),
        Err(e) => {
            errors.add_refusal(e)?;
            let page = new_key_page(&state, &viewer, org, form, errors).await?;
            Ok(unprocessable(page))
        }
    }
}

#[derive(askama::Template)]
#[template(path = "key_detail.html")]
struct KeyPage {
    chrome: Option<Chrome>,
    org: Organization,
    key: KeyView,
    created_by: String,
    history: Vec<HistoryRow>,
    chart: String,
    usage_total: u64,
    form: KeyForm,
    errors: Errors,
    choices: Choices,
    levels: [Level; 3],
    expiry_choices: [(&'static str, &'static str); 4],
    can_manage: bool,
    done: Option<&'static str>,
    editing: bool,
    created: String,
    last_used: String,
    expires: String,
    limits: String,
    legend: [(&'static str, &'static str); 4],
}

struct HistoryRow {
    at: String,
    action: String,
    actor: String,
    ip: String,
}

fn history_rows(events: Vec<AuditEvent>, people: &HashMap<String, String>) -> Vec<HistoryRow> {
    events
        .into_iter()
        .map(|e| HistoryRow {
            at: when(&e.at),
            action: e.action.as_str().replace(['.', '_'], " "),
            actor: actor_name(&e.actor.encode(), people),
            ip: e.ip.unwrap_or_default(),
        })
        .collect()
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn key_page(
    state: &AppState,
    viewer: &Viewer,
    org: Organization,
    id: &str,
    form: Option<KeyForm>,
    errors: Errors,
    done: Option<&'static str>,
) -> PageResult {
    let key = state.app.key(&viewer.principal, id).await?;
    if key.org_id != org.id {
        return Err(PageError::NotFound(format!("key '{id}' not found")));
    }
    let view = state.app.view(&key).await?;
    let people = people(state, viewer, &org).await?;
    let events = state
        .app
        .audit_events(
            &viewer.principal,
            &AuditQuery {
                org_id: Some(org.id.clone()),
                key_id: Some(key.id),
                limit: Some(50),
                ..AuditQuery::default()
            },
        )
        .await?;
    let today = state.app.now().date();
    // The API's default report: the last DEFAULT_DAYS days, ending today.
    let range = UsageRange::parse(None, None, today)?;
    let usage = state
        .app
        .key_usage(&viewer.principal, key.id.as_str(), range)
        .await?;
    let can_manage = viewer.manages_keys(&org.id) && key.status != KeyStatus::Deleted;
    render(&KeyPage {
        chrome: Some(Chrome::new(state, viewer, Some(&org), "keys").await?),
        created_by: actor_name(&view.created_by, &people),
        history: history_rows(events, &people),
        chart: svg::usage_chart(&usage.days),
        usage_total: usage.total,
        form: form.unwrap_or_else(|| KeyForm::of_key(&view)),
        errors,
        choices: choices(state, viewer, &org).await?,
        levels: Level::ALL,
        expiry_choices: EXPIRY_CHOICES,
        can_manage,
        done,
        editing: true,
        created: when(&view.created_at),
        last_used: when_or(&view.last_used_at, "Never"),
        expires: when_or(&view.expires_at, "Never"),
        limits: match &view.rate_limits {
            Some(limits) => limits
                .iter()
                .map(|l| format!("{} {}/{}", l.name, l.limit, l.period))
                .collect::<Vec<_>>()
                .join(", "),
            None => "the plan's".to_owned(),
        },
        legend: svg::LEGEND,
        key: view,
        org,
    })
}

async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((org, id)): Path<(String, String)>,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let done = done_message(q.done.as_deref());
    key_page(&state, &viewer, org, &id, None, Errors::default(), done).await
}

async fn update(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Posted { viewer, fields }: Posted,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let mut form = KeyForm::posted(&fields);
    let intent = KeyForm::intent(&fields);
    if intent != Intent::Save {
        form.apply(intent);
        return key_page(
            &state,
            &viewer,
            org,
            &id,
            Some(form),
            Errors::default(),
            None,
        )
        .await;
    }
    let key = state.app.key(&viewer.principal, &id).await?;
    if key.org_id != org.id {
        return Err(PageError::NotFound(format!("key '{id}' not found")));
    }
    let mut errors = Errors::default();
    if form.name.is_empty() {
        errors.add("name", "A key needs a name.");
    }
    let parsed = form.parse(state.app.now(), &mut errors);
    let Some(parsed) = parsed.filter(|_| errors.is_empty()) else {
        let page = key_page(&state, &viewer, org, &id, Some(form), errors, None).await?;
        return Ok(unprocessable(page));
    };
    let patch = KeyPatchInput {
        name: Some(form.name.clone()),
        description: Some(Some(form.description.clone()).filter(|d| !d.is_empty())),
        grants: Some(parsed.grants),
        scopes: Some(form.scopes.clone()),
        org_access: Some(parsed.org_access),
        expires_at: parsed.expires_at,
        ip_allowlist: Some(parsed.ip_allowlist),
        metadata: None,
        rate_limits: Some(parsed.rate_limits),
    };
    match state.app.update_key(&viewer.principal, &key, patch).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/orgs/{}/keys/{}?done=updated", org.id, key.id)).into_response(),
        ),
        Err(e) => {
            errors.add_refusal(e)?;
            let page = key_page(&state, &viewer, org, &id, Some(form), errors, None).await?;
            Ok(unprocessable(page))
        }
    }
}

/// The changes a key's page offers, each behind a page that asks to confirm it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Revoke,
    Reactivate,
    Rotate,
    Delete,
}

impl Action {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "revoke" => Action::Revoke,
            "reactivate" => Action::Reactivate,
            "rotate" => Action::Rotate,
            "delete" => Action::Delete,
            _ => return None,
        })
    }

    fn offered(self, key: &KeyView) -> bool {
        let o = key.offered;
        match self {
            Action::Revoke => o.revoke,
            Action::Reactivate => o.reactivate,
            Action::Rotate => o.rotate,
            Action::Delete => o.delete,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Revoke => "Revoke",
            Action::Reactivate => "Reactivate",
            Action::Rotate => "Rotate",
            Action::Delete => "Delete",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Action::Revoke => "revoke",
            Action::Reactivate => "reactivate",
            Action::Rotate => "rotate",
            Action::Delete => "delete",
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            Action::Revoke => "Every request with this key will get 401 from the moment you confirm. You can reactivate it later.",
            Action::Reactivate => "The key will work again, with the permissions it had.",
            Action::Rotate => "A new key with the same name and permissions replaces this one. It is shown once. The old key keeps working for the grace period you choose, so you can deploy the new one first.",
            Action::Delete => "The key stops working for good and can never be reactivated. Its history stays in the audit log.",
        }
    }

    fn danger(self) -> bool {
        matches!(self, Action::Revoke | Action::Delete)
    }
}

/// Grace periods a rotation offers.
const GRACES: [(&str, &str); 4] = [
    ("0s", "None: the old key stops now"),
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
];

#[derive(askama::Template)]
#[template(path = "key_confirm.html")]
struct ConfirmPage {
    chrome: Option<Chrome>,
    org: Organization,
    key: KeyView,
    verb: &'static str,
    slug: &'static str,
    explanation: &'static str,
    danger: bool,
    rotate: bool,
    graces: [(&'static str, &'static str); 4],
}

async fn acting_on(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    id: &str,
    action: &str,
) -> Result<(keyward_core::ApiKey, KeyView, Action), PageError> {
    let action = Action::parse(action).ok_or_else(|| {
        PageError::NotFound(format!(
            "no action '{}'",
            keyward_core::echo::echo(action, 30)
        ))
    })?;
    let key = state.app.key(&viewer.principal, id).await?;
    if key.org_id != org.id {
        return Err(PageError::NotFound(format!("key '{id}' not found")));
    }
    let view = state.app.view(&key).await?;
    if !viewer.manages_keys(&org.id) {
        return Err(PageError::Forbidden(
            "Only owners and admins of this organization change API keys.".into(),
        ));
    }
    if !action.offered(&view) {
        return Err(PageError::Forbidden(format!(
            "This key is {}: it cannot be {}d now.",
            view.state(),
            action.slug().trim_end_matches('e')
        )));
    }
    Ok((key, view, action))
}

async fn confirm(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((org, id, action)): Path<(String, String, String)>,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let (_, key, action) = acting_on(&state, &viewer, &org, &id, &action).await?;
    render(&ConfirmPage {
        chrome: Some(Chrome::new(&state, &viewer, Some(&org), "keys").await?),
        verb: action.verb(),
        slug: action.slug(),
        explanation: action.explanation(),
        danger: action.danger(),
        rotate: action == Action::Rotate,
        graces: GRACES,
        key,
        org,
    })
}

async fn act(
    State(state): State<AppState>,
    Path((org, id, action)): Path<(String, String, String)>,
    Posted { viewer, fields }: Posted,
) -> PageResult {
    let org = org_of(&state, &viewer, &org).await?;
    let (key, _, action) = acting_on(&state, &viewer, &org, &id, &action).await?;
    let who = &viewer.principal;
    let done = match action {
        Action::Revoke => state.app.revoke_key(who, &key).await.map(|_| "revoked"),
        Action::Reactivate => state
            .app
            .reactivate_key(who, &key)
            .await
            .map(|_| "reactivated"),
        Action::Delete => state.app.delete_key(who, &key).await.map(|_| "deleted"),
        Action::Rotate => {
            let grace = fields.get("grace").unwrap_or("24h");
            if !GRACES.iter().any(|(g, _)| *g == grace) {
                return Err(PageError::Forbidden(
                    "Choose one of the grace periods offered.".into(),
                ));
            }
            let grace = keyward_core::lifecycle::grace_period(Some(grace))
                .map_err(|e| PageError::Forbidden(e.to_string()))?;
            let rotated = state.app.rotate_key(who, &key, grace).await?;
            let until = when_or(&rotated.old.expires_at, "now");
            return render(&CreatedPage {
                chrome: Some(Chrome::new(&state, &viewer, Some(&org), "keys").await?),
                secret: rotated.new.secret.expose_secret().to_owned(),
                replaces: Some((rotated.old.id.to_string(), until)),
                key: rotated.new.key,
                org,
            });
        }
    }?;
    let back = match action {
        Action::Delete => format!("/orgs/{}/keys?done={done}", org.id),
        _ => format!("/orgs/{}/keys/{}?done={done}", org.id, key.id),
    };
    Ok(Redirect::to(&back).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/keys", get(list).post(create))
        .route("/orgs/{org}/keys/new", get(new_key))
        .route("/orgs/{org}/keys/{id}", get(detail).post(update))
        .route("/orgs/{org}/keys/{id}/{action}", get(confirm).post(act))
}
