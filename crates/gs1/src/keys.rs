//! GS1 identification keys as EPC pure-identity URIs (GS1 Tag Data Standard 2.x).
//!
//! The ledger names things with the identifiers GS1 gives them: serialised items (SGTIN), lots
//! (LGTIN, an EPC *class*), logistic units such as pallets and containers (SSCC), locations
//! (SGLN), parties (PGLN), returnable assets (GRAI) and individual assets (GIAI). EPCIS events
//! carry them as URNs such as `urn:epc:id:sgtin:0614141.812345.6789`.
//!
//! Parsing is strict (digit counts, the GS1 character set 82, the `%`-escapes of TDS, length
//! limits) so that malformed identifiers are turned away at the edge with a message that says
//! what to fix. Every type here holds its invariants in private fields; an [`Gs1Id`] that exists
//! is valid.
//!
//! Two spellings of one identifier can differ: the same GTIN can be split at different company
//! prefix lengths, and a serial may be written with or without optional escapes. The ledger
//! therefore keys objects by [`Gs1Id::dl_path`], the GS1 Digital Link path, which depends only on
//! the GS1 key and its qualifiers and never on the company prefix length.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A GS1 Company Prefix has 6 to 12 digits; the TDS partition tables cover exactly that range.
pub const MIN_GCP_DIGITS: usize = 6;
/// See [`MIN_GCP_DIGITS`].
pub const MAX_GCP_DIGITS: usize = 12;
/// AI (21) serial number: up to 20 characters of character set 82.
pub const MAX_SERIAL_CHARS: usize = 20;
/// AI (10) batch/lot number: up to 20 characters of character set 82.
pub const MAX_LOT_CHARS: usize = 20;
/// AI (254) GLN extension component: up to 20 characters of character set 82.
pub const MAX_GLN_EXTENSION_CHARS: usize = 20;
/// AI (8003) allows at most 16 serial characters after the 14-digit GRAI.
pub const MAX_GRAI_SERIAL_CHARS: usize = 16;
/// AI (8004) GIAI: company prefix plus asset reference, at most 30 characters in total.
pub const MAX_GIAI_CHARS: usize = 30;

/// Digits of company prefix + item reference (with indicator) in an SGTIN or LGTIN: a GTIN-14
/// without its check digit.
const GTIN_BODY_DIGITS: usize = 13;
/// Digits of company prefix + serial reference (with extension digit) in an SSCC.
const SSCC_BODY_DIGITS: usize = 17;
/// Digits of company prefix + location/party/asset-type reference in SGLN, PGLN and GRAI.
const GLN_BODY_DIGITS: usize = 12;

/// Why a GS1 identifier was refused. Each message says what is wrong and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// The text is not an EPC pure-identity URI at all.
    #[error(
        "`{input}` is not an EPC pure-identity URI: {hint}; expected `urn:epc:id:<scheme>:...` \
         (sgtin, sscc, sgln, pgln, grai, giai) or `urn:epc:class:lgtin:...`"
    )]
    NotEpcUri { input: String, hint: &'static str },
    /// An EPC scheme this ledger does not handle.
    #[error(
        "EPC scheme `{scheme}` is not supported: expected sgtin, sscc, sgln, pgln, grai or giai \
         under `urn:epc:id:`, or lgtin under `urn:epc:class:`"
    )]
    UnsupportedScheme { scheme: String },
    /// Wrong number of dot-separated parts after the scheme.
    #[error("{scheme} URI needs {expected} dot-separated parts ({layout}), found {found}")]
    PartCount {
        scheme: &'static str,
        layout: &'static str,
        expected: usize,
        found: usize,
    },
    /// A numeric component has a non-digit.
    #[error("{field} `{value}` must contain only the digits 0-9")]
    NotDigits { field: &'static str, value: String },
    /// Company prefix outside 6..=12 digits.
    #[error("GS1 Company Prefix `{value}` has {len} digits; it must have 6 to 12")]
    CompanyPrefixLength { value: String, len: usize },
    /// Company prefix plus reference do not add up to the key's length.
    #[error(
        "{scheme}: company prefix and {field} together must have {expected} digits, found {found}"
    )]
    KeyLength {
        scheme: &'static str,
        field: &'static str,
        expected: usize,
        found: usize,
    },
    /// A required text component is empty.
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    /// A text component is longer than its GS1 application identifier allows.
    #[error("{field} has {len} characters; at most {max} are allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// A character outside GS1 AI encodable character set 82.
    #[error(
        "{field} contains {ch:?}, which is not in GS1 AI encodable character set 82 \
         (A-Z a-z 0-9 and ! \" % & ' ( ) * + , - . / : ; < = > ? _)"
    )]
    InvalidChar { field: &'static str, ch: char },
    /// A character that TDS requires to be %-escaped appears raw.
    #[error("{field} contains a raw {ch:?}; in an EPC URI it must be written as `{escaped}`")]
    MustEscape {
        field: &'static str,
        ch: char,
        escaped: &'static str,
    },
    /// A `%` not followed by two hex digits.
    #[error(
        "{field} contains a malformed escape `{escape}`: `%` must be followed by two hex digits"
    )]
    BadEscape { field: &'static str, escape: String },
    /// A GS1 key (GTIN, SSCC, GLN, GRAI) with a wrong check digit.
    #[error("{what} `{value}` has check digit {found}, but its digits give {expected}")]
    CheckDigit {
        what: &'static str,
        value: String,
        found: char,
        expected: u8,
    },
    /// A GS1 key of the wrong length.
    #[error("{what} `{value}` must have {expected}, found {found} characters")]
    KeyValueLength {
        what: &'static str,
        value: String,
        expected: &'static str,
        found: usize,
    },
    /// A company prefix length outside 6..=12 was given for splitting a GS1 key.
    #[error("GS1 Company Prefix length {gcp_length} is out of range: expected 6 to 12")]
    GcpLength { gcp_length: usize },
    /// AI (8003) values start with a filler zero.
    #[error(
        "AI (8003) value `{value}` must start with the filler digit 0 before the 13-digit GRAI"
    )]
    GraiFiller { value: String },
}

