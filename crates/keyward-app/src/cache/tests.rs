//! Tests of the check cache's bounds and freshness. The race between checks and
//! changes is tested end to end, over HTTP, in keyward-server's `race` tests.

use super::*;
use keyward_core::lifecycle::{self, NewKey, Policy};
use keyward_core::{
    Actor, EnvScope, GeneratedKey, Grant, KeyName, Kind, Level, OrgAccess, PepperSet, Prefix,
    ProjectScope, Role,
};
use rand_core::OsRng;
use std::collections::BTreeMap;
use time::Duration;

fn key(org: &OrgId, name_len: usize, grants: usize) -> Arc<ApiKey> {
    let generated = GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut OsRng);
    let peppers = PepperSet::parse("cache-test-pepper-0123456789abcdefghijkl").unwrap();
    let spec = NewKey {
        name: KeyName::parse(&"n".repeat(name_len)).unwrap(),
        description: None,
        kind: Kind::Live,
        grants: (0..grants)
            .map(|i| Grant {
                project: ProjectScope::All,
                environment: EnvScope::Named(
                    keyward_core::EnvName::parse(&format!("e{i}")).unwrap(),
                ),
                level: Level::Read,
                resources: None,
            })
            .collect(),
        scopes: vec![],
        org_access: OrgAccess::NONE,
        owner: None,
        expires_at: None,
        ip_allowlist: Default::default(),
        metadata: None,
        rate_limits: None,
    };
    let t = lifecycle::create(
        spec,
        org.clone(),
        generated.id,
        peppers.hash(&generated.secret),
        Actor::System,
        &Policy::default(),
        Timestamp::now_utc(),
    )
    .unwrap();
    Arc::new(t.key)
}

fn cached(cache: &CheckCache, k: &Arc<ApiKey>) {
    cache.put_key(cache.begin(), k.id, &Some(k.clone()));
}

#[test]
fn memory_stays_within_the_byte_budget_whatever_the_keys_hold() {
    let budget = 2 * 1024 * 1024;
    let cache = CheckCache::new(1_000_000, budget, Duration::SECOND);
    let org = OrgId::generate(&mut OsRng);
    for _ in 0..3_000 {
        cached(&cache, &key(&org, 100, 100));
    }
    let (held, capacity) = cache.bytes();
    assert!(capacity <= budget, "{capacity}");
    assert!(held <= capacity, "{held} > {capacity}");
    assert!(
        cache.keys.len() < 3_000,
        "big keys were evicted: {}",
        cache.keys.len()
    );
}

#[test]
fn unknown_ids_cannot_push_known_keys_out() {
    let cache = CheckCache::new(1_000, 64 * 1024 * 1024, Duration::SECOND);
    let org = OrgId::generate(&mut OsRng);
    let known: Vec<_> = (0..500).map(|_| key(&org, 10, 1)).collect();
    for k in &known {
        cached(&cache, k);
    }
    for _ in 0..100_000 {
        cache.put_key(cache.begin(), KeyId::generate(&mut OsRng), &None);
    }
    let kept = known
        .iter()
        .filter(|k| matches!(cache.key(&k.id), Some(Some(_))))
        .count();
    assert_eq!(kept, known.len());
    assert!(
        cache.unknown_keys.len() <= 1_000 / 8 + 16,
        "{}",
        cache.unknown_keys.len()
    );
}

#[test]
fn a_change_drops_what_it_touched_and_nothing_else() {
    let cache = CheckCache::new(1_000, 64 * 1024 * 1024, Duration::SECOND);
    let org = OrgId::generate(&mut OsRng);
    let (a, b) = (key(&org, 5, 1), key(&org, 5, 1));
    cached(&cache, &a);
    cached(&cache, &b);
    let unknown = KeyId::generate(&mut OsRng);
    cache.put_key(cache.begin(), unknown, &None);
    let (ada, bob) = (UserId::generate(&mut OsRng), UserId::generate(&mut OsRng));
    let other_org = OrgId::generate(&mut OsRng);
    let member = Some(Arc::new(MemberAccess {
        role: Role::Member,
        projects: BTreeMap::new(),
    }));
    for (o, u) in [(&org, &ada), (&other_org, &ada), (&org, &bob)] {
        cache.put_member(cache.begin(), o, u, &member);
    }
    cache.put_org(cache.begin(), &org, &Arc::new(OrgTargets::default()));
    cache.put_org(cache.begin(), &other_org, &Arc::new(OrgTargets::default()));

    cache.invalidate(Touched::Key(a.id));
    assert!(cache.key(&a.id).is_none());
    assert!(cache.key(&b.id).is_some());
    cache.invalidate(Touched::Key(unknown));
    assert!(
        cache.key(&unknown).is_none(),
        "a key created under a once-unknown id"
    );

    cache.invalidate(Touched::Member(Some(org.clone()), ada.clone()));
    assert!(cache.member(&org, &ada).is_none());
    assert!(cache.member(&other_org, &ada).is_some());
    assert!(cache.member(&org, &bob).is_some());
    cache.invalidate(Touched::Member(None, ada.clone()));
    assert!(cache.member(&other_org, &ada).is_none());
    assert!(cache.member(&org, &bob).is_some());

    cache.invalidate(Touched::Org(org.clone()));
    assert!(cache.org(&org).is_none());
    assert!(cache.org(&other_org).is_some());
    assert!(cache.key(&b.id).is_some(), "projects do not touch keys");

    cache.invalidate(Touched::Everything);
    assert!(cache.is_empty());
}

