//! EPCIS XML documents in the EPCIS 2.0 JSON-LD form.
//!
//! [`document_to_json`] reads an `EPCISDocument` in the EPCIS 2.0 XML binding (namespace
//! `urn:epcglobal:epcis:xsd:2`) or the EPCIS 1.2 one (`urn:epcglobal:epcis:xsd:1`, whose later
//! fields sit in `extension` and `baseExtension` wrappers) and returns the JSON-LD
//! `EPCISDocument` that GS1's EPCIS 2.0 JSON schema accepts:
//!
//! - the standard fields under their JSON names (lists of `epc` elements become arrays,
//!   `quantityElement`s objects with a numeric `quantity`, sensor attributes members, the
//!   numeric ones numbers);
//! - CBV values written as URNs (`urn:epcglobal:cbv:bizstep:receiving`) as the bare words of
//!   EPCIS 2.0 JSON (`receiving`), for bizStep, disposition, persistentDisposition, business
//!   transaction types, source/destination types and error reasons; other URIs and every
//!   identifier exactly as written;
//! - user extensions (elements and attributes in any other namespace) as `prefix:localName`
//!   members: nested elements become objects, repeated ones arrays, text strings. Each
//!   namespace used gets one `{prefix: namespace}` object in the document's `@context`, the
//!   namespace exactly as written (JSON-LD joins prefix and local name, so a namespace should
//!   end in `/` or `#`, as GS1 recommends). The prefix is the document's own, unless it is not
//!   a valid term or clashes with another; then `ext1`, `ext2`, …. The CBV master-data and GS1
//!   Web Vocabulary namespaces use the EPCIS context's `cbvmda` and `gs1` and add nothing.
//!   An extension element with attributes becomes an object of its attributes (and children),
//!   its text, if any, under `@value`.
//!
//! The `EPCISHeader` (SBDH, master data) is not converted. Unknown elements in the EPCIS
//! vocabulary (not in a namespace) are errors rather than silently dropped.
//!
//! Pure: no I/O, no clock; never panics on input. Errors name the element's path and line.

use std::fmt::Write as _;

use roxmltree::{Document, Node};
use serde_json::{Map, Value};

/// The EPCIS 2.0 XML namespace.
pub const NS_EPCIS_2: &str = "urn:epcglobal:epcis:xsd:2";
/// The EPCIS 1.2 XML namespace.
pub const NS_EPCIS_1: &str = "urn:epcglobal:epcis:xsd:1";
/// The EPCIS 2.0 JSON-LD context.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// Namespaces the EPCIS context already names, with its prefixes.
const KNOWN_NAMESPACES: &[(&str, &str)] = &[
    ("urn:epcglobal:cbv:mda", "cbvmda"),
    ("urn:epcglobal:cbv:mda:", "cbvmda"),
    ("https://gs1.org/voc/", "gs1"),
];

/// Prefixes the EPCIS context defines: a document's own namespace may not take them.
const RESERVED_PREFIXES: &[&str] = &[
    "epcis", "cbv", "cbvmda", "gs1", "rdfs", "owl", "xsd", "dcterms", "http", "https", "urn",
];

const EVENT_TYPES: &[&str] = &[
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
];

/// Sensor attributes whose values are numbers in JSON.
const NUMERIC_SENSOR_ATTRIBUTES: &[&str] = &[
    "value",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
];

/// Extension elements nested deeper than this are refused (the conversion recurses).
const MAX_DEPTH: usize = 64;

/// Why a document could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("not well-formed XML: {0}")]
    Malformed(String),

    #[error(
        "the root element is {found}; expected EPCISDocument in the namespace {NS_EPCIS_2} or {NS_EPCIS_1}"
    )]
    WrongRoot { found: String },

    #[error("{path} (line {line}): {message}")]
    Invalid {
        /// Where, e.g. `EPCISDocument/EPCISBody/EventList/ObjectEvent[2]/eventTime`.
        path: String,
        line: u32,
        message: String,
    },
}

