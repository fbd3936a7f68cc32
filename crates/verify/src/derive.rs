//! Claims derived from a lot's entries: which lots it was made from, where they grew, who held
//! them and in what order, and what looks implausible.
//!
//! Pure and deterministic: every list has a defined order, so the server's claims and a
//! verifier's recomputation compare equal exactly when they come from the same entries.
//!
//! [`derive`] takes the steps in order: the entries that act on goods, the lot graph they make
//! ([`graph`]), the subject's history in it, the events of that history (timeline, origins,
//! flags), custody, and the organic verdict ([`crate::organic`]) on the events that handled
//! the goods.

mod graph;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use self::graph::{History, LotGraph};
use crate::claims::{Claims, CustodyStep, FarmClaim, PlotClaim, QualityRecord, TimelineItem};
use crate::organic::{self, Handled};
use crate::parsed::Parsed;
use crate::registry::Registry;
use lotline_profile::plausibility;
use lotline_profile::profile::{Action, Document, Harvest, IdClass, Kind, Transform};
use lotline_profile::records::{Bounds, Flag, kg};

/// Derives the claims about `subject` (a canonical key) from `entries` (any order), with the
/// actors of `registry`.
pub fn derive(
    subject: &str,
    entries: &[Parsed<'_>],
    registry: &Registry,
    bounds: &Bounds,
) -> Claims {
    let acting = acting(entries);
    let graph = LotGraph::build(&acting, registry);
    let history = History::trace(subject, &graph);
    let lots = history.lots(&graph);
    let events = events(&acting, &history);
    let read = read(&events, &graph, &history, registry, bounds);
    let custody = custody(&read.timeline);
    let quality = quality(&events, &read.timeline);
    let handled = handled(&acting, &events, &read.timeline, &graph, &history);
    let organic = organic::evaluate(
        &lots,
        &read.plots,
        &handled,
        &harvest_times(&events),
        registry,
    );
    Claims {
        lots,
        farms: read.farms.into_values().collect(),
        plots: read.plots,
        custody,
        timeline: read.timeline,
        flags: read.flags,
        certificates: organic::certificates(registry),
        organic,
        quality,
    }
}

/// The events of the history that measured something, with what they found.
fn quality(events: &[Event<'_, '_>], timeline: &[TimelineItem]) -> Vec<QualityRecord> {
    events
        .iter()
        .zip(timeline)
        .filter(|(e, _)| !e.parsed.doc.measurements.is_empty())
        .map(|(e, t)| {
            let doc = e.parsed.doc;
            let (location, disposition) = match &doc.action {
                Action::Observe(o) => (o.location.clone(), o.disposition.clone()),
                _ => {
                    let ev = &e.parsed.entry.event;
                    let location = ["bizLocation", "readPoint"]
                        .iter()
                        .find_map(|k| ev.get(*k)?.get("id")?.as_str())
                        .map(str::to_owned);
                    let disposition = ev
                        .get("disposition")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    (location, disposition)
                }
            };
            QualityRecord {
                index: t.index,
                event_time: t.event_time.clone(),
                kind: t.kind.clone(),
                actor: t.actor.clone(),
                actor_name: t.actor_name.clone(),
                role: t.role.clone(),
                lots: t.lots.clone(),
                location,
                disposition,
                measurements: doc.measurements.clone(),
                findings: doc.measurements.iter().map(|m| m.describe()).collect(),
            }
        })
        .collect()
}

/// The entries that act on goods, in log order: neither registrar entries nor error
/// declarations, nor the earlier entries a declaration voids (those with its eventID).
fn acting<'p, 'a>(entries: &'p [Parsed<'a>]) -> Vec<&'p Parsed<'a>> {
    let mut sorted: Vec<&Parsed<'_>> = entries.iter().collect();
    sorted.sort_by_key(|p| p.entry.index);
    let declared: HashSet<&str> = sorted
        .iter()
        .filter(|p| p.doc.declares_error)
        .filter_map(|p| p.entry.event_id())
        .collect();
    sorted
        .iter()
        .filter(|p| {
            !p.doc.kind.is_registrar()
                && !p.doc.declares_error
                && !p.entry.event_id().is_some_and(|id| declared.contains(id))
        })
        .copied()
        .collect()
}

/// An event of the subject's history, with the keys of the history it names (in the order it
/// names them).
struct Event<'p, 'a> {
    parsed: &'p Parsed<'a>,
    named: Vec<String>,
}