/// Whether `c` belongs to GS1 AI encodable character set 82 (GS1 General Specifications): the
/// characters allowed in serials, lots, extensions and asset references.
pub fn is_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '"'
                | '%'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | '-'
                | '.'
                | '/'
                | ':'
                | ';'
                | '<'
                | '='
                | '>'
                | '?'
                | '_'
        )
}

/// The escape TDS requires in an EPC URI for characters of set 82 that have a meaning in URIs.
/// All other characters of set 82 are written as they are (the "URI form" column of the TDS
/// character table).
fn required_escape(c: char) -> Option<&'static str> {
    match c {
        '"' => Some("%22"),
        '%' => Some("%25"),
        '&' => Some("%26"),
        '/' => Some("%2F"),
        '<' => Some("%3C"),
        '>' => Some("%3E"),
        '?' => Some("%3F"),
        _ => None,
    }
}

/// Writes a raw value (characters of set 82) in the canonical EPC URI form: the seven characters
/// of [`required_escape`] as upper-case `%XX`, everything else as is.
pub fn escape_epc_component(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match required_escape(c) {
            Some(esc) => out.push_str(esc),
            None => out.push(c),
        }
    }
    out
}

/// Reads an EPC URI component back to its raw characters.
///
/// Any `%XX` escape (hex digits of either case) is accepted as long as it stands for a character
/// of set 82, so `%21` and `!` are the same serial; the characters TDS requires to be escaped are
/// refused when raw. `field` names the component in errors.
pub fn unescape_epc_component(field: &'static str, s: &str) -> Result<String, IdError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let hi = chars.next();
            let lo = chars.next();
            let decoded = match (hi.and_then(hex_val), lo.and_then(hex_val)) {
                (Some(h), Some(l)) => char::from(h * 16 + l),
                _ => {
                    let mut escape = String::from('%');
                    escape.extend(hi);
                    escape.extend(lo);
                    return Err(IdError::BadEscape { field, escape });
                }
            };
            if !is_cset82(decoded) {
                return Err(IdError::InvalidChar { field, ch: decoded });
            }
            out.push(decoded);
        } else if let Some(escaped) = required_escape(c) {
            return Err(IdError::MustEscape {
                field,
                ch: c,
                escaped,
            });
        } else if is_cset82(c) {
            out.push(c);
        } else {
            return Err(IdError::InvalidChar { field, ch: c });
        }
    }
    Ok(out)
}

fn hex_val(c: char) -> Option<u8> {
    // to_digit(16) is at most 15, so the narrowing cannot lose anything.
    c.to_digit(16).map(|d| d as u8)
}

