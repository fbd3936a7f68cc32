//! `lotline-bench recall`: latency of the audit queries that walk a lot's downstream graph, on a
//! small and a large ledger, through the real HTTP API.
//!
//! The claim under test is that a trace costs the part of the graph it touches, not the ledger:
//! both ledgers hold the same farm lot with the same fixed downstream graph (210 lots, bags and
//! units, 4 shipments, 4 recipients), the large one padded with a million unrelated harvests
//! (half before the chain, half after, as `lotline-bench provenance` does), so the ratio of the
//! latencies should stay near 1. Both ledgers stay up while the requests are timed, alternating
//! between them, so that load from elsewhere on the machine weighs on both alike. Each query is
//! one named request in [`requests`]; another audit query over the same chain is measured on
//! both ledgers by adding a line there.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde_json::Value;

use crate::filler::Filler;
use crate::harness::{BenchServer, SIGNED, audit_token, ledger_size, submit};
use crate::measure::{cores, ms, percentile, ratio};
use data_integrity::di;
use lotline::cli::Client;
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

/// The chain's actors, by their index in [`NAMES`] and [`ROLES`].
const FARM: usize = 0;
const MILL: usize = 1;
const EXPORTER: usize = 2;
const IMPORTER: usize = 3;
const TRADER: usize = 4;
const CERTIFIER: usize = 5;
const NAMES: [&str; 6] = [
    "farm",
    "mill",
    "exporter",
    "importer",
    "trader",
    "certifier",
];
const ROLES: [&[&str]; 6] = [
    &["farm"],
    &["mill", "packer"],
    &["exporter", "packer"],
    &["importer"],
    &["collector"],
    &["certifier"],
];

