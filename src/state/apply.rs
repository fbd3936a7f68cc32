//! The rules: how one admitted document changes the state, or why it may not.
//!
//! [`GroupState`] caches what the sequencer's current group read and changed. [`GroupState::apply`]
//! and [`GroupState::correct`] decide one event each: an accepted event's changes stay in the
//! group, a refused one leaves nothing behind (see [`Tx`] for how). At the end of the group,
//! [`GroupState::finish`] hands over the changed records as [`Changes`], which the writer thread
//! encodes into the group's batch and which later groups read until that batch is durable.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::Arc;

use super::certs::CertRecord;
use super::codec::{Stored, decode};
use super::plausibility::{self, method_rank};
use super::{
    ActorRecord, DocLink, Effect, EntryMeta, Flag, FlagCode, IndexKeys, KeySpan, LotRecord, Origin,
    Place, RoleSpan, RuleError, Rules, Span, TransitLine, kg, refuse, tag,
};
use crate::store::{BatchWriter, StateCf, Store, StoreError};
use lotline_profile::profile::{
    Action, ActorSpec, Certification, Document, Harvest, IdClass, Ident, Kind, Line, Movement,
    Observation, Registrar, Transform,
};
use lotline_profile::refusal::Refusal;

/// A refusal, or a storage failure (which stops the sequencer).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type R<T> = Result<T, ApplyError>;

fn fail<T>(code: Refusal, message: impl Into<String>) -> R<T> {
    Err(ApplyError::Rule(refuse(code, message)))
}

/// Encodes `v` into `buf` (cleared first, kept for the next record).
fn encode_into<'b, T: Stored>(buf: &'b mut Vec<u8>, v: &T) -> &'b [u8] {
    buf.clear();
    v.encode(buf);
    buf
}

/// Hash maps keyed by identifiers from submitted events: foldhash is several times faster than
/// SipHash on these short keys and still seeded per process.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A record as the group knows it: `None` when the store has none, `dirty` once an accepted
/// event of the group changed it.
struct Cached<T> {
    rec: Option<T>,
    dirty: bool,
}

/// Reads of one sequencer group, and its accepted changes.
pub struct GroupState<'s> {
    store: &'s Store,
    /// Changes of earlier groups not yet in the store, oldest first.
    pending: &'s [Arc<Changes>],
    actors: Map<String, Cached<ActorRecord>>,
    keys: Map<String, Cached<String>>,
    lots: Map<String, Cached<LotRecord>>,
    metas: Map<u64, Cached<EntryMeta>>,
    certs: Map<String, Cached<CertRecord>>,
    index: IndexKeys,
}

impl<'s> GroupState<'s> {
    /// `events`: how many events the group has, to size its caches.
    pub fn new(store: &'s Store, pending: &'s [Arc<Changes>], events: usize) -> Self {
        GroupState {
            store,
            pending,
            actors: Map::default(),
            keys: Map::default(),
            // A realistic mix touches about five lots per event (bags, pallets, lots).
            lots: Map::with_capacity_and_hasher(events * 6, Default::default()),
            metas: Map::with_capacity_and_hasher(events, Default::default()),
            certs: Map::default(),
            index: IndexKeys::default(),
        }
    }

    /// Adds an accepted entry's query-index key (see [`super::IndexKeys::push_index`]), written with the
    /// group's other index keys in key order.
    pub fn add_index(&mut self, tag: u8, field: &str, time_ms: i64, index: u64) {
        self.index.push_index(tag, field, time_ms, index);
    }

    /// The records changed by accepted events, and their index keys. The caches are handed
    /// over whole (rebuilding maps of only the changed records would cost more than skipping
    /// the clean ones when writing and reading).
    pub fn finish(self) -> Changes {
        Changes {
            actors: self.actors,
            keys: self.keys,
            lots: self.lots,
            metas: self.metas,
            certs: self.certs,
            index: self.index,
        }
    }

    fn cert(&mut self, id: &str) -> Result<Option<&CertRecord>, StoreError> {
        let store = self.store;
        through(
            &mut self.certs,
            id,
            self.pending,
            |c| changed(c.certs.get(id)),
            || stored(store, StateCf::Certs, id.as_bytes(), "certificate record"),
        )
    }

    fn actor(&mut self, id: &str) -> Result<Option<&ActorRecord>, StoreError> {
        let store = self.store;
        through(
            &mut self.actors,
            id,
            self.pending,
            |c| changed(c.actors.get(id)),
            || stored(store, StateCf::Actors, id.as_bytes(), "actor record"),
        )
    }

    fn key_owner(&mut self, did: &str) -> Result<Option<&String>, StoreError> {
        let store = self.store;
        through(
            &mut self.keys,
            did,
            self.pending,
            |c| changed(c.keys.get(did)),
            || {
                store
                    .state(StateCf::Keys, did.as_bytes())?
                    .map(|b| {
                        String::from_utf8(b)
                            .map_err(|_| StoreError::Corrupt("key owner is not UTF-8".into()))
                    })
                    .transpose()
            },
        )
    }

    fn lot(&mut self, key: &str) -> Result<Option<&LotRecord>, StoreError> {
        let store = self.store;
        through(
            &mut self.lots,
            key,
            self.pending,
            |c| changed(c.lots.get(key)),
            || stored(store, StateCf::Lots, key.as_bytes(), "lot record"),
        )
    }

    /// The rules' record of entry `index`.
    pub fn meta(&mut self, index: u64) -> Result<Option<EntryMeta>, StoreError> {
        let store = self.store;
        let found = through(
            &mut self.metas,
            &index,
            self.pending,
            |c| changed(c.metas.get(&index)),
            || {
                stored(
                    store,
                    StateCf::EntryMeta,
                    &index.to_be_bytes(),
                    "entry meta",
                )
            },
        )?;
        Ok(found.cloned())
    }

    /// Decides new entry `index`: on acceptance its changes stay in the group, on refusal the
    /// group is as it was.
    pub fn apply(
        &mut self,
        index: u64,
        doc: &Document,
        signer: &str,
        now_ms: i64,
        rules: &Rules,
    ) -> R<()> {
        let mut tx = Tx::new(self, index);
        let decided = tx.apply(doc, signer, now_ms, rules);
        tx.finish(decided)
    }

    /// Decides entry `index`, which declares entry `original` erroneous; as [`GroupState::apply`].
    pub fn correct(
        &mut self,
        index: u64,
        doc: &Document,
        signer: &str,
        original: u64,
        now_ms: i64,
    ) -> R<()> {
        let mut tx = Tx::new(self, index);
        let decided = tx.correct(doc, signer, original, now_ms);
        tx.finish(decided)
    }

    /// A cached lot to change in place, marked for writing. `Ok(None)`: the lot does not exist.
    fn lot_mut(&mut self, key: &str) -> Result<Option<(&mut LotRecord, bool)>, StoreError> {
        self.lot(key)?;
        Ok(self.lots.get_mut(key).and_then(|c| {
            let rec = c.rec.as_mut()?;
            let was_dirty = std::mem::replace(&mut c.dirty, true);
            Some((rec, was_dirty))
        }))
    }
}