/// Percent-encodes a value for one GS1 Digital Link path segment: everything except the RFC 3986
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`) becomes upper-case `%XX`, as GS1 Digital Link
/// URI Syntax and the GS1 Syntax Engine do. One rule for every value keeps Digital Link paths
/// canonical, which is what makes them usable as ledger keys.
pub fn dl_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    dl_escape_into(&mut out, value);
    out
}

/// [`dl_escape`], appending to `out`.
fn dl_escape_into(out: &mut String, value: &str) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit_upper(b >> 4));
            out.push(hex_digit_upper(b & 0x0f));
        }
    }
}

/// The GS1 Digital Link path of element string pairs, as [`Gs1Id::ai_pairs`] gives them.
pub fn dl_path_of(pairs: &[(&str, String)]) -> String {
    let mut path = String::with_capacity(pairs.iter().map(|(a, v)| a.len() + v.len() + 2).sum());
    for (ai, value) in pairs {
        path.push('/');
        path.push_str(ai);
        path.push('/');
        dl_escape_into(&mut path, value);
    }
    path
}

fn hex_digit_upper(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble & 0x0f)])
}

/// The GS1 mod-10 check digit of `digits` (the key without its check digit): weights 3 and 1
/// alternate from the rightmost digit. `None` if `digits` is empty or has a non-digit.
pub fn gs1_check_digit(digits: &str) -> Option<u8> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 { d * 3 } else { d }
        })
        .sum();
    // (10 - sum % 10) % 10 is below 10.
    Some(((10 - sum % 10) % 10) as u8)
}

/// Whether the last digit of `key` is the correct GS1 check digit for the digits before it.
pub fn has_valid_check_digit(key: &str) -> bool {
    match key.as_bytes().split_last() {
        Some((&last, body)) if last.is_ascii_digit() => std::str::from_utf8(body)
            .ok()
            .and_then(gs1_check_digit)
            .is_some_and(|d| d == last - b'0'),
        _ => false,
    }
}

/// A GTIN-8, -12, -13 or -14 with a correct check digit.
pub fn is_valid_gtin(s: &str) -> bool {
    matches!(s.len(), 8 | 12 | 13 | 14) && has_valid_check_digit(s)
}

/// A 13-digit GLN with a correct check digit.
pub fn is_valid_gln(s: &str) -> bool {
    s.len() == 13 && has_valid_check_digit(s)
}

/// An 18-digit SSCC with a correct check digit.
pub fn is_valid_sscc(s: &str) -> bool {
    s.len() == 18 && has_valid_check_digit(s)
}

/// The GTIN-8, -12 or -13 form of a GTIN-14, if its leading digits are the filler zeros that
/// shorter GTINs gain when written as 14 digits. `None` for other lengths or when a dropped
/// digit is not zero (e.g. GTIN-14 `01519265235886` has no GTIN-12 form).
pub fn shorten_gtin(gtin14: &str, len: usize) -> Option<String> {
    if !matches!(len, 8 | 12 | 13 | 14) || !is_valid_gtin(gtin14) || gtin14.len() != 14 {
        return None;
    }
    let (filler, short) = gtin14.split_at(14 - len);
    filler.bytes().all(|b| b == b'0').then(|| short.to_owned())
}

/// Appends the check digit; `body` is always a validated digit string here.
fn with_check_digit(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 1);
    out.push_str(body);
    out.push(char::from(b'0' + gs1_check_digit(body).unwrap_or(0)));
    out
}

fn check_digits(field: &'static str, value: &str) -> Result<(), IdError> {
    if value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(IdError::NotDigits {
            field,
            value: value.to_owned(),
        })
    }
}

fn check_company_prefix(value: &str) -> Result<(), IdError> {
    check_digits("GS1 Company Prefix", value)?;
    if (MIN_GCP_DIGITS..=MAX_GCP_DIGITS).contains(&value.len()) {
        Ok(())
    } else {
        Err(IdError::CompanyPrefixLength {
            value: value.to_owned(),
            len: value.len(),
        })
    }
}

/// Validates company prefix + numeric reference of a key with a fixed digit count.
fn check_numeric_key(
    scheme: &'static str,
    prefix: &str,
    ref_field: &'static str,
    reference: &str,
    expected: usize,
) -> Result<(), IdError> {
    check_company_prefix(prefix)?;
    check_digits(ref_field, reference)?;
    let found = prefix.len() + reference.len();
    if found == expected {
        Ok(())
    } else {
        Err(IdError::KeyLength {
            scheme,
            field: ref_field,
            expected,
            found,
        })
    }
}

/// Validates a raw (unescaped) text component: 1..=max characters of set 82.
fn check_text(field: &'static str, raw: &str, max: usize) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty { field });
    }
    if let Some(ch) = raw.chars().find(|&c| !is_cset82(c)) {
        return Err(IdError::InvalidChar { field, ch });
    }
    let len = raw.chars().count();
    if len > max {
        return Err(IdError::TooLong { field, len, max });
    }
    Ok(())
}

fn check_gcp_length(gcp_length: usize) -> Result<(), IdError> {
    if (MIN_GCP_DIGITS..=MAX_GCP_DIGITS).contains(&gcp_length) {
        Ok(())
    } else {
        Err(IdError::GcpLength { gcp_length })
    }
}

/// Validates a fixed-length all-digit GS1 key with its check digit.
fn check_key_value(what: &'static str, value: &str, len: usize) -> Result<(), IdError> {
    check_digits(what, value)?;
    if value.len() != len {
        return Err(IdError::KeyValueLength {
            what,
            value: value.to_owned(),
            expected: key_length_text(len),
            found: value.len(),
        });
    }
    check_check_digit(what, value)
}

fn key_length_text(len: usize) -> &'static str {
    match len {
        13 => "13 digits",
        14 => "14 digits",
        18 => "18 digits",
        _ => "a different number of digits",
    }
}

/// `value` is all ASCII digits here.
fn check_check_digit(what: &'static str, value: &str) -> Result<(), IdError> {
    let Some((&last, body)) = value.as_bytes().split_last() else {
        return Err(IdError::Empty { field: what });
    };
    let expected = std::str::from_utf8(body)
        .ok()
        .and_then(gs1_check_digit)
        .unwrap_or(0);
    if last == b'0' + expected {
        Ok(())
    } else {
        Err(IdError::CheckDigit {
            what,
            value: value.to_owned(),
            found: char::from(last),
            expected,
        })
    }
}

/// GTIN-14 from company prefix and item reference (whose first digit is the indicator).
fn gtin14_of(prefix: &str, item_ref: &str) -> String {
    // item_ref has at least one digit (13 - at most 12 prefix digits) and is ASCII.
    let (indicator, rest) = item_ref.split_at(item_ref.len().min(1));
    let mut body = String::with_capacity(14);
    body.push_str(indicator);
    body.push_str(prefix);
    body.push_str(rest);
    let check = gs1_check_digit(&body).unwrap_or(0);
    body.push(char::from(b'0' + check));
    body
}

/// Splits a validated 14-digit GTIN at `gcp_length` into (company prefix, indicator + item ref).
fn split_gtin14(gtin14: &str, gcp_length: usize) -> (String, String) {
    // gtin14 is 14 ASCII digits and 6 <= gcp_length <= 12, so every index is in range.
    let indicator = &gtin14[..1];
    let prefix = &gtin14[1..1 + gcp_length];
    let rest = &gtin14[1 + gcp_length..13];
    (prefix.to_owned(), format!("{indicator}{rest}"))
}

/// Serialised GTIN: `urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sgtin {
    company_prefix: String,
    item_ref: String,
    serial: String,
}

impl Sgtin {
    /// From URN components; `serial` is the raw serial (no `%`-escapes).
    pub fn new(company_prefix: &str, item_ref: &str, serial: &str) -> Result<Self, IdError> {
        check_numeric_key(
            "SGTIN",
            company_prefix,
            "item reference (with its indicator digit)",
            item_ref,
            GTIN_BODY_DIGITS,
        )?;
        check_text("SGTIN serial", serial, MAX_SERIAL_CHARS)?;
        Ok(Self {
            company_prefix: company_prefix.to_owned(),
            item_ref: item_ref.to_owned(),
            serial: serial.to_owned(),
        })
    }

