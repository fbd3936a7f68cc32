//! The ledger: one log on one store, its single writer (the sequencer) and every read the API
//! and the CLI need.
//!
//! Writes flow `admit` (parallel, in the caller's thread; see `lotline_profile::event`) →
//! [`Ledger::append`] → the sequencer thread, which takes everything pending, chains and hashes
//! it, writes it as one RocksDB batch with one synced WAL write (group commit), publishes the
//! new head, and only then answers. Throughput comes from the size of the groups, never from weakening durability.
//!
//! Reads go straight to the store: every key is written once and proofs only ask for tree sizes
//! the sequencer has already published, so readers need no lock.

mod fsck;
mod replay;
mod sequencer;

pub use fsck::{FsckReport, fsck};
pub use replay::{Follower, ReplayError};

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::store::{META_CHECKPOINT, META_ORIGIN, Store, StoreError};
use data_integrity::didkey::{self, KeyFile};
use lotline_profile::entry::{self, Receipt};
use lotline_profile::event::{Admitted, EventId};
use tlog::merkle::{self, Frontier, Hash, ProofError};
use tlog::note::{Checkpoint, NoteSigner, TlogProof, VerifierKey};
use tlog::tile::Tile;

use sequencer::{Job, Sequencer, Tail};

/// Tuning of the write path. Defaults suit a small server; see `config.rs` for the knobs.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// A fresh checkpoint is signed at least this often while entries arrive.
    pub checkpoint_interval: Duration,
    /// Submissions (single events or batches) waiting for the sequencer before new ones are
    /// refused with `overloaded`. Bounded so that a flood turns into back-pressure, not memory.
    pub queue_depth: usize,
    /// Most events one group commit takes; bounds the latency of a single write.
    pub max_group_events: usize,
    /// The supply-chain rules: registrars, clock skew, plausibility bounds.
    pub rules: crate::state::Rules,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            checkpoint_interval: Duration::from_secs(1),
            queue_depth: 256,
            max_group_events: 8192,
            rules: crate::state::Rules {
                max_future_ms: 5 * 60 * 1000,
                ..Default::default()
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Config(String),
    /// The sequencer's queue is full; the client should retry shortly.
    #[error("the ledger is busy; retry shortly")]
    Overloaded,
    /// The ledger is shutting down or its writer stopped.
    #[error("the ledger is not accepting writes")]
    Closed,
    /// A tree size or index the log cannot answer for; the message says why.
    #[error("{0}")]
    TreeSizeOutOfRange(String),
    /// A replicated node that is not the sequencer right now; `sequencer` is the base URL of
    /// the node that is, when known.
    #[error("this node does not sequence the log{}", sequencer.as_ref().map(|u| format!("; send writes to {u}")).unwrap_or_else(|| "; no sequencer is elected right now, retry in a second".into()))]
    NotSequencer { sequencer: Option<String> },
    #[error("no checkpoint covers entry {index} yet; retry in a second")]
    NotYetCheckpointed { index: u64 },
}

/// A C2SP entry bundle, or why there is none.
#[derive(Debug)]
pub enum EntryBundle {
    /// The encoded bundle.
    Bundle(Vec<u8>),
    /// The latest signed checkpoint (of `size` entries) does not cover all of it yet.
    NotCovered { size: u64 },
    /// Entry `index` is `len` bytes, more than a bundle's 16-bit length can say.
    TooLarge { index: u64, len: usize },
}

/// Outcome of one event handed to the sequencer.
#[derive(Debug, Clone)]
pub enum Appended {
    /// Newly written; durable.
    Created(Receipt),
    /// The same eventID with the same content was logged before: its original receipt.
    Duplicate(Receipt),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error(
        "eventID {event_id} is already logged at index {index} with different content or by another signer"
    )]
    Conflict { event_id: String, index: u64 },
    #[error("the write failed: {0}")]
    Storage(String),
    /// The shared log's database went away or another node took over while the write was in
    /// flight: its outcome is unknown, and retrying the same event is safe (its eventID makes a
    /// retry of a logged event answer with the original receipt).
    #[error("the write's outcome is unknown ({0}); retry the same event")]
    Unavailable(String),
    /// Refused by the supply-chain rules; nothing was written.
    #[error(transparent)]
    Rejected(#[from] crate::state::RuleError),
    /// Not written because another event of the same all-or-nothing submission (the
    /// `position`-th, counted from 0) was refused.
    #[error("not written: event {position} of the same all-or-nothing submission was refused")]
    RolledBack { position: usize },
}

