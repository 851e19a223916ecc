//! keyward's persistence. [`Store`] is the whole contract between the application and
//! a database: small, in domain types, with nothing backend-specific in it. Two
//! backends implement it, SQLite (one file, one node) and PostgreSQL (any number of
//! nodes on one database), each with its own embedded migrations. The backend is
//! chosen once, from the database URL's scheme, by [`open`].
#![forbid(unsafe_code)]

#[cfg(feature = "faults")]
pub mod faults;
mod feed;
mod migrations;
pub mod postgres;
mod rows;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
pub use feed::{ChangeFeed, FeedState};
use keyward_core::session::{PasswordReset, Session};
use keyward_core::token::AdminToken;
use keyward_core::{
    ApiKey, AuditAction, AuditEvent, Environment, Invitation, InvitationId, KeyHash, KeyId,
    KeyStatus, Kind, MemberAccess, OrgId, Organization, Outcome, Project, ProjectId, ResetId, Role,
    SessionId, Timestamp, User, UserId,
};
use std::path::Path;
use std::sync::Arc;
use time::Date;

/// Which uniqueness rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    OrgName,
    ProjectName,
    EnvironmentName,
    KeyId,
    UserEmail,
    /// The person is already a member of the organization.
    Membership,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists: {0:?}")]
    Conflict(Conflict),
    /// The record changed since it was read; nothing was written.
    #[error(
        "the record was changed at the same time by someone else; nothing was written, try again"
    )]
    Stale,
    /// The organization already holds as many keys as its plan allows (`held` before
    /// this write); nothing was written.
    #[error("the organization holds {held} keys, as many as its plan allows; nothing was written")]
    KeyLimit { held: u64 },
    /// The change would leave an organization without an owner; nothing was written.
    #[error("an organization must keep at least one owner; nothing was written")]
    LastOwner,
    /// A reference to something that does not exist (or no longer does).
    #[error("a referenced record does not exist")]
    MissingReference,
    /// Anything else from the database. Its text is for logs, never for users.
    #[error("the database failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Holds only the URL's scheme: the rest may carry a password.
    #[error(
        "unsupported database URL scheme '{0}': use sqlite://PATH or postgres://USER@HOST/DATABASE"
    )]
    UnsupportedUrl(String),
    /// The database has not had every migration of this build, and was opened without
    /// migrating; nothing was changed.
    #[error("the database's schema is behind this keyward: {} migration(s) have not run ({})", .0.len(), list(.0))]
    SchemaBehind(Vec<Migration>),
    /// The database has a migration this build does not know: a newer keyward made it.
    #[error("the database has migration {0}, which this keyward does not know: a newer keyward has migrated it; run that version (or newer) instead")]
    SchemaAhead(i64),
}

fn list(migrations: &[Migration]) -> String {
    migrations
        .iter()
        .map(Migration::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One of a backend's embedded migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub description: String,
}

impl std::fmt::Display for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04} {}", self.version, self.description)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A position in a listing of keys, newest first: the last key of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCursor {
    pub created_at: Timestamp,
    pub id: KeyId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyQuery {
    pub org_id: OrgId,
    pub status: Option<KeyStatus>,
    pub kind: Option<Kind>,
    pub after: Option<KeyCursor>,
    pub limit: u32,
}

impl KeyQuery {
    pub fn all(org_id: OrgId) -> Self {
        KeyQuery {
            org_id,
            status: None,
            kind: None,
            after: None,
            limit: u32::MAX,
        }
    }
}

/// Filters on the audit log; every field narrows. Newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub org_id: Option<OrgId>,
    /// Only the operator's own stream (admin tokens, people): events of no organization.
    pub operator_only: bool,
    pub key_id: Option<KeyId>,
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only events older than this id (the cursor of the previous page).
    pub before_id: Option<i64>,
    pub limit: Option<u32>,
}

/// Something a check depends on that changed, as the change log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A key or its grants.
    Key(KeyId),
    /// A person's membership or project levels in `org` (`None`: in any organization).
    Member { org: Option<OrgId>, user: UserId },
    /// An organization, its projects or their environments.
    Org(OrgId),
    /// An admin token.
    AdminToken(KeyId),
}

