//! `lotline-bench`: the benchmarks that print figures, kept apart from the shipped `lotline`
//! binary. Each starts a real server on a fresh ledger in this process, drives it through the
//! HTTP API as clients would, and prints what it measured; those that compare with the machine's
//! own Ed25519 ceiling, measured in the same run, end with `ratio=…`. `scripts/bench` builds and
//! runs it; docs/benchmarks.md has the figures.
//!
//! Modules depend one way: the benchmarks (`ingest`, `provenance`, `read`, `export`, `recall`, `audit`)
//! on what they share (`harness`, `filler`, `history`, `measure`), never on each other.

mod audit;
mod capture;
mod edge_sync;
mod export;
mod filler;
mod harness;
mod history;
mod ingest;
mod measure;
mod provenance;
mod read;
mod recall;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lotline::config::LogFormat;

// The `lotline` binary's allocator (see src/main.rs): the server runs in this process, and its
// figures should be those of the shipped binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "lotline-bench",
    version,
    about = "Benchmarks that print figures: a real lotline server in this process, driven through its HTTP API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Durable ingest of a realistic rice-chain event mix through POST /v1/events/batch, with
    /// every rule on, against strict Ed25519 verification on all cores.
    Ingest {
        /// Events to submit.
        #[arg(long, default_value_t = 30_000)]
        events: usize,
        /// Events per batch request.
        #[arg(long, default_value_t = 250)]
        batch: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Also run against a replicated deployment whose PostgreSQL is at this URL (e.g.
        /// `scripts/cluster url DIR`): ingest through 3 nodes, next to the embedded store in the
        /// same run, then buyer reads served by 1 node and by 3. Works in a schema of its own,
        /// dropped afterwards.
        #[arg(long)]
        store: Option<String>,
        /// Seconds of each buyer-read measurement (with --store).
        #[arg(long, default_value_t = 5)]
        read_secs: u64,
        /// Also time admission's stages (parsing, signature, profile, event hash, index terms)
        /// on one core without the server, before the timed run.
        #[arg(long)]
        stages: bool,
        /// Tagged bags each chain's 2,500 kg of head rice is packed into (1 to 500): the
        /// per-bag share of the cost shows against the default 50.
        #[arg(long, default_value_t = 50)]
        bags: usize,
    },
    /// Provenance and bundle latency of a ~200-event history on a small and a large ledger
    /// (their ratio shows whether cost follows the history or the ledger), and the offline
    /// verification rate of a 1,000-event bundle against the Ed25519 ceiling.
    Provenance {
        /// Entries of the small ledger.
        #[arg(long, default_value_t = 10_000)]
        small: usize,
        /// Entries of the large ledger.
        #[arg(long, default_value_t = 1_000_000)]
        large: usize,
        /// Timed requests of each kind per ledger.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
    /// Buyer reads and proof serving on the demo ledger, with the read cache on and off: the
    /// container's buyer page (and its revalidation, 304), its bundle, inclusion proofs of
    /// random entries, the checkpoint. Requests/s, p50/p99 and the server's core-µs per request.
    Read {
        /// Seconds of each figure (after a one-second warm-up).
        #[arg(long, default_value_t = 5)]
        secs: u64,
        /// Concurrent clients, each with one kept-alive connection.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Unrelated harvests logged after the demo, for a larger log (longer proofs).
        #[arg(long, default_value_t = 0)]
        filler: usize,
    },
    /// Export latency: the FSMA 204 CSV of a period of many events, a lot's CSV and EPCIS
    /// document, and a 1,000-event query page as an EPCISDocument.
    Export {
        /// Harvests in the exported period (one CSV row each; at most the row cap).
        #[arg(long, default_value_t = 40_000)]
        rows: usize,
        /// Timed requests of each kind.
        #[arg(long, default_value_t = 5)]
        samples: usize,
    },
    /// Latency of the downstream (recall) trace of a farm lot with a fixed 210-node graph on a
    /// small and a large ledger; their ratio shows whether cost follows the graph or the ledger.
    Recall {
        /// Entries of the small ledger.
        #[arg(long, default_value_t = 10_000)]
        small: usize,
        /// Entries of the large ledger.
        #[arg(long, default_value_t = 1_000_000)]
        large: usize,
        /// Timed requests of each kind per ledger.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
    /// EPCIS capture: `POST /capture` of documents of signed events, each followed to the end of
    /// its job, next to the Ed25519 ceiling.
    Capture {
        /// Documents to capture, one after another.
        #[arg(long, default_value_t = 5)]
        docs: usize,
        /// Events per document.
        #[arg(long, default_value_t = 1000)]
        size: usize,
    },
    /// Edge sync: a mill edge's backlog of signed events uploaded in order through /capture,
    /// next to the Ed25519 ceiling.
    EdgeSync {
        /// Events in the backlog.
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        /// Events per upload.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Mass-balance audit latency of an operator with 100,000 events, on a ledger of only those
    /// and on one with ten times as many other events (their ratio shows whether cost follows
    /// the operator's history or the ledger).
    Audit {
        /// The operator's events.
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        /// Other actors' events per event of the operator, on the second ledger.
        #[arg(long, default_value_t = 10)]
        ratio: usize,
        /// Timed requests per ledger.
        #[arg(long, default_value_t = 20)]
        samples: usize,
    },
}

/// Exit 0 when the benchmark ran, 2 when it could not (the error is printed with its causes).
fn main() -> ExitCode {
    let cli = Cli::parse();
    lotline::cli::init_tracing(LogFormat::Text);
    // Named, so that CPU per thread tells admission (which the server runs on rayon's global
    // pool) from the rest: see `measure::ThreadCpu`.
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("rayon-{i}"))
        .build_global()
    {
        eprintln!("lotline-bench: error: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Ingest {
            events,
            batch,
            concurrency,
            store,
            read_secs,
            stages,
            bags,
        } => ingest::run(
            events,
            batch,
            concurrency,
            store.as_deref(),
            read_secs,
            stages,
            bags,
        ),
        Command::Provenance {
            small,
            large,
            samples,
        } => provenance::run(small, large, samples),
        Command::Read {
            secs,
            concurrency,
            filler,
        } => read::run(secs, concurrency, filler),
        Command::Export { rows, samples } => export::run(rows, samples),
        Command::Capture { docs, size } => capture::run(docs, size),
        Command::EdgeSync { events, batch } => edge_sync::run(events, batch),
        Command::Recall {
            small,
            large,
            samples,
        } => recall::run(small, large, samples),
        Command::Audit {
            events,
            ratio,
            samples,
        } => audit::run(events, ratio, samples),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lotline-bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
