//! What every benchmark drives: a real server on a fresh ledger in this process, whose registrar
//! signs the benchmark's actors, and the submission of signed events to it through the API.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use ed25519_dalek::SigningKey;
use serde_json::Value;

use lotline::cli::Client;
use lotline::config::Config;
use lotline::http::StopHandle;
use lotline_profile::event::EventId;
use lotline_scenario as scenario;

/// The origin of every benchmark ledger.
const ORIGIN: &str = "bench.invalid/lotline";

/// The proof creation time of every document the benchmarks sign, so that runs sign the same
/// bytes.
pub const SIGNED: &str = "2026-11-20T01:15:00Z";

/// A real server on a loopback port, in this process, for a benchmark's clients; its ledger lives
/// in a temporary directory of its own, removed when it stops.
///
/// Stopped when dropped too (a benchmark failing half-way): a server left running when the
/// process exits would not close its store (`lotline::store::close_when_last` says why).
pub struct BenchServer {
    pub base: String,
    dir: PathBuf,
    stop: StopHandle,
    /// Taken by [`BenchServer::stop`].
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl BenchServer {
    /// A server on a new ledger (its directory named after `name`) whose registrar is
    /// `registrar`, taking batches of up to `max_batch` events.
    pub fn fresh(name: &str, registrar: &SigningKey, max_batch: usize) -> Result<BenchServer> {
        Self::start(name, registrar, max_batch, None)
    }

    /// As [`BenchServer::fresh`]; with `replica`, a node of the replicated deployment whose
    /// database is at that URL, signing with the log's key given.
    pub fn start(
        name: &str,
        registrar: &SigningKey,
        max_batch: usize,
        replica: Option<(&str, &SigningKey)>,
    ) -> Result<BenchServer> {
        Self::configured(name, replica, |cfg| {
            cfg.max_batch = max_batch;
            cfg.registrars = vec![scenario::did(registrar)];
        })
    }

    /// A server on a new ledger with the benchmark defaults changed by `configure`.
    pub fn configured(
        name: &str,
        replica: Option<(&str, &SigningKey)>,
        configure: impl FnOnce(&mut Config),
    ) -> Result<BenchServer> {
        let dir = std::env::temp_dir().join(format!(
            "lotline-bench-{name}-{}-{}",
            std::process::id(),
            EventId::new_v7()
        ));
        let mut cfg = Config {
            data: dir.clone(),
            listen: "127.0.0.1:0".into(),
            origin: Some(ORIGIN.into()),
            ..Config::default()
        };
        configure(&mut cfg);
        if let Some((url, log_key)) = replica {
            std::fs::create_dir_all(&dir)?;
            lotline::ledger::write_key_file(
                &dir.join(lotline::ledger::LOG_KEY_FILE),
                log_key,
                false,
            )?;
            cfg.store = url.to_owned();
        }
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            lotline::cli::run_server(&cfg, |addr, stop| {
                let _ = tx.send((addr, stop));
            })
        });
        let (addr, stop) = rx
            .recv_timeout(Duration::from_secs(60))
            .context("the benchmark server did not start")?;
        Ok(BenchServer {
            base: format!("http://{addr}"),
            dir,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops it gracefully (everything accepted is committed first) and removes its ledger.
    pub fn stop(mut self) -> Result<()> {
        self.shut()
    }

    fn shut(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.stop.stop();
        let stopped = thread
            .join()
            .map_err(|_| anyhow::anyhow!("the benchmark server panicked"))
            .and_then(|r| r);
        let _ = std::fs::remove_dir_all(&self.dir);
        stopped
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Err(e) = self.shut() {
            eprintln!("stopping the benchmark server: {e:#}");
        }
    }
}

/// A registrar's audit token for the benchmark ledgers, valid for the hour a run may take.
pub fn audit_token(registrar: &SigningKey) -> Result<String> {
    let now = lotline::ledger::now_ms();
    lotline_profile::audit_token::create(registrar, ORIGIN, None, now, 3_600_000)
        .map_err(|e| anyhow::anyhow!(e))
}

/// Submits `events` in order, in batches of `batch`; fails on any refusal.
pub fn submit(client: &Client, events: &[Value], batch: usize) -> Result<()> {
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

/// The ledger's size, as GET /v1/log tells it.
pub fn ledger_size(client: &Client) -> Result<u64> {
    Ok(log_info(client)?["size"].as_u64().unwrap_or(0))
}

/// GET /v1/log: the log's origin, size and verifier key.
pub fn log_info(client: &Client) -> Result<Value> {
    let (_, log) = client.get_text("/v1/log")?;
    Ok(serde_json::from_str(&log)?)
}
