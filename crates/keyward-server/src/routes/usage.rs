//! Usage: `GET /v1/keys/{key_id}/usage` (a key's checks per UTC day and outcome) and
//! `GET /v1/orgs/{org}/usage` (an organization's, in total and per key). Whoever may
//! read an organization's keys may read their usage; nobody else learns it exists.

use crate::auth::Caller;
use crate::error::{ApiResult, Json, Path, Query};
use crate::openapi::{Forbidden, NotFound, Unprocessable};
use crate::routes::keys::KeyPath;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use keyward_app::usage::{KeyUsageView, OrgUsageView, UsageRange};
use serde::Deserialize;

/// The UTC days to report on, both included; at most 366 of them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The first day, `YYYY-MM-DD` (UTC); 29 days before `to` unless given.
    #[param(value_type = Option<String>, format = Date, example = "2027-01-01")]
    pub from: Option<String>,
    /// The last day, included; today (UTC) unless given. At most 365 days after `from`.
    #[param(value_type = Option<String>, format = Date, example = "2027-01-31")]
    pub to: Option<String>,
}

impl UsageQuery {
    fn range(&self, s: &AppState) -> ApiResult<UsageRange> {
        Ok(UsageRange::parse(
            self.from.as_deref(),
            self.to.as_deref(),
            s.app.now().date(),
        )?)
    }
}

/// A key's checks per UTC day and outcome: every check that found the key, valid or
/// refused. Checks of the last few seconds may not be counted yet.
#[utoipa::path(get, path = "/v1/keys/{key_id}/usage", tag = "usage", operation_id = "get_key_usage", params(KeyPath, UsageQuery),
    responses(
        (status = 200, body = KeyUsageView), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn key_usage(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<KeyUsageView>> {
    let range = q.range(&s)?;
    Ok(Json(s.app.key_usage(&who, &id, range).await?))
}

/// An organization's checks per UTC day and outcome, all its keys together, and each
/// key's over the same days.
#[utoipa::path(get, path = "/v1/orgs/{org}/usage", tag = "usage", operation_id = "get_org_usage",
    params(("org" = String, Path, description = "Organization id or name"), UsageQuery),
    responses(
        (status = 200, body = OrgUsageView), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Unprocessable),
    ),
    security(("bearer" = [])))]
pub async fn org_usage(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(org): Path<String>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<OrgUsageView>> {
    let range = q.range(&s)?;
    let org = s.app.org(&who, &org).await?;
    Ok(Json(s.app.org_usage(&who, &org.id, range).await?))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keys/{key_id}/usage", get(key_usage))
        .route("/v1/orgs/{org}/usage", get(org_usage))
}
