//! Counting in memory, on the check's path: per key and UTC day, how many checks ended
//! in each outcome, and the latest valid use with its address. Sharded maps keyed by
//! key and day, so that workers rarely meet on a lock and a key already seen today
//! costs no allocation: one hash, one uncontended lock, one array increment. What was
//! noted is taken as a whole by a flush, and put back if the flush could not write it.

use keyward_core::{KeyId, Outcome, Timestamp};
use keyward_store::{KeyUse, UsageBatch, UsageCount};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use time::Date;

/// How many outcomes a check can end in: one counter each.
pub(crate) const OUTCOMES: usize = Outcome::ALL.len();

const SHARDS: usize = 16;

/// What checks noted about one key on one UTC day.
#[derive(Debug, Clone, Copy)]
struct Noted {
    /// Checks by outcome, in the order of [`Outcome::ALL`].
    counts: [u64; OUTCOMES],
    /// The latest valid use: when, and from where if known.
    last: Option<(Timestamp, Option<IpAddr>)>,
}

impl Noted {
    const NONE: Noted = Noted {
        counts: [0; OUTCOMES],
        last: None,
    };

    /// A valid use at `at`, in whatever order uses arrive: the latest one wins, with its
    /// address, or else the latest address known (a use from the command line has
    /// none), as the store keeps the address it has when a use comes with none.
    fn used(&mut self, at: Timestamp, from: Option<IpAddr>) {
        match &mut self.last {
            Some(seen) if at < seen.0 => seen.1 = seen.1.or(from),
            Some(seen) => *seen = (at, from.or(seen.1)),
            None => self.last = Some((at, from)),
        }
    }
}

/// Every key is in one shard, whatever the day, so that a flush finds all of a key's
/// days together. Hashed with aHash (keyed per process, as quick_cache's maps are),
/// which costs a fraction of std's SipHash on every check.
type Shard = HashMap<(KeyId, Date), Noted, ahash::RandomState>;

pub(crate) struct UsageNotes {
    shards: Vec<Mutex<Shard>>,
}

impl Default for UsageNotes {
    fn default() -> Self {
        UsageNotes {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Shard::with_hasher(ahash::RandomState::new())))
                .collect(),
        }
    }
}

/// The index of `outcome` in [`Outcome::ALL`] (a test holds the two in step).
pub(crate) fn index(outcome: Outcome) -> usize {
    outcome as usize
}

impl UsageNotes {
    fn shard(&self, key: &KeyId) -> MutexGuard<'_, Shard> {
        // Key ids are random, made by the server from the system's CSPRNG, and only keys
        // whose secret matched are noted: the last character spreads them over the
        // shards well enough, with no hash to compute.
        let last = key.as_str().as_bytes().last().copied().unwrap_or_default();
        let shard = &self.shards[usize::from(last) % SHARDS];
        // A panic elsewhere while holding it left counts, not a broken invariant.
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One check of `key` at `at` that ended in `outcome`, from `from` if known; a
    /// valid one is also the key's latest use.
    pub(crate) fn note(&self, key: KeyId, outcome: Outcome, at: Timestamp, from: Option<IpAddr>) {
        let mut shard = self.shard(&key);
        let noted = shard.entry((key, at.date())).or_insert(Noted::NONE);
        noted.counts[index(outcome)] += 1;
        if outcome.is_valid() {
            noted.used(at, from);
        }
    }

    /// Everything noted so far, leaving nothing behind, and how many keys it is about.
    pub(crate) fn take(&self) -> (UsageBatch, usize) {
        let mut batch = UsageBatch::default();
        let mut keys = HashSet::new();
        for shard in &self.shards {
            let taken = std::mem::replace(
                &mut *shard.lock().unwrap_or_else(|p| p.into_inner()),
                Shard::with_hasher(ahash::RandomState::new()),
            );
            // A key's latest use over the days it was noted on.
            let mut latest: HashMap<KeyId, Noted> = HashMap::new();
            for ((key, day), noted) in taken {
                keys.insert(key);
                for (outcome, &count) in Outcome::ALL.iter().zip(&noted.counts) {
                    if count > 0 {
                        batch.counts.push(UsageCount {
                            key,
                            day,
                            outcome: *outcome,
                            count,
                        });
                    }
                }
                if let Some((at, from)) = noted.last {
                    latest.entry(key).or_insert(Noted::NONE).used(at, from);
                }
            }
            batch
                .uses
                .extend(latest.into_iter().filter_map(|(key, noted)| {
                    let (at, from) = noted.last?;
                    Some(KeyUse {
                        key,
                        at,
                        from: from.map(|ip| ip.to_string()),
                    })
                }));
        }
        (batch, keys.len())
    }