#[test]
fn trust_lasts_ttl_from_the_start_of_a_read_of_the_change_log() {
    let cache = CheckCache::new(1_000, 64 * 1024 * 1024, Duration::SECOND);
    let t0 = Timestamp::now_utc();
    let Freshness::Due(first) = cache.freshness(t0) else {
        panic!("never read: due");
    };
    assert_eq!(first.cursor(), None);
    assert!(
        matches!(cache.freshness(t0), Freshness::Untrusted),
        "one reader at a time"
    );
    // The reader is cancelled: the next caller reads instead.
    drop(first);
    let Freshness::Due(refresh) = cache.freshness(t0) else {
        panic!("a dropped read must not leave the cache waiting forever");
    };
    let org = OrgId::generate(&mut OsRng);
    let k = key(&org, 5, 1);
    cached(&cache, &k);
    cache.refreshed(
        refresh,
        Changes {
            cursor: 7,
            changes: None,
        },
    );
    assert!(cache.key(&k.id).is_none(), "a first read starts over");
    cached(&cache, &k);
    assert!(matches!(
        cache.freshness(t0 + Duration::milliseconds(999)),
        Freshness::Trusted
    ));
    let Freshness::Due(refresh) = cache.freshness(t0 + Duration::SECOND) else {
        panic!("trust ends ttl after the read began");
    };
    assert_eq!(refresh.cursor(), Some(7));
    cache.refreshed(
        refresh,
        Changes {
            cursor: 9,
            changes: Some(vec![Change::Key(k.id)]),
        },
    );
    assert!(
        cache.key(&k.id).is_none(),
        "what changed elsewhere is dropped"
    );
    let off = CheckCache::new(0, 64 * 1024 * 1024, Duration::SECOND);
    assert!(matches!(off.freshness(t0), Freshness::Untrusted));
    cached(&off, &k);
    assert!(off.key(&k.id).is_none(), "capacity 0 turns caching off");
}

#[test]
fn a_followed_feed_that_is_down_or_catching_up_is_never_trusted() {
    let cache = CheckCache::new(1_000, 64 * 1024 * 1024, Duration::SECOND);
    let t0 = Timestamp::now_utc();
    let Freshness::Due(refresh) = cache.freshness(t0) else {
        panic!("never read: due");
    };
    cache.refreshed(
        refresh,
        Changes {
            cursor: 1,
            changes: None,
        },
    );
    assert!(matches!(cache.freshness(t0), Freshness::Trusted));
    assert_eq!(cache.feed_health(), FeedHealth::NotFollowed);

    cache.feed_down();
    assert!(matches!(cache.freshness(t0), Freshness::Untrusted), "down");
    cache.feed_listening(1);
    assert!(
        matches!(cache.freshness(t0), Freshness::Untrusted),
        "not caught up"
    );
    assert_eq!(cache.feed_health(), FeedHealth::CatchingUp);
    // The feed went down again while a catch-up read was under way: that read
    // proves nothing about what was announced since.
    cache.feed_down();
    assert!(!cache.feed_caught_up(1));
    assert_eq!(cache.feed_health(), FeedHealth::Down);
    cache.feed_listening(2);
    assert!(!cache.feed_caught_up(1), "a read for an earlier connection");
    assert!(cache.feed_caught_up(2));
    assert_eq!(cache.feed_health(), FeedHealth::Up);
    assert!(matches!(cache.freshness(t0), Freshness::Trusted));
    cache.feed_unfollowed();
    assert_eq!(cache.feed_health(), FeedHealth::NotFollowed);
}