/// A record as a group sees it: from its cache; on a miss, from the newest group in flight that
/// changed it, else from the store — and then cached.
fn through<'m, Q, K, T>(
    cache: &'m mut Map<K, Cached<T>>,
    key: &Q,
    pending: &[Arc<Changes>],
    in_flight: impl Fn(&Changes) -> Option<&T>,
    read: impl FnOnce() -> Result<Option<T>, StoreError>,
) -> Result<Option<&'m T>, StoreError>
where
    K: Borrow<Q> + Hash + Eq,
    Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    T: Clone,
{
    if !cache.contains_key(key) {
        let rec = match pending.iter().rev().find_map(|c| in_flight(c)) {
            Some(r) => Some(r.clone()),
            None => read()?,
        };
        cache.insert(key.to_owned(), Cached { rec, dirty: false });
    }
    Ok(cache.get(key).and_then(|c| c.rec.as_ref()))
}

fn stored<T: Stored>(
    store: &Store,
    cf: StateCf,
    key: &[u8],
    what: &str,
) -> Result<Option<T>, StoreError> {
    store.state(cf, key)?.map(|b| decode(&b, what)).transpose()
}

/// A cached record if the group changed it.
fn changed<T>(c: Option<&Cached<T>>) -> Option<&T> {
    c.filter(|c| c.dirty)?.rec.as_ref()
}

/// Every changed record of a cache.
fn all_changed<K, T>(m: &Map<K, Cached<T>>) -> impl Iterator<Item = (&K, &T)> {
    m.iter().filter_map(|(k, c)| Some((k, changed(Some(c))?)))
}

/// What a group changed: records to write (all of them, as the group left them) and new index
/// keys. Read by later groups until it is durable, then dropped. The maps are the group's
/// caches: only records marked dirty count.
pub struct Changes {
    actors: Map<String, Cached<ActorRecord>>,
    keys: Map<String, Cached<String>>,
    lots: Map<String, Cached<LotRecord>>,
    metas: Map<u64, Cached<EntryMeta>>,
    certs: Map<String, Cached<CertRecord>>,
    index: IndexKeys,
}

impl Changes {
    /// Encodes every changed record into `batch`.
    ///
    /// Each family's records go in key order: RocksDB inserts a batch into its memtable in
    /// batch order, and a skip list takes keys that follow one another far more cheaply than
    /// keys in hash order.
    pub fn write(&self, batch: &mut BatchWriter<'_>) {
        fn sorted<K: Ord, T>(m: &Map<K, Cached<T>>) -> Vec<(&K, &T)> {
            let mut v: Vec<_> = all_changed(m).collect();
            v.sort_unstable_by(|a, b| a.0.cmp(b.0));
            v
        }
        let mut buf = Vec::with_capacity(4096);
        for (id, a) in sorted(&self.actors) {
            batch.put_state(StateCf::Actors, id.as_bytes(), encode_into(&mut buf, a));
        }
        for (did, owner) in sorted(&self.keys) {
            batch.put_state(StateCf::Keys, did.as_bytes(), owner.as_bytes());
        }
        for (key, l) in sorted(&self.lots) {
            batch.put_state(StateCf::Lots, key.as_bytes(), encode_into(&mut buf, l));
        }
        // Big-endian index keys sort as the numbers do.
        for (i, m) in sorted(&self.metas) {
            batch.put_state(
                StateCf::EntryMeta,
                &i.to_be_bytes(),
                encode_into(&mut buf, m),
            );
        }
        for (id, c) in sorted(&self.certs) {
            batch.put_state(StateCf::Certs, id.as_bytes(), encode_into(&mut buf, c));
        }
        for k in self.index.sorted() {
            batch.put_state(StateCf::Index, k, b"");
        }
    }
}

/// Puts an accepted event's records into its group, marked for writing.
fn keep<K: std::hash::Hash + Eq, T>(group: &mut Map<K, Cached<T>>, changed: Map<K, T>) {
    for (k, v) in changed {
        group.insert(
            k,
            Cached {
                rec: Some(v),
                dirty: true,
            },
        );
    }
}

/// One event being decided, on top of its group.
///
/// Actors, keys and entry metas are few per event: they are copied into the event's own maps and
/// merged into the group only if it is accepted. Lots are many (moving a pallet moves every bag
/// on it), so they are changed in the group's cache in place, and every change is logged in
/// `undo`: a refused event is rolled back by replaying the log backwards. In-place changes are
/// only ever made by [`Effect::Move`] and [`Effect::Parent`], which are exactly invertible and
/// all-or-nothing; every other change replaces a whole record through [`Tx::put_lot`], which
/// logs what it replaced.
struct Tx<'g, 's> {
    group: &'g mut GroupState<'s>,
    actors: Map<String, ActorRecord>,
    keys: Map<String, String>,
    metas: Map<u64, EntryMeta>,
    certs: Map<String, CertRecord>,
    index: IndexKeys,
    /// The effects this event applied, in order; they become its meta's `effects`.
    effects: Vec<Effect>,
    undo: Vec<Undo>,
    /// The entry being decided.
    at: u64,
    /// For a correction: the entry being reversed.
    original: Option<u64>,
}

/// How to take back one change to the group's lots.
enum Undo {
    /// A record was put: what the cache held before (boxed: most puts create a lot, and the
    /// log should not be sized for the rare replaced record).
    Put {
        key: String,
        prev: Option<Cached<Box<LotRecord>>>,
    },
    /// A record the group had not changed yet was changed in place.
    Clean(String),
    /// `Tx::effects[i]` was applied forwards.
    Applied(usize),
    /// A correction applied this effect backwards.
    Reversed(Effect),
}

impl<'g, 's> Tx<'g, 's> {
    fn new(group: &'g mut GroupState<'s>, index: u64) -> Self {
        Tx {
            group,
            actors: Map::default(),
            keys: Map::default(),
            metas: Map::default(),
            certs: Map::default(),
            index: IndexKeys::default(),
            effects: Vec::new(),
            undo: Vec::new(),
            at: index,
            original: None,
        }
    }

    /// Keeps an accepted event's changes in the group, or rolls a refused one back.
    fn finish(mut self, decided: R<()>) -> R<()> {
        match decided {
            Ok(()) => {
                let g = self.group;
                keep(&mut g.actors, self.actors);
                keep(&mut g.keys, self.keys);
                keep(&mut g.metas, self.metas);
                keep(&mut g.certs, self.certs);
                g.index.append(self.index);
                Ok(())
            }
            Err(ApplyError::Rule(r)) => {
                self.rollback()?;
                Err(ApplyError::Rule(r))
            }
            // A storage failure stops the sequencer; the group is dropped unwritten.
            Err(e) => Err(e),
        }
    }

    /// Takes back every change to the group's lots, newest first.
    fn rollback(&mut self) -> Result<(), StoreError> {
        let effects = std::mem::take(&mut self.effects);
        while let Some(u) = self.undo.pop() {
            let undone = match u {
                Undo::Put { key, prev } => {
                    match prev {
                        Some(c) => self.group.lots.insert(
                            key,
                            Cached {
                                rec: c.rec.map(|b| *b),
                                dirty: c.dirty,
                            },
                        ),
                        None => self.group.lots.remove(&key),
                    };
                    Ok(())
                }
                Undo::Clean(key) => {
                    if let Some(c) = self.group.lots.get_mut(&key) {
                        c.dirty = false;
                    }
                    Ok(())
                }
                Undo::Applied(i) => match effects.get(i) {
                    Some(e) => self.unapply(e, true),
                    None => Ok(()),
                },
                Undo::Reversed(e) => self.unapply(&e, false),
            };
            // Undoing inverts what was just done to the same records; it cannot be refused
            // unless the cache is broken, and then the sequencer must stop.
            undone.map_err(|e| {
                StoreError::Corrupt(format!("rolling back a refused event failed: {e}"))
            })?;
        }
        Ok(())
    }

