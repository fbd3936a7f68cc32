//! Organic status, derived from the history and the certificates, never taken from a claim.
//!
//! A lot is organic only when every check passes:
//! - `growing_method`: every harvest upstream was declared organic (not in-conversion or
//!   conventional);
//! - `plot_certified`: every origin plot was covered at harvest by a valid organic certificate
//!   with production scope for that crop (the farm's own, or a group certificate listing the
//!   farm and the plot);
//! - `handler_certified`: every actor that handled the goods held, at the event's time, a
//!   valid organic certificate covering what it did (processing, handling, export, import)
//!   for that product;
//! - `no_mixing`: no transformation upstream mixed non-organic inputs into its outputs.
//!
//! "Valid" is judged with every certification decision in the history, including those
//! recorded later: a withdrawal with a past effective date fails the checks it covered.
//! Each check names its evidence (the event's entry, the certificate and the entry of the
//! certificate version used, or why each candidate failed). Pure and deterministic, like the
//! rest of [`crate::derive`].

use std::collections::{BTreeSet, HashMap};

pub use crate::claims::{CertClaim, Check, Verdict};
use crate::claims::{LotNode, PlotClaim, TimelineItem};
use crate::registry::Registry;
use lotline_profile::certs::{CertRecord, Need};
use lotline_profile::plausibility::harvested_product;
use lotline_profile::profile::{IdClass, Kind};

/// The certificates of `registry`, by id.
pub fn certificates(registry: &Registry) -> Vec<CertClaim> {
    let name = |id: &str| registry.actor(id).map(|a| a.name.clone());
    registry
        .certs()
        .map(|c| {
            let spec = c.current();
            let mut decisions: Vec<String> = Vec::new();
            for s in &c.suspensions {
                decisions.push(match s.span.until_ms {
                    Some(u) => format!(
                        "suspended from {} until {} (entries {} and {})",
                        date(s.span.from_ms),
                        date(u),
                        s.span.opened_at,
                        s.span.closed_at.unwrap_or_default()
                    ),
                    None => format!(
                        "suspended from {} (entry {}){}",
                        date(s.span.from_ms),
                        s.span.opened_at,
                        because(&s.reason)
                    ),
                });
            }
            if let Some(w) = &c.withdrawal {
                decisions.push(format!(
                    "withdrawn from {} (entry {}){}",
                    date(w.effective_ms),
                    w.at,
                    because(&w.reason)
                ));
            }
            CertClaim {
                id: c.id.clone(),
                number: spec.number.clone(),
                standard: spec.standard.clone(),
                issuer_name: name(&c.issuer),
                issuer: c.issuer.clone(),
                subject_name: name(&spec.subject),
                subject: spec.subject.clone(),
                activities: spec.activities.clone(),
                products: spec.products.clone(),
                valid_from: spec.valid_from.clone(),
                valid_until: spec.valid_until.clone(),
                decisions,
                entries: c.entries(),
            }
        })
        .collect()
}

