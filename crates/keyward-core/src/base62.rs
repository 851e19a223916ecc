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

/// `value` as exactly `width` base62 digits, most significant first, zero-padded.
/// `width` must be large enough: 6 digits hold any `u32` (62^6 > 2^32).
pub fn encode_fixed(mut value: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    debug_assert_eq!(value, 0, "value does not fit in {width} base62 digits");
    digits.into_iter().map(char::from).collect()
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

    #[test]
    fn fixed_width_encoding_pads_and_orders_digits() {
        assert_eq!(encode_fixed(0, 6), "000000");
        assert_eq!(encode_fixed(61, 6), "00000z");
        assert_eq!(encode_fixed(62, 6), "000010");
        assert_eq!(encode_fixed(u64::from(u32::MAX), 6), "4gfFC3");
    }
}
