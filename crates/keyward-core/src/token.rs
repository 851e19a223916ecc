//! Operator admin tokens: `{prefix}_admin_{id}_{secret}{checksum}`, the same shape as
//! keys (so secret scanners catch both) with the kind `admin`. An admin token may do
//! anything in any organization, so like keys it is shown once and stored only as a
//! keyed hash.

use crate::hash::KeyHash;
use crate::key::{
    generate_parts, parse_parts, ApiKeySecret, KeyId, MalformedKey, Prefix, Prefixes,
};
use crate::names::KeyName;
use crate::timestamp::Timestamp;
use rand_core::{CryptoRng, RngCore};

pub const ADMIN_KIND: &str = "admin";

#[derive(Debug)]
pub struct ParsedAdminToken {
    pub id: KeyId,
    pub secret: ApiKeySecret,
}

impl ParsedAdminToken {
    pub fn parse(text: &str, prefixes: &Prefixes) -> Result<Self, MalformedKey> {
        match parse_parts(text, prefixes)? {
            (ADMIN_KIND, id) => Ok(ParsedAdminToken {
                id,
                secret: ApiKeySecret::from_parsed(text),
            }),
            _ => Err(MalformedKey::BadKind),
        }
    }

    pub fn generate(prefix: &Prefix, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let (id, secret) = generate_parts(prefix, ADMIN_KIND, rng);
        ParsedAdminToken { id, secret }
    }
}

/// Whether `text` has the admin token shape for one of these prefixes, without
/// checking it.
pub fn looks_like_admin_token(text: &str, prefixes: &Prefixes) -> bool {
    prefixes.iter().any(|p| {
        text.strip_prefix(p.as_str())
            .and_then(|rest| rest.strip_prefix("_admin_"))
            .is_some()
    })
}

/// An admin token as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminToken {
    pub id: KeyId,
    /// What the token is for, such as "billing service".
    pub name: KeyName,
    pub hash: KeyHash,
    pub created_by: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::ParsedKey;
    use rand_core::OsRng;

    #[test]
    fn admin_tokens_round_trip_and_are_never_keys() {
        let prefix = Prefix::default();
        let prefixes = Prefixes::default();
        let t = ParsedAdminToken::generate(&prefix, &mut OsRng);
        let text = t.secret.expose_secret();
        assert!(text.starts_with("kw_admin_"));
        assert!(looks_like_admin_token(text, &prefixes));
        assert_eq!(ParsedAdminToken::parse(text, &prefixes).unwrap().id, t.id);
        assert_eq!(
            ParsedKey::parse(text, &prefixes),
            Err(MalformedKey::BadKind)
        );
        let key = crate::key::GeneratedKey::generate(&prefix, crate::Kind::Live, &mut OsRng);
        assert!(ParsedAdminToken::parse(key.secret.expose_secret(), &prefixes).is_err());
    }
}