/// Converts an EPCIS 2.0 (or 1.2) XML `EPCISDocument` to the EPCIS 2.0 JSON-LD document.
pub fn document_to_json(xml: &str) -> Result<Value, XmlError> {
    let doc = Document::parse(xml).map_err(|e| XmlError::Malformed(e.to_string()))?;
    let root = doc.root_element();
    let ns = root.tag_name().namespace();
    if root.tag_name().name() != "EPCISDocument" || !matches!(ns, Some(NS_EPCIS_2 | NS_EPCIS_1)) {
        return Err(XmlError::WrongRoot {
            found: match ns {
                Some(ns) => format!("{{{ns}}}{}", root.tag_name().name()),
                None => format!("{} (in no namespace)", root.tag_name().name()),
            },
        });
    }
    let mut cx = Cx {
        epcis_ns: ns,
        namespaces: Vec::new(),
    };
    let creation_date = root
        .attribute("creationDate")
        .ok_or_else(|| invalid(root, "the creationDate attribute is missing"))?
        .trim()
        .to_owned();
    let body = only_child(root, "EPCISBody", ns)?
        .ok_or_else(|| invalid(root, "the EPCISBody element is missing"))?;
    let list = only_child(body, "EventList", ns)?
        .ok_or_else(|| invalid(body, "the EventList element is missing"))?;
    let mut events = Vec::new();
    cx.events(list, &mut events)?;

    let mut context = vec![Value::String(EPCIS_CONTEXT.to_owned())];
    for (ns, prefix) in &cx.namespaces {
        if !KNOWN_NAMESPACES.iter().any(|(k, _)| k == ns) {
            let mut m = Map::new();
            m.insert(prefix.clone(), Value::String(ns.clone()));
            context.push(Value::Object(m));
        }
    }
    let mut body = Map::new();
    body.insert("eventList".into(), Value::Array(events));
    let mut out = Map::new();
    out.insert("@context".into(), Value::Array(context));
    out.insert("type".into(), "EPCISDocument".into());
    out.insert("schemaVersion".into(), "2.0".into());
    out.insert("creationDate".into(), creation_date.into());
    out.insert("epcisBody".into(), Value::Object(body));
    Ok(Value::Object(out))
}

struct Cx<'a> {
    /// The document's EPCIS namespace: elements in it count as unqualified ones.
    epcis_ns: Option<&'a str>,
    /// Extension namespaces in order of first use, with their JSON-LD prefixes.
    namespaces: Vec<(String, String)>,
}

