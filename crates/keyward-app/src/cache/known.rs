//! Which key ids exist, approximately and in little memory (a Bloom filter, about 2 bytes
//! a key), so that a flood of made-up but well-formed keys is answered `unknown` without a
//! database read each: a random id is absent from the filter nearly always (a false
//! positive, one in several hundred, only costs the read it would have cost anyway).
//!
//! The filter must never miss a key that exists. It is built from every id in the store,
//! then kept whole by the ids of keys created here (added before the creation is
//! acknowledged) and by the change log (keys created elsewhere). A key created elsewhere
//! in the last moments may not be in it yet: a check that finds an id missing reads the
//! change log first, unless it was read a moment ago (`fresh_within`). Until it is
//! built, or once more keys exist than it was sized for, it is not used.
//!
//! Filters are seeded with random hash keys (SipHash), so ids cannot be chosen to
//! collide in them.

use fastbloom::AtomicBloomFilter;
use keyward_core::KeyId;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// One key in this many that does not exist still costs a store read.
const FALSE_POSITIVES: f64 = 0.002;

/// Room for this many more keys than exist when built, at least.
const HEADROOM: usize = 100_000;

struct Filter {
    bloom: AtomicBloomFilter,
    room: usize,
    added: AtomicUsize,
}

pub struct KnownIds {
    filter: RwLock<Option<Arc<Filter>>>,
    /// The change log position up to which every key created is in the filter.
    through: AtomicI64,
    /// The filter was dropped (for lack of room, or after a gap in the change log), or
    /// never built: build it (again).
    wanted: AtomicBool,
}

impl Default for KnownIds {
    fn default() -> Self {
        KnownIds {
            filter: RwLock::new(None),
            through: AtomicI64::new(i64::MIN),
            wanted: AtomicBool::new(true),
        }
    }
}

impl KnownIds {
    fn current(&self) -> Option<Arc<Filter>> {
        self.filter
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `Some(false)`: no key has this id. `Some(true)`: one may. `None`: not known
    /// (the filter is not built).
    pub fn may_exist(&self, id: &KeyId) -> Option<bool> {
        self.current().map(|f| f.bloom.contains(id))
    }

    /// A key with this id exists now.
    pub fn add(&self, id: &KeyId) {
        let Some(filter) = self.current() else {
            return;
        };
        // `insert` says whether the id seemed present already (a key changed, not
        // made): only new ones use up room.
        if filter.bloom.insert(id) {
            return;
        }
        if filter.added.fetch_add(1, Ordering::Relaxed) + 1 > filter.room {
            // Past its size the filter would answer "may exist" ever more often: drop
            // it (nothing is missed without it) and have it built anew.
            *self.filter.write().unwrap_or_else(|p| p.into_inner()) = None;
            self.wanted.store(true, Ordering::Relaxed);
        }
    }

    /// Installs a filter holding `ids`: every key id that existed when the change log
    /// stood at `through`, read before listing them. The builder then hands on what
    /// the log says changed since, through [`followed`](Self::followed).
    pub fn install(&self, ids: &[KeyId], through: i64) {
        let room = ids.len() + HEADROOM.max(ids.len());
        let bloom =
            AtomicBloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(ids.len() + room);
        for id in ids {
            bloom.insert(id);
        }
        let filter = Filter {
            bloom,
            room,
            added: AtomicUsize::new(0),
        };
        *self.filter.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(filter));
        self.through.store(through, Ordering::Release);
        self.wanted.store(false, Ordering::Relaxed);
    }

    /// The change log from `from` to `to` named `created` (every key it touched): added,
    /// if the filter has followed the log up to `from`; if not, something between is
    /// missing, and the filter steps aside until it is built again. `created: None`:
    /// the log could not tell what changed up to `to`.
    pub fn followed(&self, from: Option<i64>, to: i64, created: Option<&[KeyId]>) {
        if self.current().is_none() {
            return;
        }
        let through = self.through.load(Ordering::Acquire);
        match (from, created) {
            (Some(from), Some(created)) if through >= from => {
                for id in created {
                    self.add(id);
                }
                self.through.fetch_max(to, Ordering::AcqRel);
            }
            _ if through >= to => {}
            _ => self.forget(),
        }
    }

    /// Whether the filter should be built (again).
    pub fn wanted(&self) -> bool {
        self.wanted.load(Ordering::Relaxed) || self.current().is_none()
    }

    /// Drops the filter: it may miss a key.
    fn forget(&self) {
        *self.filter.write().unwrap_or_else(|p| p.into_inner()) = None;
        self.wanted.store(true, Ordering::Relaxed);
    }

    /// Bytes the filter takes.
    pub fn bytes(&self) -> usize {
        self.current().map_or(0, |f| f.bloom.num_bits() / 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn ids_added_are_never_missed_and_made_up_ones_rarely_pass() {
        let known = KnownIds::default();
        let id = KeyId::generate(&mut OsRng);
        assert_eq!(known.may_exist(&id), None, "not built: not used");
        assert!(known.wanted());
        let ids: Vec<KeyId> = (0..10_000).map(|_| KeyId::generate(&mut OsRng)).collect();
        known.install(&ids, 0);
        assert!(!known.wanted());
        assert!(ids.iter().all(|id| known.may_exist(id) == Some(true)));
        known.add(&id);
        assert_eq!(known.may_exist(&id), Some(true));
        // Following the change log: contiguous reads add; a gap steps aside.
        let later = KeyId::generate(&mut OsRng);
        known.followed(Some(0), 5, Some(&[later]));
        assert_eq!(known.may_exist(&later), Some(true));
        known.followed(None, 5, None);
        assert!(
            !known.wanted(),
            "a read that could not tell, but the filter is ahead"
        );
        known.followed(Some(9), 12, Some(&[]));
        assert!(known.wanted(), "positions 5 to 9 were never seen");
        known.install(&ids, 12);
        let passed = (0..100_000)
            .filter(|_| known.may_exist(&KeyId::generate(&mut OsRng)) == Some(true))
            .count();
        assert!(passed < 1_000, "{passed} of 100,000 made-up ids passed");
        // Past its room, it steps aside rather than answer "may exist" ever more often.
        for _ in 0..2 * (HEADROOM + ids.len()) {
            known.add(&KeyId::generate(&mut OsRng));
        }
        assert_eq!(known.may_exist(&id), None);
        assert!(known.wanted());
    }
}
