//! `fsck`: re-checks a stopped ledger from its stored bytes alone.
//!
//! It trusts nothing the sequencer derived: every entry is re-parsed and re-hashed, every chain
//! link and every signature re-checked, the whole Merkle tree rebuilt and compared node by node
//! with what is stored, and the latest checkpoint verified against the rebuilt root. It stops at
//! the first problem and names it, because everything after a bad entry is suspect anyway.

use std::path::Path;

use rayon::prelude::*;

use super::{LOG_KEY_FILE, LedgerError, db_path, read_key_file};
use crate::core::entry::{self, Entry};
use crate::core::event::EventId;
use crate::core::merkle::{Frontier, Hash};
use crate::core::note::{self, Checkpoint, NoteSigner};
use crate::core::{di, jcs};
use crate::store::{META_CHECKPOINT, META_ORIGIN, Store};

/// What `fsck` found.
#[derive(Debug)]
pub struct FsckReport {
    pub size: u64,
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

/// Entries verified per parallel chunk: large enough to keep both cores busy, small enough that
/// memory stays flat on any log size.
const CHUNK: usize = 2048;

/// Checks the ledger in `data`. `Err` means it could not be checked (I/O, a server holds the
/// lock); a report with a problem means it was checked and is damaged.
pub fn fsck(data: &Path) -> Result<FsckReport, LedgerError> {
    let store = Store::open(&db_path(data)).map_err(|e| {
        LedgerError::Io(format!(
            "cannot open the store in {} (stop the server first): {e}",
            data.display()
        ))
    })?;
    let key_path = data.join(LOG_KEY_FILE);
    let key_bytes = std::fs::read(&key_path)
        .map_err(|e| LedgerError::Io(format!("cannot read {}: {e}", key_path.display())))?;
    let signing_key = read_key_file(&key_path, &key_bytes)?;
    let origin = store
        .meta(META_ORIGIN)?
        .and_then(|o| String::from_utf8(o).ok())
        .ok_or_else(|| {
            LedgerError::Io("the store has no origin; is this a lotline data directory?".into())
        })?;
    let verifier = NoteSigner::new(&origin, signing_key)
        .map_err(|e| LedgerError::Config(e.to_string()))?
        .verifier_key();

    let checkpoint = match store.meta(META_CHECKPOINT)? {
        None => None,
        Some(bytes) => {
            let text = String::from_utf8(bytes)
                .ok()
                .and_then(|n| note::open(&n, &verifier).ok())
                .and_then(|t| Checkpoint::parse(&t).ok());
            match text {
                Some(cp) => Some(cp),
                None => {
                    return Ok(report(
                        0,
                        [0; 32],
                        0,
                        None,
                        "the stored checkpoint does not verify under the log key",
                    ));
                }
            }
        }
    };
    let checkpoint_size = checkpoint.as_ref().map_or(0, |c| c.size);

    let mut tree = Rebuilt {
        frontier: Frontier::new(),
        prev_hash: entry::GENESIS_PREV_HASH,
        nodes: 0,
        checkpoint_size,
        checkpoint_root: (checkpoint_size == 0).then(|| Frontier::new().root()),
    };
    let mut chunk: Vec<(u64, Vec<u8>)> = Vec::with_capacity(CHUNK);
    let mut entries = store.entries_from(0);
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
        // …the chain and the tree are checked in order.
        for ((index, _), checked) in chunk.iter().zip(checked) {
            if let Err((bad, what)) = tree.append(&store, *index, checked)? {
                let root = tree.frontier.root();
                return Ok(report(bad, root, checkpoint_size, Some(bad), &what));
            }
        }
    }
    drop(entries);
    let (frontier, nodes_expected, checkpoint_root) =
        (tree.frontier, tree.nodes, tree.checkpoint_root);

