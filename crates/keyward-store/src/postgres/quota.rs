//! Organizations' monthly quota spending, for the PostgreSQL backend: read at a
//! month's first check, added to in batches by every node at once.

use super::backend;
use crate::{QuotaDelta, Result};
use keyward_core::quota::Month;
use keyward_core::OrgId;
use sqlx::PgPool;

pub(super) async fn quota_used(pool: &PgPool, org: &OrgId, month: Month) -> Result<u64> {
    let used: Option<i64> =
        sqlx::query_scalar("SELECT used FROM quota_usage WHERE org_id = $1 AND month = $2")
            .bind(org.as_str())
            .bind(month.to_string())
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
    Ok(used.unwrap_or(0).max(0) as u64)
}

/// Adds every delta in one transaction; the totals after, in order. An organization
/// deleted meanwhile has nothing to add to: its total is 0.
pub(super) async fn add_quota_usage(pool: &PgPool, deltas: &[QuotaDelta]) -> Result<Vec<u64>> {
    // Rows are written in one order whatever the batch's, so two nodes' batches never
    // each hold a row the other waits for.
    let mut order: Vec<usize> = (0..deltas.len()).collect();
    order.sort_by(|&a, &b| {
        (deltas[a].org.as_str(), deltas[a].month.to_string())
            .cmp(&(deltas[b].org.as_str(), deltas[b].month.to_string()))
    });
    let mut totals = vec![0u64; deltas.len()];
    let mut tx = pool.begin().await.map_err(backend)?;
    for i in order {
        let d = &deltas[i];
        // One statement: the insert, or the increment of the row as committed (a
        // concurrent one waits for it), returning the total after. A refund can make
        // a delta negative; a total never goes below zero.
        let total: Option<i64> = sqlx::query_scalar(
            "INSERT INTO quota_usage (org_id, month, used)
             SELECT id, $2, GREATEST($3, 0) FROM organizations WHERE id = $1
             ON CONFLICT (org_id, month) DO UPDATE SET used = GREATEST(quota_usage.used + $3, 0)
             RETURNING used",
        )
        .bind(d.org.as_str())
        .bind(d.month.to_string())
        .bind(d.delta)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        totals[i] = total.unwrap_or(0).max(0) as u64;
    }
    tx.commit().await.map_err(backend)?;
    Ok(totals)
}
