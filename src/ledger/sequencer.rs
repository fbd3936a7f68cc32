//! The sequencer: the only code that writes the log.
//!
//! It runs on its own thread and owns the head of the log — size, Merkle frontier, hash of the
//! last entry, last record time and last checkpoint. Nothing else holds or mutates those; other
//! threads see the head only through the [`Head`] it publishes after each durable commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;
use tokio::sync::{oneshot, watch};

use super::{AppendError, Appended, Head, LedgerOptions, SignedCheckpoint, sign_checkpoint};
use crate::core::entry::{self, Receipt};
use crate::core::event::{Admitted, IdKey};
use crate::core::merkle::{Frontier, Hash};
use crate::core::note::NoteSigner;
use crate::core::profile;
use crate::state::{ApplyError, GroupState, RuleError, Tx};
use crate::store::{BatchWriter, META_CHECKPOINT, Store, StoreError};
use serde_json::Value;

/// One submission: a single event or a batch, answered together once durable.
pub(super) struct Job {
    pub items: Vec<Admitted>,
    pub reply: oneshot::Sender<Vec<Result<Appended, AppendError>>>,
}

/// RFC 3339, UTC, millisecond precision: fixed width, so string order is time order.
const RECORD_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

pub(super) struct Sequencer {
    store: Arc<Store>,
    signer: NoteSigner,
    opts: LedgerOptions,
    jobs: Receiver<Job>,
    published: watch::Sender<Head>,
    // The head of the log, owned by this thread alone.
    frontier: Frontier,
    prev_hash: Hash,
    last_record_time: String,
    checkpoint: Arc<SignedCheckpoint>,
    checkpoint_at: Instant,
}

