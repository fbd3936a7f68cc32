//! `lotline-bench provenance`: provenance and bundle latency for a lot with about 200 upstream
//! events, on a small and a large ledger, through the real HTTP API; and the offline
//! verification rate of a 1,000-event bundle next to the machine's Ed25519 ceiling.
//!
//! The claim under test is that cost follows the lot's history, not the ledger's size: the
//! large ledger is filled with unrelated harvests (half before the lot's history, half after),
//! and the ratio of the latencies should stay near 1 (the proofs grow with log2 of the size).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::filler::Filler;
use crate::harness::{BenchServer, ledger_size, log_info, submit};
use crate::history::{self, History};
use crate::measure::{cores, ed25519_ceiling, ms, percentile, ratio};
use lotline::cli::Client;
use lotline::provenance::{self, Bundle};
use lotline_scenario as scenario;
use tlog::note::VerifierKey;

pub fn run(small: usize, large: usize, samples: usize) -> Result<()> {
    if small == 0 || large < small || samples == 0 {
        bail!("need 0 < --small <= --large and --samples >= 1");
    }
    let cores = cores();
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
    let rate = verification_rate(bundle, key)?;
    let ceiling = ed25519_ceiling(Duration::from_secs(2))?;
    println!(
        "offline verification of a {}-entry bundle: {rate:.0} entries/s (all checks: signatures, proofs, registrar replay, claims)",
        bundle.entries.len()
    );
    println!("ceiling: {ceiling:.0} strict Ed25519 verifications/s on {cores} cores");
    println!("ratio={:.3}", rate / ceiling);
    Ok(())
}

/// One ledger's figures: the latencies of provenance and bundle requests (sorted), and the big
/// history's bundle if the ledger holds one.
struct Run {
    entries: u64,
    provenance: Vec<Duration>,
    bundle: Vec<Duration>,
    bundle_bytes: usize,
    history_entries: usize,
    big: Option<(Bundle, VerifierKey)>,
}

/// One ledger: `size` entries in all, the ~200-event history in the middle, and (if `big`) a
/// 1,000-event history too.
fn ledger_run(size: usize, samples: usize, tag: &str, big: bool) -> Result<Run> {
    let registrar = scenario::seeded_key("bench provenance registrar");
    let history = history::build(tag, if big { 1000 } else { 5000 }, 6, 63, &registrar)?;
    let big_history = if big {
        Some(history::build("big", 3000, 10, 330, &registrar)?)
    } else {
        None
    };
    let filler = Filler::new(
        &format!("bench provenance filler {tag}"),
        9000 + u32::from(tag == "large"),
        &registrar,
    )?;
    let server = BenchServer::fresh("prov", &registrar, 1000)?;
    let result = (|| -> Result<Run> {
        let client = Client::new(&server.base, 3)?;
        let ledger = Ledger {
            base: &server.base,
            client: &client,
        };
        let entries = ledger.populate(size, &filler, &history, big_history.as_ref())?;
        ledger.measure(entries, samples, &history.container, big_history.as_ref())
    })();
    server.stop()?;
    result
}

/// A benchmark ledger being built and measured.
struct Ledger<'a> {
    base: &'a str,
    client: &'a Client,
}

impl Ledger<'_> {
    /// Fills the ledger to `size` entries: the registrations, half the filler harvests, the
    /// histories, the other half. Returns its size.
    fn populate(
        &self,
        size: usize,
        filler: &Filler,
        history: &History,
        big: Option<&History>,
    ) -> Result<u64> {
        let mut setup = vec![filler.registration.clone()];
        setup.extend(history.registrations.iter().cloned());
        if let Some(b) = big {
            setup.extend(b.registrations.iter().cloned());
        }
        submit(self.client, &setup, 1000)?;
        let history_len = history.events.len() + big.map_or(0, |b| b.events.len());
        let harvests = size.saturating_sub(setup.len() + history_len);
        let started = Instant::now();
        filler.fill(self.base, 0, harvests / 2)?;
        submit(self.client, &history.events, 250)?;
        if let Some(b) = big {
            submit(self.client, &b.events, 250)?;
        }
        filler.fill(self.base, harvests / 2, harvests)?;
        let entries = ledger_size(self.client)?;
        println!(
            "  built a ledger of {entries} entries in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        Ok(entries)
    }

    /// Times `samples` provenance and bundle requests for `container`; fetches the big
    /// history's bundle, if any, with the log's key to verify it with.
    fn measure(
        &self,
        entries: u64,
        samples: usize,
        container: &str,
        big: Option<&History>,
    ) -> Result<Run> {
        let enc = container.replace(':', "%3A");
        let (provenance, _) = self.timed(&format!("/v1/lots/{enc}/provenance"), samples)?;
        let (bundle, bundle_bytes) = self.timed(&format!("/v1/lots/{enc}/bundle"), samples)?;
        let history_entries = self.bundle(container)?.entries.len();
        let big = match big {
            Some(h) => Some((self.bundle(&h.container)?, self.verifier_key()?)),
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
    }

    /// `samples` timed GETs of `path`: the sorted latencies and the answer's size.
    fn timed(&self, path: &str, samples: usize) -> Result<(Vec<Duration>, usize)> {
        let mut lat = Vec::with_capacity(samples);
        let mut bytes = 0;
        // One untimed request first: it waits for the checkpoint that covers the history.
        self.client.get_text(path)?;
        for _ in 0..samples {
            let t = Instant::now();
            let (status, body) = self.client.get_text(path)?;
            lat.push(t.elapsed());
            if status != 200 {
                bail!("{path}: {status} {body}");
            }
            bytes = body.len();
        }
        lat.sort_unstable();
        Ok((lat, bytes))
    }

    /// The provenance bundle of `lot`.
    fn bundle(&self, lot: &str) -> Result<Bundle> {
        let path = format!("/v1/lots/{}/bundle", lot.replace(':', "%3A"));
        let (_, body) = self.client.get_text(&path)?;
        Ok(serde_json::from_str(&body)?)
    }

    /// The log's verifier key.
    fn verifier_key(&self) -> Result<VerifierKey> {
        let log: Value = log_info(self.client)?;
        let key = log["verifierKey"].as_str().unwrap_or("");
        VerifierKey::parse(key).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Entries per second of the offline verification of `bundle` (every check), over five rounds.
fn verification_rate(bundle: &Bundle, key: &VerifierKey) -> Result<f64> {
    let rounds = 5;
    let started = Instant::now();
    for _ in 0..rounds {
        let report = provenance::verify(bundle, key, &[], &lotline::state::Bounds::default());
        if !report.verified {
            bail!(
                "the benchmark's own bundle does not verify: {:?}",
                report.findings.first()
            );
        }
    }
    Ok((bundle.entries.len() * rounds) as f64 / started.elapsed().as_secs_f64())
}
