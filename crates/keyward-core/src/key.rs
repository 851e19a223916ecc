//! The key format: `{prefix}_{kind}_{key id}_{secret}{checksum}`.
//!
//! * prefix: set by the operator (`kw`, `fxk`, ...), lowercase letters and digits;
//! * kind: `live` or `test`;
//! * key id: 16 base62 characters, public, used for lookup and in audit logs;
//! * secret: 43 base62 characters from the OS CSPRNG, 43 × log2(62) ≈ 256.03 bits;
//! * checksum: CRC32 of everything before it, as 6 base62 digits, so that a typo or a
//!   truncated key is refused without touching the store, and secret scanners can
//!   recognise our keys with `{prefix}_(live|test)_[0-9A-Za-z]{16}_[0-9A-Za-z]{49}`.
//!
//! Parsing never panics and never allocates more than the input it accepts.

use crate::base62;
use crate::kind::Kind;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;

pub const KEY_ID_LEN: usize = 16;
pub const SECRET_LEN: usize = 43;
pub const CHECKSUM_LEN: usize = 6;
/// No key of ours is longer than this (a 16-character prefix, the longest allowed).
pub const MAX_KEY_LEN: usize = 16 + 1 + 4 + 1 + KEY_ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;

/// The operator's key prefix, such as `kw` or `fxk`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prefix(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key prefix '{0}': use 1 to 16 lowercase letters and digits, starting with a letter (for example 'kw')")]
pub struct InvalidPrefix(pub String);

impl Prefix {
    pub fn parse(s: &str) -> Result<Self, InvalidPrefix> {
        let ok = (1..=16).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(Prefix(s.to_owned()))
        } else {
            Err(InvalidPrefix(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Prefix("kw".to_owned())
    }
}

impl TryFrom<String> for Prefix {
    type Error = InvalidPrefix;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Prefix::parse(&s)
    }
}

impl From<Prefix> for String {
    fn from(p: Prefix) -> String {
        p.0
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The prefixes this server accepts, in order: new keys and tokens get the first, and
/// keys issued under earlier ones keep working after the operator changes the prefix
/// (`fxk,kw`: issue `fxk_…`, still accept `kw_…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixes(Vec<Prefix>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPrefixes {
    #[error("no key prefix given: name at least one, such as 'kw'")]
    Empty,
    #[error("the key prefix '{0}' is listed twice")]
    Repeated(String),
    #[error(transparent)]
    Prefix(#[from] InvalidPrefix),
}

impl Prefixes {
    /// From prefixes in order of preference: the first is the one new keys get.
    pub fn new(list: Vec<Prefix>) -> Result<Self, InvalidPrefixes> {
        if list.is_empty() {
            return Err(InvalidPrefixes::Empty);
        }
        for (i, p) in list.iter().enumerate() {
            if list[..i].contains(p) {
                return Err(InvalidPrefixes::Repeated(p.to_string()));
            }
        }
        Ok(Prefixes(list))
    }

    /// A comma-separated list, such as `fxk,kw`.
    pub fn parse(s: &str) -> Result<Self, InvalidPrefixes> {
        let list = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Prefix::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Prefixes::new(list)
    }

    /// The prefix new keys and tokens get.
    pub fn current(&self) -> &Prefix {
        &self.0[0]
    }

    pub fn accepts(&self, prefix: &str) -> bool {
        self.0.iter().any(|p| p.as_str() == prefix)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Prefix> {
        self.0.iter()
    }
}

impl Default for Prefixes {
    fn default() -> Self {
        Prefixes(vec![Prefix::default()])
    }
}

impl From<Prefix> for Prefixes {
    fn from(p: Prefix) -> Self {
        Prefixes(vec![p])
    }
}

impl fmt::Display for Prefixes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(p.as_str())?;
        }
        Ok(())
    }
}

/// A key's public identifier. Unique across all organizations. Always 16 base62
/// characters, so it is kept inline (no allocation) and is `Copy`: the check builds
/// one for every request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key id '{0}': a key id is 16 letters and digits, as shown in the key list")]
pub struct InvalidKeyId(pub String);

impl KeyId {
    pub fn parse(s: &str) -> Result<Self, InvalidKeyId> {
        match <[u8; KEY_ID_LEN]>::try_from(s.as_bytes()) {
            Ok(bytes) if base62::is_base62(s) => Ok(KeyId(bytes)),
            _ => {
                // Echo at most a short, printable part of what was given.
                Err(InvalidKeyId(crate::echo::echo(s, 32)))
            }
        }
    }

    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let text = base62::random(rng, KEY_ID_LEN);
        let mut bytes = [0u8; KEY_ID_LEN];
        bytes.copy_from_slice(text.as_bytes());
        KeyId(bytes)
    }

