//! `lotline-bench ingest`: durable ingest throughput through the real HTTP API, next to the
//! machine's own ceiling measured in the same run, so the figure means the same on any machine.
//!
//! Events are generated and signed before the clock starts (signing is the clients' work, not
//! the server's); the timed part is HTTP submission of batches by concurrent clients until every
//! receipt — each one durable — is back.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde_json::Value;

use crate::harness::{BenchServer, SIGNED};
use crate::measure::{
    PARTS, ThreadCpu, cores, ed25519_ceiling, own_check_ceiling, percentile, process_cpu,
};
use data_integrity::di;
use lotline::cli::Client;
use lotline_scenario::{self as scenario, items::*};

/// Events of one rice chain (see [`rice_chain`]).
const CHAIN: usize = 11;

/// Most tagged bags one chain's 2,500 kg of head rice may be packed into (`--bags`): 5 kg
/// retail bags.
const MAX_BAGS: usize = 500;

/// Bag serial numbers set aside for each client: client `c`'s start at `c` times this.
const SERIALS_PER_CLIENT: usize = 10_000_000;

/// How far apart the first serials of a client's chains are with `bags` bags each: 100, as
/// with the default 50 bags, or more for more.
fn serial_stride(bags: usize) -> usize {
    bags.max(100)
}

pub fn run(
    events: usize,
    batch: usize,
    concurrency: usize,
    store: Option<&str>,
    read_secs: u64,
    stages: bool,
    bags: usize,
) -> Result<()> {
    if events == 0 || batch == 0 || concurrency == 0 {
        bail!("--events, --batch and --concurrency must all be at least 1");
    }
    if !(1..=MAX_BAGS).contains(&bags) {
        bail!("--bags must be from 1 to {MAX_BAGS}");
    }
    let cores = cores();
    let chains = events.div_ceil(CHAIN * concurrency);
    if chains * serial_stride(bags) > SERIALS_PER_CLIENT {
        bail!(
            "each client's bags must have serials of their own: ask for fewer --events or --bags, or more --concurrency"
        );
    }
    println!(
        "bench ingest: {concurrency} clients x {chains} rice chains x 11 events (harvest, 4 custody moves, milling, bagging {bags} tagged bags, palletising, shipping, receiving, invoice), batches of {batch}, {cores} cores"
    );

    let registrar = scenario::seeded_key("bench registrar");
    let streams: Vec<Stream> = (0..concurrency)
        .map(|c| stream(c, chains, bags, &registrar))
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

    if stages {
        admission_stages(&streams)?;
    }
    let server = BenchServer::fresh("ingest", &registrar, batch.max(1000))?;
    let (tally, elapsed, cpu) = timed(&server.base, &streams, &bodies, total)?;
    server.stop()?;
    let embedded = report(tally, total, elapsed, cpu, cores)?;
    let ceiling = ed25519_ceiling(Duration::from_secs(2))?;
    let own = own_check_ceiling(Duration::from_secs(2))?;
    println!("ceiling: {ceiling:.0} strict Ed25519 verifications/s on {cores} cores");
    println!(
        "  by the server's own strict check: {own:.0}/s, ratio_to_own_check={:.3}",
        embedded / own
    );
    println!("ratio={:.3}", embedded / ceiling);
    if let Some(url) = store {
        let work = replicated::Workload {
            registrar: &registrar,
            streams: &streams,
            bodies: &bodies,
            total,
            batch,
        };
        replicated::run(url, &work, read_secs, embedded, cores)?;
    }
    Ok(())
}

