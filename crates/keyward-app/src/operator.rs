//! The operator's credentials: admin tokens, and the one-time setup link that lets the
//! first person create the owner account (there is no default password).

use crate::cache::Touched;
use crate::error::{AppError, AppResult};
use crate::{Keyward, Principal};
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use keyward_core::token::{AdminToken, ParsedAdminToken};
use keyward_core::{
    base62, ApiKeySecret, AuditAction, AuditEvent, KeyName, OrgId, OrgName, Organization, User,
    UserId,
};
use keyward_store::StoreError;
use rand_core::OsRng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;

/// An admin token just made: its only appearance in clear.
#[derive(Debug)]
pub struct CreatedToken {
    pub token: AdminToken,
    pub secret: ApiKeySecret,
}

/// What the person following the setup link gives.
#[derive(Debug, Clone)]
pub struct SetupInput {
    pub token: SecretString,
    pub email: String,
    pub password: SecretString,
    pub display_name: Option<String>,
    pub org_name: String,
    /// Where the setup request came from, for the audit log.
    pub from: Option<std::net::IpAddr>,
}

const SETUP_TOKEN_LEN: usize = 43;

pub(crate) fn email(s: &str) -> AppResult<String> {
    let s = s.trim().to_lowercase();
    let ok = s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(s)
    } else {
        Err(AppError::invalid(
            "email",
            "email: give an address such as ada@example.com",
        ))
    }
}

