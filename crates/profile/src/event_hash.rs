//! The GS1 CBV 2.0 event hash ID of an EPCIS 2.0 event (JSON / JSON-LD form).
//!
//! GS1 Core Business Vocabulary 2.0, section "Event hash ID" (the EPCIS event hash generation
//! algorithm), defines an identifier that is intrinsic to an event's content: the SHA-256 of a
//! canonical "pre-hash string", written as the RFC 6920 named-information URI
//! `ni:///sha-256;<lowercase hex>?ver=CBV2.0`. Different serialisations of the same event
//! (field order, EPC URN vs GS1 Digital Link, local time vs UTC, `departing` vs
//! `urn:epcglobal:cbv:bizstep:departing`) give the same ID, so a partner can recompute it.
//!
//! The pre-hash string follows the reference implementation of the algorithm
//! (github.com/RalphTro/epcis-event-hash-generator, whose `tests/examples/expected/CBV2.0`
//! files are the published vectors; `tests/event_hash_vectors.rs` checks a selection):
//!
//! - `eventType=<type>`, then the standard fields in the fixed CBV order, each as
//!   `name=value` with no separator; list wrappers as bare names (`epcListepc=...epc=...`).
//!   Elements of a list are sorted as strings (lexical, byte order) so that the order in which
//!   the sender listed EPCs, quantities, business transactions, sources, destinations, sensor
//!   elements or sensor reports does not matter.
//! - Then every remaining field (ILMD, user extensions, extensions nested inside standard
//!   fields) as `{namespace}localName=value`, nested elements after their parent, siblings
//!   sorted as strings.
//! - Left out: `eventID` (the hash is meant to populate it), `recordTime` (set by the
//!   repository, not the capturer), `errorDeclaration` (added later, the event is the same),
//!   `certificationInfo` (outside the CBV property order), JSON-LD keywords (`@context`, ...),
//!   and a Data Integrity `proof` (it secures the event; it is not part of it).
//! - Unprefixed members of an extension object are in the namespace of the object's own name
//!   (as unprefixed child elements in XML's binding).
//! - Values: trimmed; times (fields whose name contains `time`, but not `offset`) to UTC at
//!   millisecond precision (`2020-03-04T10:00:30.000Z`); numbers without trailing zeros
//!   (`23.0` -> `23`); CBV URNs and bare CBV terms to their Web URIs
//!   (`https://ref.gs1.org/cbv/BizStep-receiving`), bare sensor types and exceptions to GS1
//!   Web Vocabulary URIs (`https://ref.gs1.org/voc/Temperature`); GS1 keys (EPC URNs, EPC
//!   class and ID pattern URIs, Digital Link URIs on any host) to a constrained canonical
//!   Digital Link URI on `https://id.gs1.org` holding only the finest identification level.
//!
//! Not covered: the XML binding (callers hash the JSON form), JSON-LD context documents beyond
//! prefix declarations (`{"prefix": "namespace"}` objects), and the CBV 2.1 variant of the
//! pre-hash. Pure: no I/O, no clock, no panics.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Why an event has no hash ID: the algorithm is defined for well-formed EPCIS 2.0 events only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("the event is not a JSON object")]
    NotAnObject,
    #[error("the event has no \"type\"")]
    MissingEventType,
    #[error("unsupported event type {0:?}")]
    UnsupportedEventType(String),
    #[error("field {field:?} should be {expected}")]
    InvalidField {
        field: String,
        expected: &'static str,
    },
    #[error("field {field:?} is not an RFC 3339 date-time with offset: {value:?}")]
    InvalidTime { field: String, value: String },
    #[error("field {key:?} is neither an EPCIS field nor a prefixed extension")]
    UnsupportedField { key: String },
}

const HASH_PREFIX: &str = "ni:///sha-256;";
const HASH_SUFFIX: &str = "?ver=CBV2.0";
const CBV: &str = "https://ref.gs1.org/cbv/";
const GS1_VOC: &str = "https://ref.gs1.org/voc/";

const EVENT_TYPES: [&str; 5] = [
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
];

/// Fields that never take part in the hash.
const EXCLUDED: [&str; 6] = [
    "type",
    "eventID",
    "recordTime",
    "errorDeclaration",
    "certificationInfo",
    // A W3C Data Integrity proof secures the event; it is not part of what happened, and two
    // signatures of one event must give one hash.
    "proof",
];

