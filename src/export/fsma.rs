//! An FSMA 204 style sortable spreadsheet of Key Data Elements, as CSV.
//!
//! The US FDA's food traceability rule (21 CFR 1 subpart S) asks for the Key Data Elements of
//! each Critical Tracking Event — traceability lot code, product, quantity and unit, location,
//! ship-from and ship-to, date, traceability lot code source, reference document — as an
//! electronic sortable spreadsheet. Here there is one row per (event, identifier the event
//! names): a harvest creating two lots is two rows, a milling of three paddy lots into four
//! products is seven. The traceability lot code is the identifier as an EPC URI (an LGTIN lot,
//! an SGTIN item or an SSCC logistic unit); its source is the actor that created it.
//!
//! `Quantity` and `Unit of Measure` are as the event states them (a lot's mass in the signed
//! unit; `1 EA` for an item or a logistic unit); `Net Mass (kg)` is the ledger's exact mass of
//! the row in kilograms — a lot line's mass, an item's, or everything packed in a unit the
//! event moved — so rows can be summed for a mass balance.
//!
//! The file is RFC 4180 CSV (CRLF line ends, fields with commas, quotes or line breaks quoted,
//! quotes doubled) in UTF-8 with a byte order mark, so spreadsheet programs read it as UTF-8.
//! Values come from signed but untrusted events and registrations, so a cell a spreadsheet
//! would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a
//! leading apostrophe.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::{ExportError, Exported, Lookup};
use crate::state::Effect;
use lotline_profile::profile::{self, Action, IdClass, Ident, Kind};

/// The header row.
pub const COLUMNS: &[&str] = &[
    "Traceability Lot Code",
    "Identifier Type",
    "Product Description",
    "Growing Method",
    "Quantity",
    "Unit of Measure",
    "Net Mass (kg)",
    "Critical Tracking Event",
    "Lot Role",
    "Business Step",
    "Event Time (UTC)",
    "Event Time (Local)",
    "Time Zone",
    "Location ID",
    "Location Name",
    "Location GLN",
    "Location Region",
    "Growing Area",
    "Ship-From ID",
    "Ship-From Name",
    "Ship-From GLN",
    "Ship-To ID",
    "Ship-To Name",
    "Ship-To GLN",
    "Traceability Lot Code Source ID",
    "Traceability Lot Code Source Name",
    "Traceability Lot Code Source GLN",
    "Reference Document Type",
    "Reference Document Number",
    "Record Status",
    "Event ID",
    "Ledger Entry Index",
    "Signer",
];

/// An actor as the columns show it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartyCells {
    pub id: String,
    pub name: String,
    pub gln: String,
    /// `province, country`.
    pub region: String,
}

/// One row; [`Row::cells`] lists it in [`COLUMNS`] order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub tlc: String,
    pub id_type: String,
    pub product: String,
    pub growing_method: String,
    pub quantity: String,
    pub uom: String,
    pub net_kg: String,
    pub cte: String,
    pub lot_role: String,
    pub biz_step: String,
    pub time_utc: String,
    pub time_local: String,
    pub time_zone: String,
    pub location: PartyCells,
    pub growing_area: String,
    pub ship_from: PartyCells,
    pub ship_to: PartyCells,
    pub tlc_source: PartyCells,
    pub doc_types: String,
    pub doc_numbers: String,
    pub status: String,
    pub event_id: String,
    pub index: String,
    pub signer: String,
}

impl Row {
    pub fn cells(&self) -> Vec<&str> {
        vec![
            &self.tlc,
            &self.id_type,
            &self.product,
            &self.growing_method,
            &self.quantity,
            &self.uom,
            &self.net_kg,
            &self.cte,
            &self.lot_role,
            &self.biz_step,
            &self.time_utc,
            &self.time_local,
            &self.time_zone,
            &self.location.id,
            &self.location.name,
            &self.location.gln,
            &self.location.region,
            &self.growing_area,
            &self.ship_from.id,
            &self.ship_from.name,
            &self.ship_from.gln,
            &self.ship_to.id,
            &self.ship_to.name,
            &self.ship_to.gln,
            &self.tlc_source.id,
            &self.tlc_source.name,
            &self.tlc_source.gln,
            &self.doc_types,
            &self.doc_numbers,
            &self.status,
            &self.event_id,
            &self.index,
            &self.signer,
        ]
    }
}

