//! Gathering a lot's history from the ledger into a [`Bundle`].
//!
//! The walk starts at the lot's state record and follows `inputs` (what it was made from, what
//! was packed in it) down to the harvests, and the `Parent` effects of packing entries up to
//! the units each of those travelled in. Every lookup is a point read or a scan of one lot's
//! entries in the identifier index, so the cost follows the lot's history, never the size of
//! the log; only the inclusion proofs grow, with log2 of it. The certificates of every farm and
//! handler come along with all their certification entries, so a verifier derives organic
//! status from the same decisions the server did.

use std::collections::{BTreeSet, HashMap};

use super::{BUNDLE_TYPE, BUNDLE_VERSION, Bundle, BundleEntry, LogInfo};
use crate::ledger::{Ledger, LedgerError, SignedCheckpoint};
use crate::state::query::Scan;
use crate::state::{ActorRecord, Bounds, Effect, tag};
use crate::store::StoreError;
use lotline_profile::entry::{Entry, b64_hash};
use lotline_profile::profile;
use lotline_verify::{Parsed, Registry, derive};

/// Most entries one bundle carries; a longer history is refused rather than served slowly.
pub const MAX_ENTRIES: usize = 50_000;
/// Most certificates read for one actor.
const MAX_CERTS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(
        "the history of this lot has more than {MAX_ENTRIES} entries, more than one bundle carries"
    )]
    TooLarge,
}

impl From<StoreError> for CollectError {
    fn from(e: StoreError) -> Self {
        CollectError::Ledger(e.into())
    }
}

/// Which entries a lot's bundle needs; the first half of [`collect`], which needs no
/// checkpoint.
#[derive(Debug, Clone)]
pub struct Plan {
    pub subject: String,
    pub indexes: BTreeSet<u64>,
    /// Every lot, item and unit key the walk reached (upstream lots and the units they
    /// travelled in, found or not): an entry naming none of them, and no registrar or
    /// certification document, cannot change this plan (see `super::cache`).
    pub lots: BTreeSet<String>,
    /// The actor records as read when their registrar entries were chosen, so that the bundle
    /// carries exactly the entries its records point at.
    actors: Vec<ActorRecord>,
}

impl Plan {
    /// The largest entry index the bundle carries: the checkpoint must cover it.
    pub fn last(&self) -> Option<u64> {
        self.indexes.last().copied()
    }
}

/// Plans the bundle of `key` (a canonical key); `None` when no such lot, item or unit exists.
pub fn plan(ledger: &Ledger, key: &str) -> Result<Option<Plan>, CollectError> {
    let reader = ledger.state();
    // A lot whose creating event was declared erroneous has no provenance to show.
    if reader.lot(key)?.is_none_or(|l| l.voided_by.is_some()) {
        return Ok(None);
    }
    let mut indexes = BTreeSet::new();
    let mut actors = BTreeSet::new();
    // Whether each lot reached so far is upstream of the subject (made into it) or only a
    // unit that something upstream travelled in.
    let mut seen: HashMap<String, bool> = HashMap::new();
    let mut todo: Vec<(String, bool)> = vec![(key.to_owned(), true)];
    while let Some((k, up)) = todo.pop() {
        let scanned = match seen.get(&k) {
            Some(&was_up) if was_up || !up => continue,
            Some(_) => true,
            None => false,
        };
        seen.insert(k.clone(), up);
        let Some(lot) = reader.lot(&k)? else { continue };
        if up {
            for o in &lot.origins {
                actors.insert(o.farm.clone());
            }
            todo.extend(lot.inputs.iter().map(|i| (i.clone(), true)));
        }
        if scanned {
            continue;
        }
        let page = reader.scan(
            &Scan::Ident(k.clone()),
            i64::MIN,
            i64::MAX,
            None,
            MAX_ENTRIES,
            |_| Ok(true),
        )?;
        if page.next.is_some() {
            return Err(CollectError::TooLarge);
        }
        for i in page.indexes {
            if !indexes.insert(i) {
                continue;
            }
            let Some(meta) = reader.meta(i)? else {
                return Err(StoreError::Corrupt(format!("entry {i} has no meta")).into());
            };
            actors.extend(meta.actor);
            for e in &meta.effects {
                if let Effect::Parent {
                    children,
                    new: Some(unit),
                    ..
                } = e
                    && children.contains(&k)
                {
                    todo.push((unit.clone(), false));
                }
            }
        }
        if indexes.len() > MAX_ENTRIES {
            return Err(CollectError::TooLarge);
        }
    }
    // The certification entries of every certificate of those actors (organic status is
    // derived from them), and their certifiers, whose keys and roles are checked like the
    // others'.
    let mut issuers = BTreeSet::new();
    for id in &actors {
        let certs = reader.certs_of(tag::CERT_HOLDER, id, MAX_CERTS + 1)?;
        // Leaving some out would change the verdict silently: refuse instead.
        if certs.len() > MAX_CERTS {
            return Err(CollectError::TooLarge);
        }
        for c in certs {
            if c.concerns(id) {
                indexes.extend(c.entries());
                issuers.insert(c.issuer);
            }
        }
    }
    actors.extend(issuers);
    // The registrar entries that made each actor what it was at every event.
    let mut records = Vec::with_capacity(actors.len());
    for id in &actors {
        let Some(a) = reader.actor(id)? else { continue };
        indexes.insert(a.registered_at);
        for s in a
            .roles
            .iter()
            .map(|r| &r.span)
            .chain(a.keys.iter().map(|k| &k.span))
        {
            indexes.insert(s.opened_at);
            indexes.extend(s.closed_at);
        }
        records.push(a);
    }
    Ok(Some(Plan {
        subject: key.to_owned(),
        indexes,
        lots: seen.into_keys().collect(),
        actors: records,
    }))
}