/// The acting events that name a lot, item or unit of the history, by event time (ties by
/// entry index).
fn events<'p, 'a>(acting: &[&'p Parsed<'a>], history: &History) -> Vec<Event<'p, 'a>> {
    let mut events: Vec<Event<'p, 'a>> = Vec::new();
    for p in acting {
        let mut named: Vec<String> = Vec::new();
        for id in p.doc.identifiers() {
            if history.contains(&id.key) && !named.contains(&id.key) {
                named.push(id.key.clone());
            }
        }
        if !named.is_empty() {
            events.push(Event { parsed: p, named });
        }
    }
    events.sort_by_key(|e| (e.parsed.doc.event_time_ms, e.parsed.entry.index));
    events
}

/// What the events of the history say, read in timeline order.
#[derive(Default)]
struct Read {
    timeline: Vec<TimelineItem>,
    /// By entry; within one, in the order the rules raise them.
    flags: Vec<Flag>,
    /// By harvest event time.
    plots: Vec<PlotClaim>,
    /// By id.
    farms: BTreeMap<String, FarmClaim>,
}

/// Reads each event of the history: its timeline item, and for the harvests and
/// transformations upstream, their origins and plausibility flags.
fn read(
    events: &[Event<'_, '_>],
    graph: &LotGraph,
    history: &History,
    registry: &Registry,
    bounds: &Bounds,
) -> Read {
    let mut read = Read::default();
    for e in events {
        let p = e.parsed;
        let at = p.entry.index;
        let flag = |(code, message): plausibility::Finding| Flag {
            code,
            message,
            index: at,
        };
        match &p.doc.action {
            Action::Harvest(h)
                if h.lots
                    .iter()
                    .any(|(id, _)| history.upstream.contains(&id.key)) =>
            {
                read.flags
                    .extend(plausibility::harvest(h, bounds).into_iter().map(flag));
                let (farm, plot) = origin(h, at, registry);
                read.farms.insert(h.farm.clone(), farm);
                read.plots.push(plot);
            }
            Action::Transform(t)
                if t.outputs
                    .iter()
                    .any(|o| history.upstream.contains(&o.id.key)) =>
            {
                read.flags.extend(
                    transformation_flags(p.doc.kind, t, graph, bounds)
                        .into_iter()
                        .map(flag),
                );
            }
            _ => {}
        }
        read.timeline.push(timeline_item(e, registry));
    }
    // A stable sort: within an entry, the flags keep the order the rules raise them in.
    read.flags.sort_by_key(|f| f.index);
    read
}

/// The farm and plot a harvest upstream (entry `at`) claims as its origin.
fn origin(h: &Harvest, at: u64, registry: &Registry) -> (FarmClaim, PlotClaim) {
    let farm = registry.actor(&h.farm);
    let farm_claim = FarmClaim {
        id: h.farm.clone(),
        name: farm.map(|f| f.name.clone()),
        province: farm.and_then(|f| f.province.clone()),
    };
    let plot = PlotClaim {
        farm: h.farm.clone(),
        farm_name: farm.map(|f| f.name.clone()),
        plot_id: h.plot.id.clone(),
        province: h.plot.province.clone(),
        area_hectares: h.plot.area_hectares,
        geo: h.plot.geo.clone(),
        crop: h.crop.clone(),
        harvest_start: h.harvest_start.clone(),
        harvest_end: h.harvest_end.clone(),
        growing_method: h.growing_method.clone(),
        harvested_kg: h.lots.iter().map(|(_, mg)| mg).sum::<i64>() as f64 / 1e6,
        index: at,
    };
    (farm_claim, plot)
}

/// The plausibility findings of a transformation upstream: its yield, by the products of its
/// inputs and outputs as the graph knows them (an input named without a quantity weighs what
/// it was created with).
fn transformation_flags(
    kind: Kind,
    t: &Transform,
    graph: &LotGraph,
    bounds: &Bounds,
) -> Vec<plausibility::Finding> {
    let product = |k: &str| graph.nodes.get(k).and_then(|n| n.product.as_deref());
    let ins: Vec<(Option<&str>, i64)> = t
        .inputs
        .iter()
        .map(|l| {
            let mass = l.mass_mg.or_else(|| graph.masses.get(&l.id.key).copied());
            (product(&l.id.key), mass.unwrap_or(0))
        })
        .collect();
    let outs: Vec<(Option<&str>, i64)> = t
        .outputs
        .iter()
        .map(|o| (product(&o.id.key), o.mass_mg))
        .collect();
    plausibility::transformation(kind, &ins, &outs, bounds)
}