/// What changed after a position in the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The position to read from next time.
    pub cursor: i64,
    /// The changes after the position asked from, oldest first; `None` when they
    /// cannot all be told (no position was given, more changed than one read returns,
    /// or the log no longer reaches back that far): treat everything as changed.
    pub changes: Option<Vec<Change>>,
}

/// A key's use, as noted by checks: when, and from which address if known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub key: KeyId,
    pub at: Timestamp,
    pub from: Option<String>,
}

/// Quota spending to add: `delta` cost units (negative after refunds) for `org` in
/// `month`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaDelta {
    pub org: OrgId,
    pub month: keyward_core::quota::Month,
    pub delta: i64,
}

/// How many checks of one key, on one UTC day, had one outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    pub key: KeyId,
    pub day: Date,
    pub outcome: Outcome,
    pub count: u64,
}

/// What checks noted since the last write, written in one transaction: the keys' last
/// uses, and the checks counted, to be added to what is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageBatch {
    pub uses: Vec<KeyUse>,
    pub counts: Vec<UsageCount>,
}

impl UsageBatch {
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty() && self.counts.is_empty()
    }
}

/// Whose usage to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageOf {
    Key(KeyId),
    /// Every key of the organization, added up.
    Org(OrgId),
}

/// Checks on one UTC day with one outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub day: Date,
    pub outcome: Outcome,
    pub count: u64,
}

/// Checks of one key with one outcome, over a range of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCount {
    pub key: KeyId,
    pub outcome: Outcome,
    pub count: u64,
}

/// Changes to keys that must happen together with their audit events, or not at all.
/// Each updated key carries the revision it will have; the store applies the update
/// only if the stored revision is the one before it.
#[derive(Debug, Default)]
pub struct KeyWrite {
    pub inserts: Vec<ApiKey>,
    pub updates: Vec<ApiKey>,
    pub events: Vec<AuditEvent>,
    /// The plan's limit on keys, checked inside the transaction after the inserts.
    pub limit: Option<KeyLimit>,
}

/// At most `max` keys of `org` may count against its plan at `now` (see
/// [`Store::count_held_keys`]); else [`StoreError::KeyLimit`] and nothing is written.
#[derive(Debug, Clone)]
pub struct KeyLimit {
    pub org: OrgId,
    pub max: u32,
    pub now: Timestamp,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Ends this process's use of the store, after its last request: makes the
    /// database's own files complete (SQLite folds its write-ahead log into the database
    /// file, as far as other processes reading it allow) and closes every connection.
    /// Any call after it fails.
    async fn close(&self) -> Result<()>;

    async fn insert_org(&self, org: &Organization, event: &AuditEvent) -> Result<()>;
    /// An organization by id, or by name ignoring ASCII case.
    async fn find_org(&self, id_or_name: &str) -> Result<Option<Organization>>;
    async fn list_orgs(&self) -> Result<Vec<Organization>>;

    async fn insert_project(
        &self,
        project: &Project,
        environments: &[Environment],
        event: &AuditEvent,
    ) -> Result<()>;
    /// A project of `org` by id, or by name ignoring ASCII case.
    async fn find_project(&self, org: &OrgId, id_or_name: &str) -> Result<Option<Project>>;
    async fn project(&self, id: &ProjectId) -> Result<Option<Project>>;
    async fn list_projects(&self, org: &OrgId) -> Result<Vec<Project>>;
    async fn list_environments(&self, project: &ProjectId) -> Result<Vec<Environment>>;
    /// Every project of `org` with its environments, in one read: what the check
    /// resolves project and environment names against.
    async fn project_tree(&self, org: &OrgId) -> Result<Vec<(Project, Vec<Environment>)>>;