    let size = frontier.size();
    let root = frontier.root();
    let stored_nodes = store.nodes().try_fold(0u64, |n, r| r.map(|_| n + 1))?;
    if stored_nodes != nodes_expected {
        return Ok(report(
            size,
            root,
            checkpoint_size,
            None,
            &format!(
                "{stored_nodes} Merkle nodes are stored but {size} entries make {nodes_expected}"
            ),
        ));
    }
    let stored_ids = store
        .all_event_ids()
        .try_fold(0u64, |n, r| r.map(|_| n + 1))?;
    if stored_ids != size {
        return Ok(report(
            size,
            root,
            checkpoint_size,
            None,
            &format!("{stored_ids} eventIDs are indexed for {size} entries"),
        ));
    }
    if let Some(cp) = &checkpoint {
        if cp.origin != origin {
            return Ok(report(
                size,
                root,
                checkpoint_size,
                None,
                "the checkpoint names another origin",
            ));
        }
        match checkpoint_root {
            None => {
                return Ok(report(
                    size,
                    root,
                    checkpoint_size,
                    None,
                    &format!(
                        "the checkpoint covers {} entries but only {size} are stored",
                        cp.size
                    ),
                ));
            }
            Some(r) if r != cp.root => {
                return Ok(report(
                    size,
                    root,
                    checkpoint_size,
                    None,
                    &format!(
                        "the checkpoint's root for size {} does not match the stored entries",
                        cp.size
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(report(size, root, checkpoint_size, None, ""))
}

fn report(
    size: u64,
    root: Hash,
    checkpoint_size: u64,
    index: Option<u64>,
    what: &str,
) -> FsckReport {
    FsckReport {
        size,
        root,
        checkpoint_size,
        problem: (!what.is_empty()).then(|| (index, what.to_owned())),
    }
}

/// The chain and the tree as rebuilt from the entries read so far.
struct Rebuilt {
    frontier: Frontier,
    prev_hash: Hash,
    /// Merkle nodes the entries so far produce; the store must hold exactly these.
    nodes: u64,
    checkpoint_size: u64,
    /// The rebuilt root at the checkpoint's size, once reached.
    checkpoint_root: Option<Hash>,
}

impl Rebuilt {
    /// Adds the entry stored under `index`; `Ok(Err((bad index, what)))` is the first problem.
    fn append(
        &mut self,
        store: &Store,
        index: u64,
        checked: Result<Checked, String>,
    ) -> Result<Result<(), (u64, String)>, LedgerError> {
        let expected = self.frontier.size();
        if index != expected {
            return Ok(Err((
                expected,
                format!("entry {expected} is missing (the next stored entry is {index})"),
            )));
        }
        match self.link(store, index, checked)? {
            Ok(()) => Ok(Ok(())),
            Err(what) => Ok(Err((index, what))),
        }
    }

    fn link(
        &mut self,
        store: &Store,
        index: u64,
        checked: Result<Checked, String>,
    ) -> Result<Result<(), String>, LedgerError> {
        let c = match checked {
            Ok(c) => c,
            Err(what) => return Ok(Err(what)),
        };
        if c.prev_hash != self.prev_hash {
            return Ok(Err(format!(
                "entry {index}: prevHash does not match the hash of entry {}",
                index.wrapping_sub(1)
            )));
        }
        match store.event_id(&c.event_id)? {
            Some((i, _)) if i == index => {}
            other => {
                return Ok(Err(format!(
                    "entry {index}: the eventID index points at {other:?}"
                )));
            }
        }
        for (level, i, h) in self.frontier.push(c.leaf_hash) {
            self.nodes += 1;
            if store.node(level, i)? != Some(h) {
                return Ok(Err(format!(
                    "entry {index}: stored Merkle node (level {level}, index {i}) does not match the entry's bytes"
                )));
            }
        }
        self.prev_hash = c.entry_hash;
        if self.frontier.size() == self.checkpoint_size {
            self.checkpoint_root = Some(self.frontier.root());
        }
        Ok(Ok(()))
    }
}

/// What one entry says about itself, once checked.
struct Checked {
    entry_hash: Hash,
    leaf_hash: Hash,
    prev_hash: Hash,
    event_id: EventId,
}

/// Checks what one entry can prove on its own.
fn check_entry(index: u64, bytes: &[u8]) -> Result<Checked, String> {
    let e =
        Entry::parse(bytes).map_err(|err| format!("entry {index} is not a valid entry: {err}"))?;
    if e.index != index {
        return Err(format!("entry {index} says it is entry {}", e.index));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|err| format!("entry {index}: {err}"))?;
    if jcs::canonicalize(&value) != bytes {
        return Err(format!("entry {index} is not stored in canonical form"));
    }
    let verified =
        di::verify(&e.event).map_err(|err| format!("entry {index}: signature: {err}"))?;
    if verified.did != e.signer {
        return Err(format!(
            "entry {index}: signer {} did not make the proof",
            e.signer
        ));
    }
    let event_id = e
        .event_id()
        .and_then(EventId::parse)
        .ok_or_else(|| format!("entry {index}: the event has no valid eventID"))?;
    let (entry_hash, leaf_hash) = entry::hashes(bytes);
    Ok(Checked {
        entry_hash,
        leaf_hash,
        prev_hash: e.prev_hash,
        event_id,
    })
}
