//! Storage: the RocksDB database under `<data>/db` and the contract the ledger relies on.
//!
//! # Contract
//! - [`Store::commit`] is atomic and durable: when it returns `Ok`, every put in the batch is in the
//!   write-ahead log and synced to disk. When it returns `Err`, the outcome is unknown — the batch
//!   is all-or-nothing, but a synced write that reports an error may still have reached the disk —
//!   so the caller must stop writing and let a restart read back what is there.
//! - Reads see every committed batch (read-after-write consistency); readers never block the
//!   writer.
//! - Nothing in the log families (`entries`, `merkle`, `event_ids`, `event_hashes`) is ever
//!   overwritten or deleted by lotline: keys are written once.
//!
//! # Key layout (column families)
//! | CF          | key                                  | value                                           |
//! |-------------|--------------------------------------|-------------------------------------------------|
//! | `entries`   | index, u64 big-endian                | canonical entry bytes (RFC 8785 JSON)           |
//! | `merkle`    | level u8 ‖ index u64 big-endian      | 32-byte hash of the complete subtree of leaves `[index·2^level, (index+1)·2^level)`; level 0 holds leaf hashes |
//! | `event_ids` | 16-byte UUID of the `eventID` (‖ 0x01 for an EPCIS error declaration of it) | entry index u64 big-endian ‖ 32-byte content digest |
//! | `event_hashes` | 32-byte CBV 2.0 event hash of an EPCIS event (not of error declarations) | entry index u64 big-endian |
//! | `meta`      | `origin`, `checkpoint`               | the log's origin line; the latest signed checkpoint note |
//! | `service`   | `job/`, `query/`, `sub/` ‖ id        | this node's capture jobs, named queries and subscriptions (JSON, `crate::epcis`); not derived from the log, changed in place |
//! | `actors`    | actor id (UTF-8)                     | the actor's record (JSON, `state::ActorRecord`)  |
//! | `keys`      | `did:key`                            | the id of the actor the key belongs to          |
//! | `lots`      | canonical GS1 key (Digital Link path)| the lot's state (binary, `state::codec`; JSON before it) |
//! | `entry_meta`| index, u64 big-endian                | what the rules derived from the entry (binary, `state::codec`; JSON before it) |
//! | `index`     | tag byte ‖ field ‖ 0 ‖ time ‖ index  | empty; the query indexes, see `state::IndexKeys::push_index`; certificates by holder and by issuer: tag ‖ actor ‖ 0 ‖ certificate id (`state::certs::holder_key`) |
//! | `certs`     | certificate id (a URI)               | the certificate's record (JSON, `state::certs::CertRecord`) |
//!
//! The last six families are *state*: derived from the log by the rules, written by the
//! sequencer in the same batch as the entries they derive from, so state never lags the log
//! and never runs ahead of it. State records are replaced as lots change; the log itself is not.
//!
//! Big-endian keys make RocksDB's byte order the numeric order, so the last key of `entries` is
//! the log's size minus one and a tree of any size needs one read per stored node it touches:
//! proofs cost O(log n) reads and reopening costs O(log n), whatever the size of the log.

#[cfg(feature = "fault-injection")]
pub mod failpoint;
pub mod outbox;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DB, DBCompressionType, IteratorMode, Options,
    WriteBatch, WriteOptions,
};

use lotline_profile::event::IdKey;
use tlog::merkle::{Hash, NodeSource};

const CF_ENTRIES: &str = "entries";
const CF_MERKLE: &str = "merkle";
const CF_EVENT_IDS: &str = "event_ids";
const CF_META: &str = "meta";
const CF_EVENT_HASHES: &str = "event_hashes";
const CF_SERVICE: &str = "service";

/// A key and its value, as scans return them.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// The state families: derived from the log by the rules (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateCf {
    Actors,
    Keys,
    Lots,
    EntryMeta,
    Index,
    Certs,
}

