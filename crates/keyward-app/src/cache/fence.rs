//! The fence between loads and changes: a change acknowledged by this process is never
//! undone by a load that read the store before the change committed.
//!
//! A load (a cache miss going to the store) takes a [`Ticket`] before it reads, which
//! records the epoch it began in. A change, once committed, calls
//! [`Fence::invalidate`]: that opens a new epoch, removes the cached entries the change
//! touched, and, while any load is under way, records what it touched. A load may
//! insert what it read only if no change to the same thing was recorded after it
//! began ([`Fence::admit`]). Both run under one lock, so there is no moment at which
//! a stale read can slip in after the removal; lookups take no lock at all.
//!
//! Records live only as long as a load that began before them; if too many pile up
//! (a load that never finishes), the fence raises a floor instead and refuses every
//! load begun below it, which costs a reload, never correctness.

use keyward_core::{KeyId, OrgId, UserId};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a change touched, or what a load is about to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touched {
    /// A key (known or unknown) by id.
    Key(KeyId),
    /// A person's access in an organization (`None`: in every organization).
    Member(Option<OrgId>, UserId),
    /// An organization's projects and environments.
    Org(OrgId),
    /// An admin token (known or unknown) by id.
    AdminToken(KeyId),
    /// Anything at all.
    Everything,
}

impl Touched {
    /// Whether a change to `self` makes a load of `entry` stale.
    fn covers(&self, entry: &Touched) -> bool {
        match (self, entry) {
            (Touched::Everything, _) => true,
            (Touched::Member(None, user), Touched::Member(_, u)) => user == u,
            (Touched::Member(Some(org), user), Touched::Member(o, u)) => {
                user == u && o.as_ref().is_none_or(|o| o == org)
            }
            (a, b) => a == b,
        }
    }
}

/// Past this many records, the fence raises its floor instead of keeping more.
const MOST_RECORDS: usize = 4096;

#[derive(Default)]
struct State {
    epoch: u64,
    /// Loads begun below this epoch may not insert anything.
    floor: u64,
    /// Loads under way, by the epoch they began in.
    in_flight: BTreeMap<u64, usize>,
    /// Changes made while loads were under way: (epoch, what it touched).
    records: Vec<(u64, Touched)>,
}

impl State {
    fn release(&mut self, began: u64) {
        if let Some(n) = self.in_flight.get_mut(&began) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&began);
            }
        }
        // A record matters only to loads that began before it.
        match self.in_flight.keys().next() {
            None => self.records.clear(),
            Some(&oldest) => self.records.retain(|(at, _)| *at > oldest),
        }
    }
}

#[derive(Default)]
pub struct Fence {
    state: Mutex<State>,
}

impl Fence {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken before a load reads the store.
    pub fn begin(&self) -> Ticket<'_> {
        let began = {
            let mut state = self.lock();
            let began = state.epoch;
            *state.in_flight.entry(began).or_default() += 1;
            began
        };
        // Read once the lock is released: every load takes it.
        Ticket {
            fence: self,
            began,
            open: true,
            started: Instant::now(),
        }
    }

    /// Runs `insert` (which puts what the load read for `scope` into the cache) unless
    /// a change to `scope` was made since the load began.
    pub fn admit(&self, mut ticket: Ticket<'_>, scope: &Touched, insert: impl FnOnce()) {
        let mut state = self.lock();
        let stale = ticket.began < state.floor
            || state
                .records
                .iter()
                .any(|(at, changed)| *at > ticket.began && changed.covers(scope));
        if !stale {
            insert();
        }
        state.release(ticket.began);
        ticket.open = false;
    }

    /// After a change to `scope` committed: runs `remove` (which drops the cached
    /// entries it touched) and keeps loads already under way from putting them back.
    pub fn invalidate(&self, scope: Touched, remove: impl FnOnce()) {
        let mut state = self.lock();
        state.epoch += 1;
        if !state.in_flight.is_empty() {
            if state.records.len() >= MOST_RECORDS {
                state.floor = state.epoch;
                state.records.clear();
            } else {
                let epoch = state.epoch;
                state.records.push((epoch, scope));
            }
        }
        remove();
    }

    #[cfg(test)]
    pub(super) fn records(&self) -> usize {
        self.lock().records.len()
    }
}

/// A load under way. Dropped without [`Fence::admit`] (the request was cancelled, or
/// the read failed), it simply ends.
pub struct Ticket<'a> {
    fence: &'a Fence,
    began: u64,
    open: bool,
    /// When the load began, to time the read.
    started: Instant,
}

impl Ticket<'_> {
    /// How long ago the load began.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.open {
            self.fence.lock().release(self.began);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;
    use std::cell::Cell;

    fn key() -> Touched {
        Touched::Key(KeyId::generate(&mut OsRng))
    }

    #[test]
    fn a_load_that_began_before_a_change_to_its_entry_is_refused() {
        let fence = Fence::default();
        let (k, other) = (key(), key());
        let before = fence.begin();
        let unrelated = fence.begin();
        fence.invalidate(k.clone(), || {});
        let after = fence.begin();
        let inserted = Cell::new(0);
        fence.admit(before, &k, || inserted.set(inserted.get() + 1));
        assert_eq!(inserted.get(), 0, "read before the change: refused");
        fence.admit(unrelated, &other, || inserted.set(inserted.get() + 1));
        assert_eq!(inserted.get(), 1, "another entry: admitted");
        fence.admit(after, &k, || inserted.set(inserted.get() + 1));
        assert_eq!(inserted.get(), 2, "read after the change: admitted");
        assert_eq!(fence.records(), 0, "no load under way: nothing kept");
    }

    #[test]
    fn membership_changes_cover_the_person_in_their_organizations() {
        let org = OrgId::generate(&mut OsRng);
        let user = UserId::generate(&mut OsRng);
        let here = Touched::Member(Some(org.clone()), user.clone());
        let elsewhere = Touched::Member(Some(OrgId::generate(&mut OsRng)), user.clone());
        assert!(here.covers(&here));
        assert!(!here.covers(&elsewhere));
        assert!(Touched::Member(None, user.clone()).covers(&elsewhere));
        assert!(!Touched::Org(org).covers(&here));
        assert!(Touched::Everything.covers(&key()));
    }

    #[test]
    fn cancelled_loads_end_and_too_many_records_raise_the_floor() {
        let fence = Fence::default();
        let stuck = fence.begin();
        for _ in 0..MOST_RECORDS + 10 {
            fence.invalidate(key(), || {});
        }
        assert!(fence.records() < MOST_RECORDS, "bounded");
        let k = key();
        let inserted = Cell::new(false);
        fence.admit(stuck, &k, || inserted.set(true));
        assert!(
            !inserted.get(),
            "below the floor: refused, whatever it read"
        );
        let dropped = fence.begin();
        fence.invalidate(k.clone(), || {});
        drop(dropped);
        assert_eq!(fence.records(), 0, "a cancelled load leaves nothing behind");
        fence.admit(fence.begin(), &k, || inserted.set(true));
        assert!(inserted.get());
    }
}
