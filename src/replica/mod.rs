//! A replicated deployment: the log lives in PostgreSQL (made highly available by Patroni and
//! etcd, see `scripts/cluster` and docs/replication.md), and every lotline node keeps its own
//! RocksDB as an index of it.
//!
//! Each node runs one driver thread, which is in one of two roles:
//! - **follower**: tails the shared log up to its newest signed checkpoint, verifying every
//!   entry as it applies it (`ledger::Follower`) and adopting the checkpoint only if it verifies
//!   and matches the rebuilt root; it serves reads at that checkpoint and answers writes with a
//!   redirect to the sequencer.
//! - **sequencer**: the node whose connection holds the advisory lock. Before it writes, it
//!   catches up with the whole shared log (past the last checkpoint: a sequencer that died may
//!   have committed more) and checks the root it rebuilt against the head row; then it runs the
//!   ordinary sequencer with the shared log as its [`LogSink`](crate::ledger::LogSink). If a
//!   write fails — fenced by a newer sequencer, or the database went away — it stops
//!   sequencing, and the driver starts over as a follower on a fresh connection.
//!
//! The database decides who sequences; lotline implements no consensus of its own. The lock is
//! held by the session, so it moves when the primary fails over or the node dies, and the fence
//! on the head row refuses a sequencer that lost it without noticing.

pub mod pg;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ledger::{
    self, Core, Follower, Ledger, LedgerError, LedgerOptions, ReplicaState, SinkError,
};
use pg::PgLog;
use tlog::merkle::Frontier;
use tlog::note::NoteSigner;

/// How a node joins the replicated deployment.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// libpq URL of the PostgreSQL cluster, all its hosts listed, with
    /// `target_session_attrs=read-write`.
    pub url: String,
    /// Base URL under which other nodes and clients reach this node; followers redirect writes
    /// to the sequencer's. Without it, the server sets it from its bound address
    /// (`Ledger::set_advertise`).
    pub advertise: Option<String>,
    /// How often a follower looks for a new checkpoint and tries to become the sequencer.
    pub poll: Duration,
}

/// Entries fetched per query while catching up.
const FETCH: u64 = 1000;

/// How long opening waits for the database (a cluster may still be electing a primary).
const CONNECT_PATIENCE: Duration = Duration::from_secs(60);

/// Opens this node's ledger in `data` as a member of the deployment at `cfg.url`. The log's key
/// must already be in `data` (`lotline keygen --out DATA/log.key` once, copied to every node).
/// The first node to reach an empty database creates the log with `origin` (default: this
/// host's); the others adopt the log's origin, and refuse to join a log whose key is not theirs.
pub fn open(
    data: &Path,
    origin: Option<&str>,
    opts: LedgerOptions,
    cfg: ReplicaConfig,
) -> Result<Ledger, LedgerError> {
    let key_path = data.join(ledger::LOG_KEY_FILE);
    let key_bytes = std::fs::read(&key_path).map_err(|e| {
        LedgerError::Config(format!(
            "a replicated node needs the log's key at {} ({e}); create it once with `lotline keygen --out FILE` and copy it to every node (docs/replication.md)",
            key_path.display()
        ))
    })?;
    let key = ledger::read_key_file(&key_path, &key_bytes)?;

    let mut pg = connect_patiently(&cfg.url, CONNECT_PATIENCE)?;
    pg.migrate().map_err(config)?;
    let wanted = origin
        .map(str::to_owned)
        .unwrap_or_else(ledger::default_origin);
    let signer = |o: &str| {
        NoteSigner::new(o, key.clone())
            .map_err(|e| LedgerError::Config(format!("origin {o:?}: {e}")))
    };
    let existing = pg.head().map_err(config)?;
    let head = match existing {
        Some(h) => h,
        None => {
            let vkey = signer(&wanted)?.verifier_key().to_string();
            pg.init_head(&wanted, &vkey, &Frontier::new().root())
                .map_err(config)?
        }
    };
    if let Some(o) = origin.filter(|o| *o != head.origin) {
        return Err(LedgerError::Config(format!(
            "the shared log's origin is {:?}, not {o:?}",
            head.origin
        )));
    }
    let ours = signer(&head.origin)?.verifier_key().to_string();
    if ours != head.vkey {
        return Err(LedgerError::Config(format!(
            "{} is not the shared log's key (the log's verifier key is {}); copy the log's key file to this node",
            key_path.display(),
            head.vkey
        )));
    }
    drop(pg);
    let origin = head.origin;
    let advertise = cfg.advertise.clone();
    Ledger::open_replica(
        data,
        &origin,
        opts,
        Box::new(move |core, state| {
            if let Ok(mut a) = state.advertise.lock() {
                *a = advertise;
            }
            std::thread::Builder::new()
                .name("lotline-replica".into())
                .spawn(move || drive(core, state, cfg))
                .map_err(|e| LedgerError::Io(format!("cannot start the replica thread: {e}")))
        }),
    )
}

