//! Strict JSON parsing for untrusted input at the edge of the system.
//!
//! Everything that will later be signed or hashed through `super::jcs` must be
//! I-JSON (RFC 7493), or two honest parties could disagree about what a
//! document means: a duplicate member name may be read as either value, and an
//! integer beyond ±(2^53 − 1) silently changes when it becomes an IEEE-754
//! double. [`parse`] therefore returns a [`Value`] only when none of that can
//! happen, so code past the edge never re-checks ("parse, don't validate").
//! It also bounds nesting depth, which keeps every later recursive walk over
//! the value (canonicalization, schema checks, drop) from exhausting the stack.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Nesting allowed by [`Limits::default`]: far more than any EPCIS event
/// needs, and small enough that recursive code over the value stays cheap.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// serde_json refuses a document with 128 nested arrays/objects before our
/// visitor sees it (its fixed recursion limit, unless the `unbounded_depth`
/// feature is on), so no configured limit can be higher than this.
const SERDE_JSON_MAX_DEPTH: usize = 127;

/// The largest integer magnitude a double holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Bounds applied by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most arrays/objects that may enclose one another. The top-level
    /// array or object is at depth 1 and each array or object nested inside
    /// adds one; scalars add nothing, so `"x"` has depth 0, `[]` depth 1 and
    /// `{"a":[1]}` depth 2. Values above 127 act as 127, serde_json's own limit.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Why a document was refused. Pointers are RFC 6901 JSON pointers into the
/// document; the root is `""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all: bad syntax, invalid UTF-8, a lone surrogate escape,
    /// trailing data, empty input. `line` and `column` are 1-based as reported
    /// by serde_json (column 0 when the input ended before the first byte of a line).
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// More arrays/objects nested than `max` (see [`Limits::max_depth`]).
    TooDeep { max: usize },
    /// The object at `pointer` has the member name `key` more than once.
    DuplicateKey { pointer: String, key: String },
    /// The integer at `pointer` is outside ±(2^53 − 1).
    NumberOutOfRange { pointer: String },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax {
                line,
                column,
                message,
            } => write!(f, "invalid JSON at line {line}, column {column}: {message}"),
            Self::TooDeep { max } => write!(f, "JSON nesting deeper than {max} levels"),
            Self::DuplicateKey { pointer, key } => write!(
                f,
                "duplicate member name {key:?} at {}",
                shown_pointer(pointer)
            ),
            Self::NumberOutOfRange { pointer } => write!(
                f,
                "integer at {} is outside ±2^53 and cannot be signed exactly",
                shown_pointer(pointer)
            ),
        }
    }
}

impl std::error::Error for JsonError {}

/// An empty pointer reads as nothing in a sentence, so messages show the
/// root as `/`; the error fields keep the exact RFC 6901 form.
fn shown_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// Returns `base` extended by one RFC 6901 reference token, escaping `~` as
/// `~0` and `/` as `~1`. `pointer_push("", "a/b")` is `"/a~1b"`.
pub fn pointer_push(base: &str, token: &str) -> String {
    let mut out = String::with_capacity(base.len() + token.len() + 1);
    out.push_str(base);
    append_token(&mut out, token);
    out
}

