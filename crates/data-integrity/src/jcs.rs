//! RFC 8785 JSON Canonicalization Scheme (JCS) over [`serde_json::Value`].
//!
//! Signatures and hashes in the ledger are computed over these bytes, so two
//! parties that hold the same JSON data must produce the same bytes no matter
//! how the document was formatted on the wire. The rules are those of RFC 8785:
//! no whitespace, object members sorted by the UTF-16 code units of their names,
//! strings escaped as ECMAScript `JSON.stringify` does, and numbers written as
//! ECMAScript `Number.prototype.toString` writes an IEEE-754 double.
//!
//! Inputs that are not I-JSON (duplicate member names, integers beyond ±2^53)
//! must be rejected before they reach this module; `super::json::parse` does
//! that at the edge. A `Value` cannot hold NaN or an infinity, so every `Value`
//! has a canonical form and these functions cannot fail.
//!
//! Serialization recurses once per nesting level; values parsed through
//! `super::json::parse` are depth-limited, which keeps the stack bounded.

use serde_json::{Map, Number, Value};

/// Returns the canonical (RFC 8785) UTF-8 bytes of `value`.
pub fn canonicalize(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

/// Appends the canonical bytes of `value` to `out`.
///
/// Appending rather than returning lets callers assemble larger canonical
/// documents (e.g. a signed envelope around an already canonical payload)
/// without intermediate buffers.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

/// The canonical form of an object given as members, each value already canonical — so that
/// two objects sharing most members (a signed document with and without its proof) are
/// canonicalized member by member once, not twice. Member names must be distinct.
pub fn assemble_object(members: &mut [(&str, &[u8])]) -> Vec<u8> {
    members.sort_by(|(a, _), (b, _)| utf16_cmp(a, b));
    let len: usize = members.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    let mut out = Vec::with_capacity(len + 2);
    out.push(b'{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, &mut out);
        out.push(b':');
        out.extend_from_slice(value);
    }
    out.push(b'}');
    out
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    write_object_without(map, None, out);
}

/// Appends the canonical bytes of `map` without its member `skip` (a Data Integrity proof
/// without its `proofValue`, say), so the caller need not copy the map to leave one out.
pub fn write_object_without(map: &Map<String, Value>, skip: Option<&str>, out: &mut Vec<u8>) {
    let kept = |(k, _): &(&String, &Value)| Some(k.as_str()) != skip;
    out.push(b'{');
    // serde_json's map orders keys by UTF-8 bytes (code points), which differs from UTF-16
    // order once characters above U+FFFF meet U+E000..U+FFFF, so the order is checked; nearly
    // always it holds and the members are written as they come, with nothing collected.
    let mut keys = map.keys();
    let in_order = keys.next().is_none_or(|first| {
        keys.try_fold(first, |prev, k| (utf16_cmp(prev, k).is_lt()).then_some(k))
            .is_some()
    });
    let mut first = true;
    let mut member = |key: &str, value: &Value, out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_canonical(value, out);
    };
    if in_order {
        for (key, value) in map.iter().filter(kept) {
            member(key, value, out);
        }
    } else {
        let mut members: Vec<(&String, &Value)> = map.iter().filter(kept).collect();
        members.sort_by(|(a, _), (b, _)| utf16_cmp(a, b));
        for (key, value) in members {
            member(key, value, out);
        }
    }
    out.push(b'}');
}

/// RFC 8785's order of member names: by UTF-16 code units. For ASCII names (nearly all) that is
/// the order of their bytes.
fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

fn write_number(n: &Number, out: &mut Vec<u8>) {
    // JCS treats every number as an IEEE-754 double, so integers go through
    // the same conversion JavaScript would apply (round to nearest).
    let f = if let Some(i) = n.as_i64() {
        i as f64
    } else if let Some(u) = n.as_u64() {
        u as f64
    } else if let Some(f) = n.as_f64() {
        f
    } else {
        // Only reachable if serde_json's `arbitrary_precision` feature is on
        // and the literal does not fit a double; keep the text rather than
        // invent a value.
        out.extend_from_slice(n.to_string().as_bytes());
        return;
    };
    out.extend_from_slice(format_es6_number(f).as_bytes());
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Identifiers, times and names almost never need an escape: one pass decides, and the
    // whole string is copied at once. A fold rather than `any`, which would stop early: without
    // the early exit the compiler vectorises the pass.
    let needs_escape = bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    // Only ASCII bytes are ever escaped, and they never occur inside a
    // multi-byte UTF-8 sequence, so copying unescaped runs byte-wise keeps the
    // output valid UTF-8.
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..i]);
        match short {
            Some(escape) => out.extend_from_slice(escape),
            None => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX_DIGITS[usize::from(b >> 4)]);
                out.push(HEX_DIGITS[usize::from(b & 0x0f)]);
            }
        }
        run_start = i + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

