//! Prometheus metrics: what an operator graphs and alerts on.
//!
//! One process-wide registry ([`get`]), because the places that count — the sequencer's writer
//! thread, the HTTP middleware, the conversion of errors into problem answers — share no state
//! object, and a metric is the same series wherever it is counted. Everything here is an atomic
//! or a short read lock: counting never blocks the writer or a request. Figures that are state
//! rather than events (log size, checkpoint lag, RocksDB's compaction and stall figures) are read
//! when scraped ([`render`]), so they cannot go stale.
//!
//! The series, all prefixed `lotline_`, are listed in docs/operations.md.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::ledger::Ledger;

/// The media type of [`render`]'s output: Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route's template (`/v1/lots/{id}`), never the raw path, so the number of series stays
    /// bounded whatever clients ask for; `unmatched` for paths no route takes.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `hit`, `miss` (built and verified), `invalidated` (dropped because a committed entry
    /// touched its history).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CfLabels {
    pub cf: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram>,
    pub problems: Family<CodeLabels, Counter>,
    /// Events per committed group.
    pub group_events: Histogram,
    /// Time to make one group durable: the shared log's commit (replicated) and the local
    /// synced write.
    pub commit_seconds: Histogram,
    pub entries_committed: Counter,
    /// Submissions (single events or batches) waiting for the sequencer.
    pub queue_depth: Gauge,
    pub write_failures: Counter,
    /// The verified-provenance cache (`crate::provenance::cache`), by outcome.
    read_cache: Family<OutcomeLabels, Counter>,
    log_size: Gauge,
    checkpoint_size: Gauge,
    checkpoint_uncovered: Gauge,
    checkpoint_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    ready: Gauge,
    rocksdb_int: Family<RocksLabels, Gauge>,
    /// When this process last saw the checkpoint change: (size, when).
    checkpoint_seen: Mutex<(u64, Instant)>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RocksLabels {
    /// The RocksDB property, e.g. `rocksdb.estimate-pending-compaction-bytes`.
    property: String,
    cf: String,
}

/// Latency buckets from 100 µs to about 26 s: a synced write on a good disk, a provenance
/// bundle of a big lot, and everything between.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 19))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("lotline");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let request_seconds: Family<RouteLabels, Histogram> =
            Family::new_with_constructor(latency as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its answer, by method and route template",
            Unit::Seconds,
            request_seconds.clone(),
        );
        let problems = Family::<CodeLabels, Counter>::default();
        registry.register(
            "problems",
            "Problem answers (RFC 9457) and refused items of batches and capture jobs, by problem code",
            problems.clone(),
        );
        let group_events = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        registry.register(
            "sequencer_group_events",
            "Events per group the sequencer commits with one synced write",
            group_events.clone(),
        );
        let commit_seconds = latency();
        registry.register_with_unit(
            "sequencer_commit",
            "Time to make one group durable (shared log commit, then the local synced write)",
            Unit::Seconds,
            commit_seconds.clone(),
        );
        let entries_committed = Counter::default();
        registry.register(
            "sequencer_entries",
            "Entries committed by this process",
            entries_committed.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "sequencer_queue_depth",
            "Submissions (an event or a batch) queued for the sequencer",
            queue_depth.clone(),
        );
        let write_failures = Counter::default();
        registry.register(
            "sequencer_write_failures",
            "Failed group commits; after one the ledger stops taking writes until restarted",
            write_failures.clone(),
        );
        let read_cache = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "read_cache",
            "Verified provenance results: served from the cache (hit), built and verified (miss), dropped because a committed entry touched the lot's history (invalidated)",
            read_cache.clone(),
        );
        let log_size = Gauge::default();
        registry.register("log_size", "Entries in the log", log_size.clone());
        let checkpoint_size = Gauge::default();
        registry.register(
            "checkpoint_size",
            "Entries covered by the latest signed checkpoint",
            checkpoint_size.clone(),
        );
        let checkpoint_uncovered = Gauge::default();
        registry.register(
            "checkpoint_uncovered_entries",
            "Entries not yet covered by a signed checkpoint (their proofs wait for the next one)",
            checkpoint_uncovered.clone(),
        );
        let checkpoint_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register_with_unit(
            "checkpoint_age",
            "Time since this process saw the latest checkpoint signed (or, after a start, loaded)",
            Unit::Seconds,
            checkpoint_age.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 while the ledger takes writes (as /readyz), 0 after a failed write or while no node sequences",
            ready.clone(),
        );
        let rocksdb_int = Family::<RocksLabels, Gauge>::default();
        registry.register(
            "rocksdb_property",
            "RocksDB's own figures, by property and column family: compactions running and pending, write stalls and delays, memtables, file sizes",
            rocksdb_int.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            problems,
            group_events,
            commit_seconds,
            entries_committed,
            queue_depth,
            write_failures,
            read_cache,
            log_size,
            checkpoint_size,
            checkpoint_uncovered,
            checkpoint_age,
            ready,
            rocksdb_int,
            checkpoint_seen: Mutex::new((0, Instant::now())),
        }
    }

    /// Counts `n` read-cache events of `outcome` (`hit`, `miss`, `invalidated`).
    pub fn read_cache(&self, outcome: &str, n: u64) {
        self.read_cache
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }

    /// Counts one problem answer (or refused item) with `code`.
    pub fn problem(&self, code: &str) {
        self.problems
            .get_or_create(&CodeLabels {
                code: code.to_owned(),
            })
            .inc();
    }

    /// One group made durable: `events` events, `entries` new entries, in `took`.
    pub fn committed(&self, events: usize, entries: u64, took: Duration) {
        self.group_events.observe(events as f64);
        self.commit_seconds.observe(took.as_secs_f64());
        self.entries_committed.inc_by(entries);
    }

    /// A checkpoint of `size` entries was signed (or, at a start, loaded) just now.
    pub fn checkpoint_seen(&self, size: u64) {
        if let Ok(mut seen) = self.checkpoint_seen.lock() {
            *seen = (size, Instant::now());
        }
    }
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The text of a scrape: the counters as counted, the state figures read from `ledger` now.
pub fn render(ledger: &Arc<Ledger>) -> String {
    let m = get();
    let head = ledger.head();
    m.log_size.set(head.size as i64);
    m.checkpoint_size.set(head.checkpoint.size as i64);
    m.checkpoint_uncovered
        .set(head.size.saturating_sub(head.checkpoint.size) as i64);
    let age = {
        let mut seen = m.checkpoint_seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.0 != head.checkpoint.size {
            // Signed elsewhere (a follower's checkpoints come from the sequencer): seen now, at
            // the latest.
            *seen = (head.checkpoint.size, Instant::now());
        }
        seen.1.elapsed()
    };
    m.checkpoint_age.set(age.as_secs_f64());
    m.ready.set(i64::from(ledger.is_ready()));
    for (property, cf, value) in ledger.store().rocksdb_figures() {
        m.rocksdb_int
            .get_or_create(&RocksLabels {
                property: property.to_owned(),
                cf: cf.to_owned(),
            })
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    }
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &m.registry);
    out
}