/// A checkpoint as signed and published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The full C2SP signed note.
    pub note: String,
}

/// What the sequencer publishes after each commit. Readers never look past `size`.
#[derive(Debug, Clone)]
pub struct Head {
    pub size: u64,
    pub checkpoint: Arc<SignedCheckpoint>,
}

/// A group's new entries as the shared log of a replicated deployment takes them: fenced on the
/// head the group was decided on (`old_size`, `old_root`), which it moves to `new_root`.
#[derive(Debug, Clone)]
pub struct LogGroup {
    pub old_size: u64,
    pub old_root: Hash,
    pub new_root: Hash,
    /// (index, canonical entry bytes, leaf hash), in index order from `old_size`.
    pub entries: Vec<(u64, Vec<u8>, Hash)>,
}

/// The shared log of a replicated deployment, as the sequencer's writer thread sees it (the
/// PostgreSQL implementation is `crate::replica`). Both calls return only once durable.
pub trait LogSink: Send {
    /// Commits `group` as one transaction, unless the log's head is not the group's
    /// `old_size`/`old_root` (another sequencer wrote meanwhile: [`SinkError::Fenced`]).
    fn append(&mut self, group: &LogGroup) -> Result<(), SinkError>;
    /// Stores a checkpoint signed after its entries were committed.
    fn checkpoint(&mut self, cp: &SignedCheckpoint) -> Result<(), SinkError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The log moved past the head this sequencer knew: a newer sequencer owns it.
    #[error("this node is no longer the sequencer: {0}")]
    Fenced(String),
    /// The database failed or went away; the outcome of the last write is unknown.
    #[error("the log's database: {0}")]
    Database(String),
}

/// Shared between a replicated ledger and the thread that drives its role.
#[derive(Debug, Default)]
pub struct ReplicaState {
    /// Set at shutdown; the driver returns soon after.
    pub stop: AtomicBool,
    /// The base URL of the node sequencing the log, as it advertised itself.
    pub sequencer: Mutex<Option<String>>,
    /// Whether the node reached the shared log recently (for `/readyz`).
    pub healthy: AtomicBool,
    /// Whether this node sequences right now.
    pub leading: AtomicBool,
    /// The base URL this node is reached under; it does not try to sequence before this is
    /// known (a server on port 0 learns it only once bound).
    pub advertise: Mutex<Option<String>>,
}

/// What the driver of a replicated node needs from its ledger to follow the shared log, or to
/// sequence it: the local store, the log's key, where heads are published, and the slot through
/// which submissions reach the sequencer.
pub struct Core {
    store: Arc<Store>,
    signing_key: ed25519_dalek::SigningKey,
    origin: String,
    verifier_key: VerifierKey,
    opts: LedgerOptions,
    published: Arc<watch::Sender<Head>>,
    jobs: Arc<Mutex<Option<SyncSender<Job>>>>,
}

impl Core {
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier_key
    }

    /// The head published to readers.
    pub fn head(&self) -> Head {
        self.published.borrow().clone()
    }

    /// Starts sequencing on top of the local store, committing every group to `sink` first.
    /// The caller has made the local store equal to the whole shared log. Submissions reach the
    /// new sequencer from now on; the thread ends when [`Core::stop_sequencing`] is called or a
    /// write fails (fenced, or the database went away).
    pub fn start_sequencing(&self, sink: Box<dyn LogSink>) -> Result<JoinHandle<()>, LedgerError> {
        let tail = read_tail(&self.store)?;
        // The caught-up log is durable here and in the shared log: readers see all of it now,
        // not only from the next checkpoint on.
        let size = tail.frontier.size();
        self.published.send_modify(|h| h.size = h.size.max(size));
        let signer = NoteSigner::new(&self.origin, self.signing_key.clone())
            .map_err(|e| LedgerError::Config(format!("origin {:?}: {e}", self.origin)))?;
        let (tx, rx) = sync_channel(self.opts.queue_depth.max(1));
        let seq = Sequencer::new(
            self.store.clone(),
            signer,
            tail,
            self.opts.clone(),
            rx,
            self.published.clone(),
            Some(sink),
        );
        let handle = std::thread::Builder::new()
            .name("lotline-sequencer".into())
            .spawn(move || seq.run())
            .map_err(|e| LedgerError::Io(format!("cannot start the sequencer thread: {e}")))?;
        if let Ok(mut jobs) = self.jobs.lock() {
            *jobs = Some(tx);
        }
        Ok(handle)
    }

    /// Stops handing submissions to the sequencer; it commits what it holds and ends.
    pub fn stop_sequencing(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
    }

    /// A follower continuing from the end of the local store.
    pub fn follower(&self) -> Result<Follower<'_>, LedgerError> {
        Ok(Follower::new(self, read_tail(&self.store)?))
    }
}