/// Formats `f` exactly as ECMAScript's `Number.prototype.toString()` does
/// (ECMA-262, Number::toString with radix 10), which is what RFC 8785 uses
/// for numbers.
///
/// `-0` becomes `"0"`. NaN and the infinities give `"NaN"`, `"Infinity"` and
/// `"-Infinity"` as in ECMAScript; they cannot occur in a `Value`, and RFC 8785
/// forbids them in canonical JSON.
pub fn format_es6_number(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if f == 0.0 {
        return "0".to_owned();
    }
    match shortest_digits(f.abs()) {
        Some((mut digits, exponent)) => {
            prefer_even_on_tie(f.abs(), &mut digits, exponent);
            layout_es6(f < 0.0, &digits, exponent)
        }
        // Rust's `{:e}` output always has the shape parsed above; if that
        // ever changed, a round-trippable rendering beats a panic.
        None => f.to_string(),
    }
}

/// Splits a positive finite double into its shortest round-trip decimal
/// digits (no leading or trailing zeros) and the ECMAScript exponent `n`,
/// such that the value is `0.d1d2…dk × 10^n`.
///
/// Rust's `{:e}` yields the shortest digit string that round-trips and, among
/// those, the one closest to the value, as ECMA-262 prescribes; only exact
/// ties differ, which [`prefer_even_on_tie`] settles.
fn shortest_digits(f: f64) -> Option<(Vec<u8>, i32)> {
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e')?;
    let exponent: i32 = exponent.parse().ok()?;
    let digits: Vec<u8> = mantissa.bytes().filter(|b| *b != b'.').collect();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((digits, exponent + 1))
}

/// ECMA-262 wants the even candidate when two equally short digit strings
/// are exactly equally close to the value (e.g. 1125899906842624.25 must
/// print as ...624.2). Rust's formatter settles such exact ties upwards, so
/// the last digit is moved down or up to its even neighbour when the value
/// sits exactly on the midpoint and the neighbour still round-trips.
fn prefer_even_on_tie(f: f64, digits: &mut [u8], n: i32) {
    let Some(&last) = digits.last() else {
        return;
    };
    // A double needs at most 17 significant digits; more would overflow the
    // midpoint below, and cannot come from `{:e}` anyway.
    if (last - b'0').is_multiple_of(2) || digits.len() > 17 {
        return;
    }
    let k = digits.len() as i32;
    let prefix = digits[..digits.len() - 1]
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    let (mantissa, exp2) = decompose(f);
    // Neighbours 0 and 10 would make a shorter string, which the shortest
    // search would already have found had it round-tripped.
    for neighbour in [last - 1, last + 1] {
        if !(b'2'..=b'8').contains(&neighbour) {
            continue;
        }
        let low = u64::from(last.min(neighbour) - b'0');
        let midpoint = (prefix * 10 + low) * 10 + 5;
        if !equals_decimal(mantissa, exp2, midpoint, n - k - 1) {
            continue;
        }
        let mut candidate: String = digits.iter().map(|&b| char::from(b)).collect();
        candidate.pop();
        candidate.push(char::from(neighbour));
        candidate.push_str(&format!("e{}", n - k));
        if candidate.parse::<f64>() == Ok(f) {
            if let Some(d) = digits.last_mut() {
                *d = neighbour;
            }
            return;
        }
    }
}

/// Splits a positive finite double into `mantissa × 2^exp2` exactly.
fn decompose(f: f64) -> (u64, i32) {
    let bits = f.to_bits();
    let fraction = bits & ((1 << 52) - 1);
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    }
}

/// Whether `mantissa × 2^exp2 == decimal × 10^exp10`, exactly.
///
/// Each power is moved to whichever side keeps it non-negative. With the
/// mantissa below 2^53 and `decimal` below 10^18, two equal sides never
/// exceed 2^113 (a large power of two on one side must divide the small
/// factor on the other), so a side that overflows u128 cannot be equal.
fn equals_decimal(mantissa: u64, exp2: i32, decimal: u64, exp10: i32) -> bool {
    fn scale(x: u64, twos: i32, fives: i32) -> Option<u128> {
        let twos = 2u128.checked_pow(u32::try_from(twos.max(0)).ok()?)?;
        let fives = 5u128.checked_pow(u32::try_from(fives.max(0)).ok()?)?;
        u128::from(x).checked_mul(twos)?.checked_mul(fives)
    }
    let left = scale(mantissa, exp2 - exp10, -exp10);
    let right = scale(decimal, exp10 - exp2, exp10);
    matches!((left, right), (Some(l), Some(r)) if l == r)
}

