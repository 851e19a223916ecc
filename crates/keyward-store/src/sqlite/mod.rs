//! The embedded SQLite backend: one file, WAL mode, foreign keys on. Migrations are
//! compiled into the binary and run at open. One module per resource; the `Store`
//! implementation here only hands each call to its module.

mod audit;
mod changes;
mod invitations;
mod keys;
mod members;
mod migrate;
mod operator;
mod orgs;
mod quota;
mod rows;
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
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
    #[cfg(feature = "faults")]
    pub(crate) faults: Option<std::sync::Arc<crate::faults::Faults>>,
}

/// Connections per process when the operator sets none. SQLite writes one at a time
/// whatever the number; more connections only let more reads run beside a write.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database file at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let store = Self::connect(path.as_ref(), DEFAULT_MAX_CONNECTIONS).await?;
        migrate::run(&store.pool).await?;
        Ok(store)
    }

    /// Opens (creating if needed) the database file at `path` without migrating it.
    pub(crate) async fn connect(path: &Path, max_connections: u32) -> Result<Self> {
        if path != Path::new(":memory:") {
            owner_only(path).map_err(|e| StoreError::Backend(Box::new(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Ok(SqliteStore {
            pool,
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
        migrate::run(&self.pool).await
    }
}

pub(crate) fn opt_ms(t: Option<keyward_core::Timestamp>) -> Option<i64> {
    t.map(keyward_core::timestamp::to_millis)
}

/// Makes the database file (creating it if needed) and its write-ahead log and shared
/// memory, if present, readable and writable by this user only, whatever the umask:
/// they hold every key's hash and the audit log. SQLite gives the log and shared-memory
/// files it creates the database file's permissions, so those follow.
#[cfg(unix)]
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        // An existing database is kept as it is.
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !suffix.is_empty() => {}
            other => other?,
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn owner_only(_: &Path) -> std::io::Result<()> {
    Ok(())
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let msg = db.message();
            let which = if msg.contains("organizations_name") {
                Conflict::OrgName
            } else if msg.contains("projects_org_name") {
                Conflict::ProjectName
            } else if msg.contains("environments.") {
                Conflict::EnvironmentName
            } else if msg.contains("users_email") {
                Conflict::UserEmail
            } else if msg.contains("api_keys.id") {
                Conflict::KeyId
            } else {
                Conflict::Other
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
impl Store for SqliteStore {
    async fn close(&self) -> Result<()> {
        // TRUNCATE copies every logged page into the database file and empties the log.
        // When another process reads at that moment, the log is kept for that process
        // to fold in later: nothing is lost, so that is not an error.
        let checkpoint = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(backend);
        self.pool.close().await;
        checkpoint.map(|_| ())
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
