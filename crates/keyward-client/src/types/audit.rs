//! The audit log: `GET /v1/audit-events`.

use super::JsonObject;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Which events to list, newest first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditQuery {
    /// Organization id or name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// `true`: only the operator's own stream (operator only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Such as `cli:alice` or `key:<id>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Such as `key.revoked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// RFC 3339, a date, or a duration ago such as `1h`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// 1 to 100; 50 when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEventOut {
    pub id: i64,
    #[serde(with = "super::rfc3339")]
    pub at: OffsetDateTime,
    /// `null` for the operator's own stream.
    #[serde(default)]
    pub org_id: Option<String>,
    /// `cli:<user>`, `token:<id>`, `user:<id>`, `key:<id>` or `system`.
    pub actor: String,
    /// Such as `key.revoked`.
    pub action: String,
    #[serde(default)]
    pub key_id: Option<String>,
    /// What changed; for updates, `before` and `after`.
    pub details: JsonObject,
    #[serde(default)]
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditList {
    pub data: Vec<AuditEventOut>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}
