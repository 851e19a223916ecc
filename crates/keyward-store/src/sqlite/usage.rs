//! Usage, for the SQLite backend: keys' last uses and the checks counted per key, UTC
//! day and outcome (migration 0008), written together in one transaction per batch,
//! and read back per day or per key.

use super::backend;
use crate::{DayCount, KeyCount, Result, StoreError, UsageBatch, UsageOf};
use keyward_core::timestamp::{format_day, parse_day, to_millis};
use keyward_core::{KeyId, OrgId, Outcome};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use time::Date;

pub(super) async fn record(pool: &SqlitePool, batch: &UsageBatch) -> Result<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    for u in &batch.uses {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = ?, last_used_ip = coalesce(?, last_used_ip)
             WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
        )
        .bind(to_millis(u.at))
        .bind(u.from.as_deref())
        .bind(u.key.as_str())
        .bind(to_millis(u.at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    for c in &batch.counts {
        // The organization comes from the key itself; a key that does not exist adds
        // nothing (rather than failing the whole batch, forever). `WHERE` also keeps
        // SQLite from reading `ON CONFLICT` as a join's `ON`.
        sqlx::query(
            "INSERT INTO key_usage (key_id, org_id, day, outcome, count)
             SELECT id, org_id, ?, ?, ? FROM api_keys WHERE id = ?
             ON CONFLICT (key_id, day, outcome) DO UPDATE SET count = count + excluded.count",
        )
        .bind(format_day(c.day))
        .bind(c.outcome.as_str())
        .bind(i64::try_from(c.count).unwrap_or(i64::MAX))
        .bind(c.key.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("corrupt row in key_usage: {what}").into())
}

fn outcome(name: &str) -> Result<Outcome> {
    Outcome::ALL
        .into_iter()
        .find(|o| o.as_str() == name)
        .ok_or_else(|| corrupt("outcome"))
}

fn count(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| corrupt("count"))
}

pub(super) async fn per_day(
    pool: &SqlitePool,
    of: &UsageOf,
    from: Date,
    to: Date,
) -> Result<Vec<DayCount>> {
    let mut b = QueryBuilder::<Sqlite>::new("SELECT day, outcome, sum(count) AS n FROM key_usage");
    match of {
        UsageOf::Key(key) => b.push(" WHERE key_id = ").push_bind(key.as_str()),
        UsageOf::Org(org) => b.push(" WHERE org_id = ").push_bind(org.as_str()),
    };
    b.push(" AND day >= ")
        .push_bind(format_day(from))
        .push(" AND day <= ")
        .push_bind(format_day(to))
        .push(" GROUP BY day, outcome ORDER BY day, outcome");
    b.build()
        .fetch_all(pool)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| {
            let day: String = row.try_get("day").map_err(backend)?;
            let name: String = row.try_get("outcome").map_err(backend)?;
            Ok(DayCount {
                day: parse_day(&day).ok_or_else(|| corrupt("day"))?,
                outcome: outcome(&name)?,
                count: count(row.try_get("n").map_err(backend)?)?,
            })
        })
        .collect()
}

pub(super) async fn per_key(
    pool: &SqlitePool,
    org: &OrgId,
    from: Date,
    to: Date,
) -> Result<Vec<KeyCount>> {
    let rows = sqlx::query(
        "SELECT key_id, outcome, sum(count) AS n FROM key_usage
         WHERE org_id = ? AND day >= ? AND day <= ?
         GROUP BY key_id, outcome ORDER BY key_id, outcome",
    )
    .bind(org.as_str())
    .bind(format_day(from))
    .bind(format_day(to))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|row| {
            let key: String = row.try_get("key_id").map_err(backend)?;
            let name: String = row.try_get("outcome").map_err(backend)?;
            Ok(KeyCount {
                key: KeyId::parse(&key).map_err(|_| corrupt("key id"))?,
                outcome: outcome(&name)?,
                count: count(row.try_get("n").map_err(backend)?)?,
            })
        })
        .collect()
}
