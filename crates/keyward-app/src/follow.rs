//! Following the store's change feed (PostgreSQL's LISTEN/NOTIFY), so that a change
//! made on another node drops what it touched from this node's cache within
//! milliseconds rather than at the next poll of the change log.
//!
//! Two tasks share the work. The *watcher* only reacts to the feed's state, and never
//! waits on the database, so that the moment the feed goes down the cache stops being
//! trusted. The *reader* reads the change log and applies it, through the same path as
//! the poll ([`Keyward::read_changes`]): one read at a time, and announcements that
//! arrive during a read make one more read after it, however many there were.
//!
//! After every (re)connection the cache stays untrusted until a read that began after
//! it has been applied: announcements made while the feed was down are lost, and only
//! the log can tell what they were. The poll of the change log stays as it was, as the
//! backstop for a listening connection that died without anyone noticing.

use crate::Keyward;
use keyward_store::FeedState;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Between failed reads of the change log, the first wait and the longest.
const FIRST_RETRY: Duration = Duration::from_millis(20);
const MOST_RETRY: Duration = Duration::from_secs(1);

/// What the watcher hands the reader.
#[derive(Default)]
struct Wanted {
    /// The connection epoch to catch up after (0: none).
    catch_up: AtomicU64,
    /// The newest change-log position announced (`i64::MIN`: none).
    seq: AtomicI64,
    wake: Notify,
}

/// The tasks following a change feed; dropping this stops them, and the cache falls
/// back on the poll alone.
pub struct Following {
    app: Keyward,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Following {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.app.cache.feed_unfollowed();
    }
}

impl Keyward {
    /// Follows the store's change feed until the returned handle is dropped; `None`
    /// when there is nothing to follow (no feed, as on SQLite, or no cache). Until the
    /// feed has connected and the change log been read, the cache is not trusted.
    /// Needs a Tokio runtime.
    pub fn follow_changes(&self) -> Option<Following> {
        if !self.cache.enabled() {
            return None;
        }
        let mut feed = self.store.change_feed()?;
        self.cache.feed_down();
        let wanted = Arc::new(Wanted {
            seq: AtomicI64::new(i64::MIN),
            ..Wanted::default()
        });
        let watcher = tokio::spawn({
            let app = self.clone();
            let wanted = wanted.clone();
            async move {
                let mut epoch = 0;
                while let Some(state) = feed.changed().await {
                    app.feed_changed(&state, &mut epoch, &wanted);
                }
                app.cache.feed_down();
            }
        });
        let reader = tokio::spawn({
            let app = self.clone();
            async move { app.read_announced(&wanted).await }
        });
        Some(Following {
            app: self.clone(),
            tasks: [watcher, reader],
        })
    }

    /// The watcher's step: never waits.
    fn feed_changed(&self, state: &FeedState, epoch: &mut u64, wanted: &Wanted) {
        if !state.connected {
            self.cache.feed_down();
        } else if state.epoch != *epoch {
            // A new connection: what was announced before it may be lost.
            *epoch = state.epoch;
            self.cache.feed_listening(state.epoch);
            wanted.catch_up.store(state.epoch, Ordering::Release);
        }
        if let Some(seq) = state.seq {
            wanted.seq.fetch_max(seq, Ordering::AcqRel);
        }
        // One permit is kept if the reader is busy: a burst is one more read.
        wanted.wake.notify_one();
    }

    /// The reader: reads the change log when woken, until it has caught up with what
    /// was announced, retrying with backoff while reads fail.
    async fn read_announced(&self, wanted: &Wanted) {
        let mut retry = FIRST_RETRY;
        loop {
            wanted.wake.notified().await;
            loop {
                let catch_up = wanted.catch_up.swap(0, Ordering::AcqRel);
                let seq = wanted.seq.load(Ordering::Acquire);
                let seq = (seq != i64::MIN).then_some(seq);
                let ok = if catch_up != 0 {
                    // Always a new read: it must begin after the reconnection.
                    let refresh = self.cache.refresh_through(None, self.now()).await;
                    let read = match refresh {
                        Some(refresh) => self.read_changes(refresh).await,
                        None => true,
                    };
                    if read {
                        self.cache.feed_caught_up(catch_up);
                    } else {
                        // Unless a newer connection asked for its own catch-up.
                        let _ = wanted.catch_up.compare_exchange(
                            0,
                            catch_up,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        );
                    }
                    read
                } else {
                    match self.cache.refresh_through(seq, self.now()).await {
                        Some(refresh) => self.read_changes(refresh).await,
                        None => true,
                    }
                };
                if ok {
                    retry = FIRST_RETRY;
                    break;
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(MOST_RETRY);
            }
        }
    }
}