/// A farm's 20 t paddy lot → a mill: milled into head rice, broken rice, bran and husk; the head
/// rice bagged into 200 tagged bags on 4 pallets, shipped to an exporter, containerised and
/// exported to an importer; the broken rice sold to a local trader. Every rule applies.
fn chain(registrar: &SigningKey) -> Result<Chain> {
    let keys: Vec<SigningKey> = NAMES
        .iter()
        .map(|n| scenario::seeded_key(&format!("bench recall {n}")))
        .collect();
    let ids = Ids::new();
    let registrations = (0..NAMES.len())
        .map(|i| {
            let doc = scenario::register(
                None,
                "2026-01-01T00:00:00+07:00",
                &ids.actors[i],
                &format!("Recall bench {}", NAMES[i]),
                ("KH", "Battambang"),
                ROLES[i],
                &[scenario::did(&keys[i])],
                None,
            );
            di::sign(&doc, registrar, SIGNED)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut docs = ids.certificates();
    docs.extend(ids.farm_to_mill());
    docs.extend(ids.bags_on_pallets());
    docs.extend(ids.export());
    docs.extend(ids.local_sale());
    let events = docs
        .par_iter()
        .map(|(who, d)| di::sign(d, &keys[*who], SIGNED))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Chain {
        root: ids.root,
        registrations,
        events,
        lots: 1 + 4 + BAGS,
        units: PALLETS + 1,
        shipments: 4,
        recipients: 4,
    })
}

/// What the chain's events name: its actors' ids (by index, as in [`NAMES`]), lots and units.
/// Its methods give the chain's documents step by step, each with the index of its signer.
struct Ids {
    actors: Vec<String>,
    root: String,
    head: String,
    broken: String,
    bags: Vec<String>,
    pallets: Vec<String>,
    container: String,
}

/// An event time: `day` of October 2026.
fn at(day: u32) -> String {
    format!("2026-10-{day:02}T08:00:00+07:00")
}

impl Ids {
    fn new() -> Ids {
        use scenario::*;
        Ids {
            actors: (0..NAMES.len()).map(|i| pgln(7000 + i as u32)).collect(),
            root: lgtin(PADDY, "RC26-1"),
            head: lgtin(HEAD_RICE, "RC26-1"),
            broken: lgtin(BROKEN_RICE, "RC26-1"),
            bags: (0..BAGS)
                .map(|i| sgtin(HEAD_RICE_BAG_50KG, 700_000 + i))
                .collect(),
            pallets: (0..PALLETS as u64).map(|i| sscc(7_000_001 + i)).collect(),
            container: sscc(7_000_100),
        }
    }

    /// Every actor of the chain is certified organic, so the chain is organic and withdrawing
    /// the mill's certificate changes everything downstream of its milling.
    fn certificates(&self) -> Vec<(usize, Value)> {
        let scopes: [(usize, &[&str]); 5] = [
            (FARM, &["production"]),
            (MILL, &["handling", "processing"]),
            (EXPORTER, &["handling", "export"]),
            (IMPORTER, &["handling", "import"]),
            (TRADER, &["handling"]),
        ];
        scopes
            .iter()
            .map(|(who, activities)| {
                (
                    CERTIFIER,
                    scenario::certificate(
                        "2026-09-01T08:00:00+07:00",
                        &bench_cert(NAMES[*who]),
                        &format!("RB-{}", NAMES[*who]),
                        &self.actors[*who],
                        &[],
                        activities,
                        &["rice"],
                        ("2026-01-01", "2026-12-31"),
                    ),
                )
            })
            .collect()
    }

    /// The farm harvests the root lot and ships it to the mill, which receives and mills it.
    fn farm_to_mill(&self) -> Vec<(usize, Value)> {
        use scenario::*;
        let (farm, mill, root) = (&self.actors[FARM], &self.actors[MILL], &self.root);
        let paddy = [kg(root, 20_000.0)];
        vec![
            (
                FARM,
                harvest(
                    None,
                    &at(1),
                    root,
                    20_000.0,
                    farm,
                    "rice",
                    Some("Phka Rumduol"),
                    plot("RC-1", "Battambang", 5.0, 103.2, 13.1),
                    "organic",
                ),
            ),
            (FARM, movement(true, &at(2), farm, mill, &[], &paddy)),
            (MILL, movement(false, &at(3), farm, mill, &[], &paddy)),
            (
                MILL,
                transform(
                    &at(4),
                    "milling",
                    &paddy,
                    &[
                        (self.head.clone(), 10_000.0, Some("head-rice")),
                        (self.broken.clone(), 3_000.0, Some("broken-rice")),
                        (lgtin(BRAN, "RC26-1"), 1_800.0, Some("bran")),
                        (lgtin(HUSK, "RC26-1"), 4_000.0, Some("husk")),
                    ],
                ),
            ),
        ]
    }

    /// The mill bags the head rice and puts the bags on the pallets.
    fn bags_on_pallets(&self) -> Vec<(usize, Value)> {
        use scenario::*;
        let mut docs = vec![(
            MILL,
            bagging(&at(5), kg(&self.head, 10_000.0), &self.bags, 50.0),
        )];
        for (p, chunk) in self.pallets.iter().zip(self.bags.chunks(BAGS / PALLETS)) {
            docs.push((MILL, aggregation(true, &at(6), p, chunk)));
        }
        docs
    }

    /// The pallets go to the exporter, into the container, and on to the importer.
    fn export(&self) -> Vec<(usize, Value)> {
        use scenario::*;
        let (mill, exporter) = (&self.actors[MILL], &self.actors[EXPORTER]);
        let importer = &self.actors[IMPORTER];
        let container = std::slice::from_ref(&self.container);
        vec![
            (
                MILL,
                movement(true, &at(7), mill, exporter, &self.pallets, &[]),
            ),
            (
                EXPORTER,
                movement(false, &at(8), mill, exporter, &self.pallets, &[]),
            ),
            (
                EXPORTER,
                aggregation(true, &at(9), &self.container, &self.pallets),
            ),
            (
                EXPORTER,
                movement(true, &at(10), exporter, importer, container, &[]),
            ),
            (
                IMPORTER,
                movement(false, &at(11), exporter, importer, container, &[]),
            ),
        ]
    }

    /// The mill sells the broken rice to the local trader.
    fn local_sale(&self) -> Vec<(usize, Value)> {
        use scenario::*;
        let (mill, trader) = (&self.actors[MILL], &self.actors[TRADER]);
        let broken = [kg(&self.broken, 3_000.0)];
        vec![
            (MILL, movement(true, &at(12), mill, trader, &[], &broken)),
            (TRADER, movement(false, &at(13), mill, trader, &[], &broken)),
        ]
    }
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
    client: Client,
    entries: u64,
}

/// Builds a ledger of `size` entries through the API: the chain in the middle of unrelated
/// harvests, and checks that the chain's trace is its fixed graph.
fn build(size: usize, tag: &str, chain: &Chain, registrar: &SigningKey) -> Result<Ledger> {
    let filler = Filler::new(
        &format!("bench recall filler {tag}"),
        9100 + u32::from(tag == "large"),
        registrar,
    )?;
    let server = BenchServer::fresh("recall", registrar, 1000)?;
    let built = (|| -> Result<(Client, u64)> {
        let client = Client::new(&server.base, 3)?;
        let mut setup = vec![filler.registration.clone()];
        setup.extend(chain.registrations.iter().cloned());
        submit(&client, &setup, 1000)?;
        let harvests = size.saturating_sub(setup.len() + chain.events.len());
        let started = Instant::now();
        filler.fill(&server.base, 0, harvests / 2)?;
        submit(&client, &chain.events, 250)?;
        filler.fill(&server.base, harvests / 2, harvests)?;
        let entries = ledger_size(&client)?;
        println!(
            "  built a ledger of {entries} entries in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        check_trace(&client, chain, registrar)?;
        Ok((client, entries))
    })();
    match built {
        Ok((client, entries)) => Ok(Ledger {
            server,
            client,
            entries,
        }),
        Err(e) => {
            let _ = server.stop();
            Err(e)
        }
    }
}

/// The trace must be the chain's fixed graph, whatever else the ledger holds.
fn check_trace(client: &Client, chain: &Chain, registrar: &SigningKey) -> Result<()> {
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
    Ok(())
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
    let cores = cores();
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
            let _ = s.server.stop();
            return Err(e);
        }
    };
    let timings = measure(&[&s, &l], &reqs, samples);
    let (se, le) = (s.entries, l.entries);
    let stopped = s.server.stop().and(l.server.stop());
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
        println!(
            "ratio {le} / {se} entries: {name} p50 {:.2}, p99 {:.2} (target near 1)",
            ratio(a, b, 0.5),
            ratio(a, b, 0.99)
        );
    }
    Ok(())
}