/// Longest a proof request waits for a checkpoint covering its entry.
const MAX_PROOF_WAIT: Duration = Duration::from_secs(3);

/// File names inside the data directory.
pub const LOG_KEY_FILE: &str = "log.key";
pub const DB_DIR: &str = "db";

pub struct Ledger {
    store: Arc<Store>,
    origin: String,
    verifier_key: VerifierKey,
    /// `None` once shutdown began, and on a replicated node that does not sequence; cloned per
    /// submission.
    jobs: Arc<Mutex<Option<SyncSender<Job>>>>,
    head: watch::Receiver<Head>,
    checkpoint_interval: Duration,
    /// The sequencer thread, or on a replicated node the thread driving its role.
    worker: Mutex<Option<JoinHandle<()>>>,
    /// Set on a replicated node.
    replica: Option<Arc<ReplicaState>>,
    /// The log's key, for signing webhook deliveries (`crate::subscribe`).
    delivery_key: ed25519_dalek::SigningKey,
    /// Upper Merkle nodes, kept in memory for proofs.
    nodes: NodeCache,
}

/// Lowest level of the Merkle nodes kept in memory: every proof of a large log needs the same
/// few upper nodes, while the lowest levels are different for every entry and stay in RocksDB.
const NODE_CACHE_LEVEL: u8 = 2;
/// Most nodes kept (48 bytes each with the key, at most about 100 MB in the map): 2^20 of them
/// cover every node from level 2 up of a log of 4 million entries; on a larger log the upper
/// levels, which every proof reads first, are the ones kept.
const NODE_CACHE_MAX: usize = 1 << 20;

/// Merkle nodes from [`NODE_CACHE_LEVEL`] up, as read from the store. A node is the root of a
/// complete aligned subtree (the only nodes stored and read: see `tlog::merkle::NodeSource`),
/// so it never changes once its leaves are published, and proofs read only nodes inside the
/// published tree: nothing here can go stale.
#[derive(Default)]
struct NodeCache {
    map: std::sync::RwLock<HashMap<(u8, u64), Hash, foldhash::fast::RandomState>>,
}

/// The store's nodes through the [`NodeCache`].
struct Nodes<'a> {
    store: &'a Store,
    cache: &'a NodeCache,
}

impl merkle::NodeSource for Nodes<'_> {
    type Error = StoreError;
    fn node(&mut self, level: u8, index: u64) -> Result<Hash, StoreError> {
        if level < NODE_CACHE_LEVEL {
            return (&mut &*self.store).node(level, index);
        }
        if let Ok(m) = self.cache.map.read()
            && let Some(h) = m.get(&(level, index))
        {
            return Ok(*h);
        }
        let h = (&mut &*self.store).node(level, index)?;
        if let Ok(mut m) = self.cache.map.write()
            && m.len() < NODE_CACHE_MAX
        {
            m.insert((level, index), h);
        }
        Ok(h)
    }
}

/// Starts the thread that drives a replicated node's role (see `crate::replica`).
pub type Driver = Box<dyn FnOnce(Core, Arc<ReplicaState>) -> Result<JoinHandle<()>, LedgerError>>;

impl Ledger {
    /// Opens the ledger in `data`, creating the directory, the log's signing key (mode 0600) and
    /// the store on first use. `origin` names the log in its checkpoints; it is fixed at creation
    /// and a different one later is refused, since it is part of the log's identity.
    pub fn open(
        data: &Path,
        origin: Option<&str>,
        opts: LedgerOptions,
    ) -> Result<Ledger, LedgerError> {
        Self::open_with(data, origin, opts, None)
    }

    /// Opens a node of a replicated deployment: the local store is an index of the shared log,
    /// which `driver` follows or sequences. The log's key must already be in `data` (every
    /// node holds the same one; see docs/replication.md).
    pub fn open_replica(
        data: &Path,
        origin: &str,
        opts: LedgerOptions,
        driver: Driver,
    ) -> Result<Ledger, LedgerError> {
        Self::open_with(data, Some(origin), opts, Some(driver))
    }

