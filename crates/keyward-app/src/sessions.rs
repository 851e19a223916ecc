//! Sign-in for people: sessions, sign-out, and one-time password-reset links.
//!
//! * [`Keyward::sign_in`] checks an e-mail address and password (Argon2id, compared in
//!   constant time; an unknown address or an account without a password is checked
//!   against a dummy hash, so the time taken says nothing about which accounts exist)
//!   and starts a new session, with a new random token, every time. Failures are
//!   throttled per e-mail address and per client address
//!   ([`keyward_core::signin_throttle`]).
//! * [`Keyward::session`] resolves a session token to the person ([`SignedIn`]), with
//!   the same [`Principal`] as [`Keyward::user_principal`] gives: a person signed in has
//!   exactly the power of that person acting through the operator's dashboard.
//! * Password-reset links are made by the operator, work once, for one hour, and end
//!   every session of the person when used.
//!
//! Sign-ins, sign-outs everywhere, reset links and resets are in the operator's audit
//! stream (a person is not an organization's); never a password or a token.

use crate::error::{AppError, AppResult};
use crate::principal::Who;
use crate::{Keyward, Principal};
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use keyward_core::session::{
    self, CsrfToken, PasswordReset, ResetToken, Session, SessionPolicy, SessionState, SessionToken,
    RESET_LIFETIME,
};
use keyward_core::{Actor, AuditAction, AuditEvent, SessionId, Timestamp, User, UserId};
use rand_core::OsRng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::net::IpAddr;
use std::sync::OnceLock;

/// A person as the pages show them: never their password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: UserId,
    pub email: String,
    pub display_name: Option<String>,
}

impl From<&User> for Person {
    fn from(u: &User) -> Self {
        Person {
            id: u.id.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
        }
    }
}

/// A person signed in: who they are, what they may do, and their session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub person: Person,
    /// The person's power, as [`Keyward::user_principal`] gives it (with no address:
    /// the server adds the request's).
    pub principal: Principal,
    /// The session's public id (the token's first part): safe to show and log.
    pub session_id: SessionId,
    /// Sent back by the browser with every change (`X-CSRF-Token`, or a form field).
    pub csrf: CsrfToken,
    /// When the session ends at the latest, however active.
    pub expires_at: Timestamp,
}

impl SignedIn {
    /// Whether `presented` is this session's CSRF token, compared in constant time.
    pub fn verify_csrf(&self, presented: &str) -> bool {
        self.csrf.verify(presented)
    }
}

/// A session just started: its token, for the cookie, exists only here.
#[derive(Debug)]
pub struct NewSession {
    pub token: SessionToken,
    pub signed_in: SignedIn,
}

/// A password-reset link just made: its token, for the link, exists only here.
#[derive(Debug)]
pub struct ResetLink {
    pub token: ResetToken,
    pub person: Person,
    pub expires_at: Timestamp,
}

/// A hash of a random password with the parameters new hashes get, for checking a
/// password against when there is no account: it costs the same as a real one.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let password = keyward_core::base62::random(&mut OsRng, 32);
        crate::operator::password_hash(&password).unwrap_or_default()
    })
}

/// Whether `password` matches `stored` (an Argon2 PHC string), off the async workers:
/// a check takes tens of milliseconds of CPU. An empty or unreadable `stored` is
/// checked against the dummy hash, and never matches.
async fn password_matches(stored: Option<String>, password: SecretString) -> bool {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match stored {
            Some(h) if !h.is_empty() => (h, true),
            _ => (dummy_hash().to_owned(), false),
        };
        let matches = match PasswordHash::new(&hash) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok(),
            Err(_) => {
                let dummy = PasswordHash::new(dummy_hash());
                let _ = dummy.map(|d| {
                    Argon2::default().verify_password(password.expose_secret().as_bytes(), &d)
                });
                false
            }
        };
        matches && real
    })
    .await
    .unwrap_or(false)
}

/// A new password's hash, off the async workers; 422 when it is too short or long.
pub(crate) async fn new_password_hash(password: SecretString) -> AppResult<String> {
    tokio::task::spawn_blocking(move || crate::operator::password_hash(password.expose_secret()))
        .await
        .map_err(|_| AppError::invalid("password", "password: cannot be hashed"))?
}

fn invalid_reset_link() -> AppError {
    AppError::Forbidden {
        required_permission: "reset_token".into(),
        message: "this password-reset link is not valid: it was used, replaced by a newer one, or has expired (links work for 1 hour); ask the operator for a new one".into(),
    }
}