impl Cx<'_> {
    /// Whether `n` is in the EPCIS vocabulary (unqualified, as the schemas declare them).
    fn is_standard(&self, n: Node) -> bool {
        let ns = n.tag_name().namespace();
        ns.is_none() || ns == self.epcis_ns
    }

    /// The events of an `EventList` (or of a 1.2 `extension` inside it), in order.
    fn events(&mut self, list: Node, out: &mut Vec<Value>) -> Result<(), XmlError> {
        for child in elements(list) {
            let name = child.tag_name().name();
            if self.is_standard(child) && name == "extension" {
                self.events(child, out)?;
            } else if self.is_standard(child) && EVENT_TYPES.contains(&name) {
                out.push(self.event(child)?);
            } else {
                return Err(invalid(
                    child,
                    "not an EPCIS event (ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent or AssociationEvent)",
                ));
            }
        }
        Ok(())
    }

    fn event(&mut self, node: Node) -> Result<Value, XmlError> {
        let mut out = Map::new();
        out.insert("type".into(), node.tag_name().name().into());
        self.event_fields(node, &mut out, 0)?;
        for required in ["eventTime", "eventTimeZoneOffset"] {
            if !out.contains_key(required) {
                return Err(invalid(node, &format!("the {required} element is missing")));
            }
        }
        Ok(Value::Object(out))
    }

    /// The fields of an event, and of its `extension` / `baseExtension` wrappers, into `out`.
    fn event_fields(
        &mut self,
        node: Node,
        out: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<(), XmlError> {
        if depth > 4 {
            return Err(invalid(node, "extension wrappers nested too deeply"));
        }
        for child in elements(node) {
            if !self.is_standard(child) {
                let (key, value) = self.extension_member(child, 0)?;
                push_member(out, key, value);
                continue;
            }
            let name = child.tag_name().name();
            let value = match name {
                "extension" | "baseExtension" => {
                    self.event_fields(child, out, depth + 1)?;
                    continue;
                }
                "eventTime"
                | "recordTime"
                | "eventTimeZoneOffset"
                | "eventID"
                | "action"
                | "parentID"
                | "transformationID" => Value::String(leaf_text(child)?),
                "certificationInfo" => {
                    // Repeatable in the JSON form: a second one turns the member into an array.
                    let v = Value::String(leaf_text(child)?);
                    match out.get_mut(name) {
                        Some(Value::Array(a)) => a.push(v),
                        Some(first) => *first = Value::Array(vec![first.take(), v]),
                        None => {
                            out.insert(name.into(), v);
                        }
                    }
                    continue;
                }
                "bizStep" => Value::String(cbv_word(&leaf_text(child)?, "bizstep")),
                "disposition" => Value::String(cbv_word(&leaf_text(child)?, "disp")),
                "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => {
                    self.epc_list(child)?
                }
                "quantityList" | "childQuantityList" | "inputQuantityList"
                | "outputQuantityList" => self.quantity_list(child)?,
                "persistentDisposition" => self.persistent_disposition(child)?,
                "readPoint" | "bizLocation" => self.location(child)?,
                "bizTransactionList" => self.typed_list(child, "bizTransaction", "btt")?,
                "sourceList" => self.typed_list(child, "source", "sdt")?,
                "destinationList" => self.typed_list(child, "destination", "sdt")?,
                "sensorElementList" => self.sensor_element_list(child)?,
                "errorDeclaration" => self.error_declaration(child)?,
                "ilmd" => self.extension_object(child)?,
                _ => return Err(invalid(child, "not an element of an EPCIS event")),
            };
            if out.contains_key(name) {
                return Err(invalid(child, "repeated; it may appear once"));
            }
            out.insert(name.into(), value);
        }
        Ok(())
    }

    /// `<epcList><epc>…</epc>…</epcList>` as an array of strings.
    fn epc_list(&mut self, node: Node) -> Result<Value, XmlError> {
        let mut out = Vec::new();
        for child in elements(node) {
            if !self.is_standard(child) || child.tag_name().name() != "epc" {
                return Err(invalid(child, "expected an epc element"));
            }
            out.push(Value::String(leaf_text(child)?));
        }
        Ok(Value::Array(out))
    }

    fn quantity_list(&mut self, node: Node) -> Result<Value, XmlError> {
        let mut out = Vec::new();
        for q in elements(node) {
            if !self.is_standard(q) || q.tag_name().name() != "quantityElement" {
                return Err(invalid(q, "expected a quantityElement"));
            }
            let mut element = Map::new();
            for child in elements(q) {
                let name = child.tag_name().name();
                let value = match (self.is_standard(child), name) {
                    (true, "epcClass" | "uom") => Value::String(leaf_text(child)?),
                    (true, "quantity") => decimal(&leaf_text(child)?)
                        .ok_or_else(|| invalid(child, "the quantity is not a decimal number"))?,
                    _ => return Err(invalid(child, "not an element of a quantityElement")),
                };
                if element.insert(name.into(), value).is_some() {
                    return Err(invalid(child, "repeated; it may appear once"));
                }
            }
            if !element.contains_key("epcClass") {
                return Err(invalid(q, "the epcClass element is missing"));
            }
            out.push(Value::Object(element));
        }
        Ok(Value::Array(out))
    }

    fn persistent_disposition(&mut self, node: Node) -> Result<Value, XmlError> {
        let mut out = Map::new();
        for child in elements(node) {
            let name = child.tag_name().name();
            if !self.is_standard(child) || !matches!(name, "set" | "unset") {
                return Err(invalid(child, "expected a set or unset element"));
            }
            let word = Value::String(cbv_word(&leaf_text(child)?, "disp"));
            push_member(&mut out, name.to_owned(), Value::Array(vec![word]));
        }
        Ok(Value::Object(out))
    }

    /// `readPoint` and `bizLocation`: `{id}` and any extension members (also those a 1.2
    /// `extension` wrapper holds).
    fn location(&mut self, node: Node) -> Result<Value, XmlError> {
        let mut out = Map::new();
        self.location_fields(node, &mut out, 0)?;
        if !out.contains_key("id") {
            return Err(invalid(node, "the id element is missing"));
        }
        Ok(Value::Object(out))
    }

    fn location_fields(
        &mut self,
        node: Node,
        out: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<(), XmlError> {
        for child in elements(node) {
            if !self.is_standard(child) {
                let (key, value) = self.extension_member(child, 0)?;
                push_member(out, key, value);
                continue;
            }
            match child.tag_name().name() {
                "id" if !out.contains_key("id") => {
                    out.insert("id".into(), Value::String(leaf_text(child)?));
                }
                "extension" if depth == 0 => self.location_fields(child, out, depth + 1)?,
                _ => return Err(invalid(child, "expected an id element")),
            }
        }
        Ok(())
    }

    /// `bizTransactionList`, `sourceList`, `destinationList`: `[{type, <item>}]`, the type's
    /// CBV URN (`urn:epcglobal:cbv:<cbv>:…`) as its bare word.
    fn typed_list(&mut self, node: Node, item: &str, cbv: &str) -> Result<Value, XmlError> {
        let mut out = Vec::new();
        for child in elements(node) {
            if !self.is_standard(child) || child.tag_name().name() != item {
                return Err(invalid(child, &format!("expected a {item} element")));
            }
            let mut m = Map::new();
            if let Some(t) = child.attribute("type") {
                m.insert("type".into(), Value::String(cbv_word(t.trim(), cbv)));
            }
            m.insert(item.into(), Value::String(leaf_text(child)?));
            out.push(Value::Object(m));
        }
        Ok(Value::Array(out))
    }

    fn sensor_element_list(&mut self, node: Node) -> Result<Value, XmlError> {
        let mut out = Vec::new();
        for element in elements(node) {
            if !self.is_standard(element) || element.tag_name().name() != "sensorElement" {
                return Err(invalid(element, "expected a sensorElement"));
            }
            let mut m = Map::new();
            let mut reports = Vec::new();
            for child in elements(element) {
                if !self.is_standard(child) {
                    let (key, value) = self.extension_member(child, 0)?;
                    push_member(&mut m, key, value);
                    continue;
                }
                match child.tag_name().name() {
                    "sensorMetadata" if !m.contains_key("sensorMetadata") => {
                        let v = self.sensor_attributes(child)?;
                        m.insert("sensorMetadata".into(), v);
                    }
                    "sensorReport" => reports.push(self.sensor_attributes(child)?),
                    _ => {
                        return Err(invalid(
                            child,
                            "expected a sensorMetadata (once) or sensorReport element",
                        ));
                    }
                }
            }
            if reports.is_empty() {
                return Err(invalid(element, "a sensorElement needs a sensorReport"));
            }
            m.insert("sensorReport".into(), Value::Array(reports));
            out.push(Value::Object(m));
        }
        Ok(Value::Array(out))
    }

    /// A `sensorMetadata` or `sensorReport`: its attributes as members (numbers and booleans
    /// typed), and any extension child elements.
    fn sensor_attributes(&mut self, node: Node) -> Result<Value, XmlError> {
        let mut out = Map::new();
        for a in node.attributes() {
            let value = a.value().trim();
            let (key, v) = match a.namespace() {
                Some(ns) => {
                    let prefix = self.prefix_for(node, ns);
                    (
                        format!("{prefix}:{}", a.name()),
                        Value::String(value.into()),
                    )
                }
                None if NUMERIC_SENSOR_ATTRIBUTES.contains(&a.name()) => {
                    let n = decimal(value).ok_or_else(|| {
                        invalid(
                            node,
                            &format!("the {} attribute is not a decimal number", a.name()),
                        )
                    })?;
                    (a.name().to_owned(), n)
                }
                None if a.name() == "booleanValue" => {
                    let b = match value {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(invalid(
                                node,
                                "the booleanValue attribute is not true, false, 1 or 0",
                            ));
                        }
                    };
                    (a.name().to_owned(), Value::Bool(b))
                }
                None => (a.name().to_owned(), Value::String(value.into())),
            };
            out.insert(key, v);
        }
        for child in elements(node) {
            if self.is_standard(child) {
                return Err(invalid(
                    child,
                    "not an element of a sensor report or metadata",
                ));
            }
            let (key, value) = self.extension_member(child, 0)?;
            push_member(&mut out, key, value);
        }
        Ok(Value::Object(out))
    }

    fn error_declaration(&mut self, node: Node) -> Result<Value, XmlError> {
        let mut out = Map::new();
        self.error_declaration_fields(node, &mut out, 0)?;
        if !out.contains_key("declarationTime") {
            return Err(invalid(node, "the declarationTime element is missing"));
        }
        Ok(Value::Object(out))
    }

    fn error_declaration_fields(
        &mut self,
        node: Node,
        out: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<(), XmlError> {
        for child in elements(node) {
            if !self.is_standard(child) {
                let (key, value) = self.extension_member(child, 0)?;
                push_member(out, key, value);
                continue;
            }
            let name = child.tag_name().name();
            let value = match name {
                "extension" if depth == 0 => {
                    self.error_declaration_fields(child, out, depth + 1)?;
                    continue;
                }
                "declarationTime" => Value::String(leaf_text(child)?),
                "reason" => Value::String(cbv_word(&leaf_text(child)?, "er")),
                "correctiveEventIDs" => {
                    let mut ids = Vec::new();
                    for id in elements(child) {
                        if !self.is_standard(id) || id.tag_name().name() != "correctiveEventID" {
                            return Err(invalid(id, "expected a correctiveEventID element"));
                        }
                        ids.push(Value::String(leaf_text(id)?));
                    }
                    Value::Array(ids)
                }
                _ => return Err(invalid(child, "not an element of an errorDeclaration")),
            };
            if out.insert(name.into(), value).is_some() {
                return Err(invalid(child, "repeated; it may appear once"));
            }
        }
        Ok(())
    }

    /// The children of `ilmd` as extension members (a 1.2 `extension` wrapper flattened).
    fn extension_object(&mut self, node: Node) -> Result<Value, XmlError> {
        let mut out = Map::new();
        self.extension_object_fields(node, &mut out, 0)?;
        Ok(Value::Object(out))
    }

    fn extension_object_fields(
        &mut self,
        node: Node,
        out: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<(), XmlError> {
        for child in elements(node) {
            if self.is_standard(child) {
                if child.tag_name().name() == "extension" && depth == 0 {
                    self.extension_object_fields(child, out, depth + 1)?;
                    continue;
                }
                return Err(invalid(
                    child,
                    "an element here must be in an extension namespace",
                ));
            }
            let (key, value) = self.extension_member(child, 0)?;
            push_member(out, key, value);
        }
        Ok(())
    }

    /// A user extension element as a `prefix:localName` member (unqualified nested elements
    /// keep their bare local name).
    fn extension_member(&mut self, node: Node, depth: usize) -> Result<(String, Value), XmlError> {
        if depth > MAX_DEPTH {
            return Err(invalid(
                node,
                &format!("extension elements nested more than {MAX_DEPTH} deep"),
            ));
        }
        let local = node.tag_name().name();
        let key = match node.tag_name().namespace() {
            Some(ns) if Some(ns) != self.epcis_ns => {
                format!("{}:{local}", self.prefix_for(node, ns))
            }
            _ => local.to_owned(),
        };
        let mut members = Map::new();
        for a in node.attributes() {
            let name = match a.namespace() {
                Some(ns) => format!("{}:{}", self.prefix_for(node, ns), a.name()),
                None => a.name().to_owned(),
            };
            members.insert(name, Value::String(a.value().to_owned()));
        }
        let mut has_children = false;
        for child in elements(node) {
            has_children = true;
            let (k, v) = self.extension_member(child, depth + 1)?;
            push_member(&mut members, k, v);
        }
        let text = own_text(node);
        let text = text.trim();
        if has_children && !text.is_empty() {
            return Err(invalid(
                node,
                "mixed content (text beside child elements) is not supported",
            ));
        }
        let value = if members.is_empty() {
            if has_children {
                Value::Object(members)
            } else {
                Value::String(text.to_owned())
            }
        } else {
            if !text.is_empty() {
                members.insert("@value".into(), Value::String(text.to_owned()));
            }
            Value::Object(members)
        };
        Ok((key, value))
    }

    /// The JSON-LD prefix for namespace `ns`, first met at `node`.
    fn prefix_for(&mut self, node: Node, ns: &str) -> String {
        if let Some((_, p)) = self.namespaces.iter().find(|(n, _)| n == ns) {
            return p.clone();
        }
        let known = KNOWN_NAMESPACES.iter().find(|(n, _)| *n == ns);
        let prefix = if let Some((_, p)) = known {
            (*p).to_owned()
        } else {
            let own = node
                .namespaces()
                .find(|d| d.uri() == ns && d.name().is_some())
                .and_then(|d| d.name());
            match own {
                Some(p)
                    if is_term(p)
                        && !RESERVED_PREFIXES.contains(&p)
                        && !self.namespaces.iter().any(|(_, q)| q == p) =>
                {
                    p.to_owned()
                }
                _ => {
                    let mut n = 1;
                    loop {
                        let candidate = format!("ext{n}");
                        if !self.namespaces.iter().any(|(_, q)| *q == candidate) {
                            break candidate;
                        }
                        n += 1;
                    }
                }
            }
        };
        self.namespaces.push((ns.to_owned(), prefix.clone()));
        prefix
    }
}

/// Adds `key: value` to `out`; a repeated key becomes an array of its values. (An element's
/// own value is a string or an object, so an array there always comes from repeats; an array
/// `value` is appended item by item.)
fn push_member(out: &mut Map<String, Value>, key: String, value: Value) {
    match (out.get_mut(&key), value) {
        (None, value) => {
            out.insert(key, value);
        }
        (Some(Value::Array(items)), Value::Array(more)) => items.extend(more),
        (Some(Value::Array(items)), value) => items.push(value),
        (Some(first), value) => *first = Value::Array(vec![first.take(), value]),
    }
}

/// Whether `p` can be a JSON-LD prefix that GS1's schema accepts as the scheme of a
/// `prefix:name` member (a URI scheme: a letter, then letters, digits, `+`, `-`, `.`).
fn is_term(p: &str) -> bool {
    let mut chars = p.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `urn:epcglobal:cbv:<kind>:<word>` as `<word>`; anything else unchanged.
fn cbv_word(value: &str, kind: &str) -> String {
    let prefix = format!("urn:epcglobal:cbv:{kind}:");
    match value.strip_prefix(&prefix) {
        Some(word) if !word.is_empty() => word.to_owned(),
        _ => value.to_owned(),
    }
}

/// An XML Schema decimal (or double, without INF/NaN) as a JSON number: `+1.5`, `.5`, `5.`
/// and `1E3` are accepted.
fn decimal(text: &str) -> Option<Value> {
    let t = text.trim();
    let (sign, digits) = match (t.strip_prefix('-'), t.strip_prefix('+')) {
        (Some(rest), _) => ("-", rest),
        (None, Some(rest)) => ("", rest),
        (None, None) => ("", t),
    };
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(i) => (&digits[..i], &digits[i..]),
        None => (digits, ""),
    };
    // A sign was taken off above; JSON needs a digit on at least one side of the point.
    if !mantissa.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || !mantissa.bytes().any(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut m = String::with_capacity(mantissa.len() + 2);
    if mantissa.starts_with('.') {
        m.push('0');
    }
    m.push_str(mantissa);
    if mantissa.ends_with('.') {
        m.push('0');
    }
    let normal = format!("{sign}{m}{exponent}");
    match serde_json::from_str::<Value>(&normal) {
        Ok(v @ Value::Number(_)) => Some(v),
        _ => None,
    }
}

/// The element children of `node`.
fn elements<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(Node::is_element)
}

/// The one child element `name` of `node`, unqualified or in the document's EPCIS namespace
/// `epcis_ns`; an error if repeated.
fn only_child<'a, 'input>(
    node: Node<'a, 'input>,
    name: &str,
    epcis_ns: Option<&str>,
) -> Result<Option<Node<'a, 'input>>, XmlError> {
    let mut found = None;
    for child in elements(node) {
        let ns = child.tag_name().namespace();
        if child.tag_name().name() == name && (ns.is_none() || ns == epcis_ns) {
            if found.is_some() {
                return Err(invalid(child, "repeated; it may appear once"));
            }
            found = Some(child);
        }
    }
    Ok(found)
}

/// The text directly inside `node` (CDATA included), not that of its children.
fn own_text(node: Node) -> String {
    node.children()
        .filter(Node::is_text)
        .filter_map(|t| t.text())
        .collect()
}

/// The trimmed text of an element that must hold text only, and some.
fn leaf_text(node: Node) -> Result<String, XmlError> {
    if let Some(child) = elements(node).next() {
        return Err(invalid(child, "unexpected element: this field holds text"));
    }
    let text = own_text(node);
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(node, "empty; it must hold a value"));
    }
    Ok(text.to_owned())
}