/// The timeline item of an event: when, who (the actor owning the signing key, and the role
/// it held for the event's kind at the event's time), and what, in words.
fn timeline_item(e: &Event<'_, '_>, registry: &Registry) -> TimelineItem {
    let p = e.parsed;
    let name_of = |id: &str| registry.actor(id).map(|a| a.name.clone());
    let actor = registry.owner(&p.entry.signer).map(str::to_owned);
    let role = actor.as_deref().and_then(|a| {
        registry
            .actor(a)
            .and_then(|r| r.role_at(p.doc.kind.roles(), p.doc.event_time_ms))
            .map(str::to_owned)
    });
    TimelineItem {
        index: p.entry.index,
        event_id: p.entry.event_id().map(str::to_owned),
        event_time: p
            .entry
            .event
            .get("eventTime")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        kind: p.doc.kind.name().to_owned(),
        biz_step: p.doc.biz_step.clone(),
        actor_name: actor.as_deref().and_then(name_of),
        actor,
        role,
        signer: p.entry.signer.clone(),
        lots: e.named.clone(),
        what: describe(p.doc, &name_of),
    }
}

/// Who held the goods, in order: consecutive timeline items by one actor (or, for an
/// unregistered signer, one key) form one step, with every role it acted in. A lab's or
/// certifier's inspection is not custody: they test samples of goods others hold.
fn custody(timeline: &[TimelineItem]) -> Vec<CustodyStep> {
    let mut custody: Vec<CustodyStep> = Vec::new();
    for t in timeline {
        if t.kind == Kind::Inspection.name()
            && matches!(t.role.as_deref(), Some("lab" | "certifier"))
        {
            continue;
        }
        let actor = t.actor.clone().unwrap_or_else(|| t.signer.clone());
        let role = t.role.clone().unwrap_or_default();
        match custody.last_mut() {
            Some(step) if step.actor == actor => {
                step.until = t.event_time.clone();
                step.entries.push(t.index);
                if !role.is_empty() && !step.role.split(", ").any(|r| r == role) {
                    if !step.role.is_empty() {
                        step.role.push_str(", ");
                    }
                    step.role.push_str(&role);
                }
            }
            _ => custody.push(CustodyStep {
                name: t.actor_name.clone(),
                actor,
                role,
                from: t.event_time.clone(),
                until: t.event_time.clone(),
                entries: vec![t.index],
            }),
        }
    }
    custody
}

/// The event time of each harvest of the history, by entry: when a plot had to be certified.
fn harvest_times(events: &[Event<'_, '_>]) -> HashMap<u64, i64> {
    events
        .iter()
        .filter(|e| e.parsed.doc.kind == Kind::Harvest)
        .map(|e| (e.parsed.entry.index, e.parsed.doc.event_time_ms))
        .collect()
}

/// The events that handled the goods on their way to the subject, and so need a certificate:
/// - events naming a lot the subject was made from, up to the transformation that consumed it
///   into the next lot on the way (what happened to the rest of it later is not this
///   subject's history);
/// - events naming a unit while it carried such goods (a reused pallet's other journeys
///   are not).
fn handled<'t>(
    acting: &[&Parsed<'_>],
    events: &[Event<'_, '_>],
    timeline: &'t [TimelineItem],
    graph: &LotGraph,
    history: &History,
) -> Vec<Handled<'t>> {
    let consumed_at = consumed_at(graph, history);
    let carrying = carrying(acting, history);
    events
        .iter()
        .zip(timeline)
        .filter(|(e, _)| {
            let at = e.parsed.entry.index;
            carrying.contains(&at)
                || e.named.iter().any(|k| {
                    history.upstream.contains(k)
                        && consumed_at.get(k.as_str()).is_none_or(|&until| at <= until)
                })
        })
        .map(|(e, item)| Handled {
            item,
            kind: e.parsed.doc.kind,
            time_ms: e.parsed.doc.event_time_ms,
        })
        .collect()
}

/// The entry of the first transformation that consumed each lot into a lot of the history.
fn consumed_at<'g>(graph: &'g LotGraph, history: &History) -> HashMap<&'g str, u64> {
    let mut consumed_at: HashMap<&str, u64> = HashMap::new();
    for n in graph.nodes.values() {
        if history.upstream.contains(&n.key) && n.class != IdClass::Unit {
            for i in &n.inputs {
                let at = consumed_at.entry(i.as_str()).or_insert(n.created_at);
                *at = (*at).min(n.created_at);
            }
        }
    }
    consumed_at
}

