//! Keyed hashing of keys. The store keeps HMAC-SHA-256(pepper, key) and the pepper's
//! version, never the key: a stolen database alone cannot verify a guess, because the
//! pepper lives outside it. Several peppers can be known at once so that the current
//! one can be rotated while hashes made under older ones still verify.

use crate::key::ApiKeySecret;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The shortest pepper accepted, in bytes.
pub const MIN_PEPPER_LEN: usize = 32;

/// The stored form of a key: which pepper, and the HMAC under it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash {
    pub pepper_version: u32,
    pub digest: [u8; 32],
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash(v{}, ..)", self.pepper_version)
    }
}

struct Pepper(Vec<u8>);

/// Every pepper this server knows, by version; the highest version hashes new keys.
#[derive(Clone)]
pub struct PepperSet {
    current: u32,
    // A pre-keyed HMAC per version, cloned per use: keying costs two SHA-256 blocks.
    macs: BTreeMap<u32, HmacSha256>,
}

impl fmt::Debug for PepperSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<_> = self.macs.keys().collect();
        write!(
            f,
            "PepperSet(current v{}, versions {versions:?}, [redacted])",
            self.current
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PepperError {
    #[error("no pepper given")]
    Empty,
    #[error("pepper version {0} is {1} bytes long; a pepper must be at least {MIN_PEPPER_LEN} bytes of random text")]
    TooShort(u32, usize),
    #[error(
        "'{0}' is not a valid pepper version: use a whole number from 1 up, as in '2:<pepper>'"
    )]
    BadVersion(String),
    #[error("pepper version {0} is given twice")]
    Duplicate(u32),
}

impl PepperSet {
    /// Parses a pepper list: either one bare pepper (version 1), or comma-separated
    /// `version:pepper` entries such as `2:newpepper,1:oldpepper`.
    pub fn parse(spec: &str) -> Result<Self, PepperError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(PepperError::Empty);
        }
        let mut peppers = BTreeMap::new();
        let versioned = spec.split(',').all(|e| {
            e.split_once(':')
                .is_some_and(|(v, _)| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        });
        if versioned {
            for entry in spec.split(',') {
                let (v, p) = entry.split_once(':').ok_or(PepperError::Empty)?;
                let version: u32 = v
                    .parse()
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| PepperError::BadVersion(v.to_owned()))?;
                if peppers
                    .insert(version, Pepper(p.trim().as_bytes().to_vec()))
                    .is_some()
                {
                    return Err(PepperError::Duplicate(version));
                }
            }
        } else {
            peppers.insert(1, Pepper(spec.as_bytes().to_vec()));
        }
        Self::from_peppers(peppers)
    }

    fn from_peppers(peppers: BTreeMap<u32, Pepper>) -> Result<Self, PepperError> {
        let mut macs = BTreeMap::new();
        for (version, pepper) in peppers {
            if pepper.0.len() < MIN_PEPPER_LEN {
                return Err(PepperError::TooShort(version, pepper.0.len()));
            }
            let mac = HmacSha256::new_from_slice(&pepper.0).expect("HMAC takes keys of any length");
            macs.insert(version, mac);
        }
        let current = *macs.keys().next_back().ok_or(PepperError::Empty)?;
        Ok(PepperSet { current, macs })
    }

    pub fn current_version(&self) -> u32 {
        self.current
    }

    /// Hashes `key` under the current pepper.
    pub fn hash(&self, key: &ApiKeySecret) -> KeyHash {
        self.hash_str(key.expose_secret())
    }

    /// Whether `key` matches `stored`, compared in constant time. A hash made under a
    /// pepper this server no longer knows never matches.
    pub fn verify(&self, key: &ApiKeySecret, stored: &KeyHash) -> bool {
        self.verify_str(key.expose_secret(), stored)
    }

    /// [`hash`](Self::hash) for other secrets, such as setup tokens.
    pub fn hash_str(&self, secret: &str) -> KeyHash {
        KeyHash {
            pepper_version: self.current,
            digest: self
                .digest(self.current, secret)
                .expect("the current pepper is always known"),
        }
    }

    /// [`verify`](Self::verify) for other secrets.
    pub fn verify_str(&self, secret: &str, stored: &KeyHash) -> bool {
        match self.digest(stored.pepper_version, secret) {
            Some(digest) => bool::from(digest.ct_eq(&stored.digest)),
            None => false,
        }
    }

    fn digest(&self, version: u32, secret: &str) -> Option<[u8; 32]> {
        let mut mac = self.macs.get(&version)?.clone();
        mac.update(secret.as_bytes());
        Some(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{GeneratedKey, Prefix};
    use crate::kind::Kind;
    use rand_core::OsRng;

    const P1: &str = "pepper-one-0123456789abcdefghijklmnopqrstuvwxyz";
    const P2: &str = "pepper-two-0123456789abcdefghijklmnopqrstuvwxyz";

    fn key() -> GeneratedKey {
        GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut OsRng)
    }

    #[test]
    fn a_hash_verifies_its_own_key_and_no_other() {
        let peppers = PepperSet::parse(P1).unwrap();
        let (a, b) = (key(), key());
        let hash = peppers.hash(&a.secret);
        assert!(peppers.verify(&a.secret, &hash));
        assert!(!peppers.verify(&b.secret, &hash));
    }

    #[test]
    fn the_hash_depends_on_the_pepper() {
        let k = key();
        let one = PepperSet::parse(P1).unwrap();
        let two = PepperSet::parse(P2).unwrap();
        assert_ne!(one.hash(&k.secret).digest, two.hash(&k.secret).digest);
        assert!(!two.verify(&k.secret, &one.hash(&k.secret)));
    }

    #[test]
    fn old_hashes_still_verify_after_the_pepper_is_rotated() {
        let k = key();
        let before = PepperSet::parse(P1).unwrap();
        let old_hash = before.hash(&k.secret);
        let after = PepperSet::parse(&format!("2:{P2},1:{P1}")).unwrap();
        assert_eq!(after.current_version(), 2);
        assert!(after.verify(&k.secret, &old_hash));
        assert_eq!(after.hash(&k.secret).pepper_version, 2);
        // Once version 1 is dropped, its hashes no longer verify.
        let dropped = PepperSet::parse(&format!("2:{P2}")).unwrap();
        assert!(!dropped.verify(&k.secret, &old_hash));
    }

    #[test]
    fn weak_or_ambiguous_pepper_lists_are_refused() {
        assert_eq!(PepperSet::parse("").unwrap_err(), PepperError::Empty);
        assert!(matches!(
            PepperSet::parse("short"),
            Err(PepperError::TooShort(1, 5))
        ));
        assert!(matches!(
            PepperSet::parse(&format!("1:{P1},1:{P2}")),
            Err(PepperError::Duplicate(1))
        ));
        assert!(matches!(
            PepperSet::parse(&format!("0:{P1}")),
            Err(PepperError::BadVersion(_))
        ));
    }

    #[test]
    fn debug_output_shows_no_pepper() {
        let peppers = PepperSet::parse(P1).unwrap();
        assert!(!format!("{peppers:?}").contains("pepper-one"));
    }
}