pub(crate) fn password_hash(password: &str) -> AppResult<String> {
    let chars = password.chars().count();
    if !(12..=256).contains(&chars) {
        return Err(AppError::invalid(
            "password",
            format!("password: use 12 to 256 characters (this one has {chars})"),
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::invalid("password", format!("password: cannot be hashed: {e}")))
}

impl Keyward {
    pub async fn create_admin_token(&self, who: &Principal, name: &str) -> AppResult<CreatedToken> {
        crate::members::require_operator(who, "create admin tokens")?;
        let name = KeyName::parse(name).map_err(|e| AppError::invalid("name", e))?;
        let parsed = ParsedAdminToken::generate(self.settings.prefixes.current(), &mut OsRng);
        let token = AdminToken {
            id: parsed.id,
            name,
            hash: self.settings.peppers.hash(&parsed.secret),
            created_by: who.actor().encode(),
            created_at: self.now(),
            revoked_at: None,
            last_used_at: None,
        };
        let event = who
            .event(None, AuditAction::AdminTokenCreated, token.created_at)
            .details(json!({ "token_id": token.id, "name": token.name }));
        let written = self.store.insert_admin_token(&token, &event).await;
        self.cache.invalidate(Touched::AdminToken(token.id));
        written?;
        Ok(CreatedToken {
            token,
            secret: parsed.secret,
        })
    }

    pub async fn list_admin_tokens(&self) -> AppResult<Vec<AdminToken>> {
        Ok(self.store.list_admin_tokens().await?)
    }

    pub async fn revoke_admin_token(&self, who: &Principal, id: &str) -> AppResult<()> {
        crate::members::require_operator(who, "revoke admin tokens")?;
        let id =
            keyward_core::KeyId::parse(id.trim()).map_err(|e| AppError::invalid("token_id", e))?;
        let Some(token) = self.store.admin_token(&id).await? else {
            return Err(AppError::not_found("admin token", id.as_str()));
        };
        let now = self.now();
        let event = who
            .event(None, AuditAction::AdminTokenRevoked, now)
            .details(json!({ "token_id": token.id, "name": token.name }));
        let revoked = self.store.revoke_admin_token(&id, now, &event).await;
        self.cache.invalidate(Touched::AdminToken(id));
        if !revoked? {
            return Err(AppError::Conflict(format!(
                "admin token {id} is already revoked"
            )));
        }
        Ok(())
    }

    /// The admin token `text` stands for, if it is ours, right and not revoked.
    pub async fn authenticate_admin(&self, text: &str) -> AppResult<Option<Arc<AdminToken>>> {
        let Ok(parsed) = ParsedAdminToken::parse(text, &self.settings.prefixes) else {
            return Ok(None);
        };
        // Cached like keys: the verify API authenticates the operator on every call.
        let cached = match self.fresh(self.now()).await {
            true => self.cache.admin_token(&parsed.id),
            false => None,
        };
        let token = match cached {
            Some(hit) => hit,
            None => {
                let ticket = self.cache.begin();
                let token = self.store.admin_token(&parsed.id).await?.map(Arc::new);
                self.cache.put_admin_token(ticket, parsed.id, &token);
                token
            }
        };
        Ok(token.filter(|t| {
            t.revoked_at.is_none() && self.settings.peppers.verify(&parsed.secret, &t.hash)
        }))
    }

    /// On a server with no users yet, makes a fresh one-time setup token (replacing any
    /// unused one) and returns it; `None` once someone has set the server up.
    pub async fn begin_setup(&self) -> AppResult<Option<String>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let token = base62::random(&mut OsRng, SETUP_TOKEN_LEN);
        let id = base62::random(&mut OsRng, 16);
        let hash = self.settings.peppers.hash_str(&token);
        self.store
            .replace_setup_token(&id, &hash, self.now())
            .await?;
        Ok(Some(token))
    }

    /// Whether `token` is the usable setup token.
    pub async fn setup_token_valid(&self, token: &str) -> AppResult<Option<String>> {
        let Some(stored) = self.store.setup_token().await? else {
            return Ok(None);
        };
        Ok(self
            .settings
            .peppers
            .verify_str(token.trim(), &stored.hash)
            .then_some(stored.id))
    }

    /// [`complete_setup`](Self::complete_setup), and signs the new owner in: the
    /// person who followed the setup link goes on in the dashboard as themselves.
    pub async fn complete_setup_signed_in(
        &self,
        input: SetupInput,
        user_agent: Option<&str>,
    ) -> AppResult<(User, Organization, crate::NewSession)> {
        let from = input.from;
        let (user, org) = self.complete_setup(input).await?;
        let session = self.start_session(&user, from, user_agent).await?;
        Ok((user, org, session))
    }

    /// Uses the setup token to create the first user, as owner of a new organization.
    pub async fn complete_setup(&self, input: SetupInput) -> AppResult<(User, Organization)> {
        let invalid_link = || {
            AppError::Forbidden {
            required_permission: "setup_token".into(),
            message: "this setup link is not valid or was already used; restart `keyward serve` on a server with no users for a new one".into(),
        }
        };
        let token_id = self
            .setup_token_valid(input.token.expose_secret())
            .await?
            .ok_or_else(invalid_link)?;
        let email = email(&input.email)?;
        let org_name =
            OrgName::parse(&input.org_name).map_err(|e| AppError::invalid("organization", e))?;
        let display_name = input
            .display_name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .map(|n| {
                KeyName::parse(&n)
                    .map(String::from)
                    .map_err(|e| AppError::invalid("display_name", e))
            })
            .transpose()?;
        let password_hash = password_hash(input.password.expose_secret())?;
        let now = self.now();
        let user = User {
            id: UserId::generate(&mut OsRng),
            email,
            display_name,
            password_hash,
            created_at: now,
        };
        let org = Organization {
            id: OrgId::generate(&mut OsRng),
            name: org_name,
            plan: self.settings.default_plan.clone(),
            created_at: now,
        };
        let event = AuditEvent::new(
            Some(org.id.clone()),
            keyward_core::Actor::User(user.id.clone()),
            AuditAction::OrgCreated,
            now,
        )
        .details(json!({ "name": org.name, "plan": org.plan, "owner": user.id, "via": "setup" }))
        .from(input.from);
        match self
            .store
            .complete_setup(&token_id, &user, &org, &event, now)
            .await
        {
            Ok(()) => Ok((user, org)),
            Err(StoreError::Stale) => Err(invalid_link()),
            Err(e) => Err(e.into()),
        }
    }
}
