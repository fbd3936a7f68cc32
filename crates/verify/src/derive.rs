//! Claims derived from a lot's entries: which lots it was made from, where they grew, who held
//! them and in what order, and what looks implausible.
//!
//! Pure and deterministic: every list has a defined order, so the server's claims and a
//! verifier's recomputation compare equal exactly when they come from the same entries.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::organic::{self, CertClaim, Handled, Verdict};
use super::verify::Registry;
use lotline_profile::entry::Entry;
use lotline_profile::plausibility::{self, method_rank};
use lotline_profile::profile::{Action, Document, IdClass, Kind};
use lotline_profile::records::{Bounds, Flag, kg};

/// One entry ready for derivation: the entry and its interpreted event.
pub struct Parsed<'a> {
    pub entry: &'a Entry,
    pub doc: &'a Document,
}

/// What a bundle claims about its subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Claims {
    /// The subject, the lots it was made from, and the units they travelled in; by creating
    /// entry, then key.
    pub lots: Vec<LotNode>,
    /// Farms the upstream harvests came from, by id.
    pub farms: Vec<FarmClaim>,
    /// The harvests: plot, coordinates, dates; by entry.
    pub plots: Vec<PlotClaim>,
    /// Who held the goods, in order: consecutive events by one actor form one step.
    pub custody: Vec<CustodyStep>,
    /// Every event of the history, by event time (ties by entry index).
    pub timeline: Vec<TimelineItem>,
    /// Plausibility flags of the harvests and transformations upstream, by entry.
    pub flags: Vec<Flag>,
    /// The certificates of the farms and handlers, as their certification entries made them.
    #[serde(default)]
    pub certificates: Vec<CertClaim>,
    /// Organic status derived from the history and the certificates, with every check.
    #[serde(default)]
    pub organic: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LotNode {
    pub key: String,
    pub id: String,
    pub class: IdClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growing_method: Option<String>,
    /// The entry that created it.
    pub created_at: u64,
    pub created_by: String,
    /// What it was made from, or what was packed in it (canonical keys).
    pub inputs: Vec<String>,
    /// A logistic unit the subject or its inputs travelled in, rather than something the
    /// subject was made from.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub carrier: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FarmClaim {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlotClaim {
    pub farm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub farm_name: Option<String>,
    pub plot_id: String,
    pub province: String,
    pub area_hectares: f64,
    /// GeoJSON geometry (coordinates are `[longitude, latitude]`).
    pub geo: Value,
    pub crop: String,
    pub harvest_start: String,
    pub harvest_end: String,
    pub growing_method: String,
    /// Harvested mass in kilograms.
    pub harvested_kg: f64,
    /// The harvest entry.
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustodyStep {
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The roles it acted in, comma-separated.
    pub role: String,
    /// Event time of its first and last event in this step.
    pub from: String,
    pub until: String,
    pub entries: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimelineItem {
    pub index: u64,
    #[serde(rename = "eventID", default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub event_time: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_step: Option<String>,
    /// The acting actor, when the signer's key belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub signer: String,
    /// The lots, items and units of the history this event names.
    pub lots: Vec<String>,
    /// What happened, in words.
    pub what: String,
}

/// Derives the claims about `subject` (a canonical key) from `entries` (any order), with the
/// actors of `registry`.
pub fn derive(
    subject: &str,
    entries: &[Parsed<'_>],
    registry: &Registry,
    bounds: &Bounds,
) -> Claims {
    let mut sorted: Vec<&Parsed<'_>> = entries.iter().collect();
    sorted.sort_by_key(|p| p.entry.index);

    // An error declaration voids the earlier entry with its eventID; neither acts on goods.
    let declared: HashSet<&str> = sorted
        .iter()
        .filter(|p| p.doc.declares_error)
        .filter_map(|p| p.entry.event_id())
        .collect();
    let acting: Vec<&Parsed<'_>> = sorted
        .into_iter()
        .filter(|p| {
            !p.doc.kind.is_registrar()
                && !p.doc.declares_error
                && !p.entry.event_id().is_some_and(|id| declared.contains(id))
        })
        .collect();

    let actor_of = |p: &Parsed<'_>| registry.owner(&p.entry.signer).map(str::to_owned);

    // The lot graph, in log order, as the rules built it.
    let mut nodes: HashMap<String, LotNode> = HashMap::new();
    let mut packed_in: HashMap<String, BTreeSet<String>> = HashMap::new();
    // What whole items weigh, for transformations that name them without a quantity.
    let mut masses: HashMap<String, i64> = HashMap::new();
    for p in &acting {
        let at = p.entry.index;
        let by = actor_of(p).unwrap_or_default();
        match &p.doc.action {
            Action::Harvest(h) => {
                for (id, mg) in &h.lots {
                    masses.insert(id.key.clone(), *mg);
                    nodes.insert(
                        id.key.clone(),
                        LotNode {
                            key: id.key.clone(),
                            id: id.urn.clone(),
                            class: id.class,
                            product: Some(plausibility::harvested_product(&h.crop)),
                            crop: Some(h.crop.clone()),
                            growing_method: Some(h.growing_method.clone()),
                            created_at: at,
                            created_by: by.clone(),
                            inputs: Vec::new(),
                            carrier: false,
                        },
                    );
                }
            }
            Action::Transform(t) => {
                let ins: Vec<Option<&LotNode>> =
                    t.inputs.iter().map(|l| nodes.get(&l.id.key)).collect();
                let common = |f: &dyn Fn(&LotNode) -> Option<String>| -> Option<String> {
                    let mut vals = ins.iter().map(|n| n.and_then(f));
                    let first = vals.next().flatten()?;
                    vals.all(|v| v.as_deref() == Some(first.as_str()))
                        .then_some(first)
                };
                let in_product = common(&|n| n.product.clone());
                let crop = common(&|n| n.crop.clone());
                let method = ins
                    .iter()
                    .map(|n| {
                        n.and_then(|n| n.growing_method.clone())
                            .unwrap_or_else(|| "conventional".into())
                    })
                    .min_by_key(|m| method_rank(m));
                let input_keys: Vec<String> = t.inputs.iter().map(|l| l.id.key.clone()).collect();
                for o in &t.outputs {
                    masses.insert(o.id.key.clone(), o.mass_mg);
                    nodes.insert(
                        o.id.key.clone(),
                        LotNode {
                            key: o.id.key.clone(),
                            id: o.id.urn.clone(),
                            class: o.id.class,
                            product: o.product.clone().or_else(|| in_product.clone()),
                            crop: crop.clone(),
                            growing_method: method.clone(),
                            created_at: at,
                            created_by: by.clone(),
                            inputs: input_keys.clone(),
                            carrier: false,
                        },
                    );
                }
            }
            Action::Pack { parent, children } => {
                let unit = nodes.entry(parent.key.clone()).or_insert_with(|| LotNode {
                    key: parent.key.clone(),
                    id: parent.urn.clone(),
                    class: parent.class,
                    product: None,
                    crop: None,
                    growing_method: None,
                    created_at: at,
                    created_by: by.clone(),
                    inputs: Vec::new(),
                    carrier: false,
                });
                for c in children {
                    if !unit.inputs.contains(&c.key) {
                        unit.inputs.push(c.key.clone());
                    }
                    packed_in
                        .entry(c.key.clone())
                        .or_default()
                        .insert(parent.key.clone());
                }
            }
            _ => {}
        }
    }
    // A unit is described by what was packed in it, inner units first.
    let mut units: Vec<(u64, String)> = nodes
        .values()
        .filter(|n| n.class == IdClass::Unit)
        .map(|n| (n.created_at, n.key.clone()))
        .collect();
    units.sort();
    let mut done: HashSet<String> = HashSet::new();
    for (_, key) in units {
        describe_unit(&key, &mut nodes, &mut done);
    }

    // Upstream: what the subject was made from, down to the harvests.
    let mut upstream: BTreeSet<String> = BTreeSet::new();
    let mut todo = vec![subject.to_owned()];
    while let Some(k) = todo.pop() {
        if !upstream.insert(k.clone()) {
            continue;
        }
        if let Some(n) = nodes.get(&k) {
            todo.extend(n.inputs.iter().cloned());
        }
    }
    // Carriers: the units any of those were packed in, and the units those were packed in.
    let mut carriers: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = upstream.iter().cloned().collect();
    while let Some(k) = todo.pop() {
        for p in packed_in.get(&k).into_iter().flatten() {
            if !upstream.contains(p) && carriers.insert(p.clone()) {
                todo.push(p.clone());
            }
        }
    }
    let history: HashSet<&str> = upstream
        .iter()
        .chain(carriers.iter())
        .map(String::as_str)
        .collect();

    let mut lots: Vec<LotNode> = upstream
        .iter()
        .chain(carriers.iter())
        .filter_map(|k| nodes.get(k))
        .map(|n| LotNode {
            carrier: carriers.contains(&n.key),
            ..n.clone()
        })
        .collect();
    lots.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));

    // The events of the history.
    let mut relevant: Vec<(&Parsed<'_>, Vec<String>)> = Vec::new();
    for p in &acting {
        let mut named: Vec<String> = Vec::new();
        for id in p.doc.identifiers() {
            if history.contains(id.key.as_str()) && !named.contains(&id.key) {
                named.push(id.key.clone());
            }
        }
        if !named.is_empty() {
            relevant.push((p, named));
        }
    }
    relevant.sort_by_key(|(p, _)| (p.doc.event_time_ms, p.entry.index));

    let name_of = |id: &str| registry.actor(id).map(|a| a.name.clone());
    let mut timeline = Vec::with_capacity(relevant.len());
    let mut flags: Vec<Flag> = Vec::new();
    let mut plots: Vec<PlotClaim> = Vec::new();
    let mut farms: BTreeMap<String, FarmClaim> = BTreeMap::new();
    for (p, named) in &relevant {
        let at = p.entry.index;
        let actor = actor_of(p);
        let role = actor.as_deref().and_then(|a| {
            registry
                .actor(a)
                .and_then(|r| r.role_at(p.doc.kind.roles(), p.doc.event_time_ms))
                .map(str::to_owned)
        });
        let flag = |(code, message): (&'static str, String)| Flag {
            code: code.into(),
            message,
            index: at,
        };
        match &p.doc.action {
            Action::Harvest(h) if h.lots.iter().any(|(id, _)| upstream.contains(&id.key)) => {
                flags.extend(plausibility::harvest(h, bounds).into_iter().map(flag));
                let farm = registry.actor(&h.farm);
                farms.insert(
                    h.farm.clone(),
                    FarmClaim {
                        id: h.farm.clone(),
                        name: farm.map(|f| f.name.clone()),
                        province: farm.and_then(|f| f.province.clone()),
                    },
                );
                plots.push(PlotClaim {
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
                });
            }
            Action::Transform(t) if t.outputs.iter().any(|o| upstream.contains(&o.id.key)) => {
                let product = |k: &str| nodes.get(k).and_then(|n| n.product.as_deref());
                let ins: Vec<(Option<&str>, i64)> = t
                    .inputs
                    .iter()
                    .map(|l| {
                        let mass = l.mass_mg.or_else(|| masses.get(&l.id.key).copied());
                        (product(&l.id.key), mass.unwrap_or(0))
                    })
                    .collect();
                let outs: Vec<(Option<&str>, i64)> = t
                    .outputs
                    .iter()
                    .map(|o| (product(&o.id.key), o.mass_mg))
                    .collect();
                flags.extend(
                    plausibility::transformation(p.doc.kind, &ins, &outs, bounds)
                        .into_iter()
                        .map(flag),
                );
            }
            _ => {}
        }
        timeline.push(TimelineItem {
            index: at,
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
            lots: named.clone(),
            what: describe(p.doc, &name_of),
        });
    }
    // By entry; within one, in the order the rules raise them.
    flags.sort_by_key(|f| f.index);

    let mut custody: Vec<CustodyStep> = Vec::new();
    for t in &timeline {
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

    let harvest_times: HashMap<u64, i64> = relevant
        .iter()
        .filter(|(p, _)| p.doc.kind == Kind::Harvest)
        .map(|(p, _)| (p.entry.index, p.doc.event_time_ms))
        .collect();
    // Which events handled the goods on their way to the subject, and so need a certificate:
    // - events naming a lot the subject was made from, up to the transformation that consumed it
    //   into the next lot on the way (what happened to the rest of it later is not this
    //   subject's history);
    // - events naming a unit while it carried such goods (a reused pallet's other journeys
    //   are not).
    let mut consumed_at: HashMap<&str, u64> = HashMap::new();
    for n in nodes.values() {
        if upstream.contains(&n.key) && n.class != IdClass::Unit {
            for i in &n.inputs {
                let at = consumed_at.entry(i.as_str()).or_insert(n.created_at);
                *at = (*at).min(n.created_at);
            }
        }
    }
    let mut inside: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut carrying: HashSet<u64> = HashSet::new();
    for p in &acting {
        if p.doc
            .identifiers()
            .iter()
            .any(|id| carriers.contains(&id.key) && carries(&id.key, &inside, &upstream, 0))
        {
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
    let handled: Vec<Handled<'_>> = relevant
        .iter()
        .zip(&timeline)
        .filter(|((p, named), _)| {
            let at = p.entry.index;
            carrying.contains(&at)
                || named.iter().any(|k| {
                    upstream.contains(k)
                        && consumed_at.get(k.as_str()).is_none_or(|&until| at <= until)
                })
        })
        .map(|((p, _), item)| Handled {
            item,
            kind: p.doc.kind,
            time_ms: p.doc.event_time_ms,
        })
        .collect();
    let organic = organic::evaluate(&lots, &plots, &handled, &harvest_times, registry);

    Claims {
        lots,
        farms: farms.into_values().collect(),
        plots,
        custody,
        timeline,
        flags,
        certificates: organic::certificates(registry),
        organic,
    }
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

/// Sets a unit's product and crop (the one product and crop of its contents, if one) and
/// growing method (the lowest of its contents'), describing units packed in it first.
fn describe_unit(key: &str, nodes: &mut HashMap<String, LotNode>, done: &mut HashSet<String>) {
    if !done.insert(key.to_owned()) {
        return;
    }
    let Some(children) = nodes.get(key).map(|n| n.inputs.clone()) else {
        return;
    };
    for c in &children {
        if nodes.get(c).is_some_and(|n| n.class == IdClass::Unit) {
            describe_unit(c, nodes, done);
        }
    }
    let (products, methods): (BTreeSet<Option<String>>, Vec<String>) = children
        .iter()
        .filter_map(|c| nodes.get(c))
        .map(|c| {
            (
                c.product.clone(),
                c.growing_method
                    .clone()
                    .unwrap_or_else(|| "conventional".into()),
            )
        })
        .unzip();
    let crops: BTreeSet<Option<String>> = children
        .iter()
        .filter_map(|c| nodes.get(c))
        .map(|c| c.crop.clone())
        .collect();
    if let Some(unit) = nodes.get_mut(key) {
        unit.crop = if crops.len() == 1 {
            crops.into_iter().next().flatten()
        } else {
            None
        };
        unit.product = if products.len() == 1 {
            products.into_iter().next().flatten()
        } else {
            None
        };
        unit.growing_method = methods.into_iter().min_by_key(|m| method_rank(m));
    }
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
    match &doc.action {
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
        Action::Registrar(_) => doc.kind.name().to_owned(),
        Action::Certification(c) => format!("{} of {}", doc.kind.name(), c.id()),
    }
}