fn because(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM UTC` of milliseconds, for messages.
fn date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

/// One event of the history to check: its timeline item, kind and time in milliseconds.
pub struct Handled<'a> {
    pub item: &'a TimelineItem,
    pub kind: Kind,
    pub time_ms: i64,
}

/// What an actor needed a certificate for, by the event's kind and the role it acted in.
pub fn activities(kind: Kind, role: &str) -> &'static [&'static str] {
    match kind {
        Kind::Milling | Kind::Drying | Kind::Chipping | Kind::StarchExtraction | Kind::Bagging => {
            &["processing"]
        }
        Kind::Shipping if role == "exporter" => &["export"],
        Kind::Receiving if role == "importer" => &["import"],
        // A farm or group selling its own harvest: its production certificate covers it.
        Kind::Shipping if role == "farm" || role == "cooperative" => &["production", "handling"],
        _ => &["handling"],
    }
}

/// Finds the certificate of `holder` that covered `need`: `Ok((id, version entry))`, or why
/// none did.
fn covering(certs: &[&CertRecord], need: &Need<'_>) -> Result<(String, u64), String> {
    let mine: Vec<&&CertRecord> = certs.iter().filter(|c| c.concerns(need.actor)).collect();
    if mine.is_empty() {
        return Err(format!(
            "no organic certificate of {} is recorded",
            need.actor
        ));
    }
    let mut why = Vec::new();
    for c in mine {
        match c.covers(need) {
            Ok(v) => return Ok((c.id.clone(), v.at)),
            Err(m) => why.push(format!("{} {m}", c.id)),
        }
    }
    Err(why.join("; "))
}

/// The verdict for the history whose lots are `lots`, plots `plots` and events `handled`:
/// the checks of each plot, then of each handler, then of each transformation upstream.
pub fn evaluate(
    lots: &[LotNode],
    plots: &[PlotClaim],
    handled: &[Handled<'_>],
    harvest_times: &HashMap<u64, i64>,
    registry: &Registry,
) -> Verdict {
    let certs: Vec<&CertRecord> = registry.certs().collect();
    let node: HashMap<&str, &LotNode> = lots.iter().map(|l| (l.key.as_str(), l)).collect();
    let mut checks = Vec::new();
    for p in plots {
        checks.extend(plot_checks(p, handled, harvest_times, &certs));
    }
    checks.extend(
        handled
            .iter()
            .filter_map(|h| handler_check(h, &node, &certs)),
    );
    checks.extend(mixing_checks(lots, &node, handled));
    let organic = !plots.is_empty() && checks.iter().all(|c| c.passed);
    Verdict {
        status: if organic { "organic" } else { "not_organic" }.into(),
        checks,
    }
}

/// The checks of one origin plot: `growing_method` (the harvest was declared organic) and
/// `plot_certified` (a certificate with production scope covered the plot at harvest).
fn plot_checks(
    p: &PlotClaim,
    handled: &[Handled<'_>],
    harvest_times: &HashMap<u64, i64>,
    certs: &[&CertRecord],
) -> [Check; 2] {
    let subject = format!("{} plot {}", p.farm, p.plot_id);
    let event_time = handled
        .iter()
        .find(|h| h.item.index == p.index)
        .map(|h| h.item.event_time.clone())
        .unwrap_or_else(|| p.harvest_end.clone());
    let method = Check {
        check: "growing_method".into(),
        passed: p.growing_method == "organic",
        subject: subject.clone(),
        entry: p.index,
        event_time: event_time.clone(),
        certificate: None,
        certificate_entry: None,
        message: format!("harvest declared {}", p.growing_method),
    };
    let product = harvested_product(&p.crop);
    let need = Need {
        actor: &p.farm,
        activities: &["production"],
        product: Some(&product),
        crop: Some(&p.crop),
        plot: Some(&p.plot_id),
        t: harvest_times.get(&p.index).copied().unwrap_or(i64::MIN),
    };
    let certified = cert_check("plot_certified", subject, p.index, event_time, certs, &need);
    [method, certified]
}

/// The `handler_certified` check of one event: whether its actor held a certificate covering
/// what it did to every product it handled. None for events that need no certificate
/// (harvests, which the plot checks cover, business transactions, inspections, which look at
/// goods without handling them, certification decisions) and for events by no registered
/// actor.
fn handler_check(
    h: &Handled<'_>,
    node: &HashMap<&str, &LotNode>,
    certs: &[&CertRecord],
) -> Option<Check> {
    let actor = h.item.actor.as_deref()?;
    if matches!(h.kind, Kind::Harvest | Kind::Transaction | Kind::Inspection)
        || h.kind.is_certification()
    {
        return None;
    }
    let role = h.item.role.as_deref().unwrap_or_default();
    let needs: Vec<Need<'_>> = goods(h.item, node)
        .into_iter()
        .map(|(product, crop)| Need {
            actor,
            activities: activities(h.kind, role),
            product,
            crop,
            plot: None,
            t: h.time_ms,
        })
        .collect();
    // The first uncovered product decides; else the first product's certificate is the
    // evidence.
    needs
        .iter()
        .map(|need| {
            cert_check(
                "handler_certified",
                actor.to_owned(),
                h.item.index,
                h.item.event_time.clone(),
                certs,
                need,
            )
        })
        .reduce(|first, next| {
            if first.passed && !next.passed {
                next
            } else {
                first
            }
        })
}

/// The `(product, crop)` of everything an event handled: each lot it names, and what the
/// units it names held (a pallet of rice and cassava needs both covered). Unknown lots count
/// as `(None, None)`.
fn goods<'a>(
    item: &'a TimelineItem,
    node: &HashMap<&str, &'a LotNode>,
) -> BTreeSet<(Option<&'a str>, Option<&'a str>)> {
    let mut goods = BTreeSet::new();
    let mut todo: Vec<(&str, usize)> = item.lots.iter().map(|k| (k.as_str(), 0)).collect();
    while let Some((k, depth)) = todo.pop() {
        match node.get(k) {
            Some(n) if n.class == IdClass::Unit && !n.inputs.is_empty() && depth < 16 => {
                todo.extend(n.inputs.iter().map(|c| (c.as_str(), depth + 1)));
            }
            Some(n) => {
                goods.insert((n.product.as_deref(), n.crop.as_deref()));
            }
            None => {
                goods.insert((None, None));
            }
        }
    }
    goods
}

/// The `no_mixing` checks: every transformation upstream (once per entry, by entry) had only
/// organic inputs.
fn mixing_checks(
    lots: &[LotNode],
    node: &HashMap<&str, &LotNode>,
    handled: &[Handled<'_>],
) -> Vec<Check> {
    let mut made: Vec<&LotNode> = lots
        .iter()
        .filter(|l| !l.carrier && l.class != IdClass::Unit && !l.inputs.is_empty())
        .collect();
    made.sort_by_key(|l| (l.created_at, l.key.as_str()));
    made.dedup_by_key(|l| l.created_at);
    made.into_iter()
        .map(|l| {
            let bad: Vec<String> = l
                .inputs
                .iter()
                .filter_map(|k| {
                    let m = node
                        .get(k.as_str())
                        .and_then(|n| n.growing_method.as_deref())
                        .unwrap_or("unknown");
                    (m != "organic").then(|| format!("{k} ({m})"))
                })
                .collect();
            let event_time = handled
                .iter()
                .find(|h| h.item.index == l.created_at)
                .map(|h| h.item.event_time.clone())
                .unwrap_or_default();
            Check {
                check: "no_mixing".into(),
                passed: bad.is_empty(),
                subject: l.created_by.clone(),
                entry: l.created_at,
                event_time,
                certificate: None,
                certificate_entry: None,
                message: if bad.is_empty() {
                    format!("all {} input(s) organic", l.inputs.len())
                } else {
                    format!("non-organic input(s): {}", bad.join(", "))
                },
            }
        })
        .collect()
}

/// A certificate check named `check` of `subject` at event `entry`: passed with the covering
/// certificate as evidence, or failed with why no certificate covered `need`.
fn cert_check(
    check: &str,
    subject: String,
    entry: u64,
    event_time: String,
    certs: &[&CertRecord],
    need: &Need<'_>,
) -> Check {
    let what = need.activities.join(" or ");
    match covering(certs, need) {
        Ok((id, at)) => Check {
            check: check.into(),
            passed: true,
            subject,
            entry,
            event_time,
            message: format!("{what} covered by {id}"),
            certificate: Some(id),
            certificate_entry: Some(at),
        },
        Err(why) => Check {
            check: check.into(),
            passed: false,
            subject,
            entry,
            event_time,
            certificate: None,
            certificate_entry: None,
            message: format!("{what} not covered: {why}"),
        },
    }
}