/// How a standard top-level field is written, in the CBV 2.0 property order.
#[derive(Clone, Copy)]
enum Kind {
    Plain,
    Vocab(&'static str),
    EpcList,
    QuantityList,
    PersistentDisposition,
    Location,
    TypedList(&'static str),
    SensorElementList,
}

const ORDER: [(&str, Kind); 22] = [
    ("eventTime", Kind::Plain),
    ("eventTimeZoneOffset", Kind::Plain),
    ("epcList", Kind::EpcList),
    ("parentID", Kind::Plain),
    ("inputEPCList", Kind::EpcList),
    ("childEPCs", Kind::EpcList),
    ("quantityList", Kind::QuantityList),
    ("childQuantityList", Kind::QuantityList),
    ("inputQuantityList", Kind::QuantityList),
    ("outputEPCList", Kind::EpcList),
    ("outputQuantityList", Kind::QuantityList),
    ("action", Kind::Plain),
    ("transformationID", Kind::Plain),
    ("bizStep", Kind::Vocab("BizStep-")),
    ("disposition", Kind::Vocab("Disp-")),
    ("persistentDisposition", Kind::PersistentDisposition),
    ("readPoint", Kind::Location),
    ("bizLocation", Kind::Location),
    ("bizTransactionList", Kind::TypedList("bizTransaction")),
    ("sourceList", Kind::TypedList("source")),
    ("destinationList", Kind::TypedList("destination")),
    ("sensorElementList", Kind::SensorElementList),
];

const SENSOR_METADATA: [&str; 8] = [
    "time",
    "startTime",
    "endTime",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
];

const SENSOR_REPORT: [&str; 23] = [
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
];

/// The pre-hash string of `event`, resolving extension prefixes from the event's own
/// `@context` (if any) and the prefixes the EPCIS 2.0 context declares.
pub fn pre_hash(event: &Value) -> Result<String, HashError> {
    pre_hash_with_context(event, None)
}

/// The pre-hash string of `event`, taken out of an EPCIS document whose `@context` is
/// `context`: extension prefixes are usually declared there rather than in each event.
pub fn pre_hash_with_context(event: &Value, context: Option<&Value>) -> Result<String, HashError> {
    let obj = event.as_object().ok_or(HashError::NotAnObject)?;
    let mut prefixes = default_prefixes();
    if let Some(c) = context {
        collect_prefixes(c, &mut prefixes);
    }
    if let Some(c) = obj.get("@context") {
        collect_prefixes(c, &mut prefixes);
    }
    let ty = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or(HashError::MissingEventType)?;
    if !EVENT_TYPES.contains(&ty) {
        return Err(HashError::UnsupportedEventType(ty.to_owned()));
    }
    let cx = Cx { prefixes };
    let mut out = format!("eventType={ty}");
    let mut leftover: Vec<Node> = Vec::new();
    for (name, kind) in ORDER {
        if let Some(v) = obj.get(name) {
            out.push_str(&cx.standard(name, kind, v, &mut leftover)?);
        }
    }
    for (key, v) in obj {
        if key.starts_with('@')
            || EXCLUDED.contains(&key.as_str())
            || ORDER.iter().any(|(n, _)| n == key)
        {
            continue;
        }
        if key == "ilmd" {
            let children = cx.extension_children(v, "ilmd")?;
            leftover.push(Node::new("ilmd".to_owned(), None, children));
        } else {
            leftover.extend(cx.extension(key, v)?);
        }
    }
    out.push_str(&render_sorted(&leftover));
    Ok(out)
}

/// The CBV 2.0 event hash ID: `ni:///sha-256;<lowercase hex>?ver=CBV2.0`.
pub fn event_hash_id(event: &Value) -> Result<String, HashError> {
    pre_hash(event).map(|p| hash_id_of_pre_hash(&p))
}

/// [`event_hash_id`] for an event taken out of a document whose `@context` is `context`.
pub fn event_hash_id_with_context(
    event: &Value,
    context: Option<&Value>,
) -> Result<String, HashError> {
    pre_hash_with_context(event, context).map(|p| hash_id_of_pre_hash(&p))
}

/// The hash ID of a pre-hash string (SHA-256 of its UTF-8 bytes).
pub fn hash_id_of_pre_hash(pre_hash: &str) -> String {
    let digest = Sha256::digest(pre_hash.as_bytes());
    let mut s = String::with_capacity(HASH_PREFIX.len() + 64 + HASH_SUFFIX.len());
    s.push_str(HASH_PREFIX);
    for b in digest {
        s.push(hex_lower(b >> 4));
        s.push(hex_lower(b & 0x0f));
    }
    s.push_str(HASH_SUFFIX);
    s
}

/// The digest in `ni:///sha-256;<hex>?ver=CBV2.0` (hex in either case), or `None`.
pub fn parse_hash_id(s: &str) -> Option<[u8; 32]> {
    let hex = s.strip_prefix(HASH_PREFIX)?.strip_suffix(HASH_SUFFIX)?;
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

fn hex_lower(n: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(n & 0x0f)])
}

/// A field not in the CBV property order, kept for the generic part of the pre-hash.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    text: Option<String>,
    children: Vec<Node>,
}

impl Node {
    fn new(name: String, text: Option<String>, children: Vec<Node>) -> Self {
        Node {
            name,
            text,
            children,
        }
    }

    fn render(&self) -> String {
        let mut s = self.name.clone();
        if let Some(t) = &self.text {
            let t = canonize(t.trim());
            if !t.is_empty() {
                s.push('=');
                s.push_str(&t);
            }
        }
        s.push_str(&render_sorted(&self.children));
        s
    }
}

fn render_sorted(nodes: &[Node]) -> String {
    let mut parts: Vec<String> = nodes.iter().map(Node::render).collect();
    parts.sort();
    parts.concat()
}