/// Times admission's stages on one core, without the server: where an event's CPU goes before
/// it reaches the sequencer. Each stage runs over every event of the mix; the best of five
/// passes is printed, so a noisy neighbour inflates no figure. Stages overlap: `admit` is the
/// whole, `verify` includes the canonical forms and `Ed25519` is the bare curve check the
/// ceiling counts.
fn admission_stages(streams: &[Stream]) -> Result<()> {
    use lotline_profile::{event, event_hash, profile, terms};
    let events: Vec<&Value> = streams.iter().flat_map(|s| &s.events).collect();
    let bodies: Vec<Vec<u8>> = events
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<_, _>>()?;
    // Every stage must succeed on every event, or its figure would time an early refusal.
    let time = |name: &str, f: &dyn Fn(usize) -> bool| -> Result<()> {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for i in 0..events.len() {
                if !f(i) {
                    bail!("admission stage {name} failed on event {i}");
                }
            }
            best = best.min(t.elapsed().as_secs_f64() * 1e6 / events.len().max(1) as f64);
        }
        println!("  {name:<24} {best:6.1} µs/event");
        Ok(())
    };
    let limits = data_integrity::json::Limits::default();
    let key = data_integrity::didkey::generate()?;
    let vk = key.verifying_key();
    let signature = ed25519_dalek::Signer::sign(&key, &[7u8; 64]);
    println!(
        "admission stages, one core, best of 5 passes over the {} events:",
        events.len()
    );
    time("parse (strict JSON)", &|i| {
        data_integrity::json::parse(&bodies[i], &limits).is_ok()
    })?;
    time("admit (all below)", &|i| event::admit(events[i]).is_ok())?;
    time("verify (eddsa-jcs-2022)", &|i| {
        di::verify_with_canonical(events[i]).is_ok()
    })?;
    time("  of which Ed25519", &|_| {
        data_integrity::ed25519::verify_strict(&vk, &[7u8; 64], &signature)
    })?;
    time("  (dalek's verify_strict)", &|_| {
        vk.verify_strict(&[7u8; 64], &signature).is_ok()
    })?;
    time("profile and schema", &|i| {
        profile::interpret(events[i]).is_ok()
    })?;
    time("CBV event hash", &|i| {
        event_hash::pre_hash(events[i]).is_ok()
    })?;
    time("index terms", &|i| !terms::terms(events[i]).is_empty())?;
    Ok(())
}

/// Registers the actors (untimed), then submits every stream at once: what the clients saw,
/// how long it took, and the CPU the process used meanwhile.
fn timed(
    base: &str,
    streams: &[Stream],
    bodies: &[Vec<Vec<u8>>],
    total: usize,
) -> Result<(Tally, Duration, Option<Duration>)> {
    register(base, streams)?;
    let tally = Tally::new(total);
    let rocks_before = rocksdb_figures(base);
    let threads_before = ThreadCpu::now();
    let cpu_before = process_cpu();
    let started = Instant::now();
    send_all(base, bodies, &tally);
    let elapsed = started.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(a, b)| a.saturating_sub(b));
    let parts = ThreadCpu::now().since(&threads_before);
    if let (Some(cpu), Some((_, server))) = (cpu, parts.split_last()) {
        // The last part, clients and other, is what the server's threads do not cover: the
        // clients' threads have ended by now, so only the process total still counts them.
        let per_event = |d: Duration| d.as_secs_f64() * 1e6 / total.max(1) as f64;
        let mut line = String::new();
        for (part, used) in server {
            line.push_str(&format!("{part} {:.0}, ", per_event(*used)));
        }
        let other = cpu.saturating_sub(server.iter().map(|p| p.1).sum());
        println!(
            "cpu by thread, core-µs per event (10 ms ticks): {line}{} {:.0}",
            PARTS[PARTS.len() - 1],
            per_event(other)
        );
    }
    if let Some((after, before)) = rocksdb_figures(base).zip(rocks_before) {
        print_written(&before, &after, total);
    }
    Ok((tally, elapsed, cpu))
}

/// The server's RocksDB figures from its metrics, as `(property, column family, value)` (the
/// column family empty for database-wide ones; for the replicated deployment, the sequencer
/// node's own store: the shared log's PostgreSQL writes are not counted); `None` if the metrics
/// cannot be read.
fn rocksdb_figures(base: &str) -> Option<Vec<(String, String, u64)>> {
    let (status, text) = Client::new(base, 0).ok()?.get_text("/metrics").ok()?;
    if status != 200 {
        return None;
    }
    let label = |labels: &str, name: &str| -> Option<String> {
        let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
        let len = labels[start..].find('"')?;
        Some(labels[start..start + len].to_owned())
    };
    Some(
        text.lines()
            .filter_map(|l| {
                let labels = l.strip_prefix("lotline_rocksdb_property{")?;
                let (labels, value) = labels.rsplit_once("} ")?;
                Some((
                    label(labels, "property")?,
                    label(labels, "cf").unwrap_or_default(),
                    value.parse().ok()?,
                ))
            })
            .collect(),
    )
}

