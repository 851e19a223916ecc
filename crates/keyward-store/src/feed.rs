//! Being woken when the change log grows, so that a cache can read it at once instead
//! of at its next poll. Backend-neutral: a [`ChangeFeed`] says whether it is connected
//! (and how many times it has connected, so that a reader can tell it missed a gap),
//! and the newest change-log position it was told about. A backend that has no such
//! thing (SQLite: one node, whose own changes invalidate at once) gives none, and
//! caches keep polling.
//!
//! The feed holds its latest state only, in a `watch` channel: a burst of changes
//! while the reader is busy is one wake-up, not a queue, and nothing grows if the
//! reader falls behind. Notifications are only a hint: what changed is always read
//! from the change log itself, so one lost in a gap costs time, never correctness,
//! provided the reader treats its cache as stale from the moment the feed is down
//! until it has read the log again after reconnecting.

use tokio::sync::watch;

/// What a feed knows now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedState {
    /// Listening now: every change committed from now on will be announced.
    pub connected: bool,
    /// How many times the feed has connected (1 after the first). A reader that saw
    /// one value and then another knows that announcements in between may be lost.
    pub epoch: u64,
    /// The newest change-log position announced, if any.
    pub seq: Option<i64>,
    /// Why the feed is not connected, for logs and readiness (never holds the URL).
    pub error: Option<String>,
}

/// A live feed of change announcements. Dropping it stops the backend's listener.
pub struct ChangeFeed {
    rx: watch::Receiver<FeedState>,
}

impl ChangeFeed {
    /// A feed and the sender its backend updates.
    pub(crate) fn channel() -> (watch::Sender<FeedState>, ChangeFeed) {
        let (tx, rx) = watch::channel(FeedState::default());
        (tx, ChangeFeed { rx })
    }

    /// Waits until the state changes, and returns it; `None` once the backend's
    /// listener has ended (the store was closed).
    pub async fn changed(&mut self) -> Option<FeedState> {
        self.rx.changed().await.ok()?;
        Some(self.rx.borrow_and_update().clone())
    }

    /// The state now.
    pub fn state(&self) -> FeedState {
        self.rx.borrow().clone()
    }
}
