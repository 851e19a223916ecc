//! One error type for every handler: [`ApiError`] renders as an RFC 9457
//! `application/problem+json` body with a stable `type`, a `detail` written for the
//! person reading it, and extension members. 401 and 403 answers carry
//! `WWW-Authenticate: Bearer` as RFC 6750 says. 5xx are logged with their cause and
//! never show it.
//!
//! Body, query and path rejections become the same problem bodies, through the
//! [`Json`], [`RawBody`], [`Query`] and [`Path`] extractors defined here; a body that
//! stopped arriving (see `crate::timeouts`) is a 408.

use crate::problems::{self, Problem};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyward_app::AppError;
use keyward_core::check::Outcome;
use keyward_core::lifecycle::LifecycleError;
use serde_json::{Map, Value};

#[derive(Debug)]
pub struct ApiError {
    pub problem: &'static Problem,
    pub detail: String,
    pub extensions: Map<String, Value>,
    /// The `WWW-Authenticate` header, for 401 and 403.
    pub challenge: Option<String>,
    /// More header fields: `RateLimit`, `Retry-After` for a 429 (boxed: most errors
    /// have none, and every `Result` carries the error's size).
    pub headers: Option<Box<axum::http::HeaderMap>>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(problem: &'static Problem, detail: impl Into<String>) -> Self {
        ApiError {
            problem,
            detail: detail.into(),
            extensions: Map::new(),
            challenge: None,
            headers: None,
        }
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(&problems::NOT_FOUND, format!("{what} not found"))
    }