    fn open_with(
        data: &Path,
        origin: Option<&str>,
        opts: LedgerOptions,
        driver: Option<Driver>,
    ) -> Result<Ledger, LedgerError> {
        fs::create_dir_all(data)
            .map_err(|e| LedgerError::Io(format!("cannot create {}: {e}", data.display())))?;
        // A log key is only ever created together with a new store: an existing store whose key
        // is gone must not be re-keyed silently, or its checkpoints would stop verifying. A
        // replicated node never creates one: every node must sign with the log's one key.
        let is_new = !db_path(data).exists() && driver.is_none();
        let signing_key = load_or_create_log_key(data, is_new)?;
        let store = Arc::new(Store::open(&db_path(data))?);

        let origin = log_origin(&store, origin, &signing_key)?;
        let signer = NoteSigner::new(&origin, signing_key.clone())
            .map_err(|e| LedgerError::Config(format!("origin {origin:?}: {e}")))?;
        let verifier_key = signer.verifier_key();

        let tail = read_tail(&store)?;
        let size = tail.frontier.size();
        let checkpoint = serving_checkpoint(&store, &signer, &verifier_key, &tail.frontier)?;

        let (head_tx, head_rx) = watch::channel(Head {
            size,
            checkpoint: Arc::new(checkpoint),
        });
        let head_tx = Arc::new(head_tx);
        let checkpoint_interval = opts.checkpoint_interval;
        let jobs = Arc::new(Mutex::new(None));
        let (handle, replica) = match driver {
            None => {
                let (jobs_tx, jobs_rx) = sync_channel(opts.queue_depth.max(1));
                let seq = Sequencer::new(store.clone(), signer, tail, opts, jobs_rx, head_tx, None);
                let handle = std::thread::Builder::new()
                    .name("lotline-sequencer".into())
                    .spawn(move || seq.run())
                    .map_err(|e| {
                        LedgerError::Io(format!("cannot start the sequencer thread: {e}"))
                    })?;
                *jobs.lock().map_err(|_| LedgerError::Closed)? = Some(jobs_tx);
                (handle, None)
            }
            Some(driver) => {
                let state = Arc::new(ReplicaState::default());
                let core = Core {
                    store: store.clone(),
                    signing_key: signing_key.clone(),
                    origin: origin.clone(),
                    verifier_key: verifier_key.clone(),
                    opts,
                    published: head_tx,
                    jobs: jobs.clone(),
                };
                (driver(core, state.clone())?, Some(state))
            }
        };

        tracing::info!(%origin, size, replicated = replica.is_some(), "ledger open");
        Ok(Ledger {
            store,
            origin,
            verifier_key,
            jobs,
            head: head_rx,
            checkpoint_interval,
            worker: Mutex::new(Some(handle)),
            replica,
            delivery_key: signing_key,
            nodes: NodeCache::default(),
        })
    }

    /// Ed25519 signature with the log's key over `lotline-webhook-v1\n` ‖ `body`: a webhook
    /// receiver checks it against the key `GET /v1/log` publishes. The prefix keeps these
    /// signatures from ever being mistaken for a checkpoint's.
    pub fn sign_webhook(&self, body: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        let mut msg = Vec::with_capacity(body.len() + 19);
        msg.extend_from_slice(b"lotline-webhook-v1\n");
        msg.extend_from_slice(body);
        self.delivery_key.sign(&msg).to_bytes()
    }

    /// Follows the published head (for streams of new events).
    pub fn watch_head(&self) -> watch::Receiver<Head> {
        self.head.clone()
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log's public key in C2SP signed-note verifier key form.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier_key
    }

    pub fn head(&self) -> Head {
        self.head.borrow().clone()
    }

    /// Hands admitted events to the sequencer and waits until they are durable. The result has
    /// one outcome per event, in order. Never blocks the caller's thread: a full queue is
    /// [`LedgerError::Overloaded`].
    pub async fn append(
        &self,
        items: Vec<Admitted>,
    ) -> Result<Vec<Result<Appended, AppendError>>, LedgerError> {
        self.submit(items, false).await
    }

    /// Appends `items` all or nothing, in order: if the rules refuse one of them, none is
    /// written, and the others are answered [`AppendError::RolledBack`]. Items logged before
    /// (the same eventID and content) count as accepted, so a retried submission succeeds.
    pub async fn append_atomic(
        &self,
        items: Vec<Admitted>,
    ) -> Result<Vec<Result<Appended, AppendError>>, LedgerError> {
        self.submit(items, true).await
    }

