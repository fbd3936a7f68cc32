//! `lotline bench provenance`: provenance and bundle latency for a lot with about 200 upstream
//! events, on a small and a large ledger, through the real HTTP API; and the offline
//! verification rate of a 1,000-event bundle next to the machine's Ed25519 ceiling.
//!
//! The claim under test is that cost follows the lot's history, not the ledger's size: the
//! large ledger is filled with unrelated harvests (half before the lot's history, half after),
//! and the ratio of the latencies should stay near 1 (the proofs grow with log2 of the size).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde_json::Value;

use super::Client;
use super::bench::{BenchServer, bench_dir, ed25519_ceiling, percentile};
use crate::provenance::{self, Bundle};
use data_integrity::di;
use lotline_scenario::{self as scenario, items::*};
use tlog::note::VerifierKey;

pub(super) const SIGNED: &str = "2026-11-20T01:15:00Z";

/// A lot's history: `lots` farm lots harvested by `farms` farms, each shipped to a collector
/// and received (3 events per lot), the collector's shipment of all of them to a mill, milling,
/// bagging, palletising, containerising, and the container's two legs to an importer: `3 × lots
/// + 10` events. Returns the registrations, the events in order, and the container's SSCC.
pub(super) fn history(
    tag: &str,
    base: usize,
    farms: usize,
    lots: usize,
    registrar: &SigningKey,
) -> Result<(Vec<Value>, Vec<Value>, String)> {
    use scenario::*;
    let n = |i: usize| i as u32;
    let party = |name: &str| seeded_key(&format!("bench provenance {tag} {name}"));
    let farm_keys: Vec<SigningKey> = (0..farms).map(|i| party(&format!("farm {i}"))).collect();
    let others = ["collector", "mill", "exporter", "importer"];
    let other_keys: Vec<SigningKey> = others.iter().map(|o| party(o)).collect();
    let farm_ids: Vec<String> = (0..farms).map(|i| pgln(n(base + i))).collect();
    let ids: Vec<String> = (0..4).map(|i| pgln(n(base + 500 + i))).collect();
    let roles: [&[&str]; 4] = [
        &["collector"],
        &["mill", "packer"],
        &["exporter"],
        &["importer"],
    ];
    let mut regs = Vec::new();
    for (i, k) in farm_keys.iter().enumerate() {
        regs.push(register(
            None,
            "2026-01-01T00:00:00+07:00",
            &farm_ids[i],
            &format!("Farm {i} of {tag}"),
            ("KH", "Battambang"),
            &["farm"],
            &[did(k)],
            None,
        ));
    }
    for i in 0..4 {
        regs.push(register(
            None,
            "2026-01-01T00:00:00+07:00",
            &ids[i],
            &format!("{} of {tag}", others[i]),
            ("KH", "Battambang"),
            roles[i],
            &[did(&other_keys[i])],
            None,
        ));
    }
    let regs = regs
        .par_iter()
        .map(|d| di::sign(d, registrar, SIGNED))
        .collect::<Result<Vec<_>, _>>()?;
    let (collector, mill, exporter, importer) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let t = |day: u32, hour: usize| format!("2026-10-{:02}T{:02}:00:00+07:00", day, 6 + hour % 12);
    // (signer: farm i, or 100 + other), document
    let mut docs: Vec<(usize, Value)> = Vec::new();
    let paddy: Vec<String> = (0..lots)
        .map(|i| lgtin(PADDY, &format!("{tag}-{i}")))
        .collect();
    for (i, lot) in paddy.iter().enumerate() {
        let f = i % farms;
        let field = plot(&format!("{tag}-P{i}"), "Battambang", 1.0, 103.2, 13.1);
        docs.push((
            f,
            harvest(
                None,
                &t(1, i),
                lot,
                1000.0,
                &farm_ids[f],
                "rice",
                None,
                field,
                "organic",
            ),
        ));
        docs.push((
            f,
            movement(
                true,
                &t(2, i),
                &farm_ids[f],
                collector,
                &[],
                &[kg(lot, 1000.0)],
            ),
        ));
        docs.push((
            100,
            movement(
                false,
                &t(3, i),
                &farm_ids[f],
                collector,
                &[],
                &[kg(lot, 1000.0)],
            ),
        ));
    }
    let all: Vec<Value> = paddy.iter().map(|l| kg(l, 1000.0)).collect();
    docs.push((100, movement(true, &t(4, 0), collector, mill, &[], &all)));
    docs.push((101, movement(false, &t(5, 0), collector, mill, &[], &all)));
    let total = lots as f64 * 1000.0;
    let head = lgtin(HEAD_RICE, tag);
    docs.push((
        101,
        transform(
            &t(6, 0),
            "milling",
            &all,
            &[
                (head.clone(), total * 0.5, Some("head-rice")),
                (lgtin(BROKEN_RICE, tag), total * 0.15, Some("broken-rice")),
            ],
        ),
    ));
    let bags: Vec<String> = (0..20)
        .map(|i| sgtin(HEAD_RICE_BAG_50KG, (base * 1000 + i) as u64))
        .collect();
    docs.push((101, bagging(&t(7, 0), kg(&head, 1000.0), &bags, 50.0)));
    let pallet = sscc(base as u64 * 10 + 1);
    let container = sscc(base as u64 * 10 + 2);
    docs.push((101, aggregation(true, &t(8, 0), &pallet, &bags)));
    docs.push((
        101,
        aggregation(true, &t(8, 1), &container, std::slice::from_ref(&pallet)),
    ));
    // The container's two legs: mill → exporter, exporter → importer, shipped and received.
    for (who, ship, day, from, to) in [
        (101, true, 9, mill, exporter),
        (102, false, 10, mill, exporter),
        (102, true, 11, exporter, importer),
        (103, false, 12, exporter, importer),
    ] {
        let units = std::slice::from_ref(&container);
        docs.push((who, movement(ship, &t(day, 0), from, to, units, &[])));
    }
    let events = docs
        .par_iter()
        .map(|(who, d)| {
            let key = if *who >= 100 {
                &other_keys[who - 100]
            } else {
                &farm_keys[*who]
            };
            di::sign(d, key, SIGNED)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((regs, events, container))
}

/// Submits `events` in order, in batches; fails on any refusal.
pub(super) fn submit(client: &Client, events: &[Value], batch: usize) -> Result<()> {
    for chunk in events.chunks(batch) {
        let (status, v) = client.post("/v1/events/batch", &serde_json::to_vec(chunk)?)?;
        if status != 200 || v["accepted"].as_u64() != Some(chunk.len() as u64) {
            let first = v["results"]
                .as_array()
                .and_then(|r| r.iter().find(|x| x.get("problem").is_some()))
                .cloned()
                .unwrap_or(v.clone());
            bail!("a batch was refused ({status}): {first}");
        }
    }
    Ok(())
}

/// Unrelated harvests `from..to` of the filler farm, signed in parallel and submitted by two
/// clients at once.
/// A filler farm registered by `registrar`, whose harvests pad a benchmark ledger: its key,
/// its id (party `party`) and its signed registration.
pub(super) fn filler(
    seed: &str,
    party: u32,
    registrar: &SigningKey,
) -> Result<(SigningKey, String, Value)> {
    let key = scenario::seeded_key(seed);
    let id = scenario::pgln(party);
    let registration = di::sign(
        &scenario::register(
            None,
            "2026-01-01T00:00:00+07:00",
            &id,
            "Filler farm",
            ("KH", "Kampong Thom"),
            &["farm"],
            &[scenario::did(&key)],
            None,
        ),
        registrar,
        SIGNED,
    )?;
    Ok((key, id, registration))
}

pub(super) fn fill(
    base: &str,
    farm: &SigningKey,
    farm_id: &str,
    from: usize,
    to: usize,
) -> Result<()> {
    const CHUNK: usize = 20_000;
    let mut start = from;
    while start < to {
        let end = (start + CHUNK).min(to);
        let events: Vec<Value> = (start..end)
            .into_par_iter()
            .map(|i| {
                let lot = scenario::lgtin(PADDY, &format!("F{i}"));
                let field = scenario::plot(&format!("F{i}"), "Kampong Thom", 2.0, 104.9, 12.7);
                let doc = scenario::harvest(
                    None,
                    "2026-09-01T08:00:00+07:00",
                    &lot,
                    3000.0,
                    farm_id,
                    "rice",
                    None,
                    field,
                    "conventional",
                );
                di::sign(&doc, farm, SIGNED)
            })
            .collect::<Result<_, _>>()?;
        let halves: Vec<&[Value]> = events.chunks(events.len().div_ceil(2)).collect();
        std::thread::scope(|s| -> Result<()> {
            let handles: Vec<_> = halves
                .iter()
                .map(|h| s.spawn(move || submit(&Client::new(base, 3)?, h, 1000)))
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a filler client panicked"))??;
            }
            Ok(())
        })?;
        start = end;
    }
    Ok(())
}

/// One ledger: `size` entries in all, the ~200-event history in the middle, and (if `big`) a
/// 1,000-event history too. Returns the latencies of provenance and bundle requests, and the
/// big history's bundle.
struct Run {
    entries: u64,
    provenance: Vec<Duration>,
    bundle: Vec<Duration>,
    bundle_bytes: usize,
    history_entries: usize,
    big: Option<(Bundle, VerifierKey)>,
}

fn ledger_run(size: usize, samples: usize, tag: &str, big: bool) -> Result<Run> {
    let registrar = scenario::seeded_key("bench provenance registrar");
    let (regs, events, container) = history(tag, if big { 1000 } else { 5000 }, 6, 63, &registrar)?;
    let big_history = if big {
        Some(history("big", 3000, 10, 330, &registrar)?)
    } else {
        None
    };
    let (filler_key, filler_id, filler_reg) = filler(
        &format!("bench provenance filler {tag}"),
        9000 + u32::from(tag == "large"),
        &registrar,
    )?;

    let dir = bench_dir("prov");
    let server = BenchServer::fresh(&dir, &registrar, 1000)?;
    let base = server.base.clone();
    let client = Client::new(&base, 3)?;
    let result = (|| -> Result<Run> {
        let mut setup = vec![filler_reg];
        setup.extend(regs);
        if let Some((r, _, _)) = &big_history {
            setup.extend(r.iter().cloned());
        }
        submit(&client, &setup, 1000)?;
        let history_len = events.len() + big_history.as_ref().map_or(0, |(_, e, _)| e.len());
        let filler = size.saturating_sub(setup.len() + history_len);
        let started = Instant::now();
        fill(&base, &filler_key, &filler_id, 0, filler / 2)?;
        submit(&client, &events, 250)?;
        if let Some((_, e, _)) = &big_history {
            submit(&client, e, 250)?;
        }
        fill(&base, &filler_key, &filler_id, filler / 2, filler)?;
        let (_, log) = client.get_text("/v1/log")?;
        let entries = serde_json::from_str::<Value>(&log)?["size"]
            .as_u64()
            .unwrap_or(0);
        println!(
            "  built a ledger of {entries} entries in {:.0} s",
            started.elapsed().as_secs_f64()
        );

        let enc = container.replace(':', "%3A");
        let timed = |path: &str| -> Result<(Vec<Duration>, usize)> {
            let mut lat = Vec::with_capacity(samples);
            let mut bytes = 0;
            // One untimed request first: it waits for the checkpoint that covers the history.
            client.get_text(path)?;
            for _ in 0..samples {
                let t = Instant::now();
                let (status, body) = client.get_text(path)?;
                lat.push(t.elapsed());
                if status != 200 {
                    bail!("{path}: {status} {body}");
                }
                bytes = body.len();
            }
            lat.sort_unstable();
            Ok((lat, bytes))
        };
        let (provenance, _) = timed(&format!("/v1/lots/{enc}/provenance"))?;
        let (bundle, bundle_bytes) = timed(&format!("/v1/lots/{enc}/bundle"))?;
        let (_, b) = client.get_text(&format!("/v1/lots/{enc}/bundle"))?;
        let history_entries = serde_json::from_str::<Bundle>(&b)?.entries.len();
        let big = match &big_history {
            Some((_, _, c)) => {
                let (_, b) =
                    client.get_text(&format!("/v1/lots/{}/bundle", c.replace(':', "%3A")))?;
                let (_, log) = client.get_text("/v1/log")?;
                let key = serde_json::from_str::<Value>(&log)?["verifierKey"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                Some((
                    serde_json::from_str::<Bundle>(&b)?,
                    VerifierKey::parse(&key).map_err(|e| anyhow::anyhow!("{e}"))?,
                ))
            }
            None => None,
        };
        Ok(Run {
            entries,
            provenance,
            bundle,
            bundle_bytes,
            history_entries,
            big,
        })
    })();
    server.stop()?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn run(small: usize, large: usize, samples: usize) -> Result<()> {
    if small == 0 || large < small || samples == 0 {
        bail!("need 0 < --small <= --large and --samples >= 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "bench provenance: a container with ~200 upstream events (63 farm lots from 6 farms, collector, mill, bags, pallet, container, export) on ledgers of {small} and {large} entries; {samples} requests each; {cores} cores"
    );
    let mut runs = Vec::new();
    for (size, tag, big) in [(small, "small", true), (large, "large", false)] {
        println!("ledger of {size} entries:");
        let r = ledger_run(size, samples, tag, big)?;
        println!(
            "  provenance: p50 {:.1} ms, p99 {:.1} ms; bundle: p50 {:.1} ms, p99 {:.1} ms ({} entries, {} bytes)",
            ms(percentile(&r.provenance, 0.5)),
            ms(percentile(&r.provenance, 0.99)),
            ms(percentile(&r.bundle, 0.5)),
            ms(percentile(&r.bundle, 0.99)),
            r.history_entries,
            r.bundle_bytes
        );
        runs.push(r);
    }
    let (s, l) = (&runs[0], &runs[1]);
    let ratio = |a: &[Duration], b: &[Duration], p: f64| {
        percentile(b, p).as_secs_f64() / percentile(a, p).as_secs_f64().max(1e-9)
    };
    println!(
        "ratio {} / {} entries: provenance p50 {:.2}, p99 {:.2}; bundle p50 {:.2}, p99 {:.2} (target <= 2)",
        l.entries,
        s.entries,
        ratio(&s.provenance, &l.provenance, 0.5),
        ratio(&s.provenance, &l.provenance, 0.99),
        ratio(&s.bundle, &l.bundle, 0.5),
        ratio(&s.bundle, &l.bundle, 0.99)
    );

    let (bundle, key) = s
        .big
        .as_ref()
        .context("the small run keeps the 1,000-event bundle")?;
    let n = bundle.entries.len();
    let rounds = 5;
    let started = Instant::now();
    for _ in 0..rounds {
        let report = provenance::verify(bundle, key, &[], &crate::state::Bounds::default());
        if !report.verified {
            bail!(
                "the benchmark's own bundle does not verify: {:?}",
                report.findings.first()
            );
        }
    }
    let rate = (n * rounds) as f64 / started.elapsed().as_secs_f64();
    let ceiling = ed25519_ceiling(Duration::from_secs(2))?;
    println!(
        "offline verification of a {n}-entry bundle: {rate:.0} entries/s (all checks: signatures, proofs, registrar replay, claims)"
    );
    println!("ceiling: {ceiling:.0} strict Ed25519 verifications/s on {cores} cores");
    println!("ratio={:.3}", rate / ceiling);
    Ok(())
}
