//! Each request's id, `x-request-id`: the client's own when it sent a sane one, so a
//! request can be followed from the operator's backend into keyward's logs, otherwise a
//! new one. It is logged with the request and echoed in the answer.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longer ids are replaced: a log line must stay a log line.
pub const MAX_LEN: usize = 128;

/// Makes sure `headers` holds exactly one sane request id and returns it: the client's
/// if it is 1 to [`MAX_LEN`] visible ASCII characters and does not look like a key
/// (a key pasted into the wrong header must not reach the logs), a new one otherwise.
pub fn ensure(headers: &mut HeaderMap) -> HeaderValue {
    let mut sent = headers.get_all(&X_REQUEST_ID).iter();
    if let (Some(id), None) = (sent.next(), sent.next()) {
        if is_sane(id.as_bytes()) {
            return id.clone();
        }
    }
    let id = generate();
    headers.insert(X_REQUEST_ID, id.clone());
    id
}

fn is_sane(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.iter().all(|b| matches!(b, 0x21..=0x7e))
        // Only visible ASCII by now, so this is text.
        && !std::str::from_utf8(id).is_ok_and(keyward_core::echo::looks_secret)
}

/// 128 random bits as 32 hex digits. From a per-thread generator: no lock, no system
/// call, and nothing about how many requests the server has seen. One allocation,
/// shared by the request's copy and the answer's.
fn generate() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = (u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..));
    let mut text = [0u8; 32];
    for (i, digit) in text.iter_mut().enumerate() {
        *digit = HEX[((bits >> (4 * (31 - i))) & 0xf) as usize];
    }
    // Hex digits are always a valid header value.
    HeaderValue::from_maybe_shared(Bytes::from_owner(text))
        .unwrap_or(HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_id_is_kept_and_anything_else_replaced() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("req-42.abc"));
        assert_eq!(ensure(&mut h), "req-42.abc");

        for bad in [
            "".to_owned(),
            "has space".to_owned(),
            "x".repeat(MAX_LEN + 1),
            "kw_live_0123456789abcdef_secret".to_owned(),
        ] {
            let mut h = HeaderMap::new();
            h.insert(X_REQUEST_ID, HeaderValue::from_str(&bad).unwrap());
            let id = ensure(&mut h);
            assert_ne!(id, bad.as_str());
            assert_eq!(id.len(), 32);
            assert_eq!(h.get(X_REQUEST_ID), Some(&id), "the request carries it on");
        }

        let mut h = HeaderMap::new();
        h.append(X_REQUEST_ID, HeaderValue::from_static("one"));
        h.append(X_REQUEST_ID, HeaderValue::from_static("two"));
        let id = ensure(&mut h);
        assert_eq!(h.get_all(X_REQUEST_ID).iter().count(), 1);
        assert_ne!(id, "one");
    }

    #[test]
    fn generated_ids_are_hex_and_differ() {
        let a = ensure(&mut HeaderMap::new());
        let b = ensure(&mut HeaderMap::new());
        assert_ne!(a, b);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
    }
}
