//! The replay: the operator's entries in event-time order, each effect applied to a running
//! stock per product and organic status. Entries before the period only move the stock (that is
//! the opening stock); entries in it also count in the period's rows, leave evidence for the
//! flags, note each moment stock went below zero, and record the transformations.

use std::collections::{BTreeMap, HashMap};

use super::answer::{Mg, Part, Status, Summary, Transformation, YieldCheck};
use super::history::History;
use super::yields::{is_transformation, round4, transformation_checks};
use super::{MAX_EVIDENCE, Request};
use crate::state::{Bounds, Effect, EntryMeta, Place};
use crate::store::StoreError;
use lotline_profile::profile::{IdClass, Kind, format_time_ms};

/// What the audit needs of a lot.
pub(super) struct LotInfo {
    pub(super) class: IdClass,
    pub(super) product: u32,
    pub(super) status: Status,
    /// Its whole mass (what moves when it moves packed), in mg.
    amount: i64,
    /// What the operator holds of it in the ledger's state now.
    pub(super) held_now: i64,
}

/// Product names, interned.
#[derive(Default)]
pub(super) struct Products {
    names: Vec<String>,
    ids: Map<String, u32>,
}

impl Products {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(i) = self.ids.get(name) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), i);
        i
    }
    pub(super) fn find(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }
    pub(super) fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("unknown", String::as_str)
    }
}

/// Hash maps keyed by identifiers and small tuples: foldhash is several times faster than
/// SipHash on them, and still seeded per process.
pub(super) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A product (interned) in one organic status.
pub(super) type Key = (u32, Status);
/// A mass of goods of one key, in mg.
pub(super) type Amount = (Key, i64);

/// The period's flows of one key, in mg.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Row {
    pub(super) opening: i64,
    pub(super) received: i64,
    pub(super) harvested: i64,
    pub(super) produced_tf: i64,
    pub(super) consumed: i64,
    pub(super) shipped: i64,
}

impl Row {
    pub(super) fn closing(&self) -> i64 {
        self.opening + self.received + self.harvested + self.produced_tf
            - self.consumed
            - self.shipped
    }
    pub(super) fn is_empty(&self) -> bool {
        self.opening == 0
            && self.received == 0
            && self.harvested == 0
            && self.produced_tf == 0
            && self.consumed == 0
            && self.shipped == 0
    }
}

/// What an entry did with goods of a key, as evidence for a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Evidence {
    Produced,
    Consumed,
    Shipped,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Received,
    Harvested,
    ProducedTf,
    Consumed,
    Shipped,
}

impl Flow {
    /// How a `Move` between `from` and `to` in an entry of `kind` counts for `actor`; `None`
    /// when the goods neither leave nor reach its hands.
    fn of_move(from: &Place, to: &Place, actor: &str, kind: Kind) -> Option<Flow> {
        let tf = is_transformation(kind);
        if holds(from, actor) {
            Some(if matches!(to, Place::Consumed) {
                Flow::Consumed
            } else {
                Flow::Shipped
            })
        } else if holds(to, actor) {
            Some(match (from, tf || kind == Kind::Harvest) {
                (Place::Outside, true) if tf => Flow::ProducedTf,
                (Place::Outside, true) => Flow::Harvested,
                _ => Flow::Received,
            })
        } else {
            None
        }
    }
}

fn holds(p: &Place, actor: &str) -> bool {
    matches!(p, Place::Held { actor: a } if a == actor)
}

/// The first and the worst moment stock went below zero, for one product, status and flow.
pub(super) struct Shortfall {
    pub(super) worst: i64,
    pub(super) worst_entry: u64,
    pub(super) entries: Vec<u64>,
    pub(super) count: usize,
}

impl Shortfall {
    fn new(index: u64) -> Shortfall {
        Shortfall {
            worst: 0,
            worst_entry: index,
            entries: Vec::new(),
            count: 0,
        }
    }

