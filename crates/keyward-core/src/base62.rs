//! Base62 (`0-9A-Za-z`): the only alphabet keyward puts in keys and ids, so that a
//! double-click selects a whole key and no character needs escaping anywhere.

use rand_core::{CryptoRng, RngCore};

pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether every byte of `s` is in the base62 alphabet.
pub fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `len` uniformly random base62 characters: each carries log2(62) ≈ 5.954 bits.
///
/// Rejection sampling keeps the distribution uniform: bytes of 248 and above are
/// thrown away, because 248 is the largest multiple of 62 that fits in a byte.
pub fn random(rng: &mut (impl RngCore + CryptoRng), len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        rng.fill_bytes(&mut buf);
        for &b in &buf {
            if b < 248 && out.len() < len {
                out.push(ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn random_strings_have_the_requested_length_and_alphabet() {
        for len in [0, 1, 16, 43, 200] {
            let s = random(&mut OsRng, len);
            assert_eq!(s.len(), len);
            assert!(is_base62(&s));
        }
    }
}
