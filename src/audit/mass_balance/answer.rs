//! The answer of the audit: plain, serialisable structs whose JSON is the API's, and how
//! masses are written for people.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::Request;
use super::flags::FlagCode;
use crate::state::{ActorRecord, Bounds};
use lotline_profile::profile::format_time_ms;

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
    pub code: FlagCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organic_status: Option<Status>,
    /// The numbers behind the message, masses in kg (`…Kg`), yields as fractions.
    pub figures: BTreeMap<&'static str, f64>,
    /// Entry indexes that show it (at most [`MAX_EVIDENCE`](super::MAX_EVIDENCE)).
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
    /// Flags beyond [`MAX_FLAGS_PER_CODE`](super::MAX_FLAGS_PER_CODE) of one code, counted but
    /// not listed.
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
    pub links: Option<crate::audit::Links>,
}

pub(super) const NOTES: &[&str] = &[
    "Masses are in kilograms; the ledger keeps whole milligrams.",
    "Events count by their eventTime: the period includes `from` and excludes `to`.",
    "The organic status of goods is the growing method recorded on their lot; transformation outputs take the lowest status of their inputs.",
    "received: goods shipped to the operator and received by it; produced: harvests and transformation outputs; consumed: transformation inputs; shipped: goods it shipped, with a pallet's or container's contents counted by their lots.",
    "closing = opening + received + produced − consumed − shipped; ledgerKg is what the ledger's lot records hold for the operator now, shown when the period reaches the present.",
    "Opening stock replays every event of the operator before `from`. Events declared erroneous (EPCIS errorDeclaration) and the declarations are left out, as the ledger reversed them.",
    "yieldChecks compare, over the period, each product family's output with what the organic (or in-conversion) input the operator consumed, and had, can yield at the bound's maximum.",
];

impl Operator {
    /// The operator as the report names it, with the roles it held at the end of the period.
    pub(super) fn at_end(op: &ActorRecord, to_ms: i64) -> Operator {
        let at_end = to_ms.saturating_sub(1);
        Operator {
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
        }
    }
}

impl Period {
    pub(super) fn of(req: &Request<'_>) -> Period {
        Period {
            from: req.from_ms.map(format_time_ms),
            to: format_time_ms(req.to_ms),
            from_ms: req.from_ms,
            to_ms: req.to_ms,
        }
    }
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

/// Milligrams as kilograms, for a finding's figures.
pub(super) fn kg_f(mg: i64) -> f64 {
    mg as f64 / 1e6
}