    pub fn as_str(&self) -> &str {
        // Only base62 bytes ever get in, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.as_str())
    }
}

impl TryFrom<String> for KeyId {
    type Error = InvalidKeyId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        KeyId::parse(&s)
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.as_str().to_owned()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KeyId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A whole API key as a client presents it. Holding it is holding the power of the
/// key, so `Debug` and `Display` never show the secret part.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub(crate) fn from_parsed(text: &str) -> Self {
        ApiKeySecret(text.to_owned())
    }

    /// The full key text. Call only to hand the key to its owner once, or to hash it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret([redacted])")
    }
}

impl fmt::Display for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted API key]")
    }
}

/// Why a presented string is not a key of ours. The reasons are safe to show: none
/// of them repeats any part of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedKey {
    #[error("the key is empty")]
    Empty,
    #[error("the key is longer than any key keyward issues")]
    TooLong,
    #[error("the key contains characters other than letters, digits and '_'")]
    BadCharacters,
    #[error("the key does not have the shape prefix_kind_id_secret")]
    BadShape,
    #[error("the key does not start with this server's prefix")]
    WrongPrefix,
    #[error("the key's kind is neither 'live' nor 'test' (nor 'admin' for operator tokens)")]
    BadKind,
    #[error("the key's id part has the wrong length")]
    BadKeyId,
    #[error("the key's secret part has the wrong length")]
    BadSecret,
    #[error("the key's checksum does not match: it was mistyped or truncated")]
    BadChecksum,
}

/// A presented key's text, borrowed from the request it came in (the check copies
/// nothing): as sensitive as the key, so `Debug` and `Display` never show it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretRef<'a>(&'a str);

impl<'a> SecretRef<'a> {
    /// Wraps a presented key's text, which is as sensitive as the key.
    pub fn new(text: &'a str) -> Self {
        SecretRef(text)
    }

    /// The full key text, to hash it.
    pub fn expose_secret(&self) -> &'a str {
        self.0
    }
}

impl fmt::Debug for SecretRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretRef([redacted])")
    }
}

impl fmt::Display for SecretRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted API key]")
    }
}

/// A key that passed every check that needs no store: shape, prefix, kind and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    pub kind: Kind,
    pub id: KeyId,
    pub secret: SecretRef<'a>,
}

impl<'a> ParsedKey<'a> {
    /// Parses `text` as a key with one of `prefixes`. Cheap checks first: length and
    /// alphabet before any splitting, the checksum last.
    pub fn parse(text: &'a str, prefixes: &Prefixes) -> Result<Self, MalformedKey> {
        let (kind, id) = parse_parts(text, prefixes)?;
        let kind = Kind::parse(kind).map_err(|_| MalformedKey::BadKind)?;
        Ok(ParsedKey {
            kind,
            id,
            secret: SecretRef(text),
        })
    }
}

