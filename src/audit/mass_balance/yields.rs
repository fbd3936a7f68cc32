//! Yields: the product families and their plausibility bounds, each transformation's yields
//! against them, and the period's check of each family — could the operator's inputs have
//! given what it produced and shipped?

use std::borrow::Cow;

use super::answer::{FamilyCheck, FamilyInput, Mg, Status, YieldCheck};
use super::replay::{Amount, Products, Replay, Row};
use crate::state::Bounds;
use lotline_profile::profile::Kind;

/// How much of a family's output one kg of an input may give.
#[derive(Clone, Copy)]
enum Yield {
    /// The bound's maximum.
    Bound,
    /// As much as it weighs (sorting milled rice into head and broken rice).
    Whole,
}

/// Products made from other products, with the bound that limits the yield.
pub(super) struct Family {
    name: &'static str,
    bound: &'static str,
    /// The per-transformation yield in words, and the same measured against all inputs.
    measure: &'static str,
    measure_all: &'static str,
    outputs: &'static [&'static str],
    inputs: &'static [(&'static str, Yield)],
}

pub(super) const FAMILIES: &[Family] = &[
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

pub(super) fn bound_range(b: &Bounds, name: &str) -> [f64; 2] {
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

pub(super) fn is_transformation(kind: Kind) -> bool {
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

pub(super) fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The yields of a transformation of `kind` against its bounds, as the replay meets it.
pub(super) fn transformation_checks(
    products: &Products,
    kind: Kind,
    inputs: &[Amount],
    outputs: &[Amount],
    bounds: &Bounds,
) -> Vec<YieldCheck> {
    let sum = |items: &[Amount], names: &[&str]| -> i64 {
        items
            .iter()
            .filter(|((p, _), _)| names.contains(&products.name(*p)))
            .map(|(_, mg)| mg)
            .sum()
    };
    let input_mg: i64 = inputs.iter().map(|(_, mg)| mg).sum();
    // Inputs none of which is a family's input (paddy renamed `dried-paddy` by a drying
    // step, husk "milled" into rice) are measured whole: the rules measure nothing then,
    // and this is where a yield could hide.
    let unnamed = !inputs.iter().any(|((p, _), _)| {
        let name = products.name(*p);
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

/// A product the family's output may be made of, and the most output one kg of it gives.
pub(super) struct Source {
    pub(super) id: u32,
    pub(super) product: String,
    pub(super) max_yield: f64,
}

/// The period's check of one family in one status, with what its flags cite.
pub(super) struct Measured {
    pub(super) check: FamilyCheck,
    /// Opening stock and receipts of the family's products.
    pub(super) stocked: i64,
    /// The family's products the operator had goods of.
    pub(super) outputs: Vec<u32>,
    /// What the output may have been made of.
    pub(super) sources: Vec<Source>,
}

/// The period's check of every product family, for the statuses that make a claim; families
/// of which nothing was produced or shipped are left out.
pub(super) fn family_checks(r: &Replay<'_>, bounds: &Bounds) -> Vec<Measured> {
    let mut out = Vec::new();
    for fam in FAMILIES {
        for status in [Status::Organic, Status::InConversion] {
            out.extend(measure(r, fam, status, bounds));
        }
    }
    out
}

/// One family in one status over the period: what its outputs did, and the most its inputs
/// could have given.
fn measure(
    r: &Replay<'_>,
    fam: &'static Family,
    status: Status,
    bounds: &Bounds,
) -> Option<Measured> {
    let [_, max] = bound_range(bounds, fam.bound);
    let row_of = |p: u32| r.rows.get(&(p, status)).copied().unwrap_or_default();
    let outputs: Vec<u32> = fam
        .outputs
        .iter()
        .filter_map(|p| r.products.find(p))
        .collect();
    let out: Vec<Row> = outputs.iter().map(|p| row_of(*p)).collect();
    let produced: i64 = out
        .iter()
        .map(|o| o.produced_tf - o.consumed)
        .sum::<i64>()
        .max(0);
    let shipped: i64 = out.iter().map(|o| o.shipped).sum();
    let stocked: i64 = out.iter().map(|o| o.opening + o.received).sum();
    let sources = sources(r, fam, status, max);
    let mut inputs = Vec::new();
    let (mut max_produced, mut max_from_available) = (0.0f64, 0.0f64);
    for s in &sources {
        let row = row_of(s.id);
        let consumed = (row.consumed - row.produced_tf).max(0);
        let available = (row.opening + row.received + row.harvested - row.shipped).max(0);
        if consumed == 0 && available == 0 && !fam.inputs.iter().any(|(p, _)| *p == s.product) {
            continue;
        }
        max_produced += consumed as f64 * s.max_yield;
        max_from_available += available as f64 * s.max_yield;
        inputs.push(FamilyInput {
            product: s.product.clone(),
            max_yield: s.max_yield,
            consumed_kg: Mg(consumed),
            available_kg: Mg(available),
        });
    }
    let max_produced = max_produced.round() as i64;
    let max_shipped = stocked + max_from_available.round() as i64;
    if produced == 0 && shipped == 0 {
        return None;
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
    Some(Measured {
        check,
        stocked,
        outputs,
        sources,
    })
}

/// The family's inputs the operator had goods of, and goods of products no family knows (say
/// paddy renamed `dried-paddy` by a drying step), which count as the main input: that way a
/// period starting between drying and milling flags no honest mill.
fn sources(r: &Replay<'_>, fam: &Family, status: Status, max: f64) -> Vec<Source> {
    let mut sources: Vec<Source> = fam
        .inputs
        .iter()
        .filter_map(|(p, y)| {
            let max_yield = match y {
                Yield::Bound => max,
                Yield::Whole => 1.0,
            };
            Some(Source {
                id: r.products.find(p)?,
                product: (*p).to_owned(),
                max_yield,
            })
        })
        .collect();
    let mut others: Vec<Source> = r
        .rows
        .keys()
        .filter(|(p, s)| *s == status && !known_product(r.products.name(*p)))
        .map(|(p, _)| Source {
            id: *p,
            product: r.products.name(*p).to_owned(),
            max_yield: max,
        })
        .collect();
    others.sort_by(|a, b| a.product.cmp(&b.product));
    sources.extend(others);
    sources
}
