//! The sequencer: the only code that writes the log.
//!
//! It runs on its own thread and owns the head of the log — size, Merkle frontier, hash of the
//! last entry, last record time and last checkpoint. Nothing else holds or mutates those.
//!
//! Writing is pipelined over two threads. The sequencer decides a group of events (rules,
//! chaining, hashing) and stages it; a writer thread commits the group to the shared log first
//! when there is one ([`LogSink`], the replicated deployment), signs a checkpoint when one is
//! due — only now, after the log's commit — encodes the group's state changes, commits the
//! batch with one synced write, and only then publishes the new [`Head`] and answers the
//! group's submissions. Groups are committed strictly in order, so while the writer syncs one
//! group the sequencer decides the next on top of it, reading the groups still in flight
//! before the store ([`InFlight`]). Other threads see the head only as published, after the
//! write that made it durable.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Instant;

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;
use tokio::sync::{oneshot, watch};

use super::{AppendError, Appended, Head, LedgerOptions, LogGroup, LogSink, sign_checkpoint};
use crate::state::{ApplyError, Changes, GroupState, RuleError, Rules, ident_tags, tag};
use crate::store::{Batch, BatchWriter, META_CHECKPOINT, Store, StoreError};
use lotline_profile::entry::{self, Receipt};
use lotline_profile::event::{Admitted, EventId, IdKey};
use lotline_profile::profile;
use lotline_profile::refusal::Refusal;
use serde_json::Value;
use tlog::merkle::{Frontier, Hash};
use tlog::note::NoteSigner;

/// One submission: a single event or a batch, answered together once durable.
pub(super) struct Job {
    pub items: Vec<Admitted>,
    pub reply: oneshot::Sender<Vec<Result<Appended, AppendError>>>,
    /// All or nothing: decided in a group of its own, which is dropped unwritten if the rules
    /// refuse any of its items.
    pub atomic: bool,
}

/// RFC 3339, UTC, millisecond precision: fixed width, so string order is time order.
const RECORD_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The end of the stored log, which the next entry is chained to: the Merkle frontier (its size
/// is the log's), the hash of the last entry and the last record time.
pub(super) struct Tail {
    pub frontier: Frontier,
    pub prev_hash: Hash,
    pub last_record_time: String,
}

/// What the sequencer hands its writer thread when it starts it.
type WriterParts = (
    NoteSigner,
    Arc<watch::Sender<Head>>,
    Option<Box<dyn LogSink>>,
);

pub(super) struct Sequencer {
    store: Arc<Store>,
    opts: LedgerOptions,
    jobs: Receiver<Job>,
    /// What the writer thread takes: the checkpoint signer, where to publish, and the shared
    /// log when there is one.
    writer: Option<WriterParts>,
    /// Whether groups collect their entries for a shared log.
    shared_log: bool,
    // The head of the log, owned by this thread alone. It runs ahead of what is durable by the
    // groups in `inflight`.
    frontier: Frontier,
    prev_hash: Hash,
    last_record_time: String,
    /// Size of the newest checkpoint asked of the writer.
    checkpoint_size: u64,
    checkpoint_at: Instant,
    /// Groups handed to the writer and not yet durable, oldest first.
    inflight: VecDeque<InFlight>,
    /// An all-or-nothing job taken off the queue while collecting a group: it starts the next.
    held: Option<Job>,
}

/// How many decided groups may wait for the writer while it commits another. One is enough to
/// keep both threads busy; more would only hold more memory and answers back.
const WRITER_QUEUE: usize = 1;

/// What a group decided, kept until the writer reports it durable: the next groups must see
/// its state and its eventIDs although they are not in the store yet.
struct InFlight {
    changes: Arc<Changes>,
    fresh: Arc<HashMap<IdKey, (Hash, Receipt)>>,
    hashes: Arc<HashMap<[u8; 32], Receipt>>,
}

/// A group being decided.
struct Draft<'s> {
    /// The state its accepted events changed, read through the groups in flight.
    state: GroupState<'s>,
    /// Entries, tree nodes and eventIDs staged so far (and the checkpoint, when one is due).
    batch: BatchWriter<'s>,
    /// Events of this group that are new: eventID key → (content digest, receipt).
    fresh: HashMap<IdKey, (Hash, Receipt)>,
    /// Their event hashes (error declarations aside) → receipt.
    hashes: HashMap<[u8; 32], Receipt>,
    /// The record time of every entry in the group, and the same in milliseconds.
    record_time: String,
    now_ms: i64,
    /// The group's entries for the shared log, when there is one.
    log: Option<LogGroup>,
}

