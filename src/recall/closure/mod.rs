//! The forward closure: from a set of start keys, everything made from them, everything that
//! carried any of it, and every shipment of it.
//!
//! Lots flow forward only through transformations (a unit can be neither input nor output), so
//! the *traced* lots are the starts and, recursively, the outputs of every transformation that
//! consumed a traced lot; once made from traced goods a lot stays traced. Logistic units only
//! carry: a unit is in the trace while traced goods are packed in it, directly or in units
//! inside it. Units are packed, unpacked and repacked, so each unit's membership timeline is
//! rebuilt from its own entries (in log order, which is the order the rules applied them) and
//! the spans during which it carried traced goods are a least fixpoint over nested units. A
//! shipment is in the trace exactly when the moved key is traced or the contents its `Move`
//! effect recorded (everything packed in the unit at that moment) include a traced key.
//!
//! Every lookup is a point read (lot records, entry metadata) or a scan of one key's entries
//! in the identifier index; the log and the time index are never scanned, so the cost follows
//! the part of the graph touched, not the size of the ledger. Corrected entries and the
//! corrections that reversed them are skipped: together they did nothing.

mod shipments;
mod units;
mod walk;

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::state::query::StateReader;
use crate::state::{Effect, EntryMeta, LotRecord, Place};
use crate::store::StoreError;
use lotline_profile::profile::{IdClass, Kind};
use walk::Walk;

/// Bounds on one trace; beyond them the walk stops with an error rather than answering slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most lots, items and units reached (units looked at count, even those that turn out not
    /// to carry traced goods).
    pub max_nodes: usize,
    /// Most identifier-index rows read, over all keys.
    pub max_entries: usize,
}

/// Entries allowed per node when only a node cap is given.
pub const ENTRIES_PER_NODE: usize = 20;

impl Limits {
    /// A node cap, with an entry cap in proportion.
    pub fn nodes(max_nodes: usize) -> Limits {
        Limits {
            max_nodes,
            max_entries: max_nodes.saturating_mul(ENTRIES_PER_NODE).max(1000),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::nodes(10_000)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the downstream trace reaches more than {0} lots, items and units; ask for a larger maxNodes or trace a later lot"
    )]
    TooManyNodes(usize),
    #[error(
        "the downstream trace reads more than {0} index entries; ask for a larger maxNodes or trace a later lot"
    )]
    TooManyEntries(usize),
}

/// How a node follows from the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Link {
    /// `to` is an output of a transformation that consumed some of `from`.
    Transformed,
    /// `from` was packed into the logistic unit `to` (and carried traced goods then).
    Packed,
}

/// One recorded step of the graph: entry `entry` makes `to` follow from `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub entry: u64,
    pub kind: Kind,
    pub link: Link,
    pub event_time_ms: i64,
}

/// A span of entry indexes `[from, until)`; `until = None` while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub from: u64,
    pub until: Option<u64>,
}

impl Span {
    fn end(&self) -> u64 {
        self.until.unwrap_or(u64::MAX)
    }
    pub fn covers(&self, i: u64) -> bool {
        self.from <= i && i < self.end()
    }
}

/// A lot, item or unit in the trace.
#[derive(Debug, Clone)]
pub struct Node {
    pub key: String,
    pub lot: LotRecord,
    /// The start key its path begins at.
    pub start: String,
    /// Steps from that start (0 for a start).
    pub depth: usize,
    /// The edge it is reached by on its path from the start: fewest steps, then the earliest
    /// entry. `None` for a start.
    pub via: Option<Edge>,
    /// Traced (made from a start, or a start): always in the trace. Otherwise a unit, in the
    /// trace during `carrying`.
    pub traced: bool,
    /// For units that are not starts: the spans of entries during which traced goods were packed
    /// in it. Empty for traced nodes, which count at every entry.
    pub carrying: Vec<Span>,
}

/// One line of a shipment that moved traced goods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipLine {
    /// The key shipped: a traced lot or item, or a unit.
    pub key: String,
    pub class: IdClass,
    /// What the line moved: milligrams of a lot or item, 1 for a unit.
    pub amount: i64,
    /// Traced keys it moved: the key itself if traced, and the traced lots, items and units
    /// packed in it at the time.
    pub traced: Vec<String>,
    /// Milligrams of traced lots and items it moved, where known (packed goods move whole; a
    /// traced unit's own contents are not counted).
    pub traced_mg: i64,
    /// How much of `amount` was received so far (receipts matched to shipments first in, first
    /// out per key, sender and receiver).
    pub received: i64,
}