/// The e-mail address as throttled and looked up: trimmed and lowercased, whatever it is.
fn account(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Keyward {
    fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            idle_timeout: self.settings.session_idle_timeout,
            lifetime: self.settings.session_lifetime,
        }
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, keyward_core::signin_throttle::Throttle> {
        self.throttle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs a person in with their e-mail address and password: a new session every
    /// time (a session presented before is never reused). Wrong address or password is
    /// [`AppError::WrongCredentials`], the same for both; too many recent failures
    /// for the address or from `from` is [`AppError::Throttled`], whatever the password.
    pub async fn sign_in(
        &self,
        email: &str,
        password: SecretString,
        from: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> AppResult<NewSession> {
        let account = account(email);
        let now = self.now();
        self.throttle()
            .attempt(&account, from, now)
            .map_err(|t| AppError::Throttled {
                retry_after: seconds_until(t.until, now),
            })?;
        let user = match account.len() {
            1..=254 => self
                .store
                .find_user(&account)
                .await?
                .filter(|u| u.email == account),
            _ => None,
        };
        // Checked whether or not there is such a person, at the same cost.
        let matches =
            password_matches(user.as_ref().map(|u| u.password_hash.clone()), password).await;
        let Some(user) = user.filter(|_| matches) else {
            return Err(AppError::WrongCredentials);
        };
        self.throttle().succeeded(&account, from);
        self.start_session(&user, from, user_agent).await
    }

    /// Starts a session for `user`, who has just proven who they are (a password, the
    /// setup link, an invitation accepted with a new password).
    pub(crate) async fn start_session(
        &self,
        user: &User,
        from: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> AppResult<NewSession> {
        let (id, token) = SessionToken::generate(&mut OsRng);
        let now = self.now();
        let policy = self.session_policy();
        let session = Session {
            id,
            user_id: user.id.clone(),
            hash: self.settings.peppers.hash_str(token.expose_secret()),
            created_at: now,
            last_seen_at: now,
            expires_at: now + policy.lifetime,
            ip: from.map(|ip| ip.to_string()),
            user_agent: user_agent.and_then(session::user_agent),
        };
        let event = AuditEvent::new(
            None,
            Actor::User(user.id.clone()),
            AuditAction::UserSignedIn,
            now,
        )
        .details(json!({ "user_id": user.id, "email": user.email, "session_id": session.id }))
        .from(from);
        self.store
            .insert_session(&session, now - policy.idle_timeout, &event)
            .await?;
        let signed_in = self.signed_in(user, &session, &token).await?;
        Ok(NewSession { token, signed_in })
    }

    async fn signed_in(
        &self,
        user: &User,
        session: &Session,
        token: &SessionToken,
    ) -> AppResult<SignedIn> {
        let orgs = self
            .store
            .memberships(&user.id)
            .await?
            .into_iter()
            .collect();
        Ok(SignedIn {
            person: Person::from(user),
            principal: Who::User {
                id: user.id.clone(),
                orgs,
            }
            .into(),
            session_id: session.id.clone(),
            csrf: CsrfToken::of(token),
            expires_at: session.expires_at,
        })
    }

    /// The stored session `token` opens, if it is right and has not ended.
    async fn live_session(&self, token: &str) -> AppResult<Option<(Session, SessionToken)>> {
        let Some((id, token)) = SessionToken::parse(token) else {
            return Ok(None);
        };
        let Some(session) = self.store.session(&id).await? else {
            return Ok(None);
        };
        if !self
            .settings
            .peppers
            .verify_str(token.expose_secret(), &session.hash)
        {
            return Ok(None);
        }
        let now = self.now();
        match self.session_policy().state(&session, now) {
            SessionState::Idle | SessionState::Expired => {
                self.store.delete_session(&id).await?;
                Ok(None)
            }
            SessionState::Live { touch } => {
                if touch {
                    self.store.touch_session(&id, now).await?;
                }
                Ok(Some((session, token)))
            }
        }
    }

    /// The person signed in with session `token` (the cookie's value), with what they
    /// may do now; `None` for a token that is wrong, signed out, idle for longer than
    /// `session_idle_timeout` or older than `session_lifetime`. Writes to the database
    /// at most once a minute per session (when it was last seen).
    pub async fn session(&self, token: &str) -> AppResult<Option<SignedIn>> {
        let Some((session, token)) = self.live_session(token).await? else {
            return Ok(None);
        };
        let Some(user) = self.store.find_user(session.user_id.as_str()).await? else {
            return Ok(None);
        };
        Ok(Some(self.signed_in(&user, &session, &token).await?))
    }

    /// Ends the session `token` opens; `false` if there was none (already ended).
    pub async fn sign_out(&self, token: &str) -> AppResult<bool> {
        let Some((session, _)) = self.live_session(token).await? else {
            return Ok(false);
        };
        Ok(self.store.delete_session(&session.id).await?)
    }

    /// Ends every session of a person (id or e-mail address): theirs to do, or the
    /// operator's. Returns how many there were.
    pub async fn sign_out_everywhere(&self, who: &Principal, user: &str) -> AppResult<u64> {
        let user = match &who.who {
            Who::Operator(_) => self.user(user).await?,
            Who::User { id, .. } => {
                let target = self.user(user).await?;
                if &target.id != id {
                    return Err(AppError::Forbidden {
                        required_permission: "operator".into(),
                        message: "you can sign out only yourself; the operator can sign out anyone (keyward users sign-out)".into(),
                    });
                }
                target
            }
            Who::Key(..) => {
                return Err(AppError::Forbidden {
                    required_permission: "person".into(),
                    message: "a key cannot sign people out".into(),
                })
            }
        };
        let event = who
            .event(None, AuditAction::UserSignedOutEverywhere, self.now())
            .details(json!({ "user_id": user.id, "email": user.email }));
        Ok(self
            .store
            .delete_user_sessions(&user.id, Some(&event))
            .await?)
    }

    /// A person's sessions (id or e-mail address), newest first: their own, or the
    /// operator's to read.
    pub async fn list_sessions(&self, who: &Principal, user: &str) -> AppResult<Vec<Session>> {
        let target = self.user(user).await?;
        match &who.who {
            Who::Operator(_) => {}
            Who::User { id, .. } if *id == target.id => {}
            _ => return Err(AppError::not_found("user", user)),
        }
        let now = self.now();
        let policy = self.session_policy();
        let mut all = self.store.list_sessions(&target.id).await?;
        all.retain(|s| matches!(policy.state(s, now), SessionState::Live { .. }));
        Ok(all)
    }

    /// The operator makes a one-time link for a person to set a new password: it works
    /// for 1 hour, and replaces any earlier link not yet used.
    pub async fn password_reset_link(&self, who: &Principal, email: &str) -> AppResult<ResetLink> {
        crate::members::require_operator(who, "make password-reset links")?;
        let user = self.user(email).await?;
        let (id, token) = ResetToken::generate(&mut OsRng);
        let now = self.now();
        let reset = PasswordReset {
            id,
            user_id: user.id.clone(),
            hash: self.settings.peppers.hash_str(token.expose_secret()),
            created_at: now,
            expires_at: now + RESET_LIFETIME,
            used_at: None,
        };
        let event = who
            .event(None, AuditAction::ResetLinkCreated, now)
            .details(json!({
                "user_id": user.id,
                "email": user.email,
                "reset_id": reset.id,
                "expires_at": keyward_core::timestamp::format(reset.expires_at),
            }));
        self.store.insert_password_reset(&reset, &event).await?;
        Ok(ResetLink {
            token,
            person: Person::from(&user),
            expires_at: reset.expires_at,
        })
    }

    /// Uses a password-reset link: sets the person's new password and ends every
    /// session of theirs. The link then no longer works. A password that breaks the
    /// rules (12 to 256 characters) leaves the link usable.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: SecretString,
        from: Option<IpAddr>,
    ) -> AppResult<Person> {
        let (id, token) = ResetToken::parse(token).ok_or_else(invalid_reset_link)?;
        let now = self.now();
        let reset = self
            .store
            .password_reset(&id)
            .await?
            .filter(|r| r.usable(now))
            .filter(|r| {
                self.settings
                    .peppers
                    .verify_str(token.expose_secret(), &r.hash)
            })
            .ok_or_else(invalid_reset_link)?;
        let hash = new_password_hash(new_password).await?;
        let user = self
            .store
            .find_user(reset.user_id.as_str())
            .await?
            .ok_or_else(invalid_reset_link)?;
        let now = self.now();
        let event = AuditEvent::new(
            None,
            Actor::User(user.id.clone()),
            AuditAction::PasswordReset,
            now,
        )
        .details(json!({ "user_id": user.id, "email": user.email, "reset_id": reset.id }))
        .from(from);
        match self
            .store
            .complete_password_reset(&id, &hash, now, &event)
            .await
        {
            Ok(_) => {}
            Err(keyward_store::StoreError::Stale) => return Err(invalid_reset_link()),
            Err(e) => return Err(e.into()),
        }
        // Whoever was locked out by failed attempts may now sign in with the new one.
        self.throttle().succeeded(&user.email, None);
        Ok(Person::from(&user))
    }
}

/// Whole seconds from `now` until `until`, rounded up, at least 1.
fn seconds_until(until: Timestamp, now: Timestamp) -> u64 {
    let ms = (until - now).whole_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}
