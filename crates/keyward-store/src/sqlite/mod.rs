//! The embedded SQLite backend: one file, WAL mode, foreign keys on. Migrations are
//! compiled into the binary and run at open.

mod members;
mod migrate;
mod operator;
mod rows;

use crate::{AuditQuery, Conflict, KeyQuery, KeyWrite, Result, SetupToken, Store, StoreError};
use async_trait::async_trait;
use keyward_core::timestamp::to_millis;
use keyward_core::token::AdminToken;
use keyward_core::{
    ApiKey, AuditEvent, Environment, KeyId, OrgId, Organization, Project, ProjectId,
};
use keyward_core::{KeyHash, MemberAccess, Timestamp, User, UserId};
use rows::{key_from_row, KEY_COLUMNS};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::path::Path;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
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
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(backend)?;
        migrate::run(&pool).await?;
        Ok(SqliteStore { pool })
    }
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

pub(crate) async fn insert_org_row(conn: &mut SqliteConnection, org: &Organization) -> Result<()> {
    sqlx::query("INSERT INTO organizations (id, name, plan, created_at) VALUES (?, ?, ?, ?)")
        .bind(org.id.as_str())
        .bind(org.name.as_str())
        .bind(&org.plan)
        .bind(to_millis(org.created_at))
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn insert_event(tx: &mut Transaction<'_, Sqlite>, e: &AuditEvent) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, org_id, actor, action, key_id, details, ip)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(to_millis(e.at))
    .bind(e.org_id.as_str())
    .bind(e.actor.encode())
    .bind(e.action.as_str())
    .bind(e.key_id.as_ref().map(KeyId::as_str))
    .bind(e.details.to_string())
    .bind(e.ip.as_deref())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn write_grants(tx: &mut Transaction<'_, Sqlite>, key: &ApiKey) -> Result<()> {
    sqlx::query("DELETE FROM key_grants WHERE key_id = ?")
        .bind(key.id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    for (position, g) in key.grants.iter().enumerate() {
        let (project, environment, resources) = rows::grant_columns(g);
        sqlx::query(
            "INSERT INTO key_grants (key_id, position, project_id, environment, level, resources)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id.as_str())
        .bind(position as i64)
        .bind(project)
        .bind(environment)
        .bind(g.level.as_str())
        .bind(resources)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

fn scopes_json(k: &ApiKey) -> String {
    let names: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn opt_ms(t: Option<keyward_core::Timestamp>) -> Option<i64> {
    t.map(to_millis)
}

async fn insert_key(tx: &mut Transaction<'_, Sqlite>, k: &ApiKey) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, description, kind, org_access, owner_user_id,
            created_by, created_at, expires_at, status, status_changed_at, rotated_from,
            rotated_to, pepper_version, secret_hash, revision, last_used_at, last_used_ip, scopes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(k.id.as_str())
    .bind(k.org_id.as_str())
    .bind(k.name.as_str())
    .bind(k.description.as_ref().map(|d| d.as_str()))
    .bind(k.kind.as_str())
    .bind(k.org_access.as_str())
    .bind(k.owner.as_ref().map(|u| u.as_str()))
    .bind(k.created_by.encode())
    .bind(to_millis(k.created_at))
    .bind(opt_ms(k.expires_at))
    .bind(k.status.as_str())
    .bind(opt_ms(k.status_changed_at))
    .bind(k.rotated_from.as_ref().map(KeyId::as_str))
    .bind(k.rotated_to.as_ref().map(KeyId::as_str))
    .bind(i64::from(k.hash.pepper_version))
    .bind(&k.hash.digest[..])
    .bind(k.revision)
    .bind(opt_ms(k.last_used_at))
    .bind(k.last_used_ip.as_deref())
    .bind(scopes_json(k))
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    write_grants(tx, k).await
}

async fn update_key(tx: &mut Transaction<'_, Sqlite>, k: &ApiKey) -> Result<()> {
    let done = sqlx::query(
        "UPDATE api_keys SET name = ?, description = ?, org_access = ?, expires_at = ?,
            status = ?, status_changed_at = ?, rotated_to = ?, pepper_version = ?,
            secret_hash = ?, revision = ?, scopes = ?
         WHERE id = ? AND revision = ?",
    )
    .bind(k.name.as_str())
    .bind(k.description.as_ref().map(|d| d.as_str()))
    .bind(k.org_access.as_str())
    .bind(opt_ms(k.expires_at))
    .bind(k.status.as_str())
    .bind(opt_ms(k.status_changed_at))
    .bind(k.rotated_to.as_ref().map(KeyId::as_str))
    .bind(i64::from(k.hash.pepper_version))
    .bind(&k.hash.digest[..])
    .bind(k.revision)
    .bind(scopes_json(k))
    .bind(k.id.as_str())
    .bind(k.revision - 1)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Stale);
    }
    write_grants(tx, k).await
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        insert_org_row(&mut tx, org).await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(backend)
    }

    async fn find_org(&self, id_or_name: &str) -> Result<Option<Organization>> {
        sqlx::query("SELECT id, name, plan, created_at FROM organizations WHERE id = ? OR lower(name) = lower(?)")
            .bind(id_or_name)
            .bind(id_or_name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .map(|r| rows::org_from_row(&r))
            .transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<Organization>> {
        sqlx::query("SELECT id, name, plan, created_at FROM organizations ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::org_from_row)
            .collect()
    }

    async fn insert_project(
        &self,
        p: &Project,
        envs: &[Environment],
        event: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO projects (id, org_id, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(p.id.as_str())
            .bind(p.org_id.as_str())
            .bind(p.name.as_str())
            .bind(to_millis(p.created_at))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for e in envs {
            sqlx::query("INSERT INTO environments (id, project_id, name, kind, created_at) VALUES (?, ?, ?, ?, ?)")
                .bind(e.id.as_str())
                .bind(e.project_id.as_str())
                .bind(e.name.as_str())
                .bind(e.kind.as_str())
                .bind(to_millis(e.created_at))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(backend)
    }

    async fn find_project(&self, org: &OrgId, id_or_name: &str) -> Result<Option<Project>> {
        sqlx::query(
            "SELECT id, org_id, name, created_at FROM projects
             WHERE org_id = ? AND (id = ? OR lower(name) = lower(?))",
        )
        .bind(org.as_str())
        .bind(id_or_name)
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(|r| rows::project_from_row(&r))
        .transpose()
    }

    async fn project(&self, id: &ProjectId) -> Result<Option<Project>> {
        sqlx::query("SELECT id, org_id, name, created_at FROM projects WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .map(|r| rows::project_from_row(&r))
            .transpose()
    }

    async fn list_projects(&self, org: &OrgId) -> Result<Vec<Project>> {
        sqlx::query("SELECT id, org_id, name, created_at FROM projects WHERE org_id = ? ORDER BY created_at, id")
            .bind(org.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::project_from_row)
            .collect()
    }

    async fn list_environments(&self, project: &ProjectId) -> Result<Vec<Environment>> {
        sqlx::query(
            "SELECT id, project_id, name, kind, created_at FROM environments
             WHERE project_id = ? ORDER BY created_at, name",
        )
        .bind(project.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(rows::environment_from_row)
        .collect()
    }

    async fn key(&self, id: &KeyId) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?");
        let Some(row) = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let mut keys = vec![key_from_row(&row)?];
        rows::attach_grants(&self.pool, &mut keys).await?;
        Ok(keys.pop())
    }

    async fn list_keys(&self, q: &KeyQuery) -> Result<Vec<ApiKey>> {
        let mut b = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = "
        ));
        b.push_bind(q.org_id.as_str());
        if let Some(status) = q.status {
            b.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(kind) = q.kind {
            b.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(after) = &q.after {
            let at = to_millis(after.created_at);
            b.push(" AND (created_at < ")
                .push_bind(at)
                .push(" OR (created_at = ")
                .push_bind(at)
                .push(" AND id < ")
                .push_bind(after.id.as_str())
                .push("))");
        }
        b.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(q.limit));
        let rows = b.build().fetch_all(&self.pool).await.map_err(backend)?;
        let mut keys = rows.iter().map(key_from_row).collect::<Result<Vec<_>>>()?;
        rows::attach_grants(&self.pool, &mut keys).await?;
        Ok(keys)
    }

    async fn count_keys(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(n as u64)
    }

    async fn write_keys(&self, write: KeyWrite) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for k in &write.inserts {
            insert_key(&mut tx, k).await?;
        }
        for k in &write.updates {
            update_key(&mut tx, k).await?;
        }
        for e in &write.events {
            insert_event(&mut tx, e).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn audit_events(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let mut b = QueryBuilder::<Sqlite>::new(
            "SELECT id, at, org_id, actor, action, key_id, details, ip FROM audit_events WHERE 1 = 1",
        );
        if let Some(org) = &q.org_id {
            b.push(" AND org_id = ").push_bind(org.as_str());
        }
        if let Some(key) = &q.key_id {
            b.push(" AND key_id = ").push_bind(key.as_str());
        }
        if let Some(actor) = &q.actor {
            b.push(" AND actor = ").push_bind(actor.as_str());
        }
        if let Some(action) = q.action {
            b.push(" AND action = ").push_bind(action.as_str());
        }
        if let Some(since) = q.since {
            b.push(" AND at >= ").push_bind(to_millis(since));
        }
        if let Some(until) = q.until {
            b.push(" AND at < ").push_bind(to_millis(until));
        }
        if let Some(before) = q.before_id {
            b.push(" AND id < ").push_bind(before);
        }
        b.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(q.limit.unwrap_or(u32::MAX)));
        b.build()
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::event_from_row)
            .collect()
    }

    async fn insert_environment(&self, e: &Environment, event: &AuditEvent) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO environments (id, project_id, name, kind, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(e.id.as_str())
            .bind(e.project_id.as_str())
            .bind(e.name.as_str())
            .bind(e.kind.as_str())
            .bind(to_millis(e.created_at))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(backend)
    }

    async fn insert_admin_token(&self, token: &AdminToken) -> Result<()> {
        operator::insert_admin_token(&self.pool, token).await
    }

    async fn admin_token(&self, id: &KeyId) -> Result<Option<AdminToken>> {
        operator::admin_token(&self.pool, id).await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>> {
        operator::list_admin_tokens(&self.pool).await
    }

    async fn revoke_admin_token(&self, id: &KeyId, at: Timestamp) -> Result<bool> {
        operator::revoke_admin_token(&self.pool, id, at).await
    }

    async fn count_users(&self) -> Result<u64> {
        operator::count_users(&self.pool).await
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

    async fn insert_user(&self, user: &User) -> Result<()> {
        members::insert_user(&self.pool, user).await
    }

    async fn find_user(&self, id_or_email: &str) -> Result<Option<User>> {
        members::find_user(&self.pool, id_or_email).await
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

    async fn set_membership(
        &self,
        org: &OrgId,
        user: &UserId,
        access: &MemberAccess,
        event: &AuditEvent,
    ) -> Result<()> {
        members::set_membership(&self.pool, org, user, access, event).await
    }

    async fn remove_membership(
        &self,
        org: &OrgId,
        user: &UserId,
        event: &AuditEvent,
    ) -> Result<bool> {
        members::remove_membership(&self.pool, org, user, event).await
    }

    async fn change_counter(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT value FROM change_counter WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }
}