/// The prefixes the EPCIS 2.0 JSON-LD context declares for extension fields. The reference
/// writes CBV master data attributes as `{urn:epcglobal:cbv:mda}name` when the document does
/// not redeclare `cbvmda`.
fn default_prefixes() -> BTreeMap<String, String> {
    [
        ("cbvmda", "urn:epcglobal:cbv:mda"),
        ("gs1", "https://gs1.org/voc/"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}

/// Prefix declarations (`{"ex": "https://ns.example.com/"}`) in a JSON-LD `@context`; remote
/// context URLs are not fetched (pure), their prefixes are the defaults above.
fn collect_prefixes(context: &Value, into: &mut BTreeMap<String, String>) {
    match context {
        Value::Array(items) => items.iter().for_each(|c| collect_prefixes(c, into)),
        Value::Object(map) => {
            for (k, v) in map {
                if let Some(ns) = v.as_str()
                    && !k.starts_with('@')
                {
                    into.insert(k.clone(), ns.to_owned());
                }
            }
        }
        _ => {}
    }
}

struct Cx {
    prefixes: BTreeMap<String, String>,
}

impl Cx {
    /// One standard top-level field, with its extension children pushed to `leftover`.
    fn standard(
        &self,
        name: &str,
        kind: Kind,
        v: &Value,
        leftover: &mut Vec<Node>,
    ) -> Result<String, HashError> {
        Ok(match kind {
            Kind::Plain => field(name, v, None)?,
            Kind::Vocab(term) => field(name, v, Some((CBV, term)))?,
            Kind::EpcList => {
                // What `field("epc", …)` gives each EPC, without a string per EPC: the parts all
                // start `epc=`, so sorting their canonical forms sorts the parts. A bagging
                // event lists fifty EPCs, and the forms come from the memo already made.
                let list = array(name, v)?;
                let mut forms: Vec<Form<'_>> = Vec::with_capacity(list.len());
                for e in list {
                    match e {
                        Value::String(s) if !s.trim().is_empty() => {
                            forms.push(canonical_form(s.trim()));
                        }
                        Value::String(_) | Value::Null => {}
                        _ => {
                            let part = field("epc", e, None)?;
                            let form = part.strip_prefix("epc=").unwrap_or_default().to_owned();
                            forms.push(Form::Text(Cow::Owned(form)));
                        }
                    }
                }
                if forms.is_empty() {
                    return Ok(String::new());
                }
                forms.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
                let len = forms.iter().map(|f| f.as_str().len() + 4).sum::<usize>();
                let mut s = String::with_capacity(name.len() + len);
                s.push_str(name);
                for f in &forms {
                    s.push_str("epc=");
                    s.push_str(f.as_str());
                }
                s
            }
            Kind::QuantityList => {
                let mut parts = Vec::new();
                let mut ext = Vec::new();
                for e in array(name, v)? {
                    let o = object(name, e)?;
                    let mut s = String::new();
                    for f in ["epcClass", "quantity", "uom"] {
                        if let Some(x) = o.get(f) {
                            s.push_str(&field(f, x, None)?);
                        }
                    }
                    parts.push(wrap("quantityElement", vec![s]));
                    let rest = self.rest(o, &["epcClass", "quantity", "uom"])?;
                    if !rest.is_empty() {
                        ext.push(Node::new("quantityElement".to_owned(), None, rest));
                    }
                }
                if !ext.is_empty() {
                    leftover.push(Node::new(name.to_owned(), None, ext));
                }
                wrap(name, parts)
            }
            Kind::PersistentDisposition => {
                let o = object(name, v)?;
                let mut s = String::new();
                for f in ["set", "unset"] {
                    if let Some(list) = o.get(f) {
                        let mut parts = Vec::new();
                        for e in array(f, list)? {
                            parts.push(field(f, e, Some((CBV, "Disp-")))?);
                        }
                        parts.sort();
                        s.push_str(&parts.concat());
                    }
                }
                let rest = self.rest(o, &["set", "unset"])?;
                if !rest.is_empty() {
                    leftover.push(Node::new(name.to_owned(), None, rest));
                }
                wrap(name, vec![s])
            }
            Kind::Location => {
                let o = object(name, v)?;
                let s = match o.get("id") {
                    Some(id) => field("id", id, None)?,
                    None => String::new(),
                };
                let rest = self.rest(o, &["id"])?;
                if !rest.is_empty() {
                    leftover.push(Node::new(name.to_owned(), None, rest));
                }
                wrap(name, vec![s])
            }
            Kind::TypedList(item) => {
                let vocab = if item == "bizTransaction" {
                    "BTT-"
                } else {
                    "SDT-"
                };
                let mut parts = Vec::new();
                let mut ext = Vec::new();
                for e in array(name, v)? {
                    let o = object(name, e)?;
                    let mut s = String::new();
                    if let Some(t) = o.get("type") {
                        s.push_str(&field("type", t, Some((CBV, vocab)))?);
                    }
                    if let Some(x) = o.get(item) {
                        s.push_str(&field(item, x, None)?);
                    }
                    parts.push(s);
                    ext.extend(self.rest(o, &["type", item])?);
                }
                if !ext.is_empty() {
                    leftover.push(Node::new(name.to_owned(), None, ext));
                }
                wrap(name, parts)
            }
            Kind::SensorElementList => {
                // The reference writes each element as `sensorElement...` without the list's
                // name, in the standard part and in the extension part alike.
                let mut parts = Vec::new();
                for e in array(name, v)? {
                    let (s, ext) = self.sensor_element(e)?;
                    parts.push(s);
                    if let Some(n) = ext {
                        leftover.push(n);
                    }
                }
                parts.sort();
                parts.concat()
            }
        })
    }

    fn sensor_element(&self, e: &Value) -> Result<(String, Option<Node>), HashError> {
        let o = object("sensorElement", e)?;
        let mut s = String::new();
        let mut ext = Vec::new();
        if let Some(m) = o.get("sensorMetadata") {
            let mo = object("sensorMetadata", m)?;
            let mut ms = String::new();
            for f in SENSOR_METADATA {
                if let Some(x) = mo.get(f) {
                    ms.push_str(&field(f, x, None)?);
                }
            }
            s.push_str(&wrap("sensorMetadata", vec![ms]));
            let rest = self.rest(mo, &SENSOR_METADATA)?;
            if !rest.is_empty() {
                ext.push(Node::new("sensorMetadata".to_owned(), None, rest));
            }
        }
        if let Some(r) = o.get("sensorReport") {
            let mut reports = Vec::new();
            for rep in array("sensorReport", r)? {
                let ro = object("sensorReport", rep)?;
                let mut rs = String::new();
                for f in SENSOR_REPORT {
                    if let Some(x) = ro.get(f) {
                        // Sensor types and exceptions are GS1 Web Vocabulary terms.
                        let vocab = matches!(f, "type" | "exception").then_some((GS1_VOC, ""));
                        rs.push_str(&field(f, x, vocab)?);
                    }
                }
                reports.push(wrap("sensorReport", vec![rs]));
                let rest = self.rest(ro, &SENSOR_REPORT)?;
                if !rest.is_empty() {
                    ext.push(Node::new("sensorReport".to_owned(), None, rest));
                }
            }
            reports.sort();
            s.push_str(&reports.concat());
        }
        ext.extend(self.rest(o, &["sensorMetadata", "sensorReport"])?);
        let ext = (!ext.is_empty()).then(|| Node::new("sensorElement".to_owned(), None, ext));
        Ok((wrap("sensorElement", vec![s]), ext))
    }

    /// The fields of `o` other than `known`, as extension nodes.
    fn rest(&self, o: &Map<String, Value>, known: &[&str]) -> Result<Vec<Node>, HashError> {
        let mut out = Vec::new();
        for (k, v) in o {
            if k.starts_with('@') || known.contains(&k.as_str()) {
                continue;
            }
            out.extend(self.extension(k, v)?);
        }
        Ok(out)
    }

    /// The children of an extension container such as `ilmd`.
    fn extension_children(&self, v: &Value, name: &str) -> Result<Vec<Node>, HashError> {
        let o = object(name, v)?;
        self.rest(o, &[])
    }

    /// An extension field: an array gives one node per element, all with the field's name.
    fn extension(&self, key: &str, v: &Value) -> Result<Vec<Node>, HashError> {
        let name = self.expand_name(key)?;
        let mut out = Vec::new();
        self.extension_values(&name, v, &mut out)?;
        Ok(out)
    }

    fn extension_values(
        &self,
        name: &str,
        v: &Value,
        out: &mut Vec<Node>,
    ) -> Result<(), HashError> {
        match v {
            Value::Array(items) => {
                for item in items {
                    self.extension_values(name, item, out)?;
                }
            }
            Value::Object(o) => {
                let text = o.get("#text").and_then(scalar_text);
                let mut children = Vec::new();
                for (k, cv) in o {
                    if k.starts_with('@') || k.starts_with('#') {
                        continue;
                    }
                    if k.contains(':') {
                        children.extend(self.extension(k, cv)?);
                    } else {
                        // An unprefixed member of an extension object is in its parent's
                        // namespace, as a child element without a prefix is in XML's default
                        // namespace of its parent.
                        let ns_end = name.find('}').map_or(0, |i| i + 1);
                        let child = format!("{}{k}", &name[..ns_end]);
                        self.extension_values(&child, cv, &mut children)?;
                    }
                }
                out.push(Node::new(name.to_owned(), text, children));
            }
            other => out.push(Node::new(name.to_owned(), scalar_text(other), Vec::new())),
        }
        Ok(())
    }

    /// `prefix:local` to `{namespace}local`, as the reference names extension elements.
    fn expand_name(&self, key: &str) -> Result<String, HashError> {
        let Some((prefix, local)) = key.split_once(':') else {
            return Err(HashError::UnsupportedField {
                key: key.to_owned(),
            });
        };
        if local.starts_with("//") {
            return Err(HashError::UnsupportedField {
                key: key.to_owned(),
            });
        }
        match self.prefixes.get(prefix) {
            Some(ns) => Ok(format!("{{{ns}}}{local}")),
            // JSON-LD reads a compact IRI whose prefix no context defines as an absolute IRI
            // (scheme `prefix`): the namespace is the prefix itself.
            None => Ok(format!("{{{prefix}:}}{local}")),
        }
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn array<'a>(name: &str, v: &'a Value) -> Result<&'a Vec<Value>, HashError> {
    v.as_array().ok_or_else(|| HashError::InvalidField {
        field: name.to_owned(),
        expected: "an array",
    })
}

fn object<'a>(name: &str, v: &'a Value) -> Result<&'a Map<String, Value>, HashError> {
    v.as_object().ok_or_else(|| HashError::InvalidField {
        field: name.to_owned(),
        expected: "an object",
    })
}