impl StateCf {
    const ALL: [StateCf; 6] = [
        StateCf::Actors,
        StateCf::Keys,
        StateCf::Lots,
        StateCf::EntryMeta,
        StateCf::Index,
        StateCf::Certs,
    ];

    fn name(self) -> &'static str {
        match self {
            StateCf::Actors => "actors",
            StateCf::Keys => "keys",
            StateCf::Lots => "lots",
            StateCf::EntryMeta => "entry_meta",
            StateCf::Index => "index",
            StateCf::Certs => "certs",
        }
    }
}

pub const META_ORIGIN: &[u8] = b"origin";
pub const META_CHECKPOINT: &[u8] = b"checkpoint";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("no lotline store at {0}")]
    Missing(String),
    /// Stored data is not what the sequencer writes: the store was damaged or tampered with.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// A write failed because the file system is full (RocksDB's message).
    #[error("the disk is full: {0}")]
    DiskFull(String),
    /// A fault injected by `LOTLINE_FAILPOINT`, or that variable refused (see `failpoint`).
    #[error("{0}")]
    Injected(String),
    /// Another process (a running server) holds the database open.
    #[error("the store in {0} is open in another process (a running server)")]
    InUse(String),
}

/// Drops `shared` on this thread once no one else holds it, closing the stores it owns here;
/// false (leaving it to its other holders) if they still hold it after `patience`.
///
/// Why: a process must close its RocksDB databases before it exits. `exit` destroys RocksDB's
/// static objects (its background-task scheduler among them), and a database closed after that
/// (by a thread still dropping its last reference) aborts the process with SIGABRT, or never
/// closes at all. After a graceful stop the server's worker threads drop their copies of the
/// app state a moment after the server reports them stopped, so `serve` and `edge` wait here
/// for the last of them.
pub fn close_when_last<T>(mut shared: Arc<T>, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        match Arc::try_unwrap(shared) {
            Ok(owned) => {
                drop(owned);
                return true;
            }
            Err(again) if Instant::now() < deadline => {
                shared = again;
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => return false,
        }
    }
}

/// Whether another process holds RocksDB's lock (a POSIX record lock on `LOCK`) on the
/// database in `dir`. Only for processes that have none of their own databases open on `dir`:
/// closing any descriptor of a file drops the record locks this process holds on it, so a
/// probe from the process that holds the lock would release it.
pub fn locked_by_another_process(dir: &Path) -> bool {
    use std::os::fd::AsRawFd as _;
    let Ok(file) = std::fs::File::open(dir.join("LOCK")) else {
        return false;
    };
    // SAFETY: an all-zero `flock` is a valid value of this plain C struct.
    let mut probe: libc::flock = unsafe { std::mem::zeroed() };
    probe.l_type = libc::F_WRLCK as libc::c_short;
    probe.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: F_GETLK reads and writes only `probe`, which outlives the call; the descriptor
    // is open for the call's duration.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut probe) };
    rc == 0 && probe.l_type != libc::F_UNLCK as libc::c_short
}

/// A build without the feature `fault-injection` has no failpoints: one asked for in the
/// environment is refused rather than silently not injected.
#[cfg(not(feature = "fault-injection"))]
fn refuse_failpoint() -> Result<(), StoreError> {
    match std::env::var_os("LOTLINE_FAILPOINT") {
        Some(v) if !v.is_empty() => Err(StoreError::Injected(
            "LOTLINE_FAILPOINT is set, but this build has no fault injection (cargo feature `fault-injection`); unset it".into(),
        )),
        _ => Ok(()),
    }
}

/// Tells a full file system apart from the other write failures, for the operator's sake.
fn write_error(e: rocksdb::Error) -> StoreError {
    if e.as_ref().contains("No space left on device") {
        StoreError::DiskFull(e.into_string())
    } else {
        StoreError::Rocks(e)
    }
}

