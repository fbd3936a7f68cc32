//! The audit's findings: one stable code per kind of flag, and how each is worded, figured
//! and evidenced.

use std::collections::{BTreeMap, HashMap};

use super::MAX_EVIDENCE;
use super::MAX_FLAGS_PER_CODE;
use super::answer::{FamilyCheck, FamilyInput, Finding, Status, YieldCheck, fmt_kg, kg_f};
use super::replay::{Evidence, Key, RawTransformation, Replay, Shortfall};
use super::yields::Measured;

lotline_profile::stable_codes! {
    /// A stable flag code: the `code` of a [`Finding`] in the report's JSON.
    pub enum FlagCode {
        /// The closing stock the balance gives is not what the replay or the ledger holds.
        BalanceMismatch = "balance_mismatch",
        /// A family's output over the period exceeds what the inputs it consumed can yield.
        OrganicYieldExceeded = "organic_yield_exceeded",
        /// A family's shipments exceed its stock, receipts and what the inputs it had can yield.
        ShippedExceedsCapacity = "shipped_exceeds_capacity",
        /// Goods were shipped before they were in stock.
        ShippedExceedsStock = "shipped_exceeds_stock",
        /// Goods were consumed before they were in stock.
        ConsumedExceedsStock = "consumed_exceeds_stock",
        /// A transformation's yield is outside its plausibility bounds.
        YieldOutOfBounds = "yield_out_of_bounds",
    }
}

fn words(product: &str) -> String {
    product.replace('-', " ")
}

/// A closing stock that the replay or the ledger does not confirm.
pub(super) struct Mismatch {
    pub(super) key: Key,
    pub(super) closing: i64,
    /// What the ledger holds (or, not compared, what the replay does).
    pub(super) actual: i64,
}

pub(super) fn balance_mismatch(r: &Replay<'_>, m: &Mismatch) -> Finding {
    let (k, closing, actual) = (m.key, m.closing, m.actual);
    let name = r.products.name(k.0).to_owned();
    Finding {
        code: FlagCode::BalanceMismatch,
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
    }
}

/// A family's flags: output beyond what the consumed inputs can yield, shipments beyond what
/// there could have been.
pub(super) fn family(r: &Replay<'_>, m: &Measured) -> Vec<Finding> {
    let c = &m.check;
    let mut flags = Vec::new();
    if c.produced_kg > c.max_produced_kg {
        flags.push(yield_exceeded(r, m));
    }
    if c.shipped_kg > c.max_shipped_kg {
        flags.push(shipped_exceeds_capacity(r, m));
    }
    flags
}

/// The entries in the period that did `kind` with goods of the products in each set, in
/// the family's status.
fn evidence(r: &Replay<'_>, status: Status, sets: &[(&[u32], Evidence)]) -> Vec<u64> {
    let mut v: Vec<u64> = sets
        .iter()
        .flat_map(|(ps, kind)| ps.iter().map(move |p| ((*p, status), *kind)))
        .flat_map(|k| r.evidence.get(&k).into_iter().flatten().copied())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The family's outputs, then its inputs.
fn family_products(c: &FamilyCheck) -> Vec<String> {
    c.products
        .iter()
        .map(|p| (*p).to_owned())
        .chain(c.inputs.iter().map(|i| i.product.clone()))
        .collect()
}

fn yield_exceeded(r: &Replay<'_>, m: &Measured) -> Finding {
    let c = &m.check;
    let status = c.organic_status;
    let (produced, max_produced) = (c.produced_kg.0, c.max_produced_kg.0);
    let input_ids: Vec<u32> = m.sources.iter().map(|s| s.id).collect();
    let evidence = evidence(
        r,
        status,
        &[
            (&m.outputs, Evidence::Produced),
            (&input_ids, Evidence::Consumed),
        ],
    );
    Finding {
        code: FlagCode::OrganicYieldExceeded,
        message: format!(
            "{} {} produced {} exceeds what {}: {}",
            status.name(),
            c.family,
            fmt_kg(produced),
            can_yield(&c.inputs, status, |i| i.consumed_kg.0),
            fmt_kg(max_produced)
        ),
        product: Some(c.products[0].to_owned()),
        organic_status: Some(status),
        figures: family_figures(c, produced, max_produced, |i| i.consumed_kg.0),
        entries_total: evidence.len(),
        entries: evidence.into_iter().take(MAX_EVIDENCE).collect(),
        products: family_products(c),
    }
}

fn shipped_exceeds_capacity(r: &Replay<'_>, m: &Measured) -> Finding {
    let c = &m.check;
    let status = c.organic_status;
    let (shipped, max_shipped, stocked) = (c.shipped_kg.0, c.max_shipped_kg.0, m.stocked);
    let what = format!("{} {}", status.name(), c.family);
    let evidence = evidence(r, status, &[(&m.outputs, Evidence::Shipped)]);
    let from_inputs = can_yield(&c.inputs, status, |i| i.available_kg.0);
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
    let mut figures = family_figures(c, shipped, max_shipped, |i| i.available_kg.0);
    figures.insert("stockAndReceivedKg", kg_f(stocked));
    Finding {
        code: FlagCode::ShippedExceedsCapacity,
        message,
        product: Some(c.products[0].to_owned()),
        organic_status: Some(status),
        figures,
        entries_total: evidence.len(),
        entries: evidence.into_iter().take(MAX_EVIDENCE).collect(),
        products: family_products(c),
    }
}

/// Stock of `key` went below zero at some moment: goods out before they came in.
pub(super) fn shortfall(r: &Replay<'_>, key: Key, shipped: bool, s: &Shortfall) -> Finding {
    let (p, status) = key;
    let name = r.products.name(p).to_owned();
    let (code, verb) = if shipped {
        (FlagCode::ShippedExceedsStock, "shipped")
    } else {
        (FlagCode::ConsumedExceedsStock, "consumed")
    };
    Finding {
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
        organic_status: Some(status),
        figures: BTreeMap::from([("shortKg", kg_f(-s.worst))]),
        entries: s.entries.clone(),
        entries_total: s.count,
        products: vec![name],
    }
}

/// One yield of transformation `t` outside its bounds; `products` are those it consumed or
/// produced.
pub(super) fn yield_out_of_bounds(
    t: &RawTransformation,
    c: &YieldCheck,
    products: Vec<String>,
) -> Finding {
    Finding {
        code: FlagCode::YieldOutOfBounds,
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
        products,
    }
}

/// Keeps the first [`MAX_FLAGS_PER_CODE`] flags of each code; returns how many it left out.
pub(super) fn cap_per_code(flags: &mut Vec<Finding>) -> usize {
    let mut not_listed = 0;
    let mut per_code: HashMap<FlagCode, usize> = HashMap::new();
    flags.retain(|f| {
        let n = per_code.entry(f.code).or_insert(0);
        *n += 1;
        if *n > MAX_FLAGS_PER_CODE {
            not_listed += 1;
            false
        } else {
            true
        }
    });
    not_listed
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

    #[test]
    fn codes_are_distinct_snake_case_and_serialize_as_such() {
        let mut seen = std::collections::HashSet::new();
        for c in FlagCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
            assert_eq!(serde_json::to_value(c).unwrap(), s);
            assert_eq!(c.to_string(), s);
        }
    }
}
