//! The lot graph of a history: every lot, item and unit the acting events created, what each
//! was made from or holds, and the part of it that is the subject's history.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::claims::LotNode;
use crate::parsed::Parsed;
use crate::registry::Registry;
use lotline_profile::plausibility::{self, method_rank};
use lotline_profile::profile::{Action, Harvest, IdClass, Ident, Transform};

/// The lots, items and units the acting events created, as the rules built them.
#[derive(Default)]
pub(super) struct LotGraph {
    /// By canonical key.
    pub nodes: HashMap<String, LotNode>,
    /// The units each key was packed in.
    pub packed_in: HashMap<String, BTreeSet<String>>,
    /// What whole items weigh, for transformations that name them without a quantity.
    pub masses: HashMap<String, i64>,
}

impl LotGraph {
    /// The graph the acting entries (in log order) make, with every unit described by what
    /// was packed in it.
    pub fn build(acting: &[&Parsed<'_>], registry: &Registry) -> LotGraph {
        let mut graph = LotGraph::default();
        for p in acting {
            let at = p.entry.index;
            let by = registry.owner(&p.entry.signer).unwrap_or_default();
            match &p.doc.action {
                Action::Harvest(h) => graph.harvest(h, at, by),
                Action::Transform(t) => graph.transform(t, at, by),
                Action::Pack { parent, children } => graph.pack(parent, children, at, by),
                _ => {}
            }
        }
        graph.describe_units();
        graph
    }

    /// A harvest creates its lots: the harvested product of its crop, with its growing method.
    fn harvest(&mut self, h: &Harvest, at: u64, by: &str) {
        for (id, mg) in &h.lots {
            self.masses.insert(id.key.clone(), *mg);
            self.nodes.insert(
                id.key.clone(),
                LotNode {
                    key: id.key.clone(),
                    id: id.urn.clone(),
                    class: id.class,
                    product: Some(plausibility::harvested_product(&h.crop)),
                    crop: Some(h.crop.clone()),
                    growing_method: Some(h.growing_method.clone()),
                    created_at: at,
                    created_by: by.to_owned(),
                    inputs: Vec::new(),
                    carrier: false,
                },
            );
        }
    }

    /// A transformation creates its outputs from its inputs: each output has its own product
    /// or else the one product of the inputs, their one crop, and the lowest of their growing
    /// methods (an unknown input counts as conventional).
    fn transform(&mut self, t: &Transform, at: u64, by: &str) {
        let ins: Vec<Option<&LotNode>> =
            t.inputs.iter().map(|l| self.nodes.get(&l.id.key)).collect();
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
            self.masses.insert(o.id.key.clone(), o.mass_mg);
            self.nodes.insert(
                o.id.key.clone(),
                LotNode {
                    key: o.id.key.clone(),
                    id: o.id.urn.clone(),
                    class: o.id.class,
                    product: o.product.clone().or_else(|| in_product.clone()),
                    crop: crop.clone(),
                    growing_method: method.clone(),
                    created_at: at,
                    created_by: by.to_owned(),
                    inputs: input_keys.clone(),
                    carrier: false,
                },
            );
        }
    }

    /// Packing creates the unit on its first use and adds the children to what it holds.
    fn pack(&mut self, parent: &Ident, children: &[Arc<Ident>], at: u64, by: &str) {
        let unit = self
            .nodes
            .entry(parent.key.clone())
            .or_insert_with(|| LotNode {
                key: parent.key.clone(),
                id: parent.urn.clone(),
                class: parent.class,
                product: None,
                crop: None,
                growing_method: None,
                created_at: at,
                created_by: by.to_owned(),
                inputs: Vec::new(),
                carrier: false,
            });
        for c in children {
            if !unit.inputs.contains(&c.key) {
                unit.inputs.push(c.key.clone());
            }
            self.packed_in
                .entry(c.key.clone())
                .or_default()
                .insert(parent.key.clone());
        }
    }

    /// Describes every unit by what was packed in it, inner units first.
    fn describe_units(&mut self) {
        let mut units: Vec<(u64, String)> = self
            .nodes
            .values()
            .filter(|n| n.class == IdClass::Unit)
            .map(|n| (n.created_at, n.key.clone()))
            .collect();
        units.sort();
        let mut done: HashSet<String> = HashSet::new();
        for (_, key) in units {
            describe_unit(&key, &mut self.nodes, &mut done);
        }
    }
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

/// The part of the graph that is the subject's history.
pub(super) struct History {
    /// The subject and what it was made from, down to the harvests.
    pub upstream: BTreeSet<String>,
    /// The units any of those were packed in, and the units those were packed in.
    pub carriers: BTreeSet<String>,
}

impl History {
    /// Walks the graph from `subject` down its inputs, then up the units they travelled in.
    pub fn trace(subject: &str, graph: &LotGraph) -> History {
        let mut upstream: BTreeSet<String> = BTreeSet::new();
        let mut todo = vec![subject.to_owned()];
        while let Some(k) = todo.pop() {
            if !upstream.insert(k.clone()) {
                continue;
            }
            if let Some(n) = graph.nodes.get(&k) {
                todo.extend(n.inputs.iter().cloned());
            }
        }
        let mut carriers: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = upstream.iter().cloned().collect();
        while let Some(k) = todo.pop() {
            for p in graph.packed_in.get(&k).into_iter().flatten() {
                if !upstream.contains(p) && carriers.insert(p.clone()) {
                    todo.push(p.clone());
                }
            }
        }
        History { upstream, carriers }
    }

    /// Whether `key` is part of the history: upstream, or a carrier of it.
    pub fn contains(&self, key: &str) -> bool {
        self.upstream.contains(key) || self.carriers.contains(key)
    }

    /// The history's lots, items and units, carriers marked, by creating entry, then key.
    pub fn lots(&self, graph: &LotGraph) -> Vec<LotNode> {
        let mut lots: Vec<LotNode> = self
            .upstream
            .iter()
            .chain(self.carriers.iter())
            .filter_map(|k| graph.nodes.get(k))
            .map(|n| LotNode {
                carrier: self.carriers.contains(&n.key),
                ..n.clone()
            })
            .collect();
        lots.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
        lots
    }
}
