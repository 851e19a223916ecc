//! The PostgreSQL backend, for several keyward nodes on one database. Migrations are
//! compiled into the binary (src/postgres/migrations) and run by sqlx's migrator.
//! One module per resource, as for SQLite; the `Store` implementation here only hands
//! each call to its module.
//!
//! # Concurrency
//!
//! SQLite has one writer at a time, which keeps every invariant below without a
//! word. PostgreSQL runs writers at once, in READ COMMITTED, so each write says how it
//! keeps its own, with row locks rather than SERIALIZABLE and retries (a lock waits
//! where a retry would redo the work, and nothing here is long):
//!
//! * The change log commits in seq order: seq comes from the one row of `change_seq`,
//!   whose lock is held to commit (see the migration). Every transaction that writes
//!   the change log takes that lock first ([`begin_logged`]), so it is never waited
//!   for while another lock is held, and no two writers can deadlock over it.
//! * Locks taken after it, always in this order: the organization's row (`FOR NO KEY
//!   UPDATE`, which foreign-key checks of inserts into its tables do not wait for),
//!   then the rows being changed.
//! * Single use (invitations, reset links, setup tokens, admin tokens) and optimistic
//!   revisions are `UPDATE … WHERE <still as expected>`: a concurrent writer of the same
//!   row waits, then PostgreSQL evaluates the condition again on the row as committed,
//!   so only one of them matches.
//! * Counters (usage, quota) are single-statement upserts, `x = x + delta`, in a fixed
//!   order of rows so that two batches never wait on each other crosswise.

mod audit;
mod changes;
mod invitations;
mod keys;
pub mod listen;
mod members;
mod migrate;
mod operator;
mod orgs;
mod quota;
mod sessions;
mod usage;

use crate::{
    AuditQuery, Changes, Conflict, DayCount, KeyCount, KeyQuery, KeyWrite, QuotaDelta, Result,
    SetupToken, Store, StoreError, UsageBatch, UsageOf,
};
use async_trait::async_trait;
use keyward_core::quota::Month;
use keyward_core::session::{PasswordReset, Session};
use keyward_core::token::AdminToken;
use keyward_core::{
    ApiKey, AuditEvent, Environment, KeyId, OrgId, Organization, Project, ProjectId,
};
use keyward_core::{
    Invitation, InvitationId, KeyHash, MemberAccess, ResetId, Role, SessionId, Timestamp, User,
    UserId,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Connections per process when the operator sets none: enough for a node's request
/// concurrency on a few cores, and ten nodes stay within PostgreSQL's default of 100.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

pub struct PgStore {
    pool: PgPool,
    /// Where the change feed's own connection goes.
    options: Box<PgConnectOptions>,
    /// Set when the store is closed: ends every change feed.
    closed: tokio::sync::watch::Sender<bool>,
    #[cfg(feature = "faults")]
    pub(crate) faults: Option<std::sync::Arc<crate::faults::Faults>>,
}

impl PgStore {
    /// Connects to `url` (`postgres://` or `postgresql://`, with libpq's parameters
    /// such as `sslmode`) with at most `max_connections`. Errors never hold the URL.
    pub(crate) async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|e| redacted(url, e))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(|e| redacted(url, e))?;
        Ok(PgStore {
            pool,
            options: Box::new(options),
            closed: tokio::sync::watch::Sender::new(false),
            #[cfg(feature = "faults")]
            faults: None,
        })
    }

    /// The migrations that have not run on this database, changing nothing.
    pub(crate) async fn pending_migrations(&self) -> Result<Vec<crate::Migration>> {
        migrate::status(&self.pool).await
    }

    /// Runs the pending migrations; the ones that ran.
    pub(crate) async fn migrate(&self) -> Result<Vec<crate::Migration>> {
        migrate::apply(&self.pool).await
    }
}

