//! Following a log written elsewhere: a replicated node applies the shared log's entries to its
//! local store, trusting none of them.
//!
//! Each entry is re-admitted (schema, profile, signature, signer), rebuilt from its event, its
//! index, the previous entry's hash and its record time — and the rebuilt bytes must be the
//! entry's bytes, so the chain, the canonical form and the record time are all checked at once —
//! then decided by the same rules the sequencer runs (`sequencer::decide`), at the entry's own
//! record time. A rule that refuses an entry the log holds means the nodes disagree on the
//! rules or the log was tampered with: the follower stops rather than serve a different state.
//! A checkpoint is adopted only if its signature verifies under the log's key and its root is
//! the root the follower rebuilt.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Core, Head, LedgerError, SignedCheckpoint, parse_own_checkpoint, sequencer};
use crate::state::{ApplyError, GroupState};
use crate::store::{META_CHECKPOINT, StoreError};
use lotline_profile::entry::{self, Entry};
use lotline_profile::event::{self, IdKey};
use lotline_profile::profile;
use tlog::merkle::Hash;

use super::sequencer::Tail;

/// Why a follower stopped applying the shared log.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The shared log holds something this node cannot accept: it names the entry and why.
    #[error("entry {index} of the shared log: {why}")]
    Diverged { index: u64, why: String },
    /// A checkpoint that does not verify or does not match the entries.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

impl From<ReplayError> for LedgerError {
    fn from(e: ReplayError) -> LedgerError {
        match e {
            ReplayError::Store(s) => LedgerError::Store(s),
            other => LedgerError::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

/// Applies the shared log to one node's store, from the end of what it holds.
pub struct Follower<'c> {
    core: &'c Core,
    tail: Tail,
}

impl<'c> Follower<'c> {
    pub(super) fn new(core: &'c Core, tail: Tail) -> Follower<'c> {
        Follower { core, tail }
    }

    /// Entries held locally.
    pub fn size(&self) -> u64 {
        self.tail.frontier.size()
    }

    /// Root of the local tree.
    pub fn root(&self) -> Hash {
        self.tail.frontier.root()
    }

    /// Hash of the last local entry (all zeros for an empty log).
    pub fn last_entry_hash(&self) -> Hash {
        self.tail.prev_hash
    }

    /// Verifies and applies `entries` — the next ones of the log, in order — and commits them
    /// to the local store as one synced batch. On an error nothing of this call is written.
    pub fn apply(&mut self, entries: &[(u64, Vec<u8>)]) -> Result<(), ReplayError> {
        if entries.is_empty() {
            return Ok(());
        }
        let store = self.core.store.clone();
        let rules = &self.core.opts.rules;
        let mut tail = Tail {
            frontier: self.tail.frontier.clone(),
            prev_hash: self.tail.prev_hash,
            last_record_time: self.tail.last_record_time.clone(),
        };
        let mut state = GroupState::new(&store, &[], entries.len());
        let mut batch = store.batch();
        // Events of this call so far: an error declaration may name one of them.
        let mut here: HashMap<IdKey, (u64, Vec<u8>)> = HashMap::new();
        let mut hashes_here: std::collections::HashSet<[u8; 32]> = Default::default();
        for (index, bytes) in entries {
            let index = *index;
            let diverged = |why: String| ReplayError::Diverged { index, why };
            if index != tail.frontier.size() {
                return Err(diverged(format!(
                    "expected entry {} next",
                    tail.frontier.size()
                )));
            }
            let e = Entry::parse(bytes).map_err(|e| diverged(format!("not an entry: {e}")))?;
            let item = event::admit(&e.event).map_err(|e| diverged(format!("{e}")))?;
            if item.signer != e.signer {
                return Err(diverged(format!(
                    "signer {} did not make the proof",
                    e.signer
                )));
            }
            if e.record_time < tail.last_record_time {
                return Err(diverged("its recordTime goes backwards".into()));
            }
            let rebuilt = entry::canonical_entry(
                index,
                &tail.prev_hash,
                &e.record_time,
                &item.signer,
                &item.event_jcs,
            );
            if rebuilt != *bytes {
                return Err(diverged(
                    "its bytes are not the entry its event, index, recordTime and the previous entry's hash make".into(),
                ));
            }
            let key = item.id_key();
            if here.contains_key(&key) || store.event_id(&key)?.is_some() {
                return Err(diverged(format!(
                    "eventID {} is logged twice",
                    item.event_id
                )));
            }
            if let Some(h) = sequencer::content_hash(&item)
                && (hashes_here.contains(&h) || store.event_hashes(&[h])?[0].is_some())
            {
                return Err(diverged(format!(
                    "event {} repeats the content (event hash) of an earlier entry",
                    item.event_id
                )));
            }
            let now_ms = profile::parse_time_ms(&e.record_time)
                .ok_or_else(|| diverged("its recordTime is not a time".into()))?;
            let earlier = |k: &IdKey| here.get(k).map(|(i, jcs)| (*i, jcs.as_slice()));
            match sequencer::decide(&store, rules, &mut state, &item, index, now_ms, earlier) {
                Ok(()) => {}
                Err(ApplyError::Store(s)) => return Err(s.into()),
                Err(ApplyError::Rule(r)) => {
                    return Err(diverged(format!(
                        "the rules of this node refuse it ({}: {}); are every node's registrars and bounds the same?",
                        r.code, r.message
                    )));
                }
            }
            let (entry_hash, leaf_hash) = entry::hashes(bytes);
            batch.put_entry(index, bytes);
            for (level, i, h) in tail.frontier.push(leaf_hash) {
                batch.put_node(level, i, &h);
            }
            batch.put_event_id(&key, index, &item.content_digest);
            sequencer::put_lookups(&mut batch, &mut state, &item, index);
            if let Some(h) = sequencer::content_hash(&item) {
                hashes_here.insert(h);
            }
            tail.prev_hash = entry_hash;
            tail.last_record_time = e.record_time;
            // A later error declaration in this call finds its original here.
            here.insert(key, (index, item.event_jcs));
        }
        let changes = state.finish();
        changes.write(&mut batch);
        batch.commit()?;
        self.tail = tail;
        Ok(())
    }

    /// Adopts a checkpoint of the local log: it must verify under the log's key and its size
    /// and root must be the local log's. It is stored and published to readers.
    pub fn adopt_checkpoint(&mut self, note: &str) -> Result<SignedCheckpoint, ReplayError> {
        let cp = parse_own_checkpoint(note.as_bytes(), &self.core.verifier_key)
            .map_err(|e| ReplayError::Checkpoint(e.to_string()))?;
        if cp.size != self.size() || cp.root != self.root() {
            return Err(ReplayError::Checkpoint(format!(
                "a checkpoint of size {} does not match the {} entries applied here",
                cp.size,
                self.size()
            )));
        }
        let mut batch = self.core.store.batch();
        batch.put_meta(META_CHECKPOINT, cp.note.as_bytes());
        batch.commit()?;
        self.core.published.send_replace(Head {
            size: cp.size,
            checkpoint: Arc::new(cp.clone()),
        });
        Ok(cp)
    }
}