/// The acting entries that name a carrier while it holds goods of the history, replaying
/// packing and unpacking in log order.
fn carrying(acting: &[&Parsed<'_>], history: &History) -> HashSet<u64> {
    let mut inside: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut carrying: HashSet<u64> = HashSet::new();
    for p in acting {
        if p.doc.identifiers().iter().any(|id| {
            history.carriers.contains(&id.key) && carries(&id.key, &inside, &history.upstream, 0)
        }) {
            carrying.insert(p.entry.index);
        }
        match &p.doc.action {
            Action::Pack { parent, children } => {
                inside
                    .entry(parent.key.as_str())
                    .or_default()
                    .extend(children.iter().map(|c| c.key.as_str()));
            }
            Action::Unpack { parent, children } => {
                if let Some(set) = inside.get_mut(parent.key.as_str()) {
                    if children.is_empty() {
                        set.clear();
                    } else {
                        for c in children {
                            set.remove(c.key.as_str());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    carrying
}

/// Whether unit `key` holds, directly or in units packed in it, goods the subject was made
/// from (`upstream`), as packed so far (`inside`).
fn carries(
    key: &str,
    inside: &HashMap<&str, BTreeSet<&str>>,
    upstream: &BTreeSet<String>,
    depth: usize,
) -> bool {
    // Units nest a few levels (bags on pallets in a container); the bound only guards against
    // a crafted cycle.
    depth < 16
        && inside.get(key).is_some_and(|set| {
            set.iter()
                .any(|c| upstream.contains(*c) || carries(c, inside, upstream, depth + 1))
        })
}

/// One line saying what an event did.
fn describe(doc: &Document, name_of: &dyn Fn(&str) -> Option<String>) -> String {
    let party = |id: &str| name_of(id).unwrap_or_else(|| id.to_owned());
    let amount = |lines: &[lotline_profile::profile::Line]| {
        let mass: i64 = lines.iter().filter_map(|l| l.mass_mg).sum();
        let whole = lines.iter().filter(|l| l.mass_mg.is_none()).count();
        match (mass, whole) {
            (0, n) => format!("{n} tagged item(s) or unit(s)"),
            (m, 0) => kg(m),
            (m, n) => format!("{} and {n} tagged item(s) or unit(s)", kg(m)),
        }
    };
    let what = match &doc.action {
        Action::Harvest(h) => format!(
            "harvested {} of {} ({}) on plot {}, {}",
            kg(h.lots.iter().map(|(_, mg)| mg).sum()),
            h.crop,
            h.growing_method,
            h.plot.id,
            h.plot.province
        ),
        Action::Ship(m) => format!("shipped {} to {}", amount(&m.lines), party(&m.destination)),
        Action::Receive(m) => format!("received {} from {}", amount(&m.lines), party(&m.source)),
        Action::Transform(t) => {
            let out: i64 = t.outputs.iter().map(|o| o.mass_mg).sum();
            let verb = match doc.kind {
                Kind::Bagging => "bagged",
                Kind::Drying => "dried",
                Kind::Chipping => "chipped",
                Kind::StarchExtraction => "extracted starch from",
                _ => "milled",
            };
            format!(
                "{verb} {} into {} output(s) weighing {}",
                amount(&t.inputs),
                t.outputs.len(),
                kg(out)
            )
        }
        Action::Pack { parent, children } => {
            format!("packed {} item(s) into {}", children.len(), parent.urn)
        }
        Action::Unpack { parent, children } if children.is_empty() => {
            format!("unpacked everything from {}", parent.urn)
        }
        Action::Unpack { parent, children } => {
            format!("unpacked {} item(s) from {}", children.len(), parent.urn)
        }
        Action::Transaction { docs, action, .. } => {
            let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
            let verb = if action == "DELETE" {
                "unlinked"
            } else {
                "linked"
            };
            format!("{verb} business documents {}", ids.join(", "))
        }
        Action::Observe(o) => {
            let verb = if doc.kind == Kind::Inspection {
                "inspected"
            } else {
                "stored"
            };
            return format!("{verb} {}: {}", amount(&o.lines), findings(doc));
        }
        Action::Registrar(_) => doc.kind.name().to_owned(),
        Action::Certification(c) => format!("{} of {}", doc.kind.name(), c.id()),
    };
    if doc.measurements.is_empty() {
        what
    } else {
        format!("{what}; measured {}", findings(doc))
    }
}

/// An event's measurements in words, joined.
fn findings(doc: &Document) -> String {
    let all: Vec<String> = doc.measurements.iter().map(|m| m.describe()).collect();
    all.join(", ")
}
