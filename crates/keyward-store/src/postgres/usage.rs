//! Usage, for the PostgreSQL backend: keys' last uses and the checks counted per key,
//! UTC day and outcome, written together in one transaction per batch, and read back
//! per day or per key. Several nodes write batches at once: counts are atomic
//! upserts that add, and rows are written in key order so that two batches never each
//! hold a row the other waits for.

use super::backend;
use crate::rows::Columns;
use crate::{DayCount, KeyCount, Result, StoreError, UsageBatch, UsageOf};
use keyward_core::timestamp::{format_day, parse_day, to_millis};
use keyward_core::{KeyId, OrgId, Outcome};
use sqlx::{PgPool, Postgres, QueryBuilder};
use time::Date;

pub(super) async fn record(pool: &PgPool, batch: &UsageBatch) -> Result<()> {
    let mut uses: Vec<_> = batch.uses.iter().collect();
    uses.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    let mut counts: Vec<_> = batch.counts.iter().collect();
    counts.sort_by(|a, b| {
        (a.key.as_str(), a.day, a.outcome.as_str()).cmp(&(
            b.key.as_str(),
            b.day,
            b.outcome.as_str(),
        ))
    });
    let mut tx = pool.begin().await.map_err(backend)?;
    for u in uses {
        // Sets only the usage columns, which the change log's trigger leaves out.
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1, last_used_ip = coalesce($2, last_used_ip)
             WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(to_millis(u.at))
        .bind(u.from.as_deref())
        .bind(u.key.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    for c in counts {
        // The organization comes from the key itself; a key that does not exist adds
        // nothing (rather than failing the whole batch, forever).
        sqlx::query(
            "INSERT INTO key_usage (key_id, org_id, day, outcome, count)
             SELECT id, org_id, $1, $2, $3 FROM api_keys WHERE id = $4
             ON CONFLICT (key_id, day, outcome) DO UPDATE SET count = key_usage.count + excluded.count",
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
    pool: &PgPool,
    of: &UsageOf,
    from: Date,
    to: Date,
) -> Result<Vec<DayCount>> {
    // sum() of BIGINT is NUMERIC in PostgreSQL: back to BIGINT, which the counts fit.
    let mut b = QueryBuilder::<Postgres>::new(
        "SELECT day, outcome, sum(count)::BIGINT AS n FROM key_usage",
    );
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
            Ok(DayCount {
                day: parse_day(&row.text("day")?).ok_or_else(|| corrupt("day"))?,
                outcome: outcome(&row.text("outcome")?)?,
                count: count(row.int("n")?)?,
            })
        })
        .collect()
}

pub(super) async fn per_key(
    pool: &PgPool,
    org: &OrgId,
    from: Date,
    to: Date,
) -> Result<Vec<KeyCount>> {
    let rows = sqlx::query(
        "SELECT key_id, outcome, sum(count)::BIGINT AS n FROM key_usage
         WHERE org_id = $1 AND day >= $2 AND day <= $3
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
            Ok(KeyCount {
                key: KeyId::parse(&row.text("key_id")?).map_err(|_| corrupt("key id"))?,
                outcome: outcome(&row.text("outcome")?)?,
                count: count(row.int("n")?)?,
            })
        })
        .collect()
}