    async fn key(&self, id: &KeyId) -> Result<Option<ApiKey>>;
    async fn list_keys(&self, query: &KeyQuery) -> Result<Vec<ApiKey>>;
    /// The id of every key, deleted ones included.
    async fn key_ids(&self) -> Result<Vec<KeyId>>;
    /// The keys of `org` that count against its plan's limit at `now`: neither deleted
    /// nor expired, nor replaced by a rotation.
    async fn count_held_keys(&self, org: &OrgId, now: Timestamp) -> Result<u64>;
    /// Sets `org`'s plan, with `event`; `false` if there is no such organization.
    async fn set_org_plan(&self, org: &OrgId, plan: &str, event: &AuditEvent) -> Result<bool>;
    /// How many keys exist at all, deleted ones included.
    async fn count_keys(&self) -> Result<u64>;
    /// Applies `write` in one transaction.
    async fn write_keys(&self, write: KeyWrite) -> Result<()>;
    /// Writes what checks noted, in one transaction: when keys were last used (and from
    /// where; a use older than the one stored changes nothing), and the checks counted,
    /// added to each key's usage. Counts of a key that does not exist are dropped. It
    /// changes nothing a check depends on, so it writes nothing to the change log.
    async fn record_usage(&self, batch: &UsageBatch) -> Result<()>;
    /// Checks per UTC day and outcome, of one key or of all an organization's keys
    /// added up, on the days from `from` to `to` (both included), oldest first. Days
    /// and outcomes without a check are left out.
    async fn usage_per_day(&self, of: &UsageOf, from: Date, to: Date) -> Result<Vec<DayCount>>;
    /// Checks per key and outcome of `org`'s keys over the days from `from` to `to`
    /// (both included). Keys without a check are left out.
    async fn usage_per_key(&self, org: &OrgId, from: Date, to: Date) -> Result<Vec<KeyCount>>;
    /// What `org` spent of its quota in `month`, as stored.
    async fn quota_used(&self, org: &OrgId, month: keyward_core::quota::Month) -> Result<u64>;
    /// Adds quota spending, in one transaction; the stored totals after, in order.
    async fn add_quota_usage(&self, deltas: &[QuotaDelta]) -> Result<Vec<u64>>;

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;

    async fn insert_environment(&self, env: &Environment, event: &AuditEvent) -> Result<()>;

    /// Stores a new admin token with its event in the operator's audit stream.
    async fn insert_admin_token(&self, token: &AdminToken, event: &AuditEvent) -> Result<()>;
    async fn admin_token(&self, id: &KeyId) -> Result<Option<AdminToken>>;
    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>>;
    /// Revokes a working token, with `event`; `false` (and nothing written) if it was
    /// already revoked or does not exist.
    async fn revoke_admin_token(
        &self,
        id: &KeyId,
        at: Timestamp,
        event: &AuditEvent,
    ) -> Result<bool>;