    fn actor(&mut self, id: &str) -> Result<Option<ActorRecord>, StoreError> {
        Ok(self.actor_ref(id)?.cloned())
    }

    /// [`Tx::actor`], without copying.
    fn actor_ref(&mut self, id: &str) -> Result<Option<&ActorRecord>, StoreError> {
        match self.actors.get(id) {
            Some(a) => Ok(Some(a)),
            None => self.group.actor(id),
        }
    }

    fn cert(&mut self, id: &str) -> Result<Option<CertRecord>, StoreError> {
        match self.certs.get(id) {
            Some(c) => Ok(Some(c.clone())),
            None => Ok(self.group.cert(id)?.cloned()),
        }
    }

    fn key_owner(&mut self, did: &str) -> Result<Option<String>, StoreError> {
        match self.keys.get(did) {
            Some(a) => Ok(Some(a.clone())),
            None => Ok(self.group.key_owner(did)?.cloned()),
        }
    }

    /// A lot as this event sees it, without copying.
    fn lot_ref(&mut self, key: &str) -> Result<Option<&LotRecord>, StoreError> {
        self.group.lot(key)
    }

    /// A lot that must exist, to change in place. Only [`Tx::effect`] changes lots in place:
    /// see [`Tx`].
    fn lot_must(&mut self, key: &str, what: &str) -> R<&mut LotRecord> {
        match self.group.lot_mut(key)? {
            Some((l, was_dirty)) => {
                if !was_dirty {
                    self.undo.push(Undo::Clean(key.to_owned()));
                }
                Ok(l)
            }
            None => Err(StoreError::Corrupt(format!("{what} {key} is missing")).into()),
        }
    }

    fn lot(&mut self, key: &str) -> Result<Option<LotRecord>, StoreError> {
        Ok(self.lot_ref(key)?.cloned())
    }

    /// A lot that must exist and not be voided.
    fn existing(&mut self, id: &Ident) -> R<LotRecord> {
        Ok(self.existing_ref(id)?.clone())
    }

    /// [`Tx::existing`], without copying.
    fn existing_ref(&mut self, id: &Ident) -> R<&LotRecord> {
        match self.lot_ref(&id.key)? {
            Some(l) if l.voided_by.is_none() => Ok(l),
            Some(l) => fail(
                Refusal::UnknownLot,
                format!(
                    "{} was declared erroneous by entry {}; it does not exist",
                    id.urn,
                    l.voided_by.unwrap_or_default()
                ),
            ),
            None => fail(
                Refusal::UnknownLot,
                format!(
                    "{} is not in the ledger; it must be created (harvest, transformation or packing) first",
                    id.urn
                ),
            ),
        }
    }

    /// Puts a whole record into the group, logging what it replaces.
    fn put_lot(&mut self, l: LotRecord) {
        let key = l.key.clone();
        let prev = self.group.lots.insert(
            key.clone(),
            Cached {
                rec: Some(l),
                dirty: true,
            },
        );
        let prev = prev.map(|c| Cached {
            rec: c.rec.map(Box::new),
            dirty: c.dirty,
        });
        self.undo.push(Undo::Put { key, prev });
    }

    /// Applies effect `e` of this event and keeps it for the entry's meta.
    fn push_effect(&mut self, e: Effect) -> R<()> {
        self.effect(&e, true)?;
        self.undo.push(Undo::Applied(self.effects.len()));
        self.effects.push(e);
        Ok(())
    }

    /// Takes back effect `e`, applied `forward` or backwards by this event. Creating and
    /// annotating change lots only through [`Tx::put_lot`], whose own undo restores them.
    fn unapply(&mut self, e: &Effect, forward: bool) -> R<()> {
        match e {
            Effect::Move { .. } | Effect::Parent { .. } => self.effect(e, !forward),
            Effect::Create { .. } | Effect::Annotate { .. } => Ok(()),
        }
    }

    /// Decides one new entry: the rules' verdict and, if accepted, the changed state in `self`.
    fn apply(&mut self, doc: &Document, signer: &str, now_ms: i64, rules: &Rules) -> R<()> {
        if doc.event_time_ms > now_ms.saturating_add(rules.max_future_ms) {
            return fail(
                Refusal::EventTimeInFuture,
                format!(
                    "eventTime is {} s ahead of the ledger's clock; at most {} s are allowed (check the device's clock)",
                    (doc.event_time_ms - now_ms) / 1000,
                    rules.max_future_ms / 1000
                ),
            );
        }
        let mut meta = EntryMeta {
            kind: doc.kind,
            actor: None,
            role: String::new(),
            event_time_ms: doc.event_time_ms,
            flags: Vec::new(),
            effects: Vec::new(),
            corrects: None,
            corrected_by: None,
        };
        if let Action::Registrar(r) = &doc.action {
            if !rules.registrars.iter().any(|k| k == signer) {
                return fail(
                    Refusal::NotRegistrar,
                    format!(
                        "{} documents are signed by a registrar key; {signer} is not one of this ledger's registrars",
                        doc.kind.name()
                    ),
                );
            }
            meta.role = "registrar".into();
            meta.actor = Some(self.registrar(r, doc.event_time_ms)?);
        } else {
            let (actor, role) = self.authorise(doc, signer)?;
            meta.role = role;
            match &doc.action {
                Action::Certification(c) => self.certification(c, &actor, doc.event_time_ms)?,
                _ => {
                    self.relied_on(doc, &actor)?;
                    self.goods(doc, &actor, &mut meta, rules)?;
                }
            }
            meta.actor = Some(actor);
        }
        meta.effects = std::mem::take(&mut self.effects);
        self.record(doc, meta);
        Ok(())
    }

    /// Decides a correction: `doc` declares entry `original` (same eventID, same content)
    /// erroneous. Only the actor who signed the original may, with a key valid now; its effects
    /// are reversed, which fails while later events depend on them.
    fn correct(&mut self, doc: &Document, signer: &str, original: u64, now_ms: i64) -> R<()> {
        let Some(mut orig) = self.group.meta(original)? else {
            return Err(StoreError::Corrupt(format!("entry {original} has no meta")).into());
        };
        if let Some(by) = orig.corrected_by {
            return fail(
                Refusal::AlreadyCorrected,
                format!("entry {original} was already declared erroneous by entry {by}"),
            );
        }
        let owner = self.key_owner(signer)?;
        if owner.is_none() || owner != orig.actor {
            return fail(
                Refusal::NotOriginalActor,
                format!(
                    "only {} may declare its event erroneous; {signer} is not its key",
                    orig.actor.as_deref().unwrap_or("the signer")
                ),
            );
        }
        let actor = self
            .actor(owner.as_deref().unwrap_or_default())?
            .ok_or_else(|| StoreError::Corrupt("key names a missing actor".into()))?;
        if !actor.key_valid_at(signer, now_ms) {
            return fail(
                Refusal::KeyNotValid,
                format!("{signer} is no longer a valid key of {}", actor.id),
            );
        }
        self.original = Some(original);
        for e in orig.effects.iter().rev() {
            self.effect(e, false)?;
            if matches!(e, Effect::Move { .. } | Effect::Parent { .. }) {
                self.undo.push(Undo::Reversed(e.clone()));
            }
        }
        orig.corrected_by = Some(self.at);
        let meta = EntryMeta {
            kind: doc.kind,
            actor: orig.actor.clone(),
            role: orig.role.clone(),
            event_time_ms: doc.event_time_ms,
            flags: Vec::new(),
            effects: Vec::new(),
            corrects: Some(original),
            corrected_by: None,
        };
        self.metas.insert(original, orig);
        self.record(doc, meta);
        Ok(())
    }

