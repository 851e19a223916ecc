//! `keyward-bench`: the tools behind `bench/run.sh` and BENCHMARKS.md.
//!
//! * `fixture`: a data directory with an organization, a project and N keys (written in
//!   large transactions), plus a sample of their plaintext keys for load generators;
//! * `inproc`: the in-process check of a cached key against its own raw parts (one
//!   HMAC-SHA-256 and one hash-map lookup) measured side by side, and the cold check
//!   (no cache) on SQLite;
//! * `unknown`: well-formed keys that exist nowhere, to flood a server with;
//! * `bare-hyper`: a hyper server that answers a fixed 200, the HTTP ceiling.
#![forbid(unsafe_code)]

mod baseline;
mod fixture;
mod inproc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "keyward benchmark tooling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a data directory with N keys and a sample of their plaintext.
    Fixture {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        keys: usize,
        /// How many plaintext keys to write to `--out`.
        #[arg(long, default_value_t = 10_000)]
        sample: usize,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "KEYWARD_PEPPER")]
        pepper: String,
        /// The store to write to (a migrated, empty database); the data directory's
        /// SQLite file when left out.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The in-process check against its raw parts, and the cold check.
    Inproc {
        #[arg(long)]
        data_dir: PathBuf,
        /// The store the fixture was written to; the data directory's SQLite file when
        /// left out.
        #[arg(long)]
        database_url: Option<String>,
        /// The sample written by `fixture`.
        #[arg(long)]
        sample: PathBuf,
        #[arg(long, env = "KEYWARD_PEPPER")]
        pepper: String,
    },
    /// Well-formed keys that exist nowhere (right prefix, shape and checksum, random
    /// ids), for flooding a server with lookups of unknown keys.
    Unknown {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// A hyper server answering 200 with a fixed body: the HTTP ceiling.
    BareHyper {
        #[arg(long)]
        listen: std::net::SocketAddr,
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Also compute the keyed hash of each request's bearer key, as every check
        /// must: the ceiling for any server that checks keys.
        #[arg(long)]
        keyed_hash: bool,
        /// Answer with the header fields keyward's forward auth answers a metered key
        /// with (identity, `RateLimit`, `RateLimit-Policy`, request id; fixed values),
        /// and no body: with `--keyed-hash`, the floor for any server that checks a
        /// key and says what the issue asks it to say.
        #[arg(long)]
        forward_auth_answer: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Fixture {
            data_dir,
            keys,
            sample,
            out,
            pepper,
            database_url,
        } => {
            std::fs::create_dir_all(&data_dir)?;
            let url = database_url.unwrap_or_else(|| sqlite_url(&data_dir));
            runtime(2)?.block_on(fixture::run(&url, keys, sample, &out, &pepper))
        }
        Command::Inproc {
            data_dir,
            database_url,
            sample,
            pepper,
        } => {
            let url = database_url.unwrap_or_else(|| sqlite_url(&data_dir));
            inproc::run(&url, &sample, &pepper)
        }
        Command::Unknown { count, out } => {
            use std::io::Write;
            let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
            for _ in 0..count {
                let key = keyward_core::GeneratedKey::generate(
                    &keyward_core::Prefix::default(),
                    keyward_core::Kind::Live,
                    &mut rand_core::OsRng,
                );
                writeln!(file, "{}", key.secret.expose_secret())?;
            }
            file.flush()?;
            Ok(())
        }
        Command::BareHyper {
            listen,
            workers,
            keyed_hash,
            forward_auth_answer,
        } => runtime(workers)?.block_on(baseline::serve(listen, keyed_hash, forward_auth_answer)),
    }
}

/// Plan `pro`, metered or not (see [`open_app`]).
pub fn plans(metered: bool) -> keyward_core::Plans {
    let (rate_limits, monthly_quota) = match metered {
        true => (
            vec![keyward_core::RateLimit::per(
                "default",
                1_000_000_000,
                time::Duration::SECOND,
            )],
            Some(u64::MAX / 2),
        ),
        false => (vec![], None),
    };
    keyward_core::Plans::new(vec![keyward_core::Plan {
        name: "pro".into(),
        api_access: true,
        max_keys: None,
        rate_limits,
        monthly_quota,
    }])
    .expect("the bench plan is valid")
}

fn runtime(workers: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?)
}

/// The application over a fixture's data directory, as `keyward serve` would open it.
/// The fixture's organization is on plan `pro`, which `metering` defines: metered, its
/// keys have a rate limit and the organization a monthly quota, both far beyond what a
/// run spends (every check does all of step 8's work and is admitted), as
/// `bench/metered.toml` defines it for `keyward serve`; unmetered, neither.
/// The SQLite file `keyward serve` uses in `data_dir`.
fn sqlite_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}", data_dir.join("keyward.db").display())
}

pub async fn open_app(
    url: &str,
    pepper: &str,
    cache_capacity: usize,
    metered: bool,
) -> anyhow::Result<keyward_app::Keyward> {
    let store = keyward_store::open(url).await?;
    let settings = keyward_app::Settings {
        cache_capacity,
        plans: plans(metered),
        ..keyward_app::Settings::new(keyward_core::PepperSet::parse(pepper)?)
    };
    Ok(keyward_app::Keyward::new(
        store,
        settings,
        std::sync::Arc::new(keyward_app::SystemClock),
    ))
}
