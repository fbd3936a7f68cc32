//! Edge sync throughput: a mill's edge with a backlog of `events` signed events (a day or more
//! offline) uploads them to the ledger through `POST /capture`, `batch` per gzipped document,
//! in order. Events per second from the first upload to the empty outbox, next to the Ed25519
//! verification ceiling of this machine measured in the same run (the ledger verifies one
//! signature per event).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rayon::prelude::*;
use serde_json::Value;

use crate::harness::{BenchServer, SIGNED, submit};
use crate::measure::{self, cores};
use data_integrity::di;
use lotline::cli::Client;
use lotline::edge::sync::{Sync, SyncConfig};
use lotline::store::outbox::{Added, Outbox};
use lotline_scenario as scenario;

const MILL: &str = "urn:epc:id:pgln:8841234.00031";

pub fn run(events: usize, batch: usize) -> Result<()> {
    let registrar = data_integrity::didkey::generate()?;
    let mill = data_integrity::didkey::generate()?;
    let server = BenchServer::fresh("edge-sync", &registrar, 1000)?;
    let client = Client::new(&server.base, 3)?;
    let reg = di::sign(
        &scenario::register(
            None,
            "2026-01-01T00:00:00+07:00",
            MILL,
            "Edge bench mill",
            ("KH", "Battambang"),
            &["farm", "mill"],
            &[scenario::did(&mill)],
            None,
        ),
        &registrar,
        SIGNED,
    )?;
    submit(&client, &[reg], 1)?;

    // The backlog, signed and in the outbox before the clock starts, as after a day offline.
    let dir = std::env::temp_dir().join(format!(
        "lotline-bench-edge-outbox-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    let outbox = Arc::new(Outbox::open(&dir)?);
    let signed: Vec<(String, Value)> = (0..events)
        .into_par_iter()
        .map(|i| {
            let lot = scenario::lgtin(scenario::items::PADDY, &format!("E{i}"));
            let h = scenario::harvest(
                None,
                "2026-06-01T08:00:00+07:00",
                &lot,
                1000.0,
                MILL,
                "rice",
                None,
                scenario::plot("B-1", "Battambang", 3.0, 103.2, 13.1),
                "conventional",
            );
            let id = h["eventID"].as_str().unwrap_or_default().to_owned();
            Ok((id, di::sign(&h, &mill, SIGNED)?))
        })
        .collect::<Result<_>>()?;
    for (id, e) in signed {
        if !matches!(outbox.add(&id, "harvest", SIGNED, e)?, Added::New(_)) {
            bail!("event {id} was in the outbox twice");
        }
    }
    let config = SyncConfig {
        server: server.base.clone(),
        batch,
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        agent: ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .build(),
    };
    let started = Instant::now();
    let sync = Sync::start(outbox.clone(), config);
    loop {
        if outbox.pending(1)?.is_empty() {
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("the backlog did not drain in an hour");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    sync.stop();
    let counts = outbox.counts()?;
    let state = sync.state();
    drop(sync);
    drop(outbox);
    let _ = std::fs::remove_dir_all(&dir);
    server.stop()?;
    if counts.sent != events as u64 {
        bail!(
            "{} of {events} sent, {} refused",
            counts.sent,
            counts.refused
        );
    }
    let rate = events as f64 / elapsed.as_secs_f64();
    let ceiling = measure::ed25519_ceiling(Duration::from_secs(2))?;
    println!(
        "edge-sync: a backlog of {events} signed events, {batch} per gzipped capture document, {} cores",
        cores()
    );
    println!(
        "  {rate:.0} events/s ({:.1} s in all, {} batches, {} failed attempts)",
        elapsed.as_secs_f64(),
        state.batches,
        state.failures
    );
    println!("  Ed25519 ceiling (strict verify, all cores): {ceiling:.0}/s");
    println!("  ratio_to_ed25519_ceiling: {:.2}", rate / ceiling);
    Ok(())
}