    /// The actor whose key signed, valid at the event's time and holding a role for its kind.
    /// Returns the actor's id and the role.
    fn authorise(&mut self, doc: &Document, signer: &str) -> R<(String, String)> {
        let Some(owner) = self.key_owner(signer)? else {
            return fail(
                Refusal::UnknownActor,
                format!(
                    "the signing key {signer} belongs to no registered actor; a registrar must register it first"
                ),
            );
        };
        let Some(actor) = self.actor_ref(&owner)? else {
            return Err(
                StoreError::Corrupt(format!("key {signer} names missing actor {owner}")).into(),
            );
        };
        if !actor.key_valid_at(signer, doc.event_time_ms) {
            return fail(
                Refusal::KeyNotValid,
                format!(
                    "{signer} was not a valid key of {} at the eventTime (it was added later, or revoked or rotated before)",
                    actor.id
                ),
            );
        }
        let wanted = doc.kind.roles();
        let Some(role) = actor.role_at(wanted, doc.event_time_ms) else {
            return fail(
                Refusal::MissingRole,
                format!(
                    "{} events need one of the roles {}; {} held none of them at the eventTime",
                    doc.kind.name(),
                    wanted.join(", "),
                    actor.id
                ),
            );
        };
        let role = role.to_owned();
        Ok((actor.id.clone(), role))
    }

    fn record(&mut self, doc: &Document, meta: EntryMeta) {
        let t = doc.event_time_ms;
        let at = self.at;
        self.index.push_index(tag::TIME, "", t, at);
        if let Some(step) = &doc.biz_step {
            self.index.push_index(tag::BIZ_STEP, step, t, at);
        }
        if let Some(a) = &meta.actor {
            self.index.push_index(tag::ACTOR, a, t, at);
        }
        // Identifiers are indexed with the entry's EPCIS terms (`sequencer::put_lookups`).
        self.metas.insert(at, meta);
    }

    // ---- certificates ----

    /// A certifier's decision: an issuance creates the record (its subject and member farms
    /// must be registered), every later decision goes through [`CertRecord::decide`].
    fn certification(&mut self, c: &Certification, certifier: &str, t: i64) -> R<()> {
        let at = self.at;
        let id = c.id();
        let existing = self.cert(id)?;
        // Whoever a certificate names must be registered, at issuance and at every amendment.
        if let Certification::Issue(spec) | Certification::Amend { spec, .. } = c {
            for (who, what) in std::iter::once((&spec.subject, "subject"))
                .chain(spec.members.iter().map(|m| (&m.farm, "member farm")))
            {
                if self.actor_ref(who)?.is_none() {
                    return fail(
                        Refusal::UnknownActor,
                        format!(
                            "the certificate's {what} {who} is not a registered actor; a registrar must register it first"
                        ),
                    );
                }
            }
        }
        let record = match (existing, c) {
            (None, Certification::Issue(spec)) => CertRecord::issue(spec, certifier, t, at),
            (None, _) => {
                return fail(
                    Refusal::UnknownCertificate,
                    format!("certificate {id} was never issued in this ledger"),
                );
            }
            (Some(mut rec), c) => {
                rec.decide(c, certifier, at)?;
                rec
            }
        };
        let mut holders: BTreeSet<&str> = BTreeSet::new();
        if let Certification::Issue(spec) | Certification::Amend { spec, .. } = c {
            holders.insert(&spec.subject);
            holders.extend(spec.members.iter().map(|m| m.farm.as_str()));
            self.index
                .push(&super::holder_key(tag::CERT_ISSUER, certifier, id));
        }
        for h in holders {
            self.index.push(&super::holder_key(tag::CERT_HOLDER, h, id));
        }
        self.certs.insert(id.to_owned(), record);
        Ok(())
    }

    /// The certificates an event names in `certificationInfo` must exist and be the acting
    /// actor's (as subject, or as a member farm). Whether they were valid is not refused here:
    /// the event happened; organic status is derived from the certificates when it is asked.
    fn relied_on(&mut self, doc: &Document, actor: &str) -> R<()> {
        for (i, id) in doc.certificates.iter().enumerate() {
            let Some(c) = self.cert(id)? else {
                return fail(
                    Refusal::UnknownCertificate,
                    format!(
                        "certificationInfo[{i}] names {id}, which was never issued in this ledger"
                    ),
                );
            };
            let farm = match &doc.action {
                Action::Harvest(h) => Some(h.farm.as_str()),
                _ => None,
            };
            if !c.concerns(actor) && !farm.is_some_and(|f| c.concerns(f)) {
                return fail(
                    Refusal::CertificateNotHeld,
                    format!(
                        "certificationInfo[{i}] names {id}, which certifies {}, not {actor}",
                        c.current().subject
                    ),
                );
            }
        }
        Ok(())
    }

    // ---- registrar documents ----

    /// Applies a registrar document at time `t`; the answer is the actor it concerns.
    fn registrar(&mut self, r: &Registrar, t: i64) -> R<String> {
        match r {
            Registrar::Register(spec) => self.register(spec, t),
            Registrar::GrantRole { actor, role } => self.grant_role(actor, role, t),
            Registrar::RevokeRole { actor, role } => self.revoke_role(actor, role, t),
            Registrar::AddKey { actor, key } => self.add_key(actor, key, t),
            Registrar::RotateKey {
                actor,
                key,
                replaces,
            } => self.rotate_key(actor, key, replaces, t),
            Registrar::RevokeKey { actor, key } => self.revoke_key(actor, key, t),
        }
    }

    /// A new actor with its keys; neither the actor nor any of the keys may be known.
    fn register(&mut self, spec: &ActorSpec, t: i64) -> R<String> {
        if self.actor_ref(&spec.id)?.is_some() {
            return fail(
                Refusal::ActorExists,
                format!("actor {} is already registered", spec.id),
            );
        }
        for k in &spec.keys {
            self.unbound(k)?;
        }
        let rec = ActorRecord::registered(spec, t, self.at);
        for k in &spec.keys {
            self.keys.insert(k.clone(), spec.id.clone());
        }
        self.actors.insert(spec.id.clone(), rec);
        Ok(spec.id.clone())
    }

