//! Usage: how many checks each key had per UTC day and outcome, and when and from where
//! each key was last used, without a database write per request.
//!
//! Every check whose key was found (every outcome from `revoked` on) is counted in
//! memory ([`notes`]); a valid one also notes the key's use, with the client's address.
//! [`Keyward::flush_usage`] writes what was noted in one transaction and puts it back
//! if that fails, so nothing is lost and nothing counted twice. `keyward serve` flushes
//! every [`FLUSH_EVERY`] and once more when it stops: a crash loses at most the checks
//! of that window (longer only while writes fail, when what could not be written waits
//! in memory for the next try). Checks with no key to count against (`missing`,
//! `malformed`, `unknown`) are counted per server only, in the metrics.
//!
//! These writes change nothing a check decides, so they invalidate no cache entry (the
//! change log leaves them out). [`report`] reads them back for people.

pub(crate) mod notes;
mod report;

pub use report::{DayUsage, KeyTotal, KeyUsageView, OrgUsageView, OutcomeCounts, UsageRange};

use crate::error::AppResult;
use crate::Keyward;
use keyward_core::{Timestamp, Verdict};
use std::net::IpAddr;
use std::time::Instant;

/// How often `keyward serve` writes what it noted: the most a crash loses.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl Keyward {
    /// Counts a check that ended in `verdict` at `at`, from `from` if known: per server
    /// by outcome, and, when the key is known, per key, day and outcome, with a valid
    /// check also the key's last use. On the check's path: no allocation once the key
    /// was seen that day, no store access, no lock that every worker takes.
    pub(crate) fn counted(&self, verdict: &Verdict, at: Timestamp, from: Option<IpAddr>) {
        self.metrics.checked(verdict.outcome);
        if let Some(key) = &verdict.key {
            self.usage.note(key.id, verdict.outcome, at, from);
        }
    }

    /// What `keyward serve` does every [`FLUSH_EVERY`]: writes the usage noted, and
    /// builds the filter of known key ids when it is missing (at start, or after it
    /// stepped aside). Each part's failure is returned after the other part ran.
    pub async fn housekeeping(&self) -> AppResult<()> {
        self.limiter.prune(self.now());
        let flushed = self.flush_usage().await.map(|_| ());
        let built = match self.cache.known.wanted() {
            true => self.build_known_ids().await.map(|_| ()),
            false => Ok(()),
        };
        flushed.and(built)
    }

    /// Writes the usage noted since the last flush (counts and last uses) in one
    /// transaction; how many keys it wrote about. On failure everything is put back,
    /// to be written next time, added to what is noted meanwhile.
    ///
    /// Not cancel safe: a flush dropped while writing may lose its batch (or, had the
    /// write committed, keep it). `keyward serve` never cancels one.
    pub async fn flush_usage(&self) -> AppResult<usize> {
        // The quota's spending first: it is what a crash would cost the operator. Its
        // failure is returned after the usage was written too.
        let quota = self.flush_quota().await;
        let (batch, keys) = self.usage.take();
        if batch.is_empty() {
            return quota.map(|_| 0);
        }
        let started = Instant::now();
        let written = self.store.record_usage(&batch).await;
        self.metrics
            .usage_written(started.elapsed(), written.is_ok());
        match written {
            Ok(()) => quota.map(|_| keys),
            Err(e) => {
                self.usage.restore(&batch);
                Err(e.into())
            }
        }
    }
}