/// A decided group on its way to disk.
struct Staged {
    jobs: Vec<Job>,
    outcomes: Vec<Vec<Result<Appended, AppendError>>>,
    /// Entries, tree nodes and eventIDs, staged by the sequencer.
    batch: Batch,
    /// State changes, encoded into the batch by the writer.
    changes: Option<Arc<Changes>>,
    /// The group's entries, for the shared log (replicated deployments only).
    log: Option<LogGroup>,
    /// A checkpoint to sign for this tree size and root, once the log has committed it.
    checkpoint: Option<(u64, Hash)>,
    /// The log's size to publish once the batch is durable.
    size: Option<u64>,
}

/// The writer thread's end: commits staged groups in order, then publishes and answers.
struct Writer {
    store: Arc<Store>,
    signer: NoteSigner,
    published: Arc<watch::Sender<Head>>,
    sink: Option<Box<dyn LogSink>>,
    staged: Receiver<Staged>,
    done: SyncSender<()>,
    stopped: Arc<AtomicBool>,
}

impl Writer {
    fn run(self) {
        let Writer {
            store,
            signer,
            published,
            mut sink,
            staged,
            done,
            stopped,
        } = self;
        let mut checkpoint = published.borrow().checkpoint.clone();
        // Why the writer stopped, as its clients are answered: `Unavailable` either way, since
        // the outcome of the failed group is unknown and retrying is safe (eventIDs): another
        // node may take over from a shared log, and a lone node answers again once restarted.
        let mut failure: Option<AppendError> = None;
        for s in &staged {
            let Staged {
                jobs,
                outcomes,
                batch,
                changes,
                log,
                checkpoint: due,
                size,
            } = s;
            let began = Instant::now();
            let events: usize = jobs.iter().map(|j| j.items.len()).sum();
            let before = published.borrow().size;
            // The shared log first: the group exists once that commits (fenced on the head the
            // group was decided on), and the local store is only ever a prefix of it.
            let shared = match (&mut sink, &log) {
                (Some(sink), Some(group)) if !group.entries.is_empty() => sink.append(group),
                _ => Ok(()),
            };
            if let Err(e) = shared {
                tracing::warn!(error = %e, "the shared log refused or lost a group; this node stops sequencing");
                let answer = AppendError::Unavailable(e.to_string());
                fail_all_with(jobs, &answer);
                failure = Some(answer);
                break;
            }
            let mut batch = store.resume(batch);
            if let Some(c) = &changes {
                c.write(&mut batch);
            }
            // Signed only now: after the shared log's COMMIT returned, never before, so no
            // checkpoint ever covers an entry that could still be lost.
            if let Some((cp_size, root)) = due {
                let cp = sign_checkpoint(&signer, cp_size, root);
                crate::metrics::get().checkpoint_seen(cp_size);
                if let Some(sink) = &mut sink
                    && let Err(e) = sink.checkpoint(&cp)
                {
                    tracing::warn!(error = %e, "cannot store a checkpoint in the shared log; this node stops sequencing");
                    let answer = AppendError::Unavailable(e.to_string());
                    fail_all_with(jobs, &answer);
                    failure = Some(answer);
                    break;
                }
                batch.put_meta(META_CHECKPOINT, cp.note.as_bytes());
                checkpoint = Arc::new(cp);
            }
            if !batch.is_empty()
                && let Err(e) = batch.commit()
            {
                tracing::error!(error = %e, "a write failed; the ledger stopped accepting writes — restart it");
                crate::metrics::get().write_failures.inc();
                let answer = AppendError::Unavailable(write_failure(&e));
                fail_all_with(jobs, &answer);
                failure = Some(answer);
                break;
            }
            if let Some(size) = size {
                tracing::debug!(size, "group committed");
                crate::metrics::get().committed(
                    events,
                    size.saturating_sub(before),
                    began.elapsed(),
                );
                published.send_replace(Head {
                    size,
                    checkpoint: checkpoint.clone(),
                });
            }
            for (job, answers) in jobs.into_iter().zip(outcomes) {
                // A client that went away no longer needs its answer; its entries are durable.
                let _ = job.reply.send(answers);
            }
            if changes.is_some() {
                // The sequencer may have stopped first; then nobody needs to know.
                let _ = done.send(());
            }
        }
        if let Some(answer) = failure {
            // Fail-stop (see `Sequencer::fail`). Every group staged after this one was decided
            // on top of it, so it fails too; the sequencer sees `stopped` and ends.
            stopped.store(true, Ordering::SeqCst);
            drop(done);
            for s in &staged {
                fail_all_with(s.jobs, &answer);
            }
        }
    }
}