    /// The answer for a failed check: 401 with `invalid_token` (none when no credential
    /// was sent), 403 with `insufficient_scope`, 429 without a challenge.
    pub fn from_outcome(outcome: Outcome, detail: impl Into<String>) -> Self {
        let mut e =
            ApiError::new(problems::for_outcome(outcome), detail).with("outcome", outcome.as_str());
        e.challenge = match outcome.http_status() {
            401 if outcome == Outcome::Missing => Some(r#"Bearer realm="keyward""#.into()),
            401 => Some(r#"Bearer realm="keyward", error="invalid_token""#.into()),
            403 => Some(r#"Bearer realm="keyward", error="insufficient_scope""#.into()),
            _ => None,
        };
        e
    }

    fn forbidden(required_permission: &str, message: &str) -> Self {
        let mut e = ApiError::new(&problems::FORBIDDEN, message)
            .with("required_permission", required_permission);
        e.challenge = Some(format!(
            r#"Bearer realm="keyward", error="insufficient_scope", scope="{}""#,
            required_permission.replace('"', "")
        ));
        e
    }

    pub fn invalid_request(detail: impl Into<String>) -> Self {
        ApiError::new(&problems::INVALID_REQUEST, detail)
    }

    pub fn validation(field: &str, detail: impl Into<String>) -> Self {
        ApiError::new(&problems::VALIDATION, detail).with("field", field)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            e @ AppError::NotFound { .. } => ApiError::new(&problems::NOT_FOUND, e.to_string()),
            AppError::Invalid { field, message } => ApiError::validation(field, message),
            AppError::Forbidden {
                required_permission,
                message,
            } => ApiError::forbidden(&required_permission, &message),
            AppError::Conflict(message) => ApiError::new(&problems::CONFLICT, message),
            AppError::Concurrent => ApiError::new(&problems::CONFLICT, e.to_string()),
            AppError::PlanLimit {
                ref plan,
                limit,
                held,
                api_access,
            } => {
                let detail = match api_access {
                    false => format!("the organization's plan '{plan}' does not include API access, so it can hold no keys; move it to a plan that does"),
                    true => e.to_string(),
                };
                ApiError::new(&problems::PLAN_LIMIT, detail)
                    .with("plan", plan.as_str())
                    .with("limit", limit)
                    .with("keys", held)
            }
            AppError::Lifecycle(l) => lifecycle(l),
            AppError::WrongCredentials => {
                let mut e = ApiError::new(
                    &problems::SIGN_IN_FAILED,
                    "wrong e-mail address or password",
                );
                e.challenge = Some(r#"Bearer realm="keyward""#.into());
                e
            }
            AppError::Throttled { retry_after } => {
                let mut e = ApiError::new(&problems::SIGN_IN_THROTTLED, e.to_string())
                    .with("retry_after", retry_after);
                let mut fields = axum::http::HeaderMap::new();
                fields.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                e.headers = Some(Box::new(fields));
                e
            }
            AppError::LimiterUnavailable => {
                let mut e = ApiError::new(&problems::LIMITER_UNAVAILABLE, e.to_string())
                    .with("retry_after", 1);
                let mut fields = axum::http::HeaderMap::new();
                fields.insert(header::RETRY_AFTER, HeaderValue::from(1));
                e.headers = Some(Box::new(fields));
                e
            }
            AppError::Storage(source) => {
                tracing::error!(error = %source, cause = ?std::error::Error::source(&source), "storage failure");
                ApiError::new(&problems::INTERNAL, "internal error; it has been logged")
            }
        }
    }
}

fn lifecycle(e: LifecycleError) -> ApiError {
    use LifecycleError::*;
    let detail = e.to_string();
    match e {
        NoAccess => ApiError::validation("grants", detail),
        ExpiryNotInFuture { .. } | ExpiryTooFar { .. } | RotatedExpiry { .. } => {
            ApiError::validation("expires_at", detail)
        }
        GraceTooLong(_) | GraceNegative | GraceSyntax(_) => {
            ApiError::validation("grace_period", detail)
        }
        AlreadyRevoked(_)
        | NotRevoked(_)
        | Deleted(_)
        | RotateRevoked(_)
        | AlreadyRotated { .. }
        | RotateExpired(_) => ApiError::new(&problems::CONFLICT, detail),
    }
}

/// The members in the order RFC 9457 lists them, extensions last.
#[derive(serde::Serialize)]
struct ProblemBody<'a> {
    r#type: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(flatten)]
    extensions: &'a Map<String, Value>,
}

impl ApiError {
    /// The problem body as compact JSON: what the answer's body holds.
    pub fn problem_json(&self) -> String {
        let body = ProblemBody {
            r#type: self.problem.type_uri(),
            title: self.problem.title,
            status: self.problem.status.as_u16(),
            detail: &self.detail,
            extensions: &self.extensions,
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

impl ApiError {
    /// The answer, with `body` as made by [`Self::problem_json`]: for a caller that
    /// also needs the body's text, so it is written once.
    pub fn into_response_with(self, body: String) -> Response {
        // A server error was logged, with its cause, where it arose (`From<AppError>`):
        // once, not again here.
        let mut response = (self.problem.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(more) = self.headers {
            headers.extend(*more);
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.problem_json();
        self.into_response_with(body)
    }
}

/// A rejection's text, unless it quotes something that looks like a key: serde's
/// messages repeat the offending value ("unknown variant `…`").
fn quoted(detail: String, instead: &str) -> String {
    if keyward_core::echo::looks_secret(&detail) {
        format!("{instead} (the value looks like an API key, so it is not repeated here)")
    } else {
        detail
    }
}

/// The answer when a request's body stopped arriving.
fn body_too_slow() -> ApiError {
    ApiError::new(
        &problems::REQUEST_TIMEOUT,
        "the request body did not arrive in time; send it together with the header",
    )
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if crate::timeouts::is_body_timeout(&r) {
            return body_too_slow();
        }
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                &problems::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with the header Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(
                    &problems::PAYLOAD_TOO_LARGE,
                    "the request body is larger than 64 KiB",
                )
            }
            JsonRejection::JsonDataError(e) => ApiError::invalid_request(quoted(
                format!(
                    "the JSON body does not fit: {}",
                    e.body_text().trim_start_matches(
                        "Failed to deserialize the JSON body into the target type: "
                    )
                ),
                "the JSON body does not fit the expected fields and values",
            )),
            JsonRejection::JsonSyntaxError(e) => ApiError::invalid_request(quoted(
                format!(
                    "the body is not valid JSON: {}",
                    e.body_text()
                        .trim_start_matches("Failed to parse the request body as JSON: ")
                ),
                "the body is not valid JSON",
            )),
            other => {
                ApiError::invalid_request(quoted(other.body_text(), "the body could not be read"))
            }
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if crate::timeouts::is_body_timeout(&r) {
            body_too_slow()
        } else if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                &problems::PAYLOAD_TOO_LARGE,
                "the request body is larger than 64 KiB",
            )
        } else {
            ApiError::invalid_request("the body could not be read")
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::invalid_request(quoted(
            format!(
                "bad query parameters: {}",
                r.body_text()
                    .trim_start_matches("Failed to deserialize query string: ")
            ),
            "bad query parameters",
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::invalid_request(quoted(
            format!("bad path parameter: {}", r.body_text()),
            "bad path parameter",
        ))
    }
}

/// `axum::Json` whose rejections are problem bodies.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The raw request body (`axum::body::Bytes`), whose rejections are problem bodies.
#[derive(Debug, Clone, Default)]
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Ok(RawBody(
            axum::body::Bytes::from_request(request, state).await?,
        ))
    }
}

/// `axum::extract::Query` whose rejections are problem bodies.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path` whose rejections are problem bodies.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);