/// A shipping entry that moved traced goods, with the receipts that took them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub entry: u64,
    pub event_time_ms: i64,
    pub from: String,
    pub to: String,
    /// Only the lines that moved traced goods, in key order.
    pub lines: Vec<ShipLine>,
    /// Receiving entries that took in any of these lines: `(entry, event time)`, in log order.
    pub receipts: Vec<(u64, i64)>,
}

impl Shipment {
    /// Every traced line was received in full.
    pub fn received(&self) -> bool {
        self.lines.iter().all(|l| l.received >= l.amount)
    }
}

/// The forward closure of a set of start keys.
#[derive(Debug, Clone)]
pub struct Closure {
    /// The starts found in the ledger, in the order given.
    pub starts: Vec<String>,
    /// Every node, ordered by depth, then key.
    pub nodes: Vec<Node>,
    /// Every edge between two nodes, ordered by entry, then ends; a node's `via` is one of them.
    pub edges: Vec<Edge>,
    /// Shipments of traced goods, in log order.
    pub shipments: Vec<Shipment>,
    /// Distinct entries whose metadata was read.
    pub entries_read: usize,
    /// Position of each node in `nodes`, by key.
    index: HashMap<String, usize>,
    /// Event times of the live entries read.
    times: HashMap<u64, i64>,
}

impl Closure {
    pub fn node(&self, key: &str) -> Option<&Node> {
        self.index.get(key).map(|&i| &self.nodes[i])
    }

    /// The event time of entry `index`, if the walk read it (every live entry naming a node).
    pub fn event_time_ms(&self, index: u64) -> Option<i64> {
        self.times.get(&index).copied()
    }

    /// The edges from the node's start to it, in order (empty for a start or an unknown key).
    pub fn path(&self, key: &str) -> Vec<&Edge> {
        let mut out = Vec::new();
        let mut at = self.node(key);
        while let Some(n) = at {
            let Some(e) = &n.via else { break };
            out.push(e);
            at = self.node(&e.from);
            // A path is at most as long as the node list; more would be a bug, not a loop.
            if out.len() > self.nodes.len() {
                break;
            }
        }
        out.reverse();
        out
    }
}

/// The forward closure of `starts` (canonical keys; keys not in the ledger are left out).
pub fn closure(
    reader: &StateReader<'_>,
    starts: &[String],
    limits: Limits,
) -> Result<Closure, TraceError> {
    let mut w = Walk::new(reader, limits);
    let traced = traced_lots(&mut w, starts)?;
    let units = units::carrying_units(&mut w, &traced.lots, &traced.packs)?;
    let mut edges = traced.edges;
    edges.extend(units::packing_edges(
        &w,
        &traced.lots,
        &units,
        &traced.packs,
    )?);
    edges.sort_by(|a, b| (a.entry, &a.from, &a.to, a.link).cmp(&(b.entry, &b.from, &b.to, b.link)));
    edges.dedup();
    let placed = paths(&traced.starts, &edges);
    let nodes = nodes(&traced.lots, &units, &placed);
    let shipments = shipments::shipments(&mut w, &nodes, &traced.lots, &units)?;
    let index = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key.clone(), i))
        .collect();
    Ok(Closure {
        starts: traced.starts,
        nodes,
        edges,
        shipments,
        entries_read: w.metas.len(),
        index,
        times: w
            .metas
            .iter()
            .filter_map(|(i, m)| Some((*i, m.as_ref()?.event_time_ms)))
            .collect(),
    })
}

/// A traced key packed into a unit at entry `entry`.
struct Pack {
    key: String,
    unit: String,
    entry: u64,
}

/// The traced lots and what their entries showed.
#[derive(Default)]
struct Traced {
    /// Traced lots, items and units by key.
    lots: BTreeMap<String, LotRecord>,
    /// The starts found in the ledger, in the order given.
    starts: Vec<String>,
    /// Transformation edges from traced lots to their outputs.
    edges: Vec<Edge>,
    /// Packings of traced keys into units.
    packs: Vec<Pack>,
    /// Traced keys whose entries are still to read.
    queue: VecDeque<String>,
}

impl Traced {
    /// Key `key`, whose record is `lot`, is traced: counted, and its entries to read.
    fn add(&mut self, w: &mut Walk<'_, '_>, key: &str, lot: LotRecord) -> Result<(), TraceError> {
        w.count_node()?;
        self.lots.insert(key.to_owned(), lot);
        self.queue.push_back(key.to_owned());
        Ok(())
    }

