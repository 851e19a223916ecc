//! Validated names and descriptions. Everything a person types is checked here once,
//! so the rest of the code can hold these types and not re-check.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidName {
    pub field: &'static str,
    pub problem: String,
}

fn clean_text(field: &'static str, raw: &str, max: usize) -> Result<String, InvalidName> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(InvalidName {
            field,
            problem: "must not be empty".into(),
        });
    }
    let len = s.chars().count();
    if len > max {
        return Err(InvalidName {
            field,
            problem: format!("is {len} characters long; at most {max} are allowed"),
        });
    }
    if s.chars().any(char::is_control) {
        return Err(InvalidName {
            field,
            problem: "must not contain control characters such as newlines or tabs".into(),
        });
    }
    Ok(s.to_owned())
}

/// The characters `str::trim` removes (Unicode `White_Space`), as a regex class body.
pub const WHITE_SPACE: &str =
    r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// The characters `char::is_control` refuses (Unicode `Cc`), as a regex class body.
pub const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

/// A regex of the strings `str::trim` leaves empty: optional text left out when blank.
pub fn blank_pattern() -> String {
    format!("^[{WHITE_SPACE}]*$")
}

/// The regex (in the syntax JSON Schema, Python and the `regex` crate share) of exactly
/// the strings [`clean_text`] accepts with this `max`: white space around, then 1 to
/// `max` characters with no control character, not starting or ending in white space.
/// The API's documentation states it, so that clients learn the rule from the schema.
fn text_pattern(max: usize) -> String {
    let edge = format!("[^{WHITE_SPACE}{CONTROL}]");
    let rest = match max {
        0 | 1 => String::new(),
        _ => format!("(?:[^{CONTROL}]{{0,{}}}{edge})?", max - 2),
    };
    format!("^[{WHITE_SPACE}]*{edge}{rest}[{WHITE_SPACE}]*$")
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(s: &str) -> Result<Self, InvalidName> {
                clean_text($field, s, $max).map($name)
            }

            /// A regex of exactly the strings [`Self::parse`] accepts.
            pub fn pattern() -> String {
                text_pattern($max)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// A key's name, required: "GitHub Integration", "PostHog".
    KeyName,
    "name",
    100
);
text_type!(
    /// A key's optional free-text description.
    Description,
    "description",
    500
);
text_type!(
    /// An organization's name, unique (ignoring ASCII case) across the server.
    OrgName,
    "organization name",
    100
);
text_type!(
    /// A project's name, unique (ignoring ASCII case) within its organization.
    ProjectName,
    "project name",
    100
);

/// An environment's name, unique within its project: lowercase slug such as
/// `production`, `preview` or `staging-eu`. Names never change, so grants may name them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvName(String);

impl EnvName {
    /// A regex of exactly the names [`EnvName::parse`] accepts.
    pub const PATTERN: &'static str = "^[a-z][a-z0-9-]{0,31}$";

    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let ok = (1..=32).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(EnvName(s.to_owned()))
        } else {
            Err(InvalidName {
                field: "environment",
                problem: format!(
                    "'{}' is not a valid environment name: use 1 to 32 lowercase letters, digits and '-', starting with a letter",
                    crate::echo::echo(s, 40)
                ),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EnvName {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        EnvName::parse(&s)
    }
}

impl From<EnvName> for String {
    fn from(n: EnvName) -> String {
        n.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_key_name_is_required_and_at_most_100_characters() {
        assert!(KeyName::parse("").is_err());
        assert!(KeyName::parse("   ").is_err());
        assert!(KeyName::parse(&"é".repeat(100)).is_ok());
        let err = KeyName::parse(&"a".repeat(101)).unwrap_err();
        assert_eq!(err.field, "name");
        assert!(err.to_string().contains("at most 100"));
        assert!(KeyName::parse("two\nlines").is_err());
        assert_eq!(KeyName::parse("  GitHub  ").unwrap().as_str(), "GitHub");
    }

    #[test]
    fn environment_names_are_slugs() {
        for good in ["production", "preview", "staging-eu", "a1"] {
            assert!(EnvName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Production",
            "prod env",
            "-x",
            "*",
            "a:b",
            &"a".repeat(33),
        ] {
            assert!(EnvName::parse(bad).is_err(), "{bad}");
        }
    }

    /// Strings made of the characters the rules care about: white space, control
    /// characters (some are both), letters, non-ASCII letters.
    fn tricky(max_len: usize) -> impl Strategy<Value = String> {
        let chars = prop::sample::select(vec![
            ' ', '\t', '\n', '\r', '\u{b}', '\u{85}', '\u{a0}', '\u{2003}', '\u{3000}', '\u{0}',
            '\u{1c}', '\u{7f}', '\u{9f}', '\u{200b}', 'a', 'Z', '-', '_', ':', 'é', '字', '😀',
        ]);
        prop::collection::vec(chars, 0..=max_len).prop_map(|c| c.into_iter().collect())
    }

    #[test]
    fn the_documented_text_pattern_of_a_real_type_compiles() {
        let re = regex::Regex::new(&KeyName::pattern()).unwrap();
        assert!(re.is_match("  GitHub  "));
        assert!(re.is_match(&"é".repeat(100)));
        assert!(!re.is_match(&"é".repeat(101)));
        assert!(!re.is_match("two\nlines"));
    }

    proptest! {
        /// The pattern the API documents accepts exactly what the parser accepts, so
        /// that a client following the schema is never refused, nor one ignoring it
        /// accepted.
        #[test]
        fn the_documented_text_pattern_is_the_rule(s in tricky(7), max in 1usize..5) {
            let re = regex::Regex::new(&text_pattern(max)).unwrap();
            prop_assert_eq!(re.is_match(&s), clean_text("t", &s, max).is_ok(), "{:?} max {}", s, max);
        }

        #[test]
        fn the_documented_environment_pattern_is_the_rule(s in "[a-z0-9A-Z_ -]{0,34}\n?") {
            let re = regex::Regex::new(EnvName::PATTERN).unwrap();
            prop_assert_eq!(re.is_match(&s), EnvName::parse(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn parsed_names_are_trimmed_nonempty_and_bounded(s in "\\PC{0,120}") {
            if let Ok(name) = KeyName::parse(&s) {
                prop_assert!(!name.as_str().is_empty());
                prop_assert!(name.as_str().chars().count() <= 100);
                prop_assert_eq!(name.as_str(), name.as_str().trim());
            }
        }
    }
}