/// The RocksDB-backed store. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Store {
    db: DB,
    /// Kept for its statistics (WAL syncs), which tests use to prove commits are synced.
    opts: Options,
}

/// Puts collected by the sequencer and committed as one synced write.
#[derive(Default)]
pub struct Batch {
    inner: WriteBatch,
    /// Whether the batch writes log entries: only those commits count for injected faults.
    #[cfg(feature = "fault-injection")]
    logs: bool,
}

fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn u64_at(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| {
            StoreError::Corrupt(format!("{what}: expected 8 bytes, got {}", bytes.len()))
        })
}

fn hash_from(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what}: expected 32 bytes, got {}", bytes.len())))
}

impl Store {
    /// Opens (creating if needed) the database in `dir`. RocksDB takes a lock file, so a second
    /// process — a second server, or `fsck` while a server runs — fails here instead of racing.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Self::open_with(dir, true)
    }

    /// Opens an existing database; never creates one, nor its directory (for tools such as
    /// `fsck`). RocksDB would create the directory even when told not to create a database.
    ///
    /// A database another process holds is refused before RocksDB tries it: a failed open
    /// still moves the directory's `LOG` aside first, and the running server would go on
    /// logging into the moved file.
    pub fn open_existing(dir: &Path) -> Result<Store, StoreError> {
        if !dir.join("CURRENT").is_file() {
            return Err(StoreError::Missing(dir.display().to_string()));
        }
        if locked_by_another_process(dir) {
            return Err(StoreError::InUse(dir.display().to_string()));
        }
        Self::open_with(dir, false)
    }

    fn open_with(dir: &Path, create: bool) -> Result<Store, StoreError> {
        #[cfg(feature = "fault-injection")]
        failpoint::check()?;
        #[cfg(not(feature = "fault-injection"))]
        refuse_failpoint()?;
        let mut db_opts = Options::default();
        db_opts.create_if_missing(create);
        db_opts.enable_statistics();
        // Tickers only (`wal_syncs` reads one): histograms and timers cost a clock read per
        // operation.
        db_opts.set_statistics_level(rocksdb::statistics::StatsLevel::ExceptHistogramOrTimers);
        db_opts.create_missing_column_families(true);
        // A torn tail of the WAL is dropped; everything acknowledged was synced before it.
        db_opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::PointInTime);
        db_opts.set_paranoid_checks(true);

        let mut entries = Options::default();
        entries.set_compression_type(DBCompressionType::Lz4);

        // Every submission looks its eventID up, and commissioning looks up identifiers; most
        // do not exist yet, so bloom filters — on the tables and on the memtable — turn the
        // miss into a memory check.
        let looked_up = || {
            let mut o = Options::default();
            let mut block = BlockBasedOptions::default();
            block.set_bloom_filter(10.0, false);
            o.set_block_based_table_factory(&block);
            o.set_memtable_whole_key_filtering(true);
            o.set_memtable_prefix_bloom_ratio(0.05);
            o
        };
        let ids = looked_up();

        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_ENTRIES, entries),
            ColumnFamilyDescriptor::new(CF_MERKLE, Options::default()),
            ColumnFamilyDescriptor::new(CF_EVENT_IDS, ids),
            ColumnFamilyDescriptor::new(CF_META, Options::default()),
            ColumnFamilyDescriptor::new(CF_EVENT_HASHES, looked_up()),
            ColumnFamilyDescriptor::new(CF_SERVICE, Options::default()),
        ]
        .into_iter()
        .chain(StateCf::ALL.iter().map(|cf| {
            let mut o = match cf {
                StateCf::Actors | StateCf::Keys | StateCf::Lots | StateCf::Certs => looked_up(),
                // Entry metas are only read where they exist, and the query index is only ever
                // scanned: filters there would cost every write and save no read.
                StateCf::EntryMeta | StateCf::Index => Options::default(),
            };
            o.set_compression_type(DBCompressionType::Lz4);
            ColumnFamilyDescriptor::new(cf.name(), o)
        }))
        .collect::<Vec<_>>();
        let db = DB::open_cf_descriptors(&db_opts, dir, cfs)?;
        Ok(Store { db, opts: db_opts })
    }

    /// How many times RocksDB has synced the write-ahead log since this store was opened.
    /// A consistent copy of the whole database in `dir` (which must not exist): RocksDB hard
    /// links the immutable table files when it can and copies the rest (see `crate::backup`).
    pub fn checkpoint_to(&self, dir: &Path) -> Result<(), StoreError> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    pub fn wal_syncs(&self) -> u64 {
        self.opts
            .get_ticker_count(rocksdb::statistics::Ticker::WalFileSynced)
    }

    /// RocksDB's own figures for the metrics: per column family, compactions pending, the bytes
    /// they would rewrite, memtables and file sizes; for the whole database, compactions and
    /// flushes running, whether writes are stopped or delayed (the stall state), and the
    /// cumulative stall time and compaction traffic. `(property, column family or "", value)`.
    pub fn rocksdb_figures(&self) -> Vec<(&'static str, &'static str, u64)> {
        const PER_CF: [&str; 6] = [
            "rocksdb.compaction-pending",
            "rocksdb.estimate-pending-compaction-bytes",
            "rocksdb.num-immutable-mem-table",
            "rocksdb.cur-size-all-mem-tables",
            "rocksdb.live-sst-files-size",
            "rocksdb.estimate-num-keys",
        ];
        const DB_WIDE: [&str; 4] = [
            "rocksdb.num-running-compactions",
            "rocksdb.num-running-flushes",
            "rocksdb.is-write-stopped",
            "rocksdb.actual-delayed-write-rate",
        ];
        let families = [
            CF_ENTRIES,
            CF_MERKLE,
            CF_EVENT_IDS,
            CF_META,
            CF_EVENT_HASHES,
            CF_SERVICE,
        ]
        .into_iter()
        .chain(StateCf::ALL.iter().map(|cf| cf.name()));
        let mut out = Vec::new();
        for cf in families {
            for p in PER_CF {
                if let Ok(Some(v)) = self.db.property_int_value_cf(self.cf(cf), p) {
                    out.push((p, cf, v));
                }
            }
        }
        for p in DB_WIDE {
            if let Ok(Some(v)) = self.db.property_int_value(p) {
                out.push((p, "", v));
            }
        }
        use rocksdb::statistics::Ticker;
        for t in [
            Ticker::StallMicros,
            Ticker::CompactReadBytes,
            Ticker::CompactWriteBytes,
            Ticker::FlushWriteBytes,
            Ticker::WalFileSynced,
            Ticker::WalFileBytes,
        ] {
            out.push((t.name(), "", self.opts.get_ticker_count(t)));
        }
        out
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        // Every family is created by `open`; a missing one is a programming error.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} exists after open"))
    }

    /// Number of entries: one past the last index in `entries`.
    pub fn size(&self) -> Result<u64, StoreError> {
        let mut it = self.db.iterator_cf(self.cf(CF_ENTRIES), IteratorMode::End);
        match it.next() {
            None => Ok(0),
            Some(item) => Ok(u64_at(&item?.0, "entry key")? + 1),
        }
    }

    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_ENTRIES), index.to_be_bytes())?)
    }

    /// Every entry in index order, as `(index, canonical bytes)`; for `fsck`.
    pub fn entries(&self) -> impl Iterator<Item = Result<(u64, Vec<u8>), StoreError>> + '_ {
        self.db
            .iterator_cf(self.cf(CF_ENTRIES), IteratorMode::Start)
            .map(|item| {
                let (k, v) = item?;
                Ok((u64_at(&k, "entry key")?, v.into_vec()))
            })
    }

    pub fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
        self.db
            .get_cf(self.cf(CF_MERKLE), node_key(level, index))?
            .map(|v| hash_from(&v, "merkle node"))
            .transpose()
    }

    /// The nodes (`level`, `start`) to (`level`, `start + count - 1`), read with one range scan:
    /// a C2SP tile. Every one must be stored.
    pub fn node_run(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        let mode = IteratorMode::From(&node_key(level, start), rocksdb::Direction::Forward);
        let mut out = Vec::with_capacity(count.min(256) as usize);
        for item in self.db.iterator_cf(self.cf(CF_MERKLE), mode) {
            if out.len() as u64 == count {
                break;
            }
            let (k, v) = item?;
            let want = start + out.len() as u64;
            if *k != node_key(level, want) {
                break;
            }
            out.push(hash_from(&v, "merkle node")?);
        }
        if out.len() as u64 != count {
            return Err(StoreError::Corrupt(format!(
                "missing merkle node level {level} index {}",
                start + out.len() as u64
            )));
        }
        Ok(out)
    }

    /// The entries `start` to `start + count - 1`, read with one range scan: a C2SP entry
    /// bundle. Every one must be stored. The read stops at the first entry longer than
    /// `max_len`, which comes back as `Err((index, length))`, so a run of large entries is never
    /// held in memory only to be refused.
    #[allow(clippy::type_complexity)]
    pub fn entry_run(
        &self,
        start: u64,
        count: u64,
        max_len: usize,
    ) -> Result<Result<Vec<Vec<u8>>, (u64, usize)>, StoreError> {
        let from = start.to_be_bytes();
        let mode = IteratorMode::From(&from, rocksdb::Direction::Forward);
        let mut out = Vec::with_capacity(count.min(256) as usize);
        for item in self.db.iterator_cf(self.cf(CF_ENTRIES), mode) {
            if out.len() as u64 == count {
                break;
            }
            let (k, v) = item?;
            let index = start + out.len() as u64;
            if u64_at(&k, "entry key")? != index {
                break;
            }
            if v.len() > max_len {
                return Ok(Err((index, v.len())));
            }
            out.push(v.into_vec());
        }
        if out.len() as u64 != count {
            return Err(StoreError::Corrupt(format!(
                "missing entry {}",
                start + out.len() as u64
            )));
        }
        Ok(Ok(out))
    }

    /// Looks up many eventIDs in one call: `(index, content digest)` for those already logged.
    pub fn event_ids(&self, ids: &[IdKey]) -> Result<Vec<Option<(u64, Hash)>>, StoreError> {
        let cf = self.cf(CF_EVENT_IDS);
        self.db
            .multi_get_cf(ids.iter().map(|id| (cf, id.to_bytes())))
            .into_iter()
            .map(|r| r?.map(|v| decode_event_id_value(&v)).transpose())
            .collect()
    }

    /// Looks up many event hashes in one call: the index of the entry logged with each.
    pub fn event_hashes(&self, hashes: &[[u8; 32]]) -> Result<Vec<Option<u64>>, StoreError> {
        let cf = self.cf(CF_EVENT_HASHES);
        self.db
            .multi_get_cf(hashes.iter().map(|h| (cf, h.as_slice())))
            .into_iter()
            .map(|r| r?.map(|v| u64_at(&v, "event hash")).transpose())
            .collect()
    }

    /// A cursor over the `index` family restricted to keys starting with `prefix`, moving
    /// forwards or backwards; the query engine (`crate::epcis::query`) seeks it.
    pub fn index_cursor(&self, prefix: Vec<u8>, forward: bool) -> IndexCursor<'_> {
        IndexCursor {
            it: self.db.raw_iterator_cf(self.cf(StateCf::Index.name())),
            prefix,
            forward,
        }
    }

    /// This node's service record `key` (capture jobs, named queries, subscriptions).
    pub fn service(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_SERVICE), key)?)
    }

    /// Writes (or with `None` deletes) service records in one synced write: when it returns,
    /// they survive a crash.
    pub fn put_service(&self, records: &[(&[u8], Option<&[u8]>)]) -> Result<(), StoreError> {
        let cf = self.cf(CF_SERVICE);
        let mut batch = WriteBatch::default();
        for (k, v) in records {
            match v {
                Some(v) => batch.put_cf(cf, k, v),
                None => batch.delete_cf(cf, k),
            }
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts).map_err(write_error)
    }

    /// Every service record whose key starts with `prefix`, in key order.
    pub fn service_scan(&self, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        let mut out = Vec::new();
        let it = self.db.iterator_cf(
            self.cf(CF_SERVICE),
            IteratorMode::From(prefix, rocksdb::Direction::Forward),
        );
        for item in it {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }

    pub fn event_id(&self, id: &IdKey) -> Result<Option<(u64, Hash)>, StoreError> {
        Ok(self.event_ids(std::slice::from_ref(id))?.pop().flatten())
    }

    pub fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_META), key)?)
    }

    /// A state record, or `None`.
    pub fn state(&self, cf: StateCf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(cf.name()), key)?)
    }

    /// Keys and values of `cf` in `[from, until)`, in key order, at most `limit` of them.
    pub fn scan_state(
        &self,
        cf: StateCf,
        from: &[u8],
        until: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let mode = IteratorMode::From(from, rocksdb::Direction::Forward);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(cf.name()), mode) {
            let (k, v) = item?;
            if *k >= *until || out.len() >= limit {
                break;
            }
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }

    /// Writes the batch atomically with one synced WAL write. See the module contract.
    pub fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        #[cfg(feature = "fault-injection")]
        let logs = batch.logs;
        #[cfg(feature = "fault-injection")]
        failpoint::hit(failpoint::Stage::BeforeWrite, logs)?;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch.inner, &opts).map_err(write_error)?;
        #[cfg(feature = "fault-injection")]
        failpoint::hit(failpoint::Stage::AfterSync, logs)?;
        Ok(())
    }

    pub fn batch(&self) -> BatchWriter<'_> {
        self.resume(Batch::default())
    }

    /// A batch with room for about `bytes`, so that a large group is not copied over and over
    /// as its batch grows.
    pub fn batch_with_capacity(&self, bytes: usize) -> BatchWriter<'_> {
        self.resume(Batch {
            inner: WriteBatch::with_capacity_bytes(bytes),
            #[cfg(feature = "fault-injection")]
            logs: false,
        })
    }

    /// Goes on adding to a batch staged earlier (possibly on another thread).
    pub fn resume(&self, batch: Batch) -> BatchWriter<'_> {
        BatchWriter { store: self, batch }
    }

    /// Every `(level, index, hash)` in `merkle`, in key order; for `fsck`.
    pub fn nodes(&self) -> impl Iterator<Item = Result<(u8, u64, Hash), StoreError>> + '_ {
        self.db
            .iterator_cf(self.cf(CF_MERKLE), IteratorMode::Start)
            .map(|item| {
                let (k, v) = item?;
                if k.len() != 9 {
                    return Err(StoreError::Corrupt(format!(
                        "merkle key of {} bytes",
                        k.len()
                    )));
                }
                Ok((
                    k[0],
                    u64_at(&k[1..], "merkle key")?,
                    hash_from(&v, "merkle node")?,
                ))
            })
    }

    /// Every `(eventID, index, digest)` in `event_ids`; for `fsck`.
    pub fn all_event_ids(
        &self,
    ) -> impl Iterator<Item = Result<(IdKey, u64, Hash), StoreError>> + '_ {
        self.db
            .iterator_cf(self.cf(CF_EVENT_IDS), IteratorMode::Start)
            .map(|item| {
                let (k, v) = item?;
                let id = IdKey::from_bytes(&k).ok_or_else(|| {
                    StoreError::Corrupt(format!("event_ids key of {} bytes", k.len()))
                })?;
                let (index, digest) = decode_event_id_value(&v)?;
                Ok((id, index, digest))
            })
    }
}

