//! People's sign-in: sessions, the CSRF token each one has, and one-time password-reset
//! links. Pure: the tokens, their stored form and the rules of a session's life; the
//! application stores them and reads the clock.
//!
//! A session token is `ses_<16-character id>_<43-character secret>` (the secret is 256
//! bits from the caller's CSPRNG), a reset token `rst_<id>_<secret>`. The id finds the
//! record; only a keyed hash of the whole token is stored, as for keys and invitations,
//! so a copy of the database cannot be used to sign in.
//!
//! A session ends at the first of: sign-out, its absolute lifetime (from sign-in), or
//! an idle timeout (from the last request seen). "Seen" is written back at most once
//! per [`TOUCH_EVERY`], so a busy session does not cost a database write per request;
//! the idle timeout is therefore exact to within that minute.

use crate::base62;
use crate::hash::KeyHash;
use crate::ids::{ResetId, SessionId, UserId};
use crate::key::SECRET_LEN;
use crate::timestamp::Timestamp;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use time::Duration;

/// How often a session's `last_seen_at` is written back, at most.
pub const TOUCH_EVERY: Duration = Duration::MINUTE;
/// How long a password-reset link works: one hour.
pub const RESET_LIFETIME: Duration = Duration::HOUR;
/// The longest user agent kept with a session, in characters.
pub const USER_AGENT_LEN: usize = 200;

/// A stored session: never its token, only the token's keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub hash: KeyHash,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end: sign-in plus the session lifetime.
    pub expires_at: Timestamp,
    /// The client address at sign-in.
    pub ip: Option<String>,
    /// The browser's `User-Agent` at sign-in, cut to [`USER_AGENT_LEN`] characters.
    pub user_agent: Option<String>,
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Without a request for this long, a session ends.
    pub idle_timeout: Duration,
    /// However active, a session ends this long after sign-in.
    pub lifetime: Duration,
}

impl Default for SessionPolicy {
    /// 12 hours idle, 7 days in all.
    fn default() -> Self {
        SessionPolicy {
            idle_timeout: Duration::hours(12),
            lifetime: Duration::days(7),
        }
    }
}

/// What a session is at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Usable; `touch` says that `last_seen_at` is due to be written.
    Live { touch: bool },
    /// Unused for longer than the idle timeout.
    Idle,
    /// Past its absolute lifetime.
    Expired,
}

impl SessionPolicy {
    pub fn state(&self, session: &Session, now: Timestamp) -> SessionState {
        if now >= session.expires_at {
            SessionState::Expired
        } else if now - session.last_seen_at >= self.idle_timeout {
            SessionState::Idle
        } else {
            SessionState::Live {
                touch: now - session.last_seen_at >= TOUCH_EVERY,
            }
        }
    }
}

/// A stored password-reset link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    pub id: ResetId,
    pub user_id: UserId,
    pub hash: KeyHash,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Set when used, or when a newer link replaced it.
    pub used_at: Option<Timestamp>,
}

impl PasswordReset {
    pub fn usable(&self, now: Timestamp) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

macro_rules! bearer_token {
    ($(#[$doc:meta])* $name:ident, $id:ident) => {
        $(#[$doc])*
        /// `Debug` and `Display` never show it.
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// A new token: a new id and 256 random bits.
            pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> ($id, Self) {
                let id = $id::generate(rng);
                let secret = base62::random(rng, SECRET_LEN);
                let text = format!("{id}_{secret}");
                (id, $name(text))
            }

            /// The record a presented token names, if it has the shape of one.
            pub fn parse(text: &str) -> Option<($id, Self)> {
                let text = text.trim();
                let (id, secret) = text.rsplit_once('_')?;
                let id = $id::parse(id)?;
                (secret.len() == SECRET_LEN && base62::is_base62(secret))
                    .then(|| (id, $name(text.to_owned())))
            }

            /// The token text: to hand it over once, or to hash it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}([redacted])", stringify!($name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "[redacted {}]", stringify!($name))
            }
        }
    };
}

bearer_token!(
    /// A session's token, as the browser's cookie holds it.
    SessionToken,
    SessionId
);
bearer_token!(
    /// A password-reset link's one-time token.
    ResetToken,
    ResetId
);

/// The CSRF token of a session: SHA-256 of a domain-separated string and the session
/// token, in hex. Derived, so nothing more is stored; one-way, so a page that shows it
/// (or a log that catches it) gives nothing towards the session token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    pub fn of(session: &SessionToken) -> Self {
        let mut h = Sha256::new();
        h.update(b"keyward csrf v1\0");
        h.update(session.expose_secret().as_bytes());
        let digest = h.finalize();
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        CsrfToken(hex)
    }

    /// Whether `presented` is this token, compared in constant time.
    pub fn verify(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.trim().as_bytes()).into()
    }

    /// The token, for a form field, a page or the `X-CSRF-Token` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken([redacted])")
    }
}

