//! Where "now" comes from. The application asks a [`Clock`]; production uses the
//! system's, tests use a [`ManualClock`] they can move, so that expiry and grace
//! periods are tested exactly and without sleeping.

use keyward_core::timestamp::{truncate, Timestamp};
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync {
    /// The current time in UTC, in whole milliseconds.
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        truncate(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Mutex::new(truncate(start)))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now = truncate(*now + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
