//! Tests of `lifecycle.rs`, kept beside it so the module itself stays short.
use super::*;
use crate::ids::OrgId;
use crate::key::{GeneratedKey, Prefix};
use crate::level::Level;
use crate::testing::{self, grant, now, peppers};
use proptest::prelude::*;
use rand_core::OsRng;

fn fresh() -> ApiKey {
    let org = OrgId::generate(&mut OsRng);
    testing::key(
        &org,
        Kind::Live,
        vec![grant(None, None, Level::Read)],
        OrgAccess::NONE,
    )
    .0
}

fn new_material() -> (KeyId, KeyHash) {
    let g = GeneratedKey::generate(&Prefix::default(), Kind::Live, &mut OsRng);
    (g.id, peppers().hash(&g.secret))
}

#[test]
fn expiry_must_be_in_the_future_and_within_the_policy() {
    let p = Policy::default();
    assert!(check_expiry(None, &p, now()).is_ok());
    assert!(matches!(
        check_expiry(Some(now()), &p, now()),
        Err(LifecycleError::ExpiryNotInFuture { .. })
    ));
    assert!(check_expiry(Some(now() + Duration::days(730)), &p, now()).is_ok());
    let err = check_expiry(Some(now() + Duration::days(731)), &p, now()).unwrap_err();
    assert!(err.to_string().contains("730d"), "{err}");
}

#[test]
fn grace_periods_run_from_zero_to_seven_days() {
    assert_eq!(grace_period(None), Ok(Duration::hours(24)));
    assert_eq!(grace_period(Some("0")), Ok(Duration::ZERO));
    assert_eq!(grace_period(Some("7d")), Ok(Duration::days(7)));
    assert!(matches!(
        grace_period(Some("7d1s")),
        Err(LifecycleError::GraceTooLong(_))
    ));
    assert!(matches!(
        grace_period(Some("soon")),
        Err(LifecycleError::GraceSyntax(_))
    ));
}

#[test]
fn rotation_links_both_keys_and_ends_the_old_one_after_the_grace_period() {
    let old = fresh();
    let (id, hash) = new_material();
    let r = rotate(&old, id, hash, Duration::hours(24), Actor::System, now()).unwrap();
    assert_eq!(r.old.rotated_to.as_ref(), Some(&id));
    assert_eq!(r.new.rotated_from.as_ref(), Some(&old.id));
    assert_eq!(r.old.expires_at, Some(now() + Duration::hours(24)));
    assert_eq!(
        (r.new.name.clone(), r.new.grants.clone()),
        (old.name.clone(), old.grants.clone())
    );
    assert!(!r.old.is_expired(now() + Duration::hours(23)));
    assert!(r.old.is_expired(now() + Duration::hours(24)));
    // A zero grace stops the old key at once.
    let (id, hash) = new_material();
    let r0 = rotate(&old, id, hash, Duration::ZERO, Actor::System, now()).unwrap();
    assert!(r0.old.is_expired(now()));
    // The old key cannot be rotated a second time.
    let (id, hash) = new_material();
    assert!(matches!(
        rotate(&r.old, id, hash, Duration::ZERO, Actor::System, now()),
        Err(LifecycleError::AlreadyRotated { .. })
    ));
}

#[test]
fn rotation_never_extends_an_earlier_expiry() {
    let mut old = fresh();
    old.expires_at = Some(now() + Duration::hours(1));
    let (id, hash) = new_material();
    let r = rotate(&old, id, hash, Duration::days(7), Actor::System, now()).unwrap();
    assert_eq!(r.old.expires_at, Some(now() + Duration::hours(1)));
    assert_eq!(r.new.expires_at, old.expires_at);
}

#[test]
fn the_rotated_key_cannot_have_its_expiry_moved() {
    let old = fresh();
    let (id, hash) = new_material();
    let r = rotate(&old, id, hash, Duration::hours(1), Actor::System, now()).unwrap();
    let patch = KeyPatch {
        expires_at: Some(None),
        ..KeyPatch::default()
    };
    assert!(matches!(
        update(&r.old, patch, &Policy::default(), now()),
        Err(LifecycleError::RotatedExpiry { .. })
    ));
}

#[test]
fn updates_record_before_and_after_of_changed_fields_only() {
    let key = fresh();
    let patch = KeyPatch {
        name: Some(KeyName::parse("renamed").unwrap()),
        org_access: Some(key.org_access),
        ..KeyPatch::default()
    };
    let t = update(&key, patch, &Policy::default(), now()).unwrap();
    assert_eq!(t.details["before"], json!({ "name": "test key" }));
    assert_eq!(t.details["after"], json!({ "name": "renamed" }));
    assert_eq!(t.key.revision, key.revision + 1);
    let emptied = KeyPatch {
        grants: Some(vec![]),
        ..KeyPatch::default()
    };
    assert_eq!(
        update(&key, emptied, &Policy::default(), now()),
        Err(LifecycleError::NoAccess)
    );
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Revoke,
    Reactivate,
    Delete,
    Rotate,
    Rename,
}

proptest! {
    /// Whatever sequence of operations is tried, a deleted key stays deleted and
    /// unchanged, every accepted change bumps the revision, only revoked keys can be
    /// reactivated, and what `Offered` offers is exactly what the transition accepts.
    #[test]
    fn lifecycle_sequences_respect_the_state_machine(ops in prop::collection::vec(
        prop::sample::select(vec![Op::Revoke, Op::Reactivate, Op::Delete, Op::Rotate, Op::Rename]), 1..12)
    ) {
        let mut key = fresh();
        for op in ops {
            let before = key.clone();
            let offered = Offered::of(&key, now());
            let result = match op {
                Op::Revoke => revoke(&key, now()).map(|t| t.key),
                Op::Reactivate => reactivate(&key, now()).map(|t| t.key),
                Op::Delete => delete(&key, now()).map(|t| t.key),
                Op::Rotate => {
                    let (id, hash) = new_material();
                    rotate(&key, id, hash, Duration::hours(1), Actor::System, now()).map(|r| r.new)
                }
                Op::Rename => update(&key, KeyPatch { name: Some(KeyName::parse("x").unwrap()), ..KeyPatch::default() }, &Policy::default(), now()).map(|t| t.key),
            };
            let offered_op = match op {
                Op::Revoke => Some(offered.revoke),
                Op::Reactivate => Some(offered.reactivate),
                Op::Delete => Some(offered.delete),
                Op::Rotate => Some(offered.rotate),
                Op::Rename => None,
            };
            if let Some(offered_op) = offered_op {
                prop_assert_eq!(offered_op, result.is_ok(), "{:?} offered {} on {:?}", op, offered_op, before.status);
            }
            if before.status == KeyStatus::Deleted {
                prop_assert!(result.is_err(), "{op:?} changed a deleted key");
                continue;
            }
            if matches!(op, Op::Reactivate) {
                prop_assert_eq!(result.is_ok(), before.status == KeyStatus::Revoked);
            }
            if let Ok(next) = result {
                if !matches!(op, Op::Rotate) {
                    prop_assert_eq!(next.revision, before.revision + 1);
                }
                key = next;
            }
        }
    }
}
