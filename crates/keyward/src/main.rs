//! The keyward binary: parses the command line, loads configuration, opens the store
//! and hands over to the library. Nothing is decided here.
#![forbid(unsafe_code)]

mod cli;
mod config;
mod log_filter;
mod output;
mod pepper;
mod private;

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

async fn run(args: cli::Cli) -> Result<(), Failure> {
    // Need no configuration or data directory, and must not create one.
    match &args.command {
        cli::Command::Completions(c) => return cli::completions::run(c),
        cli::Command::Login(a) => return cli::login::login(a, args.json).await,
        cli::Command::Logout(a) => return cli::login::logout(a, args.json),
        _ => {}
    }
    // Only these two make a data directory and its pepper; see cli::location.
    let creating = matches!(args.command, cli::Command::Serve(_) | cli::Command::Init);
    // `migrate` works on the configured database, never through a server.
    let local_only = creating || matches!(args.command, cli::Command::Migrate(_));
    if !local_only {
        if let cli::location::Place::Remote(remote) =
            cli::location::resolve(args.data_dir_from_flag)?
        {
            cli::location::say_remote(&remote, args.quiet);
            return cli::run_remote(remote, args.command, args.json).await;
        }
    }
    let listen = match &args.command {
        cli::Command::Serve(s) => {
            init_logging()?;
            Some(s.listen.clone())
        }
        _ => None,
    };
    // clap fills `data_dir` from KEYWARD_DATA_DIR too; config::load reads that
    // variable itself, so that it can say which of the two set the directory.
    let config = config::load(
        args.config.as_deref(),
        args.data_dir.clone().filter(|_| args.data_dir_from_flag),
        listen.flatten(),
    )?;
    cli::location::say_local(&config.data_dir, &config.data_dir_from, args.quiet);
    if let cli::Command::Migrate(m) = &args.command {
        cli::init::require_initialised(&config)?;
        return cli::migrate::run(&config, m, args.json).await;
    }
    let existed = if creating {
        let before = cli::init::initialised(&config);
        private::create_dir(&config.data_dir).map_err(|e| {
            Failure::usage(format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        before
    } else {
        cli::init::require_initialised(&config)?;
        true
    };
    let options = keyward_store::OpenOptions {
        max_connections: config.database_max_connections,
        // `init` makes the database ready, whatever migrate_on_start says.
        migrate: config.migrate_on_start || matches!(args.command, cli::Command::Init),
    };
    let store = keyward_store::open_with(&config.database_url, &options)
        .await
        .map_err(cli::migrate::open_failure)?;
    let peppers = pepper::resolve(
        config.pepper.as_deref(),
        &config.data_dir,
        store.as_ref(),
        creating,
    )
    .await?;
    if let cli::Command::Init = args.command {
        return cli::init::report(&config, existed, args.json);
    }
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
    let global = match &config.redis {
        Some(redis) => Some(
            keyward_app::GlobalLimits::new(redis)
                .map_err(|e| Failure::usage(format!("redis_url: {e}")))?,
        ),
        None => None,
    };
    let app = Keyward::with_global_limits(store, settings, Arc::new(SystemClock), global);
    cli::run(&app, &config, args.command, args.json).await
}