/// The CTE a kind of event is, in FSMA 204's words where it has one.
fn cte(kind: Kind) -> &'static str {
    match kind {
        Kind::Harvest => "Harvesting",
        Kind::Shipping => "Shipping",
        Kind::Receiving => "Receiving",
        Kind::Milling | Kind::Drying | Kind::Chipping | Kind::StarchExtraction | Kind::Bagging => {
            "Transformation"
        }
        Kind::Packing => "Packing",
        Kind::Unpacking => "Unpacking",
        Kind::Transaction => "Business Transaction",
        Kind::Inspection => "Inspection",
        Kind::Storage => "Storage",
        _ => "",
    }
}

/// Milligrams as exact decimal kilograms (`5200`, `0.25`, `12.000001`).
pub fn kg_exact(mg: i64) -> String {
    let sign = if mg < 0 { "-" } else { "" };
    let mg = mg.unsigned_abs();
    let (whole, frac) = (mg / 1_000_000, mg % 1_000_000);
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        let f = format!("{frac:06}");
        format!("{sign}{whole}.{}", f.trim_end_matches('0'))
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC: sorts as text and spreadsheets read it as a date-time.
fn utc(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

fn party(look: &Lookup, id: &str) -> PartyCells {
    let a = look.actor(id);
    PartyCells {
        id: id.to_owned(),
        name: a.map(|a| a.name.clone()).unwrap_or_default(),
        gln: a.and_then(|a| a.gln.clone()).unwrap_or_default(),
        region: a
            .map(|a| match &a.province {
                Some(p) => format!("{p}, {}", a.country),
                None => a.country.clone(),
            })
            .unwrap_or_default(),
    }
}

/// The `{quantity, uom}` of the quantity element for `key` in one of `lists`, as signed.
fn signed_quantity(event: &Value, lists: &[&str], key: &str) -> Option<(String, String)> {
    lists
        .iter()
        .filter_map(|l| event.get(*l).and_then(Value::as_array))
        .flatten()
        .find(|q| {
            q.get("epcClass")
                .and_then(Value::as_str)
                .and_then(|c| profile::ident(c, "").ok())
                .is_some_and(|i| i.key == key)
        })
        .map(|q| {
            let quantity = q.get("quantity").map(Value::to_string).unwrap_or_default();
            let uom = q
                .get("uom")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (quantity, uom)
        })
}

/// The mass of everything packed in a unit, from the keys of its contents: the items' masses
/// (units weigh nothing of their own, and lots are never packed). `None` if any is unknown.
fn contents_mass(look: &Lookup, keys: &[String]) -> Option<i64> {
    let mut sum = 0i64;
    for k in keys {
        let l = look.lot(k)?;
        match l.class {
            IdClass::Item => sum = sum.checked_add(l.amount)?,
            IdClass::Unit => {}
            IdClass::Lot => return None,
        }
    }
    Some(sum)
}

/// Children of a packing event as its `Parent` effect recorded them (for an unpacking that
/// released every child without naming them).
fn effect_children(x: &Exported) -> Option<&[String]> {
    x.meta.effects.iter().find_map(|e| match e {
        Effect::Parent { children, .. } => Some(children.as_slice()),
        _ => None,
    })
}

/// The mass a movement of `key` moved with it: its contents, for a logistic unit.
fn moved_contents<'a>(x: &'a Exported, key: &str) -> Option<&'a [String]> {
    x.meta.effects.iter().find_map(|e| match e {
        Effect::Move {
            key: k, contents, ..
        } if k == key => Some(contents.as_slice()),
        _ => None,
    })
}

/// The part of a row that depends on the identifier.
struct Line<'a> {
    id: &'a Ident,
    role: &'a str,
    quantity: Option<(String, String)>,
    net_mg: Option<i64>,
}

