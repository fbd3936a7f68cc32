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
use crate::provenance::{self, CollectError, EntryCache};
use crate::recall::{self, Limits, TraceError};
use crate::state::certs::{CertRecord, Need};
use crate::state::query::Scan;
use crate::state::{Bounds, Effect, LotRecord, tag};
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
    let mut holders: BTreeSet<String> = BTreeSet::new();
    for v in &cert.versions {
        holders.insert(v.spec.subject.clone());
        holders.extend(v.spec.members.iter().map(|m| m.farm.clone()));
    }

    // 1. The events that relied on the certificate alone.
    let mut lots: BTreeMap<String, Option<LotRecord>> = BTreeMap::new();
    let mut lot = |key: &str| -> Result<Option<LotRecord>, StoreError> {
        if !lots.contains_key(key) {
            lots.insert(key.to_owned(), reader.lot(key)?);
        }
        Ok(lots.get(key).cloned().flatten())
    };
    let mut alternatives: BTreeMap<String, Vec<CertRecord>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut affected = Vec::new();
    let mut starts: BTreeSet<String> = BTreeSet::new();
    let mut scanned = 0;
    for h in &holders {
        let page = reader.scan(
            &Scan::Actor(h.clone()),
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
        scanned += page.indexes.len();
        for i in page.indexes {
            if !seen.insert(i) {
                continue;
            }
            let Some(meta) = reader.meta(i)? else {
                return Err(StoreError::Corrupt(format!("entry {i} has no meta")).into());
            };
            if meta.corrected_by.is_some()
                || meta.corrects.is_some()
                || !meta.kind.is_epcis()
                || meta.kind == Kind::Transaction
            {
                continue;
            }
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
            let Some(first) = touched.first() else {
                continue;
            };
            let Some(rec) = lot(first)? else { continue };
            // A unit records no crop of its own: its contents' (units nest a few levels at
            // most: bags on pallets in a container).
            let mut crop = rec.crop.clone();
            let mut inner = rec.children.first().cloned();
            while crop.is_none()
                && let Some(k) = inner
            {
                let child = lot(&k)?;
                crop = child.as_ref().and_then(|c| c.crop.clone());
                inner = child.and_then(|c| c.children.first().cloned());
            }
            let actor = meta.actor.clone().unwrap_or_default();
            // A harvest is covered for the farm and plot it grew on; anything else for the
            // acting actor's activity.
            let origin = (meta.kind == Kind::Harvest)
                .then(|| rec.origins.first().cloned())
                .flatten();
            let (who, plot, acts): (String, Option<String>, &[&str]) = match &origin {
                Some(o) => (o.farm.clone(), Some(o.plot.id.clone()), &["production"]),
                None => (actor.clone(), None, activities(meta.kind, &meta.role)),
            };
            let need = Need {
                actor: &who,
                activities: acts,
                product: rec.product.as_deref(),
                crop: crop.as_deref(),
                plot: plot.as_deref(),
                t: meta.event_time_ms,
            };
            if cert.covers(&need).is_err() {
                continue;
            }
            if !alternatives.contains_key(&who) {
                let others = reader.certs_of(tag::CERT_HOLDER, &who, MAX_CERTS + 1)?;
                if others.len() > MAX_CERTS {
                    return Err(ImpactError::TooLarge(format!(
                        "{who} holds more than {MAX_CERTS} certificates"
                    )));
                }
                let others: Vec<CertRecord> = others
                    .into_iter()
                    .filter(|c| c.id != cert.id && c.concerns(&who))
                    .collect();
                alternatives.insert(who.clone(), others);
            }
            if alternatives[&who].iter().any(|c| c.covers(&need).is_ok()) {
                continue;
            }
            starts.extend(touched.iter().cloned());
            starts.extend(contents);
            affected.push(AffectedEvent {
                entry: i,
                kind: meta.kind.name(),
                actor: who.clone(),
                event_time: format_time_ms(meta.event_time_ms),
                covered: match &plot {
                    Some(p) => format!("production on plot {p}"),
                    None => acts.join(" or "),
                },
                lots: touched,
            });
        }
    }
    affected.sort_by_key(|a| a.entry);

    // 2. Everything downstream of what they touched.
    let starts: Vec<String> = starts.into_iter().collect();
    let closure = recall::closure(&reader, &starts, Limits::nodes(MAX_LOTS))?;

    // 3. Status now and supposing the withdrawal, from each one's history.
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
        let Some(after) = after.filter(|a| a.organic.status != "organic") else {
            continue;
        };
        let l = &node.lot;
        impacted.push(ImpactedLot {
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
        });
    }
    let changed: BTreeSet<&str> = impacted.iter().map(|l| l.key.as_str()).collect();
    let mut recipients = BTreeSet::new();
    let shipments: Vec<ImpactedShipment> = closure
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
    Ok(Impact {
        certificate: cert.id.clone(),
        as_of: format_time_ms(as_of_ms),
        holders: holders.into_iter().collect(),
        summary: ImpactSummary {
            affected_events: affected.len(),
            traced: closure.nodes.len(),
            organic_now,
            impacted: impacted.len(),
            shipments: shipments.len(),
            recipients: recipients.len(),
            holder_entries: scanned,
        },
        affected_events: affected,
        lots: impacted,
        shipments,
        recipients: recipients.into_iter().collect(),
    })
}