    /// From AI (01) GTIN-14 and AI (21) serial; the company prefix length is not in the GTIN.
    pub fn from_gtin14(gtin14: &str, gcp_length: usize, serial: &str) -> Result<Self, IdError> {
        check_key_value("GTIN", gtin14, 14)?;
        check_gcp_length(gcp_length)?;
        let (prefix, item_ref) = split_gtin14(gtin14, gcp_length);
        Self::new(&prefix, &item_ref, serial)
    }

    /// GS1 Company Prefix digits.
    pub fn company_prefix(&self) -> &str {
        &self.company_prefix
    }
    /// Indicator digit followed by the item reference.
    pub fn item_ref(&self) -> &str {
        &self.item_ref
    }
    /// Raw serial (unescaped).
    pub fn serial(&self) -> &str {
        &self.serial
    }
    /// The GTIN-14 with its check digit.
    pub fn gtin14(&self) -> String {
        gtin14_of(&self.company_prefix, &self.item_ref)
    }
}

/// A lot of a trade item, an EPC class: `urn:epc:class:lgtin:CompanyPrefix.IndicatorItemRef.Lot`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lgtin {
    company_prefix: String,
    item_ref: String,
    lot: String,
}

impl Lgtin {
    /// From URN components; `lot` is raw.
    pub fn new(company_prefix: &str, item_ref: &str, lot: &str) -> Result<Self, IdError> {
        check_numeric_key(
            "LGTIN",
            company_prefix,
            "item reference (with its indicator digit)",
            item_ref,
            GTIN_BODY_DIGITS,
        )?;
        check_text("LGTIN lot", lot, MAX_LOT_CHARS)?;
        Ok(Self {
            company_prefix: company_prefix.to_owned(),
            item_ref: item_ref.to_owned(),
            lot: lot.to_owned(),
        })
    }

    /// From AI (01) GTIN-14 and AI (10) lot.
    pub fn from_gtin14(gtin14: &str, gcp_length: usize, lot: &str) -> Result<Self, IdError> {
        check_key_value("GTIN", gtin14, 14)?;
        check_gcp_length(gcp_length)?;
        let (prefix, item_ref) = split_gtin14(gtin14, gcp_length);
        Self::new(&prefix, &item_ref, lot)
    }

    /// GS1 Company Prefix digits.
    pub fn company_prefix(&self) -> &str {
        &self.company_prefix
    }
    /// Indicator digit followed by the item reference.
    pub fn item_ref(&self) -> &str {
        &self.item_ref
    }
    /// Raw lot (unescaped).
    pub fn lot(&self) -> &str {
        &self.lot
    }
    /// The GTIN-14 with its check digit.
    pub fn gtin14(&self) -> String {
        gtin14_of(&self.company_prefix, &self.item_ref)
    }
}

/// Serial Shipping Container Code: `urn:epc:id:sscc:CompanyPrefix.ExtensionSerialRef`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sscc {
    company_prefix: String,
    serial_ref: String,
}

impl Sscc {
    /// From URN components; `serial_ref` starts with the extension digit.
    pub fn new(company_prefix: &str, serial_ref: &str) -> Result<Self, IdError> {
        check_numeric_key(
            "SSCC",
            company_prefix,
            "serial reference (with its extension digit)",
            serial_ref,
            SSCC_BODY_DIGITS,
        )?;
        Ok(Self {
            company_prefix: company_prefix.to_owned(),
            serial_ref: serial_ref.to_owned(),
        })
    }

    /// From an AI (00) SSCC-18.
    pub fn from_sscc18(sscc18: &str, gcp_length: usize) -> Result<Self, IdError> {
        check_key_value("SSCC", sscc18, 18)?;
        check_gcp_length(gcp_length)?;
        // 18 ASCII digits, 6 <= gcp_length <= 12: all indices are in range.
        let extension = &sscc18[..1];
        let prefix = &sscc18[1..1 + gcp_length];
        let rest = &sscc18[1 + gcp_length..17];
        Self::new(prefix, &format!("{extension}{rest}"))
    }

    /// GS1 Company Prefix digits.
    pub fn company_prefix(&self) -> &str {
        &self.company_prefix
    }
    /// Extension digit followed by the serial reference.
    pub fn serial_ref(&self) -> &str {
        &self.serial_ref
    }
    /// The 18-digit SSCC with its check digit.
    pub fn sscc18(&self) -> String {
        let (extension, rest) = self.serial_ref.split_at(self.serial_ref.len().min(1));
        with_check_digit(&format!("{extension}{}{rest}", self.company_prefix))
    }
}

/// Validates company prefix + reference of a 13-digit GLN-based key.
fn check_gln_body(
    scheme: &'static str,
    prefix: &str,
    ref_field: &'static str,
    r: &str,
) -> Result<(), IdError> {
    check_numeric_key(scheme, prefix, ref_field, r, GLN_BODY_DIGITS)
}

/// Splits a validated GLN-13 into (company prefix, reference).
fn split_gln13(gln13: &str, gcp_length: usize) -> (&str, &str) {
    // 13 ASCII digits and 6 <= gcp_length <= 12: in range.
    (&gln13[..gcp_length], &gln13[gcp_length..12])
}

/// Location with optional extension: `urn:epc:id:sgln:CompanyPrefix.LocationRef.Extension`.
/// The extension `0` means "no extension" (TDS).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sgln {
    company_prefix: String,
    location_ref: String,
    extension: String,
}

