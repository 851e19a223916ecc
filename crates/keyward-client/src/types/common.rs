//! The small vocabularies the API shares: key kinds, levels, organization access,
//! roles, key statuses and check outcomes. Each lists `ALL` the values this client
//! knows, which the schema test compares with the enums of `docs/openapi.json`.
//!
//! **Forward compatible.** A newer keyward may answer with a value this client does
//! not know yet (a new outcome, a new key kind). Such a value reads as the
//! vocabulary's `Other` variant, holding the text as keyward wrote it, rather than
//! failing the whole answer: an older client keeps working against a newer server,
//! and [`KeywardLayer`](crate::KeywardLayer) refuses a request whose outcome it does
//! not know (fail closed) instead of failing every request. `Other` writes back its
//! text unchanged. Parsing text with `FromStr` (what a person typed) stays strict:
//! only the known values.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            /// A value this version of the client does not know (from a newer
            /// keyward), as keyward wrote it.
            Other(String),
        }

        impl $name {
            /// The values this client knows (every one but `Other`).
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The value as the API writes it; for `Other`, the text keyward sent.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(text) => text,
                }
            }

            /// Whether this client knows the value: `false` for `Other`.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }

            /// The known value `text` names, if any.
            fn known(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The value of `text`: a known one, or else `Other` holding it.
            fn from_text(text: String) -> Self {
                Self::known(&text).unwrap_or($name::Other(text))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map($name::from_text)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            /// Only the known values: for text a person gave.
            fn from_str(s: &str) -> Result<Self, String> {
                Self::known(s).ok_or_else(|| {
                    format!(
                        "'{}' is not one of: {}",
                        s.chars().take(40).collect::<String>(),
                        [$($text),*].join(", ")
                    )
                })
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
    /// The title of the outcome's problem type, as keyward's `/docs/problems` lists it;
    /// for an outcome this client does not know, a title that says only that the key
    /// was refused.
    pub fn title(&self) -> &'static str {
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
            Outcome::Other(_) => "API key refused",
        }
    }

    /// The outcome's problem type: `/docs/problems#wrong-environment` (keyward names
    /// every outcome's type so, a newer one's too).
    pub fn problem_type(&self) -> String {
        format!("/docs/problems#{}", self.as_str().replace('_', "-"))
    }

    /// Whether this outcome may depend on counters (rate limits, the quota) rather
    /// than only on the key and the request. An outcome this client does not know
    /// might: it counts as metered, so the layer never caches it.
    pub fn is_metered(&self) -> bool {
        matches!(
            self,
            Outcome::RateLimited | Outcome::QuotaExceeded | Outcome::Other(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A newer keyward's value (an outcome, a kind this client does not know) reads
    /// as `Other` with its exact text and writes back the same, so an older client
    /// can still read the answers of a newer server.
    #[test]
    fn unknown_values_read_as_other_and_keep_their_text() {
        let outcome: Outcome = serde_json::from_str(r#""some-future-outcome""#).unwrap();
        assert_eq!(outcome, Outcome::Other("some-future-outcome".into()));
        assert_eq!(outcome.as_str(), "some-future-outcome");
        assert!(!outcome.is_known());
        assert!(outcome.is_metered());
        assert_eq!(
            serde_json::to_string(&outcome).unwrap(),
            r#""some-future-outcome""#
        );
        let kind: Kind = serde_json::from_str(r#""sandbox""#).unwrap();
        assert_eq!(kind, Kind::Other("sandbox".into()));
        // Known values still read as themselves, and every known value round-trips.
        for known in Outcome::ALL {
            let text = serde_json::to_string(known).unwrap();
            assert_eq!(&serde_json::from_str::<Outcome>(&text).unwrap(), known);
            assert!(known.is_known());
        }
        // What a person types is still checked against the known values.
        assert!("some-future-outcome".parse::<Outcome>().is_err());
        assert_eq!("live".parse::<Kind>(), Ok(Kind::Live));
        // Not text at all is still an error.
        assert!(serde_json::from_str::<Outcome>("3").is_err());
    }
}