/// A container's name followed by its sorted parts, or nothing if it has no content (an empty
/// list adds nothing, as the reference does).
fn wrap(name: &str, mut parts: Vec<String>) -> String {
    parts.retain(|p| !p.is_empty());
    if parts.is_empty() {
        return String::new();
    }
    parts.sort();
    let mut s = name.to_owned();
    s.push_str(&parts.concat());
    s
}

/// `name=value` for a scalar standard field, or nothing if the value is empty. `vocab` names
/// the namespace and term prefix a bare term (no `:`) expands to, as the JSON-LD context does.
fn field(name: &str, v: &Value, vocab: Option<(&str, &str)>) -> Result<String, HashError> {
    let number;
    let raw = match v {
        Value::String(s) => s.trim(),
        Value::Number(n) => {
            number = n.to_string();
            number.as_str()
        }
        Value::Bool(b) => {
            if *b {
                "true"
            } else {
                "false"
            }
        }
        Value::Null => return Ok(String::new()),
        _ => {
            return Err(HashError::InvalidField {
                field: name.to_owned(),
                expected: "a string, number or boolean",
            });
        }
    };
    if raw.is_empty() {
        return Ok(String::new());
    }
    let value = if is_time_field(name) {
        normalise_time(raw).ok_or_else(|| HashError::InvalidTime {
            field: name.to_owned(),
            value: raw.to_owned(),
        })?
    } else {
        match vocab {
            Some((ns, term)) if !raw.contains(':') => canonize(&format!("{ns}{term}{raw}")),
            _ => canonize(raw),
        }
    };
    let mut out = String::with_capacity(name.len() + 1 + value.len());
    out.push_str(name);
    out.push('=');
    out.push_str(&value);
    Ok(out)
}

/// Whether a field holds a time: its name contains `time` but not `offset` (any case).
fn is_time_field(name: &str) -> bool {
    let has = |word: &[u8]| {
        name.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    has(b"time") && !has(b"offset")
}

/// Value canonicalisation applied to every non-time value: CBV URNs and CURIEs to Web URIs,
/// numbers to their shortest form, GS1 keys to constrained canonical Digital Link URIs.
fn canonize(text: &str) -> String {
    match canonical_form(text) {
        Form::Remembered(id) => String::clone(&id),
        Form::Text(text) => text.into_owned(),
    }
}

/// A canonical value: an identifier's form shared with the memo, or text.
enum Form<'a> {
    Remembered(Rc<String>),
    Text(Cow<'a, str>),
}

impl Form<'_> {
    fn as_str(&self) -> &str {
        match self {
            Form::Remembered(s) => s,
            Form::Text(s) => s,
        }
    }
}

/// [`canonize`] without copying an identifier's canonical form out of the memo.
fn canonical_form(text: &str) -> Form<'_> {
    let text = web_vocabulary(text);
    let text = match format_numeric(&text) {
        Some(n) => Cow::Owned(n),
        None => text,
    };
    match remembered_identifier(&text) {
        Some(id) => Form::Remembered(id),
        None => Form::Text(text),
    }
}

fn web_vocabulary(text: &str) -> Cow<'_, str> {
    for (urn, web) in [
        ("urn:epcglobal:cbv:bizstep:", "BizStep-"),
        ("urn:epcglobal:cbv:disp:", "Disp-"),
        ("urn:epcglobal:cbv:btt:", "BTT-"),
        ("urn:epcglobal:cbv:sdt:", "SDT-"),
        ("urn:epcglobal:cbv:er:", "ER-"),
    ] {
        if let Some(rest) = text.strip_prefix(urn) {
            return Cow::Owned(format!("{CBV}{web}{rest}"));
        }
    }
    if let Some(rest) = text.strip_prefix("cbv:") {
        return Cow::Owned(format!("{CBV}{rest}"));
    }
    Cow::Borrowed(text)
}

/// A decimal number written as Python's `str(float)` writes it (integral values without
/// `.0`), which is what the reference emits; `None` if `text` is not a decimal number.
fn format_numeric(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let f = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let e = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == e {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let f: f64 = text.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    if f == 0.0 {
        return Some("0".to_owned());
    }
    if f.fract() == 0.0 {
        return Some(format!("{f:.0}"));
    }
    let a = f.abs();
    if a < 1e-4 {
        // Python writes these with an exponent of at least two digits: 1e-05.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e')?;
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ("-", d),
            None => ("+", exp),
        };
        return Some(format!("{mant}e{sign}{digits:0>2}"));
    }
    Some(format!("{f}"))
}

