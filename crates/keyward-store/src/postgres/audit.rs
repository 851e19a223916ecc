//! The audit log, for the PostgreSQL backend: events are only ever inserted, inside
//! the transaction of the change they record (the schema refuses updates, deletes and
//! truncation).

use super::{backend, storable};
use crate::rows::event_from_row;
use crate::{AuditQuery, Result};
use keyward_core::timestamp::to_millis;
use keyward_core::{AuditEvent, KeyId, OrgId};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

pub(super) async fn insert_event(conn: &mut PgConnection, e: &AuditEvent) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, org_id, actor, action, key_id, details, ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(to_millis(e.at))
    .bind(e.org_id.as_ref().map(OrgId::as_str))
    .bind(e.actor.encode())
    .bind(e.action.as_str())
    .bind(e.key_id.as_ref().map(KeyId::as_str))
    .bind(e.details.to_string())
    .bind(e.ip.as_deref())
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(super) async fn audit_events(pool: &PgPool, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
    let mut b = QueryBuilder::<Postgres>::new(
        "SELECT id, at, org_id, actor, action, key_id, details, ip FROM audit_events WHERE TRUE",
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
        if !storable(actor) {
            return Ok(Vec::new());
        }
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
        .map(event_from_row)
        .collect()
}
