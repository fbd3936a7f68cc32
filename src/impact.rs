//! Withdrawal impact — the recall tool's "what if": which lots and shipments would lose their
//! organic status if certificate C were withdrawn as of date D.
//!
//! 1. **Affected events.** Every event since D by a holder of C (its subject, or a member farm)
//!    that C covered at its time (`CertRecord::covers`) and no other certificate of the actor
//!    did. Found by scanning each holder's actor index from D: the cost follows the holders'
//!    activity since D, never the ledger.
//! 2. **Downstream.** The lots those events created, moved or transformed, and the goods packed
//!    in units they moved, are the starts of one forward closure (`recall::closure`).
//! 3. **Status, before and after.** For each lot, item and unit in the closure, its claims are
//!    derived twice from its history, as they stand and with C supposed withdrawn from D
//!    (`provenance::claims`): a lot is impacted when it is organic now and would not be. Entries
//!    shared by many histories are read and interpreted once.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::ledger::Ledger;
use crate::provenance::organic::activities;
use crate::provenance::{self, Claims, CollectError, EntryCache};
use crate::recall::{self, Closure, Limits, Node, TraceError};
use crate::state::certs::{CertRecord, Need};
use crate::state::query::{Scan, StateReader};
use crate::state::{Bounds, Effect, EntryMeta, LotRecord, tag};
use crate::store::StoreError;
use lotline_profile::profile::{Kind, format_time_ms};

/// Most entries of the holders scanned since the date.
pub const MAX_EVENTS: usize = 200_000;
/// Most certificates of one actor considered.
const MAX_CERTS: usize = 1_000;
/// Most lots, items and units whose status is derived.
pub const MAX_LOTS: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ImpactError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("{0}")]
    TooLarge(String),
}

impl From<CollectError> for ImpactError {
    fn from(e: CollectError) -> Self {
        match e {
            CollectError::TooLarge => ImpactError::TooLarge(
                "a lot downstream has a history larger than one bundle carries".into(),
            ),
            CollectError::Ledger(l) => ImpactError::Ledger(l),
        }
    }
}

/// An event that relied on the certificate alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AffectedEvent {
    pub entry: u64,
    pub kind: &'static str,
    pub actor: String,
    pub event_time: String,
    /// What the certificate covered: the activity (and plot, for a harvest).
    pub covered: String,
    /// The lots, items and units it touched.
    pub lots: Vec<String>,
}

/// A lot, item or unit that would lose its organic status.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpactedLot {
    pub key: String,
    pub id: String,
    pub class: lotline_profile::profile::IdClass,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Who holds it now (actors), and who it is in transit to.
    pub held_by: Vec<String>,
    pub in_transit_to: Vec<String>,
    /// The checks that would fail, in words, with their entries.
    pub would_fail: Vec<String>,
}