    fn grant_role(&mut self, actor: &str, role: &str, t: i64) -> R<String> {
        let mut a = self.subject(actor)?;
        if a.roles.iter().any(|r| r.role == *role && r.span.is_open()) {
            return fail(
                Refusal::RoleAlreadyGranted,
                format!("{actor} already holds the role {role}"),
            );
        }
        a.roles.push(RoleSpan {
            role: role.to_owned(),
            span: Span::open(t, self.at),
        });
        self.actors.insert(actor.to_owned(), a);
        Ok(actor.to_owned())
    }

    fn revoke_role(&mut self, actor: &str, role: &str, t: i64) -> R<String> {
        let mut a = self.subject(actor)?;
        let Some(r) = a
            .roles
            .iter_mut()
            .find(|r| r.role == *role && r.span.is_open())
        else {
            return fail(
                Refusal::RoleNotGranted,
                format!("{actor} does not hold the role {role}"),
            );
        };
        r.span.close(t, self.at);
        self.actors.insert(actor.to_owned(), a);
        Ok(actor.to_owned())
    }

    fn add_key(&mut self, actor: &str, key: &str, t: i64) -> R<String> {
        let mut a = self.subject(actor)?;
        self.unbound(key)?;
        a.keys.push(KeySpan {
            key: key.to_owned(),
            span: Span::open(t, self.at),
        });
        self.keys.insert(key.to_owned(), actor.to_owned());
        self.actors.insert(actor.to_owned(), a);
        Ok(actor.to_owned())
    }

    /// A new key in place of a current one, which is closed at `t`.
    fn rotate_key(&mut self, actor: &str, key: &str, replaces: &str, t: i64) -> R<String> {
        let mut a = self.subject(actor)?;
        self.unbound(key)?;
        let Some(old) = a
            .keys
            .iter_mut()
            .find(|k| k.key == *replaces && k.span.is_open())
        else {
            return fail(
                Refusal::UnknownKey,
                format!("{replaces} is not a current key of {actor}"),
            );
        };
        old.span.close(t, self.at);
        a.keys.push(KeySpan {
            key: key.to_owned(),
            span: Span::open(t, self.at),
        });
        self.keys.insert(key.to_owned(), actor.to_owned());
        self.actors.insert(actor.to_owned(), a);
        Ok(actor.to_owned())
    }

    fn revoke_key(&mut self, actor: &str, key: &str, t: i64) -> R<String> {
        let mut a = self.subject(actor)?;
        let Some(k) = a
            .keys
            .iter_mut()
            .find(|k| k.key == *key && k.span.is_open())
        else {
            return fail(
                Refusal::UnknownKey,
                format!("{key} is not a current key of {actor}"),
            );
        };
        k.span.close(t, self.at);
        self.actors.insert(actor.to_owned(), a);
        Ok(actor.to_owned())
    }

    fn subject(&mut self, id: &str) -> R<ActorRecord> {
        match self.actor(id)? {
            Some(a) => Ok(a),
            None => fail(
                Refusal::UnknownActor,
                format!("actor {id} is not registered"),
            ),
        }
    }

    /// A key may belong to one actor only, ever: otherwise one signature could speak for two.
    fn unbound(&mut self, key: &str) -> R<()> {
        match self.key_owner(key)? {
            Some(owner) => fail(
                Refusal::KeyInUse,
                format!("{key} is already a key of {owner}; every actor needs its own key"),
            ),
            None => Ok(()),
        }
    }

    // ---- goods ----

    fn goods(&mut self, doc: &Document, actor: &str, meta: &mut EntryMeta, rules: &Rules) -> R<()> {
        match &doc.action {
            Action::Harvest(h) => self.harvest(h, doc, actor, meta, rules),
            Action::Ship(m) => self.ship(m, actor),
            Action::Receive(m) => self.receive(m, actor),
            Action::Transform(t) => self.transform(t, doc.kind, actor, meta, rules),
            Action::Pack { parent, children } => self.pack(parent, children, actor, meta, rules),
            Action::Unpack { parent, children } => self.unpack(parent, children, actor),
            Action::Transaction {
                lines,
                docs,
                action,
            } => {
                for l in lines {
                    let mut lot = self.existing(&l.id)?;
                    if !lot.handlers.iter().any(|h| h == actor) {
                        return fail(
                            Refusal::NotCustodian,
                            format!(
                                "{actor} never held {}; only its handlers link documents to it",
                                l.id.urn
                            ),
                        );
                    }
                    for d in docs {
                        lot.documents.push(DocLink {
                            kind: d.kind.clone(),
                            id: d.id.clone(),
                            action: action.clone(),
                            index: self.at,
                        });
                    }
                    self.push_effect(Effect::Annotate {
                        key: lot.key.clone(),
                    })?;
                    self.put_lot(lot);
                }
                Ok(())
            }
            Action::Observe(o) => self.observe(o, doc.kind, doc.event_time_ms, actor),
            Action::Registrar(_) | Action::Certification(_) => Ok(()),
        }
    }

    /// An inspection or storage record changes no goods, but only someone who may know the
    /// goods records it: their holder (for at least the mass it names), or, for an inspection,
    /// a lab or certifier, who test samples of goods they never hold. The lot's history then
    /// includes it (the identifier index), so buyers see it.
    fn observe(&mut self, o: &Observation, kind: Kind, t: i64, actor: &str) -> R<()> {
        let independent = kind == Kind::Inspection
            && self
                .actor(actor)?
                .is_some_and(|a| a.role_at(&["lab", "certifier"], t).is_some());
        for l in &o.lines {
            let lot = self.existing_ref(&l.id)?;
            if independent {
                continue;
            }
            if kind == Kind::Inspection && lot.held_by(actor) == 0 {
                return fail(
                    Refusal::NotCustodian,
                    format!(
                        "{actor} does not hold {}; an inspection is recorded by the goods' holder, or by a lab or certifier",
                        l.id.urn
                    ),
                );
            }
            let amount = l.mass_mg.unwrap_or(lot.amount);
            Self::custody(lot, actor, amount, &l.id.urn)?;
        }
        Ok(())
    }

    fn new_lot(&mut self, id: &Ident, amount: i64, actor: &str) -> R<LotRecord> {
        if let Some(l) = self.lot_ref(&id.key)?
            && l.voided_by.is_none()
        {
            return fail(
                Refusal::AlreadyCommissioned,
                format!(
                    "{} already exists (created by entry {})",
                    id.urn, l.created_at
                ),
            );
        }
        Ok(LotRecord {
            id: id.urn.clone(),
            key: id.key.clone(),
            class: id.class,
            gtin: id.gtin.clone(),
            product: None,
            crop: None,
            growing_method: None,
            amount,
            content_mg: 0,
            created_at: self.at,
            created_by: actor.to_owned(),
            held: Default::default(),
            transit: Vec::new(),
            consumed: 0,
            handlers: Vec::new(),
            inputs: Vec::new(),
            origins: Vec::new(),
            parent: None,
            children: Vec::new(),
            flags: Vec::new(),
            documents: Vec::new(),
            voided_by: None,
        })
    }

    /// Puts a new record, all of it held by `actor`.
    fn create(&mut self, mut lot: LotRecord, actor: &str) -> R<()> {
        let (key, amount) = (lot.key.clone(), lot.amount);
        give(
            &mut lot,
            &Place::Held {
                actor: actor.to_owned(),
            },
            amount,
        );
        self.put_lot(lot);
        self.push_effect(Effect::Create {
            key,
            holder: Some(actor.to_owned()),
            amount,
        })
    }

