//! The column mapping of `lotline import` (a TOML file, documented in docs/import.md) and the
//! translation of one spreadsheet row into one unsigned profile event.
//!
//! Pure: no I/O. [`Mapping::parse`] checks the mapping itself; [`Mapping::header`] checks a
//! header row against it; [`Columns::event`] turns a row into an event or into the list of
//! what is wrong with it, each naming the row and the column a person has to fix.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use lotline_scenario as scenario;

/// One thing wrong with the input: the row as a spreadsheet numbers it (the header is row 1),
/// the column by its header, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "row {}, column {:?}: {}",
            self.row, self.column, self.reason
        )
    }
}

/// The mapping file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    site: Site,
    columns: ColumnNames,
    #[serde(default)]
    record_types: RecordTypes,
    items: Items,
    /// Supplier codes as the mill writes them → actor ids.
    #[serde(default)]
    suppliers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Site {
    /// The importing actor (the mill): the receiver of receipts.
    actor: String,
    /// Where the records are made (an SGLN): the bizLocation of moisture checks.
    location: String,
    /// The site's offset from UTC, e.g. `+07:00`, for times written without one.
    utc_offset: String,
    /// The GS1 company prefix of the lot classes (LGTINs) made from lot codes.
    company_prefix: String,
    /// The mass unit of quantities when there is no unit column (or its cell is empty).
    #[serde(default = "default_unit")]
    unit: String,
}

fn default_unit() -> String {
    "KGM".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnNames {
    record_type: String,
    time: String,
    lot: String,
    quantity: Option<String>,
    unit: Option<String>,
    supplier: Option<String>,
    output_lot: Option<String>,
    head_rice: Option<String>,
    broken_rice: Option<String>,
    bran: Option<String>,
    husk: Option<String>,
    bags: Option<String>,
    bag_mass: Option<String>,
    epcs: Option<String>,
    moisture: Option<String>,
}

/// The words in the record-type column for each kind of record (matched without regard to
/// case or surrounding spaces).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordTypes {
    #[serde(default = "receipt_words")]
    receipt: Vec<String>,
    #[serde(default = "milling_words")]
    milling: Vec<String>,
    #[serde(default = "bagging_words")]
    bagging: Vec<String>,
    #[serde(default = "moisture_words")]
    moisture: Vec<String>,
}

fn receipt_words() -> Vec<String> {
    vec!["receipt".into()]
}
fn milling_words() -> Vec<String> {
    vec!["milling".into()]
}
fn bagging_words() -> Vec<String> {
    vec!["bagging".into()]
}
fn moisture_words() -> Vec<String> {
    vec!["moisture".into()]
}

impl Default for RecordTypes {
    fn default() -> Self {
        RecordTypes {
            receipt: receipt_words(),
            milling: milling_words(),
            bagging: bagging_words(),
            moisture: moisture_words(),
        }
    }
}

/// Item references (indicator digit + item reference) of the lot classes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Items {
    /// What is received, milled and checked for moisture.
    paddy: String,
    /// Milling outputs; head rice is also what bagging takes.
    head_rice: String,
    broken_rice: String,
    bran: String,
    husk: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Receipt,
    Milling,
    Bagging,
    Moisture,
}

/// Common spellings of mass units, to the UN/ECE Rec 20 codes the profile takes.
const UNIT_ALIASES: &[(&str, &str)] = &[
    ("kg", "KGM"),
    ("g", "GRM"),
    ("t", "TNE"),
    ("tonne", "TNE"),
    ("lb", "LBR"),
];

/// The longest lot code an LGTIN holds (GS1 AI 10).
const MAX_LOT_LEN: usize = 20;