impl Sequencer {
    /// A sequencer continuing the stored log from `tail`, starting from the head `published`
    /// holds.
    /// With a `sink`, every group is committed to that shared log before the local store.
    pub(super) fn new(
        store: Arc<Store>,
        signer: NoteSigner,
        tail: Tail,
        opts: LedgerOptions,
        jobs: Receiver<Job>,
        published: Arc<watch::Sender<Head>>,
        sink: Option<Box<dyn LogSink>>,
    ) -> Sequencer {
        let checkpoint_size = published.borrow().checkpoint.size;
        let Tail {
            frontier,
            prev_hash,
            last_record_time,
        } = tail;
        Sequencer {
            store,
            opts,
            jobs,
            shared_log: sink.is_some(),
            writer: Some((signer, published, sink)),
            frontier,
            prev_hash,
            last_record_time,
            checkpoint_size,
            checkpoint_at: Instant::now(),
            inflight: VecDeque::new(),
            held: None,
        }
    }

    /// Decides groups on this thread and commits them on a writer thread, so that the next
    /// group is decided while the last one is being synced.
    pub(super) fn run(mut self) {
        let (staged_tx, staged_rx) = sync_channel(WRITER_QUEUE);
        // Far more room than groups can be in flight, so the writer never waits on it.
        let (done_tx, done_rx) = sync_channel(64);
        let stopped = Arc::new(AtomicBool::new(false));
        let Some((signer, published, sink)) = self.writer.take() else {
            return;
        };
        let writer = Writer {
            store: self.store.clone(),
            signer,
            published,
            sink,
            staged: staged_rx,
            done: done_tx,
            stopped: stopped.clone(),
        };
        let handle = match std::thread::Builder::new()
            .name("lotline-writer".into())
            .spawn(move || writer.run())
        {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the writer thread; the ledger accepts no writes");
                return;
            }
        };
        let pipe = Pipe {
            staged: staged_tx,
            done: done_rx,
            stopped,
        };
        self.sequence(&pipe);
        drop(pipe);
        if handle.join().is_err() {
            tracing::error!("the writer thread panicked");
        }
        tracing::info!(size = self.frontier.size(), "sequencer stopped");
    }

    fn sequence(&mut self, pipe: &Pipe) {
        loop {
            let wait = self
                .opts
                .checkpoint_interval
                .saturating_sub(self.checkpoint_at.elapsed());
            let (next, queued) = match self.held.take() {
                Some(job) => (Ok(job), false),
                None => (self.jobs.recv_timeout(wait), true),
            };
            let outcome = match next {
                Ok(first) => {
                    if queued {
                        crate::metrics::get().queue_depth.dec();
                    }
                    let atomic = first.atomic;
                    let mut group = vec![first];
                    let mut events = group[0].items.len();
                    // An all-or-nothing job is a group of its own, so that dropping it drops
                    // nothing else.
                    while !atomic && events < self.opts.max_group_events {
                        match self.jobs.try_recv() {
                            Ok(job) if job.atomic => {
                                crate::metrics::get().queue_depth.dec();
                                self.held = Some(job);
                                break;
                            }
                            Ok(job) => {
                                crate::metrics::get().queue_depth.dec();
                                events += job.items.len();
                                group.push(job);
                            }
                            Err(_) => break,
                        }
                    }
                    self.commit_group(group, pipe)
                }
                // An idle sequencer notices a failed write here, so `/readyz` fails without
                // waiting for the next submission.
                Err(RecvTimeoutError::Timeout) if pipe.stopped.load(Ordering::SeqCst) => {
                    Err(StoreError::Corrupt("the writer stopped".into()))
                }
                Err(RecvTimeoutError::Timeout) => self.checkpoint_if_behind(pipe),
                // Shutdown: the senders are gone and the queue is drained.
                Err(RecvTimeoutError::Disconnected) => break,
            };
            if let Err(e) = outcome {
                return self.fail(e);
            }
        }
        if let Err(e) = self.checkpoint_if_behind(pipe) {
            self.fail(e);
        }
    }

    /// Fail-stop. After a failed write the store's state is unknown — a synced write that
    /// reports an error may still have reached the disk, and RocksDB may refuse further writes —
    /// so this process writes nothing more: the threads end, later submissions are answered
    /// `503 unavailable`, `/readyz` fails, and a restart rebuilds the head from what is on disk.
    fn fail(&self, error: StoreError) {
        tracing::error!(%error, size = self.frontier.size(), "the ledger stopped accepting writes — restart it");
    }

    /// Answers every event of `group` with a failure: `Unavailable`, a 503. With a shared log
    /// another node may take over; alone, the ledger takes writes again once restarted. Either
    /// way a retry of the same event is safe.
    fn fail_jobs(&self, group: Vec<Job>, reason: &str) {
        fail_all_with(group, &AppendError::Unavailable(reason.to_owned()));
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

    /// Forgets the groups the writer has made durable since the last call; with `all`, first
    /// waits until every group in flight is.
    fn settle(&mut self, pipe: &Pipe, all: bool) -> Result<(), StoreError> {
        while !self.inflight.is_empty() {
            let finished = if all {
                pipe.done.recv().is_ok()
            } else {
                pipe.done.try_recv().is_ok()
            };
            if !finished {
                if pipe.stopped.load(Ordering::SeqCst) {
                    return Err(StoreError::Corrupt("the writer stopped".into()));
                }
                if all {
                    return Err(StoreError::Corrupt("the writer is gone".into()));
                }
                break;
            }
            self.inflight.pop_front();
        }
        Ok(())
    }

    /// The eventID lookups of a group: the store's answer, unless a group in flight has it.
    fn logged(&self, keys: &[IdKey]) -> Result<Vec<Logged>, StoreError> {
        let stored = self.store.event_ids(keys)?;
        Ok(keys
            .iter()
            .zip(stored)
            .map(|(k, found)| {
                let pending = self
                    .inflight
                    .iter()
                    .rev()
                    .find_map(|f| f.fresh.get(k).cloned());
                match (found, pending) {
                    (Some((index, digest)), _) => Logged::Stored(index, digest),
                    (None, Some((digest, receipt))) => Logged::Pending(digest, receipt),
                    (None, None) => Logged::New,
                }
            })
            .collect())
    }

    /// Decides and stages one group and hands it to the writer, which answers it once durable.
    /// An error here stops the sequencer; the group's events are answered with it.
    fn commit_group(&mut self, group: Vec<Job>, pipe: &Pipe) -> Result<(), StoreError> {
        let logged = match self.settle_and_look_up(&group, pipe) {
            Ok(v) => v,
            Err(e) => {
                let reason = if pipe.stopped.load(Ordering::SeqCst) {
                    STOPPED.to_owned()
                } else {
                    e.to_string()
                };
                self.fail_jobs(group, &reason);
                return Err(e);
            }
        };
        let events: usize = group.iter().map(|j| j.items.len()).sum();
        let record_time = self.next_record_time();
        let store = self.store.clone();
        let pending: Vec<Arc<Changes>> = self.inflight.iter().map(|f| f.changes.clone()).collect();
        let mut draft = Draft {
            state: GroupState::new(&store, &pending, events),
            // The realistic mix of the benchmark writes about 7 KB per event, state included;
            // past 16 MiB, regrowing costs little next to the write itself.
            batch: store.batch_with_capacity((events * 8 * 1024).min(16 << 20)),
            fresh: HashMap::new(),
            hashes: HashMap::new(),
            now_ms: profile::parse_time_ms(&record_time).unwrap_or(i64::MAX),
            record_time,
            log: self.shared_log.then(|| LogGroup {
                old_size: self.frontier.size(),
                old_root: self.frontier.root(),
                new_root: [0; 32],
                entries: Vec::new(),
            }),
        };
        // What deciding changes of the head, to restore if an all-or-nothing group is dropped.
        let before = (self.frontier.clone(), self.prev_hash);
        match self.decide_group(&group, logged, &mut draft) {
            Ok(outcomes) if group[0].atomic && outcomes[0].iter().any(|o| o.is_err()) => {
                drop(draft);
                (self.frontier, self.prev_hash) = before;
                let refused = outcomes[0].iter().position(|o| o.is_err()).unwrap_or(0);
                let answers = outcomes
                    .into_iter()
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|o| match o {
                        Err(e) => Err(e),
                        Ok(_) => Err(AppendError::RolledBack { position: refused }),
                    })
                    .collect();
                if let Some(job) = group.into_iter().next() {
                    let _ = job.reply.send(answers);
                }
                Ok(())
            }
            Ok(outcomes) => {
                let staged = self.stage(group, outcomes, draft);
                self.hand_over(pipe, staged)
            }
            Err(e) => {
                self.fail_jobs(group, &e.to_string());
                Err(e)
            }
        }
    }

    /// Forgets the groups made durable meanwhile, then looks up whether the group's eventIDs
    /// are logged already.
    fn settle_and_look_up(
        &mut self,
        group: &[Job],
        pipe: &Pipe,
    ) -> Result<Vec<Logged>, StoreError> {
        let corrects = group
            .iter()
            .any(|j| j.items.iter().any(|i| i.doc.declares_error));
        // A correction compares itself with the stored original: let everything land.
        self.settle(pipe, corrects)?;
        let keys: Vec<IdKey> = group
            .iter()
            .flat_map(|j| j.items.iter().map(Admitted::id_key))
            .collect();
        let mut logged = self.logged(&keys)?;
        // Event hashes are looked up only for events new by eventID: a retry is answered by
        // its eventID, and a different event with the same content is refused.
        let items: Vec<&Admitted> = group.iter().flat_map(|j| &j.items).collect();
        let wanted: Vec<(usize, [u8; 32])> = logged
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l, Logged::New))
            .filter_map(|(i, _)| content_hash(items[i]).map(|h| (i, h)))
            .collect();
        let hashes: Vec<[u8; 32]> = wanted.iter().map(|(_, h)| *h).collect();
        let stored = self.store.event_hashes(&hashes)?;
        for ((i, h), found) in wanted.into_iter().zip(stored) {
            let pending = self
                .inflight
                .iter()
                .rev()
                .find_map(|f| f.hashes.get(&h).map(|r| r.index));
            if let Some(index) = found.or(pending) {
                logged[i] = Logged::SameContent(index);
            }
        }
        Ok(logged)
    }

    /// Answers every event of the group, in order: the receipt again for an event logged
    /// before, a conflict, a refusal, or a new entry staged in `draft`. Only a storage failure
    /// is an `Err`; it ends the group.
    fn decide_group(
        &mut self,
        group: &[Job],
        logged: Vec<Logged>,
        draft: &mut Draft<'_>,
    ) -> Result<Vec<Vec<Result<Appended, AppendError>>>, StoreError> {
        let mut outcomes = Vec::with_capacity(group.len());
        let mut logged = logged.into_iter();
        for job in group {
            let mut answers = Vec::with_capacity(job.items.len());
            for item in &job.items {
                let earlier = logged.next().unwrap_or(Logged::New);
                let answer = match earlier {
                    Logged::Stored(index, digest) => self.replay(item, index, &digest),
                    Logged::Pending(digest, receipt) => same_or_conflict(item, &digest, receipt),
                    Logged::SameContent(index) => Err(duplicate(item, index)),
                    Logged::New => match draft.fresh.get(&item.id_key()) {
                        Some((digest, receipt)) => same_or_conflict(item, digest, receipt.clone()),
                        None => match content_hash(item).and_then(|h| draft.hashes.get(&h)) {
                            Some(receipt) => Err(duplicate(item, receipt.index)),
                            None => self.append_new(draft, group, item)?,
                        },
                    },
                };
                answers.push(answer);
            }
            outcomes.push(answers);
        }
        Ok(outcomes)
    }

    /// Decides an event new to the log at the next index and, if the rules accept it, stages
    /// its entry in `draft`. Only a storage failure is an `Err`.
    fn append_new(
        &mut self,
        draft: &mut Draft<'_>,
        group: &[Job],
        item: &Admitted,
    ) -> Result<Result<Appended, AppendError>, StoreError> {
        let index = self.frontier.size();
        if index > entry::MAX_INDEX {
            return Ok(Err(AppendError::Storage("the log is full".into())));
        }
        let fresh = &draft.fresh;
        let earlier = |k: &IdKey| {
            let (digest, receipt) = fresh.get(k)?;
            group
                .iter()
                .flat_map(|j| &j.items)
                .find(|i| i.id_key() == *k && i.content_digest == *digest)
                .map(|i| (receipt.index, i.event_jcs.as_slice()))
        };
        let decided = decide(
            &self.store,
            &self.opts.rules,
            &mut draft.state,
            item,
            index,
            draft.now_ms,
            earlier,
        );
        match decided {
            Err(ApplyError::Store(e)) => Err(e),
            Err(ApplyError::Rule(r)) => Ok(Err(AppendError::Rejected(r))),
            Ok(()) => {
                let receipt = self.append_entry(
                    &mut draft.batch,
                    &mut draft.state,
                    draft.log.as_mut(),
                    item,
                    index,
                    &draft.record_time,
                );
                draft
                    .fresh
                    .insert(item.id_key(), (item.content_digest, receipt.clone()));
                if let Some(h) = content_hash(item) {
                    draft.hashes.insert(h, receipt.clone());
                }
                Ok(Ok(Appended::Created(receipt)))
            }
        }
    }

    /// Closes a decided group: moves the record time on if the log grew, adds a checkpoint when
    /// one is due, keeps the group's state and eventIDs in flight until it is durable, and packs
    /// what the writer needs.
    fn stage(
        &mut self,
        group: Vec<Job>,
        outcomes: Vec<Vec<Result<Appended, AppendError>>>,
        draft: Draft<'_>,
    ) -> Staged {
        let Draft {
            state,
            batch,
            fresh,
            hashes,
            record_time,
            mut log,
            ..
        } = draft;
        let changes = Arc::new(state.finish());

        let grew = !fresh.is_empty();
        if grew {
            self.last_record_time = record_time;
        }
        // Due whenever the log is ahead of its checkpoint, even if this group only replayed
        // duplicates: a storm of retries must not hold checkpoints back.
        let mut checkpoint = None;
        if self.checkpoint_size != self.frontier.size()
            && self.checkpoint_at.elapsed() >= self.opts.checkpoint_interval
        {
            checkpoint = Some(self.ask_checkpoint());
        }
        if let Some(log) = &mut log {
            log.new_root = self.frontier.root();
        }
        let size = (grew || checkpoint.is_some()).then(|| self.frontier.size());
        if grew {
            self.inflight.push_back(InFlight {
                changes: changes.clone(),
                fresh: Arc::new(fresh),
                hashes: Arc::new(hashes),
            });
        }
        Staged {
            jobs: group,
            outcomes,
            batch: batch.into_batch(),
            changes: grew.then_some(changes),
            log,
            checkpoint,
            size,
        }
    }

    /// Sends a staged group to the writer. Only groups that grew the log are in `inflight`, and
    /// only they report back.
    fn hand_over(&self, pipe: &Pipe, staged: Staged) -> Result<(), StoreError> {
        if pipe.stopped.load(Ordering::SeqCst) {
            self.fail_jobs(staged.jobs, STOPPED);
            return Err(StoreError::Corrupt("the writer stopped".into()));
        }
        if let Err(e) = pipe.staged.send(staged) {
            self.fail_jobs(e.0.jobs, STOPPED);
            return Err(StoreError::Corrupt("the writer is gone".into()));
        }
        Ok(())
    }

    /// Chains, hashes and stages entry `index`.
    fn append_entry(
        &mut self,
        batch: &mut BatchWriter<'_>,
        state: &mut GroupState<'_>,
        log: Option<&mut LogGroup>,
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
        put_lookups(batch, state, item, index);
        self.prev_hash = entry_hash;
        if let Some(log) = log {
            log.entries.push((index, bytes, leaf_hash));
        }
        Receipt {
            index,
            entry_hash,
            leaf_hash,
            event_id: item.event_id.to_string(),
            record_time: record_time.to_owned(),
            event_hash: item.event_hash.map(|h| EventId::Hash(h).to_string()),
        }
    }

    /// Asks the writer for a checkpoint of the head, which it signs once everything the
    /// checkpoint covers is committed.
    fn ask_checkpoint(&mut self) -> (u64, Hash) {
        self.checkpoint_size = self.frontier.size();
        self.checkpoint_at = Instant::now();
        (self.frontier.size(), self.frontier.root())
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

    /// Signs a checkpoint of the head when the log has grown since the last one; it is
    /// published once the writer has made it, and everything it covers, durable.
    fn checkpoint_if_behind(&mut self, pipe: &Pipe) -> Result<(), StoreError> {
        self.checkpoint_at = Instant::now();
        if self.checkpoint_size == self.frontier.size() {
            return Ok(());
        }
        let checkpoint = Some(self.ask_checkpoint());
        let staged = Staged {
            jobs: Vec::new(),
            outcomes: Vec::new(),
            batch: self.store.batch().into_batch(),
            changes: None,
            log: None,
            checkpoint,
            size: Some(self.frontier.size()),
        };
        self.hand_over(pipe, staged)
    }
}