fn decode_event_id_value(v: &[u8]) -> Result<(u64, Hash), StoreError> {
    if v.len() != 40 {
        return Err(StoreError::Corrupt(format!(
            "event_ids value of {} bytes",
            v.len()
        )));
    }
    Ok((
        u64_at(&v[..8], "event_ids value")?,
        hash_from(&v[8..], "event_ids value")?,
    ))
}

/// A cursor over one prefix of the `index` family: keys are `prefix ‖ suffix`, and the cursor
/// yields suffixes in order (forwards) or reverse order (backwards).
pub struct IndexCursor<'a> {
    it: rocksdb::DBRawIteratorWithThreadMode<'a, DB>,
    prefix: Vec<u8>,
    forward: bool,
}

impl IndexCursor<'_> {
    /// Moves to the first suffix at or after `suffix` in the cursor's direction (forwards: the
    /// smallest ≥ it; backwards: the largest ≤ it).
    pub fn seek(&mut self, suffix: &[u8]) {
        let mut k = Vec::with_capacity(self.prefix.len() + suffix.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(suffix);
        if self.forward {
            self.it.seek(&k);
        } else {
            self.it.seek_for_prev(&k);
        }
    }

    /// Moves to the first suffix in the cursor's direction.
    pub fn rewind(&mut self) {
        if self.forward {
            self.it.seek(&self.prefix);
        } else {
            // The largest key under the prefix: just before the prefix's successor.
            let mut end = self.prefix.clone();
            end.push(0xff);
            end.extend_from_slice(&[0xff; 16]);
            self.it.seek_for_prev(&end);
        }
    }

    /// The current suffix, or `None` past the end of the prefix.
    pub fn suffix(&self) -> Option<&[u8]> {
        let k = self.it.key()?;
        k.strip_prefix(self.prefix.as_slice())
    }

    pub fn advance(&mut self) {
        if self.forward {
            self.it.next();
        } else {
            self.it.prev();
        }
    }

    /// A read error the iterator met (it then reports no key).
    pub fn status(&self) -> Result<(), StoreError> {
        Ok(self.it.status()?)
    }
}

