//! Identifiers of stored things: a short type prefix and 16 random base62 characters
//! (`org_…`, `proj_…`, `env_…`, `usr_…`). Random rather than sequential so that any
//! number of nodes can create them without coordination, and so that ids do not
//! reveal how many organizations exist.

use crate::base62;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;

const RANDOM_LEN: usize = 16;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
                $name(format!("{}{}", $prefix, base62::random(rng, RANDOM_LEN)))
            }

            /// Accepts only strings of this id's shape, so that anything else can be
            /// treated as a name without ambiguity.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?;
                (rest.len() == RANDOM_LEN && base62::is_base62(rest)).then(|| $name(s.to_owned()))
            }

            /// Wraps an id read back from the store, which only holds ids it was given.
            pub fn from_trusted(s: String) -> Self {
                $name(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// An organization: the tenant.
    OrgId,
    "org_"
);
prefixed_id!(
    /// A project of an organization.
    ProjectId,
    "proj_"
);
prefixed_id!(
    /// An environment of a project.
    EnvironmentId,
    "env_"
);
prefixed_id!(
    /// A person who signs in to the dashboard.
    UserId,
    "usr_"
);
prefixed_id!(
    /// An invitation to join an organization.
    InvitationId,
    "inv_"
);
prefixed_id!(
    /// A person's signed-in session: the public part of its token.
    SessionId,
    "ses_"
);
prefixed_id!(
    /// A one-time password-reset link: the public part of its token.
    ResetId,
    "rst_"
);

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn generated_ids_parse_and_names_do_not() {
        let id = OrgId::generate(&mut OsRng);
        assert_eq!(OrgId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(ProjectId::parse(id.as_str()), None);
        assert_eq!(OrgId::parse("Acme"), None);
        assert_eq!(OrgId::parse("org_short"), None);
    }
}
