//! `lotline bench ingest`: durable ingest throughput through the real HTTP API, next to the
//! machine's own ceiling measured in the same run, so the figure means the same on any machine.
//!
//! Events are generated and signed before the clock starts (signing is the clients' work, not
//! the server's); the timed part is HTTP submission of batches by concurrent clients until every
//! receipt — each one durable — is back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ed25519_dalek::{Signer as _, SigningKey};
use rayon::prelude::*;
use serde_json::Value;

use super::Client;
use crate::config::Config;
use data_integrity::{di, didkey};
use lotline_profile::event::EventId;
use lotline_scenario as scenario;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
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

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Ingest {
            events,
            batch,
            concurrency,
        } => ingest(events, batch, concurrency),
        BenchCommand::Provenance {
            small,
            large,
            samples,
        } => super::bench_provenance::run(small, large, samples),
        BenchCommand::Export { rows, samples } => super::bench_export::run(rows, samples),
        BenchCommand::Recall {
            small,
            large,
            samples,
        } => super::bench_recall::run(small, large, samples),
        BenchCommand::Audit {
            events,
            ratio,
            samples,
        } => super::bench_audit::run(events, ratio, samples),
    }
}

/// Documents of one client's stream: its actors' registrations (signed by the registrar),
/// then `chains` supply chains of eleven events each, in the order they must be applied.
struct Stream {
    registrations: Vec<Value>,
    events: Vec<Value>,
}

