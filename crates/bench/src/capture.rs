//! EPCIS capture throughput: `POST /capture` of documents of `size` signed harvests each, one
//! document at a time, each followed to the end of its capture job (`GET /capture/{id}`). Events
//! per second, next to the Ed25519 verification ceiling of this machine measured in the same
//! run: admission verifies one signature per event, so their ratio is the share of the
//! machine's signature capacity the capture path reaches.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::harness::{BenchServer, SIGNED, submit};
use crate::measure::{self, cores, ms, percentile};
use data_integrity::di;
use lotline::cli::Client;
use lotline_scenario as scenario;

const FARM: &str = "urn:epc:id:pgln:8841234.00011";

pub fn run(docs: usize, size: usize) -> Result<()> {
    let registrar = data_integrity::didkey::generate()?;
    let farm = data_integrity::didkey::generate()?;
    let server = BenchServer::fresh("capture", &registrar, 1000)?;
    let client = Client::new(&server.base, 3)?;
    let reg = di::sign(
        &scenario::register(
            None,
            "2026-01-01T00:00:00+07:00",
            FARM,
            "Capture bench farm",
            ("KH", "Battambang"),
            &["farm"],
            &[scenario::did(&farm)],
            None,
        ),
        &registrar,
        SIGNED,
    )?;
    submit(&client, &[reg], 1)?;
    // Signed before the clock starts: the bench measures the server, not the client.
    let documents: Vec<Vec<u8>> = (0..docs)
        .map(|d| {
            let events: Vec<Value> = (0..size)
                .into_par_iter()
                .map(|i| {
                    let lot = scenario::lgtin(scenario::items::PADDY, &format!("C{d}x{i}"));
                    let h = scenario::harvest(
                        None,
                        "2026-06-01T08:00:00+07:00",
                        &lot,
                        1000.0,
                        FARM,
                        "rice",
                        None,
                        scenario::plot("B-1", "Battambang", 3.0, 103.2, 13.1),
                        "conventional",
                    );
                    di::sign(&h, &farm, SIGNED).map_err(anyhow::Error::from)
                })
                .collect::<Result<_>>()?;
            Ok(serde_json::to_vec(&json!({
                "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "EPCISDocument",
                "schemaVersion": "2.0",
                "creationDate": SIGNED,
                "epcisBody": {"eventList": events},
            }))?)
        })
        .collect::<Result<_>>()?;
    let mut per_doc = Vec::with_capacity(docs);
    let started = Instant::now();
    for body in &documents {
        let t = Instant::now();
        let (status, v) = client.post("/capture", body)?;
        if status != 202 {
            bail!("capture answered {status}: {v}");
        }
        let id = v["captureID"].as_str().unwrap_or_default().to_owned();
        loop {
            let (status, text) = client.get_text(&format!("/capture/{id}"))?;
            let job: Value = serde_json::from_str(&text)?;
            if status != 200 {
                bail!("capture job {id}: {status} {text}");
            }
            if job["running"] == false {
                if job["success"] != true {
                    bail!("capture job {id} failed: {text}");
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        per_doc.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    server.stop()?;
    let events = (docs * size) as f64;
    let rate = events / elapsed.as_secs_f64();
    let ceiling = measure::ed25519_ceiling(Duration::from_secs(2))?;
    per_doc.sort();
    println!(
        "capture: {docs} documents of {size} signed events, {} cores",
        cores()
    );
    println!(
        "  {rate:.0} events/s; per document p50 {:.0} ms, p99 {:.0} ms",
        ms(percentile(&per_doc, 0.5)),
        ms(percentile(&per_doc, 0.99))
    );
    println!("  Ed25519 ceiling (strict verify, all cores): {ceiling:.0}/s");
    println!("  ratio_to_ed25519_ceiling: {:.2}", rate / ceiling);
    Ok(())
}
