//! The mass-balance check of one operator over a period: for every product and organic status,
//! the stock at the start, what came in (received, produced), what went out (consumed, shipped)
//! and the stock at the end; each transformation's yield against its plausibility bounds; and
//! whether the organic goods the operator produced and shipped could have come from the organic
//! goods it had. Delegated Regulation (EU) 2021/771 asks control bodies exactly this: quantities
//! bought, used, in stock and sold must reconcile.
//!
//! The source is the operator's own entries, found through the ACTOR index (every event it
//! signed), and the [`Effect`]s the rules recorded with each: a `Create` held by the operator is
//! produced (by a harvest or a transformation), a `Move` out of its hands is consumed (into a
//! transformation) or shipped, a `Move` into them is received (or produced, from outside). A
//! logistic unit weighs nothing itself: what moves with it are its contents, each by its lot's
//! mass. Entries declared erroneous and the declarations themselves are left out, exactly as the
//! rules reversed them. Opening stock replays the operator's entries before the period, so the
//! cost of an audit follows the operator's history and never the ledger's size.
//!
//! The organic status of goods is the growing method recorded on their lot (`organic`,
//! `in-conversion`, `conventional`; `unknown` when none is recorded). Transformation outputs take
//! the lowest status of their inputs, so organic goods can only be made from organic goods; what
//! the rules cannot see is a mill declaring more output than its organic input can give. That is
//! what the yield checks here are for: per transformation, and over the period for each product
//! family (milled rice from paddy, …), since a relabelling step (drying paddy into a product of
//! another name, bagging husk as rice) can hide an impossible yield from the per-event check.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize, Serializer};

use crate::state::query::{Scan, StateReader};
use crate::state::{ActorRecord, Bounds, Effect, EntryMeta, LotRecord, Place};
use crate::store::StoreError;
use lotline_profile::profile::{IdClass, Kind, format_time_ms};

/// Most transformations listed one by one; the rest count in the totals, the yield checks and
/// the flags. A narrower period lists them all.
pub const MAX_LISTED: usize = 1000;
/// Most flags of one code, and most entries cited as evidence by one flag.
pub const MAX_FLAGS_PER_CODE: usize = 200;
pub const MAX_EVIDENCE: usize = 50;

// ---- periods ----

/// Whether `s` is a product name as the profile writes them: lower case, digits and single
/// hyphens, at most 64 characters (`head-rice`, `cassava-chips`).
pub fn is_product_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

// ---- the answer ----

/// A mass kept in milligrams, written as kilograms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mg(pub i64);

impl Serialize for Mg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 1e6)
    }
}

/// Organic status of goods: their lot's recorded growing method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Organic,
    InConversion,
    Conventional,
    /// No growing method is recorded.
    Unknown,
}

impl Status {
    pub fn of(method: Option<&str>) -> Status {
        match method {
            Some("organic") => Status::Organic,
            Some("in-conversion") => Status::InConversion,
            Some("conventional") => Status::Conventional,
            _ => Status::Unknown,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Status::Organic => "organic",
            Status::InConversion => "in-conversion",
            Status::Conventional => "conventional",
            Status::Unknown => "unknown",
        }
    }
}

/// What is being audited.
pub struct Request<'a> {
    pub operator: &'a ActorRecord,
    /// Start of the period (inclusive); `None` is the beginning of the operator's history.
    pub from_ms: Option<i64>,
    /// End of the period (exclusive).
    pub to_ms: i64,
    /// Only this product's rows, transformations and flags.
    pub product: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operator {
    pub id: String,
    pub name: String,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// Roles held at the end of the period.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    /// `null`: from the beginning of the operator's history.
    pub from: Option<String>,
    /// Exclusive.
    pub to: String,
    pub from_ms: Option<i64>,
    pub to_ms: i64,
}

/// One row of the balance: a product in one organic status.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub product: String,
    pub organic_status: Status,
    pub opening_kg: Mg,
    pub received_kg: Mg,
    pub produced_kg: Mg,
    pub consumed_kg: Mg,
    pub shipped_kg: Mg,
    /// opening + received + produced − consumed − shipped.
    pub closing_kg: Mg,
    /// What the ledger's lot records say the operator holds now, when the period reaches the
    /// present (no later events of the operator); `null` otherwise.
    pub ledger_kg: Option<Mg>,
}

/// A quantity of one product in one status, inside a transformation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub product: String,
    pub organic_status: Status,
    pub kg: Mg,
}

/// One yield of a transformation against its bounds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct YieldCheck {
    /// The bound's name in the configuration (`milling_recovery`, …).
    pub bound: &'static str,
    /// What is measured, in words: `milled rice per paddy`.
    pub measure: Cow<'static, str>,
    pub output_kg: Mg,
    pub input_kg: Mg,
    pub value: f64,
    pub min: f64,
    pub max: f64,
    pub within: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transformation {
    pub entry: u64,
    pub event_time: String,
    pub kind: &'static str,
    pub inputs: Vec<Part>,
    pub outputs: Vec<Part>,
    pub input_kg: Mg,
    pub output_kg: Mg,
    /// The kind's main yield (milled rice per paddy for milling), or output per input for kinds
    /// without bounds.
    #[serde(rename = "yield")]
    pub yield_: Option<f64>,
    /// The main yield's bounds, `[min, max]`; `null` for kinds without bounds (drying, bagging).
    pub bounds: Option<[f64; 2]>,
    /// Whether every yield is within its bounds; `null` when nothing could be measured.
    pub within_bounds: Option<bool>,
    pub checks: Vec<YieldCheck>,
}

/// One input of a product family, with what the operator consumed and had of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FamilyInput {
    pub product: String,
    /// Most output per kg of this input.
    pub max_yield: f64,
    /// Consumed by transformations, less what transformations produced of it.
    pub consumed_kg: Mg,
    /// Opening stock + received + harvested − shipped: all the operator could have processed.
    pub available_kg: Mg,
}

/// The period's check of one product family in one organic status: could the operator's
/// inputs have given what it produced and shipped?
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FamilyCheck {
    /// `milled rice`, `head rice`, `cassava chips`, `cassava starch`.
    pub family: &'static str,
    pub bound: &'static str,
    pub organic_status: Status,
    pub products: &'static [&'static str],
    pub inputs: Vec<FamilyInput>,
    /// Produced by transformations, less what transformations consumed of it (re-bagging
    /// counts once).
    pub produced_kg: Mg,
    /// The most the consumed inputs can yield.
    pub max_produced_kg: Mg,
    pub shipped_kg: Mg,
    /// Opening stock and receipts of the family's products, plus the most the available inputs
    /// can yield.
    pub max_shipped_kg: Mg,
    pub within: bool,
}

/// A finding of the audit, with its numbers and the entries that show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organic_status: Option<Status>,
    /// The numbers behind the message, masses in kg (`…Kg`), yields as fractions.
    pub figures: BTreeMap<&'static str, f64>,
    /// Entry indexes that show it (at most [`MAX_EVIDENCE`]).
    pub entries: Vec<u64>,
    pub entries_total: usize,
    /// Products concerned (for the product filter).
    #[serde(skip)]
    pub products: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The operator's entries in the period, and before it (replayed for the opening stock).
    pub entries_in_period: usize,
    pub entries_before_period: usize,
    /// Entries declared erroneous, and the declarations, left out.
    pub corrected_left_out: usize,
    pub corrections_left_out: usize,
    /// Entries in the period by kind.
    pub events_by_kind: BTreeMap<&'static str, usize>,
    pub transformations: usize,
    pub transformations_listed: usize,
    pub flags: usize,
    /// Flags beyond [`MAX_FLAGS_PER_CODE`] of one code, counted but not listed.
    pub flags_not_listed: usize,
    /// Whether the closing stock was compared with the ledger's lot records.
    pub ledger_compared: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub operator: Operator,
    pub period: Period,
    pub product: Option<String>,
    pub units: &'static str,
    /// The plausibility bounds the yields are checked against.
    pub bounds: Bounds,
    pub balances: Vec<Balance>,
    pub yield_checks: Vec<FamilyCheck>,
    pub transformations: Vec<Transformation>,
    pub flags: Vec<Finding>,
    pub summary: Summary,
    /// How to read the answer.
    pub notes: &'static [&'static str],
    /// Where the pieces live in the API (set by the HTTP layer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<super::Links>,
}

