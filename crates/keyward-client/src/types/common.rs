//! The small vocabularies the API shares: key kinds, levels, organization access,
//! roles, key statuses and check outcomes. Each lists `ALL` its values, which the
//! schema test compares with the enums of `docs/openapi.json`.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The value as the API writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(format!(
                        "'{}' is not one of: {}",
                        other.chars().take(40).collect::<String>(),
                        [$($text),*].join(", ")
                    )),
                }
            }
        }
    };
}

vocabulary! {
    /// A key's kind: live keys work in live environments, test keys in test ones.
    Kind { Live = "live", Test = "test" }
}

vocabulary! {
    /// What a request needs: reading, changing, or managing.
    Level { Read = "read", Write = "write", Manage = "manage" }
}

vocabulary! {
    /// A key's access to its own organization's resources (projects, members, keys).
    OrgAccess { None = "none", Read = "read", Write = "write", Manage = "manage" }
}

vocabulary! {
    /// A person's role in an organization.
    Role { Owner = "owner", Admin = "admin", Member = "member" }
}

vocabulary! {
    /// Where a key is in its life.
    KeyStatus { Active = "active", Revoked = "revoked", Deleted = "deleted" }
}

vocabulary! {
    /// What a check decided.
    Outcome {
        Valid = "valid",
        Missing = "missing",
        Malformed = "malformed",
        Unknown = "unknown",
        Expired = "expired",
        Revoked = "revoked",
        WrongEnvironment = "wrong_environment",
        InsufficientPermission = "insufficient_permission",
        IpNotAllowed = "ip_not_allowed",
        NoApiAccess = "no_api_access",
        RateLimited = "rate_limited",
        QuotaExceeded = "quota_exceeded",
    }
}

impl Outcome {
    /// The title of the outcome's problem type, as keyward's `/docs/problems` lists it.
    pub fn title(self) -> &'static str {
        match self {
            Outcome::Valid => "Valid",
            Outcome::Missing => "No API key",
            Outcome::Malformed => "Malformed API key",
            Outcome::Unknown => "Unknown API key",
            Outcome::Expired => "API key expired",
            Outcome::Revoked => "API key revoked",
            Outcome::WrongEnvironment => "Wrong environment for this key",
            Outcome::InsufficientPermission => "Insufficient permission",
            Outcome::IpNotAllowed => "Address not allowed",
            Outcome::NoApiAccess => "No API access on this plan",
            Outcome::RateLimited => "Rate limited",
            Outcome::QuotaExceeded => "Monthly quota exceeded",
        }
    }

    /// The outcome's problem type: `/docs/problems#wrong-environment`.
    pub fn problem_type(self) -> String {
        format!("/docs/problems#{}", self.as_str().replace('_', "-"))
    }

    /// Whether this outcome depends on counters (rate limits, the quota) rather than
    /// only on the key and the request.
    pub fn is_metered(self) -> bool {
        matches!(self, Outcome::RateLimited | Outcome::QuotaExceeded)
    }
}