/// What submissions are told once a write has failed and the ledger stopped.
const STOPPED: &str =
    "a write failed and the ledger stopped accepting writes until an operator restarts it";

/// What the clients of a group whose write failed are told: not RocksDB's message (it names
/// files, and the server's log has it) but what happened and what brings the ledger back.
fn write_failure(e: &StoreError) -> String {
    match e {
        StoreError::DiskFull(_) => "the disk is full: the ledger stopped accepting writes until an operator frees space on its data directory's file system and restarts it".into(),
        _ => STOPPED.into(),
    }
}

/// The sequencer's end of the writer thread.
struct Pipe {
    staged: SyncSender<Staged>,
    done: Receiver<()>,
    stopped: Arc<AtomicBool>,
}

/// Whether a group's event is already in the log.
enum Logged {
    /// Durable, at this index with this content digest.
    Stored(u64, Hash),
    /// A different eventID, but an event with the same event hash is logged (or about to be)
    /// at this index.
    SameContent(u64),
    /// Decided by a group the writer has not finished yet.
    Pending(Hash, Receipt),
    New,
}

/// The answer to an event whose eventID was logged moments ago: its receipt again if it is
/// the same event, a conflict if it is not.
fn same_or_conflict(
    item: &Admitted,
    digest: &Hash,
    receipt: Receipt,
) -> Result<Appended, AppendError> {
    if *digest == item.content_digest {
        Ok(Appended::Duplicate(receipt))
    } else {
        Err(conflict(item, receipt.index))
    }
}

