//! The answers the layer gives itself: a refusal as keyward words it (status, problem
//! body, `WWW-Authenticate`, `RateLimit`, `Retry-After`), and 503 or 500 when the check
//! could not be made.

use crate::types::{Outcome, VerifyOut};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

const PROBLEM_JSON: &str = "application/problem+json";

/// A problem body, its members in the order RFC 9457 lists them (as keyward writes
/// them), extensions last.
#[derive(serde::Serialize)]
struct Body<'a> {
    r#type: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required_permission: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// The refusal of a request whose key keyward did not accept.
pub(crate) fn refusal(answer: &VerifyOut) -> Response<String> {
    let outcome = &answer.outcome;
    // keyward answers refusals with 4xx; anything else would let a client read a
    // refusal as a success or a server failure.
    let status = StatusCode::from_u16(answer.status)
        .ok()
        .filter(|s| s.is_client_error())
        .unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = problem(
        status,
        &Body {
            r#type: &outcome.problem_type(),
            title: outcome.title(),
            status: status.as_u16(),
            detail: &answer.detail,
            outcome: Some(outcome.as_str()),
            required_permission: answer.required_permission.as_deref(),
            retry_after: answer.retry_after,
        },
    );
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
        &Body {
            r#type: "about:blank",
            title: "Service Unavailable",
            status: 503,
            detail: "The API key could not be checked just now. Try again shortly.",
            outcome: None,
            required_permission: None,
            retry_after: None,
        },
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
        &Body {
            r#type: "about:blank",
            title: "Internal Server Error",
            status: 500,
            detail: "The API key could not be checked; the error has been logged.",
            outcome: None,
            required_permission: None,
            retry_after: None,
        },
    )
}

fn problem(status: StatusCode, body: &Body<'_>) -> Response<String> {
    // A struct of text and numbers always serialises.
    let mut response = Response::new(serde_json::to_string(body).unwrap_or_default());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(outcome: Outcome, status: u16, permission: Option<&str>) -> VerifyOut {
        VerifyOut {
            valid: false,
            outcome,
            status,
            detail: "why".into(),
            required_permission: permission.map(str::to_owned),
            key: None,
            rate_limits: None,
            quota: None,
            retry_after: (status == 429).then_some(6),
            headers: [
                ("RateLimit".to_owned(), r#""default";r=0;t=6"#.to_owned()),
                ("Retry-After".to_owned(), "6".to_owned()),
            ]
            .into_iter()
            .filter(|_| status == 429)
            .collect(),
        }
    }

    /// A refusal reads like keyward's own: members in RFC 9457's order, the
    /// challenge RFC 6750 asks for, and the limit fields of a 429.
    #[test]
    fn refusals_are_worded_as_keyward_words_them() {
        let r = refusal(&refused(
            Outcome::InsufficientPermission,
            403,
            Some("Website:production:write"),
        ));
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(
            r.body(),
            r#"{"type":"/docs/problems#insufficient-permission","title":"Insufficient permission","status":403,"detail":"why","outcome":"insufficient_permission","required_permission":"Website:production:write"}"#
        );
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="keyward", error="insufficient_scope", scope="Website:production:write""#
        );
        let r = refusal(&refused(Outcome::Revoked, 401, None));
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="keyward", error="invalid_token""#
        );
        let r = refusal(&refused(Outcome::RateLimited, 429, None));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(!r.headers().contains_key(WWW_AUTHENTICATE));
        assert_eq!(r.headers()[RETRY_AFTER], "6");
        assert_eq!(r.headers()["ratelimit"], r#""default";r=0;t=6"#);
        assert!(r.body().ends_with(r#""retry_after":6}"#), "{}", r.body());
        // A status that is not a refusal's never turns a refusal into a success.
        let r = refusal(&refused(Outcome::Unknown, 200, None));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}