/// A connection error without anything of the URL that could hold a password: sqlx's
/// messages do not repeat it today, and this makes sure they never will.
fn redacted(url: &str, e: sqlx::Error) -> StoreError {
    let text = e.to_string();
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('@').next().filter(|_| rest.contains('@')))
        .and_then(|userinfo| userinfo.split_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty());
    match password {
        Some(p) if text.contains(p) => StoreError::Backend(text.replace(p, "[redacted]").into()),
        _ => StoreError::Backend(format!("cannot connect to PostgreSQL: {text}").into()),
    }
}

/// A transaction that writes the change log: it takes the change log's lock first,
/// before any other (see the module's documentation).
pub(super) async fn begin_logged(pool: &PgPool) -> Result<Transaction<'_, Postgres>> {
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query("SELECT value FROM change_seq WHERE id = 1 FOR UPDATE")
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(tx)
}

/// Locks `org`'s row until commit, for checks over its keys or members that
/// concurrent writers must not each pass; `false` if there is no such organization.
pub(super) async fn lock_org(tx: &mut Transaction<'_, Postgres>, org: &OrgId) -> Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1 FOR NO KEY UPDATE")
            .bind(org.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend)?;
    Ok(found.is_some())
}

/// Whether PostgreSQL text can hold `s`: it refuses NUL characters outright, where
/// SQLite stores them. Nothing keyward stores has one, so a lookup by such a string
/// (a name or address typed by someone) matches nothing, and is answered so without
/// asking the database, which would fail the query.
pub(super) fn storable(s: &str) -> bool {
    !s.contains('\0')
}

pub(crate) fn opt_ms(t: Option<keyward_core::Timestamp>) -> Option<i64> {
    t.map(keyward_core::timestamp::to_millis)
}

/// Maps unique violations to what they mean by the constraint's name (see the
/// migration), and foreign-key violations to a missing reference.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let which = match db.constraint().unwrap_or_default() {
                "organizations_name" => Conflict::OrgName,
                "projects_org_name" => Conflict::ProjectName,
                "environments_project_name" => Conflict::EnvironmentName,
                "users_email" => Conflict::UserEmail,
                "api_keys_pkey" => Conflict::KeyId,
                "memberships_pkey" => Conflict::Membership,
                _ => Conflict::Other,
            };
            return StoreError::Conflict(which);
        }
        if db.is_foreign_key_violation() {
            return StoreError::MissingReference;
        }
    }
    StoreError::Backend(Box::new(e))
}

#[async_trait]
impl Store for PgStore {
    async fn close(&self) -> Result<()> {
        self.closed.send_replace(true);
        self.pool.close().await;
        Ok(())
    }

    fn change_feed(&self) -> Option<crate::ChangeFeed> {
        Some(listen::spawn(&self.options, self.closed.subscribe()))
    }

    async fn insert_org(&self, org: &Organization, event: &AuditEvent) -> Result<()> {
        orgs::insert_org(&self.pool, org, event).await
    }

    async fn find_org(&self, id_or_name: &str) -> Result<Option<Organization>> {
        orgs::find_org(&self.pool, id_or_name).await
    }

    async fn list_orgs(&self) -> Result<Vec<Organization>> {
        orgs::list_orgs(&self.pool).await
    }

    async fn insert_project(
        &self,
        p: &Project,
        envs: &[Environment],
        event: &AuditEvent,
    ) -> Result<()> {
        orgs::insert_project(&self.pool, p, envs, event).await
    }

    async fn find_project(&self, org: &OrgId, id_or_name: &str) -> Result<Option<Project>> {
        orgs::find_project(&self.pool, org, id_or_name).await
    }

    async fn project(&self, id: &ProjectId) -> Result<Option<Project>> {
        orgs::project(&self.pool, id).await
    }

    async fn list_projects(&self, org: &OrgId) -> Result<Vec<Project>> {
        orgs::list_projects(&self.pool, org).await
    }

