//! `lotline-bench export`: how long the exports take through the real HTTP API — the FSMA 204
//! CSV of a period of many events (rows per second, near the row cap), a lot's CSV and EPCIS
//! document (a container with ~200 upstream events), and one 1,000-event query page as an
//! `EPCISDocument` — on a ledger of unrelated harvests around that history.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use ed25519_dalek::SigningKey;

use crate::filler::Filler;
use crate::harness::{BenchServer, audit_token, ledger_size, submit};
use crate::history::{self, History};
use crate::measure::{cores, ms, percentile};
use lotline::cli::Client;
use lotline::export::MAX_ROWS;
use lotline_scenario as scenario;

pub fn run(rows: usize, samples: usize) -> Result<()> {
    if rows == 0 || rows > MAX_ROWS || samples == 0 {
        bail!("need 1 <= --rows <= {MAX_ROWS} and --samples >= 1");
    }
    let cores = cores();
    println!(
        "bench export: a period of {rows} harvests (one CSV row each), a container with ~200 upstream events, a 1,000-event query page; {samples} requests each; {cores} cores"
    );
    let registrar = scenario::seeded_key("bench export registrar");
    let history = history::build("export", 5000, 6, 63, &registrar)?;
    let filler = Filler::new("bench export filler", 9100, &registrar)?;
    let server = BenchServer::fresh("export", &registrar, 1000)?;
    let result = (|| -> Result<()> {
        populate(&server.base, rows, &filler, &history)?;
        time_period(&server.base, rows, samples, &registrar)?;
        time_container_and_page(&server.base, &history.container, samples)
    })();
    server.stop()?;
    result
}

/// Fills the ledger: `rows` harvests of the filler farm on 2026-09-01, then the container's
/// history in October.
fn populate(base: &str, rows: usize, filler: &Filler, history: &History) -> Result<()> {
    let client = Client::new(base, 3)?;
    let mut setup = vec![filler.registration.clone()];
    setup.extend(history.registrations.iter().cloned());
    submit(&client, &setup, 1000)?;
    let started = Instant::now();
    filler.fill(base, 0, rows)?;
    submit(&client, &history.events, 250)?;
    let size = ledger_size(&client)?;
    println!(
        "  built a ledger of {size} entries in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Times the FSMA 204 CSV of the filler's day, one row per harvest: a registrar's audit export,
/// since a whole period is not public.
fn time_period(base: &str, rows: usize, samples: usize, registrar: &SigningKey) -> Result<()> {
    let period = format!(
        "/v1/export/fsma204.csv?from=2026-09-01&to=2026-09-02&access_token={}",
        audit_token(registrar)?
    );
    let (lat, bytes) = timed(base, &period, samples)?;
    let p50 = percentile(&lat, 0.5);
    println!(
        "  FSMA 204 CSV of a period, {rows} rows ({:.1} MB): p50 {:.0} ms, max {:.0} ms; {:.0} rows/s",
        bytes as f64 / 1e6,
        ms(p50),
        ms(*lat.last().unwrap_or(&p50)),
        rows as f64 / p50.as_secs_f64().max(1e-9)
    );
    Ok(())
}

/// Times the container's CSV and EPCIS document, and a 1,000-event query page.
fn time_container_and_page(base: &str, container: &str, samples: usize) -> Result<()> {
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
        let (lat, bytes) = timed(base, &path, samples)?;
        println!(
            "  {what} ({:.2} MB): p50 {:.1} ms, p99 {:.1} ms",
            bytes as f64 / 1e6,
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99))
        );
    }
    Ok(())
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