/// A shipment of impacted goods.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpactedShipment {
    pub entry: u64,
    pub event_time: String,
    pub from: String,
    pub to: String,
    pub lots: Vec<String>,
    pub received: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpactSummary {
    pub affected_events: usize,
    /// Lots, items and units in the downstream closure.
    pub traced: usize,
    /// Of those, organic now.
    pub organic_now: usize,
    pub impacted: usize,
    pub shipments: usize,
    pub recipients: usize,
    /// Entries of the holders scanned since the date.
    pub holder_entries: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Impact {
    pub certificate: String,
    pub as_of: String,
    /// The subject and member farms.
    pub holders: Vec<String>,
    pub summary: ImpactSummary,
    pub affected_events: Vec<AffectedEvent>,
    pub lots: Vec<ImpactedLot>,
    pub shipments: Vec<ImpactedShipment>,
    pub recipients: Vec<String>,
}

/// The impact of withdrawing `cert` from `as_of_ms`.
pub fn impact(
    ledger: &Ledger,
    cert: &CertRecord,
    as_of_ms: i64,
    bounds: &Bounds,
) -> Result<Impact, ImpactError> {
    let reader = ledger.state();
    let holders = holders(cert);
    let affected = affected_events(&reader, cert, &holders, as_of_ms)?;
    let starts: Vec<String> = affected.starts.into_iter().collect();
    let closure = recall::closure(&reader, &starts, Limits::nodes(MAX_LOTS))?;
    let (impacted, organic_now) = impacted_lots(ledger, &closure, cert, as_of_ms, bounds)?;
    let (shipments, recipients) = impacted_shipments(&closure, &impacted);
    Ok(Impact {
        certificate: cert.id.clone(),
        as_of: format_time_ms(as_of_ms),
        holders: holders.into_iter().collect(),
        summary: ImpactSummary {
            affected_events: affected.events.len(),
            traced: closure.nodes.len(),
            organic_now,
            impacted: impacted.len(),
            shipments: shipments.len(),
            recipients: recipients.len(),
            holder_entries: affected.scanned,
        },
        affected_events: affected.events,
        lots: impacted,
        shipments,
        recipients: recipients.into_iter().collect(),
    })
}

/// Who holds the certificate, in any of its versions: its subject and member farms.
fn holders(cert: &CertRecord) -> BTreeSet<String> {
    let mut holders = BTreeSet::new();
    for v in &cert.versions {
        holders.insert(v.spec.subject.clone());
        holders.extend(v.spec.members.iter().map(|m| m.farm.clone()));
    }
    holders
}

/// Step 1's answer: the events that relied on the certificate alone, and where the downstream
/// trace starts.
#[derive(Default)]
struct Affected {
    /// By entry.
    events: Vec<AffectedEvent>,
    /// The lots, items and units they touched, and the goods packed in units they moved.
    starts: BTreeSet<String>,
    /// Entries of the holders scanned.
    scanned: usize,
}

/// Step 1: the events since the date by a holder that the certificate covered and no other
/// certificate of the actor did.
fn affected_events(
    reader: &StateReader<'_>,
    cert: &CertRecord,
    holders: &BTreeSet<String>,
    as_of_ms: i64,
) -> Result<Affected, ImpactError> {
    let mut finder = Finder {
        reader,
        cert,
        lots: BTreeMap::new(),
        alternatives: BTreeMap::new(),
    };
    let mut seen = BTreeSet::new();
    let mut out = Affected::default();
    for h in holders {
        let indexes = holder_entries(reader, h, as_of_ms)?;
        out.scanned += indexes.len();
        for i in indexes {
            if !seen.insert(i) {
                continue;
            }
            let Some(meta) = reader.meta(i)? else {
                return Err(StoreError::Corrupt(format!("entry {i} has no meta")).into());
            };
            if let Some((event, contents)) = finder.relied_on(i, &meta)? {
                out.starts.extend(event.lots.iter().cloned());
                out.starts.extend(contents);
                out.events.push(event);
            }
        }
    }
    out.events.sort_by_key(|a| a.entry);
    Ok(out)
}

/// The entries of holder `h` since the date, from its actor index; more than [`MAX_EVENTS`]
/// is refused.
fn holder_entries(
    reader: &StateReader<'_>,
    h: &str,
    as_of_ms: i64,
) -> Result<Vec<u64>, ImpactError> {
    let page = reader.scan(
        &Scan::Actor(h.to_owned()),
        as_of_ms,
        i64::MAX,
        None,
        MAX_EVENTS,
        |_| Ok(true),
    )?;
    if page.next.is_some() {
        return Err(ImpactError::TooLarge(format!(
            "{h} recorded more than {MAX_EVENTS} events since the date; ask about a later date"
        )));
    }
    Ok(page.indexes)
}

/// What an event's effects touched: the lots, items and units it created, moved or packed
/// into (sorted, each once), and the goods packed in what it moved or packed.
fn touched(meta: &EntryMeta) -> (Vec<String>, Vec<String>) {
    let mut touched: Vec<String> = Vec::new();
    let mut contents: Vec<String> = Vec::new();
    for e in &meta.effects {
        match e {
            Effect::Create { key, .. } => touched.push(key.clone()),
            Effect::Move {
                key, contents: c, ..
            } => {
                touched.push(key.clone());
                contents.extend(c.iter().cloned());
            }
            Effect::Parent { children, new, .. } => {
                touched.extend(new.iter().cloned());
                contents.extend(children.iter().cloned());
            }
            Effect::Annotate { .. } => {}
        }
    }
    touched.sort();
    touched.dedup();
    (touched, contents)
}

/// Step 1's reader: the certificate, and the records it reads once each.
struct Finder<'r, 'a> {
    reader: &'r StateReader<'a>,
    cert: &'r CertRecord,
    /// Lot records by key (`None`: not in the ledger).
    lots: BTreeMap<String, Option<LotRecord>>,
    /// Each actor's other certificates that concern it.
    alternatives: BTreeMap<String, Vec<CertRecord>>,
}

impl Finder<'_, '_> {
    fn lot(&mut self, key: &str) -> Result<Option<LotRecord>, StoreError> {
        if !self.lots.contains_key(key) {
            self.lots.insert(key.to_owned(), self.reader.lot(key)?);
        }
        Ok(self.lots.get(key).cloned().flatten())
    }

    /// The event of entry `i` as affected, with the goods packed in what it moved, if it
    /// relied on the certificate alone.
    fn relied_on(
        &mut self,
        i: u64,
        meta: &EntryMeta,
    ) -> Result<Option<(AffectedEvent, Vec<String>)>, ImpactError> {
        if meta.corrected_by.is_some()
            || meta.corrects.is_some()
            || !meta.kind.is_epcis()
            || meta.kind == Kind::Transaction
        {
            return Ok(None);
        }
        let (touched, contents) = touched(meta);
        let Some(first) = touched.first() else {
            return Ok(None);
        };
        let Some(rec) = self.lot(first)? else {
            return Ok(None);
        };
        let crop = self.crop(&rec)?;
        let actor = meta.actor.clone().unwrap_or_default();
        // A harvest is covered for the farm and plot it grew on; anything else for the
        // acting actor's activity.
        let origin = (meta.kind == Kind::Harvest)
            .then(|| rec.origins.first().cloned())
            .flatten();
        let (who, plot, acts): (String, Option<String>, &[&str]) = match &origin {
            Some(o) => (o.farm.clone(), Some(o.plot.id.clone()), &["production"]),
            None => (actor, None, activities(meta.kind, &meta.role)),
        };
        let need = Need {
            actor: &who,
            activities: acts,
            product: rec.product.as_deref(),
            crop: crop.as_deref(),
            plot: plot.as_deref(),
            t: meta.event_time_ms,
        };
        if self.cert.covers(&need).is_err() || self.covered_otherwise(&who, &need)? {
            return Ok(None);
        }
        let event = AffectedEvent {
            entry: i,
            kind: meta.kind.name(),
            actor: who.clone(),
            event_time: format_time_ms(meta.event_time_ms),
            covered: match &plot {
                Some(p) => format!("production on plot {p}"),
                None => acts.join(" or "),
            },
            lots: touched,
        };
        Ok(Some((event, contents)))
    }

    /// The crop of the goods. A unit records no crop of its own: its contents' (units nest a
    /// few levels at most: bags on pallets in a container).
    fn crop(&mut self, rec: &LotRecord) -> Result<Option<String>, StoreError> {
        let mut crop = rec.crop.clone();
        let mut inner = rec.children.first().cloned();
        while crop.is_none()
            && let Some(k) = inner
        {
            let child = self.lot(&k)?;
            crop = child.as_ref().and_then(|c| c.crop.clone());
            inner = child.and_then(|c| c.children.first().cloned());
        }
        Ok(crop)
    }

    /// Whether another certificate of `who` covers `need` (read once per actor).
    fn covered_otherwise(&mut self, who: &str, need: &Need<'_>) -> Result<bool, ImpactError> {
        if !self.alternatives.contains_key(who) {
            let others = self.reader.certs_of(tag::CERT_HOLDER, who, MAX_CERTS + 1)?;
            if others.len() > MAX_CERTS {
                return Err(ImpactError::TooLarge(format!(
                    "{who} holds more than {MAX_CERTS} certificates"
                )));
            }
            let others: Vec<CertRecord> = others
                .into_iter()
                .filter(|c| c.id != self.cert.id && c.concerns(who))
                .collect();
            self.alternatives.insert(who.to_owned(), others);
        }
        Ok(self.alternatives[who]
            .iter()
            .any(|c| c.covers(need).is_ok()))
    }
}

/// Step 3: the lots, items and units downstream that are organic now and would not be with
/// the certificate withdrawn, and how many are organic now.
fn impacted_lots(
    ledger: &Ledger,
    closure: &Closure,
    cert: &CertRecord,
    as_of_ms: i64,
    bounds: &Bounds,
) -> Result<(Vec<ImpactedLot>, usize), ImpactError> {
    let mut cache = EntryCache::default();
    let mut impacted = Vec::new();
    let mut organic_now = 0;
    for node in &closure.nodes {
        let Some(plan) = provenance::plan(ledger, &node.key)? else {
            continue;
        };
        let (now, after) = provenance::claims(
            ledger,
            &plan,
            bounds,
            &mut cache,
            Some((&cert.id, as_of_ms)),
        )?;
        if now.organic.status != "organic" {
            continue;
        }
        organic_now += 1;
        if let Some(after) = after.filter(|a| a.organic.status != "organic") {
            impacted.push(impacted_lot(node, &after));
        }
    }
    Ok((impacted, organic_now))
}

/// A node as impacted: where it is now, and the checks that would fail.
fn impacted_lot(node: &Node, after: &Claims) -> ImpactedLot {
    let l = &node.lot;
    ImpactedLot {
        key: node.key.clone(),
        id: l.id.clone(),
        class: l.class,
        product: l.product.clone(),
        held_by: l.held.keys().cloned().collect(),
        in_transit_to: l.transit.iter().map(|t| t.to.clone()).collect(),
        would_fail: after
            .organic
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| {
                format!(
                    "entry {} [{}] {}: {}",
                    c.entry, c.check, c.subject, c.message
                )
            })
            .collect(),
    }
}

/// The shipments in the closure that moved impacted goods, and who they went to.
fn impacted_shipments(
    closure: &Closure,
    impacted: &[ImpactedLot],
) -> (Vec<ImpactedShipment>, BTreeSet<String>) {
    let changed: BTreeSet<&str> = impacted.iter().map(|l| l.key.as_str()).collect();
    let mut recipients = BTreeSet::new();
    let shipments = closure
        .shipments
        .iter()
        .filter_map(|s| {
            let lots: BTreeSet<String> = s
                .lines
                .iter()
                .flat_map(|l| std::iter::once(&l.key).chain(l.traced.iter()))
                .filter(|k| changed.contains(k.as_str()))
                .cloned()
                .collect();
            (!lots.is_empty()).then(|| {
                recipients.insert(s.to.clone());
                ImpactedShipment {
                    entry: s.entry,
                    event_time: format_time_ms(s.event_time_ms),
                    from: s.from.clone(),
                    to: s.to.clone(),
                    lots: lots.into_iter().collect(),
                    received: s.received(),
                }
            })
        })
        .collect();
    (shipments, recipients)
}
