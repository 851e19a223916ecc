//! The keyward binary: parses the command line, loads configuration, opens the store
//! and hands over to the library. Nothing is decided here.
#![forbid(unsafe_code)]

mod cli;
mod config;
mod log_filter;
mod output;
mod pepper;

use keyward_app::{Keyward, Settings, SystemClock};
use output::Failure;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let args = cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let cli::Command::Serve(cli::serve::ServeArgs {
        workers: Some(n), ..
    }) = &args.command
    {
        builder.worker_threads(usize::from(*n));
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Failure::usage(format!("cannot start the async runtime: {e}")).exit(),
    };
    output::finish(runtime.block_on(run(args)))
}

/// Structured logs on stderr, for the server: `KEYWARD_LOG` (or `RUST_LOG`) sets the
/// filter and `KEYWARD_LOG_FORMAT` is `text` (the default) or `json`. A bad value is an
/// error at start, not a silent fallback.
fn init_logging() -> Result<(), Failure> {
    use tracing_subscriber::EnvFilter;
    let (var, filter) = match (std::env::var("KEYWARD_LOG"), std::env::var("RUST_LOG")) {
        (Ok(v), _) => ("KEYWARD_LOG", v),
        (Err(_), Ok(v)) => ("RUST_LOG", v),
        _ => ("", "info,sqlx=warn".to_owned()),
    };
    log_filter::check(&filter).map_err(|e| Failure::usage(format!("{var}: {e}")))?;
    let filter = EnvFilter::try_new(&filter).map_err(|e| {
        Failure::usage(format!(
            "{var}: '{}' is not a log filter ({e}); use a level such as info or debug, or targets such as keyward_server=debug",
            keyward_core::echo::echo(&filter, 80)
        ))
    })?;
    let json = match std::env::var("KEYWARD_LOG_FORMAT").as_deref() {
        Err(_) | Ok("text") => false,
        Ok("json") => true,
        Ok(other) => {
            return Err(Failure::usage(format!(
                "KEYWARD_LOG_FORMAT: '{}' is not a log format; use text or json",
                keyward_core::echo::echo(other, 40)
            )))
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    Ok(())
}

/// Creates the data directory (and any missing parent) for this user only: it holds the
/// database and the pepper. One that exists already is left as the operator made it.
fn create_data_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

async fn run(args: cli::Cli) -> Result<(), Failure> {
    // Needs no configuration or data directory, and must not create one.
    if let cli::Command::Completions(c) = &args.command {
        return cli::completions::run(c);
    }
    let listen = match &args.command {
        cli::Command::Serve(s) => {
            init_logging()?;
            Some(s.listen.clone())
        }
        _ => None,
    };
    let config = config::load(
        args.config.as_deref(),
        args.data_dir.clone(),
        listen.flatten(),
    )?;
    create_data_dir(&config.data_dir).map_err(|e| {
        Failure::usage(format!(
            "cannot create the data directory {}: {e}",
            config.data_dir.display()
        ))
    })?;
    let store = keyward_store::open(&config.database_url)
        .await
        .map_err(|e| Failure::usage(format!("cannot open the database: {e}")))?;
    let peppers =
        pepper::resolve(config.pepper.as_deref(), &config.data_dir, store.as_ref()).await?;
    let settings = Settings {
        prefixes: config.prefixes.clone(),
        peppers,
        policy: config.policy.clone(),
        catalog: config.catalog.clone(),
        cache_capacity: config.cache_capacity,
        cache_memory: config.cache_memory,
        plans: config.plans.clone(),
        cache_ttl: config.cache_ttl,
        default_plan: config.default_plan.clone(),
        session_idle_timeout: config.session_idle_timeout,
        session_lifetime: config.session_lifetime,
    };
    let app = Keyward::new(store, settings, Arc::new(SystemClock));
    cli::run(&app, &config, args.command, args.json).await
}
