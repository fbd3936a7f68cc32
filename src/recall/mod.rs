//! Recall: the downstream (forward) trace of a lot, tagged item or logistic unit — every lot
//! made from it, every unit that carried any of it, every shipment of it and every actor it
//! was shipped to — the "one step forward" of EU General Food Law art. 18, followed to the end.
//!
//! [`closure`] computes the forward graph of any set of start keys (the walk, its invariants
//! and its cost are described in the `closure` module); [`downstream`] turns the closure of one
//! lot into the answer of `GET /v1/audit/lots/{id}/downstream`: plain, serialisable structs in
//! a deterministic order, each node with the path of recorded entries that puts it in the
//! recall.

mod closure;

use std::collections::BTreeMap;

use serde::Serialize;

pub use closure::{
    Closure, ENTRIES_PER_NODE, Edge, Limits, Link, Node, ShipLine, Shipment, Span, TraceError,
    closure,
};

use crate::state::LotRecord;
use crate::state::query::StateReader;
use lotline_profile::profile::{IdClass, format_time_ms};

/// A mass, as the other read endpoints give it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantity {
    pub quantity: f64,
    pub uom: &'static str,
}

fn kg(mg: i64) -> Quantity {
    Quantity {
        quantity: mg as f64 / 1e6,
        uom: "KGM",
    }
}

/// An entry and its event time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct At {
    pub entry: u64,
    pub event_time: String,
}

impl At {
    fn new(entry: u64, ms: i64) -> At {
        At {
            entry,
            event_time: format_time_ms(ms),
        }
    }
}

/// The step that puts a node in the trace: entry `entry` (of kind `kind`) made it from, or
/// packed into it, the node `from`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Via {
    pub from: String,
    pub entry: u64,
    pub kind: &'static str,
    pub link: Link,
    pub event_time: String,
}

impl Via {
    fn of(e: &Edge) -> Via {
        Via {
            from: e.from.clone(),
            entry: e.entry,
            kind: e.kind.name(),
            link: e.link,
            event_time: format_time_ms(e.event_time_ms),
        }
    }
}

/// One step of a path from the root: `key` follows from the step before through `entry`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub key: String,
    pub entry: u64,
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Holding {
    pub actor: String,
    pub amount: Quantity,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InTransit {
    pub from: String,
    pub to: String,
    pub amount: Quantity,
}

/// A lot or tagged item in the trace, and where it is now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LotView {
    pub key: String,
    pub id: String,
    pub class: IdClass,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growing_method: Option<String>,
    /// The entry that created it, and how much.
    pub created: At,
    pub amount: Quantity,
    pub depth: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// From the root to this node, one step per entry.
    pub path: Vec<Step>,
    pub held: Vec<Holding>,
    pub in_transit: Vec<InTransit>,
    pub consumed: Quantity,
    /// The unit it is packed in now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voided_by: Option<u64>,
}

/// A span of entries during which a unit carried traced goods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Carried {
    pub from: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
}

/// A logistic unit (pallet, container) in the trace, and where it is now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitView {
    pub key: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growing_method: Option<String>,
    /// When traced goods were first packed in it (the packing entry of `via`); none for the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed: Option<At>,
    /// The entries between which it carried traced goods (open while it still does); empty for
    /// the root.
    pub carried: Vec<Carried>,
    pub depth: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    pub path: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custodian: Option<String>,
    pub in_transit: Vec<InTransit>,
    /// The unit it is packed in now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_in: Option<String>,
    /// What it holds now, all of it (traced or not).
    pub content_mass: Quantity,
}

/// A shipment of traced goods.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentView {
    pub entry: u64,
    pub event_time: String,
    pub from: String,
    pub to: String,
    /// Traced lots and items it moved (loose or packed).
    pub lots: Vec<String>,
    /// Units it moved that are in the trace, or carried traced goods then.
    pub units: Vec<String>,
    /// Mass of the traced lots and items in it; none when only a traced unit moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mass: Option<Quantity>,
    /// Every traced line was received in full.
    pub received: bool,
    pub receipts: Vec<At>,
}