    async fn list_environments(&self, project: &ProjectId) -> Result<Vec<Environment>> {
        orgs::list_environments(&self.pool, project).await
    }

    async fn key(&self, id: &KeyId) -> Result<Option<ApiKey>> {
        let key = keys::key(&self.pool, id).await;
        #[cfg(feature = "faults")]
        if let Some(f) = &self.faults {
            f.after_key_read().await;
        }
        key
    }

    async fn count_held_keys(&self, org: &OrgId, now: Timestamp) -> Result<u64> {
        keys::count_held_keys(&self.pool, org, now).await
    }

    async fn set_org_plan(&self, org: &OrgId, plan: &str, event: &AuditEvent) -> Result<bool> {
        orgs::set_plan(&self.pool, org, plan, event).await
    }

    async fn key_ids(&self) -> Result<Vec<KeyId>> {
        keys::ids(&self.pool).await
    }

    async fn record_usage(&self, batch: &UsageBatch) -> Result<()> {
        #[cfg(feature = "faults")]
        if let Some(f) = &self.faults {
            f.before_usage_write()?;
        }
        usage::record(&self.pool, batch).await
    }

    async fn usage_per_day(
        &self,
        of: &UsageOf,
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<DayCount>> {
        usage::per_day(&self.pool, of, from, to).await
    }

    async fn usage_per_key(
        &self,
        org: &OrgId,
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<KeyCount>> {
        usage::per_key(&self.pool, org, from, to).await
    }

    async fn quota_used(&self, org: &OrgId, month: Month) -> Result<u64> {
        quota::quota_used(&self.pool, org, month).await
    }

    async fn add_quota_usage(&self, deltas: &[QuotaDelta]) -> Result<Vec<u64>> {
        quota::add_quota_usage(&self.pool, deltas).await
    }

    async fn list_keys(&self, q: &KeyQuery) -> Result<Vec<ApiKey>> {
        keys::list_keys(&self.pool, q).await
    }

    async fn count_keys(&self) -> Result<u64> {
        keys::count_keys(&self.pool).await
    }

    async fn write_keys(&self, write: KeyWrite) -> Result<()> {
        keys::write_keys(&self.pool, write).await
    }

    async fn audit_events(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
        audit::audit_events(&self.pool, q).await
    }

    async fn insert_environment(&self, e: &Environment, event: &AuditEvent) -> Result<()> {
        orgs::insert_environment(&self.pool, e, event).await
    }

    async fn insert_admin_token(&self, token: &AdminToken, event: &AuditEvent) -> Result<()> {
        operator::insert_admin_token(&self.pool, token, event).await
    }

    async fn admin_token(&self, id: &KeyId) -> Result<Option<AdminToken>> {
        operator::admin_token(&self.pool, id).await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>> {
        operator::list_admin_tokens(&self.pool).await
    }

    async fn revoke_admin_token(
        &self,
        id: &KeyId,
        at: Timestamp,
        event: &AuditEvent,
    ) -> Result<bool> {
        operator::revoke_admin_token(&self.pool, id, at, event).await
    }

    async fn count_users(&self) -> Result<u64> {
        operator::count_users(&self.pool).await
    }

    async fn insert_session(
        &self,
        session: &Session,
        idle_since: Timestamp,
        event: &AuditEvent,
    ) -> Result<()> {
        sessions::insert(&self.pool, session, idle_since, event).await
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Session>> {
        sessions::get(&self.pool, id).await
    }

    async fn touch_session(&self, id: &SessionId, at: Timestamp) -> Result<()> {
        sessions::touch(&self.pool, id, at).await
    }

    async fn delete_session(&self, id: &SessionId) -> Result<bool> {
        sessions::delete(&self.pool, id).await
    }

    async fn delete_user_sessions(&self, user: &UserId, event: Option<&AuditEvent>) -> Result<u64> {
        sessions::delete_all(&self.pool, user, event).await
    }

    async fn list_sessions(&self, user: &UserId) -> Result<Vec<Session>> {
        sessions::list(&self.pool, user).await
    }

    async fn insert_password_reset(&self, reset: &PasswordReset, event: &AuditEvent) -> Result<()> {
        sessions::insert_reset(&self.pool, reset, event).await
    }

    async fn password_reset(&self, id: &ResetId) -> Result<Option<PasswordReset>> {
        sessions::reset(&self.pool, id).await
    }

    async fn complete_password_reset(
        &self,
        id: &ResetId,
        password_hash: &str,
        at: Timestamp,
        event: &AuditEvent,
    ) -> Result<u64> {
        sessions::complete_reset(&self.pool, id, password_hash, at, event).await
    }

    async fn replace_setup_token(&self, id: &str, hash: &KeyHash, at: Timestamp) -> Result<()> {
        operator::replace_setup_token(&self.pool, id, hash, at).await
    }

    async fn setup_token(&self) -> Result<Option<SetupToken>> {
        operator::setup_token(&self.pool).await
    }

    async fn complete_setup(
        &self,
        token_id: &str,
        user: &User,
        org: &Organization,
        event: &AuditEvent,
        at: Timestamp,
    ) -> Result<()> {
        operator::complete_setup(&self.pool, token_id, user, org, event, at).await
    }

    async fn insert_user(&self, user: &User, event: &AuditEvent) -> Result<()> {
        members::insert_user(&self.pool, user, event).await
    }

    async fn find_user(&self, id_or_email: &str) -> Result<Option<User>> {
        members::find_user(&self.pool, id_or_email).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        members::list_users(&self.pool).await
    }

    async fn member_access(&self, org: &OrgId, user: &UserId) -> Result<Option<MemberAccess>> {
        members::member_access(&self.pool, org, user).await
    }

    async fn list_members(&self, org: &OrgId) -> Result<Vec<(User, MemberAccess)>> {
        members::list_members(&self.pool, org).await
    }

    async fn memberships(&self, user: &UserId) -> Result<Vec<(OrgId, MemberAccess)>> {
        members::memberships(&self.pool, user).await
    }

    async fn insert_invitation(&self, invitation: &Invitation, event: &AuditEvent) -> Result<()> {
        invitations::insert(&self.pool, invitation, event).await
    }

    async fn invitation(&self, id: &InvitationId) -> Result<Option<Invitation>> {
        invitations::get(&self.pool, id).await
    }

    async fn list_invitations(&self, org: &OrgId) -> Result<Vec<Invitation>> {
        invitations::list(&self.pool, org).await
    }

    async fn revoke_invitation(
        &self,
        id: &InvitationId,
        at: Timestamp,
        event: &AuditEvent,
    ) -> Result<()> {
        invitations::revoke(&self.pool, id, at, event).await
    }

    async fn accept_invitation(
        &self,
        id: &InvitationId,
        user: &User,
        new_user: bool,
        at: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        invitations::accept(&self.pool, id, user, new_user, at, events).await
    }

    async fn set_membership(
        &self,
        org: &OrgId,
        user: &UserId,
        before: Option<Role>,
        access: &MemberAccess,
        event: &AuditEvent,
    ) -> Result<()> {
        members::set_membership(&self.pool, org, user, before, access, event).await
    }

    async fn remove_membership(
        &self,
        org: &OrgId,
        user: &UserId,
        before: Role,
        event: &AuditEvent,
    ) -> Result<()> {
        members::remove_membership(&self.pool, org, user, before, event).await
    }

    async fn changes_since(&self, cursor: Option<i64>) -> Result<Changes> {
        #[cfg(feature = "faults")]
        if let Some(f) = &self.faults {
            f.before_change_read().await;
        }
        changes::since(&self.pool, cursor).await
    }

    async fn project_tree(&self, org: &OrgId) -> Result<Vec<(Project, Vec<Environment>)>> {
        orgs::project_tree(&self.pool, org).await
    }
}
