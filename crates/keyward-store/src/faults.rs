//! Fault injection, compiled only with the `faults` feature (tests enable it): slow key
//! reads, so that a check's read of a key overlaps a change committed meanwhile;
//! change-log reads that never return, so that tests can prove the cache survives a
//! request dropped in the middle of one; and failing usage writes, so that tests can
//! prove a batch that could not be written is neither lost nor counted twice.
//! Production builds do not contain this module.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Switches a test flips on a store opened with [`crate::open_with_faults`].
#[derive(Debug, Default)]
pub struct Faults {
    key_read_delay_us: AtomicU64,
    key_reads: AtomicU64,
    stall_change_reads: AtomicBool,
    fail_usage_writes: AtomicBool,
    /// State of a small xorshift generator: delays vary per read, so that reads begun
    /// together finish in a different order than they began.
    jitter: AtomicU64,
}

impl Faults {
    pub fn new() -> Arc<Self> {
        Arc::new(Faults::default())
    }

    /// Every key read returns its row only after a delay between zero and `delay`,
    /// chosen anew for each read, as a busy database would.
    pub fn delay_key_reads(&self, delay: Duration) {
        self.key_read_delay_us
            .store(delay.as_micros() as u64, Ordering::SeqCst);
    }

    /// While on, reads of the change counter never return.
    pub fn stall_change_reads(&self, on: bool) {
        self.stall_change_reads.store(on, Ordering::SeqCst);
    }

    /// While on, writes of usage (last uses and counts) fail before touching the
    /// database, as they would with the database down or its disk full.
    pub fn fail_usage_writes(&self, on: bool) {
        self.fail_usage_writes.store(on, Ordering::SeqCst);
    }

    /// How many keys were read from the store so far.
    pub fn key_reads(&self) -> u64 {
        self.key_reads.load(Ordering::SeqCst)
    }

    pub(crate) async fn after_key_read(&self) {
        self.key_reads.fetch_add(1, Ordering::SeqCst);
        let max = self.key_read_delay_us.load(Ordering::SeqCst);
        if max > 0 {
            let mut x = self
                .jitter
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                | 1;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            tokio::time::sleep(Duration::from_micros(x % max)).await;
        }
    }

    pub(crate) fn before_usage_write(&self) -> crate::Result<()> {
        match self.fail_usage_writes.load(Ordering::SeqCst) {
            true => Err(crate::StoreError::Backend(
                "usage write failed on purpose (fault injection)".into(),
            )),
            false => Ok(()),
        }
    }

    pub(crate) async fn before_change_read(&self) {
        if self.stall_change_reads.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }
}
