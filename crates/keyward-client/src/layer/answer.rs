//! The answers the layer gives itself: a refusal as keyward words it (status, problem
//! body, `WWW-Authenticate`, `RateLimit`, `Retry-After`), and 503 or 500 when the check
//! could not be made.

use crate::types::{Outcome, VerifyOut};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

const PROBLEM_JSON: &str = "application/problem+json";

/// The refusal of a request whose key keyward did not accept.
pub(crate) fn refusal(answer: &VerifyOut) -> Response<String> {
    let outcome = answer.outcome;
    let mut body = Map::new();
    body.insert("type".into(), outcome.problem_type().into());
    body.insert("title".into(), outcome.title().into());
    body.insert("status".into(), answer.status.into());
    body.insert("detail".into(), answer.detail.clone().into());
    body.insert("outcome".into(), outcome.as_str().into());
    if let Some(permission) = &answer.required_permission {
        body.insert("required_permission".into(), permission.clone().into());
    }
    if let Some(after) = answer.retry_after {
        body.insert("retry_after".into(), after.into());
    }
    let status = StatusCode::from_u16(answer.status)
        .ok()
        .filter(|s| s.is_client_error())
        .unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = problem(status, Value::Object(body));
    let headers = response.headers_mut();
    let challenge = match (status.as_u16(), outcome) {
        (401, Outcome::Missing) => Some(r#"Bearer realm="keyward""#.to_owned()),
        (401, _) => Some(r#"Bearer realm="keyward", error="invalid_token""#.to_owned()),
        (403, _) => Some(match &answer.required_permission {
            Some(p) => format!(
                r#"Bearer realm="keyward", error="insufficient_scope", scope="{}""#,
                p.replace('"', "")
            ),
            None => r#"Bearer realm="keyward", error="insufficient_scope""#.to_owned(),
        }),
        _ => None,
    };
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(WWW_AUTHENTICATE, v);
    }
    for (name, value) in limit_fields(answer) {
        headers.insert(name, value);
    }
    response
}

/// A refusal decided without asking keyward: no key, or several different ones.
pub(crate) fn local(outcome: Outcome, detail: &str) -> Response<String> {
    refusal(&VerifyOut {
        valid: false,
        outcome,
        status: 401,
        detail: detail.to_owned(),
        required_permission: None,
        key: None,
        rate_limits: None,
        quota: None,
        retry_after: None,
        headers: Default::default(),
    })
}

/// keyward's `RateLimit-Policy`, `RateLimit` and `Retry-After` fields, as header values.
pub(crate) fn limit_fields(answer: &VerifyOut) -> Vec<(HeaderName, HeaderValue)> {
    answer
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                HeaderName::from_bytes(name.as_bytes()).ok()?,
                HeaderValue::from_str(value).ok()?,
            ))
        })
        .collect()
}

/// keyward was out of reach and the layer fails closed.
pub(crate) fn unavailable() -> Response<String> {
    let mut response = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "The API key could not be checked just now. Try again shortly.",
        }),
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The check could not be made for a reason retrying will not fix (the layer's
/// token or configuration); the cause is logged, never shown.
pub(crate) fn misconfigured() -> Response<String> {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "The API key could not be checked; the error has been logged.",
        }),
    )
}

fn problem(status: StatusCode, body: Value) -> Response<String> {
    let mut response = Response::new(body.to_string());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}