    async fn count_users(&self) -> Result<u64>;
    /// What changed after `cursor` in the change log, which every change a check
    /// depends on (keys, grants, memberships, projects, environments, organizations,
    /// admin tokens) writes to in its own transaction, by this process or any other.
    /// Caches read it to drop exactly what changed.
    async fn changes_since(&self, cursor: Option<i64>) -> Result<Changes>;
    /// A feed that announces each change to the change log as it commits, made by
    /// this process or any other, so that caches read the log at once rather than at
    /// their next poll; `None` when the backend has none (SQLite: one node). Each call
    /// starts a listener of its own (on PostgreSQL, one connection), which ends when
    /// the feed is dropped or the store closed. Needs a Tokio runtime.
    fn change_feed(&self) -> Option<ChangeFeed> {
        None
    }
    /// Stores a new person with its event in the operator's audit stream.
    async fn insert_user(&self, user: &User, event: &AuditEvent) -> Result<()>;
    /// A user by id, or by e-mail address ignoring case.
    async fn find_user(&self, id_or_email: &str) -> Result<Option<User>>;
    /// Every user, oldest first.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// What `user` holds in `org` now; `None` if not a member.
    async fn member_access(&self, org: &OrgId, user: &UserId) -> Result<Option<MemberAccess>>;
    async fn list_members(&self, org: &OrgId) -> Result<Vec<(User, MemberAccess)>>;
    /// Every organization `user` belongs to, with what they hold there.
    async fn memberships(&self, user: &UserId) -> Result<Vec<(OrgId, MemberAccess)>>;
    /// Makes `user` a member of `org` with `access`, replacing any earlier role and
    /// project levels there, together with `event`; provided their role is still
    /// `before` (`None`: not a member), the state the change was decided on, else
    /// [`StoreError::Stale`]. [`StoreError::LastOwner`] if it would leave `org` without
    /// an owner. Both are checked inside the transaction, so concurrent changes cannot
    /// each pass a check the other invalidates.
    async fn set_membership(
        &self,
        org: &OrgId,
        user: &UserId,
        before: Option<Role>,
        access: &MemberAccess,
        event: &AuditEvent,
    ) -> Result<()>;
    /// Removes `user` from `org` with `event`, provided their role is still `before`
    /// ([`StoreError::Stale`] otherwise, also if they are no longer a member);
    /// [`StoreError::LastOwner`] if it would leave `org` without an owner.
    async fn remove_membership(
        &self,
        org: &OrgId,
        user: &UserId,
        before: Role,
        event: &AuditEvent,
    ) -> Result<()>;
    /// Stores a new invitation with its event.
    async fn insert_invitation(&self, invitation: &Invitation, event: &AuditEvent) -> Result<()>;
    async fn invitation(&self, id: &InvitationId) -> Result<Option<Invitation>>;
    /// An organization's invitations, newest first, whatever their state.
    async fn list_invitations(&self, org: &OrgId) -> Result<Vec<Invitation>>;
    /// Revokes a pending invitation with `event`; [`StoreError::Stale`] if it was no
    /// longer pending.
    async fn revoke_invitation(
        &self,
        id: &InvitationId,
        at: Timestamp,
        event: &AuditEvent,
    ) -> Result<()>;
    /// Accepts invitation `id` for `user` (created first when `new_user`), making them a
    /// member with the invitation's role and project levels, with `events`, in one
    /// transaction. [`StoreError::Stale`] unless the invitation is pending and
    /// unexpired at `at`; a conflict ([`Conflict::Membership`]) if they already belong.
    async fn accept_invitation(
        &self,
        id: &InvitationId,
        user: &User,
        new_user: bool,
        at: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()>;
    /// Stores a new session with its sign-in `event`, and in the same transaction drops
    /// the person's sessions that have ended: past their absolute expiry at the new
    /// one's start, or last seen at or before `idle_since`.
    async fn insert_session(
        &self,
        session: &Session,
        idle_since: Timestamp,
        event: &AuditEvent,
    ) -> Result<()>;
    async fn session(&self, id: &SessionId) -> Result<Option<Session>>;
    /// Moves a session's `last_seen_at` forward to `at` (never back).
    async fn touch_session(&self, id: &SessionId, at: Timestamp) -> Result<()>;
    /// Ends one session; `false` if there was none.
    async fn delete_session(&self, id: &SessionId) -> Result<bool>;
    /// Ends every session of `user`, with `event` if given, in one transaction; how
    /// many there were.
    async fn delete_user_sessions(&self, user: &UserId, event: Option<&AuditEvent>) -> Result<u64>;
    /// A person's sessions, newest first, ended ones included until they are dropped.
    async fn list_sessions(&self, user: &UserId) -> Result<Vec<Session>>;
    /// Stores a password-reset link with `event`, marking the person's older unused
    /// links used in the same transaction, so that only the newest works.
    async fn insert_password_reset(&self, reset: &PasswordReset, event: &AuditEvent) -> Result<()>;
    async fn password_reset(&self, id: &ResetId) -> Result<Option<PasswordReset>>;
    /// Uses reset link `id` at `at`: marks it used, sets its person's password hash and
    /// ends every session of theirs, with `event`, in one transaction; how many
    /// sessions ended. [`StoreError::Stale`] unless it was unused and unexpired at `at`.
    async fn complete_password_reset(
        &self,
        id: &ResetId,
        password_hash: &str,
        at: Timestamp,
        event: &AuditEvent,
    ) -> Result<u64>;
    /// Makes `hash` the only usable setup token, replacing any unused one.
    async fn replace_setup_token(&self, id: &str, hash: &KeyHash, at: Timestamp) -> Result<()>;
    /// The usable setup token, if there is one.
    async fn setup_token(&self) -> Result<Option<SetupToken>>;
    /// Uses setup token `token_id` to create the first user as owner of `org`, all in
    /// one transaction. [`StoreError::Stale`] if the token was used meanwhile.
    async fn complete_setup(
        &self,
        token_id: &str,
        user: &User,
        org: &Organization,
        event: &AuditEvent,
        at: Timestamp,
    ) -> Result<()>;
}

/// The stored form of a first-run setup token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupToken {
    pub id: String,
    pub hash: KeyHash,
}