    fn harvest(
        &mut self,
        h: &Harvest,
        doc: &Document,
        actor: &str,
        meta: &mut EntryMeta,
        rules: &Rules,
    ) -> R<()> {
        if h.farm != actor {
            let Some(farm) = self.actor(&h.farm)? else {
                return fail(
                    Refusal::UnknownParty,
                    format!("the farm {} is not a registered actor", h.farm),
                );
            };
            if farm.role_at(&["farm"], doc.event_time_ms).is_none() {
                return fail(
                    Refusal::MissingRole,
                    format!("{} did not hold the farm role at the eventTime", h.farm),
                );
            }
            if meta.role != "cooperative" {
                return fail(
                    Refusal::ActorMismatch,
                    format!(
                        "{actor} records a harvest of {}; only the farm itself or a cooperative may",
                        h.farm
                    ),
                );
            }
        }
        let product = plausibility::harvested_product(&h.crop);
        let flags: Vec<Flag> = plausibility::harvest(h, &rules.bounds)
            .into_iter()
            .map(|(code, message)| self.flag(code, message))
            .collect();
        for (id, mg) in &h.lots {
            let mut lot = self.new_lot(id, *mg, actor)?;
            lot.product = Some(product.clone());
            lot.crop = Some(h.crop.clone());
            lot.growing_method = Some(h.growing_method.clone());
            lot.origins = vec![Origin {
                farm: h.farm.clone(),
                plot: h.plot.clone(),
                harvest_start: h.harvest_start.clone(),
                harvest_end: h.harvest_end.clone(),
                growing_method: h.growing_method.clone(),
                index: self.at,
            }];
            lot.flags = flags.clone();
            self.create(lot, actor)?;
        }
        meta.flags = flags;
        Ok(())
    }

    fn flag(&self, code: FlagCode, message: String) -> Flag {
        Flag {
            code,
            message,
            index: self.at,
        }
    }

    /// The amount a line moves and the lot it names, with the checks every movement shares.
    fn line(&mut self, l: &Line) -> R<(LotRecord, i64)> {
        let (lot, amount) = self.line_ref(l)?;
        Ok((lot.clone(), amount))
    }

    /// [`Tx::line`], without copying the record.
    fn line_ref(&mut self, l: &Line) -> R<(&LotRecord, i64)> {
        let lot = self.existing_ref(&l.id)?;
        if let Some(p) = &lot.parent {
            return fail(
                Refusal::AlreadyPacked,
                format!(
                    "{} is packed in {p}; move the parent, or unpack it first",
                    l.id.urn
                ),
            );
        }
        let amount = l.mass_mg.unwrap_or(lot.amount);
        Ok((lot, amount))
    }

    fn custody(lot: &LotRecord, actor: &str, amount: i64, urn: &str) -> R<()> {
        let held = lot.held_by(actor);
        if held == 0 {
            return fail(
                Refusal::NotCustodian,
                format!("{actor} does not hold {urn}{}", holder_hint(lot)),
            );
        }
        if held < amount {
            return fail(
                Refusal::InsufficientBalance,
                format!(
                    "{actor} holds {} of {urn}, less than the {} this event uses",
                    kg(held),
                    kg(amount)
                ),
            );
        }
        Ok(())
    }

    /// Moves a lot and, for a logistic unit, everything packed in it — recorded as one effect
    /// that lists the contents, so a container of 500 bags costs one effect, not 501.
    fn move_all(&mut self, key: &str, from: &Place, to: &Place, amount: i64) -> R<()> {
        let contents = self.descendants(key)?;
        let e = Effect::Move {
            key: key.to_owned(),
            from: from.clone(),
            to: to.clone(),
            amount,
            contents,
        };
        self.push_effect(e)?;
        Ok(())
    }

    /// Everything packed in `key`, recursively.
    fn descendants(&mut self, key: &str) -> R<Vec<String>> {
        let mut out = Vec::new();
        let mut todo = self
            .lot_ref(key)?
            .map(|l| l.children.clone())
            .unwrap_or_default();
        while let Some(c) = todo.pop() {
            let grandchildren = self
                .lot_ref(&c)?
                .map(|l| l.children.clone())
                .ok_or_else(|| StoreError::Corrupt(format!("packed child {c} is missing")))?;
            todo.extend(grandchildren);
            out.push(c);
        }
        Ok(out)
    }

    fn ship(&mut self, m: &Movement, actor: &str) -> R<()> {
        if m.source != actor {
            return fail(
                Refusal::ActorMismatch,
                format!(
                    "the shipping party in sourceList is {}, but the event is signed by {actor}",
                    m.source
                ),
            );
        }
        if m.destination == actor {
            return fail(
                Refusal::ActorMismatch,
                "a shipment goes to another actor; destinationList names the signer",
            );
        }
        if self.actor_ref(&m.destination)?.is_none() {
            return fail(
                Refusal::UnknownParty,
                format!(
                    "the receiving party {} is not a registered actor",
                    m.destination
                ),
            );
        }
        let from = Place::Held {
            actor: actor.to_owned(),
        };
        let to = Place::Transit {
            from: actor.to_owned(),
            to: m.destination.clone(),
        };
        for l in &m.lines {
            let (lot, amount) = self.line_ref(l)?;
            Self::custody(lot, actor, amount, &l.id.urn)?;
            self.move_all(&l.id.key, &from, &to, amount)?;
        }
        Ok(())
    }

    fn receive(&mut self, m: &Movement, actor: &str) -> R<()> {
        if m.destination != actor {
            return fail(
                Refusal::ActorMismatch,
                format!(
                    "the receiving party in destinationList is {}, but the event is signed by {actor}",
                    m.destination
                ),
            );
        }
        let from = Place::Transit {
            from: m.source.clone(),
            to: actor.to_owned(),
        };
        let to = Place::Held {
            actor: actor.to_owned(),
        };
        for l in &m.lines {
            let (lot, amount) = self.line_ref(l)?;
            let pending = lot.in_transit(&m.source, actor);
            if pending == 0 {
                return fail(
                    Refusal::NoMatchingShipping,
                    format!(
                        "no shipment of {} from {} to {actor} is waiting to be received",
                        l.id.urn, m.source
                    ),
                );
            }
            if pending < amount {
                return fail(
                    Refusal::NoMatchingShipping,
                    format!(
                        "{} of {} was shipped from {} to {actor} and not yet received; this receives {}",
                        kg(pending),
                        l.id.urn,
                        m.source,
                        kg(amount)
                    ),
                );
            }
            self.move_all(&l.id.key, &from, &to, amount)?;
        }
        Ok(())
    }