    async fn submit(
        &self,
        items: Vec<Admitted>,
        atomic: bool,
    ) -> Result<Vec<Result<Appended, AppendError>>, LedgerError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let sender = self.jobs.lock().map_err(|_| LedgerError::Closed)?.clone();
        let Some(sender) = sender else {
            return Err(match &self.replica {
                Some(r) if !r.stop.load(Ordering::SeqCst) => LedgerError::NotSequencer {
                    sequencer: r.sequencer.lock().ok().and_then(|s| s.clone()),
                },
                _ => LedgerError::Closed,
            });
        };
        let (reply, answer) = oneshot::channel();
        let sent = sender.try_send(Job {
            items,
            reply,
            atomic,
        });
        // Not held while waiting: the sequencer ends once every sender is gone, and a waiter
        // never polled again (a task of a stopped runtime) must not keep it running.
        drop(sender);
        match sent {
            Ok(()) => {
                crate::metrics::get().queue_depth.inc();
            }
            Err(TrySendError::Full(_)) => return Err(LedgerError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(LedgerError::Closed),
        }
        answer.await.map_err(|_| LedgerError::Closed)
    }

    /// Stops accepting writes, lets the sequencer commit everything already queued, signs a final
    /// checkpoint and waits for the writer to exit. Idempotent.
    pub fn shutdown(&self) {
        if let Some(r) = &self.replica {
            r.stop.store(true, Ordering::SeqCst);
        }
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let handle = self.worker.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle
            && h.join().is_err()
        {
            tracing::error!("the sequencer thread panicked");
        }
    }

    /// True while the writer is running (on a replicated node: while it reaches the shared
    /// log, following or sequencing it).
    pub fn is_ready(&self) -> bool {
        let running = self
            .worker
            .lock()
            .map(|h| h.as_ref().is_some_and(|h| !h.is_finished()))
            .unwrap_or(false);
        running
            && self
                .replica
                .as_ref()
                .is_none_or(|r| r.healthy.load(Ordering::SeqCst))
    }

    /// On a replicated node: sets the base URL it advertises to the others (from the bound
    /// address when none was configured). It does not sequence before this is set.
    pub fn set_advertise(&self, url: &str) {
        if let Some(r) = &self.replica
            && let Ok(mut a) = r.advertise.lock()
            && a.is_none()
        {
            *a = Some(url.to_owned());
        }
    }

    /// On a replicated node: whether it sequences the log, and who does.
    pub fn replica_status(&self) -> Option<(bool, Option<String>)> {
        self.replica.as_ref().map(|r| {
            (
                r.leading.load(Ordering::SeqCst),
                r.sequencer.lock().ok().and_then(|s| s.clone()),
            )
        })
    }