fn append_token(out: &mut String, token: &str) {
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// Parses one JSON document from `bytes`, refusing anything that is not
/// strict I-JSON within `limits`. Whitespace around the value is allowed;
/// anything else after it is a syntax error.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Value, JsonError> {
    let max_depth = limits.max_depth.min(SERDE_JSON_MAX_DEPTH);
    let mut state = State {
        max_depth,
        depth: 0,
        path: Vec::new(),
        failure: None,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = ValueSeed { state: &mut state }
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    result.map_err(|err| {
        // Our own refusals travel through serde_json as opaque custom errors;
        // the structured version was stashed when it was raised.
        state
            .failure
            .take()
            .unwrap_or_else(|| from_serde_json(&err, max_depth))
    })
}

/// A top-level JSON array split into its elements without building them, so that each element
/// is parsed by the thread that uses it: a batch of events is parsed on the cores that admit it,
/// and each event's tree is built and freed by one thread, while it is in that core's cache.
///
/// Reading a document through [`Array::split`], [`Array::item`] and [`Array::refusal`] accepts
/// exactly what [`parse`] accepts, with the same values, and refuses with exactly its errors:
/// - the split finds the elements by their punctuation alone (see [`element_spans`]), and checks
///   that what lies between them is an array's brackets, commas and whitespace;
/// - each element is then parsed strictly, with one level of depth less. When every element is
///   strict JSON, so is the whole document, by the grammar of an array;
/// - anything refused on the way is worded by [`parse`] of the whole document.
///
/// serde_json's `raw_value` feature could split the array too, but it changes how every `Value`
/// in the program is deserialized (an object whose first member is serde_json's private raw
/// value token becomes whatever JSON its string holds), which an event read back from the
/// ledger must never do.
#[derive(Debug)]
pub struct Array<B> {
    bytes: B,
    items: Items,
    limits: Limits,
}

#[derive(Debug)]
enum Items {
    /// Where each element is in the bytes.
    Spans(Vec<Range<usize>>),
    /// Elements the whole parse built, for a valid array the scan could not split. The scan is
    /// exact for valid JSON, so this is not expected; it keeps the split total all the same.
    Parsed(Vec<Value>),
}

/// Why one element of an [`Array`] was refused, as found by parsing it alone; turn it into the
/// whole document's error with [`Array::refusal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    index: usize,
    error: JsonError,
}

impl<B: AsRef<[u8]>> Array<B> {
    /// Splits `bytes`, a JSON array. `Ok(None)` when it is strict JSON but not an array; `Err`
    /// when the scan cannot split it and [`parse`] refuses it. Any other refusal is found by
    /// [`Array::item`], in the element that holds it.
    pub fn split(bytes: B, limits: &Limits) -> Result<Option<Self>, JsonError> {
        let b = bytes.as_ref();
        let items = match element_spans(b) {
            // An array needs one level of depth; without it the whole parse refuses it.
            Some(spans) if limits.max_depth > 0 => Items::Spans(spans),
            // Not an array, or not valid JSON: the whole parse says which, and how.
            _ => match parse(b, limits)? {
                Value::Array(values) => Items::Parsed(values),
                _ => return Ok(None),
            },
        };
        Ok(Some(Array {
            bytes,
            items,
            limits: *limits,
        }))
    }