/// The event hash that makes two events the same: an error declaration repeats the event it
/// declares erroneous (the hash leaves `errorDeclaration` out), so it has none of its own.
pub(super) fn content_hash(item: &Admitted) -> Option<[u8; 32]> {
    item.event_hash.filter(|_| !item.doc.declares_error)
}

/// Writes what finds an accepted entry besides its eventID: its event hash, its query-index
/// terms, and under [`tag::IDENT`] the identifiers it names that no term indexes already (see
/// [`ident_tags`]). An EPCIS event's identifiers all come from its EPC and quantity lists,
/// which its terms index, so each identifier is indexed once (a bagging event names fifty
/// bags). Index keys go with the group's state, so that they are written in key order.
pub(super) fn put_lookups(
    batch: &mut BatchWriter<'_>,
    state: &mut GroupState<'_>,
    item: &Admitted,
    index: u64,
) {
    if let Some(h) = content_hash(item) {
        batch.put_event_hash(&h, index);
    }
    let time_ms = item.doc.event_time_ms;
    for t in &item.terms {
        state.add_index(t.tag, &t.value, time_ms, index);
    }
    let identifiers = item.doc.identifiers();
    // Checked rather than assumed, against the roles a read looks in (`ident_tags`), so that
    // an identifier the profile reads from elsewhere is still found. Terms come sorted from
    // admission; were they not, a search could only miss, and the key be written needlessly.
    let named = |t: u8, key: &str| {
        item.terms
            .binary_search_by(|x| (x.tag, x.value.as_str()).cmp(&(t, key)))
            .is_ok()
    };
    let mut rest: Vec<&str> = identifiers
        .iter()
        .map(|id| id.key.as_str())
        .filter(|key| !ident_tags(key)[1..].iter().any(|&t| named(t, key)))
        .collect();
    rest.sort_unstable();
    rest.dedup();
    for key in rest {
        state.add_index(tag::IDENT, key, time_ms, index);
    }
}