impl Mapping {
    /// Parses and checks a mapping file's text.
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let m: Mapping = toml::from_str(text).map_err(|e| e.to_string())?;
        if parse_offset(&m.site.utc_offset).is_none() {
            return Err(format!(
                "site.utc_offset {:?} is not an offset like +07:00",
                m.site.utc_offset
            ));
        }
        let prefix = &m.site.company_prefix;
        if !(6..=12).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "site.company_prefix {prefix:?} is not a GS1 company prefix (6 to 12 digits)"
            ));
        }
        for (name, item) in [
            ("paddy", &m.items.paddy),
            ("head_rice", &m.items.head_rice),
            ("broken_rice", &m.items.broken_rice),
            ("bran", &m.items.bran),
            ("husk", &m.items.husk),
        ] {
            let uri = format!("urn:epc:class:lgtin:{prefix}.{item}.L1");
            gs1::parse_epc_uri(&uri).map_err(|e| {
                format!(
                    "items.{name} {item:?} is not an item reference for company prefix {prefix} ({e}); prefix and item reference have 13 digits together"
                )
            })?;
        }
        if unit_code(&m.site.unit).is_none() {
            return Err(format!(
                "site.unit {:?} is not a mass unit (KGM, GRM, TNE, LBR, …)",
                m.site.unit
            ));
        }
        check_uri("site.actor", &m.site.actor)?;
        check_uri("site.location", &m.site.location)?;
        for (code, actor) in &m.suppliers {
            check_uri(&format!("suppliers.{code}"), actor)?;
        }
        let mut seen = HashMap::new();
        for (kind, words) in [
            ("receipt", &m.record_types.receipt),
            ("milling", &m.record_types.milling),
            ("bagging", &m.record_types.bagging),
            ("moisture", &m.record_types.moisture),
        ] {
            for w in words {
                let key = w.trim().to_lowercase();
                if let Some(other) = seen.insert(key, kind)
                    && other != kind
                {
                    return Err(format!(
                        "record_types: {w:?} stands for both {other} and {kind}"
                    ));
                }
            }
        }
        Ok(m)
    }

    /// The columns the mapping names, as (mapping key, header).
    fn named(&self) -> Vec<(&'static str, &str)> {
        let c = &self.columns;
        let mut v = vec![
            ("record_type", c.record_type.as_str()),
            ("time", c.time.as_str()),
            ("lot", c.lot.as_str()),
        ];
        for (k, o) in [
            ("quantity", &c.quantity),
            ("unit", &c.unit),
            ("supplier", &c.supplier),
            ("output_lot", &c.output_lot),
            ("head_rice", &c.head_rice),
            ("broken_rice", &c.broken_rice),
            ("bran", &c.bran),
            ("husk", &c.husk),
            ("bags", &c.bags),
            ("bag_mass", &c.bag_mass),
            ("epcs", &c.epcs),
            ("moisture", &c.moisture),
        ] {
            if let Some(h) = o {
                v.push((k, h.as_str()));
            }
        }
        v
    }

    /// Matches the header row (row 1) against the mapping: every column it names must be
    /// there, once. Header cells are compared trimmed and without regard to case.
    pub fn header(&self, header: &[String]) -> Result<Columns<'_>, Vec<RowError>> {
        let mut index = HashMap::new();
        let mut errors = Vec::new();
        for (key, name) in self.named() {
            let found: Vec<usize> = header
                .iter()
                .enumerate()
                .filter(|(_, h)| h.trim().eq_ignore_ascii_case(name.trim()))
                .map(|(i, _)| i)
                .collect();
            match found.as_slice() {
                [i] => {
                    index.insert(key, *i);
                }
                [] => errors.push(RowError {
                    row: 1,
                    column: name.to_owned(),
                    reason: format!(
                        "the header has no such column (the mapping names it as columns.{key})"
                    ),
                }),
                _ => errors.push(RowError {
                    row: 1,
                    column: name.to_owned(),
                    reason: format!("the header has {} columns of this name", found.len()),
                }),
            }
        }
        if errors.is_empty() {
            Ok(Columns {
                map: self,
                index,
                offset: parse_offset(&self.site.utc_offset).unwrap_or(UtcOffset::UTC),
            })
        } else {
            Err(errors)
        }
    }

    fn kind_of(&self, word: &str) -> Option<Kind> {
        let w = word.trim();
        let is = |words: &[String]| words.iter().any(|x| x.trim().eq_ignore_ascii_case(w));
        let t = &self.record_types;
        if is(&t.receipt) {
            Some(Kind::Receipt)
        } else if is(&t.milling) {
            Some(Kind::Milling)
        } else if is(&t.bagging) {
            Some(Kind::Bagging)
        } else if is(&t.moisture) {
            Some(Kind::Moisture)
        } else {
            None
        }
    }

    fn known_words(&self) -> String {
        let t = &self.record_types;
        [
            ("receipt", &t.receipt),
            ("milling", &t.milling),
            ("bagging", &t.bagging),
            ("moisture", &t.moisture),
        ]
        .iter()
        .map(|(k, w)| format!("{k}: {}", w.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
    }
}

fn check_uri(what: &str, s: &str) -> Result<(), String> {
    let ok = s
        .split_once(':')
        .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty())
        && !s.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(format!("{what} {s:?} is not an absolute URI"))
    }
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    let fmt = format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    UtcOffset::parse(s.trim(), &fmt).ok()
}

fn unit_code(s: &str) -> Option<&'static str> {
    let s = s.trim();
    for code in [
        "MGM", "GRM", "KGM", "DTN", "TNE", "LBR", "ONZ", "STN", "LTN",
    ] {
        if s == code {
            return Some(code);
        }
    }
    UNIT_ALIASES
        .iter()
        .find(|(alias, _)| s.eq_ignore_ascii_case(alias))
        .map(|(_, code)| *code)
}

/// A header matched against the mapping: turns rows into events.
pub struct Columns<'m> {
    map: &'m Mapping,
    index: HashMap<&'static str, usize>,
    offset: UtcOffset,
}

/// One row's event: its kind and the unsigned event with its CBV event hash ID.
#[derive(Debug, Clone)]
pub struct RowEvent {
    pub row: usize,
    pub kind: Kind,
    pub event: Value,
    /// The bags' pure-identity SGTINs (bagging), to find a bag tagged twice.
    pub bags: Vec<String>,
}

impl RowEvent {
    pub fn event_id(&self) -> &str {
        self.event["eventID"].as_str().unwrap_or("")
    }
}

/// Gathers a row's errors while its cells are read.
struct Cells<'a, 'm> {
    cols: &'a Columns<'m>,
    cells: &'a [String],
    row: usize,
    errors: Vec<RowError>,
}