/// An actor that traced goods were shipped to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Roles it held when it first received (or, not yet received, was first shipped) them.
    pub roles: Vec<String>,
    pub first_shipped: At,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_received: Option<At>,
    /// Entries of the shipments to it.
    pub shipments: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootView {
    pub key: String,
    pub id: String,
    pub class: IdClass,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub lots: usize,
    pub units: usize,
    pub shipments: usize,
    pub recipients: usize,
    /// Distinct entries read to answer; it follows the trace, not the ledger.
    pub entries_read: usize,
}

/// The downstream trace of one lot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recall {
    pub root: RootView,
    pub summary: Summary,
    /// Lots and items (the root first), by depth, then key.
    pub lots: Vec<LotView>,
    /// Units, by depth, then key.
    pub units: Vec<UnitView>,
    /// Shipments, in log order.
    pub shipments: Vec<ShipmentView>,
    /// Recipients, by first shipment, then id.
    pub recipients: Vec<RecipientView>,
}

fn in_transit(lot: &LotRecord) -> Vec<InTransit> {
    lot.transit
        .iter()
        .map(|t| InTransit {
            from: t.from.clone(),
            to: t.to.clone(),
            amount: if lot.class == IdClass::Unit {
                kg(lot.content_mg)
            } else {
                kg(t.amount)
            },
        })
        .collect()
}

fn path(c: &Closure, key: &str) -> Vec<Step> {
    c.path(key)
        .into_iter()
        .map(|e| Step {
            key: e.to.clone(),
            entry: e.entry,
            kind: e.kind.name(),
        })
        .collect()
}

/// The downstream trace of the lot, item or unit with canonical key `key`; `None` if the ledger
/// has no such key.
pub fn downstream(
    reader: &StateReader<'_>,
    key: &str,
    limits: Limits,
) -> Result<Option<Recall>, TraceError> {
    let c = closure(reader, &[key.to_owned()], limits)?;
    let Some(root) = c.node(key) else {
        return Ok(None);
    };
    let root = RootView {
        key: root.key.clone(),
        id: root.lot.id.clone(),
        class: root.lot.class,
    };
    let mut lots = Vec::new();
    let mut units = Vec::new();
    for n in &c.nodes {
        if n.lot.class == IdClass::Unit {
            units.push(unit_view(&c, n));
        } else {
            lots.push(lot_view(reader, &c, n)?);
        }
    }
    let shipments: Vec<ShipmentView> = c.shipments.iter().map(|s| shipment_view(&c, s)).collect();
    let recipients = recipients(reader, &c)?;
    Ok(Some(Recall {
        root,
        summary: Summary {
            lots: lots.len(),
            units: units.len(),
            shipments: shipments.len(),
            recipients: recipients.len(),
            entries_read: c.entries_read,
        },
        lots,
        units,
        shipments,
        recipients,
    }))
}

/// A logistic unit of the trace as the answer shows it.
fn unit_view(c: &Closure, n: &Node) -> UnitView {
    let l = &n.lot;
    UnitView {
        key: n.key.clone(),
        id: l.id.clone(),
        product: l.product.clone(),
        growing_method: l.growing_method.clone(),
        packed: n.via.as_ref().map(|e| At::new(e.entry, e.event_time_ms)),
        carried: n
            .carrying
            .iter()
            .map(|s| Carried {
                from: s.from,
                until: s.until,
            })
            .collect(),
        depth: n.depth,
        via: n.via.as_ref().map(Via::of),
        path: path(c, &n.key),
        custodian: l.custodian().map(str::to_owned),
        in_transit: in_transit(l),
        packed_in: l.parent.clone(),
        content_mass: kg(l.content_mg),
    }
}

/// A lot or item of the trace as the answer shows it.
fn lot_view(reader: &StateReader<'_>, c: &Closure, n: &Node) -> Result<LotView, TraceError> {
    let l = &n.lot;
    // The creating entry names the lot, so the walk read it, unless it was corrected.
    let created_ms = match c.event_time_ms(l.created_at) {
        Some(t) => t,
        None => reader.meta(l.created_at)?.map_or(0, |m| m.event_time_ms),
    };
    Ok(LotView {
        key: n.key.clone(),
        id: l.id.clone(),
        class: l.class,
        product: l.product.clone(),
        crop: l.crop.clone(),
        growing_method: l.growing_method.clone(),
        created: At::new(l.created_at, created_ms),
        amount: kg(l.amount),
        depth: n.depth,
        via: n.via.as_ref().map(Via::of),
        path: path(c, &n.key),
        held: l
            .held
            .iter()
            .map(|(a, mg)| Holding {
                actor: a.clone(),
                amount: kg(*mg),
            })
            .collect(),
        in_transit: in_transit(l),
        consumed: kg(l.consumed),
        packed_in: l.parent.clone(),
        voided_by: l.voided_by,
    })
}

