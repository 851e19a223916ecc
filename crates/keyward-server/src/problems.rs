//! The catalog of problem types (RFC 9457). Each error keyward answers with has one of
//! these stable `type`s; `/docs/problems` renders this same list for people, so the
//! documentation cannot drift from what the server sends.

use axum::http::StatusCode;

#[derive(Debug)]
pub struct Problem {
    /// The stable part of the `type` URI: `/docs/problems#<slug>`.
    pub slug: &'static str,
    pub status: StatusCode,
    pub title: &'static str,
    /// What it means and what to do, for the documentation page.
    pub help: &'static str,
}

impl Problem {
    pub fn type_uri(&self) -> String {
        format!("/docs/problems#{}", self.slug)
    }
}

macro_rules! problems {
    ($($name:ident = ($slug:literal, $status:ident, $title:literal, $help:literal);)*) => {
        $(pub const $name: Problem = Problem {
            slug: $slug,
            status: StatusCode::$status,
            title: $title,
            help: $help,
        };)*
        pub const ALL: &[&Problem] = &[$(&$name),*];
    };
}

problems! {
    MISSING = ("missing", UNAUTHORIZED, "No API key",
        "The request carried no credential. Send the key as `Authorization: Bearer <key>`, `x-api-key: <key>` or `api-key: <key>`.");
    MALFORMED = ("malformed", UNAUTHORIZED, "Malformed API key",
        "The credential is not a key of this server: wrong shape, prefix or checksum, usually a key copied incompletely. Several different keys in one request also end here.");
    UNKNOWN = ("unknown", UNAUTHORIZED, "Unknown API key",
        "The key is well formed but no such key exists, or its secret is wrong. Check which key you use, or create a new one.");
    EXPIRED = ("expired", UNAUTHORIZED, "API key expired",
        "The key is past its expiry, or past the grace period after it was rotated. Use its replacement or create a new key.");
    REVOKED = ("revoked", UNAUTHORIZED, "API key revoked",
        "The key was revoked (an administrator can reactivate it) or deleted (for good).");
    WRONG_ENVIRONMENT = ("wrong-environment", FORBIDDEN, "Wrong environment for this key",
        "Test keys only work in test environments and live keys only in live ones. Use a key of the environment's kind.");
    INSUFFICIENT_PERMISSION = ("insufficient-permission", FORBIDDEN, "Insufficient permission",
        "The key is valid but its grants do not cover this request. `required_permission` names what is needed; give the key that grant, or use another key.");
    IP_NOT_ALLOWED = ("ip-not-allowed", FORBIDDEN, "Address not allowed",
        "The key's IP allow-list does not include the client's address.");
    NO_API_ACCESS = ("no-api-access", FORBIDDEN, "No API access on this plan",
        "The organization's plan does not include API access.");
    RATE_LIMITED = ("rate-limited", TOO_MANY_REQUESTS, "Rate limited",
        "Too many requests with this key. Wait `retry_after` seconds.");
    QUOTA_EXCEEDED = ("quota-exceeded", TOO_MANY_REQUESTS, "Monthly quota exceeded",
        "The organization's monthly request quota is spent.");
    PLAN_LIMIT = ("plan-limit", FORBIDDEN, "Plan limit reached",
        "The organization already holds as many keys as its plan allows (none, on a plan without API access). `plan`, `limit` and `keys` say which plan, its limit and how many keys count against it; delete keys, let them expire, or move the organization to a larger plan.");
    FORBIDDEN = ("forbidden", FORBIDDEN, "Not allowed",
        "The caller is known but may not do this: the detail says what is lacking, such as organization access or an operator token.");
    TOKEN_REQUIRED = ("token-required", UNAUTHORIZED, "Token required",
        "This endpoint has a token of its own (`/metrics`: the operator's `metrics_token`), which the request did not carry or got wrong. Send it as `Authorization: Bearer <token>`.");
    SIGN_IN_FAILED = ("sign-in-failed", UNAUTHORIZED, "Wrong e-mail address or password",
        "The e-mail address and password do not match an account. Which of the two is wrong is never said, so that nobody learns which accounts exist. After 5 failures for one address (or 20 from one network) within 15 minutes, sign-in is refused for a while (`sign-in-throttled`).");
    SIGN_IN_THROTTLED = ("sign-in-throttled", TOO_MANY_REQUESTS, "Too many failed sign-ins",
        "5 failed sign-ins for this e-mail address, or 20 from this network, within 15 minutes: sign-in is refused, even with the right password, until the oldest of them is 15 minutes old. `Retry-After` and `retry_after` say how many seconds that is. The operator can give a password-reset link (`keyward users reset-link`).");
    SIGNED_OUT = ("signed-out", UNAUTHORIZED, "Not signed in",
        "The session cookie is unknown, or its session has ended: signed out, unused for longer than the idle timeout (12 hours unless the operator changed it), past its lifetime (7 days), or ended by a password reset. Sign in again.");
    CSRF = ("csrf", FORBIDDEN, "Cross-site request refused",
        "A change made with a session cookie must carry the session's CSRF token in the `X-CSRF-Token` header (the `csrf_token` that signing in, or `GET /v1/sessions/current`, answers), and must not come from another site (`Sec-Fetch-Site: cross-site`, or an `Origin` other than this server's). API keys and admin tokens need neither.");
    NO_ROUTE = ("no-route", FORBIDDEN, "No route matches",
        "Forward auth: no route of the operator's `[[routes]]` table matches the original method and path, so the request is refused (unless the operator set `forward_auth_unmatched = \"allow\"`). Add a route for it.");
    KEY_IN_QUERY = ("key-in-query", BAD_REQUEST, "API key in the URL",
        "Keys in query strings end up in logs, browser history and proxies. Send the key in the `Authorization: Bearer` or `x-api-key` header instead, and rotate the key that was sent.");
    INVALID_REQUEST = ("invalid-request", BAD_REQUEST, "Invalid request",
        "The request could not be read: malformed JSON, an unknown field, or a bad path or query parameter. The detail says which.");
    UNSUPPORTED_MEDIA_TYPE = ("unsupported-media-type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type",
        "Send request bodies as JSON with `Content-Type: application/json`.");
    PAYLOAD_TOO_LARGE = ("payload-too-large", PAYLOAD_TOO_LARGE, "Request body too large",
        "Request bodies are limited to 64 KiB.");
    REQUEST_TIMEOUT = ("request-timeout", REQUEST_TIMEOUT, "Request body too slow",
        "The request body did not fully arrive within the server's request body timeout (30 seconds unless the operator changed it), so the request was dropped and the connection closed. Send the body with the header, and retry.");
    VALIDATION = ("validation", UNPROCESSABLE_ENTITY, "Invalid value",
        "A value breaks a rule. `field` names it and the detail says what is allowed.");
    NOT_FOUND = ("not-found", NOT_FOUND, "Not found",
        "Nothing with this id or name exists, or it belongs to another organization.");
    METHOD_NOT_ALLOWED = ("method-not-allowed", METHOD_NOT_ALLOWED, "Method not allowed",
        "This path does not accept this HTTP method. The `Allow` header lists those it does.");
    CONFLICT = ("conflict", CONFLICT, "Conflict",
        "The request conflicts with the current state: a name already taken, a key already revoked or rotated, or a change made at the same time by someone else.");
    INTERNAL = ("internal", INTERNAL_SERVER_ERROR, "Internal error",
        "Something failed on the server. It is logged; the request can be retried.");
    UNAVAILABLE = ("unavailable", SERVICE_UNAVAILABLE, "Not ready",
        "A component the server depends on is down: its database, its change notifications (PostgreSQL's LISTEN connection), or, with `redis_unreachable = \"closed\"`, the Redis its rate limits live in. The `components` member says which.");
    LIMITER_UNAVAILABLE = ("rate-limiter-unavailable", SERVICE_UNAVAILABLE, "Rate limiter unavailable",
        "The key's rate limits are kept in Redis, which did not answer in time, and the operator chose `redis_unreachable = \"closed\"`: requests with keys are refused rather than admitted unmetered. Not an outcome of the key: retry after `Retry-After` seconds.");
}

/// The problems only endpoints outside the OpenAPI document answer (`/metrics`,
/// `/v1/forward-auth`), by
/// slug: still listed at `/docs/problems`, left out of the document's answers.
pub const OUTSIDE_THE_API: &[&str] = &[TOKEN_REQUIRED.slug, NO_ROUTE.slug];

/// The problem type of each check outcome other than `valid`.
pub fn for_outcome(outcome: keyward_core::Outcome) -> &'static Problem {
    use keyward_core::Outcome::*;
    match outcome {
        Valid | Missing => &MISSING,
        Malformed => &MALFORMED,
        Unknown => &UNKNOWN,
        Expired => &EXPIRED,
        Revoked => &REVOKED,
        WrongEnvironment => &WRONG_ENVIRONMENT,
        InsufficientPermission => &INSUFFICIENT_PERMISSION,
        IpNotAllowed => &IP_NOT_ALLOWED,
        NoApiAccess => &NO_API_ACCESS,
        RateLimited => &RATE_LIMITED,
        QuotaExceeded => &QUOTA_EXCEEDED,
    }
}