impl Cells<'_, '_> {
    fn header(&self, key: &str) -> String {
        let c = &self.cols.map.columns;
        let name = match key {
            "record_type" => Some(&c.record_type),
            "time" => Some(&c.time),
            "lot" => Some(&c.lot),
            "quantity" => c.quantity.as_ref(),
            "unit" => c.unit.as_ref(),
            "supplier" => c.supplier.as_ref(),
            "output_lot" => c.output_lot.as_ref(),
            "head_rice" => c.head_rice.as_ref(),
            "broken_rice" => c.broken_rice.as_ref(),
            "bran" => c.bran.as_ref(),
            "husk" => c.husk.as_ref(),
            "bags" => c.bags.as_ref(),
            "bag_mass" => c.bag_mass.as_ref(),
            "epcs" => c.epcs.as_ref(),
            "moisture" => c.moisture.as_ref(),
            _ => None,
        };
        name.cloned().unwrap_or_else(|| format!("columns.{key}"))
    }

    fn error(&mut self, key: &str, reason: impl Into<String>) {
        let column = self.header(key);
        self.errors.push(RowError {
            row: self.row,
            column,
            reason: reason.into(),
        });
    }

    /// The trimmed cell of `key`, `None` when the column is not mapped or the cell is empty.
    fn get(&self, key: &str) -> Option<&str> {
        let i = *self.cols.index.get(key)?;
        self.cells
            .get(i)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// A cell the record needs: an error naming the column when it is empty or not mapped.
    fn need(&mut self, key: &str, what: &str) -> Option<String> {
        match self.get(key) {
            Some(v) => Some(v.to_owned()),
            None => {
                let reason = if self.cols.index.contains_key(key) {
                    format!("empty; {what}")
                } else {
                    format!("the mapping has no columns.{key}; {what}")
                };
                self.error(key, reason);
                None
            }
        }
    }

    fn time(&mut self) -> Option<String> {
        let v = self.need("time", "every record needs its time")?;
        match parse_time(&v, self.cols.offset) {
            Some(t) => Some(t),
            None => {
                self.error(
                    "time",
                    format!(
                        "{v:?} is not a date and time (write YYYY-MM-DD HH:MM, in the site's time {})",
                        self.cols.map.site.utc_offset
                    ),
                );
                None
            }
        }
    }

    /// A mass > 0 in `key`, required or not.
    fn mass(&mut self, key: &str, required: Option<&str>) -> Option<f64> {
        let v = match required {
            Some(what) => self.need(key, what)?,
            None => self.get(key)?.to_owned(),
        };
        match parse_number(&v) {
            Some(x) if x > 0.0 => Some(x),
            Some(_) => {
                self.error(key, format!("{v} is not a mass: it must be more than 0"));
                None
            }
            None => {
                self.error(key, format!("{v:?} is not a number"));
                None
            }
        }
    }

    fn unit(&mut self) -> Option<&'static str> {
        let default = unit_code(&self.cols.map.site.unit);
        match self.get("unit").map(str::to_owned) {
            None => default,
            Some(u) => match unit_code(&u) {
                Some(c) => Some(c),
                None => {
                    self.error(
                        "unit",
                        format!(
                            "{u:?} is not a mass unit (KGM, GRM, TNE, DTN, LBR, ONZ, STN, LTN, MGM, or kg, g, t, lb)"
                        ),
                    );
                    None
                }
            },
        }
    }

    /// A lot code (or a whole LGTIN URI) in `key` as the LGTIN of `item`.
    fn lot(&mut self, key: &str, item: &str, what: &str) -> Option<String> {
        let v = self.need(key, what)?;
        match lgtin(&self.cols.map.site.company_prefix, item, &v) {
            Ok(uri) => Some(uri),
            Err(reason) => {
                self.error(key, reason);
                None
            }
        }
    }
}

/// The LGTIN of lot code `code` (or `code` itself when it is an LGTIN URI already).
fn lgtin(prefix: &str, item: &str, code: &str) -> Result<String, String> {
    if code.starts_with("urn:epc:class:lgtin:") {
        return gs1::parse_epc_uri(code)
            .map(|id| id.to_urn())
            .map_err(|e| format!("{code:?} is not an LGTIN: {e}"));
    }
    if code.len() > MAX_LOT_LEN {
        return Err(format!(
            "lot code {code:?} is longer than {MAX_LOT_LEN} characters"
        ));
    }
    if let Some(c) = code
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._".contains(*c)))
    {
        return Err(format!(
            "lot code {code:?} has {c:?}; use letters, digits, '-', '.' and '_'"
        ));
    }
    let uri = format!("urn:epc:class:lgtin:{prefix}.{item}.{code}");
    gs1::parse_epc_uri(&uri)
        .map(|id| id.to_urn())
        .map_err(|e| format!("lot code {code:?}: {e}"))
}

/// A decimal number with `.` as the decimal mark (no thousands separators).
fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let ok = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|&b| b == b'.').count() <= 1
        && body.bytes().any(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A time as written in the sheet: `YYYY-MM-DD HH:MM[:SS]` (or with `T`) in the site's
/// offset, or RFC 3339 with an offset of its own. Returns RFC 3339 with the offset.
fn parse_time(s: &str, offset: UtcOffset) -> Option<String> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return t.format(&Rfc3339).ok();
    }
    let formats = [
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    ];
    let local = formats
        .iter()
        .find_map(|f| PrimitiveDateTime::parse(s, f).ok())?;
    local.assume_offset(offset).format(&Rfc3339).ok()
}