/// An RFC 3339 date-time in UTC at millisecond precision. Sub-millisecond digits are
/// truncated to microseconds and rounded half to even, as the reference does.
fn normalise_time(s: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let t = t.to_offset(time::UtcOffset::UTC);
    let micros = i64::from(t.microsecond());
    let ms_floor = micros / 1000;
    let rem = micros % 1000;
    let ms = if rem > 500 || (rem == 500 && ms_floor % 2 == 1) {
        ms_floor + 1
    } else {
        ms_floor
    };
    let t = t
        .replace_nanosecond(0)
        .ok()?
        .checked_add(time::Duration::milliseconds(ms))?;
    let year = t.year();
    if !(1..=9999).contains(&year) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        year,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    ))
}

// ---- GS1 key normalisation to constrained canonical Digital Link URIs ----

const DL_HOST: &str = "https://id.gs1.org";

/// [`remembered_identifier`] as an owned string.
#[cfg(test)]
fn normalise_identifier(s: &str) -> Option<String> {
    remembered_identifier(s).map(|n| String::clone(&n))
}

/// The constrained canonical Digital Link URI for an EPC URI, EPC class URI, EPC ID pattern
/// URI or Digital Link URI, or `None` if `s` is none of these (then it is hashed as written).
/// Shared with this thread's memo of recent identifiers, so a repeated one costs no parse.
fn remembered_identifier(s: &str) -> Option<Rc<String>> {
    thread_local! {
        static RECENT: crate::recent::Recent<Rc<String>> = crate::recent::Recent::new();
    }
    RECENT.with(|r| r.get_or(s, || parse_identifier(s).map(Rc::new)))
}

/// [`remembered_identifier`], computed.
fn parse_identifier(s: &str) -> Option<String> {
    if let Some(body) = s.strip_prefix("urn:epc:id:") {
        epc_id(body)
    } else if let Some(body) = s.strip_prefix("urn:epc:class:lgtin:") {
        let (gcp, item, lot) = split3(body)?;
        Some(format!(
            "{DL_HOST}/01/{}/10/{}",
            gtin(gcp, item, 13)?,
            epc_text(lot, 20)?
        ))
    } else if let Some(body) = s.strip_prefix("urn:epc:idpat:") {
        epc_pattern(body)
    } else if s.starts_with("http://") || s.starts_with("https://") {
        constrain_digital_link(s)
    } else {
        None
    }
}

/// A GS1 Company Prefix (6 to 12 digits) and a numeric reference that together have `total`
/// digits.
fn gcp_ref(gcp: &str, reference: &str, total: usize) -> bool {
    (6..=12).contains(&gcp.len())
        && all_digits(gcp)
        && all_digits(reference)
        && gcp.len() + reference.len() == total
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn split3(body: &str) -> Option<(&str, &str, &str)> {
    let (a, rest) = body.split_once('.')?;
    let (b, c) = rest.split_once('.')?;
    Some((a, b, c))
}

fn with_check(digits: &str) -> Option<String> {
    let c = gs1::gs1_check_digit(digits)?;
    Some(format!("{digits}{c}"))
}

/// GTIN-14 from company prefix and item reference (indicator digit first).
fn gtin(gcp: &str, item: &str, total: usize) -> Option<String> {
    if !gcp_ref(gcp, item, total) || item.is_empty() {
        return None;
    }
    with_check(&format!("{}{gcp}{}", item.get(..1)?, item.get(1..)?))
}

/// An EPC URI text component (serial, lot, extension): GS1 AI encodable characters or
/// `%XX` escapes, at most `max` characters; percent-encoded for a Digital Link path as the
/// reference does (only `! ( ) * + , :`; existing escapes stay).
fn epc_text(s: &str, max: usize) -> Option<String> {
    let b = s.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return None;
            }
            i += 3;
        } else if b[i].is_ascii_alphanumeric() || b"!')(*+,.:;=_-".contains(&b[i]) {
            i += 1;
        } else {
            return None;
        }
        n += 1;
    }
    if n == 0 || n > max {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '!' => out.push_str("%21"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '*' => out.push_str("%2A"),
            '+' => out.push_str("%2B"),
            ',' => out.push_str("%2C"),
            ':' => out.push_str("%3A"),
            c => out.push(c),
        }
    }
    Some(out)
}