impl Sgln {
    /// From URN components; `extension` is raw, `0` for none.
    pub fn new(company_prefix: &str, location_ref: &str, extension: &str) -> Result<Self, IdError> {
        check_gln_body("SGLN", company_prefix, "location reference", location_ref)?;
        check_text("SGLN extension", extension, MAX_GLN_EXTENSION_CHARS)?;
        Ok(Self {
            company_prefix: company_prefix.to_owned(),
            location_ref: location_ref.to_owned(),
            extension: extension.to_owned(),
        })
    }

    /// From AI (414) GLN and the AI (254) extension (`0` when there is none).
    pub fn from_gln13(gln13: &str, gcp_length: usize, extension: &str) -> Result<Self, IdError> {
        check_key_value("GLN", gln13, 13)?;
        check_gcp_length(gcp_length)?;
        let (prefix, location_ref) = split_gln13(gln13, gcp_length);
        Self::new(prefix, location_ref, extension)
    }

    /// GS1 Company Prefix digits.
    pub fn company_prefix(&self) -> &str {
        &self.company_prefix
    }
    /// Location reference digits (empty for a 12-digit prefix).
    pub fn location_ref(&self) -> &str {
        &self.location_ref
    }
    /// Raw extension; `0` means none.
    pub fn extension(&self) -> &str {
        &self.extension
    }
    /// The 13-digit GLN with its check digit.
    pub fn gln13(&self) -> String {
        with_check_digit(&format!("{}{}", self.company_prefix, self.location_ref))
    }
}

/// Party GLN: `urn:epc:id:pgln:CompanyPrefix.PartyRef`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pgln {
    company_prefix: String,
    party_ref: String,
}

impl Pgln {
    /// From URN components.
    pub fn new(company_prefix: &str, party_ref: &str) -> Result<Self, IdError> {
        check_gln_body("PGLN", company_prefix, "party reference", party_ref)?;
        Ok(Self {
            company_prefix: company_prefix.to_owned(),
            party_ref: party_ref.to_owned(),
        })
    }

    /// From an AI (417) party GLN.
    pub fn from_gln13(gln13: &str, gcp_length: usize) -> Result<Self, IdError> {
        check_key_value("GLN", gln13, 13)?;
        check_gcp_length(gcp_length)?;
        let (prefix, party_ref) = split_gln13(gln13, gcp_length);
        Self::new(prefix, party_ref)
    }

    /// GS1 Company Prefix digits.
    pub fn company_prefix(&self) -> &str {
        &self.company_prefix
    }
    /// Party reference digits (empty for a 12-digit prefix).
    pub fn party_ref(&self) -> &str {
        &self.party_ref
    }
    /// The 13-digit GLN with its check digit.
    pub fn gln13(&self) -> String {
        with_check_digit(&format!("{}{}", self.company_prefix, self.party_ref))
    }
}

/// Returnable asset: `urn:epc:id:grai:CompanyPrefix.AssetType.Serial`. As an EPC the serial is
/// required: a GRAI without one names an asset type, not an asset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grai {
    company_prefix: String,
    asset_type: String,
    serial: String,
}

impl Grai {
    /// From URN components; `serial` is raw.
    pub fn new(company_prefix: &str, asset_type: &str, serial: &str) -> Result<Self, IdError> {
        check_gln_body("GRAI", company_prefix, "asset type", asset_type)?;
        check_text("GRAI serial", serial, MAX_GRAI_SERIAL_CHARS)?;
        Ok(Self {
            company_prefix: company_prefix.to_owned(),
            asset_type: asset_type.to_owned(),
            serial: serial.to_owned(),
        })
    }

    /// From an AI (8003) value: filler `0`, 12 digits, check digit, then the serial.
    pub fn from_ai8003(value: &str, gcp_length: usize) -> Result<Self, IdError> {
        let what = "GRAI";
        if !value.is_ascii() || value.len() < 14 {
            return Err(IdError::KeyValueLength {
                what,
                value: value.to_owned(),
                expected: "14 digits followed by a serial of 1 to 16 characters",
                found: value.chars().count(),
            });
        }
        // ASCII and at least 14 bytes long: the split is on a character boundary.
        let (digits, serial) = value.split_at(14);
        check_digits(what, digits)?;
        if !digits.starts_with('0') {
            return Err(IdError::GraiFiller {
                value: value.to_owned(),
            });
        }
        let grai13 = &digits[1..];
        check_check_digit(what, grai13)?;
        check_gcp_length(gcp_length)?;
        Self::new(&grai13[..gcp_length], &grai13[gcp_length..12], serial)
    }

    /// GS1 Company Prefix digits.
    pub fn company_prefix(&self) -> &str {
        &self.company_prefix
    }
    /// Asset type digits (empty for a 12-digit prefix).
    pub fn asset_type(&self) -> &str {
        &self.asset_type
    }
    /// Raw serial (unescaped).
    pub fn serial(&self) -> &str {
        &self.serial
    }
    /// The 14 leading digits of AI (8003): filler `0`, prefix, asset type, check digit.
    pub fn grai14(&self) -> String {
        with_check_digit(&format!("0{}{}", self.company_prefix, self.asset_type))
    }
    /// The full AI (8003) value: [`Grai::grai14`] followed by the raw serial.
    pub fn ai8003(&self) -> String {
        format!("{}{}", self.grai14(), self.serial)
    }
}

/// Individual asset: `urn:epc:id:giai:CompanyPrefix.IndividualAssetRef`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Giai {
    company_prefix: String,
    asset_ref: String,
}