    fn transform(
        &mut self,
        t: &Transform,
        kind: Kind,
        actor: &str,
        meta: &mut EntryMeta,
        rules: &Rules,
    ) -> R<()> {
        let held = Place::Held {
            actor: actor.to_owned(),
        };
        let mut inputs: Vec<(LotRecord, i64)> = Vec::new();
        for l in &t.inputs {
            let (lot, amount) = self.line(l)?;
            if lot.class == IdClass::Unit {
                return fail(
                    Refusal::AlreadyPacked,
                    format!(
                        "{} is a logistic unit; unpack it and transform its contents",
                        l.id.urn
                    ),
                );
            }
            Self::custody(&lot, actor, amount, &l.id.urn)?;
            inputs.push((lot, amount));
        }
        let mass_in: i64 = inputs.iter().map(|(_, a)| a).sum();
        let mass_out: i64 = t.outputs.iter().map(|o| o.mass_mg).sum();
        if mass_out > mass_in {
            return fail(
                Refusal::OutputsExceedInputs,
                format!(
                    "the outputs weigh {}, more than the {} of inputs",
                    kg(mass_out),
                    kg(mass_in)
                ),
            );
        }
        for (lot, amount) in &inputs {
            let e = Effect::Move {
                key: lot.key.clone(),
                from: held.clone(),
                to: Place::Consumed,
                amount: *amount,
                contents: Vec::new(),
            };
            self.push_effect(e)?;
        }

        let common = |f: &dyn Fn(&LotRecord) -> Option<String>| -> Option<String> {
            let mut vals = inputs.iter().map(|(l, _)| f(l));
            let first = vals.next().flatten()?;
            vals.all(|v| v.as_deref() == Some(first.as_str()))
                .then_some(first)
        };
        let in_product = common(&|l: &LotRecord| l.product.clone());
        let crop = common(&|l: &LotRecord| l.crop.clone());
        let method = inputs
            .iter()
            .map(|(l, _)| {
                l.growing_method
                    .clone()
                    .unwrap_or_else(|| "conventional".into())
            })
            .min_by_key(|m| method_rank(m));
        let input_keys: Vec<String> = inputs.iter().map(|(l, _)| l.key.clone()).collect();

        let ins: Vec<(Option<&str>, i64)> = inputs
            .iter()
            .map(|(l, a)| (l.product.as_deref(), *a))
            .collect();
        let outs: Vec<(Option<&str>, i64)> = t
            .outputs
            .iter()
            .map(|o| (o.product.as_deref().or(in_product.as_deref()), o.mass_mg))
            .collect();
        let flags: Vec<Flag> = plausibility::transformation(kind, &ins, &outs, &rules.bounds)
            .into_iter()
            .map(|(code, message)| self.flag(code, message))
            .collect();

        for o in &t.outputs {
            let mut lot = self.new_lot(&o.id, o.mass_mg, actor)?;
            lot.product = o.product.clone().or_else(|| in_product.clone());
            lot.crop = crop.clone();
            lot.growing_method = method.clone();
            lot.inputs = input_keys.clone();
            lot.flags = flags.clone();
            self.create(lot, actor)?;
        }
        meta.flags = flags;
        Ok(())
    }

    fn pack(
        &mut self,
        parent: &Ident,
        children: &[Arc<Ident>],
        actor: &str,
        meta: &mut EntryMeta,
        rules: &Rules,
    ) -> R<()> {
        match self.lot_ref(&parent.key)? {
            Some(p) if p.voided_by.is_none() => {
                if p.parent.is_some() {
                    return fail(
                        Refusal::AlreadyPacked,
                        format!("{} is itself packed; pack into the outer unit", parent.urn),
                    );
                }
                Self::custody(p, actor, 1, &parent.urn)?;
            }
            _ => {
                let unit = self.new_lot(parent, 1, actor)?;
                self.create(unit, actor)?;
            }
        }
        for c in children {
            let child = self.existing_ref(c)?;
            if let Some(p) = &child.parent {
                return fail(
                    Refusal::AlreadyPacked,
                    format!("{} is already packed in {p}; unpack it first", c.urn),
                );
            }
            Self::custody(child, actor, child.amount, &c.urn)?;
        }
        let e = Effect::Parent {
            children: children.iter().map(|c| c.key.clone()).collect(),
            old: None,
            new: Some(parent.key.clone()),
        };
        self.push_effect(e)?;
        // Describe the unit by what it now contains.
        let mut unit = self.existing(parent)?;
        let mut products = BTreeSet::new();
        let mut methods = Vec::new();
        let children = std::mem::take(&mut unit.children);
        // A set of what the unit already lists, not a scan per child: a container holds
        // hundreds of bags.
        let mut listed: std::collections::HashSet<&str> =
            unit.inputs.iter().map(String::as_str).collect();
        let mut added = Vec::new();
        for c in &children {
            if let Some(cl) = self.lot_ref(c)? {
                products.insert(cl.product.clone());
                methods.push(
                    cl.growing_method
                        .clone()
                        .unwrap_or_else(|| "conventional".into()),
                );
                if listed.insert(c) {
                    added.push(c.clone());
                }
            }
        }
        drop(listed);
        unit.inputs.extend(added);
        unit.children = children;
        unit.product = if products.len() == 1 {
            products.into_iter().next().flatten()
        } else {
            None
        };
        unit.growing_method = methods.into_iter().min_by_key(|m| method_rank(m));
        let max_mg = (rules.bounds.unit_max_t * 1e9) as i64;
        if unit.content_mg > max_mg {
            let f = self.flag(
                FlagCode::UnitOverweight,
                format!(
                    "{} holds {}, more than the {} t a container carries",
                    unit.id,
                    kg(unit.content_mg),
                    rules.bounds.unit_max_t
                ),
            );
            unit.flags.push(f.clone());
            meta.flags.push(f);
            self.push_effect(Effect::Annotate {
                key: unit.key.clone(),
            })?;
        }
        self.put_lot(unit);
        Ok(())
    }

    fn unpack(&mut self, parent: &Ident, children: &[Arc<Ident>], actor: &str) -> R<()> {
        let unit = self.existing(parent)?;
        Self::custody(&unit, actor, 1, &parent.urn)?;
        let keys: Vec<String> = if children.is_empty() {
            unit.children.clone()
        } else {
            let mut keys = Vec::new();
            for c in children {
                if !unit.children.contains(&c.key) {
                    return fail(
                        Refusal::NotPacked,
                        format!("{} is not packed in {}", c.urn, parent.urn),
                    );
                }
                keys.push(c.key.clone());
            }
            keys
        };
        let e = Effect::Parent {
            children: keys,
            old: Some(parent.key.clone()),
            new: None,
        };
        self.push_effect(e)?;
        Ok(())
    }

    // ---- effects, forwards and backwards ----

    /// Applies `e` (or its inverse), refusing any change that would make a balance negative or
    /// contradict packing. Refusals going backwards mean a later event depends on this one.
    fn effect(&mut self, e: &Effect, forward: bool) -> R<()> {
        match e {
            Effect::Create {
                key,
                holder,
                amount,
            } => {
                if forward {
                    // `create` put the whole record.
                    return Ok(());
                }
                self.uncreate(key, holder.as_deref(), *amount)
            }
            Effect::Move {
                key,
                from,
                to,
                amount,
                contents,
            } => {
                let (from, to) = if forward { (from, to) } else { (to, from) };
                self.move_goods(key, contents, from, to, *amount)
            }
            Effect::Parent { children, old, new } => {
                let (old, new) = if forward { (old, new) } else { (new, old) };
                self.repack(children, old.as_deref(), new.as_deref())
            }
            Effect::Annotate { key } => {
                if forward {
                    return Ok(());
                }
                self.unannotate(key)
            }
        }
    }