/// One client's actors and chains. Each chain is what a rice chain logs for one lot: harvest,
/// farm → collector → mill (shipping and receiving twice), milling into four products,
/// bagging into 50 tagged bags, palletising, shipping the pallet to the exporter, receiving
/// it, and an invoice. Every rule applies: keys, roles, custody, balances, yields.
fn stream(client: usize, chains: usize, registrar: &SigningKey) -> Result<Stream> {
    use scenario::{items::*, *};
    let names = ["farm", "collector", "mill", "exporter"];
    let roles: [&[&str]; 4] = [
        &["farm"],
        &["collector"],
        &["mill", "packer"],
        &["exporter"],
    ];
    let keys: Vec<SigningKey> = names
        .iter()
        .map(|n| seeded_key(&format!("bench {client} {n}")))
        .collect();
    let ids: Vec<String> = (0..4).map(|i| pgln((client * 10 + i + 1) as u32)).collect();
    let registrations = (0..4)
        .map(|i| {
            let doc = register(
                None,
                "2026-01-01T00:00:00+07:00",
                &ids[i],
                names[i],
                ("KH", "Battambang"),
                roles[i],
                &[did(&keys[i])],
                None,
            );
            di::sign(&doc, registrar, "2026-11-20T01:15:00Z")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (farm, collector, mill, exporter) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let mut docs: Vec<(usize, Value)> = Vec::with_capacity(chains * 11);
    for k in 0..chains {
        let tag = format!("B{client}-{k}");
        let t = |day: u32| format!("2026-10-{:02}T08:00:00+07:00", 1 + day);
        let paddy = lgtin(PADDY, &tag);
        let head = lgtin(HEAD_RICE, &tag);
        let bags: Vec<String> = (0..50)
            .map(|i| sgtin(HEAD_RICE_BAG_50KG, client * 10_000_000 + k * 100 + i))
            .collect();
        let pallet = sscc((client * 1_000_000 + k + 1) as u64);
        let field = plot(&format!("P{client}-{k}"), "Battambang", 2.0, 103.2, 13.1);
        docs.push((
            0,
            harvest(
                None,
                &t(0),
                &paddy,
                5000.0,
                farm,
                "rice",
                Some("Sen Kra'ob"),
                field,
                "organic",
            ),
        ));
        docs.push((
            0,
            movement(true, &t(1), farm, collector, &[], &[kg(&paddy, 5000.0)]),
        ));
        docs.push((
            1,
            movement(false, &t(1), farm, collector, &[], &[kg(&paddy, 5000.0)]),
        ));
        docs.push((
            1,
            movement(true, &t(2), collector, mill, &[], &[kg(&paddy, 5000.0)]),
        ));
        docs.push((
            2,
            movement(false, &t(3), collector, mill, &[], &[kg(&paddy, 5000.0)]),
        ));
        docs.push((
            2,
            transform(
                &t(4),
                "milling",
                &[kg(&paddy, 5000.0)],
                &[
                    (head.clone(), 2500.0, Some("head-rice")),
                    (lgtin(BROKEN_RICE, &tag), 750.0, Some("broken-rice")),
                    (lgtin(BRAN, &tag), 450.0, Some("bran")),
                    (lgtin(HUSK, &tag), 1000.0, Some("husk")),
                ],
            ),
        ));
        docs.push((2, bagging(&t(5), kg(&head, 2500.0), &bags, 50.0)));
        docs.push((2, aggregation(true, &t(6), &pallet, &bags)));
        docs.push((
            2,
            movement(
                true,
                &t(7),
                mill,
                exporter,
                std::slice::from_ref(&pallet),
                &[],
            ),
        ));
        docs.push((
            3,
            movement(
                false,
                &t(8),
                mill,
                exporter,
                std::slice::from_ref(&pallet),
                &[],
            ),
        ));
        docs.push((
            3,
            transaction(
                &t(9),
                std::slice::from_ref(&pallet),
                &[],
                &[(
                    "inv",
                    &format!("urn:epcglobal:cbv:bt:8841234000019:INV-{tag}"),
                )],
            ),
        ));
    }
    let events = docs
        .into_par_iter()
        .map(|(who, doc)| di::sign(&doc, &keys[who], "2026-11-20T01:15:00Z"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Stream {
        registrations,
        events,
    })
}

/// What the benchmark reads of a batch answer; receipts' other members are skipped.
#[derive(serde::Deserialize)]
struct BatchAnswer {
    accepted: usize,
    results: Vec<ItemAnswer>,
}

#[derive(serde::Deserialize)]
struct ItemAnswer {
    #[serde(default)]
    problem: Option<Value>,
}

pub(super) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// CPU time this process has used so far (all threads, user and system), where the platform
/// tells it cheaply. Linux reports it in `/proc/self/stat` in USER_HZ ticks, which the kernel
/// fixes at 100 per second for user space.
pub(super) fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it start past its `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn ingest(events: usize, batch: usize, concurrency: usize) -> Result<()> {
    if events == 0 || batch == 0 || concurrency == 0 {
        bail!("--events, --batch and --concurrency must all be at least 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chains = events.div_ceil(11 * concurrency);
    println!(
        "bench ingest: {concurrency} clients x {chains} rice chains x 11 events (harvest, 4 custody moves, milling, bagging 50 tagged bags, palletising, shipping, receiving, invoice), batches of {batch}, {cores} cores"
    );

    let registrar = lotline_scenario::seeded_key("bench registrar");
    let streams: Vec<Stream> = (0..concurrency)
        .map(|c| stream(c, chains, &registrar))
        .collect::<Result<_>>()?;
    let total: usize = streams.iter().map(|s| s.events.len()).sum();
    let bodies: Vec<Vec<Vec<u8>>> = streams
        .iter()
        .map(|s| {
            s.events
                .chunks(batch)
                .map(serde_json::to_vec)
                .collect::<Result<_, _>>()
        })
        .collect::<Result<_, _>>()?;
    let bytes: usize = bodies.iter().flatten().map(Vec::len).sum();
    println!(
        "prepared {total} signed events, {} bytes on average",
        bytes / total.max(1)
    );

    let dir = bench_dir("ingest");
    let server = BenchServer::fresh(&dir, &registrar, batch.max(1000))?;
    let base = server.base.clone();

    // Registrations first, untimed: actors must exist before their events.
    let setup = Client::new(&base, 3)?;
    let regs: Vec<&Value> = streams.iter().flat_map(|s| &s.registrations).collect();
    let (status, v) = setup.post("/v1/events/batch", &serde_json::to_vec(&regs)?)?;
    if status != 200 || v["accepted"].as_u64() != Some(regs.len() as u64) {
        bail!("registering the benchmark's actors failed: {status} {v}");
    }

    let latencies = Mutex::new(Vec::with_capacity(total));
    let accepted = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let cpu_before = process_cpu();
    let started = Instant::now();
    std::thread::scope(|s| {
        // Each client sends its own stream in order, one batch at a time, as a site would.
        for stream in &bodies {
            let (base, latencies, accepted, failures) = (&base, &latencies, &accepted, &failures);
            s.spawn(move || {
                let client = match Client::new(base, 3) {
                    Ok(c) => c,
                    Err(e) => {
                        return failures
                            .lock()
                            .map(|mut f| f.push(e.to_string()))
                            .unwrap_or(());
                    }
                };
                for body in stream {
                    let t = Instant::now();
                    match client.post_text("/v1/events/batch", body) {
                        Ok((200, text)) => {
                            let took = t.elapsed();
                            // Only the count and any refusal are needed: the receipts are
                            // skipped unparsed, so the client takes little of the cores it
                            // shares with the server.
                            let answer: BatchAnswer = match serde_json::from_str(&text) {
                                Ok(a) => a,
                                Err(e) => {
                                    let _ = failures.lock().map(|mut f| f.push(e.to_string()));
                                    continue;
                                }
                            };
                            let ok = answer.accepted;
                            accepted.fetch_add(ok, Ordering::Relaxed);
                            if let Ok(mut l) = latencies.lock() {
                                l.extend(std::iter::repeat_n(took, ok));
                            }
                            if let Some(p) = answer.results.into_iter().find_map(|r| r.problem) {
                                let _ = failures.lock().map(|mut f| f.push(p.to_string()));
                            }
                        }
                        Ok((status, text)) => {
                            let _ = failures
                                .lock()
                                .map(|mut f| f.push(format!("{status}: {text}")));
                        }
                        Err(e) => {
                            let _ = failures.lock().map(|mut f| f.push(e.to_string()));
                        }
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(a, b)| a.saturating_sub(b));
    server.stop()?;
    let _ = std::fs::remove_dir_all(&dir);

    let failures = failures.into_inner().unwrap_or_default();
    if let Some(f) = failures.first() {
        bail!("{} batches had failures; first: {f}", failures.len());
    }
    let accepted = accepted.into_inner();
    if accepted != total {
        bail!("only {accepted} of {total} events were accepted");
    }
    let mut lat = latencies.into_inner().unwrap_or_default();
    lat.sort_unstable();
    let eps = accepted as f64 / elapsed.as_secs_f64();
    println!(
        "ingest: {accepted} events durable in {:.2} s = {eps:.0} events/s",
        elapsed.as_secs_f64()
    );
    println!(
        "receipt latency: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
    if let Some(cpu) = cpu {
        // Server and clients share the process, so this is an upper bound for the server.
        println!(
            "cpu: {:.0} core-µs per event, {:.0}% of {cores} cores busy",
            cpu.as_secs_f64() * 1e6 / accepted.max(1) as f64,
            cpu.as_secs_f64() * 100.0 / elapsed.as_secs_f64() / cores as f64
        );
    }
    let ceiling = ed25519_ceiling(Duration::from_secs(2))?;
    println!("ceiling: {ceiling:.0} strict Ed25519 verifications/s on {cores} cores");
    println!("ratio={:.3}", eps / ceiling);
    Ok(())
}

/// A real server on a loopback port, in this process, for a benchmark's clients.
pub(super) struct BenchServer {
    pub base: String,
    stop: crate::http::StopHandle,
    thread: std::thread::JoinHandle<Result<()>>,
}

/// The origin of every benchmark ledger.
pub(super) const BENCH_ORIGIN: &str = "bench.invalid/lotline";

/// A fresh temporary data directory for a benchmark ledger named `name`.
pub(super) fn bench_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "lotline-bench-{name}-{}-{}",
        std::process::id(),
        EventId::new_v7()
    ))
}

/// A registrar's audit token for the benchmark ledgers, valid for the hour a run may take.
pub(super) fn audit_token(registrar: &SigningKey) -> Result<String> {
    let now = crate::ledger::now_ms();
    lotline_profile::audit_token::create(registrar, BENCH_ORIGIN, None, now, 3_600_000)
        .map_err(|e| anyhow::anyhow!(e))
}

impl BenchServer {
    /// A server on a new ledger in `dir` (from [`bench_dir`]) whose registrar is `registrar`,
    /// taking batches of up to `max_batch` events.
    pub fn fresh(
        dir: &std::path::Path,
        registrar: &SigningKey,
        max_batch: usize,
    ) -> Result<BenchServer> {
        BenchServer::start(Config {
            data: dir.to_path_buf(),
            listen: "127.0.0.1:0".into(),
            origin: Some(BENCH_ORIGIN.into()),
            max_batch,
            registrars: vec![scenario::did(registrar)],
            ..Config::default()
        })
    }

    pub fn start(cfg: Config) -> Result<BenchServer> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            super::run_server(&cfg, |addr, stop| {
                let _ = tx.send((addr, stop));
            })
        });
        let (addr, stop) = rx
            .recv_timeout(Duration::from_secs(60))
            .context("the benchmark server did not start")?;
        Ok(BenchServer {
            base: format!("http://{addr}"),
            stop,
            thread,
        })
    }

    /// Stops it gracefully: everything accepted is committed first.
    pub fn stop(self) -> Result<()> {
        self.stop.stop();
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the benchmark server panicked"))?
    }
}

/// Strict Ed25519 verifications per second using every core, on 64-byte messages — the size of
/// what eddsa-jcs-2022 signs (two SHA-256 digests).
pub fn ed25519_ceiling(run_for: Duration) -> Result<f64> {
    let key = didkey::generate()?;
    let vk = key.verifying_key();
    let samples: Vec<([u8; 64], ed25519_dalek::Signature)> = (0..1024u32)
        .map(|i| {
            let mut msg = [0u8; 64];
            msg[..4].copy_from_slice(&i.to_be_bytes());
            (msg, key.sign(&msg))
        })
        .collect();
    let cores = rayon::current_num_threads();
    let started = Instant::now();
    let total: usize = (0..cores)
        .into_par_iter()
        .map(|_| {
            let mut n = 0usize;
            while started.elapsed() < run_for {
                for (msg, sig) in &samples {
                    if vk.verify_strict(msg, sig).is_ok() {
                        n += 1;
                    }
                }
            }
            n
        })
        .sum();
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