/// Builds a [`Batch`] in the key layout above.
pub struct BatchWriter<'a> {
    store: &'a Store,
    batch: Batch,
}

impl BatchWriter<'_> {
    pub fn put_entry(&mut self, index: u64, canonical: &[u8]) {
        let cf = self.store.cf(CF_ENTRIES);
        self.batch.inner.put_cf(cf, index.to_be_bytes(), canonical);
        #[cfg(feature = "fault-injection")]
        {
            self.batch.logs = true;
        }
    }

    pub fn put_node(&mut self, level: u8, index: u64, hash: &Hash) {
        let cf = self.store.cf(CF_MERKLE);
        self.batch.inner.put_cf(cf, node_key(level, index), hash);
    }

    pub fn put_event_id(&mut self, id: &IdKey, index: u64, digest: &Hash) {
        let mut v = [0u8; 40];
        v[..8].copy_from_slice(&index.to_be_bytes());
        v[8..].copy_from_slice(digest);
        let cf = self.store.cf(CF_EVENT_IDS);
        self.batch.inner.put_cf(cf, id.to_bytes(), v);
    }

    pub fn put_event_hash(&mut self, hash: &[u8; 32], index: u64) {
        let cf = self.store.cf(CF_EVENT_HASHES);
        self.batch.inner.put_cf(cf, hash, index.to_be_bytes());
    }

    pub fn put_state(&mut self, cf: StateCf, key: &[u8], value: &[u8]) {
        let cf = self.store.cf(cf.name());
        self.batch.inner.put_cf(cf, key, value);
    }

    pub fn put_meta(&mut self, key: &[u8], value: &[u8]) {
        let cf = self.store.cf(CF_META);
        self.batch.inner.put_cf(cf, key, value);
    }

    pub fn is_empty(&self) -> bool {
        self.batch.inner.is_empty()
    }

    /// The batch so far, to hand to another thread.
    pub fn into_batch(self) -> Batch {
        self.batch
    }

    /// Commits with one synced write; see [`Store::commit`].
    pub fn commit(self) -> Result<(), StoreError> {
        self.store.commit(self.batch)
    }
}