    /// Takes back the creation of lot `key` (`amount` given to `holder`): voids it, unless it
    /// has been used since.
    fn uncreate(&mut self, key: &str, holder: Option<&str>, amount: i64) -> R<()> {
        let mut lot = self
            .lot(key)?
            .ok_or_else(|| StoreError::Corrupt(format!("created lot {key} is missing")))?;
        if let Some(actor) = holder {
            let held = Place::Held {
                actor: actor.to_owned(),
            };
            take(&mut lot, &held, amount)?;
        }
        if !lot.held.is_empty()
            || !lot.transit.is_empty()
            || lot.consumed != 0
            || !lot.children.is_empty()
            || lot.parent.is_some()
        {
            return fail(
                Refusal::CorrectionConflict,
                format!(
                    "{} has been used since it was created; declare those events erroneous first",
                    lot.id
                ),
            );
        }
        lot.voided_by = Some(self.at);
        self.put_lot(lot);
        Ok(())
    }

    /// Moves `amount` of lot `key`, and its packed `contents` whole, from `from` to `to`.
    fn move_goods(
        &mut self,
        key: &str,
        contents: &[String],
        from: &Place,
        to: &Place,
        amount: i64,
    ) -> R<()> {
        let all =
            || std::iter::once((key, false)).chain(contents.iter().map(|c| (c.as_str(), true)));
        // Packed contents always move whole.
        let amount_of = |lot: &LotRecord, whole: bool| if whole { lot.amount } else { amount };
        // Check every record before changing any: an effect is all or nothing.
        for (k, whole) in all() {
            let lot = self
                .lot_ref(k)?
                .ok_or_else(|| StoreError::Corrupt(format!("moved lot {k} is missing")))?;
            check_take(lot, from, amount_of(lot, whole))?;
        }
        for (k, whole) in all() {
            let lot = self.lot_must(k, "moved lot")?;
            let amount = amount_of(lot, whole);
            take(lot, from, amount)?;
            give(lot, to, amount);
        }
        Ok(())
    }

    /// Moves `children` from parent `old` to parent `new` (either may be none), carrying their
    /// mass with them.
    fn repack(&mut self, children: &[String], old: Option<&str>, new: Option<&str>) -> R<()> {
        let mut mass = 0;
        // Check every child before changing any: an effect is all or nothing.
        for child in children {
            let c = self
                .lot_ref(child)?
                .ok_or_else(|| StoreError::Corrupt(format!("packed lot {child} is missing")))?;
            if c.parent.as_deref() != old {
                return fail(
                    Refusal::CorrectionConflict,
                    format!(
                        "{} has been repacked since; declare that event erroneous first",
                        c.id
                    ),
                );
            }
            mass += if c.class == IdClass::Unit {
                c.content_mg
            } else {
                c.amount
            };
        }
        for child in children {
            self.lot_must(child, "packed lot")?.parent = new.map(str::to_owned);
        }
        if let Some(p) = old {
            self.adjust_parent(p, children, false, mass)?;
        }
        if let Some(p) = new {
            self.adjust_parent(p, children, true, mass)?;
        }
        Ok(())
    }

    /// Takes back the flags and documents the corrected entry added to lot `key`.
    fn unannotate(&mut self, key: &str) -> R<()> {
        if let Some(mut lot) = self.lot(key)? {
            let original = self.original;
            lot.flags.retain(|f| Some(f.index) != original);
            lot.documents.retain(|d| Some(d.index) != original);
            self.put_lot(lot);
        }
        Ok(())
    }

    /// Adds or removes `children` (weighing `mass` together) under `parent`, and carries the
    /// mass change up the chain of parents.
    fn adjust_parent(&mut self, parent: &str, children: &[String], add: bool, mass: i64) -> R<()> {
        let p = self.lot_must(parent, "parent")?;
        let mass = if add {
            for c in children {
                if !p.children.contains(c) {
                    p.children.push(c.clone());
                }
            }
            mass
        } else {
            p.children.retain(|c| !children.contains(c));
            -mass
        };
        let mut up = p.parent.clone();
        p.content_mg += mass;
        while let Some(k) = up {
            let a = self.lot_must(&k, "parent")?;
            a.content_mg += mass;
            up = a.parent.clone();
        }
        Ok(())
    }
}

/// Refuses taking `amount` of `lot` from `from` if it is not there.
fn check_take(lot: &LotRecord, from: &Place, amount: i64) -> R<()> {
    let have = match from {
        Place::Outside => return Ok(()),
        Place::Held { actor } => lot.held_by(actor),
        Place::Transit { from, to } => lot.in_transit(from, to),
        Place::Consumed => lot.consumed,
    };
    if have < amount {
        return fail(
            Refusal::CorrectionConflict,
            format!(
                "{} has {} at {}; {} is needed to reverse this event — declare later events erroneous first",
                lot.id,
                kg(have),
                place_name(from),
                kg(amount)
            ),
        );
    }
    Ok(())
}

fn take(lot: &mut LotRecord, from: &Place, amount: i64) -> R<()> {
    check_take(lot, from, amount)?;
    match from {
        Place::Outside => {}
        Place::Held { actor } => {
            let have = lot.held_by(actor);
            if have == amount {
                lot.held.remove(actor);
            } else {
                lot.held.insert(actor.clone(), have - amount);
            }
        }
        Place::Transit { from, to } => {
            lot.transit
                .iter_mut()
                .filter(|t| t.from == *from && t.to == *to)
                .for_each(|t| t.amount -= amount);
            lot.transit.retain(|t| t.amount > 0);
        }
        Place::Consumed => lot.consumed -= amount,
    }
    Ok(())
}

fn give(lot: &mut LotRecord, to: &Place, amount: i64) {
    match to {
        Place::Outside => {}
        Place::Held { actor } => {
            // The holder's name is copied only when it is new to the record.
            match lot.held.get_mut(actor) {
                Some(held) => *held += amount,
                None => {
                    lot.held.insert(actor.clone(), amount);
                }
            }
            if !lot.handlers.contains(actor) {
                lot.handlers.push(actor.clone());
            }
        }
        Place::Transit { from, to } => {
            match lot
                .transit
                .iter_mut()
                .find(|t| t.from == *from && t.to == *to)
            {
                Some(t) => t.amount += amount,
                None => lot.transit.push(TransitLine {
                    from: from.clone(),
                    to: to.clone(),
                    amount,
                }),
            }
        }
        Place::Consumed => lot.consumed += amount,
    }
}

fn place_name(p: &Place) -> String {
    match p {
        Place::Outside => "outside".into(),
        Place::Held { actor } => actor.clone(),
        Place::Transit { from, to } => format!("transit from {from} to {to}"),
        Place::Consumed => "consumed".into(),
    }
}

fn holder_hint(lot: &LotRecord) -> String {
    if let Some(t) = lot.transit.first() {
        return format!(" (it is in transit from {} to {})", t.from, t.to);
    }
    match lot.held.keys().next() {
        Some(h) => format!(" (it is held by {h})"),
        None if lot.consumed > 0 => " (it was consumed)".into(),
        None => String::new(),
    }
}