    /// The local store, for backups (`crate::backup`).
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Read access to the supply-chain state (lots, actors, indexes).
    pub fn state(&self) -> crate::state::query::StateReader<'_> {
        crate::state::query::StateReader::new(&self.store)
    }

    /// Canonical bytes of the entry at `index`, if it exists and is published. An entry past
    /// the published head is not served: it is being acknowledged, or its write failed (a
    /// failed sync may leave it on disk though its submitter was told it failed).
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        if index >= self.head.borrow().size {
            return Ok(None);
        }
        Ok(self.store.entry(index)?)
    }

    /// The Merkle leaf hash of the published entry at `index` (as stored with the tree, so the
    /// entry is not read and hashed again).
    pub fn leaf_hash(&self, index: u64) -> Result<Option<Hash>, LedgerError> {
        if index >= self.head.borrow().size {
            return Ok(None);
        }
        Ok(self.store.node(0, index)?)
    }

    /// The hashes of a C2SP tile, or `None` if the latest signed checkpoint does not cover all
    /// of them: a tile is served only once a checkpoint commits to it, so every tile a client
    /// gets is one it can check against a signed root, and never changes afterwards.
    pub fn tile(&self, tile: Tile) -> Result<Option<Vec<Hash>>, LedgerError> {
        let covered = self.head.borrow().checkpoint.size;
        match tile.first_node() {
            Some((level, first)) if tile.within(covered) => Ok(Some(self.store.node_run(
                level,
                first,
                tile.width().into(),
            )?)),
            _ => Ok(None),
        }
    }

    /// The C2SP entry bundle of the level-0 tile `tile`: its entries, each after its length.
    pub fn entry_bundle(&self, tile: Tile) -> Result<EntryBundle, LedgerError> {
        let covered = self.head.borrow().checkpoint.size;
        let first = match tile.first_node() {
            Some((0, first)) if tile.within(covered) => first,
            _ => return Ok(EntryBundle::NotCovered { size: covered }),
        };
        let entries =
            match self
                .store
                .entry_run(first, tile.width().into(), tlog::tile::MAX_BUNDLED_ENTRY)?
            {
                Ok(entries) => entries,
                Err((index, len)) => return Ok(EntryBundle::TooLarge { index, len }),
            };
        let bundle = tlog::tile::write_bundle(entries.iter().map(Vec::as_slice))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(EntryBundle::Bundle(bundle))
    }

    /// Canonical bytes of the entry logged for `id`, if it is published (see [`Ledger::entry`]).
    pub fn entry_for_event(&self, id: &EventId) -> Result<Option<Vec<u8>>, LedgerError> {
        let key = lotline_profile::event::IdKey {
            id: *id,
            declaration: false,
        };
        let Some((index, _)) = self.store.event_id(&key)? else {
            return Ok(None);
        };
        if index >= self.head.borrow().size {
            return Ok(None);
        }
        let bytes = self.store.entry(index)?.ok_or_else(|| {
            StoreError::Corrupt(format!("eventID {id} points at missing entry {index}"))
        })?;
        Ok(Some(bytes))
    }

    fn check_tree_size(&self, size: u64) -> Result<(), LedgerError> {
        let current = self.head().size;
        if size > current {
            return Err(LedgerError::TreeSizeOutOfRange(format!(
                "tree size {size} is larger than the log, which has {current} entries"
            )));
        }
        Ok(())
    }

    /// Root hash of the tree of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        self.check_tree_size(size)?;
        Ok(merkle::root(&mut self.nodes(), size)?)
    }

    fn nodes(&self) -> Nodes<'_> {
        Nodes {
            store: &self.store,
            cache: &self.nodes,
        }
    }

    /// RFC 9162 inclusion proof of entry `index` in the tree of size `tree_size`.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_tree_size(tree_size)?;
        merkle::inclusion_proof(&mut self.nodes(), index, tree_size).map_err(proof_error)
    }

    /// Inclusion proofs of several entries in the tree of size `tree_size`. Nodes the proofs share
    /// — the upper levels, and the siblings of neighbouring entries — are read from the store
    /// once, so a lot's bundle costs far fewer reads than its proofs have hashes.
    pub fn inclusion_proofs(
        &self,
        indexes: &[u64],
        tree_size: u64,
    ) -> Result<Vec<Vec<Hash>>, LedgerError> {
        self.check_tree_size(tree_size)?;
        struct Cached<'s> {
            nodes: Nodes<'s>,
            seen: std::collections::HashMap<(u8, u64), Hash>,
        }
        impl merkle::NodeSource for Cached<'_> {
            type Error = StoreError;
            fn node(&mut self, level: u8, index: u64) -> Result<Hash, StoreError> {
                if let Some(h) = self.seen.get(&(level, index)) {
                    return Ok(*h);
                }
                let h = self.nodes.node(level, index)?;
                self.seen.insert((level, index), h);
                Ok(h)
            }
        }
        let mut src = Cached {
            nodes: self.nodes(),
            seen: std::collections::HashMap::new(),
        };
        indexes
            .iter()
            .map(|&i| merkle::inclusion_proof(&mut src, i, tree_size).map_err(proof_error))
            .collect()
    }

    /// RFC 9162 consistency proof between tree sizes `old` and `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_tree_size(new)?;
        merkle::consistency_proof(&mut self.nodes(), old, new).map_err(proof_error)
    }

    /// The latest signed checkpoint if it covers entry `index`; otherwise waits up to two
    /// checkpoint intervals for one that does, so a client may ask right after its receipt.
    pub async fn checkpoint_covering(
        &self,
        index: u64,
    ) -> Result<Arc<SignedCheckpoint>, LedgerError> {
        let mut head = self.head.clone();
        let wait = head.wait_for(|h| h.checkpoint.size > index);
        // Long enough for the next checkpoint at the default interval; with long intervals the
        // client is told to come back instead of holding a connection for minutes.
        let patience = (self.checkpoint_interval * 2).min(MAX_PROOF_WAIT);
        match tokio::time::timeout(patience, wait).await {
            Ok(Ok(h)) => Ok(h.checkpoint.clone()),
            _ => Err(LedgerError::NotYetCheckpointed { index }),
        }
    }

    /// A self-contained C2SP tlog-proof for entry `index`: the entry's bytes as `extra`, its
    /// inclusion proof and the signed checkpoint it is proved against. Waits up to two checkpoint
    /// intervals for a checkpoint that covers the entry, so a client may ask right after its
    /// receipt arrives.
    pub async fn tlog_proof(&self, index: u64) -> Result<Option<TlogProof>, LedgerError> {
        let Some(bytes) = self.entry(index)? else {
            return Ok(None);
        };
        let checkpoint = self.checkpoint_covering(index).await?;
        let hashes = self.inclusion_proof(index, checkpoint.size)?;
        Ok(Some(TlogProof {
            extra: Some(bytes),
            index,
            hashes,
            checkpoint: checkpoint.note.clone(),
        }))
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The log's origin: the stored one (a different `wanted` is refused, since the origin is part
/// of the log's identity), or on first open `wanted` or the default, checked and stored for good.
fn log_origin(
    store: &Store,
    wanted: Option<&str>,
    signing_key: &ed25519_dalek::SigningKey,
) -> Result<String, LedgerError> {
    Ok(match (store.meta(META_ORIGIN)?, wanted) {
        (Some(stored), wanted) => {
            let stored = String::from_utf8(stored)
                .map_err(|_| StoreError::Corrupt("origin is not UTF-8".into()))?;
            if let Some(w) = wanted.filter(|w| *w != stored) {
                return Err(LedgerError::Config(format!(
                    "this ledger's origin is {stored:?}; it cannot be changed to {w:?} (start a new data directory for a new log)"
                )));
            }
            stored
        }
        (None, wanted) => {
            let o = wanted.map(str::to_owned).unwrap_or_else(default_origin);
            // Check the name before it becomes the log's identity for good.
            NoteSigner::new(&o, signing_key.clone())
                .map_err(|e| LedgerError::Config(format!("origin {o:?}: {e}")))?;
            let mut b = store.batch();
            b.put_meta(META_ORIGIN, o.as_bytes());
            b.commit()?;
            o
        }
    })
}

/// The end of the stored log, which the sequencer chains the next entry to.
fn read_tail(store: &Store) -> Result<Tail, LedgerError> {
    // Reopening reads O(log n) nodes and the last entry, never the whole log.
    let size = store.size()?;
    let frontier = Frontier::load(&mut &*store, size)?;
    let (prev_hash, last_record_time) = match size {
        0 => (entry::GENESIS_PREV_HASH, String::new()),
        n => {
            let bytes = store
                .entry(n - 1)?
                .ok_or_else(|| StoreError::Corrupt(format!("entry {} missing", n - 1)))?;
            let e = entry::Entry::parse(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("entry {}: {e}", n - 1)))?;
            (entry::entry_hash(&bytes), e.record_time)
        }
    };
    Ok(Tail {
        frontier,
        prev_hash,
        last_record_time,
    })
}