fn duplicate(item: &Admitted, index: u64) -> AppendError {
    AppendError::Rejected(RuleError {
        code: Refusal::DuplicateEvent,
        message: format!(
            "the same event (CBV 2.0 event hash {}) is already logged at entry {index}; an event is recorded once, whatever its eventID",
            item.event_hash
                .map(|h| EventId::Hash(h).to_string())
                .unwrap_or_default()
        ),
    })
}

fn conflict(item: &Admitted, index: u64) -> AppendError {
    AppendError::Conflict {
        event_id: item.event_id.to_string(),
        index,
    }
}

fn fail_all_with(group: Vec<Job>, answer: &AppendError) {
    for job in group {
        let answers = job.items.iter().map(|_| Err(answer.clone())).collect();
        let _ = job.reply.send(answers);
    }
}

/// Runs the supply-chain rules for a new entry at `index`; on success its state changes
/// are kept in `state`, on refusal nothing is. `earlier` finds an event this group already
/// accepted: its index and signed bytes.
pub(super) fn decide<'a>(
    store: &Store,
    rules: &Rules,
    state: &mut GroupState<'_>,
    item: &Admitted,
    index: u64,
    now_ms: i64,
    earlier: impl Fn(&IdKey) -> Option<(u64, &'a [u8])>,
) -> Result<(), ApplyError> {
    if item.doc.declares_error {
        let original = original_of(store, item, earlier)?;
        state.correct(index, &item.doc, &item.signer, original, now_ms)
    } else {
        state.apply(index, &item.doc, &item.signer, now_ms, rules)
    }
}