    /// How many elements the array has.
    pub fn len(&self) -> usize {
        match &self.items {
            Items::Spans(spans) => spans.len(),
            Items::Parsed(values) => values.len(),
        }
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `index`, strictly parsed.
    ///
    /// # Panics
    /// If `index` is not below [`Array::len`].
    pub fn item(&self, index: usize) -> Result<Value, ItemError> {
        match &self.items {
            Items::Spans(spans) => {
                // The array itself is one level; `split` made sure there is room for it.
                let inner = Limits {
                    max_depth: self.limits.max_depth.min(SERDE_JSON_MAX_DEPTH) - 1,
                };
                parse(&self.bytes.as_ref()[spans[index].clone()], &inner)
                    .map_err(|error| ItemError { index, error })
            }
            Items::Parsed(values) => Ok(values[index].clone()),
        }
    }

    /// Whether the whole document is strict JSON, as [`parse`] says; for a caller that refuses
    /// the array for another reason but must first refuse a document that is not JSON.
    pub fn check(&self) -> Result<(), JsonError> {
        match self.items {
            Items::Spans(_) => parse(self.bytes.as_ref(), &self.limits).map(|_| ()),
            Items::Parsed(_) => Ok(()),
        }
    }

    /// The error [`parse`] gives for the whole document, which an element refused. It parses
    /// the whole document again: call it once per document, not once per refused element.
    pub fn refusal(&self, e: ItemError) -> JsonError {
        if let Err(whole) = parse(self.bytes.as_ref(), &self.limits) {
            return whole;
        }
        // Unreachable: every element of a valid array is valid on its own. Were it reached,
        // the element's error, naming where the element is, would still be the answer.
        let at = |pointer: String| format!("/{}{pointer}", e.index);
        match e.error {
            JsonError::DuplicateKey { pointer, key } => JsonError::DuplicateKey {
                pointer: at(pointer),
                key,
            },
            JsonError::NumberOutOfRange { pointer } => JsonError::NumberOutOfRange {
                pointer: at(pointer),
            },
            JsonError::TooDeep { .. } => JsonError::TooDeep {
                max: self.limits.max_depth.min(SERDE_JSON_MAX_DEPTH),
            },
            syntax @ JsonError::Syntax { .. } => syntax,
        }
    }
}

/// The byte ranges of the elements of the JSON array `b`, whitespace around each included,
/// found by punctuation alone: brackets and braces outside strings are counted, a string ends at
/// its first unescaped quote, and an element ends at a comma or a closing bracket at its own
/// level. That is exact when `b` is valid JSON (no byte of a multi-byte UTF-8 character is
/// ASCII). Otherwise the ranges may be wrong, but a wrong range is not a valid element, so
/// [`Array::item`] refuses it. `None` when the bytes outside the ranges are not whitespace, an
/// opening bracket, commas between the ranges and a closing bracket, or when a range is only
/// whitespace (`[1,]`): such a body is refused on the spot rather than after its other elements
/// are admitted.
fn element_spans(b: &[u8]) -> Option<Vec<Range<usize>>> {
    let space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let open = b.iter().position(|c| !space(c))?;
    if b[open] != b'[' {
        return None;
    }
    let mut spans = Vec::new();
    let mut i = open + 1;
    let empty = b[i..].iter().position(|c| !space(c)).map(|n| i + n);
    if let Some(close) = empty.filter(|&j| b[j] == b']') {
        i = close + 1;
    } else {
        loop {
            let start = i;
            let (mut depth, mut in_string) = (0usize, false);
            let end = loop {
                let c = *b.get(i)?;
                if in_string {
                    match c {
                        b'\\' => i += 1,
                        b'"' => in_string = false,
                        _ => {}
                    }
                } else {
                    match c {
                        b'"' => in_string = true,
                        b'[' | b'{' => depth += 1,
                        b']' | b'}' if depth > 0 => depth -= 1,
                        b',' | b']' if depth == 0 => break c,
                        b'}' => return None,
                        _ => {}
                    }
                }
                i += 1;
            };
            if b[start..i].iter().all(space) {
                return None;
            }
            spans.push(start..i);
            i += 1;
            if end == b']' {
                break;
            }
        }
    }
    b[i..].iter().all(space).then_some(spans)
}

fn from_serde_json(err: &serde_json::Error, max_depth: usize) -> JsonError {
    let text = err.to_string();
    // serde_json has no public error code for this, only the message.
    if text.starts_with("recursion limit exceeded") {
        return JsonError::TooDeep { max: max_depth };
    }
    let (line, column) = (err.line(), err.column());
    let suffix = format!(" at line {line} column {column}");
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
    JsonError::Syntax {
        line,
        column,
        message,
    }
}

/// One step from a container to a child, kept so that an error deep inside the
/// document can name where it is without building a pointer for every value.
enum Segment {
    Index(usize),
    Key(String),
}

/// Shared by every level of the recursive visitor.
struct State {
    max_depth: usize,
    depth: usize,
    path: Vec<Segment>,
    failure: Option<JsonError>,
}

impl State {
    fn pointer(&self) -> String {
        let mut out = String::new();
        for segment in &self.path {
            match segment {
                Segment::Index(i) => append_token(&mut out, &i.to_string()),
                Segment::Key(k) => append_token(&mut out, k),
            }
        }
        out
    }