/// The bags' EPCs in a cell: SGTIN pure identities, EPC raw URIs or the reader's bare hex,
/// separated by spaces, commas, semicolons or `|`. Returns (as sent, pure identity) pairs.
fn parse_epcs(cell: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for token in cell
        .split(|c: char| c.is_whitespace() || ",;|".contains(c))
        .filter(|t| !t.is_empty())
    {
        let sent = if token.starts_with("urn:") {
            token.to_owned()
        } else if token.bytes().all(|b| b.is_ascii_hexdigit()) {
            gs1::tds::hex_to_raw_uri(token)
                .map_err(|e| format!("{token:?} is not an RFID EPC: {e}"))?
        } else {
            return Err(format!(
                "{token:?} is not an RFID EPC (an SGTIN URI, an EPC raw URI or the tag's hex)"
            ));
        };
        let n = gs1::tds::normalize_epc(&sent)
            .map_err(|e| format!("{token:?} is not an RFID EPC: {e}"))?;
        if !n.pure_identity.starts_with("urn:epc:id:sgtin:") {
            return Err(format!(
                "{token:?} is {}, not a bag's SGTIN",
                n.pure_identity
            ));
        }
        if let Some((first, _)) = out.iter().find(|(_, p)| *p == n.pure_identity) {
            return Err(format!(
                "{token:?} is the same tag as {first:?} ({})",
                n.pure_identity
            ));
        }
        out.push((sent, n.pure_identity));
    }
    Ok(out)
}

/// A quantity element.
fn quantity(class: &str, x: f64, uom: &str) -> Value {
    json!({"epcClass": class, "quantity": scenario::number(x), "uom": uom})
}

/// A moisture reading as a sensor element at `time`.
fn moisture_element(time: &str, pct: f64) -> Value {
    json!([{"sensorMetadata": {"time": time}, "sensorReport": [scenario::moisture(pct)]}])
}

