//! Shipments in the trace: the shipping entries that moved traced goods, each line with the
//! receipts that took it in (matched to shipments first in, first out per key, sender and
//! receiver).

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::units::UnitInfo;
use super::walk::Walk;
use super::{Node, ShipLine, Shipment, TraceError};
use crate::state::{Effect, LotRecord, Place};
use lotline_profile::profile::IdClass;

/// One `Move` of a node's key between its sender and receiver.
struct Movement<'m> {
    entry: u64,
    event_time_ms: i64,
    from: &'m str,
    to: &'m str,
    amount: i64,
    /// What was packed in it, for a unit.
    contents: &'m [String],
}

/// Shipments of one node's key not yet fully received, per (from, to), oldest first:
/// (entry, amount still in transit).
type Pending = HashMap<(String, String), VecDeque<(u64, i64)>>;

/// The traced goods and units, and the shipments found so far by entry.
struct Finder<'c> {
    traced: &'c BTreeMap<String, LotRecord>,
    units: &'c BTreeMap<String, UnitInfo>,
    out: BTreeMap<u64, Shipment>,
}

/// The shipping entries that moved traced goods, with their receipts, in log order.
pub(super) fn shipments(
    w: &mut Walk<'_, '_>,
    nodes: &[Node],
    traced: &BTreeMap<String, LotRecord>,
    units: &BTreeMap<String, UnitInfo>,
) -> Result<Vec<Shipment>, TraceError> {
    let mut f = Finder {
        traced,
        units,
        out: BTreeMap::new(),
    };
    for n in nodes {
        f.node(w, n)?;
    }
    let mut list: Vec<Shipment> = f.out.into_values().collect();
    for s in &mut list {
        s.lines.sort_by(|a, b| a.key.cmp(&b.key));
        s.receipts.sort_unstable();
    }
    Ok(list)
}

impl Finder<'_> {
    /// The shipments and receipts of node `n`'s own key, in log order.
    fn node(&mut self, w: &mut Walk<'_, '_>, n: &Node) -> Result<(), TraceError> {
        let mut pending = Pending::new();
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
                        self.shipped(
                            n,
                            &Movement {
                                entry: i,
                                event_time_ms: m.event_time_ms,
                                from: a,
                                to: b,
                                amount: *amount,
                                contents,
                            },
                        );
                    }
                    (Place::Transit { from: a, to: b }, Place::Held { actor }) if actor == b => {
                        if let Some(q) = pending.get_mut(&(a.clone(), b.clone())) {
                            self.received(n, i, m.event_time_ms, q, *amount);
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn carrying_at(&self, k: &str, i: u64) -> bool {
        self.units
            .get(k)
            .is_some_and(|u| u.carrying.iter().any(|s| s.covers(i)))
    }

    /// Node `n`'s key shipped: a line of the shipment, if it moved goods traced at that moment.
    fn shipped(&mut self, n: &Node, mv: &Movement<'_>) {
        let mut carried: Vec<String> = Vec::new();
        if n.traced {
            carried.push(n.key.clone());
        }
        carried.extend(
            mv.contents
                .iter()
                .filter(|c| self.traced.contains_key(*c) || self.carrying_at(c, mv.entry))
                .cloned(),
        );
        // Only goods traced at this moment make the shipment part of the trace.
        if !n.traced && !mv.contents.iter().any(|c| self.traced.contains_key(c)) {
            return;
        }
        carried.sort();
        carried.dedup();
        let traced_mg = carried
            .iter()
            .filter_map(|c| self.traced.get(c))
            .filter(|l| l.class != IdClass::Unit)
            .map(|l| if l.key == n.key { mv.amount } else { l.amount })
            .sum();
        let s = self.out.entry(mv.entry).or_insert_with(|| Shipment {
            entry: mv.entry,
            event_time_ms: mv.event_time_ms,
            from: mv.from.to_owned(),
            to: mv.to.to_owned(),
            lines: Vec::new(),
            receipts: Vec::new(),
        });
        s.lines.push(ShipLine {
            key: n.key.clone(),
            class: n.lot.class,
            amount: mv.amount,
            traced: carried,
            traced_mg,
            received: 0,
        });
    }

    /// `amount` of node `n`'s key received at entry `i`: taken off the oldest shipments in
    /// `queue` first, and noted on their lines.
    fn received(
        &mut self,
        n: &Node,
        i: u64,
        event_time_ms: i64,
        queue: &mut VecDeque<(u64, i64)>,
        amount: i64,
    ) {
        let mut left = amount;
        while left > 0 {
            let Some(front) = queue.front_mut() else {
                break;
            };
            let take = front.1.min(left);
            front.1 -= take;
            left -= take;
            let shipped = front.0;
            if front.1 == 0 {
                queue.pop_front();
            }
            if let Some(s) = self.out.get_mut(&shipped)
                && let Some(l) = s.lines.iter_mut().find(|l| l.key == n.key)
            {
                l.received += take;
                if !s.receipts.iter().any(|(r, _)| *r == i) {
                    s.receipts.push((i, event_time_ms));
                }
            }
        }
    }
}
