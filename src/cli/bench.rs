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
use serde_json::{Value, json};

use super::Client;
use crate::config::Config;
use crate::core::{di, didkey, event::EventId};

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Durable ingest through POST /v1/events/batch, against strict Ed25519 verification on all cores.
    Ingest {
        /// Events to submit.
        #[arg(long, default_value_t = 30_000)]
        events: usize,
        /// Distinct signing actors.
        #[arg(long, default_value_t = 64)]
        actors: usize,
        /// Events per batch request.
        #[arg(long, default_value_t = 250)]
        batch: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Ingest {
            events,
            actors,
            batch,
            concurrency,
        } => ingest(events, actors, batch, concurrency),
    }
}

/// A receiving event of about 1 KB, as a mill logs for a delivery of tagged paddy bags.
fn sample_event(n: usize, actor: usize) -> Value {
    let epcs: Vec<String> = (0..6)
        .map(|i| format!("urn:epc:id:sgtin:0885000.{:06}.{}", 100 + actor, n * 10 + i))
        .collect();
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventID": EventId::new_v7().to_string(),
        "eventTime": "2026-11-20T08:15:00+07:00",
        "eventTimeZoneOffset": "+07:00",
        "epcList": epcs,
        "action": "OBSERVE",
        "bizStep": "receiving",
        "disposition": "in_progress",
        "readPoint": {"id": format!("urn:epc:id:sgln:0885000.{:05}.0", actor)},
        "bizLocation": {"id": format!("urn:epc:id:sgln:0885000.{:05}.0", actor)},
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0885000.00001"}],
        "destinationList": [{"type": "owning_party", "destination": format!("urn:epc:id:pgln:0885000.{:05}", actor)}],
        "quantityList": [{"epcClass": format!("urn:epc:class:lgtin:0885000.{:06}.L2026-{n}", 100 + actor), "quantity": 300.0, "uom": "KGM"}],
        "bizTransactionList": [{"type": "po", "bizTransaction": format!("urn:epcglobal:cbv:bt:0885000000017:PO-{n}")}],
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ingest(events: usize, actors: usize, batch: usize, concurrency: usize) -> Result<()> {
    if events == 0 || actors == 0 || batch == 0 || concurrency == 0 {
        bail!("--events, --actors, --batch and --concurrency must all be at least 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "bench ingest: {events} events, {actors} actors, batches of {batch}, {concurrency} clients, {cores} cores"
    );

    let keys: Vec<SigningKey> = (0..actors)
        .map(|_| didkey::generate())
        .collect::<Result<_, _>>()?;
    let created = "2026-11-20T01:15:00Z";
    let signed: Vec<Value> = (0..events)
        .into_par_iter()
        .map(|n| di::sign(&sample_event(n, n % actors), &keys[n % actors], created))
        .collect::<Result<_, _>>()?;
    let bodies: Vec<Vec<u8>> = signed
        .chunks(batch)
        .map(serde_json::to_vec)
        .collect::<Result<_, _>>()?;
    let avg = bodies.iter().map(Vec::len).sum::<usize>() / events;
    println!(
        "prepared {} batch bodies, {avg} bytes per signed event",
        bodies.len()
    );

    let dir = std::env::temp_dir().join(format!(
        "lotline-bench-{}-{}",
        std::process::id(),
        EventId::new_v7()
    ));
    let cfg = Config {
        data: dir.clone(),
        listen: "127.0.0.1:0".into(),
        origin: Some("bench.invalid/lotline".into()),
        max_batch: batch.max(1000),
        ..Config::default()
    };
    let (tx, rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        super::run_server(&cfg, |bound| {
            let _ = tx.send((bound.addr, bound.server.handle()));
        })
    });
    let (addr, handle) = rx
        .recv_timeout(Duration::from_secs(60))
        .context("the benchmark server did not start")?;

    let base = format!("http://{addr}");
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(events));
    let accepted = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                let client = match Client::new(&base, 3) {
                    Ok(c) => c,
                    Err(e) => {
                        return failures
                            .lock()
                            .map(|mut f| f.push(e.to_string()))
                            .unwrap_or(());
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let t = Instant::now();
                    match client.post("/v1/events/batch", body) {
                        Ok((200, v)) => {
                            let took = t.elapsed();
                            let ok = v["accepted"].as_u64().unwrap_or(0) as usize;
                            accepted.fetch_add(ok, Ordering::Relaxed);
                            if let Ok(mut l) = latencies.lock() {
                                l.extend(std::iter::repeat_n(took, ok));
                            }
                        }
                        Ok((status, v)) => {
                            let _ = failures
                                .lock()
                                .map(|mut f| f.push(format!("{status}: {v}")));
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
    actix_web::rt::System::new().block_on(handle.stop(true));
    server
        .join()
        .map_err(|_| anyhow::anyhow!("the benchmark server panicked"))??;
    let _ = std::fs::remove_dir_all(&dir);

    let failures = failures.into_inner().unwrap_or_default();
    if let Some(f) = failures.first() {
        bail!("{} batch requests failed; first: {f}", failures.len());
    }
    let accepted = accepted.into_inner();
    if accepted != events {
        bail!("only {accepted} of {events} events were accepted");
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
    let ceiling = ed25519_ceiling(Duration::from_secs(2))?;
    println!("ceiling: {ceiling:.0} strict Ed25519 verifications/s on {cores} cores");
    println!("ratio={:.3}", eps / ceiling);
    Ok(())
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