/// Applies the layout steps of ECMA-262 Number::toString to `digits` (k of
/// them) with exponent `n`.
fn layout_es6(negative: bool, digits: &[u8], n: i32) -> String {
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    let push_digits = |out: &mut String, d: &[u8]| out.extend(d.iter().map(|&b| char::from(b)));
    if k <= n && n <= 21 {
        push_digits(&mut out, digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int_part, frac_part) = digits.split_at(n as usize);
        push_digits(&mut out, int_part);
        out.push('.');
        push_digits(&mut out, frac_part);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        push_digits(&mut out, digits);
    } else {
        let (first, rest) = digits.split_at(1);
        push_digits(&mut out, first);
        if !rest.is_empty() {
            out.push('.');
            push_digits(&mut out, rest);
        }
        let e = n - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&e.unsigned_abs().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn vectors_dir() -> PathBuf {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/jcs/"
        ))
    }

    fn canon_str(v: &Value) -> String {
        String::from_utf8(canonicalize(v)).expect("canonical output is UTF-8")
    }

    #[test]
    fn shared_vectors_canonicalize_to_expected_bytes() {
        let dir = vectors_dir();
        let mut checked = 0;
        let mut entries: Vec<_> = std::fs::read_dir(dir.join("input"))
            .expect("read input dir")
            .map(|e| e.expect("dir entry").file_name())
            .collect();
        entries.sort();
        for name in entries {
            let input = std::fs::read(dir.join("input").join(&name)).expect("read input");
            let expected = std::fs::read(dir.join("output").join(&name)).expect("read output");
            let value: Value = serde_json::from_slice(&input).expect("vector input parses");
            let got = canonicalize(&value);
            assert_eq!(
                got,
                expected,
                "{name:?}: got {:?}, want {:?}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected)
            );
            checked += 1;
        }
        assert!(
            checked >= 6,
            "expected the shared JCS vectors, found {checked}"
        );
    }

    #[test]
    fn es6_number_vectors() {
        let text = std::fs::read_to_string(vectors_dir().join("es6numbers_10k.txt"))
            .expect("read es6numbers_10k.txt");
        let mut failures = Vec::new();
        let mut count = 0;
        for line in text.lines().filter(|l| !l.is_empty()) {
            let (hex, expected) = line.split_once(',').expect("line is hex,expected");
            let bits = u64::from_str_radix(hex, 16).expect("hex bits");
            let got = format_es6_number(f64::from_bits(bits));
            if got != expected {
                failures.push(format!("{hex}: got {got}, want {expected}"));
            }
            count += 1;
        }
        assert_eq!(count, 10_000);
        assert!(
            failures.is_empty(),
            "{} failures, first: {:?}",
            failures.len(),
            &failures[..failures.len().min(10)]
        );
    }

    #[test]
    fn es6_number_layout_cases() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (1e30, "1e+30"),
            (4.5, "4.5"),
            (0.002, "0.002"),
            (1e-27, "1e-27"),
            (333_333_333.333_333_3, "333333333.3333333"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123e18, "123000000000000000000"),
            (1.5e21, "1.5e+21"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-7"),
            (1e-7, "1e-7"),
            (9_007_199_254_740_991.0, "9007199254740991"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for &(f, want) in cases {
            assert_eq!(format_es6_number(f), want, "formatting {f:e}");
        }
    }

    #[test]
    fn exact_ties_pick_the_even_digit() {
        // 2^50 has ulp 0.25, so .25 and .75 lie exactly between two
        // 17-digit candidates that both round-trip.
        let base = (1u64 << 50) as f64;
        assert_eq!(format_es6_number(base + 0.25), "1125899906842624.2");
        assert_eq!(format_es6_number(base + 0.75), "1125899906842624.8");
        assert_eq!(format_es6_number(-(base + 0.25)), "-1125899906842624.2");
        assert_eq!(format_es6_number(base + 0.5), "1125899906842624.5");
    }

    #[test]
    fn integers_are_written_as_doubles() {
        assert_eq!(canon_str(&json!(42)), "42");
        assert_eq!(canon_str(&json!(-7)), "-7");
        assert_eq!(canon_str(&json!(u64::MAX)), "18446744073709552000");
        assert_eq!(canon_str(&json!(i64::MIN)), "-9223372036854776000");
    }

    #[test]
    fn strings_escape_like_json_stringify() {
        let s = "\"\\/\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}é€😂";
        assert_eq!(
            canon_str(&json!(s)),
            "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\u{7f}é€😂\""
        );
        assert_eq!(canon_str(&json!("\u{1a}")), "\"\\u001a\"");
        assert_eq!(canon_str(&json!("")), "\"\"");
    }

    #[test]
    fn keys_sort_by_utf16_code_units_not_code_points() {
        // U+10000 is D800 DC00 in UTF-16, so it sorts before U+FFFF even
        // though its code point (and UTF-8 encoding) is larger.
        let v = json!({"\u{ffff}": 1, "\u{10000}": 2, "b": 3, "a": 4, "aa": 5, "": 6});
        assert_eq!(
            canon_str(&v),
            "{\"\":6,\"a\":4,\"aa\":5,\"b\":3,\"\u{10000}\":2,\"\u{ffff}\":1}"
        );
    }

    #[test]
    fn an_object_without_one_member_is_that_object_with_the_member_removed() {
        // In byte order already, and not (U+10000 sorts before U+E000 in UTF-16).
        for v in [
            json!({"a": 1, "proofValue": "z1", "type": "x"}),
            json!({"\u{e000}": 1, "\u{10000}": 2, "proofValue": "z", "b": [{"d": 1, "c": 2}]}),
            json!({"proofValue": "only"}),
            json!({}),
        ] {
            let map = v.as_object().unwrap();
            let mut removed = map.clone();
            removed.remove("proofValue");
            let mut out = Vec::new();
            write_object_without(map, Some("proofValue"), &mut out);
            assert_eq!(out, canonicalize(&Value::Object(removed)), "{v}");
            let mut whole = Vec::new();
            write_object_without(map, None, &mut whole);
            assert_eq!(whole, canonicalize(&v), "{v}");
        }
    }

    #[test]
    fn nested_structures_have_no_whitespace() {
        let v = json!({"b": [1, {"z": null, "y": [true, false]}], "a": {}});
        assert_eq!(
            canon_str(&v),
            r#"{"a":{},"b":[1,{"y":[true,false],"z":null}]}"#
        );
        assert_eq!(canon_str(&json!([])), "[]");
    }

    #[test]
    fn assembled_objects_equal_canonicalized_ones() {
        let v =
            json!({"b": [1, 2.5, "x"], "a": {"z": null, "é": true}, "\u{10000}": 1, "\u{e000}": 2});
        let canon: Vec<(String, Vec<u8>)> = v
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), canonicalize(v)))
            .collect();
        let mut members: Vec<(&str, &[u8])> = canon
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        assert_eq!(assemble_object(&mut members), canonicalize(&v));
    }

    #[test]
    fn write_canonical_appends() {
        let mut out = b"prefix:".to_vec();
        write_canonical(&json!({"k": 1}), &mut out);
        assert_eq!(out, b"prefix:{\"k\":1}");
    }

    fn finite_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            prop::num::f64::POSITIVE
                | prop::num::f64::NEGATIVE
                | prop::num::f64::NORMAL
                | prop::num::f64::SUBNORMAL
                | prop::num::f64::ZERO,
        ]
        .prop_filter("finite", |f| f.is_finite())
    }

    fn json_string() -> impl Strategy<Value = String> {
        let ch = prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '"',
                '\\',
                '/',
                '\n',
                '\u{0}',
                '\u{1f}',
                '\u{7f}',
                '\u{ffff}',
                '\u{10000}',
                'a'
            ]),
        ];
        prop::collection::vec(ch, 0..6).prop_map(String::from_iter)
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            finite_f64().prop_map(Value::from),
            json_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((json_string(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn es6_number_round_trips(f in finite_f64()) {
            let s = format_es6_number(f);
            prop_assert_eq!(s.parse::<f64>().ok(), Some(f), "{}", s);
        }

        #[test]
        fn quarter_ties_near_2_pow_50_pick_even(i in (1u64 << 50)..(1u64 << 51), upper in any::<bool>()) {
            let f = i as f64 + if upper { 0.75 } else { 0.25 };
            let want = format!("{i}.{}", if upper { 8 } else { 2 });
            prop_assert_eq!(format_es6_number(f), want);
        }

        #[test]
        fn canonicalization_is_idempotent(v in json_value()) {
            let once = canonicalize(&v);
            let reparsed: Value = serde_json::from_slice(&once).expect("canonical output parses");
            prop_assert_eq!(canonicalize(&reparsed), once);
        }
    }
}