/// Proof generation reads stored nodes; a node that should exist but does not means the store
/// is damaged.
impl NodeSource for &Store {
    type Error = StoreError;

    fn node(&mut self, level: u8, index: u64) -> Result<Hash, StoreError> {
        Store::node(self, level, index)?.ok_or_else(|| {
            StoreError::Corrupt(format!("missing merkle node level {level} index {index}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_batches_read_back_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let id = IdKey {
            id: lotline_profile::event::EventId::new_v7(),
            declaration: false,
        };
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.size().unwrap(), 0);
            let mut b = store.batch();
            b.put_entry(0, b"{}");
            b.put_entry(1, b"{\"a\":1}");
            b.put_node(0, 1, &[9; 32]);
            b.put_event_id(&id, 1, &[3; 32]);
            b.put_meta(META_ORIGIN, b"example.org/log");
            b.commit().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.size().unwrap(), 2);
        assert_eq!(store.entry(1).unwrap().unwrap(), b"{\"a\":1}");
        assert_eq!(store.node(0, 1).unwrap(), Some([9; 32]));
        assert_eq!(store.node(1, 0).unwrap(), None);
        assert_eq!(store.event_id(&id).unwrap(), Some((1, [3; 32])));
        let declaration = IdKey {
            declaration: true,
            ..id
        };
        assert_eq!(store.event_id(&declaration).unwrap(), None);
        assert_eq!(
            store.meta(META_ORIGIN).unwrap().unwrap(),
            b"example.org/log"
        );
        let listed: Vec<u64> = store.entries().map(|r| r.unwrap().0).collect();
        assert_eq!(listed, vec![0, 1]);
    }

    #[test]
    fn close_when_last_closes_the_store_once_other_holders_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let other = store.clone();
        let holder = std::thread::spawn(move || {
            wait.recv().unwrap();
            // Still held when `close_when_last` starts: it must wait, not give up or drop early.
            std::thread::sleep(Duration::from_millis(200));
            other.size().unwrap()
        });
        go.send(()).unwrap();
        let started = Instant::now();
        assert!(close_when_last(store, Duration::from_secs(60)));
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(holder.join().unwrap(), 0);
        // Closed here: RocksDB's lock is free again.
        Store::open(dir.path()).unwrap();
    }

    #[test]
    fn close_when_last_leaves_a_store_still_held_to_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let kept = store.clone();
        assert!(!close_when_last(store, Duration::from_millis(10)));
        assert_eq!(kept.size().unwrap(), 0);
        assert!(Store::open(dir.path()).is_err(), "still open");
    }

    #[test]
    fn every_commit_syncs_the_wal() {
        // A SIGKILL test cannot see a missing fsync (the page cache survives the process), so
        // count what RocksDB itself reports.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let before = store.wal_syncs();
        for i in 0..5u64 {
            let mut b = store.batch();
            b.put_entry(i, b"{}");
            b.commit().unwrap();
        }
        assert!(
            store.wal_syncs() >= before + 5,
            "{} syncs for 5 commits",
            store.wal_syncs() - before
        );
    }

    #[test]
    fn open_existing_does_not_create() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Store::open_existing(&dir.path().join("nothing")).is_err());
        assert!(!dir.path().join("nothing").exists());
    }

    #[test]
    fn a_second_open_of_the_same_directory_fails() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        assert!(Store::open(dir.path()).is_err());
    }
}
