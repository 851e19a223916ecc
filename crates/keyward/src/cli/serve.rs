//! `keyward serve`: the HTTP server, with a first-run setup link when nobody has set
//! the server up yet, `/metrics` on the API listener or one of its own, and usage
//! written every few seconds and once more at a clean stop.

use crate::config::Config;
use crate::output::{outln, Failure};
use clap::Args;
use keyward_app::Keyward;
use keyward_server::{AppState, MetricsAccess, ServerLimits};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (default 127.0.0.1:8080; also KEYWARD_LISTEN).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Worker threads serving requests (default: one per CPU core).
    #[arg(long, env = "KEYWARD_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Writes the usage counted so far and keeps the filter of known key ids built; a
/// failure is logged and retried next time (the usage not written is kept for it).
async fn housekeeping(app: &Keyward) {
    if let Err(e) = app.housekeeping().await {
        tracing::warn!(error = %e, "housekeeping failed (usage, known key ids); will retry");
    }
}

async fn bind(addr: SocketAddr, how: &str) -> Result<TcpListener, Failure> {
    TcpListener::bind(addr).await.map_err(|e| {
        Failure::usage(format!(
            "cannot listen on {addr}: {e}; choose another address with {how}"
        ))
    })
}

/// Resolves once `stop` says so (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

pub async fn run(app: &Keyward, config: &Config) -> Result<(), Failure> {
    let listener = bind(config.listen, "--listen or KEYWARD_LISTEN").await?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(bind(addr, "metrics_listen or KEYWARD_METRICS_LISTEN").await?),
        None => None,
    };
    let url = &config.public_url;
    // Printed, not logged: the setup link holds a one-time secret meant for the person
    // at this terminal, and logs are kept and shipped elsewhere.
    outln!("keyward is listening on {url}");
    outln!("  dashboard:  {url}/");
    outln!("  API docs:   {url}/docs/api");
    match config.metrics_listen {
        Some(addr) => outln!("  metrics:    http://{addr}/metrics"),
        None => outln!("  metrics:    {url}/metrics"),
    }
    if let Some(token) = app.begin_setup().await? {
        outln!("  first-run setup (works once): {url}/setup#token={token}");
    }
    let stranded = app.orgs_on_undefined_plans().await?;
    if !stranded.is_empty() {
        let names: Vec<String> = stranded
            .iter()
            .take(10)
            .map(|o| format!("{} ({})", o.name, o.plan))
            .collect();
        tracing::warn!(
            organizations = stranded.len(),
            "organizations on plans this config does not define have every check refused: define the plans or move them with `keyward orgs update ORG --plan P`: {}",
            names.join(", ")
        );
    }
    let limits = config.limits;
    tracing::info!(listen = %config.listen, ?limits, "serving");
    let most = ServerLimits::default_max_connections();
    if limits.max_connections > most {
        tracing::warn!(
            max_connections = limits.max_connections,
            "the open-file limit leaves room for about {most} connections: raise it (ulimit -n, systemd's LimitNOFILE) or lower max_connections"
        );
    }
    let state = AppState {
        metrics: Arc::new(MetricsAccess {
            on_api_listener: config.metrics_listen.is_none(),
            token: config.metrics_token.clone(),
        }),
        ..AppState::new(app.clone())
            .behind(config.trusted_proxies.clone())
            .forwarding(config.forward_auth.clone())
            .reached_at(&config.public_url)
    };
    // On PostgreSQL, changes made on other nodes are announced (LISTEN/NOTIFY) and
    // dropped from the cache at once; the cache is bypassed whenever that connection
    // is down. Nothing to follow on SQLite.
    let following = app.follow_changes();
    // Ctrl-C or SIGTERM stops the listeners and the housekeeping alike.
    let (stop, on_stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    // Usage is counted in memory by every check and written in batches; the filter of
    // known key ids is built at once and kept built. Stopping waits for a write under
    // way rather than cancel it, which could lose its batch.
    let housekeeper = tokio::spawn({
        let app = app.clone();
        let mut on_stop = on_stop.clone();
        async move {
            let mut every = tokio::time::interval(keyward_app::usage::FLUSH_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = on_stop.wait_for(|stop| *stop) => break,
                }
                housekeeping(&app).await;
            }
        }
    });
    let metrics_server = metrics_listener.map(|l| {
        tokio::spawn(keyward_server::launch_metrics(
            state.clone(),
            l,
            limits,
            stopped(on_stop.clone()),
        ))
    });
    keyward_server::launch(state, listener, limits, stopped(on_stop)).await;
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    let _ = housekeeper.await;
    drop(following);
    // Every connection is closed by now: write the usage noted since the last batch,
    // then fold the write-ahead log into the database file, so that the file alone is
    // a complete copy.
    if let Err(e) = app.flush_usage().await {
        tracing::warn!(error = %e, "could not write the usage counted since the last batch");
    }
    app.store()
        .close()
        .await
        .map_err(|e| Failure::usage(format!("cannot close the database cleanly: {e}")))
}
