//! What of a person's input an error message may repeat. Errors are shown, logged and
//! copied into tickets, so an input that looks like it holds a key or token (a key
//! pasted where an id or a name belonged is a common slip) is never echoed, not even in
//! part; anything else is cut short and stripped of control characters.

/// `input` as an error message may quote it: at most `max` characters, or a placeholder
/// when it looks like it contains an API key or admin token.
pub fn echo(input: &str, max: usize) -> String {
    if looks_secret(input) {
        return "[input that looks like an API key, not repeated]".into();
    }
    input
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

/// Whether `s` contains what looks like a key or admin token of any prefix, whole or
/// in part: a lowercase prefix, `_live_`, `_test_` or `_admin_`, then at least eight
/// letters and digits (the start of a key id). The one test of "is this a key?" for
/// everything that must never hold or repeat one: error messages, names, descriptions,
/// URLs.
pub fn looks_secret(s: &str) -> bool {
    let bytes = s.as_bytes();
    ["_live_", "_test_", "_admin_"].iter().any(|marker| {
        s.match_indices(marker).any(|(at, _)| {
            let after = &bytes[at + marker.len()..];
            at > 0
                && (bytes[at - 1].is_ascii_lowercase() || bytes[at - 1].is_ascii_digit())
                && after
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric())
                    .count()
                    >= 8
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{GeneratedKey, Prefix};
    use crate::kind::Kind;
    use rand_core::OsRng;

    #[test]
    fn keys_are_never_echoed_not_even_in_part() {
        let key = GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut OsRng);
        let text = key.secret.expose_secret();
        for input in [text.to_owned(), format!("x{text}"), text[..30].to_owned()] {
            let shown = echo(&input, 200);
            assert!(!shown.contains(&text[8..24]), "{shown}");
        }
        assert_eq!(echo("Website", 40), "Website");
        // Words that merely contain a kind are not keys.
        for fine in [
            "my_live_key",
            "tests_live",
            "_live_0123456789",
            "KW_LIVE_0123456789",
        ] {
            assert!(!looks_secret(fine), "{fine}");
        }
        assert!(looks_secret("fxk_test_0123456789"));
        assert_eq!(echo("a\nb", 40), "ab");
        assert_eq!(echo(&"x".repeat(50), 40).len(), 40);
    }
}