fn epc_id(body: &str) -> Option<String> {
    let (scheme, rest) = body.split_once(':')?;
    match scheme {
        "sgtin" => {
            let (gcp, item, serial) = split3(rest)?;
            Some(format!(
                "{DL_HOST}/01/{}/21/{}",
                gtin(gcp, item, 13)?,
                epc_text(serial, 20)?
            ))
        }
        "sscc" => {
            let (gcp, sr) = rest.split_once('.')?;
            if !gcp_ref(gcp, sr, 17) {
                return None;
            }
            let raw = format!("{}{gcp}{}", sr.get(..1)?, sr.get(1..)?);
            Some(format!("{DL_HOST}/00/{}", with_check(&raw)?))
        }
        "sgln" => {
            let (gcp, loc, ext) = split3(rest)?;
            if !gcp_ref(gcp, loc, 12) {
                return None;
            }
            let gln = with_check(&format!("{gcp}{loc}"))?;
            let ext = epc_text(ext, 20)?;
            Some(if ext == "0" {
                format!("{DL_HOST}/414/{gln}")
            } else {
                format!("{DL_HOST}/414/{gln}/254/{ext}")
            })
        }
        "pgln" => {
            let (gcp, party) = rest.split_once('.')?;
            if !gcp_ref(gcp, party, 12) {
                return None;
            }
            Some(format!(
                "{DL_HOST}/417/{}",
                with_check(&format!("{gcp}{party}"))?
            ))
        }
        "grai" => {
            let (gcp, asset, serial) = split3(rest)?;
            if !gcp_ref(gcp, asset, 12) {
                return None;
            }
            let key = with_check(&format!("0{gcp}{asset}"))?;
            Some(format!("{DL_HOST}/8003/{key}{}", epc_text(serial, 16)?))
        }
        "giai" => {
            let (gcp, asset) = rest.split_once('.')?;
            if !(6..=12).contains(&gcp.len()) || !all_digits(gcp) {
                return None;
            }
            Some(format!(
                "{DL_HOST}/8004/{gcp}{}",
                epc_text(asset, 30 - gcp.len())?
            ))
        }
        "gsrn" | "gsrnp" => {
            let (gcp, sr) = rest.split_once('.')?;
            if !gcp_ref(gcp, sr, 17) {
                return None;
            }
            let ai = if scheme == "gsrn" { "8018" } else { "8017" };
            Some(format!(
                "{DL_HOST}/{ai}/{}",
                with_check(&format!("{gcp}{sr}"))?
            ))
        }
        "gdti" | "sgcn" => {
            let (gcp, doc, serial) = split3(rest)?;
            if !gcp_ref(gcp, doc, 12) {
                return None;
            }
            let key = with_check(&format!("{gcp}{doc}"))?;
            let serial = if scheme == "gdti" {
                if serial.is_empty() {
                    String::new()
                } else {
                    epc_text(serial, 17)?
                }
            } else if serial.len() <= 12 && all_digits(serial) && !serial.is_empty() {
                serial.to_owned()
            } else {
                return None;
            };
            let ai = if scheme == "gdti" { "253" } else { "255" };
            Some(format!("{DL_HOST}/{ai}/{key}{serial}"))
        }
        "ginc" => {
            let (gcp, r) = rest.split_once('.')?;
            if !(6..=12).contains(&gcp.len()) || !all_digits(gcp) {
                return None;
            }
            Some(format!(
                "{DL_HOST}/401/{gcp}{}",
                epc_text(r, 30 - gcp.len())?
            ))
        }
        "gsin" => {
            let (gcp, r) = rest.split_once('.')?;
            if !gcp_ref(gcp, r, 16) {
                return None;
            }
            Some(format!(
                "{DL_HOST}/402/{}",
                with_check(&format!("{gcp}{r}"))?
            ))
        }
        "upui" => {
            let (gcp, item, tpx) = split3(rest)?;
            Some(format!(
                "{DL_HOST}/01/{}/235/{}",
                gtin(gcp, item, 13)?,
                epc_text(tpx, 28)?
            ))
        }
        "itip" => {
            let (gcp, r) = rest.split_once('.')?;
            let (item, r) = r.split_once('.')?;
            let (piece, r) = r.split_once('.')?;
            let (total, serial) = r.split_once('.')?;
            if piece.len() != 2 || total.len() != 2 || !all_digits(piece) || !all_digits(total) {
                return None;
            }
            Some(format!(
                "{DL_HOST}/8006/{}{piece}{total}/21/{}",
                gtin(gcp, item, 13)?,
                epc_text(serial, 20)?
            ))
        }
        "cpi" => {
            let (gcp, r) = rest.split_once('.')?;
            let (cp, serial) = r.rsplit_once('.')?;
            if !(6..=12).contains(&gcp.len()) || !all_digits(gcp) || cp.is_empty() {
                return None;
            }
            if serial.is_empty() || serial.len() > 12 || !all_digits(serial) {
                return None;
            }
            Some(format!(
                "{DL_HOST}/8010/{gcp}{}/8011/{serial}",
                epc_text(cp, 30 - gcp.len())?
            ))
        }
        _ => None,
    }
}

fn epc_pattern(body: &str) -> Option<String> {
    let (scheme, rest) = body.split_once(':')?;
    let rest = rest.strip_suffix(".*")?;
    match scheme {
        "sgtin" | "upui" => {
            let (gcp, item) = rest.split_once('.')?;
            Some(format!("{DL_HOST}/01/{}", gtin(gcp, item, 13)?))
        }
        "grai" => {
            let (gcp, asset) = rest.split_once('.')?;
            if !gcp_ref(gcp, asset, 12) {
                return None;
            }
            Some(format!(
                "{DL_HOST}/8003/{}",
                with_check(&format!("0{gcp}{asset}"))?
            ))
        }
        "gdti" | "sgcn" => {
            let (gcp, doc) = rest.split_once('.')?;
            if !gcp_ref(gcp, doc, 12) {
                return None;
            }
            let ai = if scheme == "gdti" { "253" } else { "255" };
            Some(format!(
                "{DL_HOST}/{ai}/{}",
                with_check(&format!("{gcp}{doc}"))?
            ))
        }
        "itip" => {
            let (gcp, r) = rest.split_once('.')?;
            let (item, r) = r.split_once('.')?;
            let (piece, total) = r.split_once('.')?;
            if piece.len() != 2 || total.len() != 2 || !all_digits(piece) || !all_digits(total) {
                return None;
            }
            Some(format!(
                "{DL_HOST}/8006/{}{piece}{total}",
                gtin(gcp, item, 13)?
            ))
        }
        "cpi" => {
            let (gcp, cp) = rest.split_once('.')?;
            if !(6..=12).contains(&gcp.len()) || !all_digits(gcp) {
                return None;
            }
            Some(format!(
                "{DL_HOST}/8010/{gcp}{}",
                epc_text(cp, 30 - gcp.len())?
            ))
        }
        _ => None,
    }
}

/// Primary key AIs in the order the reference looks for them when re-hosting a Digital Link
/// URI on `id.gs1.org`.
const DL_KEYS: [&str; 14] = [
    "00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010", "8017",
    "8018",
];

const DL_SHORT_NAMES: [(&str, &str); 17] = [
    ("gtin", "01"),
    ("itip", "8006"),
    ("cpid", "8010"),
    ("gln", "414"),
    ("party", "417"),
    ("gsrnp", "8017"),
    ("gsrn", "8018"),
    ("gcn", "255"),
    ("sscc", "00"),
    ("gdti", "253"),
    ("ginc", "401"),
    ("gsin", "402"),
    ("grai", "8003"),
    ("giai", "8004"),
    ("cpv", "22"),
    ("lot", "10"),
    ("ser", "21"),
];

/// A character the reference allows in a constrained Digital Link value.
fn dl_char(b: u8) -> bool {
    matches!(b, 0x22 | 0x27 | 0x2D | 0x2E | 0x30..=0x39 | 0x3B..=0x3F | 0x41..=0x5A | 0x5F | 0x61..=0x7A)
}

fn dl_text(s: &str, max: usize) -> bool {
    s.len() <= max && s.bytes().all(dl_char)
}

fn digits_n(s: &str, n: usize) -> bool {
    s.len() == n && all_digits(s)
}