/// The checkpoint to publish first: the stored one if it covers the whole stored tree, or a
/// fresh one, signed and stored, if it lags; refused if it covers more than is stored or does
/// not match the stored tree.
fn serving_checkpoint(
    store: &Store,
    signer: &NoteSigner,
    verifier_key: &VerifierKey,
    frontier: &Frontier,
) -> Result<SignedCheckpoint, LedgerError> {
    let size = frontier.size();
    let checkpoint = match store.meta(META_CHECKPOINT)? {
        Some(note) => Some(parse_own_checkpoint(&note, verifier_key)?),
        None => None,
    };
    // The checkpoint may lag the log by up to one interval when the process stopped; sign a
    // fresh one before serving so the published head always covers every stored entry.
    Ok(match checkpoint {
        Some(cp) if cp.size == size => {
            if cp.root != frontier.root() {
                return Err(StoreError::Corrupt(format!(
                    "the stored checkpoint's root for size {size} does not match the stored tree"
                ))
                .into());
            }
            cp
        }
        Some(cp) if cp.size > size => {
            return Err(StoreError::Corrupt(format!(
                "the stored checkpoint covers {} entries but only {size} are stored",
                cp.size
            ))
            .into());
        }
        Some(cp) if merkle::root(&mut &*store, cp.size)? != cp.root => {
            // Signing over a store that no longer matches what we published would launder
            // the damage; refuse instead (O(log n) reads).
            return Err(StoreError::Corrupt(format!(
                "the stored checkpoint's root for size {} does not match the stored tree",
                cp.size
            ))
            .into());
        }
        _ => {
            let cp = sign_checkpoint(signer, size, frontier.root());
            let mut b = store.batch();
            b.put_meta(META_CHECKPOINT, cp.note.as_bytes());
            b.commit()?;
            cp
        }
    })
}