    /// Puts back a batch that could not be written, adding it to what was noted since:
    /// nothing is lost, and nothing counted twice.
    pub(crate) fn restore(&self, batch: &UsageBatch) {
        for c in &batch.counts {
            let mut shard = self.shard(&c.key);
            let noted = shard.entry((c.key, c.day)).or_insert(Noted::NONE);
            noted.counts[index(c.outcome)] += c.count;
        }
        for u in &batch.uses {
            let from = u.from.as_deref().and_then(|ip| ip.parse().ok());
            let mut shard = self.shard(&u.key);
            let noted = shard.entry((u.key, u.at.date())).or_insert(Noted::NONE);
            noted.used(u.at, from);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand_core::OsRng;

    /// Counts are kept by position: the position of each outcome must be where
    /// `Outcome::ALL` lists it.
    #[test]
    fn outcomes_are_counted_in_the_order_of_the_list_of_all() {
        for (i, outcome) in Outcome::ALL.iter().enumerate() {
            assert_eq!(index(*outcome), i, "{outcome}");
        }
    }

    fn sorted(mut batch: UsageBatch) -> UsageBatch {
        batch
            .counts
            .sort_by_key(|c| (c.key, c.day, index(c.outcome)));
        batch.uses.sort_by_key(|u| u.key);
        batch
    }

    /// Checks add up per key, day and outcome; only valid ones are uses; a batch put
    /// back is added to what was noted meanwhile.
    #[test]
    fn counts_add_up_per_key_day_and_outcome_and_survive_being_put_back() {
        let notes = UsageNotes::default();
        let (a, b) = (KeyId::generate(&mut OsRng), KeyId::generate(&mut OsRng));
        let midnight = time::macros::datetime!(2027-01-16 00:00 UTC);
        let late = midnight - time::Duration::SECOND;
        let day1 = late.date();
        let noon = midnight + time::Duration::hours(12);
        let day2 = noon.date();
        assert_ne!(day1, day2);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        notes.note(a, Outcome::Valid, late, Some(ip));
        notes.note(a, Outcome::Valid, noon, None);
        notes.note(
            a,
            Outcome::Revoked,
            noon,
            Some("198.51.100.1".parse().unwrap()),
        );
        notes.note(b, Outcome::InsufficientPermission, noon, Some(ip));
        let (batch, keys) = notes.take();
        assert_eq!(keys, 2);
        let batch = sorted(batch);
        let count = |key, day, outcome, count| UsageCount {
            key,
            day,
            outcome,
            count,
        };
        let mut expected = vec![
            count(a, day1, Outcome::Valid, 1),
            count(a, day2, Outcome::Valid, 1),
            count(a, day2, Outcome::Revoked, 1),
            count(b, day2, Outcome::InsufficientPermission, 1),
        ];
        expected.sort_by_key(|c| (c.key, c.day, index(c.outcome)));
        assert_eq!(batch.counts, expected);
        assert_eq!(
            batch.uses,
            vec![KeyUse {
                key: a,
                at: noon,
                from: Some(ip.to_string()),
            }],
            "the latest valid use, with the last address known; refused checks are no use"
        );
        assert_eq!(notes.take().1, 0, "taking leaves nothing behind");

        notes.note(a, Outcome::Valid, noon, None);
        notes.restore(&batch);
        let again = sorted(notes.take().0);
        let valid_day2 = again
            .counts
            .iter()
            .find(|c| c.key == a && c.day == day2 && c.outcome == Outcome::Valid)
            .unwrap();
        assert_eq!(valid_day2.count, 2, "put back and noted since, added up");
        assert_eq!(again.counts.len(), batch.counts.len());
        assert_eq!(again.uses, batch.uses);
    }
}
