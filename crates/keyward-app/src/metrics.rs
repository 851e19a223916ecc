//! What a keyward process reports to Prometheus: checks by outcome, check latency, the
//! check cache's hits and misses, usage batches written and their latency, store
//! latency, open connections. [`Keyward::render_metrics`] writes them in the text
//! format for `/metrics`.
//!
//! The collectors are the `prometheus` crate's: one registry per [`Keyward`] (so tests
//! and several instances never mix), counters that are one atomic add, and histograms
//! that observe without a lock. Every label value is fixed when the collectors are made,
//! so recording on the check's path neither allocates nor looks a label up. The cache's
//! hits and misses are quick_cache's own counters, read only when scraped.

use crate::usage::notes::{index, OUTCOMES};
use crate::Keyward;
use keyward_core::Outcome;
use prometheus::proto::{Counter, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use std::time::Duration;

/// Check latency: from a few microseconds (a cached key, in process) to a second.
const CHECK_BUCKETS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Store latency: from a read in SQLite's page cache to a write waiting on a busy disk.
const STORE_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

pub struct Metrics {
    registry: Registry,
    /// By outcome, in the order of [`Outcome::ALL`].
    checks: [IntCounter; OUTCOMES],
    check_seconds: Histogram,
    cache_load_seconds: Histogram,
    usage_write_seconds: Histogram,
    batches_written: IntCounter,
    batches_failed: IntCounter,
    connections: IntGauge,
}

/// The collectors are defined here, in the source, with valid names and distinct
/// labels, so registering them cannot fail; every test that makes a [`Keyward`] would
/// show it if a change broke that.
fn made<T>(made: prometheus::Result<T>) -> T {
    match made {
        Ok(t) => t,
        Err(e) => unreachable!("a metric defined in keyward is invalid: {e}"),
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let registry = made(Registry::new_custom(Some("keyward".into()), None));
        let checks = made(IntCounterVec::new(
            Opts::new(
                "checks_total",
                "Checks of API keys, by outcome (every surface: verify API, management API callers, CLI).",
            ),
            &["outcome"],
        ));
        let check_seconds = made(Histogram::with_opts(
            HistogramOpts::new(
                "check_duration_seconds",
                "Time to answer a check request (the verify API), from the request read to the answer ready.",
            )
            .buckets(CHECK_BUCKETS.to_vec()),
        ));
        let store_seconds = made(HistogramVec::new(
            HistogramOpts::new(
                "store_duration_seconds",
                "Time taken by the database: `check_load` is a read after a check cache miss, `usage_write` a batch of usage.",
            )
            .buckets(STORE_BUCKETS.to_vec()),
            &["operation"],
        ));
        let batches = made(IntCounterVec::new(
            Opts::new(
                "usage_batches_total",
                "Batches of usage (last uses and counts) written to the database, or that failed and were kept for the next one.",
            ),
            &["result"],
        ));
        let connections = made(IntGauge::new(
            "open_connections",
            "HTTP connections open on the API listener.",
        ));
        for collector in [
            Box::new(checks.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(check_seconds.clone()),
            Box::new(store_seconds.clone()),
            Box::new(batches.clone()),
            Box::new(connections.clone()),
        ] {
            made(registry.register(collector));
        }
        Metrics {
            checks: Outcome::ALL.map(|o| checks.with_label_values(&[o.as_str()])),
            check_seconds,
            cache_load_seconds: store_seconds.with_label_values(&["check_load"]),
            usage_write_seconds: store_seconds.with_label_values(&["usage_write"]),
            batches_written: batches.with_label_values(&["written"]),
            batches_failed: batches.with_label_values(&["failed"]),
            connections,
            registry,
        }
    }

    /// A check ended in `outcome`.
    pub(crate) fn checked(&self, outcome: Outcome) {
        self.checks[index(outcome)].inc();
    }

    /// A check request took `took` to answer.
    pub fn check_answered(&self, took: Duration) {
        self.check_seconds.observe(took.as_secs_f64());
    }

    /// The histogram of reads after check cache misses, for the cache to time them.
    pub(crate) fn cache_loads(&self) -> Histogram {
        self.cache_load_seconds.clone()
    }

    /// A batch of usage was written (or failed) in `took`.
    pub(crate) fn usage_written(&self, took: Duration, ok: bool) {
        self.usage_write_seconds.observe(took.as_secs_f64());
        match ok {
            true => self.batches_written.inc(),
            false => self.batches_failed.inc(),
        }
    }

    /// A connection opened; it counts as open until the guard is dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.connections.inc();
        OpenConnection(self.connections.clone())
    }
}

/// An open connection, counted until dropped.
pub struct OpenConnection(IntGauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A counter family written by hand, for counters kept elsewhere (the cache's).
fn counter_family(name: &str, help: &str, values: &[(&str, u64)]) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(name.to_owned());
    family.set_help(help.to_owned());
    family.set_field_type(MetricType::COUNTER);
    family.set_metric(
        values
            .iter()
            .map(|(cache, value)| {
                let mut label = LabelPair::default();
                label.set_name("cache".to_owned());
                label.set_value((*cache).to_owned());
                let mut counter = Counter::default();
                counter.set_value(*value as f64);
                let mut metric = Metric::from_label(vec![label]);
                metric.set_counter(counter);
                metric
            })
            .collect(),
    );
    family
}

impl Keyward {
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Every metric, in the Prometheus text format (version 0.0.4).
    pub fn render_metrics(&self) -> String {
        let mut families = self.metrics.registry.gather();
        let stats = self.cache.stats();
        let hits: Vec<(&str, u64)> = stats.iter().map(|(c, hits, _)| (*c, *hits)).collect();
        let misses: Vec<(&str, u64)> = stats.iter().map(|(c, _, misses)| (*c, *misses)).collect();
        families.push(counter_family(
            "keyward_check_cache_hits_total",
            "Lookups answered by each of the check cache's caches (keys, unknown key ids, creators' access, organizations' projects, admin tokens).",
            &hits,
        ));
        families.push(counter_family(
            "keyward_check_cache_misses_total",
            "Lookups that found nothing in each of the check cache's caches (keys, unknown key ids, creators' access, organizations' projects, admin tokens).",
            &misses,
        ));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            return format!("# metrics could not be written: {e}\n");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
