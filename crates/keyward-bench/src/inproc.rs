//! The in-process check, measured against its own raw parts in the same run:
//!
//! * `check`: `Keyward::check` of a cached valid key with one grant (credential pick,
//!   parse and checksum, cache lookup, HMAC-SHA-256 verification, grant evaluation,
//!   a rate limit and the monthly quota spent, usage counted);
//! * `check_unmetered`: the same on a plan without a rate limit or quota, in alternate
//!   batches of the same run;
//! * `raw`: one HMAC-SHA-256 of the same key under the same pre-keyed pepper, plus one
//!   lookup in a hash map of as many keys as the sample;
//! * `cold`: the same check with the cache off, so every check reads the store.
//!
//! Each figure is the median of 31 batches; a batch is long enough (10,000 calls)
//! that timer resolution does not matter.

use keyward_core::{Asked, KeyId, Level, ParsedKey, PepperSet, Prefixes, Presented};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

const BATCHES: usize = 31;
const PER_BATCH: usize = 10_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn run(url: &str, sample: &Path, pepper: &str) -> anyhow::Result<()> {
    let keys: Vec<String> = std::fs::read_to_string(sample)?
        .lines()
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(!keys.is_empty(), "the sample file holds no keys");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let request = Asked::Project {
        project: "Website".into(),
        environment: "production".into(),
        resource: None,
        level: Level::Read,
    };
    let key = keys[0].as_str();

    // The check, cached: metered (a rate limit and the monthly quota, both spent by
    // every check) and, in alternate batches of the same run, unmetered.
    let open = |metered| {
        rt.block_on(crate::open_app(
            url,
            pepper,
            keyward_app::Settings::DEFAULT_CACHE_CAPACITY,
            metered,
        ))
    };
    let app = open(true)?;
    let unmetered = open(false)?;
    for a in [&app, &unmetered] {
        let first = rt.block_on(a.check(Presented::field(key), &request))?;
        anyhow::ensure!(
            first.outcome.is_valid(),
            "the sample key is not valid: {}",
            first.outcome
        );
    }
    // Instruction counts (valgrind) of just the cached check: INPROC_CALLS checks, no
    // timing, nothing else.
    // INPROC_UNMETERED=1 counts the unmetered check instead.
    if let Ok(n) = std::env::var("INPROC_CALLS") {
        let n: usize = n.parse()?;
        let app = match std::env::var_os("INPROC_UNMETERED") {
            Some(_) => &unmetered,
            None => &app,
        };
        rt.block_on(async {
            for _ in 0..n {
                black_box(
                    app.check(Presented::field(black_box(key)), &request)
                        .await
                        .ok(),
                );
            }
        });
        return Ok(());
    }
    let batch = |a: &keyward_app::Keyward| {
        rt.block_on(async {
            let t = Instant::now();
            for _ in 0..PER_BATCH {
                let v = a.check(Presented::field(black_box(key)), &request).await;
                black_box(v.map(|v| v.outcome.is_valid()).ok());
            }
            t.elapsed().as_nanos() as f64 / PER_BATCH as f64
        })
    };
    let (mut metered_ns, mut unmetered_ns) = (Vec::new(), Vec::new());
    for _ in 0..BATCHES {
        metered_ns.push(batch(&app));
        unmetered_ns.push(batch(&unmetered));
    }
    let check_ns = median(metered_ns);
    let unmetered_ns = median(unmetered_ns);
    let last = rt.block_on(app.check(Presented::field(key), &request))?;
    anyhow::ensure!(
        last.outcome.is_valid() && last.metered.is_some(),
        "after the run the metered check is {}",
        last.outcome
    );

    // Its raw parts: one HMAC under the same pre-keyed pepper, one hash-map lookup.
    let peppers = PepperSet::parse(pepper)?;
    let prefix = Prefixes::default();
    let map: HashMap<KeyId, usize> = keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| ParsedKey::parse(k, &prefix).ok().map(|p| (p.id, i)))
        .collect();
    let id = ParsedKey::parse(key, &prefix)?.id;
    let raw_ns = median(
        (0..BATCHES)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..PER_BATCH {
                    black_box(peppers.hash_str(black_box(key)));
                    black_box(map.get(black_box(&id)));
                }
                t.elapsed().as_nanos() as f64 / PER_BATCH as f64
            })
            .collect(),
    );

    // Where the check's time goes: each step alone, same key, same batches.
    let time = |f: &dyn Fn()| {
        median(
            (0..BATCHES)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..PER_BATCH {
                        f();
                    }
                    t.elapsed().as_nanos() as f64 / PER_BATCH as f64
                })
                .collect(),
        )
    };
    let parsed = ParsedKey::parse(key, &prefix)?;
    let stored = rt
        .block_on(app.store().key(&parsed.id))?
        .ok_or_else(|| anyhow::anyhow!("sample key not in the store"))?;
    let clock = keyward_app::SystemClock;
    let breakdown = [
        (
            "parse",
            time(&|| {
                black_box(ParsedKey::parse(black_box(key), &prefix).ok());
            }),
        ),
        (
            "hmac_verify",
            time(&|| {
                black_box(
                    peppers.verify_str(black_box(parsed.secret.expose_secret()), &stored.hash),
                );
            }),
        ),
        (
            "clock",
            time(&|| {
                black_box(keyward_app::Clock::now(&clock));
            }),
        ),
    ];

    // Cold: no cache, every check reads the store.
    let cold_app = rt.block_on(crate::open_app(url, pepper, 0, true))?;
    let mut cold: Vec<f64> = Vec::new();
    for k in keys.iter().cycle().take(2_000) {
        let t = Instant::now();
        let r = rt.block_on(cold_app.check(Presented::field(k), &request))?;
        cold.push(t.elapsed().as_nanos() as f64 / 1000.0);
        anyhow::ensure!(r.outcome.is_valid(), "cold check: {}", r.outcome);
    }
    cold.sort_by(f64::total_cmp);

    println!("inproc_check_ns {check_ns:.0}");
    println!("inproc_check_unmetered_ns {unmetered_ns:.0}");
    println!("inproc_metering_ratio {:.3}", check_ns / unmetered_ns);
    println!("inproc_raw_parts_ns {raw_ns:.0}");
    println!("inproc_ratio {:.2}", check_ns / raw_ns);
    for (step, ns) in breakdown {
        println!("inproc_step_{step}_ns {ns:.0}");
    }
    println!("cold_check_p50_us {:.1}", percentile(&cold, 0.50));
    println!("cold_check_p99_us {:.1}", percentile(&cold, 0.99));
    Ok(())
}