    /// Entry `index` left `stock` below zero.
    fn note(&mut self, index: u64, stock: i64) {
        self.count += 1;
        if self.entries.len() < MAX_EVIDENCE {
            self.entries.push(index);
        }
        if stock < self.worst {
            self.worst = stock;
            self.worst_entry = index;
        }
    }
}

/// A transformation as the replay found it.
pub(super) struct RawTransformation {
    pub(super) entry: u64,
    time_ms: i64,
    pub(super) kind: Kind,
    pub(super) inputs: Vec<Amount>,
    pub(super) outputs: Vec<Amount>,
    pub(super) checks: Vec<YieldCheck>,
}

impl RawTransformation {
    /// The products it consumed or produced, each once.
    pub(super) fn product_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .inputs
            .iter()
            .chain(&self.outputs)
            .map(|((p, _), _)| *p)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// The goods one entry moved, by what they count as.
#[derive(Default)]
struct Moved {
    /// Consumed by a transformation.
    inputs: Vec<Amount>,
    /// Produced by a transformation.
    outputs: Vec<Amount>,
    /// Keys that left the operator's hands: `(key, shipped)` (consumed when not shipped).
    out_keys: Vec<(Key, bool)>,
}

impl Moved {
    fn record(&mut self, flow: Flow, part: Amount) {
        match flow {
            Flow::Consumed => {
                self.inputs.push(part);
                self.out_keys.push((part.0, false));
            }
            Flow::Shipped => self.out_keys.push((part.0, true)),
            Flow::ProducedTf => self.outputs.push(part),
            Flow::Received | Flow::Harvested => {}
        }
    }
}

/// The replay's state: what it read of the lots, the running stock, and what the period's
/// entries showed.
pub(super) struct Replay<'h> {
    history: &'h dyn History,
    actor: &'h str,
    pub(super) products: Products,
    /// The lots the operator's effects name, each read once.
    lot_ids: Map<String, usize>,
    pub(super) lots: Vec<LotInfo>,
    /// Running stock per key, in event-time order.
    pub(super) stock: Map<Key, i64>,
    /// The period's flows per key.
    pub(super) rows: Map<Key, Row>,
    pub(super) shortfalls: BTreeMap<(Key, bool), Shortfall>,
    /// The period's transformations, made into [`Transformation`]s only when listed.
    pub(super) transformations: Vec<RawTransformation>,
    /// Entries in the period that produced, consumed or shipped goods of each key (evidence
    /// for flags).
    pub(super) evidence: Map<(Key, Evidence), Vec<u64>>,
}

impl<'h> Replay<'h> {
    /// Replays the operator's entries up to the end of the period, leaving out registrar
    /// documents (they move no goods), entries declared erroneous and the declarations; the
    /// stock when the period starts is each row's opening.
    pub(super) fn run(
        history: &'h dyn History,
        req: &Request<'h>,
        bounds: &Bounds,
    ) -> Result<(Replay<'h>, Summary), StoreError> {
        let actor = req.operator.id.as_str();
        let mut r = Replay {
            history,
            actor,
            products: Products::default(),
            lot_ids: Map::default(),
            lots: Vec::new(),
            stock: Map::default(),
            rows: Map::default(),
            shortfalls: BTreeMap::new(),
            transformations: Vec::new(),
            evidence: Map::default(),
        };
        let mut summary = Summary::default();
        let mut opening: Option<Map<Key, i64>> = None;
        history.entries(actor, req.to_ms, &mut |index, meta| {
            if meta.kind.is_registrar() {
                return Ok(());
            }
            if meta.corrects.is_some() {
                summary.corrections_left_out += 1;
                return Ok(());
            }
            if meta.corrected_by.is_some() {
                summary.corrected_left_out += 1;
                return Ok(());
            }
            let in_period = req.from_ms.is_none_or(|f| meta.event_time_ms >= f);
            if in_period {
                if opening.is_none() {
                    opening = Some(r.stock.clone());
                }
                summary.entries_in_period += 1;
                *summary.events_by_kind.entry(meta.kind.name()).or_insert(0) += 1;
            } else {
                summary.entries_before_period += 1;
            }
            r.entry(index, &meta, in_period, bounds)
        })?;
        let opening = opening.unwrap_or_else(|| r.stock.clone());
        for (k, mg) in &opening {
            if *mg != 0 {
                r.rows.entry(*k).or_default().opening = *mg;
            }
        }
        Ok((r, summary))
    }