/// How [`open_with`] opens a store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The most connections to the database at once; `None`: the backend's default
    /// ([`sqlite::DEFAULT_MAX_CONNECTIONS`], [`postgres::DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: Option<u32>,
    /// Runs pending migrations first (the default). Otherwise a database that is
    /// behind is refused with [`StoreError::SchemaBehind`].
    pub migrate: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_connections: None,
            migrate: true,
        }
    }
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of `url`, by its scheme: `sqlite:`, `postgres://` or
    /// `postgresql://`. The error holds only the scheme: the rest may carry a password.
    pub fn of(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StoreError::UnsupportedUrl(
                scheme.chars().take(20).collect(),
            ))
        }
    }

    /// Connections per process when none are configured.
    pub fn default_max_connections(self) -> u32 {
        match self {
            Backend::Sqlite => sqlite::DEFAULT_MAX_CONNECTIONS,
            Backend::Postgres => postgres::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A store connected to, not yet checked against its migrations.
enum Connected {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Connected {
    async fn to(url: &str, max_connections: Option<u32>) -> Result<Connected> {
        let backend = Backend::of(url)?;
        let max = max_connections.unwrap_or(backend.default_max_connections());
        Ok(match backend {
            Backend::Sqlite => {
                let path = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .unwrap_or_default();
                Connected::Sqlite(sqlite::SqliteStore::connect(Path::new(path), max).await?)
            }
            Backend::Postgres => Connected::Postgres(postgres::PgStore::connect(url, max).await?),
        })
    }

    async fn pending(&self) -> Result<Vec<Migration>> {
        match self {
            Connected::Sqlite(s) => s.pending_migrations().await,
            Connected::Postgres(s) => s.pending_migrations().await,
        }
    }

    async fn migrate(&self) -> Result<Vec<Migration>> {
        match self {
            Connected::Sqlite(s) => s.migrate().await,
            Connected::Postgres(s) => s.migrate().await,
        }
    }

    /// Migrates, or (`migrate` false) refuses a database that is behind.
    async fn prepare(&self, migrate: bool) -> Result<()> {
        if migrate {
            self.migrate().await?;
        } else {
            let pending = self.pending().await?;
            if !pending.is_empty() {
                return Err(StoreError::SchemaBehind(pending));
            }
        }
        Ok(())
    }

    fn into_store(self) -> Arc<dyn Store> {
        match self {
            Connected::Sqlite(s) => Arc::new(s),
            Connected::Postgres(s) => Arc::new(s),
        }
    }

    async fn close(self) -> Result<()> {
        self.into_store().close().await
    }
}

/// Opens (creating if needed) and migrates the store at `url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    open_with(url, &OpenOptions::default()).await
}

/// Opens the store at `url` as `options` say.
pub async fn open_with(url: &str, options: &OpenOptions) -> Result<Arc<dyn Store>> {
    let connected = Connected::to(url, options.max_connections).await?;
    connected.prepare(options.migrate).await?;
    Ok(connected.into_store())
}

/// Runs the migrations that have not run on the database at `url`; the ones that ran,
/// in order (none: it was up to date).
pub async fn migrate(url: &str) -> Result<Vec<Migration>> {
    let connected = Connected::to(url, Some(1)).await?;
    let ran = connected.migrate().await;
    connected.close().await?;
    ran
}

/// The migrations that have not run on the database at `url`, changing nothing.
pub async fn pending_migrations(url: &str) -> Result<Vec<Migration>> {
    let connected = Connected::to(url, Some(1)).await?;
    let pending = connected.pending().await;
    connected.close().await?;
    pending
}

/// [`open`], with test switches for slow or stalled reads.
#[cfg(feature = "faults")]
pub async fn open_with_faults(url: &str, faults: Arc<faults::Faults>) -> Result<Arc<dyn Store>> {
    let connected = Connected::to(url, None).await?;
    connected.prepare(true).await?;
    Ok(match connected {
        Connected::Sqlite(mut s) => {
            s.faults = Some(faults);
            Arc::new(s)
        }
        Connected::Postgres(mut s) => {
            s.faults = Some(faults);
            Arc::new(s)
        }
    })
}