/// The shape shared by keys and admin tokens: `{prefix}_{kind}_{id}_{secret}{checksum}`.
/// Returns the kind part unchecked, and the id.
pub(crate) fn parse_parts<'t>(
    text: &'t str,
    prefixes: &Prefixes,
) -> Result<(&'t str, KeyId), MalformedKey> {
    if text.is_empty() {
        return Err(MalformedKey::Empty);
    }
    if text.len() > MAX_KEY_LEN {
        return Err(MalformedKey::TooLong);
    }
    // One pass over the bytes: check the alphabet and find the three separators.
    let mut separators = [0usize; 3];
    let mut found = 0;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if b == b'_' {
            if found == separators.len() {
                return Err(MalformedKey::BadShape);
            }
            separators[found] = i;
            found += 1;
        } else if !b.is_ascii_alphanumeric() {
            return Err(MalformedKey::BadCharacters);
        }
    }
    if found != separators.len() {
        return Err(MalformedKey::BadShape);
    }
    let [a, b, c] = separators;
    let (p, kind, id, tail) = (&text[..a], &text[a + 1..b], &text[b + 1..c], &text[c + 1..]);
    if !prefixes.accepts(p) {
        return Err(MalformedKey::WrongPrefix);
    }
    if !matches!(kind, "live" | "test" | "admin") {
        return Err(MalformedKey::BadKind);
    }
    if id.len() != KEY_ID_LEN {
        return Err(MalformedKey::BadKeyId);
    }
    if tail.len() != SECRET_LEN + CHECKSUM_LEN {
        return Err(MalformedKey::BadSecret);
    }
    let (body, checksum) = text.split_at(text.len() - CHECKSUM_LEN);
    if checksum.as_bytes() != checksum_bytes(body) {
        return Err(MalformedKey::BadChecksum);
    }
    let id = KeyId::parse(id).map_err(|_| MalformedKey::BadKeyId)?;
    Ok((kind, id))
}

/// Builds `{prefix}_{kind}_{id}_{secret}{checksum}` from fresh randomness.
pub(crate) fn generate_parts(
    prefix: &Prefix,
    kind: &str,
    rng: &mut (impl RngCore + CryptoRng),
) -> (KeyId, ApiKeySecret) {
    let id = KeyId::generate(rng);
    let secret = base62::random(rng, SECRET_LEN);
    let body = format!("{prefix}_{kind}_{id}_{secret}");
    let text = format!("{body}{}", checksum_of(&body));
    (id, ApiKeySecret(text))
}

/// A freshly generated key: the only moment its full text exists on the server.
#[derive(Debug)]
pub struct GeneratedKey {
    pub kind: Kind,
    pub id: KeyId,
    pub secret: ApiKeySecret,
}

impl GeneratedKey {
    pub fn generate(prefix: &Prefix, kind: Kind, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let (id, secret) = generate_parts(prefix, kind.as_str(), rng);
        GeneratedKey { kind, id, secret }
    }
}

fn checksum_of(body: &str) -> String {
    checksum_bytes(body)
        .iter()
        .map(|&b| char::from(b))
        .collect()
}

