//! `GET /v1/audit-events`: the audit log, newest first, filtered.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Json, Query};
use crate::openapi::{Forbidden, NotFound, Unprocessable};
use crate::routes::page_limit;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use keyward_app::schema;
use keyward_core::{AuditAction, AuditEvent, KeyId, Timestamp};
use keyward_store::AuditQuery;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    pub id: i64,
    #[serde(with = "keyward_core::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// `null` for the operator's own stream (admin tokens, people).
    pub org_id: Option<String>,
    /// `cli:<user>`, `token:<id>`, `user:<id>`, `key:<id>` or `system`.
    pub actor: String,
    #[schema(schema_with = schema::audit_action, example = "key.revoked")]
    pub action: AuditAction,
    pub key_id: Option<String>,
    /// What changed; for updates, `before` and `after`.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub ip: Option<String>,
}

impl From<&AuditEvent> for AuditEventOut {
    fn from(e: &AuditEvent) -> Self {
        AuditEventOut {
            id: e.id.unwrap_or_default(),
            at: e.at,
            org_id: e.org_id.as_ref().map(ToString::to_string),
            actor: e.actor.encode(),
            action: e.action,
            key_id: e.key_id.as_ref().map(ToString::to_string),
            details: e.details.clone(),
            ip: e.ip.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub data: Vec<AuditEventOut>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditListQuery {
    /// Organization id or name (a key always sees only its own).
    pub org: Option<String>,
    /// `true`: only the operator's own stream (admin tokens created and revoked, people
    /// created). For the operator only.
    pub operator: Option<bool>,
    /// A key's id: its events only.
    #[param(schema_with = schema::key_id)]
    pub key_id: Option<String>,
    /// Such as `cli:alice` or `key:<id>`.
    pub actor: Option<String>,
    /// Such as `key.revoked`.
    #[param(schema_with = schema::audit_action)]
    pub action: Option<String>,
    /// Events at or after this time: RFC 3339, a date, or a duration ago such as `1h`
    /// or `7d` (also `7d ago`).
    pub since: Option<String>,
    /// Events before this time, in the same forms: `until=1d` is up to a day ago.
    pub until: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<i64>)]
    pub cursor: Option<String>,
    /// 1 to 100, 50 by default.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A bound of a search in the past: a bare duration counts back from now, so
/// `since=1h` is the last hour (expiries, elsewhere, count forward).
fn time_ago(field: &'static str, s: &str, now: Timestamp) -> Result<Timestamp, ApiError> {
    keyward_core::timestamp::parse_time_ago(s, now)
        .map_err(|e| ApiError::validation(field, format!("{field}: {e}")))
}

/// List audit events, newest first.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit", operation_id = "list_audit_events", params(AuditListQuery),
    responses(
        (status = 200, body = AuditList), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    Caller(who): Caller,
    Query(q): Query<AuditListQuery>,
) -> ApiResult<Json<AuditList>> {
    let now = s.app.now();
    let limit = page_limit(q.limit)?;
    let query = AuditQuery {
        operator_only: q.operator.unwrap_or(false),
        org_id: match &q.org {
            Some(org) => Some(s.app.org(&who, org).await?.id),
            None => None,
        },
        key_id: q
            .key_id
            .map(|k| {
                KeyId::parse(&k).map_err(|e| ApiError::validation("key_id", format!("key_id: {e}")))
            })
            .transpose()?,
        actor: q.actor,
        action: q
            .action
            .map(|a| {
                AuditAction::parse(&a).ok_or_else(|| {
                    let all: Vec<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                    ApiError::validation(
                        "action",
                        format!(
                            "action: unknown action '{}'; use one of {}",
                            keyward_core::echo::echo(&a, 40),
                            all.join(", ")
                        ),
                    )
                })
            })
            .transpose()?,
        since: q.since.map(|t| time_ago("since", &t, now)).transpose()?,
        until: q.until.map(|t| time_ago("until", &t, now)).transpose()?,
        before_id: q
            .cursor
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    ApiError::validation(
                        "cursor",
                        "cursor: pass the next_cursor of the previous page",
                    )
                })
            })
            .transpose()?,
        limit: Some(limit),
    };
    let events = s.app.audit_events(&who, &query).await?;
    let next_cursor = (events.len() == limit as usize)
        .then(|| events.last().and_then(|e| e.id).map(|id| id.to_string()))
        .flatten();
    Ok(Json(AuditList {
        data: events.iter().map(AuditEventOut::from).collect(),
        next_cursor,
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit-events", get(list))
}
