//! `lotline bench export`: how long the exports take through the real HTTP API — the FSMA 204
//! CSV of a period of many events (rows per second, near the row cap), a lot's CSV and EPCIS
//! document (a container with ~200 upstream events), and one 1,000-event query page as an
//! `EPCISDocument` — on a ledger of unrelated harvests around that history.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;

use super::Client;
use super::bench::{BenchServer, audit_token, bench_dir, percentile};
use super::bench_provenance::{fill, filler, history, submit};
use lotline_scenario as scenario;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `samples` timed GETs of `base` + `path` (after one untimed one), reading the whole body
/// (exports may pass the client's 10 MB text limit); sorted latencies and the body size.
fn timed(base: &str, path: &str, samples: usize) -> Result<(Vec<Duration>, usize)> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(300))
        .build();
    let get = || -> Result<usize> {
        let url = format!("{base}{path}");
        let r = match agent.get(&url).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(s, r)) => {
                bail!("{path}: {s} {}", r.into_string().unwrap_or_default())
            }
            Err(e) => bail!("{path}: {e}"),
        };
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut body)?;
        Ok(body.len())
    };
    get()?;
    let mut lat = Vec::with_capacity(samples);
    let mut bytes = 0;
    for _ in 0..samples {
        let t = Instant::now();
        bytes = get()?;
        lat.push(t.elapsed());
    }
    lat.sort_unstable();
    Ok((lat, bytes))
}

pub fn run(rows: usize, samples: usize) -> Result<()> {
    if rows == 0 || rows > crate::export::MAX_ROWS || samples == 0 {
        bail!(
            "need 1 <= --rows <= {} and --samples >= 1",
            crate::export::MAX_ROWS
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "bench export: a period of {rows} harvests (one CSV row each), a container with ~200 upstream events, a 1,000-event query page; {samples} requests each; {cores} cores"
    );
    let registrar = scenario::seeded_key("bench export registrar");
    let (regs, events, container) = history("export", 5000, 6, 63, &registrar)?;
    let (filler_key, filler_id, filler_reg) = filler("bench export filler", 9100, &registrar)?;
    let dir = bench_dir("export");
    let server = BenchServer::fresh(&dir, &registrar, 1000)?;
    let base = server.base.clone();
    let result = (|| -> Result<()> {
        let client = Client::new(&base, 3)?;
        let mut setup = vec![filler_reg];
        setup.extend(regs);
        submit(&client, &setup, 1000)?;
        let started = Instant::now();
        // The filler harvests all happen on 2026-09-01; the history in October.
        fill(&base, &filler_key, &filler_id, 0, rows)?;
        submit(&client, &events, 250)?;
        let (_, log) = client.get_text("/v1/log")?;
        let size = serde_json::from_str::<Value>(&log)?["size"]
            .as_u64()
            .unwrap_or(0);
        println!(
            "  built a ledger of {size} entries in {:.0} s",
            started.elapsed().as_secs_f64()
        );

        // A whole period is a registrar's audit export.
        let period = format!(
            "/v1/export/fsma204.csv?from=2026-09-01&to=2026-09-02&access_token={}",
            audit_token(&registrar)?
        );
        let (lat, bytes) = timed(&base, &period, samples)?;
        let p50 = percentile(&lat, 0.5);
        println!(
            "  FSMA 204 CSV of a period, {rows} rows ({:.1} MB): p50 {:.0} ms, max {:.0} ms; {:.0} rows/s",
            bytes as f64 / 1e6,
            ms(p50),
            ms(*lat.last().unwrap_or(&p50)),
            rows as f64 / p50.as_secs_f64().max(1e-9)
        );
        let enc = container.replace(':', "%3A");
        for (what, path) in [
            (
                "FSMA 204 CSV of the container",
                format!("/v1/export/fsma204.csv?lot={enc}"),
            ),
            (
                "EPCIS document of the container",
                format!("/v1/lots/{enc}/epcis"),
            ),
            (
                "EPCISDocument of a 1,000-event query page",
                "/v1/events?GE_eventTime=2026-09-01T00:00:00Z&perPage=1000&format=EPCISDocument"
                    .to_owned(),
            ),
        ] {
            let (lat, bytes) = timed(&base, &path, samples)?;
            println!(
                "  {what} ({:.2} MB): p50 {:.1} ms, p99 {:.1} ms",
                bytes as f64 / 1e6,
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.99))
            );
        }
        Ok(())
    })();
    server.stop()?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
