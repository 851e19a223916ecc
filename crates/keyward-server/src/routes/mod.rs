//! The HTTP routes, one module per resource, each ending with its `router()`.

pub mod audit;
pub mod docs;
pub mod forward_auth;
pub mod health;
pub mod invitations;
pub mod keys;
pub mod me;
pub mod members;
pub mod metrics;
pub mod orgs;
pub mod scopes;
pub mod sessions;
pub mod setup;
pub mod usage;
pub mod verify;

use crate::error::ApiError;
use keyward_core::timestamp::{self, Timestamp};

/// A JSON number that is whole (`100.0` too, as JSON Schema's `integer` allows) and
/// fits a `u32`.
pub fn whole_u32(n: &serde_json::Number) -> Option<u32> {
    let value = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    })?;
    u32::try_from(value).ok()
}

/// Page sizes: 50 unless asked, at most 100.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(50) {
        n @ 1..=100 => Ok(n),
        n => Err(ApiError::validation(
            "limit",
            format!("limit: {n} is out of range; use 1 to 100"),
        )),
    }
}

/// A time from a request: RFC 3339, a date, or a duration from now.
pub fn parse_time(field: &'static str, s: &str, now: Timestamp) -> Result<Timestamp, ApiError> {
    timestamp::parse_time(s, now).map_err(|e| ApiError::validation(field, format!("{field}: {e}")))
}

#[cfg(test)]
mod tests {
    /// Keys, tokens and passwords in request bodies are secrecy types: their Debug form,
    /// which is what a log or a panic would print, never shows them.
    #[test]
    fn secrets_in_request_bodies_are_redacted() {
        let secret = "kw_live_0123456789abcdef_SECRETSECRETSECRET";
        let verify: super::verify::VerifyIn =
            serde_json::from_value(serde_json::json!({ "key": secret })).unwrap();
        let setup: super::setup::SetupIn = serde_json::from_value(serde_json::json!({
            "token": secret, "email": "a@b.co", "password": secret, "organization": "Acme"
        }))
        .unwrap();
        let accept: super::invitations::AcceptIn =
            serde_json::from_value(serde_json::json!({ "token": secret })).unwrap();
        for shown in [
            format!("{verify:?}"),
            format!("{setup:?}"),
            format!("{accept:?}"),
        ] {
            assert!(!shown.contains("SECRET"), "{shown}");
        }
    }
}