fn config(e: SinkError) -> LedgerError {
    LedgerError::Config(format!("the shared log: {e}"))
}

fn connect_patiently(url: &str, patience: Duration) -> Result<PgLog, LedgerError> {
    let start = Instant::now();
    loop {
        match PgLog::connect(url) {
            Ok(pg) => return Ok(pg),
            Err(e) if start.elapsed() >= patience => {
                return Err(LedgerError::Config(format!(
                    "cannot reach the shared log's database within {patience:?}: {e}"
                )));
            }
            Err(e) => {
                tracing::info!(error = %e, "waiting for the shared log's database");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

/// Why a session with the database ended.
enum Ended {
    /// Shutdown.
    Stop,
    /// The connection failed, or this node stopped sequencing: start a new session.
    Retry(String),
    /// The shared log and this node disagree; serving on would serve something unverified.
    Fatal(String),
}

impl From<SinkError> for Ended {
    fn from(e: SinkError) -> Ended {
        Ended::Retry(e.to_string())
    }
}

/// The driver thread: sessions with the database, one after the other, until shutdown.
fn drive(core: Core, state: Arc<ReplicaState>, cfg: ReplicaConfig) {
    let mut backoff = Duration::from_millis(100);
    while !state.stop.load(Ordering::SeqCst) {
        let outcome = match PgLog::connect(&cfg.url) {
            Ok(pg) => session(&core, &state, &cfg, pg),
            Err(e) => Ended::Retry(e.to_string()),
        };
        match outcome {
            Ended::Stop => break,
            Ended::Retry(why) => {
                state.healthy.store(false, Ordering::SeqCst);
                tracing::warn!(%why, "lost the shared log; reconnecting");
                sleep_unless_stopped(&state, backoff);
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
            Ended::Fatal(why) => {
                state.healthy.store(false, Ordering::SeqCst);
                tracing::error!(%why, "this node cannot follow the shared log; it serves no more reads from it and takes no writes — wipe its db directory to rebuild it from the log");
                return;
            }
        }
        if let Ok(mut s) = state.sequencer.lock() {
            *s = None;
        }
    }
}

fn sleep_unless_stopped(state: &ReplicaState, total: Duration) {
    let end = Instant::now() + total;
    while Instant::now() < end && !state.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20).min(total));
    }
}

/// One session: follow until the lock is free, then sequence until that ends.
fn session(core: &Core, state: &ReplicaState, cfg: &ReplicaConfig, mut pg: PgLog) -> Ended {
    let mut follower = match core.follower() {
        Ok(f) => f,
        Err(e) => return Ended::Fatal(e.to_string()),
    };
    if let Err(e) = check_prefix(&mut pg, &follower) {
        return e;
    }
    loop {
        if state.stop.load(Ordering::SeqCst) {
            return Ended::Stop;
        }
        let advertise = state.advertise.lock().ok().and_then(|a| a.clone());
        if let Some(advertise) = advertise {
            match pg.try_lock() {
                Ok(true) => return lead(core, state, &advertise, pg, follower),
                Ok(false) => {}
                Err(e) => return e.into(),
            }
        }
        if let Err(e) = follow_once(core, state, &mut pg, &mut follower) {
            return e;
        }
        state.healthy.store(true, Ordering::SeqCst);
        sleep_unless_stopped(state, cfg.poll);
    }
}

/// The local store must be a prefix of the shared log: its last entry is the log's entry at
/// that index (the hash chain covers everything before it).
fn check_prefix(pg: &mut PgLog, follower: &Follower<'_>) -> Result<(), Ended> {
    let size = follower.size();
    if size == 0 {
        return Ok(());
    }
    let theirs = pg.entries(size - 1, size)?;
    match theirs.first() {
        Some((_, bytes))
            if lotline_profile::entry::entry_hash(bytes) == follower.last_entry_hash() =>
        {
            Ok(())
        }
        Some(_) => Err(Ended::Fatal(format!(
            "entry {} of this node's store differs from the shared log's",
            size - 1
        ))),
        None => Err(Ended::Fatal(format!(
            "this node's store holds {size} entries, more than the shared log"
        ))),
    }
}

/// Applies the shared log from the local end up to `to`.
fn catch_up(pg: &mut PgLog, follower: &mut Follower<'_>, to: u64) -> Result<(), Ended> {
    while follower.size() < to {
        let from = follower.size();
        let batch = pg.entries(from, to.min(from + FETCH))?;
        if batch.is_empty() {
            return Err(Ended::Fatal(format!(
                "the shared log has no entry {from} below its size {to}"
            )));
        }
        follower
            .apply(&batch)
            .map_err(|e| Ended::Fatal(e.to_string()))?;
    }
    Ok(())
}

/// A follower's step: apply up to the newest checkpoint and publish it; note who sequences.
fn follow_once(
    core: &Core,
    state: &ReplicaState,
    pg: &mut PgLog,
    follower: &mut Follower<'_>,
) -> Result<(), Ended> {
    // A checkpoint below the local size is one this node passed while it sequenced: the next
    // one will cover what it holds.
    if let Some((size, note)) = pg.latest_checkpoint()?
        && size >= follower.size()
        && (size > follower.size() || core.head().checkpoint.size < size)
    {
        catch_up(pg, follower, size)?;
        follower
            .adopt_checkpoint(&note)
            .map_err(|e| Ended::Fatal(e.to_string()))?;
    }
    let head = pg.head()?;
    if let Ok(mut s) = state.sequencer.lock() {
        *s = head.and_then(|h| h.sequencer);
    }
    Ok(())
}

/// This session holds the lock: catch up with the whole log, check its root, and sequence
/// until that ends.
fn lead(
    core: &Core,
    state: &ReplicaState,
    advertise: &str,
    mut pg: PgLog,
    mut follower: Follower<'_>,
) -> Ended {
    let Some(head) = (match pg.head() {
        Ok(h) => h,
        Err(e) => return e.into(),
    }) else {
        return Ended::Fatal("the shared log has no head row".into());
    };
    if let Err(e) = catch_up(&mut pg, &mut follower, head.size) {
        return e;
    }
    if follower.root() != head.root || follower.size() != head.size {
        return Ended::Fatal(format!(
            "the root rebuilt from the shared log's {} entries is not the head row's",
            head.size
        ));
    }
    drop(follower);
    if let Err(e) = pg.set_sequencer(Some(advertise)) {
        return e.into();
    }
    let handle: JoinHandle<()> = match core.start_sequencing(Box::new(pg)) {
        Ok(h) => h,
        Err(e) => return Ended::Fatal(e.to_string()),
    };
    tracing::info!(size = head.size, %advertise, "this node sequences the log");
    if let Ok(mut s) = state.sequencer.lock() {
        *s = Some(advertise.to_owned());
    }
    state.leading.store(true, Ordering::SeqCst);
    state.healthy.store(true, Ordering::SeqCst);
    while !handle.is_finished() {
        if state.stop.load(Ordering::SeqCst) {
            core.stop_sequencing();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    core.stop_sequencing();
    state.leading.store(false, Ordering::SeqCst);
    if handle.join().is_err() {
        tracing::error!("the sequencer thread panicked");
    }
    if state.stop.load(Ordering::SeqCst) {
        Ended::Stop
    } else {
        Ended::Retry("this node stopped sequencing".into())
    }
}
