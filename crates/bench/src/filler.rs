//! The filler farm: unrelated harvests that pad a benchmark ledger to the size under test, so
//! that the cost of one history can be compared on a small and a large ledger.

use anyhow::Result;
use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde_json::Value;

use crate::harness::{SIGNED, submit};
use data_integrity::di;
use lotline::cli::Client;
use lotline_scenario::{self as scenario, items::PADDY};

/// Harvests signed and submitted per round: enough to keep both clients busy, few enough to
/// hold in memory.
const CHUNK: usize = 20_000;

/// A farm, registered by the benchmark's registrar, whose harvests fill a ledger.
pub struct Filler {
    key: SigningKey,
    id: String,
    /// Its registration, signed by the registrar: to submit before any harvest.
    pub registration: Value,
}

impl Filler {
    /// The filler farm with key seed `seed` and party number `party`, registered by
    /// `registrar`.
    pub fn new(seed: &str, party: u32, registrar: &SigningKey) -> Result<Filler> {
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
        Ok(Filler {
            key,
            id,
            registration,
        })
    }

    /// Its harvests `from..to` (all on 2026-09-01), signed in parallel and submitted to the
    /// server at `base` by two clients at once.
    pub fn fill(&self, base: &str, from: usize, to: usize) -> Result<()> {
        let mut start = from;
        while start < to {
            let end = (start + CHUNK).min(to);
            let events = self.harvests(start, end)?;
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

    /// Harvests `from..to`, signed in parallel.
    fn harvests(&self, from: usize, to: usize) -> Result<Vec<Value>> {
        (from..to)
            .into_par_iter()
            .map(|i| {
                let lot = scenario::lgtin(PADDY, &format!("F{i}"));
                let field = scenario::plot(&format!("F{i}"), "Kampong Thom", 2.0, 104.9, 12.7);
                let doc = scenario::harvest(
                    None,
                    "2026-09-01T08:00:00+07:00",
                    &lot,
                    3000.0,
                    &self.id,
                    "rice",
                    None,
                    field,
                    "conventional",
                );
                Ok(di::sign(&doc, &self.key, SIGNED)?)
            })
            .collect()
    }
}
