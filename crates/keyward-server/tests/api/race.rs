//! A change is in force from the moment it is acknowledged. Checks race the change here:
//! many clients verify a key while it is revoked, deleted or has its grant lowered, and
//! the store's key reads are slowed by a random delay so that checks which read the key
//! before the change commit finish after it. No check that starts after the change's
//! 200 may answer from the state before it.

use crate::helpers::{grant, TestApp};
use keyward_store::faults::Faults;
use reqwest::Method;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Change {
    Revoke,
    Delete,
    LowerGrant,
}

/// Counts, per round, the checks that started after the acknowledgement and still
/// answered `valid`.
async fn race(change: Change) -> usize {
    let faults = Faults::new();
    let t = Arc::new(TestApp::spawn_with_faults(faults.clone()).await);
    let org = t.org("Acme").await;
    let violations = Arc::new(AtomicUsize::new(0));
    let answered_after = Arc::new(AtomicUsize::new(0));
    faults.delay_key_reads(Duration::from_millis(20));
    for _round in 0..6 {
        let (id, key) = t
            .key(
                &org,
                json!({ "grants": [grant("Website", "production", "write")] }),
            )
            .await;
        let acked = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut checkers = Vec::new();
        for _ in 0..12 {
            let (t, key, acked, stop, violations, answered_after) = (
                t.clone(),
                key.clone(),
                acked.clone(),
                stop.clone(),
                violations.clone(),
                answered_after.clone(),
            );
            checkers.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let started_after = acked.load(Ordering::SeqCst);
                    let v = t
                        .admin(
                            Method::POST,
                            "/v1/keys/verify",
                            Some(json!({ "key": key, "project": "Website",
                                         "environment": "production", "method": "POST" })),
                        )
                        .await
                        .expect(200);
                    if started_after {
                        answered_after.fetch_add(1, Ordering::SeqCst);
                        if v.body["outcome"] == "valid" {
                            violations.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }));
        }
        // Checks answer from the cache now; a harmless change sends them back to the
        // store, where their reads are slow and straddle the change below.
        tokio::time::sleep(Duration::from_millis(30)).await;
        t.admin(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            Some(json!({ "description": "about to change" })),
        )
        .await
        .expect(200);
        match change {
            Change::Revoke => t
                .admin(Method::POST, &format!("/v1/keys/{id}/revoke"), None)
                .await
                .expect(200),
            Change::Delete => t
                .admin(Method::DELETE, &format!("/v1/keys/{id}"), None)
                .await
                .expect(200),
            Change::LowerGrant => t
                .admin(
                    Method::PATCH,
                    &format!("/v1/keys/{id}"),
                    Some(json!({ "grants": [grant("Website", "production", "read")] })),
                )
                .await
                .expect(200),
        };
        acked.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        stop.store(true, Ordering::SeqCst);
        for c in checkers {
            c.await.unwrap();
        }
    }
    assert!(
        answered_after.load(Ordering::SeqCst) > 0,
        "no check ran after the change: the race tested nothing"
    );
    violations.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_check_after_a_revoke_is_acknowledged_finds_the_key_valid() {
    assert_eq!(
        race(Change::Revoke).await,
        0,
        "valid answers after the revoke's 200"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_check_after_a_delete_is_acknowledged_finds_the_key_valid() {
    assert_eq!(
        race(Change::Delete).await,
        0,
        "valid answers after the delete's 200"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_check_after_a_grant_is_lowered_finds_the_old_level() {
    assert_eq!(
        race(Change::LowerGrant).await,
        0,
        "writes allowed after the grant was lowered to read"
    );
}
