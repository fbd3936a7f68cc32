//! `lotline-bench audit`: latency of an operator's mass balance through the real HTTP API, for
//! an operator with (by default) 100,000 events, on a ledger holding only those and on one
//! holding ten times as many unrelated events of other actors besides.
//!
//! The claim under test is that an audit costs the operator's history, not the ledger's size:
//! the ratio of the two latencies should stay near 1. The operator is a farm-mill (it harvests
//! its own organic paddy, mills it, bags and palletises head rice and ships everything to a
//! buyer, six events per batch of paddy), so every event is its own and moves goods; the other
//! actors' events are harvests, submitted between the operator's so that its entries are spread
//! through the log.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde_json::Value;

use crate::harness::{BenchServer, SIGNED, audit_token, ledger_size, submit};
use crate::measure::{self, cores, ms, percentile, process_cpu};
use data_integrity::di;
use lotline::cli::Client;
use lotline_scenario::{self as scenario, items::*};

/// Events of one cycle of the operator (see [`operator_events`]).
const CYCLE: usize = 6;
/// The operator's stream, and the other actors', is signed and sent in this many rounds.
const ROUNDS: usize = 10;
const OTHER_FARMS: usize = 10;

/// `2026-01-02T00:00:00Z` plus `minutes`.
fn at(minutes: usize) -> String {
    let t = time::macros::datetime!(2026-01-02 00:00 UTC) + time::Duration::minutes(minutes as i64);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Cycle `k` of the operator: harvest 5,000 kg of organic paddy, mill it (0.65, half of it
/// head rice), bag 500 kg of head rice in 10 tagged sacks, put them on a pallet, ship the
/// pallet, ship the rest. One cycle every 20 minutes from 2 January 2026.
fn operator_events(k: usize, op: &str, buyer: &str) -> Vec<Value> {
    use scenario::*;
    let tag = format!("A{k}");
    let (paddy, head, broken, husk) = (
        lgtin(PADDY, &tag),
        lgtin(HEAD_RICE, &tag),
        lgtin(BROKEN_RICE, &tag),
        lgtin(HUSK, &tag),
    );
    let t = |i: usize| at(k * 20 + i);
    let bags: Vec<String> = (0..10)
        .map(|i| sgtin(HEAD_RICE_BAG_50KG, k * 10 + i))
        .collect();
    let pallet = sscc(k as u64 + 1);
    let field = plot(&format!("A{k}"), "Battambang", 2.0, 103.2, 13.1);
    vec![
        harvest(
            None,
            &t(0),
            &paddy,
            5000.0,
            op,
            "rice",
            Some("Phka Rumduol"),
            field,
            "organic",
        ),
        transform(
            &t(1),
            "milling",
            &[kg(&paddy, 5000.0)],
            &[
                (head.clone(), 2500.0, Some("head-rice")),
                (broken.clone(), 750.0, Some("broken-rice")),
                (husk.clone(), 1750.0, Some("husk")),
            ],
        ),
        bagging(&t(2), kg(&head, 500.0), &bags, 50.0),
        aggregation(true, &t(3), &pallet, &bags),
        movement(true, &t(4), op, buyer, std::slice::from_ref(&pallet), &[]),
        movement(
            true,
            &t(5),
            op,
            buyer,
            &[],
            &[kg(&head, 2000.0), kg(&broken, 750.0), kg(&husk, 1750.0)],
        ),
    ]
}

/// Harvests `from..to` of the other farms (round robin), signed in parallel.
fn other_events(farms: &[(String, SigningKey)], from: usize, to: usize) -> Result<Vec<Value>> {
    (from..to)
        .into_par_iter()
        .map(|i| {
            let (id, key) = &farms[i % farms.len()];
            let lot = scenario::lgtin(PADDY, &format!("O{i}"));
            let field = scenario::plot(&format!("O{i}"), "Kampong Thom", 2.0, 104.9, 12.7);
            let doc = scenario::harvest(
                None,
                &at(i % 300_000),
                &lot,
                3000.0,
                id,
                "rice",
                None,
                field,
                "conventional",
            );
            Ok(di::sign(&doc, key, SIGNED)?)
        })
        .collect()
}

/// One ledger's figures.
struct Run {
    entries: u64,
    operator_events: usize,
    timed: Timed,
}

/// The timed mass-balance requests of one ledger.
struct Timed {
    /// Sorted.
    latencies: Vec<Duration>,
    /// CPU time of the process per request (server and client; the machine may be shared, so
    /// this is the figure that does not depend on what else runs).
    cpu: Option<Duration>,
    /// The answer's size.
    bytes: usize,
}

/// The actors of a run: the operator under audit, its buyer and the other farms, all
/// registered by the registrar.
struct Actors {
    registrar: SigningKey,
    op_key: SigningKey,
    op: String,
    buyer_key: SigningKey,
    buyer: String,
    farms: Vec<(String, SigningKey)>,
}

impl Actors {
    fn new() -> Actors {
        Actors {
            registrar: scenario::seeded_key("bench audit registrar"),
            op_key: scenario::seeded_key("bench audit operator"),
            op: scenario::pgln(31),
            buyer_key: scenario::seeded_key("bench audit buyer"),
            buyer: scenario::pgln(41),
            farms: (0..OTHER_FARMS)
                .map(|i| {
                    (
                        scenario::pgln(1000 + i as u32),
                        scenario::seeded_key(&format!("bench audit farm {i}")),
                    )
                })
                .collect(),
        }
    }

    /// Their registrations, signed by the registrar: the operator, the buyer, the other farms.
    fn registrations(&self) -> Result<Vec<Value>> {
        let reg = |id: &str, name: &str, roles: &[&str], key: &SigningKey| {
            di::sign(
                &scenario::register(
                    None,
                    "2026-01-01T00:00:00+07:00",
                    id,
                    name,
                    ("KH", "Battambang"),
                    roles,
                    &[scenario::did(key)],
                    None,
                ),
                &self.registrar,
                SIGNED,
            )
        };
        let mut setup = vec![
            reg(
                &self.op,
                "Farm-mill under audit",
                &["farm", "mill", "packer"],
                &self.op_key,
            )?,
            reg(&self.buyer, "Buyer", &["exporter"], &self.buyer_key)?,
        ];
        for (i, (id, key)) in self.farms.iter().enumerate() {
            setup.push(reg(id, &format!("Other farm {i}"), &["farm"], key)?);
        }
        Ok(setup)
    }
}

/// Builds a ledger with the operator's `cycles` and `others` unrelated events, then times
/// `samples` mass-balance requests.
fn ledger_run(cycles: usize, others: usize, samples: usize) -> Result<Run> {
    let actors = Actors::new();
    let setup = actors.registrations()?;
    let server = BenchServer::fresh("audit", &actors.registrar, 1000)?;
    let result = (|| -> Result<Run> {
        let client = Client::new(&server.base, 3)?;
        submit(&client, &setup, 1000)?;
        let started = Instant::now();
        let mut sent = 0;
        for round in 0..ROUNDS {
            sent += send_round(&server.base, &actors, round, cycles, others)?;
        }
        let entries = ledger_size(&client)?;
        println!(
            "  built a ledger of {entries} entries ({sent} of the operator's) in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        Ok(Run {
            entries,
            operator_events: sent,
            timed: time_mass_balance(&client, &actors, cycles, sent, samples)?,
        })
    })();
    server.stop()?;
    result
}

/// Round `round` of [`ROUNDS`]: signs its share of the operator's cycles and of the `others`
/// events, and sends the operator's in order on one client and the others' on two, at once.
/// Returns how many of the operator's it sent.
fn send_round(
    base: &str,
    actors: &Actors,
    round: usize,
    cycles: usize,
    others: usize,
) -> Result<usize> {
    let per_round = cycles.div_ceil(ROUNDS);
    let (from, to) = (round * per_round, ((round + 1) * per_round).min(cycles));
    let mine: Vec<Value> = (from..to)
        .into_par_iter()
        .flat_map_iter(|k| operator_events(k, &actors.op, &actors.buyer))
        .map(|d| di::sign(&d, &actors.op_key, SIGNED))
        .collect::<Result<_, _>>()?;
    let theirs = other_events(
        &actors.farms,
        others * round / ROUNDS,
        others * (round + 1) / ROUNDS,
    )?;
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = std::iter::once(mine.as_slice())
            .chain(theirs.chunks(theirs.len().div_ceil(2).max(1)))
            .map(|part| s.spawn(move || submit(&Client::new(base, 3)?, part, 500)))
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a submitting client panicked"))??;
        }
        Ok(())
    })?;
    Ok(mine.len())
}