/// An error at `node`, naming its path and line.
fn invalid(node: Node, message: &str) -> XmlError {
    XmlError::Invalid {
        path: path_of(node),
        line: node.document().text_pos_at(node.range().start).row,
        message: message.to_owned(),
    }
}

/// `EPCISDocument/EPCISBody/EventList/ObjectEvent[2]/eventTime`: local names, with a 1-based
/// position where siblings share the name.
fn path_of(node: Node) -> String {
    let mut parts = Vec::new();
    for n in node.ancestors().filter(Node::is_element) {
        let name = n.tag_name().name();
        let same = |s: &Node| s.is_element() && s.tag_name() == n.tag_name();
        let before = n.prev_siblings().skip(1).filter(same).count();
        let after = n.next_siblings().skip(1).filter(same).count();
        if before + after > 0 {
            parts.push(format!("{name}[{}]", before + 1));
        } else {
            parts.push(name.to_owned());
        }
    }
    let mut out = String::new();
    for (i, p) in parts.iter().rev().enumerate() {
        if i > 0 {
            out.push('/');
        }
        let _ = write!(out, "{p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        let n = |s: &str| decimal(s).map(|v| v.to_string());
        assert_eq!(n("10").as_deref(), Some("10"));
        assert_eq!(n(" +2.5 ").as_deref(), Some("2.5"));
        assert_eq!(n(".5").as_deref(), Some("0.5"));
        assert_eq!(n("-5.").as_deref(), Some("-5.0"));
        assert_eq!(n("1E3").as_deref(), Some("1000.0"));
        for bad in ["", "abc", "1,5", "--1", "+-1", "NaN", "INF", ".", "1e"] {
            assert_eq!(n(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cbv_words() {
        assert_eq!(
            cbv_word("urn:epcglobal:cbv:bizstep:receiving", "bizstep"),
            "receiving"
        );
        assert_eq!(
            cbv_word("urn:epcglobal:cbv:disp:in_transit", "disp"),
            "in_transit"
        );
        // Another kind's URN, or another URI, is left alone.
        assert_eq!(
            cbv_word("urn:epcglobal:cbv:disp:in_transit", "bizstep"),
            "urn:epcglobal:cbv:disp:in_transit"
        );
        assert_eq!(
            cbv_word("https://example.com/steps/washing", "bizstep"),
            "https://example.com/steps/washing"
        );
        assert_eq!(
            cbv_word("urn:epcglobal:cbv:btt:", "btt"),
            "urn:epcglobal:cbv:btt:"
        );
    }

    #[test]
    fn terms() {
        assert!(is_term("example"));
        assert!(is_term("ex-2.a"));
        assert!(!is_term("my_ns"));
        assert!(!is_term("2ex"));
        assert!(!is_term(""));
    }

    #[test]
    fn paths_count_same_named_siblings() {
        let xml = r#"<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" creationDate="2025-01-01T00:00:00Z"><EPCISBody><EventList>
<ObjectEvent><eventTime>2025-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset></ObjectEvent>
<ObjectEvent><eventTimeZoneOffset>+00:00</eventTimeZoneOffset></ObjectEvent>
</EventList></EPCISBody></epcis:EPCISDocument>"#;
        match document_to_json(xml) {
            Err(XmlError::Invalid {
                path,
                line,
                message,
            }) => {
                assert_eq!(path, "EPCISDocument/EPCISBody/EventList/ObjectEvent[2]");
                assert_eq!(line, 3);
                assert!(message.contains("eventTime"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deep_extensions_are_refused_not_overflowed() {
        let mut inner = String::new();
        for _ in 0..200 {
            inner.push_str("<ex:a>");
        }
        for _ in 0..200 {
            inner.push_str("</ex:a>");
        }
        let xml = format!(
            r#"<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:ex="https://ex.example/" creationDate="2025-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent><eventTime>2025-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>{inner}</ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"#
        );
        let err = document_to_json(&xml).unwrap_err().to_string();
        assert!(err.contains("nested more than"), "{err}");
    }
}