/// Digital Link URI on any host to the constrained canonical form: host `id.gs1.org`, AIs
/// instead of short names, GTIN-14, no query string, no CPV, no lot beside a serial.
fn constrain_digital_link(uri: &str) -> Option<String> {
    let after_scheme = uri.split_once("://")?.1;
    let path_start = after_scheme.find('/')?;
    let path = after_scheme.get(path_start..)?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').collect();
    let all_keys = |s: &str| {
        DL_KEYS.contains(&s)
            || DL_SHORT_NAMES
                .iter()
                .any(|(n, ai)| *n == s && DL_KEYS.contains(ai))
    };
    // Recognised only if some segment names a primary key followed by 4 digits and more.
    let recognised = segs.windows(2).any(|w| {
        all_keys(w[0]) && w[1].len() > 4 && w[1].bytes().take(4).all(|b| b.is_ascii_digit())
    });
    if !recognised {
        return None;
    }
    let mut segs: Vec<String> = segs
        .into_iter()
        .map(|s| {
            DL_SHORT_NAMES
                .iter()
                .find(|(n, _)| *n == s)
                .map_or_else(|| s.to_owned(), |(_, ai)| (*ai).to_owned())
        })
        .collect();
    // Re-host on id.gs1.org from the first primary key (in the reference's search order).
    let start = DL_KEYS
        .iter()
        .find_map(|k| segs.iter().position(|s| s == k))?;
    segs.drain(..start);
    // Pad GTIN-8/12/13 to 14 digits.
    if segs.first().is_some_and(|s| s == "01")
        && let Some(g) = segs.get_mut(1)
        && all_digits(g)
        && matches!(g.len(), 8 | 12 | 13)
    {
        *g = format!("{g:0>14}");
    }
    // Drop a CPV, and a lot when a serial is present (finest identification level only).
    let is_item = |s: &[String]| {
        (s[0] == "01" && digits_n(&s[1], 14)) || (s[0] == "8006" && digits_n(&s[1], 18))
    };
    if segs.len() >= 4 && is_item(&segs) && segs[2] == "22" {
        segs.drain(2..4);
    }
    if segs.len() == 6 && is_item(&segs) && segs[2] == "10" && segs[4] == "21" {
        segs.drain(2..4);
    }
    while segs.last().is_some_and(|s| s.is_empty()) {
        segs.pop();
    }
    let ok = match segs
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["00", k] => digits_n(k, 18),
        ["01", k] => digits_n(k, 14),
        ["01", k, "21" | "10", v] => digits_n(k, 14) && dl_text(v, 20),
        ["01", k, "235", v] => digits_n(k, 14) && dl_text(v, 28),
        ["253", k] => key_then_text(k, 13, 17),
        ["255", k] => (13..=25).contains(&k.len()) && all_digits(k),
        ["401", k] | ["8004", k] => dl_text(k, 30),
        ["402", k] => digits_n(k, 17),
        ["414", k] | ["417", k] => digits_n(k, 13),
        ["414", k, "254", v] => digits_n(k, 13) && dl_text(v, 20),
        ["8003", k] => key_then_text(k, 14, 16),
        ["8006", k] => digits_n(k, 18),
        ["8006", k, "21" | "10", v] => digits_n(k, 18) && dl_text(v, 20),
        ["8010", k] => cpid(k),
        ["8010", k, "8011", v] => cpid(k) && v.len() <= 12 && all_digits(v),
        ["8017", k] | ["8018", k] => digits_n(k, 18),
        _ => false,
    };
    ok.then(|| format!("{DL_HOST}/{}", segs.join("/")))
}

/// `n` digits followed by at most `max` value characters.
fn key_then_text(s: &str, n: usize, max: usize) -> bool {
    match (s.get(..n), s.get(n..)) {
        (Some(key), Some(rest)) => all_digits(key) && dl_text(rest, max),
        _ => false,
    }
}

