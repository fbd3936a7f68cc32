//! `lotline bench recall`: latency of the audit queries that walk a lot's downstream graph, on a
//! small and a large ledger, through the real HTTP API.
//!
//! The claim under test is that a trace costs the part of the graph it touches, not the ledger:
//! both ledgers hold the same farm lot with the same fixed downstream graph (210 lots, bags and
//! units, 4 shipments, 4 recipients), the large one padded with a million unrelated harvests
//! (half before the chain, half after, as `bench provenance` does), so the ratio of the
//! latencies should stay near 1. Both ledgers stay up while the requests are timed, alternating
//! between them, so that load from elsewhere on the machine weighs on both alike. Each query is
//! one named request in [`requests`]; another audit query over the same chain is measured on
//! both ledgers by adding a line there.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde_json::Value;

use super::Client;
use super::bench::{BenchServer, audit_token, bench_dir, percentile};
use super::bench_provenance::{SIGNED, fill, filler, submit};
use data_integrity::di;
use lotline_scenario::{self as scenario, items::*};

/// Bags of 50 kg the chain's head rice fills, and pallets they go on.
const BAGS: usize = 200;
const PALLETS: usize = 4;

/// The chain every ledger holds: what the timed requests ask about.
struct Chain {
    /// The farm lot the trace starts from (an LGTIN class URI).
    root: String,
    /// The registrations of its actors, signed by the registrar.
    registrations: Vec<Value>,
    /// Its events, signed, in order.
    events: Vec<Value>,
    /// Lots and items (root, 4 milling outputs, bags) and units (pallets, container) downstream,
    /// shipments of any of it and their recipients.
    lots: usize,
    units: usize,
    shipments: usize,
    recipients: usize,
}