impl Giai {
    /// From URN components; `asset_ref` is raw. Prefix and reference share AI (8004)'s 30
    /// characters.
    pub fn new(company_prefix: &str, asset_ref: &str) -> Result<Self, IdError> {
        check_company_prefix(company_prefix)?;
        check_text(
            "GIAI asset reference",
            asset_ref,
            MAX_GIAI_CHARS - company_prefix.len(),
        )?;
        Ok(Self {
            company_prefix: company_prefix.to_owned(),
            asset_ref: asset_ref.to_owned(),
        })
    }

    /// From an AI (8004) value.
    pub fn from_ai8004(value: &str, gcp_length: usize) -> Result<Self, IdError> {
        check_gcp_length(gcp_length)?;
        match (value.get(..gcp_length), value.get(gcp_length..)) {
            (Some(prefix), Some(asset_ref)) => Self::new(prefix, asset_ref),
            _ => Err(IdError::KeyValueLength {
                what: "GIAI",
                value: value.to_owned(),
                expected: "the company prefix followed by at least one character",
                found: value.chars().count(),
            }),
        }
    }

    /// GS1 Company Prefix digits.
    pub fn company_prefix(&self) -> &str {
        &self.company_prefix
    }
    /// Raw individual asset reference (unescaped).
    pub fn asset_ref(&self) -> &str {
        &self.asset_ref
    }
    /// The AI (8004) value: prefix followed by the raw asset reference.
    pub fn ai8004(&self) -> String {
        format!("{}{}", self.company_prefix, self.asset_ref)
    }
}

/// A GS1 identifier the ledger handles, as named by an EPC pure-identity (or LGTIN class) URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Gs1Id {
    Sgtin(Sgtin),
    Lgtin(Lgtin),
    Sscc(Sscc),
    Sgln(Sgln),
    Pgln(Pgln),
    Grai(Grai),
    Giai(Giai),
}

impl Gs1Id {
    /// The EPC scheme name as in the URN: `sgtin`, `lgtin`, `sscc`, `sgln`, `pgln`, `grai`,
    /// `giai`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Gs1Id::Sgtin(_) => "sgtin",
            Gs1Id::Lgtin(_) => "lgtin",
            Gs1Id::Sscc(_) => "sscc",
            Gs1Id::Sgln(_) => "sgln",
            Gs1Id::Pgln(_) => "pgln",
            Gs1Id::Grai(_) => "grai",
            Gs1Id::Giai(_) => "giai",
        }
    }

    /// The GS1 Company Prefix; its length is part of the URN but not of the GS1 key.
    pub fn company_prefix(&self) -> &str {
        match self {
            Gs1Id::Sgtin(x) => x.company_prefix(),
            Gs1Id::Lgtin(x) => x.company_prefix(),
            Gs1Id::Sscc(x) => x.company_prefix(),
            Gs1Id::Sgln(x) => x.company_prefix(),
            Gs1Id::Pgln(x) => x.company_prefix(),
            Gs1Id::Grai(x) => x.company_prefix(),
            Gs1Id::Giai(x) => x.company_prefix(),
        }
    }

    /// The part of the URN after `urn:epc:id:<scheme>:` (or `urn:epc:class:lgtin:`), in canonical
    /// escaping. Tag URIs reuse it after the filter value.
    pub fn urn_body(&self) -> String {
        match self {
            Gs1Id::Sgtin(x) => format!(
                "{}.{}.{}",
                x.company_prefix,
                x.item_ref,
                escape_epc_component(&x.serial)
            ),
            Gs1Id::Lgtin(x) => format!(
                "{}.{}.{}",
                x.company_prefix,
                x.item_ref,
                escape_epc_component(&x.lot)
            ),
            Gs1Id::Sscc(x) => format!("{}.{}", x.company_prefix, x.serial_ref),
            Gs1Id::Sgln(x) => format!(
                "{}.{}.{}",
                x.company_prefix,
                x.location_ref,
                escape_epc_component(&x.extension)
            ),
            Gs1Id::Pgln(x) => format!("{}.{}", x.company_prefix, x.party_ref),
            Gs1Id::Grai(x) => format!(
                "{}.{}.{}",
                x.company_prefix,
                x.asset_type,
                escape_epc_component(&x.serial)
            ),
            Gs1Id::Giai(x) => format!(
                "{}.{}",
                x.company_prefix,
                escape_epc_component(&x.asset_ref)
            ),
        }
    }

    /// The canonical pure-identity URI (`urn:epc:class:lgtin:...` for lots).
    pub fn to_urn(&self) -> String {
        let kind = if matches!(self, Gs1Id::Lgtin(_)) {
            "urn:epc:class:"
        } else {
            "urn:epc:id:"
        };
        let (scheme, body) = (self.scheme(), self.urn_body());
        let mut urn = String::with_capacity(kind.len() + scheme.len() + 1 + body.len());
        urn.push_str(kind);
        urn.push_str(scheme);
        urn.push(':');
        urn.push_str(&body);
        urn
    }

    /// The GTIN-14 (with check digit) of an SGTIN or LGTIN.
    pub fn gtin14(&self) -> Option<String> {
        match self {
            Gs1Id::Sgtin(x) => Some(x.gtin14()),
            Gs1Id::Lgtin(x) => Some(x.gtin14()),
            _ => None,
        }
    }

    /// The SSCC-18 (with check digit) of an SSCC.
    pub fn sscc18(&self) -> Option<String> {
        match self {
            Gs1Id::Sscc(x) => Some(x.sscc18()),
            _ => None,
        }
    }

    /// The GLN-13 (with check digit) of an SGLN or PGLN.
    pub fn gln13(&self) -> Option<String> {
        match self {
            Gs1Id::Sgln(x) => Some(x.gln13()),
            Gs1Id::Pgln(x) => Some(x.gln13()),
            _ => None,
        }
    }

    /// The GS1 element string pairs (AI, raw value) this identifier stands for, primary key
    /// first and qualifiers in Digital Link order. An SGLN without extension (`0`) has no (254).
    pub fn ai_pairs(&self) -> Vec<(&'static str, String)> {
        match self {
            Gs1Id::Sgtin(x) => vec![("01", x.gtin14()), ("21", x.serial.clone())],
            Gs1Id::Lgtin(x) => vec![("01", x.gtin14()), ("10", x.lot.clone())],
            Gs1Id::Sscc(x) => vec![("00", x.sscc18())],
            Gs1Id::Sgln(x) if x.extension == "0" => vec![("414", x.gln13())],
            Gs1Id::Sgln(x) => vec![("414", x.gln13()), ("254", x.extension.clone())],
            Gs1Id::Pgln(x) => vec![("417", x.gln13())],
            Gs1Id::Grai(x) => vec![("8003", x.ai8003())],
            Gs1Id::Giai(x) => vec![("8004", x.ai8004())],
        }
    }

    /// The GS1 Digital Link path (no host), e.g. `/01/09506000134352/21/ABC123`: the ledger's
    /// lookup key. It does not depend on the company prefix length or on optional escapes.
    pub fn dl_path(&self) -> String {
        dl_path_of(&self.ai_pairs())
    }
}