fn cpid(s: &str) -> bool {
    s.len() <= 30
        && s.bytes()
            .all(|b| matches!(b, b'#' | b'-' | b'/' | b'0'..=b'9' | b'A'..=b'Z'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_epc_list_hashes_as_its_parts_sorted() {
        // The list's own path must give what `field` and `wrap` give element by element.
        let cx = Cx {
            prefixes: default_prefixes(),
        };
        let list = json!([
            "urn:epc:id:sgtin:0614141.107346.2018",
            "  urn:epc:id:sscc:0614141.1234567890 ",
            "https://id.gs1.org/01/09521141123455/21/7",
            "urn:epc:id:sgtin:0614141.107346.2017",
            "",
            null,
            12.50,
            true,
            "urn:example:not-a-gs1-key",
            "cbv:Disp-in_transit",
            "urn:epc:id:sgtin:0614141.107346.2018"
        ]);
        let parts = list
            .as_array()
            .unwrap()
            .iter()
            .map(|e| field("epc", e, None).unwrap())
            .collect();
        let mut leftover = Vec::new();
        let got = cx
            .standard("epcList", Kind::EpcList, &list, &mut leftover)
            .unwrap();
        assert_eq!(got, wrap("epcList", parts));
        assert!(
            got.starts_with("epcListepc=12.5epc=https://id.gs1.org/00/"),
            "{got}"
        );
        for empty in [json!([]), json!(["", " ", null])] {
            let got = cx.standard("childEPCs", Kind::EpcList, &empty, &mut leftover);
            assert_eq!(got.unwrap(), "");
        }
        assert!(
            cx.standard("epcList", Kind::EpcList, &json!([{"a": 1}]), &mut leftover)
                .is_err()
        );
        assert!(leftover.is_empty());
    }

    #[test]
    fn times_go_to_utc_milliseconds() {
        assert_eq!(
            normalise_time("2020-03-04T11:00:30+01:00").as_deref(),
            Some("2020-03-04T10:00:30.000Z")
        );
        assert_eq!(
            normalise_time("2020-03-04T11:00:30.1234+01:00").as_deref(),
            Some("2020-03-04T10:00:30.123Z")
        );
        // Half to even, as Python's round() on the microseconds.
        assert_eq!(
            normalise_time("2020-03-04T10:00:30.0005Z").as_deref(),
            Some("2020-03-04T10:00:30.000Z")
        );
        assert_eq!(
            normalise_time("2020-03-04T10:00:30.0015Z").as_deref(),
            Some("2020-03-04T10:00:30.002Z")
        );
        assert_eq!(
            normalise_time("2020-12-31T23:59:59.9996Z").as_deref(),
            Some("2021-01-01T00:00:00.000Z")
        );
        assert_eq!(normalise_time("2020-03-04T10:00:30"), None);
        assert_eq!(normalise_time("yesterday"), None);
    }

    #[test]
    fn numbers_lose_trailing_zeros() {
        assert_eq!(format_numeric("23.0").as_deref(), Some("23"));
        assert_eq!(format_numeric("+5").as_deref(), Some("5"));
        assert_eq!(format_numeric("26.20").as_deref(), Some("26.2"));
        assert_eq!(format_numeric("-0").as_deref(), Some("0"));
        assert_eq!(format_numeric("0.00001").as_deref(), Some("1e-05"));
        assert_eq!(format_numeric("2019-10-21"), None);
        assert_eq!(format_numeric("inf"), None);
        assert_eq!(format_numeric("."), None);
    }

    #[test]
    fn epc_uris_become_canonical_digital_links() {
        let n = |s: &str| normalise_identifier(s);
        assert_eq!(
            n("urn:epc:id:sgtin:0614141.107346.2018").as_deref(),
            Some("https://id.gs1.org/01/10614141073464/21/2018")
        );
        assert_eq!(
            n("urn:epc:id:sscc:4012345.0000000111").as_deref(),
            Some("https://id.gs1.org/00/040123450000001112")
        );
        assert_eq!(
            n("urn:epc:id:sgln:0012345.11111.0").as_deref(),
            Some("https://id.gs1.org/414/0012345111112")
        );
        assert_eq!(
            n("urn:epc:id:sgln:0012345.11111.400").as_deref(),
            Some("https://id.gs1.org/414/0012345111112/254/400")
        );
        assert_eq!(
            n("urn:epc:class:lgtin:4012345.012345.998877").as_deref(),
            Some("https://id.gs1.org/01/04012345123456/10/998877")
        );
        assert_eq!(
            n("urn:epc:idpat:sgtin:4012345.066666.*").as_deref(),
            Some("https://id.gs1.org/01/04012345666663")
        );
        assert_eq!(
            n("urn:epc:id:gdti:0614141.00001.1618034").as_deref(),
            Some("https://id.gs1.org/253/06141410000121618034")
        );
        assert_eq!(
            n("urn:epc:id:giai:4000001.111").as_deref(),
            Some("https://id.gs1.org/8004/4000001111")
        );
        assert_eq!(n("urn:epc:id:sgtin:0614141.10734.1"), None);
    }

    #[test]
    fn digital_links_are_constrained() {
        let n = |s: &str| normalise_identifier(s);
        assert_eq!(
            n("https://example.com/gtin/9506000134352/lot/A1/ser/7?linkType=all").as_deref(),
            Some("https://id.gs1.org/01/09506000134352/21/7")
        );
        assert_eq!(
            n("https://example.org/8004/401234599999").as_deref(),
            Some("https://id.gs1.org/8004/401234599999")
        );
        assert_eq!(n("https://www.ncbi.nlm.nih.gov/taxonomy/1126011"), None);
    }

    #[test]
    fn vocabulary_terms_expand() {
        assert_eq!(
            canonize("urn:epcglobal:cbv:bizstep:shipping"),
            "https://ref.gs1.org/cbv/BizStep-shipping"
        );
        assert_eq!(
            field("bizStep", &json!("receiving"), Some((CBV, "BizStep-"))).unwrap(),
            "bizStep=https://ref.gs1.org/cbv/BizStep-receiving"
        );
    }

    #[test]
    fn hash_id_round_trips() {
        let id = hash_id_of_pre_hash("eventType=ObjectEvent");
        assert!(id.starts_with("ni:///sha-256;") && id.ends_with("?ver=CBV2.0"));
        let digest = parse_hash_id(&id).unwrap();
        assert_eq!(
            digest.as_slice(),
            Sha256::digest(b"eventType=ObjectEvent").as_slice()
        );
        assert_eq!(parse_hash_id("ni:///sha-256;00?ver=CBV2.0"), None);
        assert_eq!(parse_hash_id(&id.replace("CBV2.0", "CBV2.1")), None);
    }

    #[test]
    fn errors_name_what_is_unsupported() {
        assert_eq!(pre_hash(&json!([])), Err(HashError::NotAnObject));
        assert_eq!(pre_hash(&json!({})), Err(HashError::MissingEventType));
        assert_eq!(
            pre_hash(&json!({"type": "ObjectEvent", "foo:bar": 1})),
            Ok("eventType=ObjectEvent{foo:}bar=1".into())
        );
        assert!(matches!(
            pre_hash(&json!({"type": "ObjectEvent", "eventTime": "soon"})),
            Err(HashError::InvalidTime { .. })
        ));
    }

    proptest::proptest! {
        /// Arbitrary text in any field, EPC or Digital Link position gives a hash or a named
        /// error, never a panic.
        #[test]
        fn never_panics(text in "\\PC{0,40}", idx in 0usize..ORDER.len()) {
            let _ = normalise_time(&text);
            let _ = format_numeric(&text);
            for prefix in ["", "urn:epc:id:sgtin:", "urn:epc:id:sgln:", "urn:epc:id:itip:",
                "urn:epc:id:cpi:", "urn:epc:idpat:sgtin:", "urn:epc:class:lgtin:",
                "https://id.gs1.org/01/", "https://x.example/gtin/0950600013435", "http://a/253/"] {
                let _ = normalise_identifier(&format!("{prefix}{text}"));
            }
            let (name, _) = ORDER[idx];
            for v in [json!(text), json!([text]), json!([{"id": text, "type": text}]),
                json!({"id": text, "set": [text]}), json!([{"sensorReport": [{"type": text}]}])] {
                let _ = pre_hash(&json!({"type": "ObjectEvent", name: v.clone(), "ilmd": {"gs1:x": v}}));
            }
        }
    }

    #[test]
    fn excluded_fields_and_list_order_do_not_matter() {
        let a = json!({"type": "ObjectEvent", "eventTime": "2020-01-01T00:00:00Z",
            "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
            "epcList": ["urn:epc:id:sgtin:0614141.107346.2", "urn:epc:id:sgtin:0614141.107346.1"]});
        let mut b = a.clone();
        b["epcList"] = json!([
            "https://id.gs1.org/01/10614141073464/21/1",
            "urn:epc:id:sgtin:0614141.107346.2"
        ]);
        b["eventID"] = json!("urn:uuid:1");
        b["recordTime"] = json!("2021-01-01T00:00:00Z");
        assert_eq!(event_hash_id(&a).unwrap(), event_hash_id(&b).unwrap());
        assert_eq!(
            pre_hash(&a).unwrap(),
            "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000ZeventTimeZoneOffset=+00:00\
             epcListepc=https://id.gs1.org/01/10614141073464/21/1\
             epc=https://id.gs1.org/01/10614141073464/21/2action=OBSERVE"
        );
    }
}
