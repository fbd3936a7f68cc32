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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use serde::Serialize;

use crate::state::query::{Scan, StateReader};
use crate::state::{Effect, EntryMeta, LotRecord, Place};
use crate::store::StoreError;
use lotline_profile::profile::{IdClass, Kind};

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

/// What one unit's own entries say about its packing.
#[derive(Debug, Default)]
struct UnitInfo {
    lot: Option<LotRecord>,
    /// Direct children over time: child → spans while it was packed in this unit.
    members: BTreeMap<String, Vec<Span>>,
    /// Units this one was packed into: `(unit, packing entry)`.
    packed_into: Vec<(String, u64)>,
    carrying: Vec<Span>,
}

type Metas = Vec<(u64, Rc<EntryMeta>)>;

struct Walk<'r, 'a> {
    reader: &'r StateReader<'a>,
    limits: Limits,
    /// Entry metadata read so far; `None` for corrected entries and corrections.
    metas: HashMap<u64, Option<Rc<EntryMeta>>>,
    rows: usize,
    nodes: usize,
    /// Every key whose entries were read, with them (live entries only, in log order).
    entries: HashMap<String, Metas>,
}

impl Walk<'_, '_> {
    fn count_node(&mut self) -> Result<(), TraceError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(TraceError::TooManyNodes(self.limits.max_nodes));
        }
        Ok(())
    }

    /// The live entries naming `key`, in log order (read once per key).
    fn entries(&mut self, key: &str) -> Result<Metas, TraceError> {
        if let Some(m) = self.entries.get(key) {
            return Ok(m.clone());
        }
        let left = self.limits.max_entries.saturating_sub(self.rows);
        if left == 0 {
            return Err(TraceError::TooManyEntries(self.limits.max_entries));
        }
        let page = self.reader.scan(
            &Scan::Ident(key.to_owned()),
            i64::MIN,
            i64::MAX,
            None,
            left,
            |_| Ok(true),
        )?;
        if page.next.is_some() {
            return Err(TraceError::TooManyEntries(self.limits.max_entries));
        }
        self.rows += page.indexes.len();
        let mut indexes = page.indexes;
        // The index orders by event time; packing timelines need the order the rules applied.
        indexes.sort_unstable();
        let mut out = Vec::with_capacity(indexes.len());
        for i in indexes {
            let meta = match self.metas.get(&i) {
                Some(m) => m.clone(),
                None => {
                    let m = self
                        .reader
                        .meta(i)?
                        .ok_or_else(|| StoreError::Corrupt(format!("entry {i} has no meta")))?;
                    let live =
                        (m.corrected_by.is_none() && m.corrects.is_none()).then(|| Rc::new(m));
                    self.metas.insert(i, live.clone());
                    live
                }
            };
            if let Some(m) = meta {
                out.push((i, m));
            }
        }
        self.entries.insert(key.to_owned(), out.clone());
        Ok(out)
    }

    fn lot(&self, key: &str) -> Result<Option<LotRecord>, TraceError> {
        Ok(self.reader.lot(key)?)
    }
}

/// Sorted, merged spans.
fn normalise(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| s.from < s.end());
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.from <= last.end() => {
                if s.end() > last.end() {
                    last.until = s.until;
                }
            }
            _ => out.push(s),
        }
    }
    out
}

fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let from = x.from.max(y.from);
            let end = x.end().min(y.end());
            if from < end {
                out.push(Span {
                    from,
                    until: (end != u64::MAX).then_some(end),
                });
            }
        }
    }
    normalise(out)
}