impl fmt::Display for Gs1Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_urn())
    }
}

impl FromStr for Gs1Id {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_epc_uri(s)
    }
}

/// Parses an EPC pure-identity URI (`urn:epc:id:sgtin|sscc|sgln|pgln|grai|giai:...`) or an LGTIN
/// class URI (`urn:epc:class:lgtin:...`) following the TDS 2.x grammar.
///
/// Scheme names are lower case as TDS writes them. Components that may contain dots (serials,
/// lots, extensions, asset references) take the rest of the URI.
pub fn parse_epc_uri(s: &str) -> Result<Gs1Id, IdError> {
    let not_epc = |hint| IdError::NotEpcUri {
        input: s.to_owned(),
        hint,
    };
    let (is_class, rest) = if let Some(rest) = s.strip_prefix("urn:epc:id:") {
        (false, rest)
    } else if let Some(rest) = s.strip_prefix("urn:epc:class:") {
        (true, rest)
    } else if s.starts_with("urn:epc:idpat:") {
        return Err(not_epc(
            "an EPC ID pattern (urn:epc:idpat:) names a set of EPCs, not one identifier",
        ));
    } else if s.starts_with("urn:epc:tag:") || s.starts_with("urn:epc:raw:") {
        return Err(not_epc(
            "this is an RFID tag or raw URI; decode it to its pure identity first (tds::normalize_epc)",
        ));
    } else {
        return Err(not_epc(
            "it does not start with `urn:epc:id:` or `urn:epc:class:`",
        ));
    };
    let Some((scheme, body)) = rest.split_once(':') else {
        return Err(not_epc("there is no `:` after the scheme name"));
    };
    match (is_class, scheme) {
        (false, "sgtin") => {
            let [prefix, item_ref, serial] =
                split_parts::<3>("SGTIN", "CompanyPrefix.IndicatorItemRef.Serial", body)?;
            Ok(Gs1Id::Sgtin(Sgtin::new(
                prefix,
                item_ref,
                &unescape_epc_component("SGTIN serial", serial)?,
            )?))
        }
        (true, "lgtin") => {
            let [prefix, item_ref, lot] =
                split_parts::<3>("LGTIN", "CompanyPrefix.IndicatorItemRef.Lot", body)?;
            Ok(Gs1Id::Lgtin(Lgtin::new(
                prefix,
                item_ref,
                &unescape_epc_component("LGTIN lot", lot)?,
            )?))
        }
        (false, "sscc") => {
            let [prefix, serial_ref] =
                split_exact::<2>("SSCC", "CompanyPrefix.ExtensionSerialRef", body)?;
            Ok(Gs1Id::Sscc(Sscc::new(prefix, serial_ref)?))
        }
        (false, "sgln") => {
            let [prefix, location_ref, extension] =
                split_parts::<3>("SGLN", "CompanyPrefix.LocationRef.Extension", body)?;
            Ok(Gs1Id::Sgln(Sgln::new(
                prefix,
                location_ref,
                &unescape_epc_component("SGLN extension", extension)?,
            )?))
        }
        (false, "pgln") => {
            let [prefix, party_ref] = split_exact::<2>("PGLN", "CompanyPrefix.PartyRef", body)?;
            Ok(Gs1Id::Pgln(Pgln::new(prefix, party_ref)?))
        }
        (false, "grai") => {
            let [prefix, asset_type, serial] =
                split_parts::<3>("GRAI", "CompanyPrefix.AssetType.Serial", body)?;
            Ok(Gs1Id::Grai(Grai::new(
                prefix,
                asset_type,
                &unescape_epc_component("GRAI serial", serial)?,
            )?))
        }
        (false, "giai") => {
            let [prefix, asset_ref] =
                split_parts::<2>("GIAI", "CompanyPrefix.IndividualAssetRef", body)?;
            Ok(Gs1Id::Giai(Giai::new(
                prefix,
                &unescape_epc_component("GIAI asset reference", asset_ref)?,
            )?))
        }
        _ => Err(IdError::UnsupportedScheme {
            scheme: format!("{}:{scheme}", if is_class { "class" } else { "id" }),
        }),
    }
}