const NOTES: &[&str] = &[
    "Masses are in kilograms; the ledger keeps whole milligrams.",
    "Events count by their eventTime: the period includes `from` and excludes `to`.",
    "The organic status of goods is the growing method recorded on their lot; transformation outputs take the lowest status of their inputs.",
    "received: goods shipped to the operator and received by it; produced: harvests and transformation outputs; consumed: transformation inputs; shipped: goods it shipped, with a pallet's or container's contents counted by their lots.",
    "closing = opening + received + produced − consumed − shipped; ledgerKg is what the ledger's lot records hold for the operator now, shown when the period reaches the present.",
    "Opening stock replays every event of the operator before `from`. Events declared erroneous (EPCIS errorDeclaration) and the declarations are left out, as the ledger reversed them.",
    "yieldChecks compare, over the period, each product family's output with what the organic (or in-conversion) input the operator consumed, and had, can yield at the bound's maximum.",
];

// ---- product families ----

/// How much of a family's output one kg of an input may give.
#[derive(Clone, Copy)]
enum Yield {
    /// The bound's maximum.
    Bound,
    /// As much as it weighs (sorting milled rice into head and broken rice).
    Whole,
}

/// Products made from other products, with the bound that limits the yield.
struct Family {
    name: &'static str,
    bound: &'static str,
    /// The per-transformation yield in words, and the same measured against all inputs.
    measure: &'static str,
    measure_all: &'static str,
    outputs: &'static [&'static str],
    inputs: &'static [(&'static str, Yield)],
}

const FAMILIES: &[Family] = &[
    Family {
        name: "milled rice",
        measure: "milled rice per paddy",
        measure_all: "milled rice per kg of all inputs (no paddy among them)",
        bound: "milling_recovery",
        outputs: &["head-rice", "broken-rice", "milled-rice"],
        inputs: &[("paddy", Yield::Bound)],
    },
    Family {
        name: "head rice",
        measure: "head rice per paddy",
        measure_all: "head rice per kg of all inputs (no paddy among them)",
        bound: "head_rice",
        outputs: &["head-rice"],
        inputs: &[("paddy", Yield::Bound), ("milled-rice", Yield::Whole)],
    },
    Family {
        name: "cassava chips",
        measure: "cassava chips per fresh cassava root",
        measure_all: "cassava chips per kg of all inputs (no cassava roots among them)",
        bound: "cassava_chips",
        outputs: &["cassava-chips"],
        inputs: &[("cassava-roots", Yield::Bound)],
    },
    Family {
        name: "cassava starch",
        measure: "cassava starch per fresh cassava root",
        measure_all: "cassava starch per kg of all inputs (no cassava roots among them)",
        bound: "cassava_starch",
        outputs: &["cassava-starch"],
        inputs: &[("cassava-roots", Yield::Bound)],
    },
];

fn bound_range(b: &Bounds, name: &str) -> [f64; 2] {
    match name {
        "milling_recovery" => b.milling_recovery,
        "head_rice" => b.head_rice,
        "cassava_chips" => b.cassava_chips,
        "cassava_starch" => b.cassava_starch,
        _ => [0.0, 1.0],
    }
}

/// The families whose yield each event of `kind` is checked against, as `state::plausibility`
/// checks them when the rules accept it.
fn kind_checks(kind: Kind) -> &'static [usize] {
    match kind {
        Kind::Milling => &[0, 1],
        Kind::Chipping => &[2],
        Kind::StarchExtraction => &[3],
        _ => &[],
    }
}

fn is_transformation(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Milling | Kind::Drying | Kind::Chipping | Kind::StarchExtraction | Kind::Bagging
    )
}

/// By-products, which no family's output is made of.
const BY_PRODUCTS: &[&str] = &["husk", "bran"];

/// Whether `product` is one the yield checks know: a family's input or output, or a
/// by-product. Goods of other products (intermediates such as `dried-paddy`) may be anything,
/// so they are measured as the main input of every family.
fn known_product(product: &str) -> bool {
    BY_PRODUCTS.contains(&product)
        || FAMILIES
            .iter()
            .any(|f| f.outputs.contains(&product) || f.inputs.iter().any(|(p, _)| *p == product))
}

// ---- where the history comes from ----

/// The operator's history: its entries and the lots they name. The ledger's is
/// [`LedgerHistory`]; tests give a synthetic one.
pub trait History {
    /// Calls `f` with each entry of `actor` whose event time is before `until_ms`, in
    /// event-time order (ties in log order).
    fn entries(
        &self,
        actor: &str,
        until_ms: i64,
        f: &mut dyn FnMut(u64, EntryMeta) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    fn lot(&self, key: &str) -> Result<Option<LotFacts>, StoreError>;
    /// Whether `actor` has entries at or after `from_ms`.
    fn has_later(&self, actor: &str, from_ms: i64) -> Result<bool, StoreError>;
    /// Whether `actor` recorded entries the history does not show (written while the audit
    /// ran), whose changes the lot records may already carry.
    fn grew(&self, actor: &str) -> Result<bool, StoreError>;
}

/// The ledger's state as of log size `size`: later entries are not seen.
pub struct LedgerHistory<'a> {
    pub reader: StateReader<'a>,
    pub size: u64,
}

impl History for LedgerHistory<'_> {
    fn entries(
        &self,
        actor: &str,
        until_ms: i64,
        f: &mut dyn FnMut(u64, EntryMeta) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let scan = Scan::Actor(actor.to_owned());
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page =
                self.reader
                    .scan(&scan, i64::MIN, until_ms, after.as_deref(), 4096, |i| {
                        Ok(i < self.size)
                    })?;
            for i in page.indexes {
                let mut meta = self
                    .reader
                    .meta(i)?
                    .ok_or_else(|| StoreError::Corrupt(format!("indexed entry {i} has no meta")))?;
                // A declaration written after the snapshot is not part of it.
                if meta.corrected_by.is_some_and(|c| c >= self.size) {
                    meta.corrected_by = None;
                }
                f(i, meta)?;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    fn lot(&self, key: &str) -> Result<Option<LotFacts>, StoreError> {
        self.reader.lot_as(key)
    }

    fn has_later(&self, actor: &str, from_ms: i64) -> Result<bool, StoreError> {
        let scan = Scan::Actor(actor.to_owned());
        let page = self
            .reader
            .scan(&scan, from_ms, i64::MAX, None, 1, |_| Ok(true))?;
        Ok(!page.indexes.is_empty())
    }

    fn grew(&self, actor: &str) -> Result<bool, StoreError> {
        let scan = Scan::Actor(actor.to_owned());
        let page = self
            .reader
            .scan(&scan, i64::MIN, i64::MAX, None, 1, |i| Ok(i >= self.size))?;
        Ok(!page.indexes.is_empty())
    }
}

/// What the audit reads of a lot's record ([`LotRecord`]'s members of these names).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LotFacts {
    pub class: IdClass,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub growing_method: Option<String>,
    pub amount: i64,
    #[serde(default)]
    pub held: BTreeMap<String, i64>,
}

impl From<&LotRecord> for LotFacts {
    fn from(l: &LotRecord) -> LotFacts {
        LotFacts {
            class: l.class,
            product: l.product.clone(),
            growing_method: l.growing_method.clone(),
            amount: l.amount,
            held: l.held.clone(),
        }
    }
}

// ---- the replay ----

/// What the audit needs of a lot.
struct LotInfo {
    class: IdClass,
    product: u32,
    status: Status,
    /// Its whole mass (what moves when it moves packed), in mg.
    amount: i64,
    /// What the operator holds of it in the ledger's state now.
    held_now: i64,
}