/// Entries read and interpreted once per request, for audits that derive the claims of many
/// lots whose histories overlap.
#[derive(Default)]
pub struct EntryCache {
    entries: HashMap<u64, (Entry, profile::Document)>,
}

impl EntryCache {
    fn load(&mut self, ledger: &Ledger, i: u64) -> Result<(), CollectError> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.entries.entry(i) {
            let bytes = ledger
                .entry(i)?
                .ok_or_else(|| StoreError::Corrupt(format!("entry {i} is missing")))?;
            let entry =
                Entry::parse(&bytes).map_err(|e| StoreError::Corrupt(format!("entry {i}: {e}")))?;
            let doc = profile::interpret(&entry.event)
                .map_err(|v| StoreError::Corrupt(format!("entry {i}: {}", v.message)))?;
            slot.insert((entry, doc));
        }
        Ok(())
    }
}

/// The claims of `plan`, derived from its stored entries by the same [`derive`] a bundle's are,
/// without proofs or signature checks: for audits asking about many lots in one request (the
/// entries are the ledger's own, checked when they were accepted).
///
/// With `withdraw = Some((certificate, t))`, also the claims as they would be had that
/// certificate been withdrawn from `t` (the recall tool's "what if").
pub fn claims(
    ledger: &Ledger,
    plan: &Plan,
    bounds: &Bounds,
    cache: &mut EntryCache,
    withdraw: Option<(&str, i64)>,
) -> Result<(super::Claims, Option<super::Claims>), CollectError> {
    for &i in &plan.indexes {
        cache.load(ledger, i)?;
    }
    let parsed: Vec<Parsed<'_>> = plan
        .indexes
        .iter()
        .filter_map(|i| cache.entries.get(i))
        .map(|(entry, doc)| Parsed { entry, doc })
        .collect();
    let registry = Registry::replay(&parsed);
    let now = derive(&plan.subject, &parsed, &registry, bounds);
    let after = withdraw.map(|(id, t)| {
        let mut r = registry.clone();
        r.suppose_withdrawn(id, t);
        derive(&plan.subject, &parsed, &r, bounds)
    });
    Ok((now, after))
}

/// Builds the bundle of `plan` against `checkpoint`, which must cover every entry of it.
pub fn build(
    ledger: &Ledger,
    plan: &Plan,
    checkpoint: &SignedCheckpoint,
    registrars: &[String],
    bounds: &Bounds,
) -> Result<Bundle, CollectError> {
    let indexes: Vec<u64> = plan.indexes.iter().copied().collect();
    let proofs = ledger.inclusion_proofs(&indexes, checkpoint.size)?;
    let mut entries = Vec::with_capacity(plan.indexes.len());
    let mut parsed_entries = Vec::with_capacity(plan.indexes.len());
    for (&i, proof) in indexes.iter().zip(proofs) {
        let bytes = ledger
            .entry(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {i} is missing")))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("entry {i}: {e}")))?;
        let entry =
            Entry::parse(&bytes).map_err(|e| StoreError::Corrupt(format!("entry {i}: {e}")))?;
        let doc = profile::interpret(&entry.event)
            .map_err(|v| StoreError::Corrupt(format!("entry {i}: {}", v.message)))?;
        entries.push(BundleEntry {
            entry: value,
            inclusion_proof: proof.iter().map(b64_hash::encode).collect(),
        });
        parsed_entries.push((entry, doc));
    }
    let parsed: Vec<Parsed<'_>> = parsed_entries
        .iter()
        .map(|(entry, doc)| Parsed { entry, doc })
        .collect();
    let registry = Registry::replay(&parsed);
    let claims = derive(&plan.subject, &parsed, &registry, bounds);
    Ok(Bundle {
        kind: BUNDLE_TYPE.into(),
        version: BUNDLE_VERSION,
        subject: plan.subject.clone(),
        log: LogInfo {
            origin: ledger.origin().to_owned(),
            verifier_key: ledger.verifier_key().to_string(),
        },
        checkpoint: checkpoint.note.clone(),
        registrars: registrars.to_vec(),
        bounds: bounds.clone(),
        entries,
        actors: plan.actors.clone(),
        claims,
    })
}