fn proof_error(e: ProofError<StoreError>) -> LedgerError {
    match e {
        ProofError::Source(s) => LedgerError::Store(s),
        other => LedgerError::TreeSizeOutOfRange(other.to_string()),
    }
}

/// Signs the checkpoint for a tree of `size` entries with root `root`.
fn sign_checkpoint(signer: &NoteSigner, size: u64, root: Hash) -> SignedCheckpoint {
    let checkpoint = Checkpoint {
        origin: signer.name().to_owned(),
        size,
        root,
    };
    // Signing only fails for an origin that is not a valid key name, and NoteSigner::new has
    // already refused those; a failure here is a bug, not a condition to handle.
    let note = signer
        .sign_checkpoint(&checkpoint)
        .expect("a validated origin always makes a signable checkpoint");
    SignedCheckpoint { size, root, note }
}

pub(crate) fn parse_own_checkpoint(
    note: &[u8],
    key: &VerifierKey,
) -> Result<SignedCheckpoint, LedgerError> {
    let note = String::from_utf8(note.to_vec())
        .map_err(|_| StoreError::Corrupt("stored checkpoint is not UTF-8".into()))?;
    let text = tlog::note::open(&note, key).map_err(|e| {
        StoreError::Corrupt(format!(
            "stored checkpoint does not verify under the log key: {e}"
        ))
    })?;
    let cp = Checkpoint::parse(&text)
        .map_err(|e| StoreError::Corrupt(format!("stored checkpoint: {e}")))?;
    Ok(SignedCheckpoint {
        size: cp.size,
        root: cp.root,
        note,
    })
}

/// Loads the log's signing key from `data`, creating it (readable by the owner only) when the
/// store is new. The key file and its directory entry are synced before the store is created,
/// so a crash can never leave a store whose key was lost.
fn load_or_create_log_key(
    data: &Path,
    is_new: bool,
) -> Result<ed25519_dalek::SigningKey, LedgerError> {
    let path = data.join(LOG_KEY_FILE);
    match fs::read(&path) {
        Ok(bytes) => read_key_file(&path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && is_new => {
            let key = didkey::generate().map_err(|e| LedgerError::Io(e.to_string()))?;
            write_key_file(&path, &key, false)?;
            fs::File::open(data)
                .and_then(|d| d.sync_all())
                .map_err(|e| LedgerError::Io(format!("cannot sync {}: {e}", data.display())))?;
            tracing::info!(path = %path.display(), "created the log signing key");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(LedgerError::Config(format!(
            "{} is missing but {} holds a log: restore the log's key file (a new key could not sign checkpoints that verify under the published one)",
            path.display(),
            db_path(data).display()
        ))),
        Err(e) => Err(LedgerError::Io(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Parses a Multikey key file.
pub fn read_key_file(path: &Path, bytes: &[u8]) -> Result<ed25519_dalek::SigningKey, LedgerError> {
    let file: KeyFile = serde_json::from_slice(bytes).map_err(|e| {
        LedgerError::Config(format!("{} is not a lotline key file: {e}", path.display()))
    })?;
    file.to_signing_key()
        .map_err(|e| LedgerError::Config(format!("{}: {e}", path.display())))
}

/// Writes a Multikey key file with mode 0600, refusing to replace an existing file unless asked.
pub fn write_key_file(
    path: &Path,
    key: &ed25519_dalek::SigningKey,
    overwrite: bool,
) -> Result<(), LedgerError> {
    let json = serde_json::to_vec_pretty(&KeyFile::from_signing_key(key))
        .map_err(|e| LedgerError::Io(e.to_string()))?;
    let mut opts = fs::OpenOptions::new();
    opts.write(true);
    if overwrite {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let io = |e: std::io::Error| LedgerError::Io(format!("cannot write {}: {e}", path.display()));
    let mut f = opts.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        // `mode` applies only when the file is created; an overwritten file is tightened too.
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    f.write_all(&json).map_err(io)?;
    f.write_all(b"\n").map_err(io)?;
    f.sync_all().map_err(io)
}

/// `<hostname>/lotline`: a schema-less URL-like name, as C2SP recommends for log origins.
/// The wall clock in milliseconds since the epoch: what "now" means for validity checks (audit
/// tokens, keys, certificates) outside the sequencer.
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

pub fn default_origin() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/lotline")
}

/// The data directory's paths, for tools that only need to find things.
pub fn db_path(data: &Path) -> PathBuf {
    data.join(DB_DIR)
}
