//! The wire types of keyward's HTTP API: what the verify and management endpoints take
//! and answer, named as the server names them (`KeyIn`, `KeyView`, `KeyPatch`, …) so
//! that each can be checked against its schema in `docs/openapi.json`
//! (`tests/schema.rs` does, and fails on any drift).
//!
//! Request types (`…In`, `…Patch`, `…Query`) serialise only what is set; answer types
//! read every field the server sends. Secrets that an answer carries once (a new key,
//! an invitation's token) are [`secrecy::SecretString`]s, so a `Debug` print or a log
//! line never shows them.

mod audit;
mod common;
mod keys;
mod me;
mod members;
mod orgs;
mod usage;
mod verify;

pub use audit::{AuditEventOut, AuditList, AuditQuery};
pub use common::{KeyStatus, Kind, Level, OrgAccess, Outcome, Role};
pub use keys::{
    CreatedKeyView, GrantIn, GrantView, KeyIn, KeyList, KeyListQuery, KeyPatch, KeyView,
    RateLimitIn, RateLimitView, RotateIn, RotatedView,
};
pub use me::{ActsFor, MeOut, ScopeList, ScopeOut};
pub use members::{
    AcceptIn, AcceptedOut, CreatedInvitationOut, InvitationIn, InvitationList, InvitationOut,
    MemberIn, MemberList, MemberOut, ProjectAccessIn, ProjectAccessOut, UserDetail, UserIn,
    UserList, UserMembershipOut, UserOut,
};
pub use orgs::{
    EnvIn, EnvList, EnvOut, KeysHeld, OrgDetail, OrgIn, OrgList, OrgOut, OrgPatch, ProjectIn,
    ProjectList, ProjectOut,
};
pub use usage::{DayUsage, KeyTotal, KeyUsageView, OrgUsageView, UsageQuery};
pub use verify::{LimitStanding, QuotaView, VerifiedKey, VerifyIn, VerifyOut};

/// A JSON object: a key's metadata, an audit event's details.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// Timestamps as RFC 3339 text, as keyward writes them.
pub(crate) mod rfc3339 {
    pub use time::serde::rfc3339::*;
    pub mod option {
        pub use time::serde::rfc3339::option::*;
    }
}

/// Days (UTC) as `YYYY-MM-DD`.
pub(crate) mod day {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        let text = d.format(FORMAT).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text, FORMAT).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Date>`, left out for `None` (query parameters).
    pub mod option {
        use serde::Serializer;
        use time::Date;

        pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }
    }
}