/// Checks that the operator's mass balance replays all `sent` of its events and flags nothing,
/// then times `samples` requests of it. Half the operator's history lies before the period
/// (replayed for the opening stock), half in it: every request replays all of it.
fn time_mass_balance(
    client: &Client,
    actors: &Actors,
    cycles: usize,
    sent: usize,
    samples: usize,
) -> Result<Timed> {
    let mid = at(cycles * 20 / 2);
    // A registrar's audit token: audits are not public.
    let token = audit_token(&actors.registrar)?;
    let path = format!(
        "/v1/audit/operators/{}/mass-balance?from={}&to=2026-12-01&access_token={token}",
        actors.op.replace(':', "%3A"),
        mid.replace(':', "%3A")
    );
    let (status, body) = client.get_text(&path)?;
    if status != 200 {
        bail!("{path}: {status} {body}");
    }
    let v: Value = serde_json::from_str(&body)?;
    let replayed = v["summary"]["entriesInPeriod"].as_u64().unwrap_or(0)
        + v["summary"]["entriesBeforePeriod"].as_u64().unwrap_or(0);
    if replayed != sent as u64 || v["summary"]["flags"] != 0 {
        bail!(
            "the audit replayed {replayed} of {sent} entries and found {} flags: {}",
            v["summary"]["flags"],
            v["flags"]
        );
    }
    let mut latencies = Vec::with_capacity(samples);
    let cpu_before = process_cpu();
    for _ in 0..samples {
        let t = Instant::now();
        let (status, body) = client.get_text(&path)?;
        latencies.push(t.elapsed());
        if status != 200 {
            bail!("{path}: {status} {body}");
        }
    }
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(a, b)| a.saturating_sub(b) / samples as u32);
    latencies.sort_unstable();
    Ok(Timed {
        latencies,
        cpu,
        bytes: body.len(),
    })
}

