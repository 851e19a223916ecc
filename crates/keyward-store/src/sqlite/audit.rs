//! The audit log, for the SQLite backend: events are only ever inserted, inside the
//! transaction of the change they record (the schema refuses updates and deletes).

use super::{backend, rows};
use crate::{AuditQuery, Result};
use keyward_core::timestamp::to_millis;
use keyward_core::{AuditEvent, KeyId, OrgId};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};

pub(crate) async fn insert_event(tx: &mut Transaction<'_, Sqlite>, e: &AuditEvent) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, org_id, actor, action, key_id, details, ip)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(to_millis(e.at))
    .bind(e.org_id.as_ref().map(OrgId::as_str))
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

pub(super) async fn audit_events(pool: &SqlitePool, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
    let mut b = QueryBuilder::<Sqlite>::new(
        "SELECT id, at, org_id, actor, action, key_id, details, ip FROM audit_events WHERE 1 = 1",
    );
    if let Some(org) = &q.org_id {
        b.push(" AND org_id = ").push_bind(org.as_str());
    }
    if q.operator_only {
        b.push(" AND org_id IS NULL");
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
        .fetch_all(pool)
        .await
        .map_err(backend)?
        .iter()
        .map(rows::event_from_row)
        .collect()
}
