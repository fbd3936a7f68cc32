//! Units in the trace: each unit's membership timeline, rebuilt from its own entries, and the
//! spans during which it carried traced goods, a least fixpoint over nested units; then the
//! packing edges into the units that carried.

use std::collections::{BTreeMap, VecDeque};

use super::walk::Walk;
use super::{Edge, Link, Pack, Span, TraceError};
use crate::state::{Effect, LotRecord};
use crate::store::StoreError;

/// What one unit's own entries say about its packing.
#[derive(Debug, Default)]
pub(super) struct UnitInfo {
    pub(super) lot: Option<LotRecord>,
    /// Direct children over time: child → spans while it was packed in this unit.
    members: BTreeMap<String, Vec<Span>>,
    /// Units this one was packed into: `(unit, packing entry)`.
    packed_into: Vec<(String, u64)>,
    pub(super) carrying: Vec<Span>,
}

/// The units reached so far by key, and those whose spans must be recomputed.
struct Units<'t> {
    traced: &'t BTreeMap<String, LotRecord>,
    info: BTreeMap<String, UnitInfo>,
    work: VecDeque<String>,
}

impl Units<'_> {
    /// Queues unit `u` for its spans, reading its timeline the first time.
    fn discover(&mut self, w: &mut Walk<'_, '_>, u: &str) -> Result<(), TraceError> {
        if self.traced.contains_key(u) {
            // A start unit is in the trace throughout already.
            return Ok(());
        }
        if !self.info.contains_key(u) {
            w.count_node()?;
            let info = unit_info(w, u)?;
            self.info.insert(u.to_owned(), info);
        }
        self.work.push_back(u.to_owned());
        Ok(())
    }

    /// The spans during which `info`'s unit carried traced goods, as its children's now stand.
    fn carried(&self, info: &UnitInfo) -> Vec<Span> {
        let mut spans = Vec::new();
        for (child, member) in &info.members {
            if self.traced.contains_key(child) {
                spans.extend(member.iter().copied());
            } else if let Some(c) = self.info.get(child) {
                spans.extend(intersect(member, &c.carrying));
            }
        }
        normalise(spans)
    }
}

/// The units traced goods were packed into, directly or in other units, each with the spans
/// during which it carried them: to a fixpoint, since a unit's spans only grow as its
/// children's do.
pub(super) fn carrying_units(
    w: &mut Walk<'_, '_>,
    traced: &BTreeMap<String, LotRecord>,
    packs: &[Pack],
) -> Result<BTreeMap<String, UnitInfo>, TraceError> {
    let mut units = Units {
        traced,
        info: BTreeMap::new(),
        work: VecDeque::new(),
    };
    for p in packs {
        units.discover(w, &p.unit)?;
    }
    while let Some(u) = units.work.pop_front() {
        let Some(info) = units.info.get(&u) else {
            continue;
        };
        let spans = units.carried(info);
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
        if let Some(info) = units.info.get_mut(&u) {
            info.carrying = spans;
        }
        for v in targets {
            units.discover(w, &v)?;
        }
    }
    Ok(units.info)
}

/// Packing edges: a traced key into a unit always counts; a unit into a unit only if it
/// carried traced goods while inside.
pub(super) fn packing_edges(
    w: &Walk<'_, '_>,
    traced: &BTreeMap<String, LotRecord>,
    units: &BTreeMap<String, UnitInfo>,
    packs: &[Pack],
) -> Result<Vec<Edge>, TraceError> {
    let mut edges = Vec::new();
    for p in packs {
        let into_trace = units.get(&p.unit).is_some_and(|x| !x.carrying.is_empty());
        if into_trace || traced.contains_key(&p.unit) {
            edges.push(pack_edge(w, &p.key, &p.unit, p.entry)?);
        }
    }
    for (c, info) in units {
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
                edges.push(pack_edge(w, c, v, *at)?);
            }
        }
    }
    Ok(edges)
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