/// Product names, interned.
#[derive(Default)]
struct Products {
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
    fn find(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }
    fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("unknown", String::as_str)
    }
}

/// Hash maps keyed by identifiers and small tuples: foldhash is several times faster than
/// SipHash on them, and still seeded per process.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

type Key = (u32, Status);
/// A mass of goods of one key, in mg.
type Amount = (Key, i64);

#[derive(Debug, Clone, Copy, Default)]
struct Row {
    opening: i64,
    received: i64,
    harvested: i64,
    produced_tf: i64,
    consumed: i64,
    shipped: i64,
}

impl Row {
    fn closing(&self) -> i64 {
        self.opening + self.received + self.harvested + self.produced_tf
            - self.consumed
            - self.shipped
    }
    fn is_empty(&self) -> bool {
        self.opening == 0
            && self.received == 0
            && self.harvested == 0
            && self.produced_tf == 0
            && self.consumed == 0
            && self.shipped == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Evidence {
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

/// The first and the worst moment stock went below zero, for one product, status and flow.
struct Shortfall {
    worst: i64,
    worst_entry: u64,
    entries: Vec<u64>,
    count: usize,
}

struct Replay<'h> {
    history: &'h dyn History,
    actor: &'h str,
    products: Products,
    /// The lots the operator's effects name, each read once.
    lot_ids: Map<String, usize>,
    lots: Vec<LotInfo>,
    /// Running stock per key, in event-time order.
    stock: Map<Key, i64>,
    /// The period's flows per key.
    rows: Map<Key, Row>,
    shortfalls: BTreeMap<(Key, bool), Shortfall>,
    /// The period's transformations, made into [`Transformation`]s only when listed.
    transformations: Vec<RawTransformation>,
    /// Entries in the period that produced, consumed or shipped goods of each key (evidence
    /// for flags).
    evidence: Map<(Key, Evidence), Vec<u64>>,
}

/// A transformation as the replay found it.
struct RawTransformation {
    entry: u64,
    time_ms: i64,
    kind: Kind,
    inputs: Vec<Amount>,
    outputs: Vec<Amount>,
    checks: Vec<YieldCheck>,
}

fn holds(p: &Place, actor: &str) -> bool {
    matches!(p, Place::Held { actor: a } if a == actor)
}

impl<'h> Replay<'h> {
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
    ) -> Result<Option<(Key, i64)>, StoreError> {
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

    fn entry(
        &mut self,
        index: u64,
        meta: &EntryMeta,
        in_period: bool,
        bounds: &Bounds,
    ) -> Result<(), StoreError> {
        let tf = is_transformation(meta.kind);
        let actor = self.actor;
        let mut inputs: Vec<(Key, i64)> = Vec::new();
        let mut outputs: Vec<(Key, i64)> = Vec::new();
        let mut out_keys: Vec<(Key, bool)> = Vec::new();
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
                    if let Some(part) = self.flow(key, false, *amount, flow, in_period)?
                        && tf
                    {
                        outputs.push(part);
                    }
                }
                Effect::Move {
                    key,
                    from,
                    to,
                    amount,
                    contents,
                } => {
                    let flow = if holds(from, actor) {
                        if matches!(to, Place::Consumed) {
                            Flow::Consumed
                        } else {
                            Flow::Shipped
                        }
                    } else if holds(to, actor) {
                        match (from, tf || meta.kind == Kind::Harvest) {
                            (Place::Outside, true) => {
                                if tf {
                                    Flow::ProducedTf
                                } else {
                                    Flow::Harvested
                                }
                            }
                            _ => Flow::Received,
                        }
                    } else {
                        continue;
                    };
                    let all =
                        std::iter::once((key, false)).chain(contents.iter().map(|c| (c, true)));
                    for (k, whole) in all {
                        let Some(part) = self.flow(k, whole, *amount, flow, in_period)? else {
                            continue;
                        };
                        match flow {
                            Flow::Consumed => {
                                inputs.push(part);
                                out_keys.push((part.0, false));
                            }
                            Flow::Shipped => out_keys.push((part.0, true)),
                            Flow::ProducedTf => outputs.push(part),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if !in_period {
            return Ok(());
        }
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
                let s = self.shortfalls.entry((k, shipped)).or_insert(Shortfall {
                    worst: 0,
                    worst_entry: index,
                    entries: Vec::new(),
                    count: 0,
                });
                s.count += 1;
                if s.entries.len() < MAX_EVIDENCE {
                    s.entries.push(index);
                }
                if stock < s.worst {
                    s.worst = stock;
                    s.worst_entry = index;
                }
            }
        }
        let mut made: Vec<Key> = outputs.iter().map(|(k, _)| *k).collect();
        made.sort_unstable();
        made.dedup();
        for k in made {
            self.evidence
                .entry((k, Evidence::Produced))
                .or_default()
                .push(index);
        }
        if tf {
            let checks = self.checks(meta.kind, &inputs, &outputs, bounds);
            self.transformations.push(RawTransformation {
                entry: index,
                time_ms: meta.event_time_ms,
                kind: meta.kind,
                inputs,
                outputs,
                checks,
            });
        }
        Ok(())
    }

    fn parts(&self, items: &[(Key, i64)]) -> Vec<Part> {
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

    /// The yields of a transformation of `kind` against its bounds.
    fn checks(
        &self,
        kind: Kind,
        inputs: &[Amount],
        outputs: &[Amount],
        bounds: &Bounds,
    ) -> Vec<YieldCheck> {
        let sum = |items: &[Amount], names: &[&str]| -> i64 {
            items
                .iter()
                .filter(|((p, _), _)| names.contains(&self.products.name(*p)))
                .map(|(_, mg)| mg)
                .sum()
        };
        let input_mg: i64 = inputs.iter().map(|(_, mg)| mg).sum();
        // Inputs none of which is a family's input (paddy renamed `dried-paddy` by a drying
        // step, husk "milled" into rice) are measured whole: the rules measure nothing then,
        // and this is where a yield could hide.
        let unnamed = !inputs.iter().any(|((p, _), _)| {
            let name = self.products.name(*p);
            FAMILIES
                .iter()
                .any(|f| f.inputs.iter().any(|(i, _)| *i == name))
        });
        let mut checks = Vec::new();
        for &f in kind_checks(kind) {
            let fam = &FAMILIES[f];
            let (input, _) = fam.inputs[0];
            let num = sum(outputs, fam.outputs);
            let mut den = sum(inputs, &[input]);
            let mut measure = fam.measure;
            if den == 0 && unnamed && num > 0 {
                den = input_mg;
                measure = fam.measure_all;
            }
            if den <= 0 {
                continue;
            }
            let [min, max] = bound_range(bounds, fam.bound);
            let r = num as f64 / den as f64;
            checks.push(YieldCheck {
                bound: fam.bound,
                measure: Cow::Borrowed(measure),
                output_kg: Mg(num),
                input_kg: Mg(den),
                value: round4(r),
                min,
                max,
                within: r >= min && r <= max,
            });
        }
        checks
    }

    /// A transformation as the answer lists it.
    fn listed(&self, t: RawTransformation) -> Transformation {
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

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn words(product: &str) -> String {
    product.replace('-', " ")
}

/// `9,000 kg`, `0.25 kg`: grouped thousands, grams at most.
pub fn fmt_kg(mg: i64) -> String {
    let grams = (mg.unsigned_abs() + 500) / 1000;
    let (whole, frac) = (grams / 1000, grams % 1000);
    let digits = whole.to_string();
    let mut s = String::new();
    if mg < 0 && grams > 0 {
        s.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            s.push(',');
        }
        s.push(c);
    }
    if frac > 0 {
        s.push('.');
        s.push_str(format!("{frac:03}").trim_end_matches('0'));
    }
    s.push_str(" kg");
    s
}

fn kg_f(mg: i64) -> f64 {
    mg as f64 / 1e6
}

/// The mass balance of `req.operator` over the period. Pure over `history`: the same entries
/// and lots give the same report.
pub fn compute(
    history: &dyn History,
    req: &Request<'_>,
    bounds: &Bounds,
) -> Result<Report, StoreError> {
    let actor = req.operator.id.as_str();
    let mut r = Replay {
        history,
        actor: &req.operator.id,
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
        // Registrar documents about the operator move no goods.
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

    // The ledger's own record of what the operator holds, when the period reaches the present.
    let mut ledger: Option<Map<Key, i64>> = None;
    if !history.has_later(actor, req.to_ms)? {
        let mut now: Map<Key, i64> = Map::default();
        for lot in r.lots.iter().filter(|l| l.class != IdClass::Unit) {
            *now.entry((lot.product, lot.status)).or_insert(0) += lot.held_now;
        }
        ledger = Some(now);
    }

    if let Some(l) = &ledger {
        for (k, mg) in l {
            if *mg != 0 {
                r.rows.entry(*k).or_default();
            }
        }
    }

    let mut flags: Vec<Finding> = Vec::new();
    let product_names = |keys: &[u32], p: &Products| -> Vec<String> {
        keys.iter().map(|k| p.name(*k).to_owned()).collect()
    };

    // Closing stock: the row's arithmetic, the replay, and the ledger must agree.
    let mut keys: Vec<Key> = r.rows.keys().copied().collect();
    keys.sort_unstable_by(|a, b| (r.products.name(a.0), a.1).cmp(&(r.products.name(b.0), b.1)));
    let mut mismatches = Vec::new();
    for k in &keys {
        let row = r.rows[k];
        let replayed = r.stock.get(k).copied().unwrap_or(0);
        let ledger_mg = ledger.as_ref().map(|l| l.get(k).copied().unwrap_or(0));
        if row.closing() != replayed || ledger_mg.is_some_and(|l| l != replayed) {
            mismatches.push((*k, row.closing(), ledger_mg.unwrap_or(replayed)));
        }
    }
    // Records changed by entries written while this ran are not a discrepancy.
    if !mismatches.is_empty() && ledger.is_some() && history.grew(actor)? {
        ledger = None;
        mismatches.retain(|(k, closing, _)| *closing != r.stock.get(k).copied().unwrap_or(0));
    }
    summary.ledger_compared = ledger.is_some();
    for (k, closing, actual) in mismatches {
        let name = r.products.name(k.0).to_owned();
        flags.push(Finding {
            code: "balance_mismatch",
            message: format!(
                "{} {}: the balance gives a closing stock of {}, but the ledger holds {}",
                k.1.name(),
                words(&name),
                fmt_kg(closing),
                fmt_kg(actual)
            ),
            product: Some(name.clone()),
            organic_status: Some(k.1),
            figures: BTreeMap::from([("closingKg", kg_f(closing)), ("ledgerKg", kg_f(actual))]),
            entries: Vec::new(),
            entries_total: 0,
            products: vec![name],
        });
    }

    // Product families over the period, for the statuses that make a claim.
    let mut yield_checks = Vec::new();
    for fam in FAMILIES {
        let [_, max] = bound_range(bounds, fam.bound);
        for status in [Status::Organic, Status::InConversion] {
            let ids: Vec<u32> = fam
                .outputs
                .iter()
                .filter_map(|p| r.products.find(p))
                .collect();
            let row_of = |p: u32| r.rows.get(&(p, status)).copied().unwrap_or_default();
            let out: Vec<Row> = ids.iter().map(|p| row_of(*p)).collect();
            let produced: i64 = out
                .iter()
                .map(|o| o.produced_tf - o.consumed)
                .sum::<i64>()
                .max(0);
            let shipped: i64 = out.iter().map(|o| o.shipped).sum();
            let stocked: i64 = out.iter().map(|o| o.opening + o.received).sum();
            // The family's inputs, and goods of products no family knows (say paddy renamed
            // `dried-paddy` by a drying step), which count as the main input: that way a period
            // starting between drying and milling flags no honest mill.
            let mut sources: Vec<(u32, String, f64)> = fam
                .inputs
                .iter()
                .filter_map(|(p, y)| {
                    let y = match y {
                        Yield::Bound => max,
                        Yield::Whole => 1.0,
                    };
                    Some((r.products.find(p)?, (*p).to_owned(), y))
                })
                .collect();
            let mut others: Vec<(u32, String, f64)> = r
                .rows
                .keys()
                .filter(|(p, s)| *s == status && !known_product(r.products.name(*p)))
                .map(|(p, _)| (*p, r.products.name(*p).to_owned(), max))
                .collect();
            others.sort_by(|a, b| a.1.cmp(&b.1));
            sources.extend(others);
            let mut inputs = Vec::new();
            let (mut max_produced, mut max_from_available) = (0.0f64, 0.0f64);
            for (id, name, y) in &sources {
                let row = row_of(*id);
                let consumed = (row.consumed - row.produced_tf).max(0);
                let available = (row.opening + row.received + row.harvested - row.shipped).max(0);
                if consumed == 0 && available == 0 && !fam.inputs.iter().any(|(p, _)| p == name) {
                    continue;
                }
                max_produced += consumed as f64 * y;
                max_from_available += available as f64 * y;
                inputs.push(FamilyInput {
                    product: name.clone(),
                    max_yield: *y,
                    consumed_kg: Mg(consumed),
                    available_kg: Mg(available),
                });
            }
            let max_produced = max_produced.round() as i64;
            let max_shipped = stocked + max_from_available.round() as i64;
            if produced == 0 && shipped == 0 {
                continue;
            }
            let check = FamilyCheck {
                family: fam.name,
                bound: fam.bound,
                organic_status: status,
                products: fam.outputs,
                inputs,
                produced_kg: Mg(produced),
                max_produced_kg: Mg(max_produced),
                shipped_kg: Mg(shipped),
                max_shipped_kg: Mg(max_shipped),
                within: produced <= max_produced && shipped <= max_shipped,
            };
            let what = format!("{} {}", status.name(), fam.name);
            let input_ids: Vec<u32> = sources.iter().map(|(id, _, _)| *id).collect();
            let ev = |sets: &[(&[u32], Evidence)]| -> Vec<u64> {
                let mut v: Vec<u64> = sets
                    .iter()
                    .flat_map(|(ps, kind)| ps.iter().map(move |p| ((*p, status), *kind)))
                    .flat_map(|k| r.evidence.get(&k).into_iter().flatten().copied())
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            let all_products: Vec<String> = fam
                .outputs
                .iter()
                .map(|p| (*p).to_owned())
                .chain(check.inputs.iter().map(|i| i.product.clone()))
                .collect();
            if produced > max_produced {
                let evidence = ev(&[(&ids, Evidence::Produced), (&input_ids, Evidence::Consumed)]);
                flags.push(Finding {
                    code: "organic_yield_exceeded",
                    message: format!(
                        "{what} produced {} exceeds what {}: {}",
                        fmt_kg(produced),
                        can_yield(&check.inputs, status, |i| i.consumed_kg.0),
                        fmt_kg(max_produced)
                    ),
                    product: Some(fam.outputs[0].to_owned()),
                    organic_status: Some(status),
                    figures: family_figures(&check, produced, max_produced, |i| i.consumed_kg.0),
                    entries_total: evidence.len(),
                    entries: evidence.into_iter().take(MAX_EVIDENCE).collect(),
                    products: all_products.clone(),
                });
            }
            if shipped > max_shipped {
                let evidence = ev(&[(&ids, Evidence::Shipped)]);
                let from_inputs = can_yield(&check.inputs, status, |i| i.available_kg.0);
                let message = if stocked == 0 {
                    format!(
                        "{what} shipped {} exceeds what {from_inputs}: {}",
                        fmt_kg(shipped),
                        fmt_kg(max_shipped)
                    )
                } else {
                    format!(
                        "{what} shipped {} exceeds the {} there could have been: {} in stock at the start or received, and what {from_inputs}",
                        fmt_kg(shipped),
                        fmt_kg(max_shipped),
                        fmt_kg(stocked)
                    )
                };
                let mut figures =
                    family_figures(&check, shipped, max_shipped, |i| i.available_kg.0);
                figures.insert("stockAndReceivedKg", kg_f(stocked));
                flags.push(Finding {
                    code: "shipped_exceeds_capacity",
                    message,
                    product: Some(fam.outputs[0].to_owned()),
                    organic_status: Some(status),
                    figures,
                    entries_total: evidence.len(),
                    entries: evidence.into_iter().take(MAX_EVIDENCE).collect(),
                    products: all_products,
                });
            }
            yield_checks.push(check);
        }
    }

    // Stock below zero at some moment: goods out before they came in.
    for (((p, status), shipped), s) in &r.shortfalls {
        let name = r.products.name(*p).to_owned();
        let (code, verb) = if *shipped {
            ("shipped_exceeds_stock", "shipped")
        } else {
            ("consumed_exceeds_stock", "consumed")
        };
        flags.push(Finding {
            code,
            message: format!(
                "{} {} {verb} before it was in stock: {} short at entry {} (event-time order; {} event(s) went below zero)",
                status.name(),
                words(&name),
                fmt_kg(-s.worst),
                s.worst_entry,
                s.count
            ),
            product: Some(name.clone()),
            organic_status: Some(*status),
            figures: BTreeMap::from([("shortKg", kg_f(-s.worst))]),
            entries: s.entries.clone(),
            entries_total: s.count,
            products: vec![name],
        });
    }

    // Transformations, and each one outside its bounds.
    let wanted = req.product.map(|p| r.products.find(p));
    let raw = std::mem::take(&mut r.transformations);
    let mut transformations = Vec::new();
    summary.transformations = 0;
    for t in raw {
        let mut ids: Vec<u32> = t
            .inputs
            .iter()
            .chain(&t.outputs)
            .map(|((p, _), _)| *p)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if let Some(w) = wanted
            && !w.is_some_and(|w| ids.contains(&w))
        {
            continue;
        }
        summary.transformations += 1;
        for c in t.checks.iter().filter(|c| !c.within) {
            flags.push(Finding {
                code: "yield_out_of_bounds",
                message: format!(
                    "{} at entry {}: {} is {:.3} ({} from {}); {} allows {}–{}",
                    t.kind.name(),
                    t.entry,
                    c.measure,
                    c.value,
                    fmt_kg(c.output_kg.0),
                    fmt_kg(c.input_kg.0),
                    c.bound,
                    c.min,
                    c.max
                ),
                product: None,
                organic_status: None,
                figures: BTreeMap::from([
                    ("outputKg", kg_f(c.output_kg.0)),
                    ("inputKg", kg_f(c.input_kg.0)),
                    ("yield", c.value),
                    ("min", c.min),
                    ("max", c.max),
                ]),
                entries: vec![t.entry],
                entries_total: 1,
                products: product_names(&ids, &r.products),
            });
        }
        if transformations.len() < MAX_LISTED {
            transformations.push(r.listed(t));
        }
    }
    summary.transformations_listed = transformations.len();

    // The product filter, then the cap per code.
    if let Some(p) = req.product {
        flags.retain(|f| f.products.iter().any(|x| x == p));
        yield_checks.retain(|c: &FamilyCheck| {
            c.products.contains(&p) || c.inputs.iter().any(|i| i.product == p)
        });
    }
    let mut per_code: HashMap<&str, usize> = HashMap::new();
    flags.retain(|f| {
        let n = per_code.entry(f.code).or_insert(0);
        *n += 1;
        if *n > MAX_FLAGS_PER_CODE {
            summary.flags_not_listed += 1;
            false
        } else {
            true
        }
    });
    summary.flags = flags.len() + summary.flags_not_listed;

    let balances: Vec<Balance> = keys
        .iter()
        .filter(|k| req.product.is_none_or(|p| r.products.name(k.0) == p))
        .filter_map(|k| {
            let row = r.rows[k];
            (!row.is_empty()).then(|| Balance {
                product: r.products.name(k.0).to_owned(),
                organic_status: k.1,
                opening_kg: Mg(row.opening),
                received_kg: Mg(row.received),
                produced_kg: Mg(row.harvested + row.produced_tf),
                consumed_kg: Mg(row.consumed),
                shipped_kg: Mg(row.shipped),
                closing_kg: Mg(row.closing()),
                ledger_kg: ledger.as_ref().map(|l| Mg(l.get(k).copied().unwrap_or(0))),
            })
        })
        .collect();

    let op = req.operator;
    let at_end = req.to_ms.saturating_sub(1);
    Ok(Report {
        operator: Operator {
            id: op.id.clone(),
            name: op.name.clone(),
            country: op.country.clone(),
            province: op.province.clone(),
            roles: op
                .roles
                .iter()
                .filter(|r| r.span.covers(at_end))
                .map(|r| r.role.clone())
                .collect(),
        },
        period: Period {
            from: req.from_ms.map(format_time_ms),
            to: format_time_ms(req.to_ms),
            from_ms: req.from_ms,
            to_ms: req.to_ms,
        },
        product: req.product.map(str::to_owned),
        units: "kg",
        bounds: bounds.clone(),
        balances,
        yield_checks,
        transformations,
        flags,
        summary,
        notes: NOTES,
        links: None,
    })
}

/// `10,000 kg of organic paddy can yield at 0.72`; several inputs as `… (at 0.58) and … (at 1)
/// can yield`.
fn can_yield(inputs: &[FamilyInput], status: Status, mg: impl Fn(&FamilyInput) -> i64) -> String {
    let mut shown: Vec<&FamilyInput> = inputs.iter().filter(|i| mg(i) > 0).collect();
    if shown.is_empty() {
        shown.extend(inputs.first());
    }
    let of = |i: &FamilyInput| {
        format!(
            "{} of {} {}",
            fmt_kg(mg(i)),
            status.name(),
            words(&i.product)
        )
    };
    match shown.as_slice() {
        [one] => format!("{} can yield at {}", of(one), one.max_yield),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|i| format!("{} (at {})", of(i), i.max_yield))
                .collect();
            format!("{} can yield", parts.join(" and "))
        }
    }
}

fn family_figures(
    c: &FamilyCheck,
    actual: i64,
    limit: i64,
    input: impl Fn(&FamilyInput) -> i64,
) -> BTreeMap<&'static str, f64> {
    let mut f = BTreeMap::from([
        ("actualKg", kg_f(actual)),
        ("maxKg", kg_f(limit)),
        ("excessKg", kg_f(actual - limit)),
    ]);
    if let Some(i) = c.inputs.first() {
        f.insert("inputKg", kg_f(input(i)));
        f.insert("maxYield", i.max_yield);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Span;
    use lotline_profile::profile::parse_instant_ms;
    use proptest::prelude::*;

    const X: &str = "urn:epc:id:pgln:8841234.00031";
    const BUYER: &str = "urn:epc:id:pgln:8841234.00041";
    const FARM: &str = "urn:epc:id:pgln:8841234.00011";
    const T: i64 = 1_780_000_000_000;
    const KG: i64 = 1_000_000;

    fn held() -> Place {
        Place::Held { actor: X.into() }
    }
    fn transit_out() -> Place {
        Place::Transit {
            from: X.into(),
            to: BUYER.into(),
        }
    }
    fn transit_in() -> Place {
        Place::Transit {
            from: FARM.into(),
            to: X.into(),
        }
    }

    /// A synthetic history of X: entries in event-time order and the lots they name.
    #[derive(Default)]
    struct Synthetic {
        entries: Vec<(u64, EntryMeta)>,
        lots: HashMap<String, LotRecord>,
    }

    impl Synthetic {
        fn add_lot(
            &mut self,
            key: &str,
            class: IdClass,
            product: &str,
            method: Option<&str>,
            kg: i64,
        ) {
            let amount = if class == IdClass::Unit { 1 } else { kg * KG };
            self.lots.insert(
                key.into(),
                LotRecord {
                    id: key.into(),
                    key: key.into(),
                    class,
                    gtin: None,
                    product: Some(product.into()),
                    crop: Some("rice".into()),
                    growing_method: method.map(Into::into),
                    amount,
                    content_mg: 0,
                    created_at: 0,
                    created_by: X.into(),
                    held: Default::default(),
                    transit: Vec::new(),
                    consumed: 0,
                    handlers: Vec::new(),
                    inputs: Vec::new(),
                    origins: Vec::new(),
                    parent: None,
                    children: Vec::new(),
                    flags: Vec::new(),
                    documents: Vec::new(),
                    voided_by: None,
                },
            );
        }
        /// What the ledger says X holds of `key` now.
        fn holds_now(&mut self, key: &str, kg: i64) {
            let l = self.lots.get_mut(key).unwrap();
            l.held.insert(X.into(), kg * KG);
        }
        fn add(
            &mut self,
            index: u64,
            kind: Kind,
            minutes: i64,
            effects: Vec<Effect>,
        ) -> &mut EntryMeta {
            self.entries.push((
                index,
                EntryMeta {
                    kind,
                    actor: Some(X.into()),
                    role: "mill".into(),
                    event_time_ms: T + minutes * 60_000,
                    flags: Vec::new(),
                    effects,
                    corrects: None,
                    corrected_by: None,
                },
            ));
            self.entries.sort_by_key(|(i, m)| (m.event_time_ms, *i));
            &mut self
                .entries
                .iter_mut()
                .find(|(i, _)| *i == index)
                .unwrap()
                .1
        }
    }

    impl History for Synthetic {
        fn entries(
            &self,
            _actor: &str,
            until_ms: i64,
            f: &mut dyn FnMut(u64, EntryMeta) -> Result<(), StoreError>,
        ) -> Result<(), StoreError> {
            for (i, m) in self
                .entries
                .iter()
                .filter(|(_, m)| m.event_time_ms < until_ms)
            {
                f(*i, m.clone())?;
            }
            Ok(())
        }
        fn lot(&self, key: &str) -> Result<Option<LotFacts>, StoreError> {
            Ok(self.lots.get(key).map(LotFacts::from))
        }
        fn has_later(&self, _actor: &str, from_ms: i64) -> Result<bool, StoreError> {
            Ok(self.entries.iter().any(|(_, m)| m.event_time_ms >= from_ms))
        }
        fn grew(&self, _actor: &str) -> Result<bool, StoreError> {
            Ok(false)
        }
    }

    fn create(key: &str, kg: i64) -> Effect {
        Effect::Create {
            key: key.into(),
            holder: Some(X.into()),
            amount: kg * KG,
        }
    }
    fn mv(key: &str, from: Place, to: Place, kg: i64) -> Effect {
        Effect::Move {
            key: key.into(),
            from,
            to,
            amount: kg * KG,
            contents: Vec::new(),
        }
    }

    fn operator() -> ActorRecord {
        ActorRecord {
            id: X.into(),
            name: "Battambang Golden Rice Mill".into(),
            country: "KH".into(),
            province: Some("Battambang".into()),
            gln: None,
            registered_at: 0,
            roles: vec![crate::state::RoleSpan {
                role: "mill".into(),
                span: Span::open(0, 0),
            }],
            keys: Vec::new(),
        }
    }

    fn audit(h: &Synthetic, from_min: Option<i64>, to_min: i64, product: Option<&str>) -> Report {
        let op = operator();
        let req = Request {
            operator: &op,
            from_ms: from_min.map(|m| T + m * 60_000),
            to_ms: T + to_min * 60_000,
            product,
        };
        compute(h, &req, &Bounds::default()).unwrap()
    }

    fn row<'r>(r: &'r Report, product: &str, status: Status) -> &'r Balance {
        r.balances
            .iter()
            .find(|b| b.product == product && b.organic_status == status)
            .unwrap_or_else(|| panic!("no row {product} {status:?} in {:?}", r.balances))
    }

    fn kg(m: Mg) -> i64 {
        assert_eq!(m.0 % 1000, 0);
        m.0 / KG
    }

    fn codes(r: &Report) -> Vec<&'static str> {
        r.flags.iter().map(|f| f.code).collect()
    }

    /// An honest small mill: harvests organic paddy, receives conventional paddy, mills the
    /// organic paddy at 0.65 (0.45 head rice) and ships the rice.
    fn honest() -> Synthetic {
        let mut h = Synthetic::default();
        h.add_lot("paddy-o", IdClass::Lot, "paddy", Some("organic"), 1000);
        h.add_lot("paddy-c", IdClass::Lot, "paddy", Some("conventional"), 500);
        h.add_lot("head-o", IdClass::Lot, "head-rice", Some("organic"), 450);
        h.add_lot(
            "broken-o",
            IdClass::Lot,
            "broken-rice",
            Some("organic"),
            200,
        );
        h.add_lot("husk-o", IdClass::Lot, "husk", Some("organic"), 350);
        h.add(1, Kind::Harvest, 10, vec![create("paddy-o", 1000)]);
        h.add(
            2,
            Kind::Receiving,
            20,
            vec![mv("paddy-c", transit_in(), held(), 500)],
        );
        h.add(
            3,
            Kind::Milling,
            30,
            vec![
                mv("paddy-o", held(), Place::Consumed, 1000),
                create("head-o", 450),
                create("broken-o", 200),
                create("husk-o", 350),
            ],
        );
        h.add(
            4,
            Kind::Shipping,
            40,
            vec![
                mv("head-o", held(), transit_out(), 450),
                mv("broken-o", held(), transit_out(), 200),
            ],
        );
        h.holds_now("paddy-c", 500);
        h.holds_now("husk-o", 350);
        h
    }

    #[test]
    fn balances_add_up_with_the_opening_stock_from_before_the_period() {
        let h = honest();
        let r = audit(&h, Some(25), 100, None);
        assert_eq!(r.summary.entries_before_period, 2);
        assert_eq!(r.summary.entries_in_period, 2);
        let p = row(&r, "paddy", Status::Organic);
        assert_eq!(
            [
                kg(p.opening_kg),
                kg(p.received_kg),
                kg(p.produced_kg),
                kg(p.consumed_kg),
                kg(p.shipped_kg),
                kg(p.closing_kg)
            ],
            [1000, 0, 0, 1000, 0, 0]
        );
        let c = row(&r, "paddy", Status::Conventional);
        assert_eq!([kg(c.opening_kg), kg(c.closing_kg)], [500, 500]);
        let m = row(&r, "head-rice", Status::Organic);
        assert_eq!(
            [kg(m.produced_kg), kg(m.shipped_kg), kg(m.closing_kg)],
            [450, 450, 0]
        );
        assert_eq!(kg(row(&r, "husk", Status::Organic).closing_kg), 350);
        // The period reaches the present: the ledger agrees.
        assert!(r.summary.ledger_compared);
        assert!(r.balances.iter().all(|b| b.ledger_kg == Some(b.closing_kg)));
        assert!(r.flags.is_empty(), "{:?}", r.flags);

        let t = &r.transformations[0];
        assert_eq!((t.entry, t.kind, t.yield_), (3, "milling", Some(0.65)));
        assert_eq!(t.bounds, Some([0.50, 0.72]));
        assert_eq!(t.within_bounds, Some(true));
        let organic_rice = r
            .yield_checks
            .iter()
            .find(|c| c.family == "milled rice" && c.organic_status == Status::Organic)
            .unwrap();
        assert_eq!(kg(organic_rice.produced_kg), 650);
        assert_eq!(kg(organic_rice.max_produced_kg), 720);
        assert_eq!(kg(organic_rice.shipped_kg), 650);
        assert!(organic_rice.within);

        // The whole history: harvest and receipt are in the period, nothing opens.
        let all = audit(&h, None, 100, None);
        let p = row(&all, "paddy", Status::Organic);
        assert_eq!([kg(p.opening_kg), kg(p.produced_kg)], [0, 1000]);
        assert_eq!(
            kg(row(&all, "paddy", Status::Conventional).received_kg),
            500
        );

        // A period that ends before the shipment: the rice is still in stock, and the ledger
        // (which has later events) is not compared.
        let early = audit(&h, Some(25), 35, None);
        assert_eq!(
            kg(row(&early, "head-rice", Status::Organic).closing_kg),
            450
        );
        assert!(!early.summary.ledger_compared);
        assert!(early.balances.iter().all(|b| b.ledger_kg.is_none()));

        // The product filter keeps that product's rows.
        let only = audit(&h, None, 100, Some("husk"));
        assert_eq!(only.balances.len(), 1);
        assert_eq!(only.transformations.len(), 1, "the milling made husk");
    }

    #[test]
    fn corrected_entries_and_their_corrections_are_left_out() {
        let mut h = honest();
        // A shipment of the conventional paddy, declared erroneous by entry 6.
        h.add(
            5,
            Kind::Shipping,
            50,
            vec![mv("paddy-c", held(), transit_out(), 500)],
        )
        .corrected_by = Some(6);
        h.add(6, Kind::Shipping, 55, Vec::new()).corrects = Some(5);
        let r = audit(&h, None, 100, None);
        assert_eq!(r.summary.corrected_left_out, 1);
        assert_eq!(r.summary.corrections_left_out, 1);
        let c = row(&r, "paddy", Status::Conventional);
        assert_eq!([kg(c.shipped_kg), kg(c.closing_kg)], [0, 500]);
        assert!(r.flags.is_empty(), "{:?}", r.flags);
    }

    #[test]
    fn a_closing_stock_the_ledger_does_not_hold_is_flagged() {
        let mut h = honest();
        h.holds_now("husk-o", 300);
        let r = audit(&h, None, 100, None);
        assert_eq!(codes(&r), ["balance_mismatch"]);
        let f = &r.flags[0];
        assert_eq!(f.figures["closingKg"], 350.0);
        assert_eq!(f.figures["ledgerKg"], 300.0);
        assert!(
            f.message.contains("350 kg") && f.message.contains("300 kg"),
            "{}",
            f.message
        );
    }

    #[test]
    fn units_ship_their_contents() {
        let mut h = Synthetic::default();
        h.add_lot("rice-o", IdClass::Lot, "milled-rice", Some("organic"), 100);
        h.add_lot("bag-1", IdClass::Item, "milled-rice", Some("organic"), 50);
        h.add_lot("bag-2", IdClass::Item, "milled-rice", Some("organic"), 50);
        h.add_lot("pallet", IdClass::Unit, "milled-rice", Some("organic"), 0);
        h.add(
            1,
            Kind::Receiving,
            1,
            vec![mv("rice-o", transit_in(), held(), 100)],
        );
        h.add(
            2,
            Kind::Bagging,
            2,
            vec![
                mv("rice-o", held(), Place::Consumed, 100),
                create("bag-1", 50),
                create("bag-2", 50),
            ],
        );
        h.add(
            3,
            Kind::Packing,
            3,
            vec![
                Effect::Create {
                    key: "pallet".into(),
                    holder: Some(X.into()),
                    amount: 1,
                },
                Effect::Parent {
                    children: vec!["bag-1".into(), "bag-2".into()],
                    old: None,
                    new: Some("pallet".into()),
                },
            ],
        );
        h.add(
            4,
            Kind::Shipping,
            4,
            vec![Effect::Move {
                key: "pallet".into(),
                from: held(),
                to: transit_out(),
                amount: 1,
                contents: vec!["bag-1".into(), "bag-2".into()],
            }],
        );
        let r = audit(&h, None, 100, None);
        let m = row(&r, "milled-rice", Status::Organic);
        assert_eq!(
            [
                kg(m.received_kg),
                kg(m.produced_kg),
                kg(m.consumed_kg),
                kg(m.shipped_kg),
                kg(m.closing_kg)
            ],
            [100, 100, 100, 100, 0]
        );
        assert_eq!(r.balances.len(), 1, "the pallet itself weighs nothing");
        // Bagging has no bounds: its yield is output per input.
        let t = &r.transformations[0];
        assert_eq!(
            (t.yield_, t.bounds, t.within_bounds),
            (Some(1.0), None, None)
        );
        // Received rice re-bagged is not production from paddy.
        assert!(r.flags.is_empty(), "{:?}", r.flags);
    }

    /// A mill that mills its organic paddy at a plausible 0.70, then "bags" husk as milled rice:
    /// no single event is out of bounds, but the period's organic rice is more than the
    /// organic paddy can give, and so is what it shipped.
    #[test]
    fn rice_made_from_husk_is_more_than_the_paddy_can_yield() {
        let mut h = Synthetic::default();
        h.add_lot("paddy-o", IdClass::Lot, "paddy", Some("organic"), 10_000);
        h.add_lot("head-o", IdClass::Lot, "head-rice", Some("organic"), 5000);
        h.add_lot(
            "broken-o",
            IdClass::Lot,
            "broken-rice",
            Some("organic"),
            2000,
        );
        h.add_lot("husk-o", IdClass::Lot, "husk", Some("organic"), 3000);
        h.add_lot(
            "rice-o2",
            IdClass::Lot,
            "milled-rice",
            Some("organic"),
            2000,
        );
        h.add(
            1,
            Kind::Receiving,
            1,
            vec![mv("paddy-o", transit_in(), held(), 10_000)],
        );
        h.add(
            2,
            Kind::Milling,
            2,
            vec![
                mv("paddy-o", held(), Place::Consumed, 10_000),
                create("head-o", 5000),
                create("broken-o", 2000),
                create("husk-o", 3000),
            ],
        );
        h.add(
            3,
            Kind::Bagging,
            3,
            vec![
                mv("husk-o", held(), Place::Consumed, 2000),
                create("rice-o2", 2000),
            ],
        );
        h.add(
            4,
            Kind::Shipping,
            4,
            vec![
                mv("head-o", held(), transit_out(), 5000),
                mv("broken-o", held(), transit_out(), 2000),
                mv("rice-o2", held(), transit_out(), 2000),
            ],
        );
        h.holds_now("husk-o", 1000);
        let r = audit(&h, None, 100, None);
        assert_eq!(
            codes(&r),
            ["organic_yield_exceeded", "shipped_exceeds_capacity"]
        );
        let y = &r.flags[0];
        assert_eq!(
            y.message,
            "organic milled rice produced 9,000 kg exceeds what 10,000 kg of organic paddy can yield at 0.72: 7,200 kg"
        );
        assert_eq!(y.figures["actualKg"], 9000.0);
        assert_eq!(y.figures["maxKg"], 7200.0);
        assert_eq!(y.figures["excessKg"], 1800.0);
        assert_eq!(
            y.entries,
            [2, 3],
            "the milling and the bagging made the rice"
        );
        let s = &r.flags[1];
        assert_eq!(
            s.message,
            "organic milled rice shipped 9,000 kg exceeds what 10,000 kg of organic paddy can yield at 0.72: 7,200 kg"
        );
        assert_eq!(s.entries, [4]);
        assert_eq!(s.organic_status, Some(Status::Organic));
        // The filter on husk still shows nothing of it; on paddy it does.
        assert!(audit(&h, None, 100, Some("bran")).flags.is_empty());
        assert_eq!(audit(&h, None, 100, Some("paddy")).flags.len(), 2);
    }

    /// Paddy renamed by a drying step hides a 0.92 milling from the rules' per-event check; the
    /// audit measures it against all inputs.
    #[test]
    fn milling_of_renamed_paddy_is_measured_against_all_inputs() {
        let mut h = Synthetic::default();
        h.add_lot("paddy-o", IdClass::Lot, "paddy", Some("organic"), 10_000);
        h.add_lot(
            "dried-o",
            IdClass::Lot,
            "dried-paddy",
            Some("organic"),
            9800,
        );
        h.add_lot("head-o", IdClass::Lot, "head-rice", Some("organic"), 5000);
        h.add_lot(
            "broken-o",
            IdClass::Lot,
            "broken-rice",
            Some("organic"),
            4000,
        );
        h.add_lot("husk-o", IdClass::Lot, "husk", Some("organic"), 800);
        h.add(
            1,
            Kind::Receiving,
            1,
            vec![mv("paddy-o", transit_in(), held(), 10_000)],
        );
        h.add(
            2,
            Kind::Drying,
            2,
            vec![
                mv("paddy-o", held(), Place::Consumed, 10_000),
                create("dried-o", 9800),
            ],
        );
        h.add(
            3,
            Kind::Milling,
            3,
            vec![
                mv("dried-o", held(), Place::Consumed, 9800),
                create("head-o", 5000),
                create("broken-o", 4000),
                create("husk-o", 800),
            ],
        );
        for (k, kg) in [("head-o", 5000), ("broken-o", 4000), ("husk-o", 800)] {
            h.holds_now(k, kg);
        }
        let r = audit(&h, None, 100, None);
        assert_eq!(codes(&r), ["organic_yield_exceeded", "yield_out_of_bounds"]);
        let t = r.transformations.iter().find(|t| t.entry == 3).unwrap();
        assert_eq!(t.within_bounds, Some(false));
        assert_eq!(t.yield_, Some(0.9184));
        assert!(
            t.checks[0].measure.contains("all inputs"),
            "{}",
            t.checks[0].measure
        );
        // From after the drying on, the dried paddy in the opening stock is what the rice can
        // come from: still too little.
        let later = audit(&h, Some(3), 100, None);
        let y = later
            .flags
            .iter()
            .find(|f| f.code == "organic_yield_exceeded")
            .unwrap();
        assert_eq!(
            y.message,
            "organic milled rice produced 9,000 kg exceeds what 9,800 kg of organic dried paddy can yield at 0.72: 7,056 kg"
        );
        // An honest milling of the same dried paddy over the same period is not flagged.
        let mut honest = Synthetic::default();
        for (k, p, kg) in [
            ("paddy-o", "paddy", 10_000),
            ("dried-o", "dried-paddy", 9800),
            ("head-o", "head-rice", 4500),
            ("broken-o", "broken-rice", 2000),
            ("husk-o", "husk", 3300),
        ] {
            honest.add_lot(k, IdClass::Lot, p, Some("organic"), kg);
        }
        honest.entries = h.entries.iter().take(2).cloned().collect();
        honest.add(
            3,
            Kind::Milling,
            3,
            vec![
                mv("dried-o", held(), Place::Consumed, 9800),
                create("head-o", 4500),
                create("broken-o", 2000),
                create("husk-o", 3300),
            ],
        );
        for (k, kg) in [("head-o", 4500), ("broken-o", 2000), ("husk-o", 3300)] {
            honest.holds_now(k, kg);
        }
        for from in [None, Some(3)] {
            let r = audit(&honest, from, 100, None);
            assert!(r.flags.is_empty(), "{from:?}: {:?}", r.flags);
        }

        // The rules' check finds nothing: no input is called paddy.
        let ins = [(Some("dried-paddy"), 9800 * KG)];
        let outs = [
            (Some("head-rice"), 5000 * KG),
            (Some("broken-rice"), 4000 * KG),
            (Some("husk"), 800 * KG),
        ];
        assert!(
            crate::state::plausibility::transformation(
                Kind::Milling,
                &ins,
                &outs,
                &Bounds::default()
            )
            .is_empty()
        );
    }

    #[test]
    fn shipping_before_receiving_in_event_time_is_flagged() {
        let mut h = Synthetic::default();
        h.add_lot("rice-o", IdClass::Lot, "milled-rice", Some("organic"), 500);
        // Backdated: shipped at minute 1, received at minute 5.
        h.add(
            2,
            Kind::Shipping,
            1,
            vec![mv("rice-o", held(), transit_out(), 500)],
        );
        h.add(
            1,
            Kind::Receiving,
            5,
            vec![mv("rice-o", transit_in(), held(), 500)],
        );
        let r = audit(&h, None, 100, None);
        assert_eq!(codes(&r), ["shipped_exceeds_stock"]);
        assert_eq!(r.flags[0].figures["shortKg"], 500.0);
        assert_eq!(r.flags[0].entries, [2]);
        assert!(
            r.flags[0].message.contains("500 kg short at entry 2"),
            "{}",
            r.flags[0].message
        );
    }

    /// The audit reads lot records through a narrower view; its member names must be the
    /// record's.
    #[test]
    fn lot_facts_read_a_stored_lot_record() {
        let mut h = Synthetic::default();
        h.add_lot("l", IdClass::Item, "head-rice", Some("in-conversion"), 50);
        h.holds_now("l", 50);
        let bytes = serde_json::to_vec(&h.lots["l"]).unwrap();
        let f: LotFacts = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(f.class, IdClass::Item);
        assert_eq!(f.product.as_deref(), Some("head-rice"));
        assert_eq!(f.growing_method.as_deref(), Some("in-conversion"));
        assert_eq!(f.amount, 50 * KG);
        assert_eq!(f.held.get(X), Some(&(50 * KG)));
    }

    #[test]
    fn kilograms_are_written_for_people() {
        assert_eq!(fmt_kg(9_000 * KG), "9,000 kg");
        assert_eq!(fmt_kg(1_234_567 * KG + 250_000), "1,234,567.25 kg");
        assert_eq!(fmt_kg(0), "0 kg");
        assert_eq!(fmt_kg(-500 * KG), "-500 kg");
        assert_eq!(fmt_kg(999), "0.001 kg");
    }

    #[test]
    fn instants_and_product_names() {
        assert_eq!(parse_instant_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_instant_ms("1970-01-01T07:00:00+07:00"), Some(0));
        for bad in [
            "2026-13-01",
            "2026-1-1",
            "yesterday",
            "",
            "2026-01-01T00:00:00",
        ] {
            assert_eq!(parse_instant_ms(bad), None, "{bad}");
        }
        assert_eq!(format_time_ms(86_400_000), "1970-01-02T00:00:00Z");
        for ok in ["paddy", "head-rice", "cassava-starch", "rice2"] {
            assert!(is_product_name(ok), "{ok}");
        }
        for bad in [
            "",
            "Head-Rice",
            "head rice",
            "-rice",
            "rice-",
            "a--b",
            &"x".repeat(65),
        ] {
            assert!(!is_product_name(bad), "{bad:?}");
        }
    }

    proptest! {
        /// The audit's per-transformation verdict is the rules' own: a milling is within its
        /// bounds exactly when `state::plausibility` raises no flag for it.
        #[test]
        fn per_transformation_checks_agree_with_the_rules(
            paddy in 1i64..20_000_000_000,
            head in 0i64..20_000_000_000,
            broken in 0i64..5_000_000_000,
        ) {
            let mut h = Synthetic::default();
            h.add_lot("p", IdClass::Lot, "paddy", Some("organic"), 0);
            h.add_lot("h", IdClass::Lot, "head-rice", Some("organic"), 0);
            h.add_lot("b", IdClass::Lot, "broken-rice", Some("organic"), 0);
            let mut effects = vec![
                Effect::Move { key: "p".into(), from: held(), to: Place::Consumed, amount: paddy, contents: vec![] },
            ];
            for (k, mg) in [("h", head), ("b", broken)] {
                if mg > 0 {
                    effects.push(Effect::Create { key: k.into(), holder: Some(X.into()), amount: mg });
                }
            }
            h.add(1, Kind::Milling, 1, effects);
            let r = audit(&h, None, 100, None);
            let ours = r.transformations[0].within_bounds;
            let ins = [(Some("paddy"), paddy)];
            let outs = [(Some("head-rice"), head), (Some("broken-rice"), broken)];
            let rules = crate::state::plausibility::transformation(Kind::Milling, &ins, &outs, &Bounds::default());
            prop_assert_eq!(ours, Some(rules.is_empty()));
            let flagged = r.flags.iter().filter(|f| f.code == "yield_out_of_bounds").count();
            prop_assert_eq!(flagged, rules.len());
        }
    }
}