/// `x` rounded to micro-units, so that sums and products of decimal cells stay decimal.
fn micro(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl Columns<'_> {
    /// Turns data row `row` (its number as the spreadsheet shows it) into an event. `Ok(None)`
    /// for an empty row.
    pub fn event(&self, row: usize, cells: &[String]) -> Result<Option<RowEvent>, Vec<RowError>> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return Ok(None);
        }
        let mut c = Cells {
            cols: self,
            cells,
            row,
            errors: Vec::new(),
        };
        let kind = match c.need("record_type", "every row needs its record type") {
            None => None,
            Some(word) => match self.map.kind_of(&word) {
                Some(k) => Some(k),
                None => {
                    let known = self.map.known_words();
                    c.error(
                        "record_type",
                        format!("unknown record type {word:?} (the mapping knows {known})"),
                    );
                    None
                }
            },
        };
        let time = c.time();
        let built = match kind {
            Some(Kind::Receipt) => self.receipt(&mut c, time.as_deref()),
            Some(Kind::Milling) => self.milling(&mut c, time.as_deref()),
            Some(Kind::Bagging) => self.bagging(&mut c, time.as_deref()),
            Some(Kind::Moisture) => self.moisture(&mut c, time.as_deref()),
            None => None,
        };
        if !c.errors.is_empty() {
            return Err(c.errors);
        }
        let (Some(kind), Some((mut event, bags))) = (kind, built) else {
            // Every path that builds nothing names an error.
            return Err(vec![RowError {
                row,
                column: c.header("record_type"),
                reason: "the row cannot be read".to_owned(),
            }]);
        };
        if let Some(e) = event.as_object_mut() {
            e.remove("eventID");
        }
        match lotline_profile::event_hash::event_hash_id_with_context(&event, None) {
            Ok(id) => event["eventID"] = Value::String(id),
            Err(e) => {
                return Err(vec![RowError {
                    row,
                    column: c.header("record_type"),
                    reason: format!("no event hash ID: {e}"),
                }]);
            }
        }
        Ok(Some(RowEvent {
            row,
            kind,
            event,
            bags,
        }))
    }

    fn receipt(&self, c: &mut Cells, time: Option<&str>) -> Option<(Value, Vec<String>)> {
        let what = "a receipt needs it";
        let lot = c.lot("lot", &self.map.items.paddy, "a receipt needs the lot code");
        let qty = c.mass("quantity", Some("a receipt needs the mass received"));
        let unit = c.unit();
        let supplier = c.need("supplier", what).and_then(|s| {
            if let Some(actor) = self.map.suppliers.get(&s) {
                Some(actor.clone())
            } else if s.starts_with("urn:") || s.contains("://") {
                Some(s)
            } else {
                let known: Vec<&str> = self.map.suppliers.keys().map(String::as_str).collect();
                c.error(
                    "supplier",
                    format!(
                        "unknown supplier {s:?}: neither an actor id (a URI) nor a code of the mapping's [suppliers] ({})",
                        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                    ),
                );
                None
            }
        });
        let moisture = self.moisture_cell(c, false);
        let (time, lot, qty, unit, supplier) = (time?, lot?, qty?, unit?, supplier?);
        let mut e = scenario::movement(
            false,
            time,
            &supplier,
            &self.map.site.actor,
            &[],
            &[quantity(&lot, qty, unit)],
        );
        if let Some(m) = moisture? {
            e["sensorElementList"] = moisture_element(time, m);
        }
        Some((e, Vec::new()))
    }

    /// The moisture cell: `Some(None)` when empty and not required, `None` on an error.
    fn moisture_cell(&self, c: &mut Cells, required: bool) -> Option<Option<f64>> {
        let v = if required {
            c.need("moisture", "a moisture record needs the reading")?
        } else {
            match c.get("moisture") {
                None => return Some(None),
                Some(v) => v.to_owned(),
            }
        };
        match parse_number(&v) {
            Some(x) if (0.0..=100.0).contains(&x) => Some(Some(x)),
            Some(_) => {
                c.error(
                    "moisture",
                    format!("{v} is not a moisture content: a percentage is 0 to 100"),
                );
                None
            }
            None => {
                c.error("moisture", format!("{v:?} is not a number"));
                None
            }
        }
    }

    fn milling(&self, c: &mut Cells, time: Option<&str>) -> Option<(Value, Vec<String>)> {
        let items = &self.map.items;
        let input = c.lot(
            "lot",
            &items.paddy,
            "a milling run needs the paddy lot it mills",
        );
        let qty = c.mass(
            "quantity",
            Some("a milling run needs the paddy mass milled"),
        );
        let unit = c.unit();
        let out_lot = c.need(
            "output_lot",
            "a milling run needs the lot code of its outputs",
        );
        let mut outputs = Vec::new();
        let mut bad = false;
        for (key, item, product) in [
            ("head_rice", &items.head_rice, "head-rice"),
            ("broken_rice", &items.broken_rice, "broken-rice"),
            ("bran", &items.bran, "bran"),
            ("husk", &items.husk, "husk"),
        ] {
            let Some(v) = c.get(key).map(str::to_owned) else {
                continue;
            };
            match parse_number(&v) {
                // An output the run did not make this time.
                Some(0.0) => {}
                Some(x) if x > 0.0 => outputs.push((key, item, product, x)),
                Some(_) => {
                    c.error(key, format!("{v} is not a mass: it must be 0 or more"));
                    bad = true;
                }
                None => {
                    c.error(key, format!("{v:?} is not a number"));
                    bad = true;
                }
            }
        }
        if outputs.is_empty() && !bad {
            let key = if self.map.columns.head_rice.is_some() {
                "head_rice"
            } else {
                "output_lot"
            };
            c.error(
                key,
                "a milling run needs at least one output mass (head rice, broken rice, bran or husk)",
            );
            return None;
        }
        let prefix = &self.map.site.company_prefix;
        let mut classes = Vec::new();
        if let Some(code) = &out_lot {
            for (_, item, product, x) in &outputs {
                match lgtin(prefix, item, code) {
                    Ok(class) => classes.push((class, *x, Some(*product))),
                    Err(reason) => {
                        c.error("output_lot", reason);
                        return None;
                    }
                }
            }
        }
        let (time, input, qty, unit, _) = (time?, input?, qty?, unit?, out_lot?);
        let total = micro(outputs.iter().map(|o| o.3).sum());
        if total > qty {
            c.error(
                "quantity",
                format!("the outputs weigh {total}, more than the {qty} milled"),
            );
            return None;
        }
        let mut e = scenario::transform(time, "milling", &[quantity(&input, qty, unit)], &classes);
        if unit != "KGM"
            && let Some(list) = e["outputQuantityList"].as_array_mut()
        {
            for q in list {
                q["uom"] = json!(unit);
            }
        }
        Some((e, Vec::new()))
    }

    fn bagging(&self, c: &mut Cells, time: Option<&str>) -> Option<(Value, Vec<String>)> {
        let input = c.lot(
            "lot",
            &self.map.items.head_rice,
            "bagging needs the lot code of the rice it bags",
        );
        let bag_mass = c.mass("bag_mass", Some("bagging needs the mass of one bag"));
        let unit = c.unit();
        let epcs = c
            .need("epcs", "bagging needs the bags' RFID EPCs")
            .and_then(|cell| match parse_epcs(&cell) {
                Ok(v) if v.is_empty() => {
                    c.error("epcs", "no EPC in the cell");
                    None
                }
                Ok(v) => Some(v),
                Err(reason) => {
                    c.error("epcs", reason);
                    None
                }
            });
        let count = match c.get("bags").map(str::to_owned) {
            None => None,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    c.error("bags", format!("{v:?} is not a number of bags (1 or more)"));
                    return None;
                }
            },
        };
        if let (Some(n), Some(e)) = (count, &epcs)
            && n != e.len()
        {
            c.error(
                "epcs",
                format!("{} EPCs read, but the row says {n} bags", e.len()),
            );
            return None;
        }
        let qty = match c.get("quantity") {
            Some(_) => Some(c.mass("quantity", None)?),
            None => None,
        };
        let (time, input, bag_mass, unit, epcs) = (time?, input?, bag_mass?, unit?, epcs?);
        let bags_total = micro(bag_mass * epcs.len() as f64);
        let qty = qty.unwrap_or(bags_total);
        if qty < bags_total {
            c.error(
                "quantity",
                format!(
                    "{qty} bagged, but {} bags of {bag_mass} weigh {bags_total}",
                    epcs.len()
                ),
            );
            return None;
        }
        let sent: Vec<String> = epcs.iter().map(|(s, _)| s.clone()).collect();
        let mut e = scenario::bagging(time, quantity(&input, qty, unit), &sent, bag_mass);
        e["ilmd"]["lotline:itemQuantity"]["uom"] = json!(unit);
        Some((e, epcs.into_iter().map(|(_, p)| p).collect()))
    }

    fn moisture(&self, c: &mut Cells, time: Option<&str>) -> Option<(Value, Vec<String>)> {
        let lot = c.lot(
            "lot",
            &self.map.items.paddy,
            "a moisture check needs the lot code",
        );
        let qty = c.mass("quantity", Some("a moisture check needs the mass checked"));
        let unit = c.unit();
        let pct = self.moisture_cell(c, true);
        let (time, lot, qty, unit, pct) = (time?, lot?, qty?, unit?, pct??);
        let e = scenario::observation(
            false,
            time,
            &self.map.site.location,
            &[],
            &[quantity(&lot, qty, unit)],
            moisture_element(time, pct),
        );
        Some((e, Vec::new()))
    }
}

