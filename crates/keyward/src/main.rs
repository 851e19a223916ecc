//! The keyward binary: parses the command line, loads configuration, opens the store
//! and hands over to the library. Nothing is decided here.
#![forbid(unsafe_code)]

mod cli;
mod config;
mod output;
mod pepper;

use clap::Parser;
use keyward_app::{Keyward, Settings, SystemClock};
use output::Failure;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Failure::usage(format!("cannot start the async runtime: {e}")).exit(),
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}

async fn run(args: cli::Cli) -> Result<(), Failure> {
    let config = config::load(args.config.as_deref(), args.data_dir.clone())?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
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
        prefix: config.prefix,
        peppers,
        policy: config.policy,
        default_plan: config.default_plan,
    };
    let app = Keyward::new(store, settings, Arc::new(SystemClock));
    cli::run(&app, args.command, args.json).await
}