fn line<'a>(
    x: &Exported,
    look: &Lookup,
    id: &'a Ident,
    role: &'a str,
    lists: &[&str],
    mass_mg: Option<i64>,
) -> Line<'a> {
    match id.class {
        IdClass::Lot => Line {
            id,
            role,
            quantity: signed_quantity(&x.entry.event, lists, &id.key),
            net_mg: mass_mg,
        },
        IdClass::Item => Line {
            id,
            role,
            quantity: Some(("1".into(), "EA".into())),
            net_mg: mass_mg.or_else(|| look.lot(&id.key).map(|l| l.amount)),
        },
        IdClass::Unit => Line {
            id,
            role,
            quantity: Some(("1".into(), "EA".into())),
            net_mg: mass_mg
                .or_else(|| moved_contents(x, &id.key).and_then(|c| contents_mass(look, c))),
        },
    }
}

/// The rows of one entry, in the order the event names its identifiers.
pub fn rows(x: &Exported, look: &Lookup) -> Vec<Row> {
    let named = named(x, look);
    let common = common(x, look, &named);
    named
        .lines
        .into_iter()
        .map(|l| identifier_row(look, l, &common))
        .collect()
}

/// What an event names: where it happened, between whom, and one line per identifier.
struct Named<'a> {
    location: &'a str,
    growing_area: String,
    from: Option<&'a str>,
    to: Option<&'a str>,
    lines: Vec<Line<'a>>,
}

/// The identifiers the event's action names, each as a line with its role and quantity, and
/// where the event happened and between whom.
fn named<'a>(x: &'a Exported, look: &Lookup) -> Named<'a> {
    let mut named = Named {
        location: x.meta.actor.as_deref().unwrap_or_default(),
        growing_area: String::new(),
        from: None,
        to: None,
        lines: Vec::new(),
    };
    let lines = &mut named.lines;
    match &x.doc.action {
        Action::Harvest(h) => {
            named.location = &h.farm;
            named.growing_area = format!("{}, {}", h.plot.id, h.plot.province);
            for (id, mg) in &h.lots {
                lines.push(line(x, look, id, "harvested", &["quantityList"], Some(*mg)));
            }
        }
        Action::Ship(m) | Action::Receive(m) => {
            named.from = Some(&m.source);
            named.to = Some(&m.destination);
            let role = if x.doc.kind == Kind::Shipping {
                "shipped"
            } else {
                "received"
            };
            for l in &m.lines {
                lines.push(line(x, look, &l.id, role, &["quantityList"], l.mass_mg));
            }
        }
        Action::Transform(t) => {
            for l in &t.inputs {
                lines.push(line(
                    x,
                    look,
                    &l.id,
                    "input",
                    &["inputQuantityList"],
                    l.mass_mg,
                ));
            }
            for o in &t.outputs {
                lines.push(line(
                    x,
                    look,
                    &o.id,
                    "output",
                    &["outputQuantityList"],
                    Some(o.mass_mg),
                ));
            }
        }
        Action::Pack { parent, children } | Action::Unpack { parent, children } => {
            lines.extend(packing_lines(x, look, parent, children));
        }
        Action::Transaction {
            lines: ls, action, ..
        } => {
            let role = if action == "DELETE" {
                "unlinked"
            } else {
                "linked"
            };
            for l in ls {
                lines.push(line(x, look, &l.id, role, &["quantityList"], l.mass_mg));
            }
        }
        Action::Observe(o) => {
            let role = if x.doc.kind == Kind::Inspection {
                "inspected"
            } else {
                "stored"
            };
            for l in &o.lines {
                lines.push(line(x, look, &l.id, role, &["quantityList"], l.mass_mg));
            }
        }
        Action::Registrar(_) | Action::Certification(_) => {}
    }
    named
}

