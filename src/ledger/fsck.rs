//! `fsck`: re-checks a stopped ledger from its stored bytes alone.
//!
//! It trusts nothing the sequencer derived: every entry is re-parsed, re-admitted (schema,
//! signature, signer, content digest) and re-hashed, every chain link re-checked, the whole Merkle
//! tree rebuilt and compared node by node with what is stored, the eventID index compared entry
//! by entry, and the latest checkpoint verified against the rebuilt root. It stops at the first
//! problem and names it, because everything after a bad entry is suspect anyway.

use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize as _;

use super::{LOG_KEY_FILE, LedgerError, db_path, read_key_file};
use crate::store::{META_CHECKPOINT, META_ORIGIN, Store, StoreError};
use data_integrity::jcs;
use lotline_profile::entry::{self, Entry};
use lotline_profile::event::{self, IdKey};
use tlog::merkle::{Frontier, Hash};
use tlog::note::{self, Checkpoint, NoteSigner, VerifierKey};

/// What `fsck` found.
#[derive(Debug)]
pub struct FsckReport {
    /// Entries checked and found good, in order from 0.
    pub size: u64,
    /// Root of the tree of those entries.
    pub root: Hash,
    pub checkpoint_size: u64,
    /// The first problem, if any: the entry index it concerns (when it concerns one) and what.
    pub problem: Option<(Option<u64>, String)>,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.problem.is_none()
    }
}

/// Entries verified per parallel chunk: large enough to keep every core busy, small enough that
/// memory stays flat on any log size.
const CHUNK: usize = 2048;

/// Why a check stopped: the ledger is damaged, or it could not be checked at all.
enum Stop {
    Damaged(Option<u64>, String),
    Failed(LedgerError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        match e {
            // Undecodable keys or values are damage, not a failure to check.
            StoreError::Corrupt(what) => Stop::Damaged(None, what),
            other => Stop::Failed(other.into()),
        }
    }
}

fn damaged(index: impl Into<Option<u64>>, what: impl Into<String>) -> Stop {
    Stop::Damaged(index.into(), what.into())
}

/// Checks the ledger in `data`. `Err` means it could not be checked (I/O, a server holds the
/// lock, no ledger there); a report with a problem means it was checked and is damaged.
pub fn fsck(data: &Path) -> Result<FsckReport, LedgerError> {
    let store = Store::open_existing(&db_path(data)).map_err(|e| {
        LedgerError::Io(format!(
            "cannot open the ledger in {} (does it exist, and is the server stopped?): {e}",
            data.display()
        ))
    })?;
    let key_path = data.join(LOG_KEY_FILE);
    let key_bytes = std::fs::read(&key_path)
        .map_err(|e| LedgerError::Io(format!("cannot read {}: {e}", key_path.display())))?;
    let signing_key = read_key_file(&key_path, &key_bytes)?;

    let mut tree = Rebuilt::default();
    let outcome = check(&store, signing_key, &mut tree);
    let report = |problem| FsckReport {
        size: tree.frontier.size(),
        root: tree.frontier.root(),
        checkpoint_size: tree.checkpoint_size,
        problem,
    };
    match outcome {
        Ok(()) => Ok(report(None)),
        Err(Stop::Damaged(index, what)) => Ok(report(Some((index, what)))),
        Err(Stop::Failed(e)) => Err(e),
    }
}