/// The entry an error declaration names: same eventID, and the same event apart from the
/// declaration and the proof — EPCIS declares an event erroneous by repeating it. The
/// original is in the store (groups in flight have landed: see `settle_and_look_up`), or
/// earlier in the declaration's own group.
fn original_of<'a>(
    store: &Store,
    item: &Admitted,
    earlier: impl Fn(&IdKey) -> Option<(u64, &'a [u8])>,
) -> Result<u64, ApplyError> {
    let plain = IdKey {
        id: item.event_id,
        declaration: false,
    };
    let (index, original): (u64, Value) = match store.event_id(&plain)? {
        Some((index, _)) => {
            let bytes = store
                .entry(index)?
                .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is missing")))?;
            let stored = entry::Entry::parse(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("entry {index}: {e}")))?;
            (index, stored.event)
        }
        None => match earlier(&plain) {
            Some((index, jcs)) => (
                index,
                serde_json::from_slice(jcs)
                    .map_err(|e| StoreError::Corrupt(format!("admitted event: {e}")))?,
            ),
            None => {
                return Err(ApplyError::Rule(RuleError {
                    code: Refusal::UnknownEvent,
                    message: format!(
                        "{} is not in the ledger, so it cannot be declared erroneous",
                        item.event_id
                    ),
                }));
            }
        },
    };
    let strip = |mut v: Value| {
        if let Some(o) = v.as_object_mut() {
            o.remove("proof");
            o.remove("errorDeclaration");
        }
        v
    };
    let declared: Value = serde_json::from_slice(&item.event_jcs)
        .map_err(|e| StoreError::Corrupt(format!("admitted event: {e}")))?;
    if strip(original) != strip(declared) {
        return Err(ApplyError::Rule(RuleError {
            code: Refusal::CorrectionMismatch,
            message: format!(
                "an error declaration repeats the erroneous event (entry {index}) unchanged and adds errorDeclaration; this one differs from it"
            ),
        }));
    }
    Ok(index)
}
