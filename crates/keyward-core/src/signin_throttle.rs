//! Sign-in throttling: how many wrong passwords an account, and a client address, may
//! send before further attempts are refused for a while. Counted per normalised e-mail
//! address whether or not an account has it, so that being throttled says nothing
//! about which accounts exist; and per client address, so that one client cannot try
//! one password against many accounts.
//!
//! * [`ACCOUNT_FAILURES`] (5) failures for one e-mail address within [`WINDOW`] (15
//!   minutes), or [`ADDRESS_FAILURES`] (20) from one client address, refuse further
//!   attempts (the right password too) until the oldest of them is [`WINDOW`] old;
//! * an attempt counts as a failure from the moment it begins, so that attempts sent
//!   at once cannot all pass before any is counted; a success takes its own count back
//!   and clears the account's.
//!
//! In memory, per process: a restart forgets the counts.

use crate::timestamp::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use time::Duration;

/// Failures for one e-mail address within [`WINDOW`] before attempts are refused.
pub const ACCOUNT_FAILURES: usize = 5;
/// Failures from one client address within [`WINDOW`] before attempts are refused.
pub const ADDRESS_FAILURES: usize = 20;
/// How long a failure counts.
pub const WINDOW: Duration = Duration::minutes(15);
/// Accounts (and addresses) tracked at once: past this, the counts that have run out
/// are dropped, and if that is not enough, every count of that kind is.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Default)]
pub struct Throttle {
    accounts: HashMap<String, VecDeque<Timestamp>>,
    addresses: HashMap<IpAddr, VecDeque<Timestamp>>,
}

/// Refused: come back at this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub until: Timestamp,
}

fn prune(times: &mut VecDeque<Timestamp>, now: Timestamp) {
    while times.front().is_some_and(|t| *t + WINDOW <= now) {
        times.pop_front();
    }
}

/// When `times` (pruned) allows another attempt under `max`; otherwise when it will.
fn refused(times: Option<&VecDeque<Timestamp>>, max: usize) -> Option<Timestamp> {
    let times = times?;
    (times.len() >= max).then(|| times[times.len() - max] + WINDOW)
}

fn bound<K: std::hash::Hash + Eq>(map: &mut HashMap<K, VecDeque<Timestamp>>, now: Timestamp) {
    if map.len() < MAX_TRACKED {
        return;
    }
    map.retain(|_, times| {
        prune(times, now);
        !times.is_empty()
    });
    if map.len() >= MAX_TRACKED {
        map.clear();
    }
}

impl Throttle {
    /// Begins an attempt for `account` (a normalised e-mail address) from `from`:
    /// refused while either has too many recent failures; otherwise counted as a
    /// failure until [`succeeded`](Self::succeeded) says otherwise.
    pub fn attempt(
        &mut self,
        account: &str,
        from: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(), Throttled> {
        if let Some(times) = self.accounts.get_mut(account) {
            prune(times, now);
        }
        if let Some(times) = from.and_then(|ip| self.addresses.get_mut(&ip)) {
            prune(times, now);
        }
        let until = [
            refused(self.accounts.get(account), ACCOUNT_FAILURES),
            refused(
                from.and_then(|ip| self.addresses.get(&ip)),
                ADDRESS_FAILURES,
            ),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(until) = until {
            return Err(Throttled { until });
        }
        bound(&mut self.accounts, now);
        self.accounts
            .entry(account.to_owned())
            .or_default()
            .push_back(now);
        if let Some(ip) = from {
            bound(&mut self.addresses, now);
            self.addresses.entry(ip).or_default().push_back(now);
        }
        Ok(())
    }

    /// The attempt begun for `account` from `from` was right: the account starts
    /// afresh, and the address's count drops the attempt.
    pub fn succeeded(&mut self, account: &str, from: Option<IpAddr>) {
        self.accounts.remove(account);
        if let Some(times) = from.and_then(|ip| self.addresses.get_mut(&ip)) {
            times.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::from_millis;

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([203, 0, 113, n]))
    }

    #[test]
    fn five_failures_refuse_the_account_for_fifteen_minutes_from_the_oldest() {
        let mut t = Throttle::default();
        let start = from_millis(1_800_000_000_000);
        for i in 0..5 {
            let at = start + Duration::minutes(i);
            t.attempt("ada@acme.test", ip(1), at).unwrap();
        }
        let later = start + Duration::minutes(10);
        assert_eq!(
            t.attempt("ada@acme.test", ip(2), later),
            Err(Throttled {
                until: start + WINDOW
            })
        );
        // Another account from the same address is not refused.
        t.attempt("bea@acme.test", ip(1), later).unwrap();
        // The oldest failure running out lets one more attempt through.
        t.attempt("ada@acme.test", ip(2), start + WINDOW).unwrap();
        assert!(t
            .attempt("ada@acme.test", ip(2), start + WINDOW + Duration::SECOND)
            .is_err());
    }

    #[test]
    fn twenty_failures_from_one_address_refuse_it_whatever_the_account() {
        let mut t = Throttle::default();
        let now = from_millis(1_800_000_000_000);
        for i in 0..20 {
            t.attempt(&format!("u{i}@acme.test"), ip(1), now).unwrap();
        }
        assert!(t.attempt("new@acme.test", ip(1), now).is_err());
        t.attempt("new@acme.test", ip(2), now).unwrap();
    }

    #[test]
    fn a_success_clears_the_account_and_takes_back_its_attempt() {
        let mut t = Throttle::default();
        let now = from_millis(1_800_000_000_000);
        for _ in 0..4 {
            t.attempt("ada@acme.test", ip(1), now).unwrap();
        }
        t.attempt("ada@acme.test", ip(1), now).unwrap();
        t.succeeded("ada@acme.test", ip(1));
        for _ in 0..4 {
            t.attempt("ada@acme.test", ip(1), now).unwrap();
        }
        // 4 + 4 failures from the address, the success not counted.
        assert_eq!(t.addresses[&ip(1).unwrap()].len(), 8);
    }
}