/// Splits into `N` parts where the last part takes the rest (it may contain dots).
fn split_parts<'a, const N: usize>(
    scheme: &'static str,
    layout: &'static str,
    body: &'a str,
) -> Result<[&'a str; N], IdError> {
    let parts: Vec<&str> = body.splitn(N, '.').collect();
    let found = parts.len();
    parts.try_into().map_err(|_| IdError::PartCount {
        scheme,
        layout,
        expected: N,
        found,
    })
}

/// Splits into exactly `N` parts (all numeric schemes: a further dot is an error).
fn split_exact<'a, const N: usize>(
    scheme: &'static str,
    layout: &'static str,
    body: &'a str,
) -> Result<[&'a str; N], IdError> {
    let parts: Vec<&str> = body.split('.').collect();
    let found = parts.len();
    parts.try_into().map_err(|_| IdError::PartCount {
        scheme,
        layout,
        expected: N,
        found,
    })
}

/// Reading the shared test vectors (`../shared/vectors/`, next to the project root).
#[cfg(test)]
pub(crate) mod test_vectors {
    /// Reads a TSV file: rows of fields, header row included. Fields wrapped in double quotes
    /// (CSV style, `""` for a quote) are unwrapped. Panics (test-only) if the file is missing,
    /// so a test can never pass without its vectors.
    pub(crate) fn read_tsv(path: &str) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read test vectors {path}: {e}"));
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|line| line.split('\t').map(unquote).collect())
            .collect()
    }

    fn unquote(field: &str) -> String {
        match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
            Some(inner) if field.len() >= 2 => inner.replace("\"\"", "\""),
            _ => field.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_of_known_keys() {
        assert_eq!(gs1_check_digit("0950600013435"), Some(2));
        assert_eq!(gs1_check_digit("061414112345"), Some(2));
        assert_eq!(gs1_check_digit(""), None);
        assert_eq!(gs1_check_digit("12a"), None);
        assert!(is_valid_gtin("09506000134352"));
        assert!(is_valid_gtin("9506000134352"));
        assert!(!is_valid_gtin("09506000134353"));
        assert!(is_valid_gln("0614141123452"));
        assert!(!is_valid_gln("061414112345"));
        assert!(is_valid_sscc("106141411234567897"));
    }

    #[test]
    fn sgtin_round_trip_and_keys() {
        let id = parse_epc_uri("urn:epc:id:sgtin:0614141.812345.6789").unwrap();
        assert_eq!(id.to_urn(), "urn:epc:id:sgtin:0614141.812345.6789");
        assert_eq!(id.gtin14().as_deref(), Some("80614141123458"));
        assert_eq!(id.dl_path(), "/01/80614141123458/21/6789");
    }

    #[test]
    fn dl_path_ignores_prefix_split_and_optional_escapes() {
        // Same GTIN-14 09506000134352, split at 7 and at 9 digits; `%21` is an optional escape.
        let a = parse_epc_uri("urn:epc:id:sgtin:9506000.013435.AB%21C").unwrap();
        let b = parse_epc_uri("urn:epc:id:sgtin:950600013.0435.AB!C").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.dl_path(), b.dl_path());
        assert_eq!(a.dl_path(), "/01/09506000134352/21/AB%21C");
        assert_eq!(
            b.to_urn(),
            "urn:epc:id:sgtin:950600013.0435.AB!C",
            "optional escapes are not kept"
        );
    }

    #[test]
    fn each_scheme_dl_path() {
        let cases = [
            (
                "urn:epc:class:lgtin:0614141.812345.L%2F1",
                "/01/80614141123458/10/L%2F1",
            ),
            (
                "urn:epc:id:sscc:0614141.1234567890",
                "/00/106141412345678908",
            ),
            ("urn:epc:id:sgln:0614141.12345.0", "/414/0614141123452"),
            (
                "urn:epc:id:sgln:0614141.12345.A-1",
                "/414/0614141123452/254/A-1",
            ),
            ("urn:epc:id:pgln:0614141.12345", "/417/0614141123452"),
            (
                "urn:epc:id:grai:0614141.12345.400",
                "/8003/00614141123452400",
            ),
            ("urn:epc:id:giai:0614141.12345400", "/8004/061414112345400"),
        ];
        for (urn, path) in cases {
            let id = parse_epc_uri(urn).unwrap();
            assert_eq!(id.dl_path(), path, "{urn}");
            assert_eq!(id.to_urn(), urn);
        }
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let bad = [
            "urn:epc:id:sgtin:0614141.812345",
            "urn:epc:id:sgtin:0614141.81234.1",
            "urn:epc:id:sgtin:061414a.812345.1",
            "urn:epc:id:sgtin:0614141.812345.",
            "urn:epc:id:sgtin:0614141.812345.a/b",
            "urn:epc:id:sgtin:0614141.812345.a%2",
            "urn:epc:id:sgtin:0614141.812345.a%23",
            "urn:epc:id:sgtin:0614141.812345.\u{e9}",
            "urn:epc:id:sgtin:0614141.812345.123456789012345678901",
            "urn:epc:id:sscc:0614141.1234567890.1",
            "urn:epc:id:giai:0614141.12345678901234567890123X",
            "urn:epc:id:gsrn:0614141.1234567890",
            "urn:epc:class:sgtin:0614141.812345.1",
            "URN:EPC:ID:SGTIN:0614141.812345.6789",
            "",
        ];
        for s in bad {
            let err = parse_epc_uri(s).expect_err(s);
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn shorten_gtin_needs_filler_zeros() {
        assert_eq!(
            shorten_gtin("00012345678905", 12).as_deref(),
            Some("012345678905")
        );
        assert_eq!(shorten_gtin("01519265235886", 12), None);
    }
}