/// A packing's or an unpacking's lines: the parent, then each child.
fn packing_lines<'a>(
    x: &Exported,
    look: &Lookup,
    parent: &'a Ident,
    children: &'a [Arc<Ident>],
) -> Vec<Line<'a>> {
    // The parent's mass is its children's when all are items; a child unit's
    // contents at the time are not recorded with the packing.
    let keys: Vec<String> = if children.is_empty() {
        effect_children(x)
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    } else {
        children.iter().map(|c| c.key.clone()).collect()
    };
    let parent_mg = (!keys.is_empty())
        .then(|| {
            keys.iter()
                .map(|k| look.lot(k).filter(|l| l.class == IdClass::Item))
                .try_fold(0i64, |s, l| l.and_then(|l| s.checked_add(l.amount)))
        })
        .flatten();
    let mut lines = vec![Line {
        id: parent,
        role: "parent",
        quantity: Some(("1".into(), "EA".into())),
        net_mg: parent_mg,
    }];
    for c in children {
        let mut l = line(x, look, c, "child", &[], None);
        if c.class == IdClass::Unit {
            l.net_mg = None;
        }
        lines.push(l);
    }
    lines
}

/// The cells every row of the entry shares: the event, where and when it happened, between
/// whom, its documents and its record status.
fn common(x: &Exported, look: &Lookup, named: &Named<'_>) -> Row {
    let ev = &x.entry.event;
    let docs: Vec<&Value> = ev
        .get("bizTransactionList")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let doc_field = |name: &str| {
        docs.iter()
            .map(|d| d.get(name).and_then(Value::as_str).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let status = match (x.meta.corrected_by, x.meta.corrects) {
        (Some(n), _) => format!("declared erroneous by entry {n}"),
        (None, Some(n)) => format!("error declaration for entry {n}"),
        (None, None) => "recorded".to_owned(),
    };
    let text = |k: &str| {
        ev.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let offset = text("eventTimeZoneOffset");
    Row {
        cte: cte(x.doc.kind).to_owned(),
        biz_step: text("bizStep"),
        time_utc: utc(x.meta.event_time_ms),
        time_local: text("eventTime"),
        time_zone: if offset.is_empty() {
            offset
        } else {
            format!("UTC{offset}")
        },
        location: party(look, named.location),
        growing_area: named.growing_area.clone(),
        ship_from: named.from.map(|f| party(look, f)).unwrap_or_default(),
        ship_to: named.to.map(|t| party(look, t)).unwrap_or_default(),
        doc_types: doc_field("type"),
        doc_numbers: doc_field("bizTransaction"),
        status,
        event_id: x.entry.event_id().unwrap_or_default().to_owned(),
        index: x.entry.index.to_string(),
        signer: x.entry.signer.clone(),
        ..Row::default()
    }
}

/// One identifier's row: the entry's `common` cells and the identifier's own.
fn identifier_row(look: &Lookup, l: Line<'_>, common: &Row) -> Row {
    let lot = look.lot(&l.id.key);
    let (quantity, uom) = l.quantity.unwrap_or_default();
    Row {
        tlc: l.id.urn.clone(),
        id_type: match l.id.class {
            IdClass::Lot => "LGTIN",
            IdClass::Item => "SGTIN",
            IdClass::Unit => "SSCC",
        }
        .to_owned(),
        product: lot.map(product_description).unwrap_or_default(),
        growing_method: lot
            .and_then(|l| l.growing_method.clone())
            .unwrap_or_default(),
        quantity,
        uom,
        net_kg: l.net_mg.map(kg_exact).unwrap_or_default(),
        lot_role: l.role.to_owned(),
        tlc_source: lot.map(|l| party(look, &l.created_by)).unwrap_or_default(),
        ..common.clone()
    }
}

/// `head-rice (rice)`: the product, and the crop when it says more.
fn product_description(l: &super::LotInfo) -> String {
    match (&l.product, &l.crop) {
        (Some(p), Some(c)) if p != c => format!("{p} ({c})"),
        (Some(p), _) => p.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => String::new(),
    }
}

/// The lots, items and units whose records the rows of `entries` need: those the events name,
/// the contents of units they move, and the children an unpacking released.
pub fn wanted_lots(entries: &[Exported]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for x in entries {
        out.extend(x.doc.identifiers().into_iter().map(|i| i.key.clone()));
        for e in &x.meta.effects {
            match e {
                Effect::Move { contents, .. } => out.extend(contents.iter().cloned()),
                Effect::Parent { children, .. } => out.extend(children.iter().cloned()),
                _ => {}
            }
        }
    }
    out
}

/// The actors the rows of `entries` name (given the lots already in `look`): where each event
/// happened, ship-from and ship-to, and each identifier's creator.
pub fn wanted_actors(entries: &[Exported], look: &Lookup) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for x in entries {
        out.extend(x.meta.actor.iter().cloned());
        match &x.doc.action {
            Action::Harvest(h) => {
                out.insert(h.farm.clone());
            }
            Action::Ship(m) | Action::Receive(m) => {
                out.insert(m.source.clone());
                out.insert(m.destination.clone());
            }
            _ => {}
        }
        for id in x.doc.identifiers() {
            if let Some(l) = look.lot(&id.key) {
                out.insert(l.created_by.clone());
            }
        }
    }
    out
}

/// A cell as written: a leading apostrophe where a spreadsheet would see a formula, then RFC
/// 4180 quoting where the value needs it.
pub fn cell(s: &str) -> Cow<'_, str> {
    let guarded: Cow<'_, str> = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", guarded.replace('"', "\"\"")))
    } else {
        guarded
    }
}