/// The checksum of `body` as six base62 digits, on the stack: the check computes it
/// for every request.
fn checksum_bytes(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = base62::ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_core::OsRng;

    fn kw() -> Prefix {
        Prefix::parse("kw").unwrap()
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let key = GeneratedKey::generate(&kw(), Kind::Live, &mut OsRng);
        let text = key.secret.expose_secret();
        assert!(text.starts_with(&format!("kw_live_{}_", key.id)));
        assert_eq!(
            text.len(),
            3 + 5 + KEY_ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN
        );
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    }

    #[test]
    fn the_secret_never_shows_in_debug_or_display() {
        let key = GeneratedKey::generate(&kw(), Kind::Test, &mut OsRng);
        let text = key.secret.expose_secret().to_owned();
        let secret_part = &text[text.len() - SECRET_LEN - CHECKSUM_LEN..];
        for shown in [format!("{:?}", key), format!("{}", key.secret)] {
            assert!(!shown.contains(secret_part), "{shown}");
        }
        let parsed = ParsedKey::parse(&text, &kw().into()).unwrap();
        assert!(!format!("{parsed:?}").contains(secret_part));
    }

    #[test]
    fn a_key_with_another_prefix_is_malformed() {
        let key = GeneratedKey::generate(&Prefix::parse("fxk").unwrap(), Kind::Live, &mut OsRng);
        assert_eq!(
            ParsedKey::parse(key.secret.expose_secret(), &kw().into()),
            Err(MalformedKey::WrongPrefix)
        );
    }

    /// The checksum's exact form is part of the key format secret scanners rely on:
    /// CRC32 as six base62 digits, most significant first, zero-padded.
    #[test]
    fn the_checksum_is_crc32_in_six_base62_digits() {
        assert_eq!(&checksum_bytes(""), b"000000");
        assert_eq!(&checksum_bytes("kw_live_0123456789abcdef_"), b"1Dzke2");
    }

    /// Changing the prefix keeps earlier keys working: the list accepts every prefix
    /// in it, and new keys get the first.
    #[test]
    fn keys_under_any_accepted_prefix_parse() {
        let list = Prefixes::parse("fxk, kw").unwrap();
        assert_eq!(list.current().as_str(), "fxk");
        let old = GeneratedKey::generate(&kw(), Kind::Live, &mut OsRng);
        let new = GeneratedKey::generate(list.current(), Kind::Live, &mut OsRng);
        assert!(ParsedKey::parse(old.secret.expose_secret(), &list).is_ok());
        assert!(ParsedKey::parse(new.secret.expose_secret(), &list).is_ok());
        assert_eq!(
            ParsedKey::parse(new.secret.expose_secret(), &kw().into()),
            Err(MalformedKey::WrongPrefix)
        );
        assert_eq!(Prefixes::parse(" , "), Err(InvalidPrefixes::Empty));
        assert!(matches!(
            Prefixes::parse("kw,kw"),
            Err(InvalidPrefixes::Repeated(_))
        ));
        assert!(Prefixes::parse("kw,K W").is_err());
        assert_eq!(list.to_string(), "fxk,kw");
    }

    #[test]
    fn prefixes_are_validated() {
        for good in ["kw", "fxk", "fbsk", "a1", "abcdefghijklmnop"] {
            assert!(Prefix::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "KW", "k_w", "1kw", "abcdefghijklmnopq", "kw-", "ké"] {
            assert!(Prefix::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn obvious_garbage_is_malformed() {
        for bad in [
            "",
            "kw",
            "kw_live",
            "kw_live__",
            "Bearer kw_live_x",
            "kw_prod_0123456789abcdef_0000000000000000000000000000000000000000000000000",
            "kw_live_0123456789abcdef_00000000000000000000000000000000000000000000000000_",
        ] {
            assert!(ParsedKey::parse(bad, &kw().into()).is_err(), "{bad}");
        }
        let long = "k".repeat(10_000);
        assert_eq!(
            ParsedKey::parse(&long, &kw().into()),
            Err(MalformedKey::TooLong)
        );
    }

    proptest! {
        #[test]
        fn every_generated_key_round_trips(live in any::<bool>(), prefix in "[a-z][a-z0-9]{0,15}") {
            let prefix = Prefix::parse(&prefix).unwrap();
            let kind = if live { Kind::Live } else { Kind::Test };
            let key = GeneratedKey::generate(&prefix, kind, &mut OsRng);
            let parsed = ParsedKey::parse(key.secret.expose_secret(), &prefix.clone().into()).unwrap();
            prop_assert_eq!(parsed.kind, kind);
            prop_assert_eq!(&parsed.id, &key.id);
            prop_assert_eq!(parsed.secret.expose_secret(), key.secret.expose_secret());
        }

        #[test]
        fn random_strings_never_parse(s in ".{0,120}") {
            // 2^-32 would be the chance of a random well-shaped string passing the CRC;
            // the shapes generated here almost never even get that far.
            prop_assert!(ParsedKey::parse(&s, &kw().into()).is_err());
        }

        #[test]
        fn any_single_character_change_is_malformed(pos in 0usize..200, c in "[A-Za-z0-9_.= -]") {
            let key = GeneratedKey::generate(&kw(), Kind::Live, &mut OsRng);
            let text = key.secret.expose_secret();
            let pos = pos % text.len();
            let c = c.chars().next().unwrap();
            prop_assume!(text.as_bytes()[pos] != c as u8);
            let mut mutated = text.to_owned();
            mutated.replace_range(pos..=pos, &c.to_string());
            prop_assert!(ParsedKey::parse(&mutated, &kw().into()).is_err());
        }

        #[test]
        fn truncated_or_extended_keys_are_malformed(cut in 1usize..80, extra in "[A-Za-z0-9]{1,4}") {
            let key = GeneratedKey::generate(&kw(), Kind::Test, &mut OsRng);
            let text = key.secret.expose_secret();
            let cut = cut.min(text.len());
            prop_assert!(ParsedKey::parse(&text[..text.len() - cut], &kw().into()).is_err());
            let extended = format!("{text}{extra}");
            prop_assert!(ParsedKey::parse(&extended, &kw().into()).is_err());
        }
    }
}