/// What the timed part wrote to RocksDB, from the figures before and after it: write-ahead log
/// bytes per event, and entries per event by column family (RocksDB's estimate of keys, which
/// counts each write of a key while it is still in the memtable).
fn print_written(before: &[(String, String, u64)], after: &[(String, String, u64)], total: usize) {
    let per_event = |n: u64| n as f64 / total.max(1) as f64;
    let grown = |property: &str| -> Vec<(&str, u64)> {
        after
            .iter()
            .filter(|a| a.0 == property)
            .map(|a| {
                let was = before
                    .iter()
                    .find(|b| b.0 == a.0 && b.1 == a.1)
                    .map_or(0, |b| b.2);
                (a.1.as_str(), a.2.saturating_sub(was))
            })
            .collect()
    };
    if let Some((_, wal)) = grown("rocksdb.wal.bytes").first() {
        println!(
            "written: {:.0} bytes of RocksDB write-ahead log per event (entry, state and indexes)",
            per_event(*wal)
        );
    }
    let mut keys = grown("rocksdb.estimate-num-keys");
    keys.retain(|k| k.1 > 0);
    keys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if !keys.is_empty() {
        let line: Vec<String> = keys
            .iter()
            .map(|(cf, n)| format!("{cf} {:.1}", per_event(*n)))
            .collect();
        println!(
            "RocksDB entries per event: {:.1} ({})",
            per_event(keys.iter().map(|k| k.1).sum()),
            line.join(", ")
        );
    }
}

/// The replicated deployment: ingest through its sequencer and buyer reads from its nodes.
mod replicated {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use anyhow::{Context as _, Result, bail};
    use ed25519_dalek::SigningKey;
    use lotline::cli::Client;
    use lotline_scenario as scenario;

    use super::{BenchServer, Stream, report, timed};
    use crate::measure::percentile;

    /// Nodes of the deployment, all in this process.
    const NODES: usize = 3;