/// Checks across rows: the same record twice (same event hash ID) and a bag tagged in two
/// bagging rows.
pub fn cross_check(events: &[RowEvent], type_column: &str, epc_column: &str) -> Vec<RowError> {
    let mut errors = Vec::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut bags: HashMap<&str, usize> = HashMap::new();
    for e in events {
        if let Some(first) = ids.insert(e.event_id(), e.row) {
            ids.insert(e.event_id(), first);
            errors.push(RowError {
                row: e.row,
                column: type_column.to_owned(),
                reason: format!("the same record as row {first} (a row entered twice?)"),
            });
            continue;
        }
        for b in &e.bags {
            if let Some(first) = bags.get(b.as_str()) {
                errors.push(RowError {
                    row: e.row,
                    column: epc_column.to_owned(),
                    reason: format!("bag {b} was already bagged in row {first}"),
                });
                break;
            }
        }
        for b in &e.bags {
            bags.entry(b.as_str()).or_insert(e.row);
        }
    }
    errors
}

impl Mapping {
    /// The headers of the record-type and EPC columns, for [`cross_check`].
    pub fn cross_columns(&self) -> (String, String) {
        (
            self.columns.record_type.clone(),
            self.columns
                .epcs
                .clone()
                .unwrap_or_else(|| "columns.epcs".to_owned()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPPING: &str = r#"
[site]
actor = "urn:epc:id:pgln:8841234.00021"
location = "urn:epc:id:sgln:8841234.00021.0"
utc_offset = "+07:00"
company_prefix = "8841234"

[columns]
record_type = "Record"
time = "Time"
lot = "Lot"
quantity = "Qty"
unit = "Unit"
supplier = "Supplier"
output_lot = "Output lot"
head_rice = "Head rice"
broken_rice = "Broken"
bran = "Bran"
husk = "Husk"
bags = "Bags"
bag_mass = "Bag mass"
epcs = "RFID"
moisture = "Moisture %"

[record_types]
receipt = ["RCV"]
milling = ["MILL"]
bagging = ["BAG"]
moisture = ["MOIST"]

[items]
paddy = "010001"
head_rice = "020001"
broken_rice = "020002"
bran = "020003"
husk = "020004"

[suppliers]
F1 = "urn:epc:id:pgln:8841234.00001"
"#;

    const HEADER: &[&str] = &[
        "Record",
        "Time",
        "Lot",
        "Qty",
        "Unit",
        "Supplier",
        "Output lot",
        "Head rice",
        "Broken",
        "Bran",
        "Husk",
        "Bags",
        "Bag mass",
        "RFID",
        "Moisture %",
    ];

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A row from `column=value` pairs.
    fn row(pairs: &[(&str, &str)]) -> Vec<String> {
        HEADER
            .iter()
            .map(|h| {
                pairs
                    .iter()
                    .find(|(k, _)| k == h)
                    .map_or(String::new(), |(_, v)| (*v).to_owned())
            })
            .collect()
    }

    fn check(pairs: &[(&str, &str)]) -> Result<Value, Vec<String>> {
        let m = Mapping::parse(MAPPING).unwrap();
        let cols = m.header(&strings(HEADER)).unwrap();
        match cols.event(7, &row(pairs)) {
            Ok(Some(e)) => Ok(e.event),
            Ok(None) => Err(vec!["empty".into()]),
            Err(errs) => Err(errs.iter().map(ToString::to_string).collect()),
        }
    }

    fn errors(pairs: &[(&str, &str)]) -> Vec<String> {
        check(pairs).expect_err("the row should be refused")
    }

    const RECEIPT: &[(&str, &str)] = &[
        ("Record", "RCV"),
        ("Time", "2026-10-16 08:30"),
        ("Lot", "P-0001"),
        ("Qty", "1200.5"),
        ("Supplier", "F1"),
    ];

    #[test]
    fn a_receipt_becomes_a_receiving_event() {
        let e = check(RECEIPT).unwrap();
        assert_eq!(e["bizStep"], "receiving");
        assert_eq!(e["eventTime"], "2026-10-16T08:30:00+07:00");
        assert_eq!(e["eventTimeZoneOffset"], "+07:00");
        assert_eq!(
            e["quantityList"],
            json!([{"epcClass": "urn:epc:class:lgtin:8841234.010001.P-0001", "quantity": 1200.5, "uom": "KGM"}])
        );
        assert_eq!(
            e["sourceList"][0]["source"],
            "urn:epc:id:pgln:8841234.00001"
        );
        assert_eq!(
            e["destinationList"][0]["destination"],
            "urn:epc:id:pgln:8841234.00021"
        );
        let id = e["eventID"].as_str().unwrap();
        assert!(id.starts_with("ni:///sha-256;"), "{id}");
        // The same row, the same ID; a changed cell, another.
        assert_eq!(check(RECEIPT).unwrap()["eventID"], e["eventID"]);
        let mut other = RECEIPT.to_vec();
        other[3] = ("Qty", "1200.6");
        assert_ne!(check(&other).unwrap()["eventID"], e["eventID"]);
        // A moisture reading on receipt rides along; a unit alias is the Rec 20 code.
        let mut wet = RECEIPT.to_vec();
        wet.push(("Moisture %", "14.2"));
        wet.push(("Unit", "t"));
        let e = check(&wet).unwrap();
        assert_eq!(e["quantityList"][0]["uom"], "TNE");
        assert_eq!(e["sensorElementList"][0]["sensorReport"][0]["value"], 14.2);
    }

    #[test]
    fn a_milling_run_names_its_products() {
        let e = check(&[
            ("Record", "mill"),
            ("Time", "2026-10-16T13:00:00+07:00"),
            ("Lot", "P-0001"),
            ("Qty", "1000"),
            ("Output lot", "M-16A"),
            ("Head rice", "550"),
            ("Broken", "100"),
            ("Bran", "90"),
            ("Husk", "0"),
        ])
        .unwrap();
        assert_eq!(e["bizStep"], "lotline:milling");
        assert_eq!(
            e["outputQuantityList"],
            json!([
                {"epcClass": "urn:epc:class:lgtin:8841234.020001.M-16A", "quantity": 550, "uom": "KGM"},
                {"epcClass": "urn:epc:class:lgtin:8841234.020002.M-16A", "quantity": 100, "uom": "KGM"},
                {"epcClass": "urn:epc:class:lgtin:8841234.020003.M-16A", "quantity": 90, "uom": "KGM"},
            ])
        );
        assert_eq!(e["ilmd"]["lotline:products"][0]["product"], "head-rice");
        assert_eq!(e["ilmd"]["lotline:products"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn bagging_takes_sgtins_raw_uris_and_reader_hex() {
        let bag1 = scenario::sgtin("030001", 1001);
        let raw2 = scenario::raw_uri(&scenario::sgtin("030001", 1002));
        let hex3 = gs1::tds::raw_uri_to_hex(&scenario::raw_uri(&scenario::sgtin("030001", 1003)))
            .unwrap()
            .to_lowercase();
        let cell = format!("{bag1}; {raw2} {hex3}");
        let e = check(&[
            ("Record", "BAG"),
            ("Time", "2026-10-16 15:00"),
            ("Lot", "M-16A"),
            ("Bags", "3"),
            ("Bag mass", "50"),
            ("RFID", &cell),
        ])
        .unwrap();
        assert_eq!(e["bizStep"], "lotline:bagging");
        assert_eq!(
            e["inputQuantityList"],
            json!([{"epcClass": "urn:epc:class:lgtin:8841234.020001.M-16A", "quantity": 150, "uom": "KGM"}])
        );
        let out = e["outputEPCList"].as_array().unwrap();
        assert_eq!(out[0], json!(bag1));
        assert_eq!(out[1], json!(raw2));
        assert!(out[2].as_str().unwrap().starts_with("urn:epc:raw:96.x"));
        assert_eq!(
            e["ilmd"]["lotline:itemQuantity"],
            json!({"quantity": 50, "uom": "KGM"})
        );
    }

    #[test]
    fn a_moisture_check_is_an_inspection_at_the_site() {
        let e = check(&[
            ("Record", "MOIST"),
            ("Time", "2026-10-16 09:00"),
            ("Lot", "P-0001"),
            ("Qty", "1200"),
            ("Moisture %", "13.8"),
        ])
        .unwrap();
        assert_eq!(e["bizStep"], "inspecting");
        assert_eq!(e["bizLocation"]["id"], "urn:epc:id:sgln:8841234.00021.0");
        assert_eq!(e["sensorElementList"][0]["sensorReport"][0]["uom"], "P1");
    }

    #[test]
    fn bad_cells_are_named_by_row_and_column() {
        let with = |changes: &[(&'static str, &'static str)]| {
            let mut r: Vec<(&str, &str)> = RECEIPT.to_vec();
            for (k, v) in changes {
                r.retain(|(k2, _)| k2 != k);
                r.push((k, v));
            }
            errors(&r)
        };
        assert_eq!(
            with(&[("Time", "2026-02-30 08:00")]),
            [
                "row 7, column \"Time\": \"2026-02-30 08:00\" is not a date and time (write YYYY-MM-DD HH:MM, in the site's time +07:00)"
            ]
        );
        assert_eq!(
            with(&[("Record", "WASH")]),
            [
                "row 7, column \"Record\": unknown record type \"WASH\" (the mapping knows receipt: RCV; milling: MILL; bagging: BAG; moisture: MOIST)"
            ]
        );
        assert_eq!(
            with(&[("Qty", "-40")]),
            ["row 7, column \"Qty\": -40 is not a mass: it must be more than 0"]
        );
        assert_eq!(
            with(&[("Qty", "1,200")]),
            ["row 7, column \"Qty\": \"1,200\" is not a number"]
        );
        assert_eq!(
            with(&[("Supplier", "")]),
            ["row 7, column \"Supplier\": empty; a receipt needs it"]
        );
        assert_eq!(
            with(&[("Supplier", "F9")]),
            [
                "row 7, column \"Supplier\": unknown supplier \"F9\": neither an actor id (a URI) nor a code of the mapping's [suppliers] (F1)"
            ]
        );
        assert_eq!(
            with(&[("Lot", "P 1")]),
            [
                "row 7, column \"Lot\": lot code \"P 1\" has ' '; use letters, digits, '-', '.' and '_'"
            ]
        );
        assert_eq!(
            with(&[("Unit", "bushel")]),
            [
                "row 7, column \"Unit\": \"bushel\" is not a mass unit (KGM, GRM, TNE, DTN, LBR, ONZ, STN, LTN, MGM, or kg, g, t, lb)"
            ]
        );
        assert_eq!(
            with(&[("Moisture %", "140")]),
            [
                "row 7, column \"Moisture %\": 140 is not a moisture content: a percentage is 0 to 100"
            ]
        );
        // Several at once: each is named.
        assert_eq!(with(&[("Time", "x"), ("Qty", "0")]).len(), 2);
    }

    #[test]
    fn bad_bagging_rows() {
        let bag = |rfid: &'static str, bags: &'static str| {
            errors(&[
                ("Record", "BAG"),
                ("Time", "2026-10-16 15:00"),
                ("Lot", "M-16A"),
                ("Bags", bags),
                ("Bag mass", "50"),
                ("RFID", rfid),
            ])
        };
        let e = bag("30340D2C0FFFFFZZ00000001", "1");
        assert!(
            e[0].starts_with(
                "row 7, column \"RFID\": \"30340D2C0FFFFFZZ00000001\" is not an RFID EPC"
            ),
            "{e:?}"
        );
        let e = bag(
            "urn:epc:id:sgtin:8841234.030001.1 urn:epc:id:sgtin:8841234.030001.2",
            "3",
        );
        assert_eq!(
            e,
            ["row 7, column \"RFID\": 2 EPCs read, but the row says 3 bags"]
        );
        let e = bag(
            "urn:epc:id:sgtin:8841234.030001.1 urn:epc:id:sgtin:8841234.030001.1",
            "2",
        );
        assert!(e[0].contains("is the same tag as"), "{e:?}");
        let e = bag("urn:epc:id:sscc:8841234.0000000001", "1");
        assert!(e[0].contains("not a bag's SGTIN"), "{e:?}");
        let e = bag("", "1");
        assert_eq!(
            e,
            ["row 7, column \"RFID\": empty; bagging needs the bags' RFID EPCs"]
        );
    }

    #[test]
    fn the_header_must_hold_every_mapped_column() {
        let m = Mapping::parse(MAPPING).unwrap();
        let mut h = strings(HEADER);
        h.retain(|c| c != "Bran");
        h.push("qty".into());
        let errs: Vec<String> = m
            .header(&h)
            .err()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "row 1, column \"Qty\": the header has 2 columns of this name",
                "row 1, column \"Bran\": the header has no such column (the mapping names it as columns.bran)",
            ]
        );
    }

    #[test]
    fn empty_rows_are_skipped() {
        let m = Mapping::parse(MAPPING).unwrap();
        let cols = m.header(&strings(HEADER)).unwrap();
        assert!(cols.event(3, &vec![" ".into(); 4]).unwrap().is_none());
    }

    #[test]
    fn bad_mappings_are_refused() {
        let bad = |from: &str, to: &str| Mapping::parse(&MAPPING.replace(from, to)).unwrap_err();
        assert!(bad("+07:00", "7h").contains("site.utc_offset"));
        assert!(bad("\"8841234\"", "\"88a\"").contains("company_prefix"));
        assert!(bad("\"020004\"", "\"02004\"").contains("items.husk"));
        assert!(bad("[\"BAG\"]", "[\"RCV\"]").contains("stands for both"));
        assert!(bad("quantity = ", "quantiy = ").contains("unknown field"));
    }

    #[test]
    fn duplicated_rows_and_twice_bagged_tags_are_found() {
        let m = Mapping::parse(MAPPING).unwrap();
        let cols = m.header(&strings(HEADER)).unwrap();
        let bag = |n: usize, rfid: &str| {
            cols.event(
                n,
                &row(&[
                    ("Record", "BAG"),
                    ("Time", &format!("2026-10-16 15:0{n}")),
                    ("Lot", "M-16A"),
                    ("Bag mass", "50"),
                    ("RFID", rfid),
                ]),
            )
            .unwrap()
            .unwrap()
        };
        let r = cols.event(2, &row(RECEIPT)).unwrap().unwrap();
        let mut r3 = r.clone();
        r3.row = 3;
        let events = vec![
            r,
            r3,
            bag(4, "urn:epc:id:sgtin:8841234.030001.1"),
            bag(
                5,
                "urn:epc:id:sgtin:8841234.030001.2 urn:epc:id:sgtin:8841234.030001.1",
            ),
        ];
        let (t, e) = m.cross_columns();
        let errs: Vec<String> = cross_check(&events, &t, &e)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "row 3, column \"Record\": the same record as row 2 (a row entered twice?)",
                "row 5, column \"RFID\": bag urn:epc:id:sgtin:8841234.030001.1 was already bagged in row 4",
            ]
        );
    }
}