fn write_record<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&cell(c));
    }
    out.push_str("\r\n");
}

/// A CSV file being written: the byte order mark and header, then rows, at most `max_rows`.
#[derive(Debug)]
pub struct Csv {
    text: String,
    rows: usize,
    max_rows: usize,
}

impl Csv {
    pub fn new(max_rows: usize) -> Csv {
        let mut text = String::from("\u{feff}");
        write_record(&mut text, COLUMNS.iter().copied());
        Csv {
            text,
            rows: 0,
            max_rows,
        }
    }

    /// Appends the rows of `x`; refused once the file would pass `max_rows`.
    pub fn push_event(&mut self, x: &Exported, look: &Lookup) -> Result<(), ExportError> {
        for r in rows(x, look) {
            if self.rows >= self.max_rows {
                return Err(ExportError::TooLarge(format!(
                    "the export has more than {} rows (one per event and identifier it names); narrow it, e.g. to a shorter date range",
                    self.max_rows
                )));
            }
            write_record(&mut self.text, r.cells());
            self.rows += 1;
        }
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::epcis::tests::{actor, exported, lot};
    use lotline_scenario::{self as scenario, items};
    use serde_json::json;

    fn key(id: &str) -> String {
        profile::ident(id, "").unwrap().key.clone()
    }

    /// A minimal RFC 4180 reader: records of fields, quotes honoured.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut out = vec![];
        let mut rec = vec![];
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => rec.push(std::mem::take(&mut field)),
                (false, '\r') => {
                    assert_eq!(chars.next(), Some('\n'), "CR without LF");
                    rec.push(std::mem::take(&mut field));
                    out.push(std::mem::take(&mut rec));
                }
                (false, c) => field.push(c),
            }
        }
        assert!(field.is_empty() && rec.is_empty(), "no final CRLF");
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Whatever a signed value holds, its record reads back as one record of the same
        /// cells, defused where a spreadsheet would evaluate them, and nothing else changed.
        #[test]
        fn any_cells_read_back(cells in proptest::collection::vec(
            "(?s)[=+@\t\r\n\",;'a é-]{0,6}|(?s).{0,12}", 1..6)) {
            let mut out = String::new();
            write_record(&mut out, cells.iter().map(String::as_str));
            let back = parse(&out);
            proptest::prop_assert_eq!(back.len(), 1);
            let expected: Vec<String> = cells
                .iter()
                .map(|c| {
                    if c.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                        format!("'{c}")
                    } else {
                        c.clone()
                    }
                })
                .collect();
            proptest::prop_assert_eq!(&back[0], &expected);
        }
    }

    #[test]
    fn row_cells_follow_the_header() {
        assert_eq!(Row::default().cells().len(), COLUMNS.len());
    }

    #[test]
    fn formula_cells_are_defused_and_quoting_follows_rfc_4180() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(s).trim_start_matches('"').starts_with('\''), "{s:?}");
        }
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("\r"), "\"'\r\"");
        assert_eq!(cell(""), "");
        // A value that only contains the characters later is left alone.
        assert_eq!(cell("a=b"), "a=b");
        let mut out = String::new();
        write_record(&mut out, ["=cmd|' /C calc'!A0", "x,y", "z"]);
        assert_eq!(parse(&out), [["'=cmd|' /C calc'!A0", "x,y", "z"]]);
    }

    #[test]
    fn exact_kilograms() {
        assert_eq!(kg_exact(5_200_000_000), "5200");
        assert_eq!(kg_exact(250_000), "0.25");
        assert_eq!(kg_exact(12_000_001), "12.000001");
        assert_eq!(kg_exact(1), "0.000001");
        assert_eq!(kg_exact(0), "0");
    }

    #[test]
    fn utc_times_sort_as_text() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        let t = profile::parse_time_ms("2026-10-20T13:00:00+07:00").unwrap();
        assert_eq!(utc(t), "2026-10-20 06:00:00");
    }

    #[test]
    fn shipping_rows_carry_the_key_data_elements() {
        let farm = scenario::pgln(11);
        let mill = scenario::pgln(31);
        let paddy = scenario::lgtin(items::PADDY, "L1");
        let bag = scenario::sgtin(items::HEAD_RICE_BAG_50KG, 7);
        let mut ship = scenario::movement(
            true,
            "2026-10-02T07:00:00+07:00",
            &farm,
            &mill,
            std::slice::from_ref(&bag),
            &[json!({"epcClass": paddy, "quantity": 1.5, "uom": "TNE"})],
        );
        ship["bizTransactionList"] = json!([
            {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:8841234000019:D1"},
            {"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:8841234000019:I1"},
        ]);
        let mut x = exported(12, ship, &farm, "farm");
        x.meta.corrected_by = Some(20);
        let mut look = Lookup::default();
        look.actors.insert(
            farm.clone(),
            actor(&farm, "=Farm, \"A\"", Some("8841234000019")),
        );
        look.actors.insert(mill.clone(), actor(&mill, "Mill", None));
        look.lots.insert(
            key(&paddy),
            Some(lot(&paddy, IdClass::Lot, "paddy", 1_500_000_000, &farm)),
        );
        look.lots.insert(
            key(&bag),
            Some(lot(&bag, IdClass::Item, "head-rice", 50_000_000, &mill)),
        );
        let rows = rows(&x, &look);
        assert_eq!(rows.len(), 2);
        // epcList before quantityList, as the profile reads them.
        let (b, p) = (&rows[0], &rows[1]);
        assert_eq!(
            (b.tlc.as_str(), b.id_type.as_str()),
            (bag.as_str(), "SGTIN")
        );
        assert_eq!((b.quantity.as_str(), b.uom.as_str()), ("1", "EA"));
        assert_eq!(b.net_kg, "50");
        assert_eq!(b.tlc_source.id, mill);
        assert_eq!(p.tlc, paddy);
        assert_eq!(p.product, "paddy (rice)");
        assert_eq!(p.growing_method, "organic");
        assert_eq!((p.quantity.as_str(), p.uom.as_str()), ("1.5", "TNE"));
        assert_eq!(p.net_kg, "1500");
        assert_eq!(p.cte, "Shipping");
        assert_eq!(p.lot_role, "shipped");
        assert_eq!(p.biz_step, "shipping");
        assert_eq!(p.time_utc, "2026-10-02 00:00:00");
        assert_eq!(p.time_local, "2026-10-02T07:00:00+07:00");
        assert_eq!(p.time_zone, "UTC+07:00");
        assert_eq!(p.location.id, farm);
        assert_eq!(p.location.region, "Battambang, KH");
        assert_eq!(p.ship_from.gln, "8841234000019");
        assert_eq!(
            (p.ship_to.id.as_str(), p.ship_to.name.as_str()),
            (mill.as_str(), "Mill")
        );
        assert_eq!(p.tlc_source.name, "=Farm, \"A\"");
        assert_eq!(p.doc_types, "desadv; inv");
        assert_eq!(
            p.doc_numbers,
            "urn:epcglobal:cbv:bt:8841234000019:D1; urn:epcglobal:cbv:bt:8841234000019:I1"
        );
        assert_eq!(p.status, "declared erroneous by entry 20");
        assert_eq!(p.index, "12");

        // Written and read back: the name is defused and quoted, the header comes first.
        let mut csv = Csv::new(10);
        csv.push_event(&x, &look).unwrap();
        assert_eq!(csv.rows(), 2);
        let text = csv.finish();
        let body = text.strip_prefix('\u{feff}').expect("byte order mark");
        let records = parse(body);
        assert_eq!(records[0], COLUMNS);
        assert_eq!(records.len(), 3);
        let name = COLUMNS.iter().position(|c| *c == "Ship-From Name").unwrap();
        assert_eq!(records[2][name], "'=Farm, \"A\"");
        assert!(records.iter().all(|r| r.len() == COLUMNS.len()));
    }

    #[test]
    fn the_row_cap_is_a_clear_refusal() {
        let farm = scenario::pgln(11);
        let x = exported(
            0,
            scenario::harvest(
                None,
                "2026-10-01T07:00:00+07:00",
                &scenario::lgtin(items::PADDY, "L9"),
                10.0,
                &farm,
                "rice",
                None,
                scenario::plot("P-1", "Preah Vihear", 1.0, 104.9, 13.8),
                "organic",
            ),
            &farm,
            "farm",
        );
        let look = Lookup::default();
        let r = rows(&x, &look);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].cte, "Harvesting");
        assert_eq!(r[0].growing_area, "P-1, Preah Vihear");
        assert_eq!((r[0].quantity.as_str(), r[0].uom.as_str()), ("10", "KGM"));
        let mut csv = Csv::new(1);
        csv.push_event(&x, &look).unwrap();
        let e = csv.push_event(&x, &look).unwrap_err();
        assert!(matches!(e, ExportError::TooLarge(_)), "{e}");
    }

    #[test]
    fn units_weigh_what_they_moved_and_packings_what_they_hold() {
        let exporter = scenario::pgln(41);
        let importer = scenario::pgln(99);
        let pallet = scenario::sscc(1);
        let bags: Vec<String> = (1..=3)
            .map(|s| scenario::sgtin(items::HEAD_RICE_BAG_50KG, s))
            .collect();
        let mut look = Lookup::default();
        for b in &bags {
            look.lots.insert(
                key(b),
                Some(lot(b, IdClass::Item, "head-rice", 50_000_000, &exporter)),
            );
        }
        let mut ship = exported(
            5,
            scenario::movement(
                true,
                "2026-10-29T07:00:00+07:00",
                &exporter,
                &importer,
                std::slice::from_ref(&pallet),
                &[],
            ),
            &exporter,
            "exporter",
        );
        ship.meta.effects = vec![Effect::Move {
            key: key(&pallet),
            from: crate::state::Place::Held {
                actor: exporter.clone(),
            },
            to: crate::state::Place::Transit {
                from: exporter.clone(),
                to: importer.clone(),
            },
            amount: 1,
            contents: bags.iter().map(|b| key(b)).collect(),
        }];
        let r = rows(&ship, &look);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].quantity.as_str(), r[0].net_kg.as_str()), ("1", "150"));

        let pack = exported(
            4,
            scenario::aggregation(true, "2026-10-26T10:00:00+07:00", &pallet, &bags),
            &exporter,
            "exporter",
        );
        let r = rows(&pack, &look);
        assert_eq!(r.len(), 4);
        assert_eq!(
            (r[0].lot_role.as_str(), r[0].net_kg.as_str()),
            ("parent", "150")
        );
        assert!(
            r[1..]
                .iter()
                .all(|c| c.lot_role == "child" && c.net_kg == "50")
        );
        assert!(r.iter().all(|c| c.cte == "Packing"));
    }
}