/// The forward closure of `starts` (canonical keys; keys not in the ledger are left out).
pub fn closure(
    reader: &StateReader<'_>,
    starts: &[String],
    limits: Limits,
) -> Result<Closure, TraceError> {
    let mut w = Walk {
        reader,
        limits,
        metas: HashMap::new(),
        rows: 0,
        nodes: 0,
        entries: HashMap::new(),
    };

    // Traced lots: the starts, then the outputs of transformations that consumed traced lots.
    let mut traced: BTreeMap<String, LotRecord> = BTreeMap::new();
    let mut found_starts: Vec<String> = Vec::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    for s in starts {
        if traced.contains_key(s) {
            continue;
        }
        if let Some(lot) = w.lot(s)? {
            w.count_node()?;
            traced.insert(s.clone(), lot);
            found_starts.push(s.clone());
            queue.push_back(s.clone());
        }
    }
    let mut edges: Vec<Edge> = Vec::new();
    // (traced key, unit, packing entry)
    let mut packs: Vec<(String, String, u64)> = Vec::new();
    while let Some(k) = queue.pop_front() {
        for (i, m) in w.entries(&k)? {
            let consumed = m
                .effects
                .iter()
                .any(|e| matches!(e, Effect::Move { key, to: Place::Consumed, .. } if *key == k));
            if consumed {
                for e in &m.effects {
                    let Effect::Create { key: out, .. } = e else {
                        continue;
                    };
                    edges.push(Edge {
                        from: k.clone(),
                        to: out.clone(),
                        entry: i,
                        kind: m.kind,
                        link: Link::Transformed,
                        event_time_ms: m.event_time_ms,
                    });
                    if !traced.contains_key(out) {
                        let lot = w.lot(out)?.ok_or_else(|| {
                            StoreError::Corrupt(format!("output {out} is missing"))
                        })?;
                        w.count_node()?;
                        traced.insert(out.clone(), lot);
                        queue.push_back(out.clone());
                    }
                }
            }
            for e in &m.effects {
                if let Effect::Parent {
                    children,
                    new: Some(unit),
                    ..
                } = e
                    && children.contains(&k)
                {
                    packs.push((k.clone(), unit.clone(), i));
                }
            }
        }
    }

    // Units: each one's membership timeline from its own entries, and the spans during which
    // it carried traced goods, to a fixpoint (a unit's spans only grow as its children's do).
    let mut units: BTreeMap<String, UnitInfo> = BTreeMap::new();
    let mut work: VecDeque<String> = VecDeque::new();
    let discover = |w: &mut Walk<'_, '_>,
                    units: &mut BTreeMap<String, UnitInfo>,
                    work: &mut VecDeque<String>,
                    u: &str|
     -> Result<(), TraceError> {
        if traced.contains_key(u) {
            // A start unit is in the trace throughout already.
            return Ok(());
        }
        if !units.contains_key(u) {
            w.count_node()?;
            let info = unit_info(w, u)?;
            units.insert(u.to_owned(), info);
        }
        work.push_back(u.to_owned());
        Ok(())
    };
    for (_, u, _) in &packs {
        discover(&mut w, &mut units, &mut work, u)?;
    }
    while let Some(u) = work.pop_front() {
        let Some(info) = units.get(&u) else { continue };
        let mut spans = Vec::new();
        for (child, member) in &info.members {
            if traced.contains_key(child) {
                spans.extend(member.iter().copied());
            } else if let Some(c) = units.get(child) {
                spans.extend(intersect(member, &c.carrying));
            }
        }
        let spans = normalise(spans);
        if spans == info.carrying {
            continue;
        }
        let targets: Vec<String> = info
            .packed_into
            .iter()
            // Only where it carried traced goods after it was packed.
            .filter(|(_, at)| spans.iter().any(|s| s.end() > *at))
            .map(|(v, _)| v.clone())
            .collect();
        if let Some(info) = units.get_mut(&u) {
            info.carrying = spans;
        }
        for v in targets {
            discover(&mut w, &mut units, &mut work, &v)?;
        }
    }

    // Packing edges: a traced key into a unit always counts; a unit into a unit only if it
    // carried traced goods while inside.
    for (k, u, i) in &packs {
        let into_trace = units.get(u).is_some_and(|x| !x.carrying.is_empty());
        if into_trace || traced.contains_key(u) {
            edges.push(pack_edge(&w, k, u, *i)?);
        }
    }
    for (c, info) in &units {
        if info.carrying.is_empty() {
            continue;
        }
        for (v, at) in &info.packed_into {
            let Some(vinfo) = units.get(v).filter(|x| !x.carrying.is_empty()) else {
                continue;
            };
            let member: Vec<Span> = vinfo
                .members
                .get(c)
                .map(|m| m.iter().filter(|s| s.from == *at).copied().collect())
                .unwrap_or_default();
            if !intersect(&member, &info.carrying).is_empty() {
                edges.push(pack_edge(&w, c, v, *at)?);
            }
        }
    }
    edges.sort_by(|a, b| (a.entry, &a.from, &a.to, a.link).cmp(&(b.entry, &b.from, &b.to, b.link)));
    edges.dedup();

    // Paths: breadth first from the starts along the edges, earliest entries first.
    let mut out_edges: HashMap<&str, Vec<&Edge>> = HashMap::new();
    for e in &edges {
        out_edges.entry(e.from.as_str()).or_default().push(e);
    }
    let mut placed: HashMap<String, (String, usize, Option<Edge>)> = HashMap::new();
    let mut bfs: VecDeque<String> = VecDeque::new();
    for s in &found_starts {
        placed.insert(s.clone(), (s.clone(), 0, None));
        bfs.push_back(s.clone());
    }
    while let Some(k) = bfs.pop_front() {
        let (start, depth) = match placed.get(&k) {
            Some((s, d, _)) => (s.clone(), *d),
            None => continue,
        };
        for e in out_edges.get(k.as_str()).into_iter().flatten() {
            if !placed.contains_key(&e.to) {
                placed.insert(e.to.clone(), (start.clone(), depth + 1, Some((*e).clone())));
                bfs.push_back(e.to.clone());
            }
        }
    }

    let mut nodes: Vec<Node> = Vec::with_capacity(traced.len() + units.len());
    for (key, lot) in traced.iter() {
        let (start, depth, via) = placed.get(key).cloned().unwrap_or((key.clone(), 0, None));
        nodes.push(Node {
            key: key.clone(),
            lot: lot.clone(),
            start,
            depth,
            via,
            traced: true,
            carrying: Vec::new(),
        });
    }
    for (key, info) in &units {
        if info.carrying.is_empty() {
            continue;
        }
        let Some(lot) = &info.lot else { continue };
        let (start, depth, via) = placed.get(key).cloned().unwrap_or((key.clone(), 0, None));
        nodes.push(Node {
            key: key.clone(),
            lot: lot.clone(),
            start,
            depth,
            via,
            traced: false,
            carrying: info.carrying.clone(),
        });
    }
    nodes.sort_by(|a, b| (a.depth, &a.key).cmp(&(b.depth, &b.key)));

    let shipments = shipments(&mut w, &nodes, &traced, &units)?;
    let index = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key.clone(), i))
        .collect();
    Ok(Closure {
        starts: found_starts,
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

fn pack_edge(w: &Walk<'_, '_>, from: &str, to: &str, at: u64) -> Result<Edge, TraceError> {
    let m = w
        .metas
        .get(&at)
        .cloned()
        .flatten()
        .ok_or_else(|| StoreError::Corrupt(format!("packing entry {at} was not read")))?;
    Ok(Edge {
        from: from.to_owned(),
        to: to.to_owned(),
        entry: at,
        kind: m.kind,
        link: Link::Packed,
        event_time_ms: m.event_time_ms,
    })
}

/// A unit's record and what its own entries say about its packing.
fn unit_info(w: &mut Walk<'_, '_>, u: &str) -> Result<UnitInfo, TraceError> {
    let mut info = UnitInfo {
        lot: w.lot(u)?,
        ..UnitInfo::default()
    };
    let mut open: BTreeMap<String, u64> = BTreeMap::new();
    for (i, m) in w.entries(u)? {
        for e in &m.effects {
            let Effect::Parent { children, old, new } = e else {
                continue;
            };
            if old.as_deref() == Some(u) {
                for c in children {
                    if let Some(from) = open.remove(c) {
                        info.members.entry(c.clone()).or_default().push(Span {
                            from,
                            until: Some(i),
                        });
                    }
                }
            }
            if new.as_deref() == Some(u) {
                for c in children {
                    open.entry(c.clone()).or_insert(i);
                }
            }
            if let Some(v) = new
                && children.iter().any(|c| c == u)
            {
                info.packed_into.push((v.clone(), i));
            }
        }
    }
    for (c, from) in open {
        info.members
            .entry(c)
            .or_default()
            .push(Span { from, until: None });
    }
    Ok(info)
}

/// The shipping entries that moved traced goods, with their receipts.
fn shipments(
    w: &mut Walk<'_, '_>,
    nodes: &[Node],
    traced: &BTreeMap<String, LotRecord>,
    units: &BTreeMap<String, UnitInfo>,
) -> Result<Vec<Shipment>, TraceError> {
    let carrying_at = |k: &str, i: u64| {
        units
            .get(k)
            .is_some_and(|u| u.carrying.iter().any(|s| s.covers(i)))
    };
    let mut out: BTreeMap<u64, Shipment> = BTreeMap::new();
    for n in nodes {
        // Shipments of this key not yet fully received, per (from, to), oldest first:
        // (entry, amount still in transit).
        let mut pending: HashMap<(String, String), VecDeque<(u64, i64)>> = HashMap::new();
        for (i, m) in w.entries(&n.key)? {
            for e in &m.effects {
                let Effect::Move {
                    key,
                    from,
                    to,
                    amount,
                    contents,
                } = e
                else {
                    continue;
                };
                if *key != n.key {
                    continue;
                }
                match (from, to) {
                    (Place::Held { actor }, Place::Transit { from: a, to: b }) if actor == a => {
                        pending
                            .entry((a.clone(), b.clone()))
                            .or_default()
                            .push_back((i, *amount));
                        let mut carried: Vec<String> = Vec::new();
                        if n.traced {
                            carried.push(n.key.clone());
                        }
                        carried.extend(
                            contents
                                .iter()
                                .filter(|c| traced.contains_key(*c) || carrying_at(c, i))
                                .cloned(),
                        );
                        // Only goods traced at this moment make the shipment part of the trace.
                        if !n.traced && !contents.iter().any(|c| traced.contains_key(c)) {
                            continue;
                        }
                        carried.sort();
                        carried.dedup();
                        let traced_mg = carried
                            .iter()
                            .filter_map(|c| traced.get(c))
                            .filter(|l| l.class != IdClass::Unit)
                            .map(|l| if l.key == n.key { *amount } else { l.amount })
                            .sum();
                        let s = out.entry(i).or_insert_with(|| Shipment {
                            entry: i,
                            event_time_ms: m.event_time_ms,
                            from: a.clone(),
                            to: b.clone(),
                            lines: Vec::new(),
                            receipts: Vec::new(),
                        });
                        s.lines.push(ShipLine {
                            key: n.key.clone(),
                            class: n.lot.class,
                            amount: *amount,
                            traced: carried,
                            traced_mg,
                            received: 0,
                        });
                    }
                    (Place::Transit { from: a, to: b }, Place::Held { actor }) if actor == b => {
                        let mut left = *amount;
                        let Some(q) = pending.get_mut(&(a.clone(), b.clone())) else {
                            continue;
                        };
                        while left > 0 {
                            let Some(front) = q.front_mut() else { break };
                            let take = front.1.min(left);
                            front.1 -= take;
                            left -= take;
                            let shipped = front.0;
                            if front.1 == 0 {
                                q.pop_front();
                            }
                            if let Some(s) = out.get_mut(&shipped)
                                && let Some(l) = s.lines.iter_mut().find(|l| l.key == n.key)
                            {
                                l.received += take;
                                if !s.receipts.iter().any(|(r, _)| *r == i) {
                                    s.receipts.push((i, m.event_time_ms));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let mut list: Vec<Shipment> = out.into_values().collect();
    for s in &mut list {
        s.lines.sort_by(|a, b| a.key.cmp(&b.key));
        s.receipts.sort_unstable();
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(from: u64, until: Option<u64>) -> Span {
        Span { from, until }
    }

    #[test]
    fn spans_merge_and_intersect() {
        assert_eq!(
            normalise(vec![
                sp(5, Some(9)),
                sp(1, Some(3)),
                sp(3, Some(4)),
                sp(8, None)
            ]),
            vec![sp(1, Some(4)), sp(5, None)]
        );
        assert_eq!(normalise(vec![sp(4, Some(4))]), vec![]);
        assert_eq!(
            intersect(&[sp(1, Some(10)), sp(20, None)], &[sp(5, Some(25))]),
            vec![sp(5, Some(10)), sp(20, Some(25))]
        );
        assert_eq!(intersect(&[sp(1, Some(5))], &[sp(5, None)]), vec![]);
        assert!(sp(3, None).covers(u64::MAX - 1) && !sp(3, Some(4)).covers(4));
    }
}
