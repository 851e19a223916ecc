//! The change feed on PostgreSQL: a connection of its own that LISTENs on
//! `keyward_changes`, which every change-log row NOTIFYs with its position, at commit
//! (see the migration's `keyward_log_change`).
//!
//! The connection is a pool of one, outside the store's pool, so that it never waits
//! behind requests and never holds one of their connections; it carries the
//! application name `keyward-listener`, so that operators can find it in
//! `pg_stat_activity`. When it is lost (PostgreSQL restarted, the backend terminated,
//! the network cut) the feed says so at once and reconnects with backoff; sqlx's own
//! transparent reconnection is turned off, since a reader must know of the gap.
//! The application name also holds the process id (`keyward-listener pid=4242`), so
//! that one node's listener can be told from another's.

use crate::feed::{ChangeFeed, FeedState};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::time::Duration;
use tokio::sync::watch;

/// The channel the migration's `keyward_log_change` notifies.
pub const CHANNEL: &str = "keyward_changes";

/// The start of the listening connection's application name, as `pg_stat_activity`
/// shows it; the process id follows.
pub const APPLICATION_NAME: &str = "keyward-listener";

/// The first wait before reconnecting, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MOST_BACKOFF: Duration = Duration::from_secs(5);

/// How long connecting (and LISTEN) may take before it counts as failed.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// Starts listening with `options` until the feed is dropped or `closed` says so.
pub(super) fn spawn(options: &PgConnectOptions, closed: watch::Receiver<bool>) -> ChangeFeed {
    let (tx, feed) = ChangeFeed::channel();
    let name = format!("{APPLICATION_NAME} pid={}", std::process::id());
    let options = options.clone().application_name(&name);
    tokio::spawn(run(options, tx, closed));
    feed
}

async fn connect(options: &PgConnectOptions) -> Result<(sqlx::PgPool, PgListener), sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(CONNECT_LIMIT)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options.clone());
    let listening = async {
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.eager_reconnect(false);
        listener.ignore_pool_close_event(true);
        listener.listen(CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match tokio::time::timeout(CONNECT_LIMIT, listening).await {
        Ok(Ok(listener)) => Ok((pool, listener)),
        Ok(Err(e)) => {
            pool.close().await;
            Err(e)
        }
        Err(_) => {
            pool.close().await;
            Err(sqlx::Error::PoolTimedOut)
        }
    }
}

/// Resolves once the store is closed or the feed dropped.
async fn ended(tx: &watch::Sender<FeedState>, closed: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tx.closed() => {}
        _ = closed.wait_for(|c| *c) => {}
    }
}

async fn run(
    options: PgConnectOptions,
    tx: watch::Sender<FeedState>,
    mut closed: watch::Receiver<bool>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut epoch = 0u64;
    loop {
        let attempt = tokio::select! {
            () = ended(&tx, &mut closed) => return,
            attempt = connect(&options) => attempt,
        };
        let (pool, mut listener) = match attempt {
            Ok(connected) => connected,
            Err(e) => {
                let error = format!("cannot listen for changes: {e}");
                // Logged once per outage, not at every retry.
                if tx.borrow().error.as_deref() != Some(error.as_str()) {
                    tracing::warn!(error = %error, "change feed: retrying with backoff");
                }
                tx.send_modify(|s| {
                    s.connected = false;
                    s.error = Some(error);
                });
                tokio::select! {
                    () = ended(&tx, &mut closed) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MOST_BACKOFF);
                continue;
            }
        };
        epoch += 1;
        backoff = FIRST_BACKOFF;
        if epoch > 1 {
            tracing::info!(epoch, "change feed: listening again");
        }
        tx.send_modify(|s| {
            s.connected = true;
            s.epoch = epoch;
            s.error = None;
        });
        let lost = loop {
            let received = tokio::select! {
                () = ended(&tx, &mut closed) => {
                    drop(listener);
                    pool.close().await;
                    return;
                }
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(n)) => {
                    let seq = n.payload().parse::<i64>().ok();
                    tx.send_modify(|s| s.seq = s.seq.max(seq));
                }
                Ok(None) => break "the connection was closed".to_owned(),
                Err(e) => break e.to_string(),
            }
        };
        tracing::warn!(error = %lost, "change feed: lost the listening connection; the cache reads the database until it has listened again and caught up");
        tx.send_modify(|s| {
            s.connected = false;
            s.error = Some(format!("lost the listening connection: {lost}"));
        });
        // Closing waits for the old connection's UNLISTEN, which a cut network can
        // hold up: never in the way of reconnecting.
        drop(listener);
        tokio::spawn(async move { pool.close().await });
    }
}
