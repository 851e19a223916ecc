//! Organizations' monthly quota spending: read at a month's first check, added to in
//! batches.

use super::backend;
use crate::{QuotaDelta, Result};
use keyward_core::quota::Month;
use keyward_core::OrgId;
use sqlx::SqlitePool;

pub(super) async fn quota_used(pool: &SqlitePool, org: &OrgId, month: Month) -> Result<u64> {
    let used: Option<i64> =
        sqlx::query_scalar("SELECT used FROM quota_usage WHERE org_id = ? AND month = ?")
            .bind(org.as_str())
            .bind(month.to_string())
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
    Ok(used.unwrap_or(0).max(0) as u64)
}

/// Adds every delta in one transaction; the totals after, in order. An organization
/// deleted meanwhile has nothing to add to: its total is 0.
pub(super) async fn add_quota_usage(pool: &SqlitePool, deltas: &[QuotaDelta]) -> Result<Vec<u64>> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let mut totals = Vec::with_capacity(deltas.len());
    for d in deltas {
        // A refund can make a delta negative; a total never goes below zero.
        let total: Option<i64> = sqlx::query_scalar(
            "INSERT INTO quota_usage (org_id, month, used)
             SELECT id, ?2, max(?3, 0) FROM organizations WHERE id = ?1
             ON CONFLICT (org_id, month) DO UPDATE SET used = max(used + ?3, 0)
             RETURNING used",
        )
        .bind(d.org.as_str())
        .bind(d.month.to_string())
        .bind(d.delta)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        totals.push(total.unwrap_or(0).max(0) as u64);
    }
    tx.commit().await.map_err(backend)?;
    Ok(totals)
}