    /// What the embedded run sent, sent again to the deployment.
    pub struct Workload<'a> {
        pub registrar: &'a SigningKey,
        pub streams: &'a [Stream],
        pub bodies: &'a [Vec<Vec<u8>>],
        pub total: usize,
        pub batch: usize,
    }

    pub fn run(
        url: &str,
        work: &Workload<'_>,
        read_secs: u64,
        embedded: f64,
        cores: usize,
    ) -> Result<()> {
        // A schema of its own: the run never touches a log already in that database.
        let schema = format!("lotline_bench_{}", std::process::id());
        let mut admin = postgres::Client::connect(url, postgres::NoTls)
            .context("connecting to the --store database")?;
        admin.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))?;
        let sep = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{sep}options=-csearch_path%3D{schema}");
        let outcome = run_in(&scoped, work, read_secs, embedded, cores);
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
        outcome
    }

    fn run_in(
        url: &str,
        work: &Workload<'_>,
        read_secs: u64,
        embedded: f64,
        cores: usize,
    ) -> Result<()> {
        let Workload {
            registrar,
            streams,
            bodies,
            total,
            batch,
        } = *work;
        let log_key = scenario::seeded_key("bench replicated log");
        let nodes: Vec<BenchServer> = (0..NODES)
            .map(|i| {
                BenchServer::start(
                    &format!("node{i}"),
                    registrar,
                    batch.max(1000),
                    Some((url, &log_key)),
                )
            })
            .collect::<Result<_>>()?;
        let sequencer = wait_for_sequencer(&nodes)?;
        println!(
            "replicated: {NODES} nodes in this process on one PostgreSQL deployment; node {sequencer} sequences"
        );
        let (tally, elapsed, cpu) = timed(&nodes[sequencer].base, streams, bodies, total)?;
        let replicated = report(tally, total, elapsed, cpu, cores)?;
        println!("ratio_to_embedded={:.3}", replicated / embedded);

        // Buyer reads: the provenance of the first chain's pallet (its whole history).
        let pallet = scenario::sscc(1).replace(':', "%3A");
        let path = format!("/v1/lots/{pallet}/provenance");
        let size = Client::new(&nodes[sequencer].base, 3)?
            .get_text("/v1/log")
            .map(|(_, t)| {
                serde_json::from_str::<serde_json::Value>(&t).unwrap_or_default()["size"]
                    .as_u64()
                    .unwrap_or(0)
            })?;
        for n in &nodes {
            wait_for_checkpoint(&n.base, size)?;
        }
        let one = read_load(&nodes[..1], &path, read_secs)?;
        let all = read_load(&nodes, &path, read_secs)?;
        println!(
            "buyer reads (provenance, {READERS} clients): 1 node {:.0} req/s (p50 {:.1} ms, p99 {:.1} ms); {NODES} nodes {:.0} req/s (p50 {:.1} ms, p99 {:.1} ms); ratio {:.2}",
            one.0,
            one.1,
            one.2,
            all.0,
            all.1,
            all.2,
            all.0 / one.0
        );
        println!(
            "(all {NODES} nodes share this machine's {cores} cores: on separate machines each adds its own)"
        );
        for n in nodes {
            n.stop()?;
        }
        Ok(())
    }

    fn role(base: &str) -> Option<String> {
        let (_, t) = Client::new(base, 0).ok()?.get_text("/v1/log").ok()?;
        let v: serde_json::Value = serde_json::from_str(&t).ok()?;
        v["replica"]["role"].as_str().map(str::to_owned)
    }

    fn wait_for_sequencer(nodes: &[BenchServer]) -> Result<usize> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = nodes
                .iter()
                .position(|n| role(&n.base).as_deref() == Some("sequencer"))
            {
                return Ok(i);
            }
            if Instant::now() > deadline {
                bail!("no node became the sequencer in 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for_checkpoint(base: &str, size: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = Client::new(base, 3)?;
        loop {
            let (_, t) = client.get_text("/v1/log")?;
            let v: serde_json::Value = serde_json::from_str(&t)?;
            if v["checkpoint"]["size"].as_u64().unwrap_or(0) >= size {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{base} did not catch up with {size} entries in 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Concurrent buyers.
    const READERS: usize = 8;

    /// `READERS` clients GET `path` round-robin over `nodes` for `secs`: requests/s, p50, p99 (ms).
    fn read_load(nodes: &[BenchServer], path: &str, secs: u64) -> Result<(f64, f64, f64)> {
        let stop = AtomicBool::new(false);
        let lat = Mutex::new(Vec::new());
        let failures = Mutex::new(Vec::new());
        let started = Instant::now();
        std::thread::scope(|s| {
            for r in 0..READERS {
                let (stop, lat, failures) = (&stop, &lat, &failures);
                let base = nodes[r % nodes.len()].base.clone();
                s.spawn(move || {
                    let Ok(client) = Client::new(&base, 0) else {
                        return;
                    };
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        match client.get_text(path) {
                            Ok((200, _)) => mine.push(t.elapsed()),
                            Ok((status, body)) => {
                                failures.lock().unwrap().push(format!("{status}: {body}"));
                                break;
                            }
                            Err(e) => {
                                failures.lock().unwrap().push(e.to_string());
                                break;
                            }
                        }
                    }
                    lat.lock().unwrap().extend(mine);
                });
            }
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
        });
        let elapsed = started.elapsed();
        if let Some(f) = failures.into_inner().unwrap().first() {
            bail!("a buyer read failed: {f}");
        }
        let mut lat = lat.into_inner().unwrap();
        lat.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Ok((
            lat.len() as f64 / elapsed.as_secs_f64(),
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
        ))
    }
}

/// Documents of one client's stream: its actors' registrations (signed by the registrar),
/// then `chains` supply chains of eleven events each, in the order they must be applied.
struct Stream {
    registrations: Vec<Value>,
    events: Vec<Value>,
}

/// One client's four actors, with their roles.
const ACTORS: [(&str, &[&str]); 4] = [
    ("farm", &["farm"]),
    ("collector", &["collector"]),
    ("mill", &["mill", "packer"]),
    ("exporter", &["exporter"]),
];
/// The actors, by their index in [`ACTORS`].
const FARM: usize = 0;
const COLLECTOR: usize = 1;
const MILL: usize = 2;
const EXPORTER: usize = 3;

/// Client `client`'s actors and `chains` rice chains, signed.
fn stream(client: usize, chains: usize, bags: usize, registrar: &SigningKey) -> Result<Stream> {
    let keys: Vec<SigningKey> = ACTORS
        .iter()
        .map(|(name, _)| scenario::seeded_key(&format!("bench {client} {name}")))
        .collect();
    let ids: Vec<String> = (0..ACTORS.len())
        .map(|i| scenario::pgln((client * 10 + i + 1) as u32))
        .collect();
    let registrations = (0..ACTORS.len())
        .map(|i| {
            let (name, roles) = ACTORS[i];
            let doc = scenario::register(
                None,
                "2026-01-01T00:00:00+07:00",
                &ids[i],
                name,
                ("KH", "Battambang"),
                roles,
                &[scenario::did(&keys[i])],
                None,
            );
            di::sign(&doc, registrar, SIGNED)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let docs: Vec<(usize, Value)> = (0..chains)
        .flat_map(|k| rice_chain(client, k, bags, &ids))
        .collect();
    let events = docs
        .into_par_iter()
        .map(|(who, doc)| di::sign(&doc, &keys[who], SIGNED))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Stream {
        registrations,
        events,
    })
}

/// An event time: `day` days after 1 October 2026.
fn at(day: u32) -> String {
    format!("2026-10-{:02}T08:00:00+07:00", 1 + day)
}

/// Chain `k` of client `client`, what a rice chain logs for one lot, each document with the
/// index of its signer in [`ACTORS`]: harvest, farm → collector → mill (shipping and receiving
/// twice), then [`mill_to_exporter`]. Every rule applies: keys, roles, custody, balances,
/// yields.
fn rice_chain(client: usize, k: usize, bags: usize, ids: &[String]) -> Vec<(usize, Value)> {
    use scenario::*;
    let tag = format!("B{client}-{k}");
    let (farm, collector, mill) = (&ids[FARM], &ids[COLLECTOR], &ids[MILL]);
    let paddy = lgtin(PADDY, &tag);
    let moved = [kg(&paddy, 5000.0)];
    let field = plot(&format!("P{client}-{k}"), "Battambang", 2.0, 103.2, 13.1);
    let mut docs = vec![
        (
            FARM,
            harvest(
                None,
                &at(0),
                &paddy,
                5000.0,
                farm,
                "rice",
                Some("Sen Kra'ob"),
                field,
                "organic",
            ),
        ),
        (FARM, movement(true, &at(1), farm, collector, &[], &moved)),
        (
            COLLECTOR,
            movement(false, &at(1), farm, collector, &[], &moved),
        ),
        (
            COLLECTOR,
            movement(true, &at(2), collector, mill, &[], &moved),
        ),
        (MILL, movement(false, &at(3), collector, mill, &[], &moved)),
    ];
    docs.extend(mill_to_exporter(client, k, bags, &tag, &paddy, ids));
    docs
}

/// The rest of chain `k`: milling into four products, bagging the 2,500 kg of head rice into
/// `bags` tagged bags (50 of 50 kg by default), palletising, shipping the pallet to the
/// exporter, receiving it, and an invoice.
fn mill_to_exporter(
    client: usize,
    k: usize,
    bags: usize,
    tag: &str,
    paddy: &str,
    ids: &[String],
) -> Vec<(usize, Value)> {
    use scenario::*;
    let (mill, exporter) = (&ids[MILL], &ids[EXPORTER]);
    let head = lgtin(HEAD_RICE, tag);
    // Whole grams, rounded down, so that the bags never weigh more than the head rice. Every
    // size keeps the 50 kg bag's GTIN: the rules weigh the bags, not the trade item's name.
    let bag_kg = (2_500_000 / bags) as f64 / 1000.0;
    let stride = serial_stride(bags);
    let bags: Vec<String> = (0..bags)
        .map(|i| {
            sgtin(
                HEAD_RICE_BAG_50KG,
                client * SERIALS_PER_CLIENT + k * stride + i,
            )
        })
        .collect();
    let pallet = sscc((client * 1_000_000 + k + 1) as u64);
    let pallets = std::slice::from_ref(&pallet);
    let invoice = format!("urn:epcglobal:cbv:bt:8841234000019:INV-{tag}");
    vec![
        (
            MILL,
            transform(
                &at(4),
                "milling",
                &[kg(paddy, 5000.0)],
                &[
                    (head.clone(), 2500.0, Some("head-rice")),
                    (lgtin(BROKEN_RICE, tag), 750.0, Some("broken-rice")),
                    (lgtin(BRAN, tag), 450.0, Some("bran")),
                    (lgtin(HUSK, tag), 1000.0, Some("husk")),
                ],
            ),
        ),
        (MILL, bagging(&at(5), kg(&head, 2500.0), &bags, bag_kg)),
        (MILL, aggregation(true, &at(6), &pallet, &bags)),
        (MILL, movement(true, &at(7), mill, exporter, pallets, &[])),
        (
            EXPORTER,
            movement(false, &at(8), mill, exporter, pallets, &[]),
        ),
        (
            EXPORTER,
            transaction(&at(9), pallets, &[], &[("inv", &invoice)]),
        ),
    ]
}

/// Registers every stream's actors, untimed: actors must exist before their events.
fn register(base: &str, streams: &[Stream]) -> Result<()> {
    let setup = Client::new(base, 3)?;
    let regs: Vec<&Value> = streams.iter().flat_map(|s| &s.registrations).collect();
    let (status, v) = setup.post("/v1/events/batch", &serde_json::to_vec(&regs)?)?;
    if status != 200 || v["accepted"].as_u64() != Some(regs.len() as u64) {
        bail!("registering the benchmark's actors failed: {status} {v}");
    }
    Ok(())
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

/// What the clients saw in the timed part, shared by all of them.
struct Tally {
    /// One receipt latency per accepted event: its batch's.
    latencies: Mutex<Vec<Duration>>,
    accepted: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    /// A tally with room for `events` latencies, so that none is reallocated while timed.
    fn new(events: usize) -> Tally {
        Tally {
            latencies: Mutex::new(Vec::with_capacity(events)),
            accepted: AtomicUsize::new(0),
            failures: Mutex::new(Vec::new()),
        }
    }

    fn fail(&self, what: String) {
        let _ = self.failures.lock().map(|mut f| f.push(what));
    }

    /// A batch answered 200 with `text` after `took`. Only the count and any refusal are
    /// needed: the receipts are skipped unparsed, so the client takes little of the cores it
    /// shares with the server.
    fn answered(&self, took: Duration, text: &str) {
        let answer: BatchAnswer = match serde_json::from_str(text) {
            Ok(a) => a,
            Err(e) => return self.fail(e.to_string()),
        };
        let ok = answer.accepted;
        self.accepted.fetch_add(ok, Ordering::Relaxed);
        if let Ok(mut l) = self.latencies.lock() {
            l.extend(std::iter::repeat_n(took, ok));
        }
        if let Some(p) = answer.results.into_iter().find_map(|r| r.problem) {
            self.fail(p.to_string());
        }
    }
}

/// Sends every client's stream of batch `bodies` at once, one thread per client.
fn send_all(base: &str, bodies: &[Vec<Vec<u8>>], tally: &Tally) {
    std::thread::scope(|s| {
        for stream in bodies {
            s.spawn(move || send_stream(base, stream, tally));
        }
    });
}

/// One client: its own stream in order, one batch at a time, as a site would.
fn send_stream(base: &str, stream: &[Vec<u8>], tally: &Tally) {
    let client = match Client::new(base, 3) {
        Ok(c) => c,
        Err(e) => return tally.fail(e.to_string()),
    };
    for body in stream {
        let t = Instant::now();
        match client.post_text("/v1/events/batch", body) {
            Ok((200, text)) => tally.answered(t.elapsed(), &text),
            Ok((status, text)) => tally.fail(format!("{status}: {text}")),
            Err(e) => tally.fail(e.to_string()),
        }
    }
}

/// Prints the figures of the timed part (`total` events sent in `elapsed`, using `cpu`), then
/// the machine's ceiling and the `ratio=` line.
fn report(
    tally: Tally,
    total: usize,
    elapsed: Duration,
    cpu: Option<Duration>,
    cores: usize,
) -> Result<f64> {
    let failures = tally.failures.into_inner().unwrap_or_default();
    if let Some(f) = failures.first() {
        bail!("{} batches had failures; first: {f}", failures.len());
    }
    let accepted = tally.accepted.into_inner();
    if accepted != total {
        bail!("only {accepted} of {total} events were accepted");
    }
    let mut lat = tally.latencies.into_inner().unwrap_or_default();
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
    Ok(eps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chains `--bags` makes are accepted whole by the real server at the ends of its range
    /// and in between: the bags never weigh more than the head rice they are packed from, and
    /// no two bags share a serial.
    #[test]
    fn chains_with_any_allowed_bag_count_are_accepted_whole() -> Result<()> {
        let registrar = scenario::seeded_key("bench registrar");
        let streams: Vec<Stream> = [1, 7, MAX_BAGS]
            .into_iter()
            .enumerate()
            .map(|(client, bags)| stream(client, 2, bags, &registrar))
            .collect::<Result<_>>()?;
        let total: usize = streams.iter().map(|s| s.events.len()).sum();
        assert_eq!(total, 3 * 2 * CHAIN);
        let bodies: Vec<Vec<Vec<u8>>> = streams
            .iter()
            .map(|s| Ok(vec![serde_json::to_vec(&s.events)?]))
            .collect::<Result<_>>()?;
        let server = BenchServer::fresh("ingest-test", &registrar, 1000)?;
        register(&server.base, &streams)?;
        let tally = Tally::new(total);
        send_all(&server.base, &bodies, &tally);
        server.stop()?;
        assert_eq!(tally.failures.into_inner().unwrap(), Vec::<String>::new());
        assert_eq!(tally.accepted.into_inner(), total);
        Ok(())
    }
}