impl Sequencer {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        store: Arc<Store>,
        signer: NoteSigner,
        frontier: Frontier,
        prev_hash: Hash,
        last_record_time: String,
        opts: LedgerOptions,
        jobs: Receiver<Job>,
        published: watch::Sender<Head>,
    ) -> Sequencer {
        let checkpoint = published.borrow().checkpoint.clone();
        Sequencer {
            store,
            signer,
            opts,
            jobs,
            published,
            frontier,
            prev_hash,
            last_record_time,
            checkpoint,
            checkpoint_at: Instant::now(),
        }
    }

    pub(super) fn run(mut self) {
        loop {
            let wait = self
                .opts
                .checkpoint_interval
                .saturating_sub(self.checkpoint_at.elapsed());
            match self.jobs.recv_timeout(wait) {
                Ok(first) => {
                    let mut group = vec![first];
                    let mut events = group[0].items.len();
                    while events < self.opts.max_group_events {
                        match self.jobs.try_recv() {
                            Ok(job) => {
                                events += job.items.len();
                                group.push(job);
                            }
                            Err(_) => break,
                        }
                    }
                    if let Err(e) = self.commit_group(group) {
                        return self.fail(e);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.checkpoint_if_behind() {
                        return self.fail(e);
                    }
                }
                // Shutdown: the senders are gone and the queue is drained.
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if let Err(e) = self.checkpoint_if_behind() {
            return self.fail(e);
        }
        tracing::info!(size = self.frontier.size(), "sequencer stopped");
    }

    /// Fail-stop. After a failed write the store's state is unknown — a synced write that
    /// reports an error may still have reached the disk, and RocksDB may refuse further writes —
    /// so this process writes nothing more: the thread ends, later submissions are answered
    /// `503 unavailable`, `/readyz` fails, and a restart rebuilds the head from what is on disk.
    fn fail(self, error: StoreError) {
        tracing::error!(%error, size = self.frontier.size(), "a write failed; the ledger stopped accepting writes — restart it");
    }

    /// Record times never go backwards, even if the wall clock does.
    fn next_record_time(&self) -> String {
        let now = OffsetDateTime::now_utc()
            .format(RECORD_TIME)
            .unwrap_or_else(|_| self.last_record_time.clone());
        if now > self.last_record_time {
            now
        } else {
            self.last_record_time.clone()
        }
    }

    /// Decides, writes and answers one group. Nothing is answered before the group's synced
    /// write returned; if it fails, every event of the group gets an error and the caller stops.
    fn commit_group(&mut self, group: Vec<Job>) -> Result<(), StoreError> {
        let keys: Vec<IdKey> = group
            .iter()
            .flat_map(|j| j.items.iter().map(Admitted::id_key))
            .collect();
        let logged = match self.store.event_ids(&keys) {
            Ok(v) => v,
            Err(e) => {
                fail_all(group, &e.to_string());
                return Err(e);
            }
        };
        let record_time = self.next_record_time();
        let now_ms = profile::parse_time_ms(&record_time).unwrap_or(i64::MAX);
        let store = self.store.clone();
        let mut state = GroupState::new(&store);
        let mut batch = store.batch();
        // Events of this group that are new: eventID key → (content digest, receipt).
        let mut fresh: HashMap<IdKey, (Hash, Receipt)> = HashMap::new();
        let mut outcomes = Vec::with_capacity(group.len());
        let mut logged = logged.into_iter();

        for job in &group {
            let mut answers = Vec::with_capacity(job.items.len());
            for item in &job.items {
                let earlier = logged.next().flatten();
                let answer = if let Some((index, digest)) = earlier {
                    self.replay(item, index, &digest)
                } else if let Some((digest, receipt)) = fresh.get(&item.id_key()) {
                    if *digest == item.content_digest {
                        Ok(Appended::Duplicate(receipt.clone()))
                    } else {
                        Err(conflict(item, receipt.index))
                    }
                } else {
                    let index = self.frontier.size();
                    if index > entry::MAX_INDEX {
                        Err(AppendError::Storage("the log is full".into()))
                    } else {
                        match self.decide(&mut state, item, index, now_ms) {
                            Err(ApplyError::Store(e)) => {
                                fail_all(group, &e.to_string());
                                return Err(e);
                            }
                            Err(ApplyError::Rule(r)) => Err(AppendError::Rejected(r)),
                            Ok(()) => {
                                let receipt =
                                    self.append_entry(&mut batch, item, index, &record_time);
                                fresh.insert(item.id_key(), (item.content_digest, receipt.clone()));
                                Ok(Appended::Created(receipt))
                            }
                        }
                    }
                };
                answers.push(answer);
            }
            outcomes.push(answers);
        }
        state.write(&mut batch);

        let grew = !fresh.is_empty();
        if grew {
            self.last_record_time = record_time;
        }
        // Due whenever the log is ahead of its checkpoint, even if this group only replayed
        // duplicates: a storm of retries must not hold checkpoints back.
        let mut new_checkpoint = None;
        if self.checkpoint.size != self.frontier.size()
            && self.checkpoint_at.elapsed() >= self.opts.checkpoint_interval
        {
            let cp = self.sign_head();
            batch.put_meta(META_CHECKPOINT, cp.note.as_bytes());
            new_checkpoint = Some(cp);
        }

        if !batch.is_empty()
            && let Err(e) = batch.commit()
        {
            fail_all(group, &e.to_string());
            return Err(e);
        }

        let checkpointed = new_checkpoint.is_some();
        if let Some(cp) = new_checkpoint {
            self.checkpoint = Arc::new(cp);
            self.checkpoint_at = Instant::now();
        }
        if grew || checkpointed {
            self.publish();
            tracing::debug!(
                size = self.frontier.size(),
                added = fresh.len(),
                "group committed"
            );
        }
        for (job, answers) in group.into_iter().zip(outcomes) {
            // A client that went away no longer needs its answer; its entries are durable anyway.
            let _ = job.reply.send(answers);
        }
        Ok(())
    }

    /// Runs the supply-chain rules for a new entry at `index`; on success its state changes
    /// are kept in `state`, on refusal nothing is.
    fn decide(
        &self,
        state: &mut GroupState<'_>,
        item: &Admitted,
        index: u64,
        now_ms: i64,
    ) -> Result<(), ApplyError> {
        let mut tx = Tx::new(state, index);
        if item.doc.declares_error {
            let original = self.original_of(item)?;
            tx.correct(&item.doc, &item.signer, original, now_ms)?;
        } else {
            tx.apply(&item.doc, &item.signer, now_ms, &self.opts.rules)?;
        }
        tx.commit();
        Ok(())
    }

    /// The entry an error declaration names: same eventID, and the same event apart from the
    /// declaration and the proof — EPCIS declares an event erroneous by repeating it.
    fn original_of(&self, item: &Admitted) -> Result<u64, ApplyError> {
        let plain = IdKey {
            id: item.event_id,
            declaration: false,
        };
        let Some((index, _)) = self.store.event_id(&plain)? else {
            return Err(ApplyError::Rule(RuleError {
                code: "unknown_event",
                message: format!(
                    "{} is not in the ledger, so it cannot be declared erroneous",
                    item.event_id
                ),
            }));
        };
        let bytes = self
            .store
            .entry(index)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is missing")))?;
        let stored = entry::Entry::parse(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("entry {index}: {e}")))?;
        let strip = |mut v: Value| {
            if let Some(o) = v.as_object_mut() {
                o.remove("proof");
                o.remove("errorDeclaration");
            }
            v
        };
        let declared: Value = serde_json::from_slice(&item.event_jcs)
            .map_err(|e| StoreError::Corrupt(format!("admitted event: {e}")))?;
        if strip(stored.event) != strip(declared) {
            return Err(ApplyError::Rule(RuleError {
                code: "correction_mismatch",
                message: format!(
                    "an error declaration repeats the erroneous event (entry {index}) unchanged and adds errorDeclaration; this one differs from it"
                ),
            }));
        }
        Ok(index)
    }

    /// Chains, hashes and stages entry `index`.
    fn append_entry(
        &mut self,
        batch: &mut BatchWriter<'_>,
        item: &Admitted,
        index: u64,
        record_time: &str,
    ) -> Receipt {
        let bytes = entry::canonical_entry(
            index,
            &self.prev_hash,
            record_time,
            &item.signer,
            &item.event_jcs,
        );
        let (entry_hash, leaf_hash) = entry::hashes(&bytes);
        batch.put_entry(index, &bytes);
        for (level, i, h) in self.frontier.push(leaf_hash) {
            batch.put_node(level, i, &h);
        }
        batch.put_event_id(&item.id_key(), index, &item.content_digest);
        self.prev_hash = entry_hash;
        Receipt {
            index,
            entry_hash,
            leaf_hash,
            event_id: item.event_id.to_string(),
            record_time: record_time.to_owned(),
        }
    }

    fn sign_head(&self) -> SignedCheckpoint {
        sign_checkpoint(&self.signer, self.frontier.size(), self.frontier.root())
    }

    /// The answer for an event whose eventID is already in the store.
    fn replay(&self, item: &Admitted, index: u64, digest: &Hash) -> Result<Appended, AppendError> {
        if *digest != item.content_digest {
            return Err(conflict(item, index));
        }
        let bytes = self
            .store
            .entry(index)
            .map_err(|e| AppendError::Storage(e.to_string()))?
            .ok_or_else(|| AppendError::Storage(format!("entry {index} is missing")))?;
        Receipt::for_stored(&bytes)
            .map(Appended::Duplicate)
            .map_err(|e| AppendError::Storage(format!("entry {index}: {e}")))
    }

    fn checkpoint_if_behind(&mut self) -> Result<(), StoreError> {
        self.checkpoint_at = Instant::now();
        if self.checkpoint.size == self.frontier.size() {
            return Ok(());
        }
        let cp = self.sign_head();
        let mut b = self.store.batch();
        b.put_meta(META_CHECKPOINT, cp.note.as_bytes());
        b.commit()?;
        self.checkpoint = Arc::new(cp);
        self.publish();
        Ok(())
    }

    fn publish(&self) {
        self.published.send_replace(Head {
            size: self.frontier.size(),
            checkpoint: self.checkpoint.clone(),
        });
    }
}

fn conflict(item: &Admitted, index: u64) -> AppendError {
    AppendError::Conflict {
        event_id: item.event_id.to_string(),
        index,
    }
}

fn fail_all(group: Vec<Job>, reason: &str) {
    for job in group {
        let answers = job
            .items
            .iter()
            .map(|_| Err(AppendError::Storage(reason.to_owned())))
            .collect();
        let _ = job.reply.send(answers);
    }
}