/// A user agent as kept: printable characters only, at most [`USER_AGENT_LEN`].
pub fn user_agent(ua: &str) -> Option<String> {
    let kept: String = ua
        .chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_LEN)
        .collect();
    let kept = kept.trim();
    (!kept.is_empty()).then(|| kept.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::from_millis;
    use rand_core::OsRng;

    #[test]
    fn tokens_round_trip_are_new_each_time_and_never_show_themselves() {
        let (id, token) = SessionToken::generate(&mut OsRng);
        let (_, other) = SessionToken::generate(&mut OsRng);
        assert_ne!(token, other);
        let text = token.expose_secret();
        assert!(text.starts_with("ses_") && text.len() == 4 + 16 + 1 + SECRET_LEN);
        assert_eq!(SessionToken::parse(text), Some((id, token.clone())));
        assert!(!format!("{token:?} {token}").contains(&text[21..]));
        assert_eq!(SessionToken::parse(&text[..text.len() - 1]), None);
        // A reset token is not a session token.
        let (_, reset) = ResetToken::generate(&mut OsRng);
        assert_eq!(SessionToken::parse(reset.expose_secret()), None);
    }

    #[test]
    fn the_csrf_token_is_tied_to_its_session_and_compared_whole() {
        let (_, a) = SessionToken::generate(&mut OsRng);
        let (_, b) = SessionToken::generate(&mut OsRng);
        let csrf = CsrfToken::of(&a);
        assert_eq!(csrf, CsrfToken::of(&a));
        assert!(csrf.verify(csrf.as_str()));
        assert!(!csrf.verify(CsrfToken::of(&b).as_str()));
        assert!(!csrf.verify(&csrf.as_str()[..63]));
        assert!(!csrf.verify(""));
        assert!(!csrf.as_str().contains(&a.expose_secret()[21..]));
    }

    #[test]
    fn a_session_ends_when_idle_or_past_its_lifetime_and_is_touched_once_a_minute() {
        let policy = SessionPolicy::default();
        let start = from_millis(1_800_000_000_000);
        let (id, _) = SessionToken::generate(&mut OsRng);
        let session = Session {
            id,
            user_id: UserId::generate(&mut OsRng),
            hash: KeyHash {
                pepper_version: 1,
                digest: [0; 32],
            },
            created_at: start,
            last_seen_at: start,
            expires_at: start + policy.lifetime,
            ip: None,
            user_agent: None,
        };
        let at = |d: Duration| policy.state(&session, start + d);
        assert_eq!(at(Duration::ZERO), SessionState::Live { touch: false });
        assert_eq!(
            at(Duration::seconds(59)),
            SessionState::Live { touch: false }
        );
        assert_eq!(at(Duration::MINUTE), SessionState::Live { touch: true });
        assert_eq!(at(Duration::hours(12)), SessionState::Idle);
        let recent = Session {
            last_seen_at: start + Duration::days(7) - Duration::MINUTE,
            ..session.clone()
        };
        assert_eq!(
            policy.state(&recent, start + Duration::days(7)),
            SessionState::Expired
        );
    }

    #[test]
    fn user_agents_are_cut_and_cleaned() {
        assert_eq!(user_agent("  "), None);
        assert_eq!(user_agent("a\nb"), Some("ab".into()));
        assert_eq!(user_agent(&"x".repeat(500)).unwrap().len(), USER_AGENT_LEN);
    }
}