fn check(
    store: &Store,
    signing_key: ed25519_dalek::SigningKey,
    tree: &mut Rebuilt,
) -> Result<(), Stop> {
    let origin = store
        .meta(META_ORIGIN)?
        .and_then(|o| String::from_utf8(o).ok())
        .ok_or_else(|| damaged(None, "the store has no valid origin"))?;
    let verifier = NoteSigner::new(&origin, signing_key)
        .map_err(|e| damaged(None, format!("origin {origin:?}: {e}")))?
        .verifier_key();
    let checkpoint = stored_checkpoint(store, &verifier)?;
    if let Some(cp) = &checkpoint {
        tree.checkpoint_size = cp.size;
    }
    if tree.checkpoint_size == 0 {
        tree.checkpoint_root = Some(tree.frontier.root());
    }

    let mut chunk: Vec<(u64, Vec<u8>)> = Vec::with_capacity(CHUNK);
    let mut entries = store.entries();
    loop {
        chunk.clear();
        for item in entries.by_ref().take(CHUNK) {
            chunk.push(item?);
        }
        if chunk.is_empty() {
            break;
        }
        // Everything that depends on one entry alone runs in parallel…
        let checked: Vec<Result<Checked, String>> = chunk
            .par_iter()
            .map(|(k, bytes)| check_entry(*k, bytes))
            .collect();
        // …the chain, the index and the tree are checked in order.
        for ((index, _), checked) in chunk.iter().zip(checked) {
            tree.append(store, *index, checked)?;
        }
    }
    drop(entries);

    let size = tree.frontier.size();
    let stored_nodes = store.nodes().try_fold(0u64, |n, r| r.map(|_| n + 1))?;
    if stored_nodes != tree.nodes {
        return Err(damaged(
            None,
            format!(
                "{stored_nodes} Merkle nodes are stored but {size} entries make {}",
                tree.nodes
            ),
        ));
    }
    let stored_ids = store
        .all_event_ids()
        .try_fold(0u64, |n, r| r.map(|_| n + 1))?;
    if stored_ids != size {
        return Err(damaged(
            None,
            format!("{stored_ids} eventIDs are indexed for {size} entries"),
        ));
    }
    if let Some(cp) = checkpoint {
        match tree.checkpoint_root {
            None => {
                return Err(damaged(
                    None,
                    format!(
                        "the checkpoint covers {} entries but only {size} are stored",
                        cp.size
                    ),
                ));
            }
            Some(root) if root != cp.root => {
                return Err(damaged(
                    None,
                    format!(
                        "the checkpoint's root for size {} does not match the stored entries",
                        cp.size
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn stored_checkpoint(store: &Store, verifier: &VerifierKey) -> Result<Option<Checkpoint>, Stop> {
    let Some(bytes) = store.meta(META_CHECKPOINT)? else {
        return Ok(None);
    };
    let note = String::from_utf8(bytes)
        .map_err(|_| damaged(None, "the stored checkpoint is not UTF-8"))?;
    let text = note::open(&note, verifier).map_err(|e| {
        damaged(
            None,
            format!("the stored checkpoint does not verify under the log key: {e}"),
        )
    })?;
    let cp = Checkpoint::parse(&text)
        .map_err(|e| damaged(None, format!("the stored checkpoint: {e}")))?;
    if cp.origin != verifier.name {
        return Err(damaged(None, "the stored checkpoint names another origin"));
    }
    Ok(Some(cp))
}

/// The chain and the tree as rebuilt from the entries read so far.
#[derive(Default)]
struct Rebuilt {
    frontier: Frontier,
    prev_hash: Hash,
    prev_record_time: String,
    /// Merkle nodes the entries so far produce; the store must hold exactly these.
    nodes: u64,
    checkpoint_size: u64,
    /// The rebuilt root at the checkpoint's size, once reached.
    checkpoint_root: Option<Hash>,
}

impl Rebuilt {
    /// Adds the entry stored under `index` after checking everything that links it to the
    /// entries before it and to the indexes beside it.
    fn append(
        &mut self,
        store: &Store,
        index: u64,
        checked: Result<Checked, String>,
    ) -> Result<(), Stop> {
        let expected = self.frontier.size();
        if index != expected {
            return Err(damaged(
                expected,
                format!("entry {expected} is missing (the next stored entry is {index})"),
            ));
        }
        let c = checked.map_err(|what| damaged(index, what))?;
        // Entry 0's prevHash is all zeros, which is also Rebuilt's starting value.
        if c.prev_hash != self.prev_hash {
            return Err(damaged(
                index,
                format!(
                    "entry {index}: prevHash does not match the hash of entry {}",
                    index.wrapping_sub(1)
                ),
            ));
        }
        if c.record_time < self.prev_record_time {
            return Err(damaged(
                index,
                format!(
                    "entry {index}: recordTime {} is earlier than the previous entry's {}",
                    c.record_time, self.prev_record_time
                ),
            ));
        }
        match store.event_id(&c.event_id)? {
            Some((i, digest)) if i == index && digest == c.content_digest => {}
            Some((i, _)) if i == index => {
                return Err(damaged(
                    index,
                    format!("entry {index}: the eventID index holds another content digest"),
                ));
            }
            other => {
                return Err(damaged(
                    index,
                    format!(
                        "entry {index}: the eventID index points at {:?}",
                        other.map(|(i, _)| i)
                    ),
                ));
            }
        }
        for (level, i, h) in self.frontier.push(c.leaf_hash) {
            self.nodes += 1;
            if store.node(level, i)? != Some(h) {
                return Err(damaged(
                    index,
                    format!(
                        "entry {index}: stored Merkle node (level {level}, index {i}) does not match the entry's bytes"
                    ),
                ));
            }
        }
        self.prev_hash = c.entry_hash;
        self.prev_record_time = c.record_time;
        if self.frontier.size() == self.checkpoint_size {
            self.checkpoint_root = Some(self.frontier.root());
        }
        Ok(())
    }
}

/// What one entry says about itself, once checked.
struct Checked {
    entry_hash: Hash,
    leaf_hash: Hash,
    prev_hash: Hash,
    record_time: String,
    event_id: IdKey,
    content_digest: Hash,
}

/// Checks what one entry can prove on its own: form, canonical encoding, and that its event
/// would be admitted today, signed by the signer the entry names.
fn check_entry(index: u64, bytes: &[u8]) -> Result<Checked, String> {
    // One parse serves both the canonical-form check and the typed view of the entry.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| format!("entry {index} is not valid JSON: {err}"))?;
    if jcs::canonicalize(&value) != bytes {
        return Err(format!("entry {index} is not stored in canonical form"));
    }
    let e = Entry::deserialize(&value)
        .map_err(|err| format!("entry {index} is not a valid entry: {err}"))?;
    if e.index != index {
        return Err(format!("entry {index} says it is entry {}", e.index));
    }
    let admitted = event::admit(&e.event).map_err(|err| format!("entry {index}: {err}"))?;
    if admitted.signer != e.signer {
        return Err(format!(
            "entry {index}: signer {} did not make the proof",
            e.signer
        ));
    }
    let (entry_hash, leaf_hash) = entry::hashes(bytes);
    Ok(Checked {
        entry_hash,
        leaf_hash,
        prev_hash: e.prev_hash,
        record_time: e.record_time,
        event_id: admitted.id_key(),
        content_digest: admitted.content_digest,
    })
}
