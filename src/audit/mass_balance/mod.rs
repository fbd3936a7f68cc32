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
//!
//! [`compute`] runs the steps; the replay is in `replay`, the yield checks in `yields`, the
//! findings and their codes in `flags`; `history` is where the entries come from and `answer`
//! what the report holds.
//!
//! [`Effect`]: crate::state::Effect

mod answer;
mod flags;
mod history;
mod replay;
mod yields;

pub use answer::{
    Balance, FamilyCheck, FamilyInput, Finding, Mg, Operator, Part, Period, Report, Status,
    Summary, Transformation, YieldCheck, fmt_kg,
};
pub use flags::FlagCode;
pub use history::{History, LedgerHistory, LotFacts};

use crate::state::{ActorRecord, Bounds};
use crate::store::StoreError;
use answer::NOTES;
use flags::Mismatch;
use lotline_profile::profile::IdClass;
use replay::{Key, Map, Replay};

/// Most transformations listed one by one; the rest count in the totals, the yield checks and
/// the flags. A narrower period lists them all.
pub const MAX_LISTED: usize = 1000;
/// Most flags of one code, and most entries cited as evidence by one flag.
pub const MAX_FLAGS_PER_CODE: usize = 200;
pub const MAX_EVIDENCE: usize = 50;

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

/// The mass balance of `req.operator` over the period. Pure over `history`: the same entries
/// and lots give the same report.
///
/// The steps: replay the operator's entries (`Replay::run`); read what the ledger holds for it
/// now (`ledger_holdings`); compare the closing stocks (`closing_mismatches`); check each
/// product family's yield over the period (`yields::family_checks`); flag the moments stock
/// went below zero; list and check the transformations (`transformations`); keep what concerns
/// the product asked about, cap the flags per code, and write the balance rows.
pub fn compute(
    history: &dyn History,
    req: &Request<'_>,
    bounds: &Bounds,
) -> Result<Report, StoreError> {
    let actor = req.operator.id.as_str();
    let (mut r, mut summary) = Replay::run(history, req, bounds)?;
    let mut ledger = ledger_holdings(history, req, &mut r)?;
    let keys = r.sorted_keys();
    let mismatches = closing_mismatches(history, actor, &r, &keys, &mut ledger)?;
    summary.ledger_compared = ledger.is_some();
    let mut flags: Vec<Finding> = mismatches
        .iter()
        .map(|m| flags::balance_mismatch(&r, m))
        .collect();
    let mut yield_checks = Vec::new();
    for measured in yields::family_checks(&r, bounds) {
        flags.extend(flags::family(&r, &measured));
        yield_checks.push(measured.check);
    }
    flags.extend(
        r.shortfalls
            .iter()
            .map(|((key, shipped), s)| flags::shortfall(&r, *key, *shipped, s)),
    );
    let transformations = transformations(&mut r, req.product, &mut flags, &mut summary);
    if let Some(p) = req.product {
        flags.retain(|f| f.products.iter().any(|x| x == p));
        yield_checks.retain(|c| c.products.contains(&p) || c.inputs.iter().any(|i| i.product == p));
    }
    summary.flags_not_listed = flags::cap_per_code(&mut flags);
    summary.flags = flags.len() + summary.flags_not_listed;
    Ok(Report {
        operator: Operator::at_end(req.operator, req.to_ms),
        period: Period::of(req),
        product: req.product.map(str::to_owned),
        units: "kg",
        bounds: bounds.clone(),
        balances: balances(&r, &keys, ledger.as_ref(), req.product),
        yield_checks,
        transformations,
        flags,
        summary,
        notes: NOTES,
        links: None,
    })
}

/// What the ledger's lot records say the operator holds now, per key, when the period reaches
/// the present (the operator has no later entries); each key it holds gets a row.
fn ledger_holdings(
    history: &dyn History,
    req: &Request<'_>,
    r: &mut Replay<'_>,
) -> Result<Option<Map<Key, i64>>, StoreError> {
    if history.has_later(&req.operator.id, req.to_ms)? {
        return Ok(None);
    }
    let mut now: Map<Key, i64> = Map::default();
    for lot in r.lots.iter().filter(|l| l.class != IdClass::Unit) {
        *now.entry((lot.product, lot.status)).or_insert(0) += lot.held_now;
    }
    for (k, mg) in &now {
        if *mg != 0 {
            r.rows.entry(*k).or_default();
        }
    }
    Ok(Some(now))
}

/// The closing stocks on which the row's arithmetic, the replay and the ledger do not agree.
/// Records changed by entries written while the audit ran are not a discrepancy: then the
/// ledger is not compared (`ledger` becomes `None`).
fn closing_mismatches(
    history: &dyn History,
    actor: &str,
    r: &Replay<'_>,
    keys: &[Key],
    ledger: &mut Option<Map<Key, i64>>,
) -> Result<Vec<Mismatch>, StoreError> {
    let replayed = |k: &Key| r.stock.get(k).copied().unwrap_or(0);
    let mut mismatches = Vec::new();
    for k in keys {
        let closing = r.rows[k].closing();
        let ledger_mg = ledger.as_ref().map(|l| l.get(k).copied().unwrap_or(0));
        if closing != replayed(k) || ledger_mg.is_some_and(|l| l != replayed(k)) {
            mismatches.push(Mismatch {
                key: *k,
                closing,
                actual: ledger_mg.unwrap_or(replayed(k)),
            });
        }
    }
    if !mismatches.is_empty() && ledger.is_some() && history.grew(actor)? {
        *ledger = None;
        mismatches.retain(|m| m.closing != replayed(&m.key));
    }
    Ok(mismatches)
}

/// The period's transformations of the product asked about, each yield outside its bounds
/// flagged; the first [`MAX_LISTED`] are listed.
fn transformations(
    r: &mut Replay<'_>,
    product: Option<&str>,
    flags: &mut Vec<Finding>,
    summary: &mut Summary,
) -> Vec<Transformation> {
    let wanted = product.map(|p| r.products.find(p));
    let mut listed = Vec::new();
    summary.transformations = 0;
    for t in std::mem::take(&mut r.transformations) {
        let ids = t.product_ids();
        if let Some(w) = wanted
            && !w.is_some_and(|w| ids.contains(&w))
        {
            continue;
        }
        summary.transformations += 1;
        for c in t.checks.iter().filter(|c| !c.within) {
            flags.push(flags::yield_out_of_bounds(&t, c, r.names(&ids)));
        }
        if listed.len() < MAX_LISTED {
            listed.push(r.listed(t));
        }
    }
    summary.transformations_listed = listed.len();
    listed
}

/// The rows of the balance that are not all zero, of the product asked about.
fn balances(
    r: &Replay<'_>,
    keys: &[Key],
    ledger: Option<&Map<Key, i64>>,
    product: Option<&str>,
) -> Vec<Balance> {
    keys.iter()
        .filter(|k| product.is_none_or(|p| r.products.name(k.0) == p))
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
                ledger_kg: ledger.map(|l| Mg(l.get(k).copied().unwrap_or(0))),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