    /// Entry `i` consumed traced lot `k`: every output it created follows from it, and is traced.
    fn outputs(
        &mut self,
        w: &mut Walk<'_, '_>,
        k: &str,
        i: u64,
        m: &EntryMeta,
    ) -> Result<(), TraceError> {
        for e in &m.effects {
            let Effect::Create { key: out, .. } = e else {
                continue;
            };
            self.edges.push(Edge {
                from: k.to_owned(),
                to: out.clone(),
                entry: i,
                kind: m.kind,
                link: Link::Transformed,
                event_time_ms: m.event_time_ms,
            });
            if !self.lots.contains_key(out) {
                let lot = w
                    .lot(out)?
                    .ok_or_else(|| StoreError::Corrupt(format!("output {out} is missing")))?;
                self.add(w, out, lot)?;
            }
        }
        Ok(())
    }
}

/// The traced lots: the starts, then the outputs of transformations that consumed traced lots;
/// and where traced keys were packed into units.
fn traced_lots(w: &mut Walk<'_, '_>, starts: &[String]) -> Result<Traced, TraceError> {
    let mut t = Traced::default();
    for s in starts {
        if t.lots.contains_key(s) {
            continue;
        }
        if let Some(lot) = w.lot(s)? {
            t.add(w, s, lot)?;
            t.starts.push(s.clone());
        }
    }
    while let Some(k) = t.queue.pop_front() {
        for (i, m) in w.entries(&k)? {
            let consumed = m
                .effects
                .iter()
                .any(|e| matches!(e, Effect::Move { key, to: Place::Consumed, .. } if *key == k));
            if consumed {
                t.outputs(w, &k, i, &m)?;
            }
            for e in &m.effects {
                if let Effect::Parent {
                    children,
                    new: Some(unit),
                    ..
                } = e
                    && children.contains(&k)
                {
                    t.packs.push(Pack {
                        key: k.clone(),
                        unit: unit.clone(),
                        entry: i,
                    });
                }
            }
        }
    }
    Ok(t)
}

/// Where a node sits on its path: the start it begins at, its depth, and the edge it is
/// reached by (`None` for a start).
#[derive(Clone)]
struct Position {
    start: String,
    depth: usize,
    via: Option<Edge>,
}

/// Paths: breadth first from the starts along the edges, earliest entries first.
fn paths(starts: &[String], edges: &[Edge]) -> HashMap<String, Position> {
    let mut out_edges: HashMap<&str, Vec<&Edge>> = HashMap::new();
    for e in edges {
        out_edges.entry(e.from.as_str()).or_default().push(e);
    }
    let mut placed: HashMap<String, Position> = HashMap::new();
    let mut bfs: VecDeque<String> = VecDeque::new();
    for s in starts {
        placed.insert(
            s.clone(),
            Position {
                start: s.clone(),
                depth: 0,
                via: None,
            },
        );
        bfs.push_back(s.clone());
    }
    while let Some(k) = bfs.pop_front() {
        let (start, depth) = match placed.get(&k) {
            Some(p) => (p.start.clone(), p.depth),
            None => continue,
        };
        for e in out_edges.get(k.as_str()).into_iter().flatten() {
            if !placed.contains_key(&e.to) {
                placed.insert(
                    e.to.clone(),
                    Position {
                        start: start.clone(),
                        depth: depth + 1,
                        via: Some((*e).clone()),
                    },
                );
                bfs.push_back(e.to.clone());
            }
        }
    }
    placed
}

/// The nodes: every traced key, and every unit that carried traced goods, each placed on its
/// path; ordered by depth, then key.
fn nodes(
    traced: &BTreeMap<String, LotRecord>,
    units: &BTreeMap<String, units::UnitInfo>,
    placed: &HashMap<String, Position>,
) -> Vec<Node> {
    let node = |key: &String, lot: &LotRecord, traced: bool, carrying: Vec<Span>| {
        let p = placed.get(key).cloned().unwrap_or(Position {
            start: key.clone(),
            depth: 0,
            via: None,
        });
        Node {
            key: key.clone(),
            lot: lot.clone(),
            start: p.start,
            depth: p.depth,
            via: p.via,
            traced,
            carrying,
        }
    };
    let mut nodes: Vec<Node> = Vec::with_capacity(traced.len() + units.len());
    for (key, lot) in traced {
        nodes.push(node(key, lot, true, Vec::new()));
    }
    for (key, info) in units {
        if info.carrying.is_empty() {
            continue;
        }
        let Some(lot) = &info.lot else { continue };
        nodes.push(node(key, lot, false, info.carrying.clone()));
    }
    nodes.sort_by(|a, b| (a.depth, &a.key).cmp(&(b.depth, &b.key)));
    nodes
}