    fn lot(&mut self, key: &str) -> Result<&LotInfo, StoreError> {
        let i = match self.lot_ids.get(key) {
            Some(i) => *i,
            None => {
                let rec = self.history.lot(key)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("lot {key} named by an effect is missing"))
                })?;
                let info = LotInfo {
                    class: rec.class,
                    product: self
                        .products
                        .id(rec.product.as_deref().unwrap_or("unknown")),
                    status: Status::of(rec.growing_method.as_deref()),
                    amount: rec.amount,
                    held_now: rec.held.get(self.actor).copied().unwrap_or(0),
                };
                self.lot_ids.insert(key.to_owned(), self.lots.len());
                self.lots.push(info);
                self.lots.len() - 1
            }
        };
        self.lots
            .get(i)
            .ok_or_else(|| StoreError::Corrupt("lot cache".into()))
    }

    /// Applies `mg` of lot `key` flowing in or out; returns its key when it counts (logistic
    /// units themselves weigh nothing here).
    fn flow(
        &mut self,
        key: &str,
        whole: bool,
        amount: i64,
        flow: Flow,
        in_period: bool,
    ) -> Result<Option<Amount>, StoreError> {
        let lot = self.lot(key)?;
        if lot.class == IdClass::Unit {
            return Ok(None);
        }
        let k = (lot.product, lot.status);
        let mg = if whole { lot.amount } else { amount };
        let sign = match flow {
            Flow::Consumed | Flow::Shipped => -1,
            _ => 1,
        };
        *self.stock.entry(k).or_insert(0) += sign * mg;
        if in_period {
            let row = self.rows.entry(k).or_default();
            match flow {
                Flow::Received => row.received += mg,
                Flow::Harvested => row.harvested += mg,
                Flow::ProducedTf => row.produced_tf += mg,
                Flow::Consumed => row.consumed += mg,
                Flow::Shipped => row.shipped += mg,
            }
        }
        Ok(Some((k, mg)))
    }

    /// One entry: its effects applied to the stock, then, in the period, its evidence, its
    /// shortfalls and its transformation.
    fn entry(
        &mut self,
        index: u64,
        meta: &EntryMeta,
        in_period: bool,
        bounds: &Bounds,
    ) -> Result<(), StoreError> {
        let moved = self.apply(meta, in_period)?;
        if !in_period {
            return Ok(());
        }
        self.note_outflows(index, moved.out_keys);
        self.note_produced(index, &moved.outputs);
        if is_transformation(meta.kind) {
            let checks = transformation_checks(
                &self.products,
                meta.kind,
                &moved.inputs,
                &moved.outputs,
                bounds,
            );
            self.transformations.push(RawTransformation {
                entry: index,
                time_ms: meta.event_time_ms,
                kind: meta.kind,
                inputs: moved.inputs,
                outputs: moved.outputs,
                checks,
            });
        }
        Ok(())
    }

    /// Applies the entry's effects: a `Create` held by the operator is produced (harvested, or
    /// made by a transformation); a `Move` out of its hands is consumed or shipped, into them
    /// received or produced, and a unit's contents move with it, each whole.
    fn apply(&mut self, meta: &EntryMeta, in_period: bool) -> Result<Moved, StoreError> {
        let tf = is_transformation(meta.kind);
        let actor = self.actor;
        let mut moved = Moved::default();
        for e in &meta.effects {
            match e {
                Effect::Create {
                    key,
                    holder: Some(h),
                    amount,
                } if *h == actor => {
                    let flow = if tf {
                        Flow::ProducedTf
                    } else {
                        Flow::Harvested
                    };
                    if let Some(part) = self.flow(key, false, *amount, flow, in_period)? {
                        moved.record(flow, part);
                    }
                }
                Effect::Move {
                    key,
                    from,
                    to,
                    amount,
                    contents,
                } => {
                    let Some(flow) = Flow::of_move(from, to, actor, meta.kind) else {
                        continue;
                    };
                    let all =
                        std::iter::once((key, false)).chain(contents.iter().map(|c| (c, true)));
                    for (k, whole) in all {
                        if let Some(part) = self.flow(k, whole, *amount, flow, in_period)? {
                            moved.record(flow, part);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(moved)
    }

    /// Goods that left the operator's hands at entry `index`: evidence of consuming or
    /// shipping them, and a shortfall when that took the stock below zero.
    fn note_outflows(&mut self, index: u64, mut out_keys: Vec<(Key, bool)>) {
        out_keys.sort_unstable();
        out_keys.dedup();
        for (k, shipped) in out_keys {
            let kind = if shipped {
                Evidence::Shipped
            } else {
                Evidence::Consumed
            };
            self.evidence.entry((k, kind)).or_default().push(index);
            let stock = self.stock.get(&k).copied().unwrap_or(0);
            if stock < 0 {
                self.shortfalls
                    .entry((k, shipped))
                    .or_insert_with(|| Shortfall::new(index))
                    .note(index, stock);
            }
        }
    }

    /// Goods a transformation made at entry `index`: evidence of producing them.
    fn note_produced(&mut self, index: u64, outputs: &[Amount]) {
        let mut made: Vec<Key> = outputs.iter().map(|(k, _)| *k).collect();
        made.sort_unstable();
        made.dedup();
        for k in made {
            self.evidence
                .entry((k, Evidence::Produced))
                .or_default()
                .push(index);
        }
    }

    /// The period's keys, by product name, then status.
    pub(super) fn sorted_keys(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self.rows.keys().copied().collect();
        keys.sort_unstable_by(|a, b| {
            (self.products.name(a.0), a.1).cmp(&(self.products.name(b.0), b.1))
        });
        keys
    }

    /// The names of products `ids`.
    pub(super) fn names(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|k| self.products.name(*k).to_owned())
            .collect()
    }

    fn parts(&self, items: &[Amount]) -> Vec<Part> {
        let mut by: BTreeMap<(&str, Status), i64> = BTreeMap::new();
        for ((p, s), mg) in items {
            *by.entry((self.products.name(*p), *s)).or_insert(0) += mg;
        }
        by.into_iter()
            .map(|((p, s), mg)| Part {
                product: p.to_owned(),
                organic_status: s,
                kg: Mg(mg),
            })
            .collect()
    }

    /// A transformation as the answer lists it.
    pub(super) fn listed(&self, t: RawTransformation) -> Transformation {
        let input_mg: i64 = t.inputs.iter().map(|(_, mg)| mg).sum();
        let output_mg: i64 = t.outputs.iter().map(|(_, mg)| mg).sum();
        let (yield_, bounds) = match t.checks.first() {
            Some(c) => (Some(c.value), Some([c.min, c.max])),
            None if input_mg > 0 => (Some(round4(output_mg as f64 / input_mg as f64)), None),
            None => (None, None),
        };
        Transformation {
            entry: t.entry,
            event_time: format_time_ms(t.time_ms),
            kind: t.kind.name(),
            inputs: self.parts(&t.inputs),
            outputs: self.parts(&t.outputs),
            input_kg: Mg(input_mg),
            output_kg: Mg(output_mg),
            yield_,
            bounds,
            within_bounds: (!t.checks.is_empty()).then(|| t.checks.iter().all(|c| c.within)),
            checks: t.checks,
        }
    }
}