/// A shipment of the trace as the answer shows it: its traced lots and units, each once.
fn shipment_view(c: &Closure, s: &Shipment) -> ShipmentView {
    let mut lots: Vec<String> = Vec::new();
    let mut units: Vec<String> = Vec::new();
    for l in &s.lines {
        // A unit line carried traced goods (or is the traced unit); its traced contents
        // and a traced lot's own line are listed by what they are.
        if l.class == IdClass::Unit {
            units.push(l.key.clone());
        }
        for k in &l.traced {
            if c.node(k).map(|n| n.lot.class) == Some(IdClass::Unit) {
                units.push(k.clone());
            } else {
                lots.push(k.clone());
            }
        }
    }
    for v in [&mut lots, &mut units] {
        v.sort();
        v.dedup();
    }
    let mg: i64 = s.lines.iter().map(|l| l.traced_mg).sum();
    ShipmentView {
        entry: s.entry,
        event_time: format_time_ms(s.event_time_ms),
        from: s.from.clone(),
        to: s.to.clone(),
        lots,
        units,
        mass: (mg > 0).then(|| kg(mg)),
        received: s.received(),
        receipts: s.receipts.iter().map(|(i, t)| At::new(*i, *t)).collect(),
    }
}

/// The shipments of traced goods to one recipient.
struct ShippedTo<'c> {
    first: &'c Shipment,
    /// The earliest receipt, `(entry, event time)`.
    received: Option<(u64, i64)>,
    entries: Vec<u64>,
}

/// Recipients: everyone traced goods were shipped to, by first shipment, then id.
fn recipients(reader: &StateReader<'_>, c: &Closure) -> Result<Vec<RecipientView>, TraceError> {
    let mut by_actor: BTreeMap<&str, ShippedTo<'_>> = BTreeMap::new();
    for s in &c.shipments {
        let first_receipt = s.receipts.first().copied();
        let e = by_actor.entry(s.to.as_str()).or_insert(ShippedTo {
            first: s,
            received: first_receipt,
            entries: Vec::new(),
        });
        e.entries.push(s.entry);
        if let Some(r) = first_receipt
            && e.received.is_none_or(|x| r.0 < x.0)
        {
            e.received = Some(r);
        }
    }
    let mut recipients = Vec::with_capacity(by_actor.len());
    for (id, to) in by_actor {
        recipients.push(recipient_view(reader, id, to)?);
    }
    recipients.sort_by(|a, b| (a.first_shipped.entry, &a.id).cmp(&(b.first_shipped.entry, &b.id)));
    Ok(recipients)
}

/// A recipient as the answer shows it, with the roles it held when it first received (or, not
/// yet received, was first shipped) traced goods.
fn recipient_view(
    reader: &StateReader<'_>,
    id: &str,
    to: ShippedTo<'_>,
) -> Result<RecipientView, TraceError> {
    let actor = reader.actor(id)?;
    let t = to.received.map_or(to.first.event_time_ms, |r| r.1);
    let mut roles: Vec<String> = actor
        .as_ref()
        .map(|a| {
            a.roles
                .iter()
                .filter(|r| r.span.covers(t))
                .map(|r| r.role.clone())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    roles.dedup();
    Ok(RecipientView {
        id: id.to_owned(),
        name: actor.as_ref().map(|a| a.name.clone()),
        country: actor.as_ref().map(|a| a.country.clone()),
        roles,
        first_shipped: At::new(to.first.entry, to.first.event_time_ms),
        first_received: to.received.map(|(i, t)| At::new(i, t)),
        shipments: to.entries,
    })
}

#[cfg(test)]
mod tests;