pub fn run(events: usize, ratio: usize, samples: usize) -> Result<()> {
    if events < CYCLE || samples == 0 {
        bail!("need --events >= {CYCLE} and --samples >= 1");
    }
    let cycles = events.div_ceil(CYCLE);
    let cores = cores();
    println!(
        "bench audit: mass balance of a farm-mill with {} events (harvest, milling, bagging, palletising, 2 shipments per 5 t of paddy) on a ledger of only those and on one with {ratio}x as many other events; {samples} requests each; {cores} cores",
        cycles * CYCLE
    );
    let mut runs = Vec::new();
    for (label, others) in [("alone", 0), ("among others", cycles * CYCLE * ratio)] {
        println!("operator {label}:");
        let r = ledger_run(cycles, others, samples)?;
        let p50 = percentile(&r.timed.latencies, 0.5);
        println!(
            "  mass balance: p50 {:.0} ms, p99 {:.0} ms ({} bytes) = {:.0} operator events/s replayed",
            ms(p50),
            ms(percentile(&r.timed.latencies, 0.99)),
            r.timed.bytes,
            r.operator_events as f64 / p50.as_secs_f64().max(1e-9)
        );
        if let Some(cpu) = r.timed.cpu {
            println!(
                "  cpu: {:.0} ms per request = {:.0} events/s per core",
                ms(cpu),
                r.operator_events as f64 / cpu.as_secs_f64().max(1e-9)
            );
        }
        runs.push(r);
    }
    let (a, b) = (&runs[0], &runs[1]);
    println!(
        "ratio {} / {} entries: p50 {:.2}, p99 {:.2} (target <= 2: cost follows the operator's history)",
        b.entries,
        a.entries,
        measure::ratio(&a.timed.latencies, &b.timed.latencies, 0.5),
        measure::ratio(&a.timed.latencies, &b.timed.latencies, 0.99)
    );
    Ok(())
}
