//! keyward's domain: the key format, keyed hashing, levels, grants, the key lifecycle
//! and the check. Pure: no I/O, no SQL, no async runtime. Time and randomness come in
//! as arguments, so every rule here can be tested exactly.
#![forbid(unsafe_code)]

pub mod access;
pub mod allowlist;
pub mod audit;
pub mod base62;
pub mod check;
pub mod digits;
pub mod duration;
pub mod echo;
pub mod escalation;
pub mod grant;
pub mod hash;
pub mod ids;
pub mod invitation;
pub mod key;
pub mod kind;
pub mod level;
pub mod lifecycle;
pub mod limits;
pub mod metadata;
pub mod meter;
pub mod model;
pub mod names;
pub mod plan;
pub mod quota;
pub mod routes;
pub mod scope;
pub mod session;
pub mod signin_throttle;
#[cfg(test)]
mod testing;
pub mod timestamp;
pub mod token;

pub use access::{Bound, Effective, MemberAccess, Withheld};
pub use allowlist::IpAllowlist;
pub use audit::{Actor, AuditAction, AuditEvent};
pub use check::{Asked, Denial, Outcome, Presented, ResolvedTarget, Verdict};
pub use grant::{EnvRef, EnvScope, Grant, GrantSpec, ProjectRef, ProjectScope, Resource};
pub use hash::{KeyHash, PepperSet};
pub use ids::{EnvironmentId, InvitationId, OrgId, ProjectId, ResetId, SessionId, UserId};
pub use invitation::{Invitation, InvitationState, InvitationToken};
pub use key::{ApiKeySecret, GeneratedKey, KeyId, ParsedKey, Prefix, Prefixes};
pub use kind::Kind;
pub use level::{Level, OrgAccess};
pub use limits::RateLimit;
pub use metadata::Metadata;
pub use model::{ApiKey, Environment, KeyStatus, Organization, Project, Role, User};
pub use names::{Description, EnvName, KeyName, OrgName, ProjectName};
pub use plan::{Plan, Plans};
pub use routes::{RouteSpec, RouteTable};
pub use scope::{Catalog, Scope};
pub use timestamp::Timestamp;