    /// Records the structured error and returns the stand-in that unwinds
    /// serde_json's stack.
    fn fail<E: de::Error>(&mut self, err: JsonError) -> E {
        let stand_in = E::custom(&err);
        self.failure = Some(err);
        stand_in
    }

    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        self.depth += 1;
        if self.depth > self.max_depth {
            let max = self.max_depth;
            return Err(self.fail(JsonError::TooDeep { max }));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn check_integer<E: de::Error>(&mut self, magnitude: u64) -> Result<(), E> {
        if magnitude > MAX_SAFE_INTEGER {
            let pointer = self.pointer();
            return Err(self.fail(JsonError::NumberOutOfRange { pointer }));
        }
        Ok(())
    }
}

struct ValueSeed<'s> {
    state: &'s mut State,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.state.check_integer(v.unsigned_abs())?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.state.check_integer(v)?;
        Ok(Value::from(v))
    }

    // Non-integer literals and integers too long for 64 bits arrive here.
    // They are doubles already on the wire side too, so both ends agree on
    // their value and JCS can write them exactly.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // Every double of magnitude 2^53 or more is an integer, and below 10^21
        // RFC 8785 writes it as an integer literal: `33333333333333333.3` is
        // canonicalized to `33333333333333332`, an integer beyond ±(2^53 − 1)
        // that this parser refuses. So the canonical bytes of a document it
        // accepted would be refused when read back (and an over-long integer
        // literal would be rounded silently). Such numbers are refused whatever
        // their spelling; from 10^21 on JCS writes an exponent, which reads back
        // as the same double. Found by the `jcs` fuzz target.
        if v.abs() > MAX_SAFE_INTEGER as f64 && v.abs() < 1e21 {
            let pointer = self.state.pointer();
            return Err(self.state.fail(JsonError::NumberOutOfRange { pointer }));
        }
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.state.enter()?;
        let mut items = Vec::new();
        loop {
            self.state.path.push(Segment::Index(items.len()));
            let item = seq.next_element_seed(ValueSeed {
                state: &mut *self.state,
            })?;
            self.state.path.pop();
            match item {
                Some(item) => items.push(item),
                None => break,
            }
        }
        self.state.leave();
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        self.state.enter()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            // Names are compared after unescaping, so "a" and "\u0061" clash,
            // as RFC 8259 §4 and RFC 7493 §2.3 intend.
            if map.contains_key(&key) {
                let pointer = self.state.pointer();
                return Err(self.state.fail(JsonError::DuplicateKey { pointer, key }));
            }
            self.state.path.push(Segment::Key(key));
            let value = access.next_value_seed(ValueSeed {
                state: &mut *self.state,
            })?;
            // The key is moved through the path and back rather than cloned,
            // saving an allocation per member.
            match self.state.path.pop() {
                Some(Segment::Key(key)) => {
                    map.insert(key, value);
                }
                _ => return Err(de::Error::custom("internal error: JSON path out of step")),
            }
        }
        self.state.leave();
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn strict(text: &str) -> Result<Value, JsonError> {
        parse(text.as_bytes(), &Limits::default())
    }

    fn with_depth(text: &str, max_depth: usize) -> Result<Value, JsonError> {
        parse(text.as_bytes(), &Limits { max_depth })
    }

    fn nested_arrays(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn parses_ordinary_documents() {
        let v = strict(r#" {"a": [1, -2.5, "x", true, false, null], "b": {}} "#).unwrap();
        assert_eq!(v, json!({"a": [1, -2.5, "x", true, false, null], "b": {}}));
        assert_eq!(strict("\"\\u00e9\\ud83d\\ude02\"").unwrap(), json!("é😂"));
    }

    #[test]
    fn depth_at_limit_is_accepted_and_over_it_refused() {
        assert!(strict(&nested_arrays(DEFAULT_MAX_DEPTH)).is_ok());
        assert_eq!(
            strict(&nested_arrays(DEFAULT_MAX_DEPTH + 1)),
            Err(JsonError::TooDeep { max: 64 })
        );
        assert!(with_depth(r#"{"a":[{"b":1}]}"#, 3).is_ok());
        assert_eq!(
            with_depth(r#"{"a":[{"b":[]}]}"#, 3),
            Err(JsonError::TooDeep { max: 3 })
        );
        assert!(with_depth("\"scalar\"", 0).is_ok());
        assert_eq!(with_depth("[]", 0), Err(JsonError::TooDeep { max: 0 }));
    }

    #[test]
    fn limits_above_serde_json_recursion_limit_are_capped() {
        assert!(with_depth(&nested_arrays(127), 1000).is_ok());
        assert_eq!(
            with_depth(&nested_arrays(128), 1000),
            Err(JsonError::TooDeep { max: 127 })
        );
        // Far past any limit, and unterminated: still a clean error.
        assert_eq!(
            with_depth(&"[{\"a\":".repeat(100_000), 1000),
            Err(JsonError::TooDeep { max: 127 })
        );
    }

    #[test]
    fn duplicate_member_at_root() {
        let err = strict(r#"{"eventID": 1, "eventID": 2}"#).unwrap_err();
        assert_eq!(
            err,
            JsonError::DuplicateKey {
                pointer: String::new(),
                key: "eventID".into()
            }
        );
        assert_eq!(err.to_string(), "duplicate member name \"eventID\" at /");
    }

    #[test]
    fn duplicate_member_nested_names_the_object() {
        let err = strict(r#"{"a": [{"x": 1}, {"x~/": 1, "y": 0, "x~/": 2}]}"#).unwrap_err();
        assert_eq!(
            err,
            JsonError::DuplicateKey {
                pointer: "/a/1".into(),
                key: "x~/".into()
            }
        );
        let err = strict(r#"{"o~/": {"k": 1, "k": 1}}"#).unwrap_err();
        assert_eq!(
            err,
            JsonError::DuplicateKey {
                pointer: "/o~0~1".into(),
                key: "k".into()
            }
        );
    }

    #[test]
    fn duplicate_detection_sees_through_escapes() {
        assert_eq!(
            strict(r#"{"a": 1, "\u0061": 2}"#),
            Err(JsonError::DuplicateKey {
                pointer: String::new(),
                key: "a".into()
            })
        );
    }

    #[test]
    fn integers_beyond_safe_range_are_refused() {
        assert_eq!(
            strict("9007199254740991").unwrap(),
            json!(9_007_199_254_740_991_u64)
        );
        assert_eq!(
            strict("-9007199254740991").unwrap(),
            json!(-9_007_199_254_740_991_i64)
        );
        for text in [
            "9007199254740992",
            "-9007199254740992",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            assert_eq!(
                strict(text),
                Err(JsonError::NumberOutOfRange {
                    pointer: String::new()
                }),
                "{text}"
            );
        }
        let err = strict(r#"{"quantity": 9007199254740993}"#).unwrap_err();
        assert_eq!(
            err,
            JsonError::NumberOutOfRange {
                pointer: "/quantity".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "integer at /quantity is outside ±2^53 and cannot be signed exactly"
        );
        assert_eq!(
            strict(r#"[0, [1, 9007199254740992]]"#),
            Err(JsonError::NumberOutOfRange {
                pointer: "/1/1".into()
            })
        );
    }

    #[test]
    fn large_non_integer_literals_are_kept_as_doubles() {
        assert_eq!(strict("1e300").unwrap(), json!(1e300));
        assert_eq!(strict("1e21").unwrap(), json!(1e21));
        assert_eq!(
            strict("9007199254740991.0").unwrap(),
            json!(9_007_199_254_740_991.0)
        );
        assert!(matches!(strict("1e400"), Err(JsonError::Syntax { .. })));
    }

    /// Regression (fuzz target `jcs`): a double that RFC 8785 writes as an integer beyond
    /// ±(2^53 − 1) was accepted, so its canonical form was refused when parsed again.
    #[test]
    fn numbers_canonicalized_to_unsafe_integers_are_refused() {
        // The fuzzer's minimized input: 17 threes, a point and a three.
        let found: &[u8] = b"33333333333333333.3";
        assert_eq!(
            parse(found, &Limits::default()),
            Err(JsonError::NumberOutOfRange {
                pointer: String::new()
            })
        );
        for text in [
            "9007199254740993.0",
            "-9007199254740992.0",
            "1e20",
            "-9.99e20",
            // Too long for u64, so serde_json reads it as a double.
            "100000000000000000000",
        ] {
            assert_eq!(
                strict(&format!("[{text}]")),
                Err(JsonError::NumberOutOfRange {
                    pointer: "/0".into()
                }),
                "{text}"
            );
        }
        // What is accepted has a canonical form that is accepted again.
        for text in [
            "9007199254740991.0",
            "1e21",
            "-1.5e21",
            "4503599627370495.5",
        ] {
            let canonical = crate::jcs::canonicalize(&strict(text).unwrap());
            let again = parse(&canonical, &Limits::default()).unwrap();
            assert_eq!(crate::jcs::canonicalize(&again), canonical, "{text}");
        }
    }

    #[test]
    fn trailing_data_is_refused() {
        assert!(strict("{}  \n\t").is_ok());
        for text in ["{} x", "1 2", "[]]", "{}{}", "nullx"] {
            assert!(
                matches!(strict(text), Err(JsonError::Syntax { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn lone_surrogate_escapes_are_refused() {
        for text in [
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800x""#,
            r#"{"\ud83d": 1}"#,
        ] {
            assert!(
                matches!(strict(text), Err(JsonError::Syntax { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert!(matches!(
            parse(b"\"\xff\"", &Limits::default()),
            Err(JsonError::Syntax { .. })
        ));
    }

    #[test]
    fn empty_input_is_a_syntax_error() {
        for text in ["", "   "] {
            match strict(text) {
                Err(JsonError::Syntax { message, .. }) => {
                    assert!(message.contains("EOF"), "{message}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn syntax_errors_carry_position_and_a_bare_message() {
        let err = strict("{\n  \"a\": 1,,\n}").unwrap_err();
        let JsonError::Syntax {
            line,
            column,
            message,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*line, 2);
        assert!(*column > 0);
        assert!(!message.contains(" at line "), "{message}");
        assert!(
            err.to_string()
                .starts_with("invalid JSON at line 2, column ")
        );
    }

    #[test]
    fn too_deep_message() {
        assert_eq!(
            JsonError::TooDeep { max: 64 }.to_string(),
            "JSON nesting deeper than 64 levels"
        );
    }

    #[test]
    fn pointer_push_escapes_per_rfc6901() {
        assert_eq!(pointer_push("", "a"), "/a");
        assert_eq!(pointer_push("", ""), "/");
        assert_eq!(pointer_push("/a", "b/c~d"), "/a/b~1c~0d");
        assert_eq!(pointer_push("/a", "~1"), "/a/~01");
        assert_eq!(pointer_push("/x", "0"), "/x/0");
    }

    fn safe_number() -> impl Strategy<Value = Value> {
        let max = MAX_SAFE_INTEGER as i64;
        prop_oneof![
            (-max..=max).prop_map(Value::from),
            // Not the doubles RFC 8785 writes as integers beyond the safe range (refused).
            any::<f64>()
                .prop_filter("finite, canonically no unsafe integer", |f| {
                    f.is_finite() && !(f.abs() > MAX_SAFE_INTEGER as f64 && f.abs() < 1e21)
                })
                .prop_map(Value::from),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        value_of(prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter))
    }

    /// JSON values whose strings and member names are drawn from `string`.
    fn value_of(
        string: impl Strategy<Value = String> + Clone + 'static,
    ) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            safe_number(),
            string.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                // Collecting into a Map drops repeated names, as the generator must.
                prop::collection::vec((string.clone(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// A document read through [`Array`], as [`parse`] would give it: its elements when it is an
    /// array, `None` when it is JSON of another kind.
    fn via_array(bytes: &[u8], limits: &Limits) -> Result<Option<Vec<Value>>, JsonError> {
        let Some(array) = Array::split(bytes, limits)? else {
            return Ok(None);
        };
        (0..array.len())
            .map(|i| array.item(i))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
            .map_err(|e| array.refusal(e))
    }

    fn via_parse(bytes: &[u8], limits: &Limits) -> Result<Option<Vec<Value>>, JsonError> {
        parse(bytes, limits).map(|v| match v {
            Value::Array(items) => Some(items),
            _ => None,
        })
    }

    #[test]
    fn an_array_split_into_elements_reads_and_refuses_as_the_whole_parse() {
        let limits = Limits::default();
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let mut texts: Vec<String> = [
            "[]",
            " \n[ ]\t",
            r#"[{"a":1}, [2, {"b":"\u00e9"}], "x", null, 3.5]"#,
            r#"["],[{\"", "\\", "}", {"]":"[,"}]"#,
            "{}",
            "\"x\"",
            "",
            "   ",
            "[",
            "]",
            "[1,]",
            "[,1]",
            "[1,,2]",
            "[1 2]",
            "[1] 2",
            "[1]]",
            "[1",
            "[\"a]",
            "[\"a\\\"]",
            "[{]}]",
            "[[}],1]",
            "[}]",
            "\u{feff}[]",
            "[1e400]",
            r#"[{"a":1}, {"b":2, "b":3}]"#,
            r#"[[], {"n":[9007199254740993]}]"#,
            "[\"\\ud800\"]",
        ]
        .map(String::from)
        .to_vec();
        for depth in [62, 63, 64, 65, 126, 127, 128, 200] {
            texts.push(format!("[1, {}]", nested(depth)));
        }
        for text in &texts {
            for max_depth in [0, 1, 2, 63, 64, 126, 127, 128, 1000] {
                let limits = Limits { max_depth };
                assert_eq!(
                    via_array(text.as_bytes(), &limits),
                    via_parse(text.as_bytes(), &limits),
                    "{text:?} at depth {max_depth}"
                );
            }
        }
        let not_utf8 = b"[\"\xff\"]";
        assert_eq!(via_array(not_utf8, &limits), via_parse(not_utf8, &limits));
        assert!(via_array(not_utf8, &limits).is_err());
        let two = Array::split(&b" [ {\"a\": [1]} , 2 ] "[..], &limits)
            .unwrap()
            .unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two.item(0), Ok(json!({"a": [1]})));
        assert_eq!(two.item(1), Ok(json!(2)));
        // A refused element is named by its place in the whole document.
        assert_eq!(
            via_array(br#"[1, {"a":1,"a":2}]"#, &limits),
            Err(JsonError::DuplicateKey {
                pointer: "/1".into(),
                key: "a".into()
            })
        );
    }

    #[test]
    fn element_spans_follow_strings_and_nesting() {
        let text = br#" [ "a,]\"[" , {"k":[1,{"x":"}"}]} ,3] "#;
        let spans = element_spans(text).unwrap();
        let parts: Vec<&str> = spans
            .iter()
            .map(|r| std::str::from_utf8(&text[r.clone()]).unwrap().trim())
            .collect();
        assert_eq!(parts, [r#""a,]\"[""#, r#"{"k":[1,{"x":"}"}]}"#, "3"]);
        assert_eq!(element_spans(b"[ ]"), Some(vec![]));
        assert_eq!(element_spans(b"[1] x"), None);
        assert_eq!(element_spans(b"{}"), None);
        assert_eq!(element_spans(b"[1,2"), None);
        assert_eq!(element_spans(b"[\"1]"), None);
        for missing in [&b"[1,]"[..], b"[,1]", b"[1, ,2]", b"[ , ]"] {
            assert_eq!(element_spans(missing), None);
        }
    }

    /// Strings made mostly of what a scan of JSON punctuation could trip on.
    fn tricky_string() -> impl Strategy<Value = String> + Clone {
        let c = prop::sample::select(vec![
            '"',
            '\\',
            '[',
            ']',
            '{',
            '}',
            ',',
            ':',
            ' ',
            '\n',
            'a',
            'é',
            '\u{1F600}',
            '\u{0}',
        ]);
        prop::collection::vec(c, 0..8).prop_map(String::from_iter)
    }

    fn tricky_value() -> impl Strategy<Value = Value> {
        value_of(tricky_string())
    }

    /// Elements for arrays that the split must read, or refuse, as the whole parse does.
    fn element_text() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => json_value().prop_map(|v| serde_json::to_string(&v).expect("serialize")),
            3 => tricky_value().prop_map(|v| serde_json::to_string(&v).expect("serialize")),
            1 => json_value().prop_map(|v| serde_json::to_string_pretty(&v).expect("serialize")),
            1 => prop::sample::select(vec![
                r#"{"k":1,"k":1}"#,
                "9007199254740993",
                "-9007199254740993",
                "1e20",
                "1e400",
                "[[[[[[[]]]]]]]",
                "\"\\udc00\"",
                "tru",
                "01",
                "",
                "]",
                "}",
                "\"",
            ])
            .prop_map(String::from),
        ]
    }

    proptest! {
        #[test]
        fn valid_arrays_are_split_by_the_scan_into_their_elements(
            items in prop::collection::vec(tricky_value(), 0..6),
            pretty in any::<bool>(),
        ) {
            let whole = Value::Array(items.clone());
            let text = if pretty {
                serde_json::to_vec_pretty(&whole)
            } else {
                serde_json::to_vec(&whole)
            }
            .expect("serialize");
            let array = Array::split(&text[..], &Limits::default()).unwrap().unwrap();
            prop_assert!(matches!(array.items, Items::Spans(_)));
            let read: Vec<Value> = (0..array.len()).map(|i| array.item(i).unwrap()).collect();
            prop_assert_eq!(read, items);
        }

        #[test]
        fn arrays_split_into_elements_agree_with_the_whole_parse(
            items in prop::collection::vec(element_text(), 0..6),
            space in prop::sample::select(vec!["", " ", "\n\t", " \r\n "]),
            max_depth in prop::sample::select(vec![0usize, 1, 2, 3, 4, 5, 7, 126, 127, 128, 1000]),
            mangle in prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
        ) {
            let mut text = format!("{space}[{space}{}{space}]{space}", items.join(&format!("{space},{space}"))).into_bytes();
            if let Some((at, byte)) = mangle {
                let at = at.index(text.len());
                text[at] = byte;
            }
            let limits = Limits { max_depth };
            prop_assert_eq!(via_array(&text, &limits), via_parse(&text, &limits));
        }
    }

    proptest! {
        #[test]
        fn serialized_values_parse_back_unchanged(v in json_value()) {
            let text = serde_json::to_vec(&v).expect("serialize");
            prop_assert_eq!(parse(&text, &Limits::default()), Ok(v.clone()));
            let pretty = serde_json::to_vec_pretty(&v).expect("serialize");
            prop_assert_eq!(parse(&pretty, &Limits::default()), Ok(v));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&bytes, &Limits::default());
        }

        #[test]
        fn mangled_json_never_panics(
            v in json_value(),
            cut in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut text = serde_json::to_vec(&v).expect("serialize");
            let at = cut.index(text.len());
            text[at] = byte;
            let _ = parse(&text, &Limits::default());
            text.truncate(at);
            let _ = parse(&text, &Limits::default());
        }
    }
}