/// A farm's 20 t paddy lot → a mill: milled into head rice, broken rice, bran and husk; the head
/// rice bagged into 200 tagged bags on 4 pallets, shipped to an exporter, containerised and
/// exported to an importer; the broken rice sold to a local trader. Every rule applies.
fn chain(registrar: &SigningKey) -> Result<Chain> {
    use scenario::*;
    let names = [
        "farm",
        "mill",
        "exporter",
        "importer",
        "trader",
        "certifier",
    ];
    let roles: [&[&str]; 6] = [
        &["farm"],
        &["mill", "packer"],
        &["exporter", "packer"],
        &["importer"],
        &["collector"],
        &["certifier"],
    ];
    let keys: Vec<SigningKey> = names
        .iter()
        .map(|n| seeded_key(&format!("bench recall {n}")))
        .collect();
    let ids: Vec<String> = (0..names.len()).map(|i| pgln(7000 + i as u32)).collect();
    let registrations = (0..names.len())
        .map(|i| {
            let doc = register(
                None,
                "2026-01-01T00:00:00+07:00",
                &ids[i],
                &format!("Recall bench {}", names[i]),
                ("KH", "Battambang"),
                roles[i],
                &[did(&keys[i])],
                None,
            );
            di::sign(&doc, registrar, SIGNED)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (farm, mill, exporter, importer, trader, certifier) = (0, 1, 2, 3, 4, 5);
    let t = |day: u32| format!("2026-10-{day:02}T08:00:00+07:00");
    let root = lgtin(PADDY, "RC26-1");
    let head = lgtin(HEAD_RICE, "RC26-1");
    let broken = lgtin(BROKEN_RICE, "RC26-1");
    let bags: Vec<String> = (0..BAGS)
        .map(|i| sgtin(HEAD_RICE_BAG_50KG, 700_000 + i))
        .collect();
    let pallets: Vec<String> = (0..PALLETS as u64).map(|i| sscc(7_000_001 + i)).collect();
    let container = sscc(7_000_100);
    // Every actor of the chain is certified organic, so the chain is organic and withdrawing
    // the mill's certificate changes everything downstream of its milling.
    let scopes: [(usize, &[&str]); 5] = [
        (farm, &["production"]),
        (mill, &["handling", "processing"]),
        (exporter, &["handling", "export"]),
        (importer, &["handling", "import"]),
        (trader, &["handling"]),
    ];
    let mut docs: Vec<(usize, Value)> = scopes
        .iter()
        .map(|(who, activities)| {
            (
                certifier,
                certificate(
                    "2026-09-01T08:00:00+07:00",
                    &bench_cert(names[*who]),
                    &format!("RB-{}", names[*who]),
                    &ids[*who],
                    &[],
                    activities,
                    &["rice"],
                    ("2026-01-01", "2026-12-31"),
                ),
            )
        })
        .collect();
    docs.extend([(
        farm,
        harvest(
            None,
            &t(1),
            &root,
            20_000.0,
            &ids[farm],
            "rice",
            Some("Phka Rumduol"),
            plot("RC-1", "Battambang", 5.0, 103.2, 13.1),
            "organic",
        ),
    )]);
    docs.extend([
        (
            farm,
            movement(
                true,
                &t(2),
                &ids[farm],
                &ids[mill],
                &[],
                &[kg(&root, 20_000.0)],
            ),
        ),
        (
            mill,
            movement(
                false,
                &t(3),
                &ids[farm],
                &ids[mill],
                &[],
                &[kg(&root, 20_000.0)],
            ),
        ),
        (
            mill,
            transform(
                &t(4),
                "milling",
                &[kg(&root, 20_000.0)],
                &[
                    (head.clone(), 10_000.0, Some("head-rice")),
                    (broken.clone(), 3_000.0, Some("broken-rice")),
                    (lgtin(BRAN, "RC26-1"), 1_800.0, Some("bran")),
                    (lgtin(HUSK, "RC26-1"), 4_000.0, Some("husk")),
                ],
            ),
        ),
        (mill, bagging(&t(5), kg(&head, 10_000.0), &bags, 50.0)),
    ]);
    for (p, chunk) in pallets.iter().zip(bags.chunks(BAGS / PALLETS)) {
        docs.push((mill, aggregation(true, &t(6), p, chunk)));
    }
    docs.extend([
        (
            mill,
            movement(true, &t(7), &ids[mill], &ids[exporter], &pallets, &[]),
        ),
        (
            exporter,
            movement(false, &t(8), &ids[mill], &ids[exporter], &pallets, &[]),
        ),
        (exporter, aggregation(true, &t(9), &container, &pallets)),
        (
            exporter,
            movement(
                true,
                &t(10),
                &ids[exporter],
                &ids[importer],
                std::slice::from_ref(&container),
                &[],
            ),
        ),
        (
            importer,
            movement(
                false,
                &t(11),
                &ids[exporter],
                &ids[importer],
                std::slice::from_ref(&container),
                &[],
            ),
        ),
        (
            mill,
            movement(
                true,
                &t(12),
                &ids[mill],
                &ids[trader],
                &[],
                &[kg(&broken, 3_000.0)],
            ),
        ),
        (
            trader,
            movement(
                false,
                &t(13),
                &ids[mill],
                &ids[trader],
                &[],
                &[kg(&broken, 3_000.0)],
            ),
        ),
    ]);
    let events = docs
        .par_iter()
        .map(|(who, d)| di::sign(d, &keys[*who], SIGNED))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Chain {
        root,
        registrations,
        events,
        lots: 1 + 4 + BAGS,
        units: PALLETS + 1,
        shipments: 4,
        recipients: 4,
    })
}

/// The timed requests, by name: every audit query over the chain that should cost the graph
/// it touches, not the ledger. Each is measured on both ledgers and must answer 200.
fn requests(c: &Chain, token: &str) -> Vec<(&'static str, String)> {
    let root = c.root.replace(':', "%3A");
    let mill = bench_cert("mill").replace(':', "%3A").replace('/', "%2F");
    vec![
        (
            "downstream",
            format!("/v1/audit/lots/{root}/downstream?access_token={token}"),
        ),
        (
            "withdrawal impact",
            format!("/v1/audit/certificates/{mill}/impact?asOf=2026-10-01&access_token={token}"),
        ),
    ]
}

/// The certificate of the chain's actor `name`.
fn bench_cert(name: &str) -> String {
    format!("https://certifier.example/bench/{name}")
}

/// A built ledger, served.
struct Ledger {
    server: BenchServer,
    dir: std::path::PathBuf,
    client: Client,
    entries: u64,
}

impl Ledger {
    fn stop(self) -> Result<()> {
        let r = self.server.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        r
    }
}

/// Builds a ledger of `size` entries through the API: the chain in the middle of unrelated
/// harvests, and checks that the chain's trace is its fixed graph.
fn build(size: usize, tag: &str, chain: &Chain, registrar: &SigningKey) -> Result<Ledger> {
    let (filler_key, filler_id, filler_reg) = filler(
        &format!("bench recall filler {tag}"),
        9100 + u32::from(tag == "large"),
        registrar,
    )?;
    let dir = bench_dir("recall");
    let server = BenchServer::fresh(&dir, registrar, 1000)?;
    let base = server.base.clone();
    let built = (|| -> Result<(Client, u64)> {
        let client = Client::new(&base, 3)?;
        let mut setup = vec![filler_reg];
        setup.extend(chain.registrations.iter().cloned());
        submit(&client, &setup, 1000)?;
        let filler = size.saturating_sub(setup.len() + chain.events.len());
        let started = Instant::now();
        fill(&base, &filler_key, &filler_id, 0, filler / 2)?;
        submit(&client, &chain.events, 250)?;
        fill(&base, &filler_key, &filler_id, filler / 2, filler)?;
        let (_, log) = client.get_text("/v1/log")?;
        let entries = serde_json::from_str::<Value>(&log)?["size"]
            .as_u64()
            .unwrap_or(0);
        println!(
            "  built a ledger of {entries} entries in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        // The trace must be the chain's fixed graph, whatever else the ledger holds.
        let (status, body) = client.get_text(&requests(chain, &audit_token(registrar)?)[0].1)?;
        let v: Value = serde_json::from_str(&body)?;
        let got = &v["summary"];
        let want = [chain.lots, chain.units, chain.shipments, chain.recipients];
        if status != 200
            || ["lots", "units", "shipments", "recipients"]
                .iter()
                .zip(want)
                .any(|(k, n)| got[*k] != n)
        {
            bail!("the trace is not the chain's graph ({status}): {got}; expected {want:?}");
        }
        Ok((client, entries))
    })();
    match built {
        Ok((client, entries)) => Ok(Ledger {
            server,
            dir,
            client,
            entries,
        }),
        Err(e) => {
            let _ = server.stop();
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Times every named request on both ledgers, alternating request by request, so that whatever
/// else the machine does at the moment weighs on both alike. Latencies per ledger and request,
/// sorted, and each answer's size.
type Timings = Vec<Vec<(Vec<Duration>, usize)>>;

fn measure(
    ledgers: &[&Ledger],
    reqs: &[(&'static str, String)],
    samples: usize,
) -> Result<Timings> {
    let mut out: Timings = ledgers
        .iter()
        .map(|_| {
            reqs.iter()
                .map(|_| (Vec::with_capacity(samples), 0))
                .collect()
        })
        .collect();
    for ledger in ledgers {
        for (_, path) in reqs {
            ledger.client.get_text(path)?; // warm: the first read of the chain's keys
        }
    }
    for _ in 0..samples {
        for (r, (name, path)) in reqs.iter().enumerate() {
            for (l, ledger) in ledgers.iter().enumerate() {
                let t = Instant::now();
                let (status, body) = ledger.client.get_text(path)?;
                let took = t.elapsed();
                if status != 200 {
                    bail!("{name} {path}: {status} {body}");
                }
                out[l][r].0.push(took);
                out[l][r].1 = body.len();
            }
        }
    }
    for per_ledger in &mut out {
        for (lat, _) in per_ledger {
            lat.sort_unstable();
        }
    }
    Ok(out)
}

pub fn run(small: usize, large: usize, samples: usize) -> Result<()> {
    if small == 0 || large < small || samples == 0 {
        bail!("need 0 < --small <= --large and --samples >= 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "bench recall: downstream of a farm lot (milling, {BAGS} bags, {PALLETS} pallets, a container, export and a local sale: {} lots and items, {} units) on ledgers of {small} and {large} entries; {samples} requests each, alternating between the ledgers; {cores} cores",
        1 + 4 + BAGS,
        PALLETS + 1
    );
    let registrar = scenario::seeded_key("bench recall registrar");
    let chain = chain(&registrar)?;
    let reqs = requests(&chain, &audit_token(&registrar)?);
    println!("ledger of {small} entries:");
    let s = build(small, "small", &chain, &registrar)?;
    println!("ledger of {large} entries:");
    let l = match build(large, "large", &chain, &registrar) {
        Ok(l) => l,
        Err(e) => {
            let _ = s.stop();
            return Err(e);
        }
    };
    let timings = measure(&[&s, &l], &reqs, samples);
    let (se, le) = (s.entries, l.entries);
    let stopped = s.stop().and(l.stop());
    let timings = timings?;
    stopped?;
    for (r, (name, _)) in reqs.iter().enumerate() {
        for (i, entries) in [se, le].iter().enumerate() {
            let (lat, bytes) = &timings[i][r];
            println!(
                "  {name} on {entries} entries: p50 {:.1} ms, p99 {:.1} ms ({bytes} bytes)",
                ms(percentile(lat, 0.5)),
                ms(percentile(lat, 0.99)),
            );
        }
        let (a, b) = (&timings[0][r].0, &timings[1][r].0);
        let ratio =
            |p: f64| percentile(b, p).as_secs_f64() / percentile(a, p).as_secs_f64().max(1e-9);
        println!(
            "ratio {le} / {se} entries: {name} p50 {:.2}, p99 {:.2} (target near 1)",
            ratio(0.5),
            ratio(0.99)
        );
    }
    Ok(())
}
