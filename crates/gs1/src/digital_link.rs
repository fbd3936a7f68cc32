//! GS1 Digital Link URIs (GS1 Digital Link: URI Syntax 1.2+) for the identifiers in
//! [`crate::keys`].
//!
//! A QR code on a rice bag carries `https://id.gs1.org/01/09506000134352/10/LOT7`; the ledger
//! can act as its resolver. This module parses such URIs (any host, an optional custom path
//! before the key, or a bare path for internal lookups), validates keys and check digits, and
//! converts both ways between Digital Links and EPC URNs. Converting to a URN needs the GS1
//! Company Prefix length, which a Digital Link does not carry.
//!
//! Supported primary keys: (01) GTIN with qualifiers (22) CPV, (10) lot, (21) serial; (00) SSCC;
//! (414) GLN with (254) extension; (417) party GLN; (8003) GRAI; (8004) GIAI. Data attributes in
//! the query string are ignored: they describe an object but do not identify it.
//!
//! Where GS1 Digital Link and lenient implementations differ, this module follows the standard:
//! AI values are percent-encoded except RFC 3986 unreserved characters when written, and a URI
//! with characters that are not allowed in URIs (space, `"`, `<`, `>` ...) is refused when read.

use thiserror::Error;

use crate::keys::{self as gs1, Giai, Grai, Gs1Id, IdError, Lgtin, Pgln, Sgln, Sgtin, Sscc};

/// GS1's own resolver, the canonical host for Digital Link URIs.
pub const DEFAULT_BASE: &str = "https://id.gs1.org";

/// Why a Digital Link was refused or could not become an EPC.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DlError {
    /// Neither `http(s)://host/...` nor a path starting with `/`.
    #[error(
        "`{input}` is not a GS1 Digital Link: expected `https://<host>/<AI>/<value>...` such as \
         https://id.gs1.org/01/09506000134352/21/ABC123, or a path starting with `/`"
    )]
    NotDigitalLink { input: String },
    /// A scheme other than http or https.
    #[error("URI scheme `{scheme}` is not used by GS1 Digital Link: use http or https")]
    Scheme { scheme: String },
    /// A bare path where a full URI is needed.
    #[error(
        "`{input}` is a bare path; a GS1 Digital Link URI here must be absolute, e.g. https://id.gs1.org{input}"
    )]
    NotAbsolute { input: String },
    /// The host part is empty or malformed.
    #[error("the URI `{input}` has no host after `//`")]
    NoHost { input: String },
    /// A character not allowed in that part of a URI (RFC 3986).
    #[error(
        "character {ch:?} at byte {pos} is not allowed in the {part} of a URI; \
         percent-encode it (UTF-8 bytes as %XX)"
    )]
    InvalidUriChar {
        ch: char,
        pos: usize,
        part: &'static str,
    },
    /// A `%` not followed by two hex digits.
    #[error("malformed percent-escape at byte {pos}: `%` must be followed by two hex digits")]
    BadPercentEscape { pos: usize },
    /// `//` or a trailing `/` in the path.
    #[error(
        "the path `{path}` has an empty segment (`//` or a trailing `/`); segments are /<AI>/<value>"
    )]
    EmptySegment { path: String },
    /// No primary key where the path should end in `/<AI>/<value>` pairs.
    #[error(
        "no GS1 primary key found in the path `{path}`: it must end with /<AI>/<value> pairs \
         starting with a primary key: /01/<GTIN-14>, /00/<SSCC-18>, /414/<GLN>, /417/<GLN>, \
         /8003/<GRAI>, /8004/<GIAI>"
    )]
    NoPrimaryKey { path: String },
    /// A GS1 primary key this ledger does not handle.
    #[error(
        "GS1 primary key ({ai}) is not supported: supported are (01), (00), (414), (417), (8003), (8004)"
    )]
    UnsupportedPrimaryKey { ai: String },
    /// An AI this module does not know (element strings).
    #[error(
        "AI ({ai}) is not supported: supported are (01) with (22), (10), (21); (00); (414) with (254); (417); (8003); (8004)"
    )]
    UnsupportedAi { ai: String },
    /// A qualifier that does not belong to the primary key.
    #[error("AI ({qualifier}) cannot qualify primary key ({primary}); {allowed}")]
    QualifierNotAllowed {
        qualifier: &'static str,
        primary: &'static str,
        allowed: &'static str,
    },
    /// Qualifiers out of the standard order or repeated.
    #[error(
        "key qualifiers of ({primary}) must appear once each, in the order {order}; ({qualifier}) breaks that"
    )]
    QualifierOrder {
        qualifier: &'static str,
        primary: &'static str,
        order: &'static str,
    },
    /// The same AI twice with different values, or two primary keys.
    #[error("AI ({ai}) is given twice with different values, or two primary keys are given")]
    ConflictingAi { ai: String },
    /// An AI value that breaks its format.
    #[error("AI ({ai}) value `{value}` is invalid: {reason}")]
    InvalidValue {
        ai: &'static str,
        value: String,
        reason: String,
    },
    /// The key has no EPC pure identity.
    #[error("{0}")]
    NoEpc(&'static str),
    /// The GS1 key could not become an EPC (e.g. prefix length out of range).
    #[error(transparent)]
    Id(#[from] IdError),
}

/// Digital Link primary keys handled here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrimaryKey {
    /// (00) SSCC.
    Sscc,
    /// (01) GTIN.
    Gtin,
    /// (414) GLN of a physical location.
    Gln,
    /// (417) GLN of a party.
    PartyGln,
    /// (8003) GRAI.
    Grai,
    /// (8004) GIAI.
    Giai,
}

impl PrimaryKey {
    const ALL: [PrimaryKey; 6] = [
        PrimaryKey::Sscc,
        PrimaryKey::Gtin,
        PrimaryKey::Gln,
        PrimaryKey::PartyGln,
        PrimaryKey::Grai,
        PrimaryKey::Giai,
    ];

    /// The application identifier.
    pub fn ai(self) -> &'static str {
        match self {
            PrimaryKey::Sscc => "00",
            PrimaryKey::Gtin => "01",
            PrimaryKey::Gln => "414",
            PrimaryKey::PartyGln => "417",
            PrimaryKey::Grai => "8003",
            PrimaryKey::Giai => "8004",
        }
    }

    /// From an application identifier.
    pub fn from_ai(ai: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.ai() == ai)
    }

    /// The qualifiers this key takes, in the order the Digital Link path requires.
    fn qualifiers(self) -> &'static [Qualifier] {
        match self {
            PrimaryKey::Gtin => &[Qualifier::Cpv, Qualifier::Lot, Qualifier::Serial],
            PrimaryKey::Gln => &[Qualifier::GlnExtension],
            _ => &[],
        }
    }

    fn qualifier_order(self) -> &'static str {
        match self {
            PrimaryKey::Gtin => "(22) then (10) then (21)",
            PrimaryKey::Gln => "(254)",
            _ => "none: this key takes no qualifiers",
        }
    }
}

/// GS1 primary keys that Digital Link defines but this module does not handle.
const OTHER_PRIMARY_KEYS: [&str; 11] = [
    "253", "255", "401", "402", "415", "416", "8006", "8010", "8013", "8017", "8018",
];

fn is_other_primary_key(ai: &str) -> bool {
    OTHER_PRIMARY_KEYS.contains(&ai)
}

/// Key qualifiers handled here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Qualifier {
    /// (22) consumer product variant.
    Cpv,
    /// (10) batch or lot.
    Lot,
    /// (21) serial number.
    Serial,
    /// (254) GLN extension component.
    GlnExtension,
}

impl Qualifier {
    const ALL: [Qualifier; 4] = [
        Qualifier::Cpv,
        Qualifier::Lot,
        Qualifier::Serial,
        Qualifier::GlnExtension,
    ];

    /// The application identifier.
    pub fn ai(self) -> &'static str {
        match self {
            Qualifier::Cpv => "22",
            Qualifier::Lot => "10",
            Qualifier::Serial => "21",
            Qualifier::GlnExtension => "254",
        }
    }

    /// From an application identifier.
    pub fn from_ai(ai: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.ai() == ai)
    }
}

/// A validated GS1 key as a Digital Link names it: a primary key and its qualifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DlKey {
    primary: PrimaryKey,
    value: String,
    /// In the order the path requires; values raw (percent-decoded).
    qualifiers: Vec<(Qualifier, String)>,
}

impl DlKey {
    /// Builds a key from GS1 element string pairs (AI, raw value) in any order, as a barcode
    /// scan gives them, e.g. `[("01", "09506000134352"), ("21", "ABC123")]`. A repeated AI with
    /// the same value counts once.
    pub fn from_ai_pairs<'a, I>(pairs: I) -> Result<DlKey, DlError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        let mut primary: Option<(PrimaryKey, &str)> = None;
        for &(ai, value) in &pairs {
            if let Some(k) = PrimaryKey::from_ai(ai) {
                match primary {
                    Some((p, v)) if p != k || v != value => {
                        return Err(DlError::ConflictingAi { ai: ai.to_owned() });
                    }
                    _ => primary = Some((k, value)),
                }
            }
        }
        let Some((primary, value)) = primary else {
            return Err(DlError::NoPrimaryKey {
                path: pairs
                    .iter()
                    .map(|(ai, v)| format!("({ai}){v}"))
                    .collect::<String>(),
            });
        };
        let mut qualifiers: Vec<(Qualifier, String)> = Vec::new();
        for &(ai, v) in &pairs {
            if PrimaryKey::from_ai(ai).is_some() {
                continue;
            }
            if is_other_primary_key(ai) {
                return Err(DlError::UnsupportedPrimaryKey { ai: ai.to_owned() });
            }
            let q = Qualifier::from_ai(ai)
                .ok_or_else(|| DlError::UnsupportedAi { ai: ai.to_owned() })?;
            match qualifiers.iter().find(|(seen, _)| *seen == q) {
                Some((_, seen_value)) if seen_value == v => {}
                Some(_) => return Err(DlError::ConflictingAi { ai: ai.to_owned() }),
                None => qualifiers.push((q, v.to_owned())),
            }
        }
        qualifiers.sort_by_key(|(q, _)| *q);
        Self::build(primary, value.to_owned(), qualifiers)
    }

    /// Validates values and the qualifier order (which callers have already put in path order).
    fn build(
        primary: PrimaryKey,
        value: String,
        qualifiers: Vec<(Qualifier, String)>,
    ) -> Result<DlKey, DlError> {
        check_primary_value(primary, &value)?;
        let allowed = primary.qualifiers();
        let mut next = 0;
        for (q, v) in &qualifiers {
            let Some(pos) = allowed.iter().position(|a| a == q) else {
                return Err(DlError::QualifierNotAllowed {
                    qualifier: q.ai(),
                    primary: primary.ai(),
                    allowed: match primary {
                        PrimaryKey::Gtin => "(01) takes (22), (10) and (21)",
                        PrimaryKey::Gln => "(414) takes (254)",
                        _ => "this key takes no qualifiers",
                    },
                });
            };
            if pos < next {
                return Err(DlError::QualifierOrder {
                    qualifier: q.ai(),
                    primary: primary.ai(),
                    order: primary.qualifier_order(),
                });
            }
            next = pos + 1;
            check_text(q.ai(), v, 20)?;
        }
        Ok(DlKey {
            primary,
            value,
            qualifiers,
        })
    }

    /// The primary key.
    pub fn primary(&self) -> PrimaryKey {
        self.primary
    }

    /// The primary key's raw value, e.g. the GTIN-14.
    pub fn primary_value(&self) -> &str {
        &self.value
    }

    /// A qualifier's raw value.
    pub fn qualifier(&self, q: Qualifier) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(have, _)| *have == q)
            .map(|(_, v)| v.as_str())
    }

    /// The path with every qualifier present, in standard order, values percent-encoded.
    pub fn full_path(&self) -> String {
        let mut path = format!("/{}/{}", self.primary.ai(), gs1::dl_escape(&self.value));
        for (q, v) in &self.qualifiers {
            path.push_str(&format!("/{}/{}", q.ai(), gs1::dl_escape(v)));
        }
        path
    }

    /// The canonical path of the object this key identifies: the ledger's lookup key, equal to
    /// [`Gs1Id::dl_path`] of the equivalent EPC.
    ///
    /// Qualifiers that do not narrow the identity are dropped: a serial identifies an item
    /// within its GTIN, so lot and CPV beside it are descriptive; a lot is unique within its
    /// GTIN, so a CPV beside it is too; a GLN extension `0` means no extension (TDS). A CPV on
    /// its own is kept, as it names a product variant.
    pub fn dl_path(&self) -> String {
        let keep: &[Qualifier] = if self.qualifier(Qualifier::Serial).is_some() {
            &[Qualifier::Serial]
        } else if self.qualifier(Qualifier::Lot).is_some() {
            &[Qualifier::Lot]
        } else if self.qualifier(Qualifier::GlnExtension) == Some("0") {
            &[]
        } else {
            &[Qualifier::Cpv, Qualifier::GlnExtension]
        };
        let mut path = format!("/{}/{}", self.primary.ai(), gs1::dl_escape(&self.value));
        for (q, v) in self.qualifiers.iter().filter(|(q, _)| keep.contains(q)) {
            path.push_str(&format!("/{}/{}", q.ai(), gs1::dl_escape(v)));
        }
        path
    }

    /// The Digital Link URI on `base` (e.g. [`DEFAULT_BASE`]) with every qualifier present.
    pub fn to_uri(&self, base: &str) -> String {
        format!("{}{}", base.trim_end_matches('/'), self.full_path())
    }

    /// The EPC for this key, splitting it with the GS1 Company Prefix length (6 to 12).
    pub fn to_gs1_id(&self, gcp_length: usize) -> Result<Gs1Id, DlError> {
        if !(gs1::MIN_GCP_DIGITS..=gs1::MAX_GCP_DIGITS).contains(&gcp_length) {
            return Err(IdError::GcpLength { gcp_length }.into());
        }
        let v = self.value.as_str();
        Ok(match self.primary {
            PrimaryKey::Gtin => match (
                self.qualifier(Qualifier::Serial),
                self.qualifier(Qualifier::Lot),
            ) {
                (Some(serial), _) => Gs1Id::Sgtin(Sgtin::from_gtin14(v, gcp_length, serial)?),
                (None, Some(lot)) => Gs1Id::Lgtin(Lgtin::from_gtin14(v, gcp_length, lot)?),
                (None, None) => {
                    return Err(DlError::NoEpc(
                        "a GTIN without serial (21) or lot (10) names a product class that has no \
                         EPC pure identity; add /21/<serial> or /10/<lot>",
                    ));
                }
            },
            PrimaryKey::Sscc => Gs1Id::Sscc(Sscc::from_sscc18(v, gcp_length)?),
            PrimaryKey::Gln => Gs1Id::Sgln(Sgln::from_gln13(
                v,
                gcp_length,
                self.qualifier(Qualifier::GlnExtension).unwrap_or("0"),
            )?),
            PrimaryKey::PartyGln => Gs1Id::Pgln(Pgln::from_gln13(v, gcp_length)?),
            PrimaryKey::Grai => {
                if v.len() <= 14 {
                    return Err(DlError::NoEpc(
                        "a GRAI without its serial component names an asset type, not an asset, \
                         and has no EPC pure identity; append the serial to the (8003) value",
                    ));
                }
                Gs1Id::Grai(Grai::from_ai8003(v, gcp_length)?)
            }
            PrimaryKey::Giai => Gs1Id::Giai(Giai::from_ai8004(v, gcp_length)?),
        })
    }
}

impl From<&Gs1Id> for DlKey {
    fn from(id: &Gs1Id) -> Self {
        let pairs = id.ai_pairs();
        let mut iter = pairs.into_iter();
        let (primary, value) = match iter.next() {
            Some((ai, value)) => (PrimaryKey::from_ai(ai).unwrap_or(PrimaryKey::Gtin), value),
            None => (PrimaryKey::Gtin, String::new()),
        };
        // A Gs1Id's pairs are valid and in path order, so no re-validation is needed.
        let qualifiers = iter
            .filter_map(|(ai, v)| Qualifier::from_ai(ai).map(|q| (q, v)))
            .collect();
        DlKey {
            primary,
            value,
            qualifiers,
        }
    }
}

fn invalid(ai: &'static str, value: &str, reason: impl Into<String>) -> DlError {
    DlError::InvalidValue {
        ai,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// An all-digit key of `len` digits with a valid check digit.
fn check_numeric_key(ai: &'static str, value: &str, len: usize, what: &str) -> Result<(), DlError> {
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            ai,
            value,
            format!("a {what} has exactly {len} digits"),
        ));
    }
    if !gs1::has_valid_check_digit(value) {
        return Err(invalid(
            ai,
            value,
            format!("the {what} check digit is wrong"),
        ));
    }
    Ok(())
}

/// 1..=max characters of set 82.
fn check_text(ai: &'static str, value: &str, max: usize) -> Result<(), DlError> {
    if value.is_empty() {
        return Err(invalid(ai, value, "it must not be empty"));
    }
    if let Some(c) = value.chars().find(|&c| !gs1::is_cset82(c)) {
        return Err(invalid(
            ai,
            value,
            format!("{c:?} is not in GS1 AI encodable character set 82"),
        ));
    }
    let n = value.chars().count();
    if n > max {
        return Err(invalid(
            ai,
            value,
            format!("it has {n} characters, at most {max} are allowed"),
        ));
    }
    Ok(())
}

fn check_primary_value(primary: PrimaryKey, value: &str) -> Result<(), DlError> {
    let ai = primary.ai();
    match primary {
        // Digital Link requires GTIN-8/12/13 to be written as 14 digits.
        PrimaryKey::Gtin => check_numeric_key(ai, value, 14, "GTIN (written with 14 digits)"),
        PrimaryKey::Sscc => check_numeric_key(ai, value, 18, "SSCC"),
        PrimaryKey::Gln | PrimaryKey::PartyGln => check_numeric_key(ai, value, 13, "GLN"),
        PrimaryKey::Grai => {
            let digits = value
                .get(..14)
                .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
            let Some(digits) = digits else {
                return Err(invalid(
                    ai,
                    value,
                    "it starts with 14 digits: filler 0, GRAI and check digit",
                ));
            };
            if !digits.starts_with('0') {
                return Err(invalid(ai, value, "the first digit is the filler 0"));
            }
            if !gs1::has_valid_check_digit(&digits[1..]) {
                return Err(invalid(ai, value, "the GRAI check digit is wrong"));
            }
            let serial = value.get(14..).unwrap_or("");
            if !serial.is_empty() {
                check_text(ai, serial, gs1::MAX_GRAI_SERIAL_CHARS)?;
            }
            Ok(())
        }
        PrimaryKey::Giai => check_text(ai, value, gs1::MAX_GIAI_CHARS),
    }
}

/// The Digital Link URI of an EPC on `base` (e.g. [`DEFAULT_BASE`]); a trailing `/` on `base` is
/// ignored.
pub fn to_digital_link(id: &Gs1Id, base: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), id.dl_path())
}

/// Where the path of a URI starts and ends, after checking its characters.
struct UriParts<'a> {
    absolute: bool,
    path: &'a str,
}

/// RFC 3986 unreserved and sub-delims, plus `:` and `@`: the characters of a path segment.
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// Checks the characters of `part` (starting at byte `offset` of the URI): `allowed` plus
/// well-formed percent-escapes.
fn check_chars(
    part_text: &str,
    offset: usize,
    part: &'static str,
    allowed: impl Fn(u8) -> bool,
) -> Result<(), DlError> {
    let bytes = part_text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(DlError::BadPercentEscape { pos: offset + i });
            }
            i += 3;
        } else if allowed(b) {
            i += 1;
        } else {
            // The whole URI was checked to be ASCII, so the byte is the character.
            return Err(DlError::InvalidUriChar {
                ch: char::from(b),
                pos: offset + i,
                part,
            });
        }
    }
    Ok(())
}

fn split_uri(uri: &str) -> Result<UriParts<'_>, DlError> {
    if let Some((pos, ch)) = uri.char_indices().find(|(_, c)| !c.is_ascii()) {
        return Err(DlError::InvalidUriChar {
            ch,
            pos,
            part: "text",
        });
    }
    // From here on the URI is ASCII, so every byte index is a character boundary.
    let (absolute, path_start) = if uri.starts_with('/') {
        (false, 0)
    } else {
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Err(DlError::NotDigitalLink {
                input: uri.to_owned(),
            });
        };
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(DlError::Scheme {
                scheme: scheme.to_owned(),
            });
        }
        let host_start = scheme.len() + 3;
        let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let host = &rest[..host_len];
        if host.is_empty() {
            return Err(DlError::NoHost {
                input: uri.to_owned(),
            });
        }
        check_chars(host, host_start, "host", |b| {
            is_pchar(b) || b == b'[' || b == b']'
        })?;
        (true, host_start + host_len)
    };
    let after_host = &uri[path_start..];
    let path_len = after_host.find(['?', '#']).unwrap_or(after_host.len());
    let path = &after_host[..path_len];
    check_chars(path, path_start, "path", |b| is_pchar(b) || b == b'/')?;
    // Query and fragment are not part of the identity, but a URI with characters that URIs
    // cannot contain is refused as a whole.
    let tail = &after_host[path_len..];
    let tail_start = path_start + path_len;
    match tail.split_once('#') {
        Some((query, fragment)) => {
            check_chars(query, tail_start, "query", |b| {
                is_pchar(b) || b == b'/' || b == b'?'
            })?;
            check_chars(fragment, tail_start + query.len() + 1, "fragment", |b| {
                is_pchar(b) || b == b'/' || b == b'?'
            })?;
        }
        None => check_chars(tail, tail_start, "query", |b| {
            is_pchar(b) || b == b'/' || b == b'?'
        })?,
    }
    Ok(UriParts { absolute, path })
}

/// Strict percent-decoding of a path segment (escapes were checked by `split_uri`); the result
/// must be ASCII because every AI value is.
fn decode_segment(ai: &'static str, segment: &str) -> Result<String, DlError> {
    let bytes = uri_unescape(segment, false);
    match String::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => Ok(s),
        _ => Err(invalid(
            ai,
            segment,
            "it decodes to characters outside GS1 character set 82",
        )),
    }
}

/// Parses a GS1 Digital Link URI (any host, optional custom path before the key) or a bare path
/// such as `/01/09506000134352/10/ABC123`. The query string and fragment are ignored.
pub fn parse_digital_link(uri: &str) -> Result<DlKey, DlError> {
    let parts = split_uri(uri)?;
    parse_path(parts.path)
}

fn parse_path(path: &str) -> Result<DlKey, DlError> {
    let no_key = || DlError::NoPrimaryKey {
        path: path.to_owned(),
    };
    let Some(inner) = path.strip_prefix('/') else {
        return Err(no_key());
    };
    let segments: Vec<&str> = inner.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        if inner.is_empty() {
            return Err(no_key());
        }
        return Err(DlError::EmptySegment {
            path: path.to_owned(),
        });
    }
    // Read /<AI>/<value> pairs from the end: qualifiers until the primary key; whatever comes
    // before the primary key is the resolver's own path (e.g. /blr/123/00/...).
    let mut qualifiers: Vec<(Qualifier, String)> = Vec::new();
    let mut end = segments.len();
    loop {
        let (Some(&ai), Some(&value)) = (
            end.checked_sub(2).and_then(|i| segments.get(i)),
            end.checked_sub(1).and_then(|i| segments.get(i)),
        ) else {
            return Err(no_key());
        };
        if let Some(primary) = PrimaryKey::from_ai(ai) {
            let value = decode_segment(primary.ai(), value)?;
            qualifiers.reverse();
            return DlKey::build(primary, value, qualifiers);
        }
        if is_other_primary_key(ai) {
            return Err(DlError::UnsupportedPrimaryKey { ai: ai.to_owned() });
        }
        let Some(q) = Qualifier::from_ai(ai) else {
            return Err(no_key());
        };
        qualifiers.push((q, decode_segment(q.ai(), value)?));
        end -= 2;
    }
}

/// Converts a Digital Link URI to an EPC, splitting the key with the GS1 Company Prefix length.
///
/// Unlike [`parse_digital_link`], this wants a full `http(s)://` URI, as a Digital Link URI is by
/// definition: a bare path is refused.
pub fn to_urn(uri: &str, gcp_length: usize) -> Result<Gs1Id, DlError> {
    let parts = split_uri(uri)?;
    if !parts.absolute {
        return Err(DlError::NotAbsolute {
            input: uri.to_owned(),
        });
    }
    parse_path(parts.path)?.to_gs1_id(gcp_length)
}

/// Percent-encodes `s` for a Digital Link path segment (`query == false`) or query value
/// (`query == true`, where a space is written `+`). Only RFC 3986 unreserved characters stay.
pub fn uri_escape(s: &str, query: bool) -> String {
    if query {
        s.split(' ')
            .map(gs1::dl_escape)
            .collect::<Vec<_>>()
            .join("+")
    } else {
        gs1::dl_escape(s)
    }
}

/// Percent-decodes `s` as the GS1 Syntax Engine does: a `%` not followed by two hex digits is
/// kept as it is, and in a query value (`query == true`) `+` means space. Returns bytes, since
/// an escape may produce bytes that are not UTF-8.
pub fn uri_unescape(s: &str, query: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let hex = |j: usize| bytes.get(j).and_then(|&c| char::from(c).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                // Two hex digits: at most 255.
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) if query => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::keys::test_vectors::read_tsv;

    #[test]
    fn examples_from_the_domain() {
        let key = parse_digital_link("https://id.gs1.org/01/09506000134352/10/ABC123").unwrap();
        assert_eq!(key.primary(), PrimaryKey::Gtin);
        assert_eq!(key.qualifier(Qualifier::Lot), Some("ABC123"));
        let id = to_urn("https://id.gs1.org/01/09506000134352/10/ABC123", 7).unwrap();
        assert_eq!(id.to_urn(), "urn:epc:class:lgtin:9506000.013435.ABC123");
        assert_eq!(id.dl_path(), key.dl_path());
        assert_eq!(
            to_digital_link(&id, DEFAULT_BASE),
            "https://id.gs1.org/01/09506000134352/10/ABC123"
        );
        // Bare paths work as ledger keys; a query string is ignored.
        let bare = parse_digital_link("/01/09506000134352/10/ABC123?17=260101").unwrap();
        assert_eq!(bare, key);
        assert!(to_urn("/01/09506000134352/10/ABC123", 7).is_err());
    }

    #[test]
    fn canonical_path_drops_what_does_not_identify() {
        let full =
            parse_digital_link("https://x.example/01/12312312312326/22/ABC/10/DEF/21/GHI").unwrap();
        assert_eq!(full.full_path(), "/01/12312312312326/22/ABC/10/DEF/21/GHI");
        assert_eq!(full.dl_path(), "/01/12312312312326/21/GHI");
        let sgtin = full.to_gs1_id(9).unwrap();
        assert_eq!(sgtin.dl_path(), full.dl_path());
        let cpv = parse_digital_link("/01/12312312312326/22/ABC").unwrap();
        assert_eq!(cpv.dl_path(), "/01/12312312312326/22/ABC");
        assert!(cpv.to_gs1_id(9).is_err());
        let gln0 = parse_digital_link("/414/0614141123452/254/0").unwrap();
        assert_eq!(gln0.dl_path(), "/414/0614141123452");
        // Escaped and unescaped spellings of one serial give one key.
        let a = parse_digital_link("/01/12312312312326/21/A%2Fb").unwrap();
        let b = parse_digital_link("/01/12312312312326/21/A%2fb").unwrap();
        assert_eq!(a.dl_path(), b.dl_path());
        let c = parse_digital_link("/01/12312312312326/21/A!b").unwrap();
        let d = parse_digital_link("/01/12312312312326/21/A%21b").unwrap();
        assert_eq!(c.dl_path(), d.dl_path());
        assert_eq!(c.dl_path(), "/01/12312312312326/21/A%21b");
    }

    #[test]
    fn refusals() {
        let bad = [
            "",
            "01/12312312312326",
            "ftp://x.example/01/12312312312326",
            "https:///01/12312312312326",
            "https://x.example/01/12312312312326/",
            "https://x.example//01/12312312312326",
            "https://x.example/01/12312312312325", // check digit
            "https://x.example/01/1231231231232",  // 13 digits
            "https://x.example/01/12312312312326/21/", // empty serial
            "https://x.example/01/12312312312326/21/a b",
            "https://x.example/01/12312312312326/21/a%2",
            "https://x.example/01/12312312312326/21/%23", // '#' is not in set 82
            "https://x.example/01/12312312312326/21/%C3%A9",
            "https://x.example/01/12312312312326/21/123456789012345678901",
            "https://x.example/01/12312312312326/21/S/10/L", // order
            "https://x.example/01/12312312312326/254/X",
            "https://x.example/00/106141412345678908/21/X",
            "https://x.example/253/1234567890128A",
            "https://x.example/8003/1234567890128A",
            "https://x.example/8003/0123456789012X",
            "https://x.example/foo/bar",
            "https://x.example/01/12312312312326/21/\u{e9}",
            "https://x.example/01/12312312312326?a=<",
        ];
        for uri in bad {
            let err = parse_digital_link(uri).expect_err(uri);
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn element_strings() {
        let key = DlKey::from_ai_pairs([("21", "XYZ"), ("01", "12312312312333"), ("10", "ABC123")])
            .unwrap();
        assert_eq!(key.full_path(), "/01/12312312312333/10/ABC123/21/XYZ");
        assert!(
            DlKey::from_ai_pairs([("01", "12312312312333"), ("01", "12312312312326")]).is_err()
        );
        assert!(
            DlKey::from_ai_pairs([("10", "A"), ("10", "B"), ("01", "12312312312333")]).is_err()
        );
        assert!(
            DlKey::from_ai_pairs([("00", "106141412345678908"), ("01", "12312312312333")]).is_err()
        );
    }

    /// Splits a bracketed element string `(01)123(21)abc` into pairs.
    fn ai_pairs(bracketed: &str) -> Vec<(&str, &str)> {
        bracketed
            .split('(')
            .skip(1)
            .filter_map(|chunk| chunk.split_once(')'))
            .collect()
    }

    /// `gs1_syntax_engine_generate_dl.tsv`: rows whose AIs are all supported are checked; the
    /// others (data attributes in the query string, other primary keys) are counted as skipped.
    #[test]
    fn syntax_engine_generate_dl() {
        let rows = read_tsv(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/digital-link/gs1_syntax_engine_generate_dl.tsv"
        ));
        let supported = [
            "01", "21", "10", "22", "00", "414", "254", "417", "8003", "8004",
        ];
        let (mut checked, mut path_only, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
        for row in rows.iter().skip(1) {
            let (line, ok, stem, ais, expected) =
                (&row[0], row[1] == "true", &row[2], &row[3], &row[4]);
            let base = if stem == "NULL" {
                DEFAULT_BASE
            } else {
                stem.as_str()
            };
            let pairs = ai_pairs(ais);
            let only_supported = pairs.iter().all(|(ai, _)| supported.contains(ai));
            let ours_primary = pairs
                .iter()
                .any(|(ai, _)| PrimaryKey::from_ai(ai).is_some());
            let other_primary = pairs.iter().any(|(ai, _)| is_other_primary_key(ai));
            if only_supported || !(ours_primary || other_primary) {
                let result = DlKey::from_ai_pairs(pairs.iter().copied());
                if ok {
                    let key = result.unwrap_or_else(|e| panic!("line {line}: {e}"));
                    assert_eq!(&key.to_uri(base), expected, "line {line}");
                    assert_eq!(
                        parse_digital_link(expected).as_ref(),
                        Ok(&key),
                        "line {line}"
                    );
                } else {
                    // Only row 2162, `(99)XYZ789`: no primary key at all.
                    assert!(
                        matches!(result, Err(DlError::NoPrimaryKey { .. })),
                        "line {line}"
                    );
                }
                checked.push(line.clone());
            } else if ok && ours_primary && !other_primary {
                // Data attributes go to the query string, which this module does not generate:
                // check the path, built from the key AIs alone.
                let keys: Vec<(&str, &str)> = pairs
                    .iter()
                    .copied()
                    .filter(|(ai, _)| supported.contains(ai))
                    .collect();
                let key = DlKey::from_ai_pairs(keys).unwrap_or_else(|e| panic!("line {line}: {e}"));
                let (path, _query) = expected.split_once('?').unwrap_or((expected, ""));
                assert_eq!(key.to_uri(base), path, "line {line}");
                assert_eq!(
                    parse_digital_link(expected).as_ref(),
                    Ok(&key),
                    "line {line}"
                );
                path_only.push(line.clone());
            } else {
                if !ok {
                    // Refused here too, though as "unsupported AI" rather than for the vector's
                    // reason, so not counted as checked.
                    assert!(
                        DlKey::from_ai_pairs(pairs.iter().copied()).is_err(),
                        "line {line}"
                    );
                }
                skipped.push(line.clone());
            }
        }
        println!(
            "gs1_syntax_engine_generate_dl.tsv: {} checked {checked:?}; {} path checked, query not generated {path_only:?}; {} skipped {skipped:?}",
            checked.len(),
            path_only.len(),
            skipped.len()
        );
        assert_eq!(checked, ["2155", "2156", "2157", "2162", "2242"]);
        assert_eq!(
            path_only,
            ["2158", "2159", "2168", "2184", "2185", "2186", "2206"]
        );
        assert_eq!(
            checked.len() + path_only.len() + skipped.len(),
            rows.len() - 1
        );
    }

    /// `gs1_syntax_engine_uri_escape.tsv`: arg2 is the path form, arg3 the query form.
    /// The file holds unescaped bytes >= 0x80 as the Latin-1 character of that byte (written in
    /// UTF-8), so expectations are turned back into bytes that way.
    #[test]
    fn syntax_engine_uri_escape() {
        let rows = read_tsv(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/digital-link/gs1_syntax_engine_uri_escape.tsv"
        ));
        let latin1 = |s: &str| -> Vec<u8> {
            s.chars()
                .map(|c| u8::try_from(u32::from(c)).expect("Latin-1"))
                .collect()
        };
        let mut counts = BTreeMap::<String, usize>::new();
        for row in rows.iter().skip(1) {
            let field = |i: usize| row.get(i).cloned().unwrap_or_default();
            let (line, function, arg1, path_form, query_form) =
                (field(0), field(1), field(2), field(3), field(4));
            match function.as_str() {
                "test_URIescape" => {
                    assert_eq!(uri_escape(&arg1, false), path_form, "line {line}");
                    assert_eq!(uri_escape(&arg1, true), query_form, "line {line}");
                }
                "test_URIunescape" => {
                    assert_eq!(
                        uri_unescape(&arg1, false),
                        latin1(&path_form),
                        "line {line}"
                    );
                    assert_eq!(
                        uri_unescape(&arg1, true),
                        latin1(&query_form),
                        "line {line}"
                    );
                }
                other => panic!("line {line}: unknown function {other}"),
            }
            *counts.entry(function).or_default() += 1;
        }
        println!("gs1_syntax_engine_uri_escape.tsv rows checked: {counts:?}");
        assert!(counts.get("test_URIescape").copied().unwrap_or(0) > 0);
        assert!(counts.get("test_URIunescape").copied().unwrap_or(0) > 0);
    }

    /// What the test does with one row of `openepcis_urn_digital_link.tsv`.
    enum Verdict {
        /// Checked against the vector.
        Pass,
        /// The vector calls it valid, but it breaks the standard; refused here (see the
        /// comment at the row).
        Deviation(&'static str),
        /// Not for this module (other schemes, ID patterns, vocabulary functions).
        Skip(&'static str),
    }

    /// Rows of `openepcis_urn_digital_link.tsv` whose "valid" expectation the standard does not
    /// support; each is refused here, and the reason is given.
    fn known_deviation(input: &str) -> Option<&'static str> {
        const ROWS: [(&str, &str); 9] = [
            // TDS: `"`, `/` and `%` must be %-escaped in an EPC URI.
            (
                "urn:epc:id:giai:839495849585.0!\"/%_",
                "raw \" / % in a URN",
            ),
            // Digital Link: `"` is not a URI character; `%_` is not a percent-escape.
            (
                "https://id.gs1.org/8004/3575958495850!\"/%_",
                "raw \" and bad % in a URI",
            ),
            // RFC 3986: `<` and `>` are never allowed in a URI (and `?` starts the query).
            ("https://id.gs1.org/8004/7324878;><=?", "raw < > in a URI"),
            (
                "https://id.gs1.org/8003/043847837483703:;<>=?AZ_az",
                "raw < > in a URI",
            ),
            // TDS: `"`, `%`, `&` must be %-escaped in an EPC URI.
            (
                "urn:epc:id:grai:123456789012..!\"%&'()*+,-.",
                "raw \" % & in a URN",
            ),
            // TDS: `"`, `%`, `&`, `/` must be %-escaped in an EPC URI.
            (
                "urn:epc:id:sgtin:234567.1890123.!\"%&'()*+,-./",
                "raw \" % & / in a URN",
            ),
            // RFC 3986: `"` is not a URI character, `%&'` is not a percent-escape, and the final
            // `/` makes an empty path segment.
            (
                "https://id.gs1.org/01/12345678901231/21/!\"%&'()*+,-./",
                "raw \" and bad % in a URI",
            ),
            // TDS: a lone `%` is neither a character nor an escape in an EPC URI.
            (
                "urn:epc:class:lgtin:4384738478.734.8484892%",
                "raw % in a URN",
            ),
            // GS1 General Specifications: AI (8004) holds at most 30 characters; this has 31.
            (
                "https://id.gs1.org/8004/42512183.SENSOR.TR-07-AVE-583:1",
                "GIAI of 31 characters",
            ),
        ];
        ROWS.iter()
            .find(|(row, _)| *row == input)
            .map(|(_, why)| *why)
    }

    /// GS1 Company Prefix length for rows that leave `gcp_length` empty: openepcis looks it up
    /// in GS1's prefix-length table, which is not available offline, so the length is read off
    /// the expected URN (digits before its first dot).
    fn gcp_from_expected(expected: &str) -> usize {
        expected
            .rsplit(':')
            .next()
            .and_then(|body| body.split('.').next())
            .map_or(0, str::len)
    }

    fn check_openepcis_row(row: &[String]) -> Verdict {
        let (file, kind, function, input, gcp, expected) =
            (&row[0], &row[1], &row[2], &row[3], &row[4], &row[6]);
        let ours = [
            "GIAITest.java",
            "GRAITest.java",
            "LGTINTest.java",
            "PGLNTest.java",
            "SGLNTest.java",
            "SGTINTest.java",
            "SSCCTest.java",
        ];
        if !ours.contains(&file.as_str()) {
            return Verdict::Skip("scheme not handled by lotline");
        }
        let valid = kind == "valid";
        let gcp: Option<usize> = gcp.parse().ok();
        match function.as_str() {
            "toURI" | "toDigitalLink" | "toURIForClassLevelIdentifier" => {
                if input.starts_with("urn:epc:idpat:") {
                    // Refused (patterns are not parsed at all), but not for the vector's reason.
                    assert!(gs1::parse_epc_uri(input).is_err());
                    return Verdict::Skip("EPC ID patterns are not identifiers of one object");
                }
                let parsed = gs1::parse_epc_uri(input);
                if !valid {
                    assert!(parsed.is_err(), "{file}: {input} must be refused");
                    return Verdict::Pass;
                }
                if let Some(why) = known_deviation(input) {
                    assert!(
                        parsed.is_err(),
                        "{file}: {input} breaks the standard ({why})"
                    );
                    return Verdict::Deviation(why);
                }
                let id = parsed.unwrap_or_else(|e| panic!("{file}: {input}: {e}"));
                assert_eq!(
                    &to_digital_link(&id, DEFAULT_BASE),
                    expected,
                    "{file}: {input}"
                );
                Verdict::Pass
            }
            "toURN" | "toURNForClassLevelIdentifier" => {
                if expected.starts_with("urn:epc:idpat:") {
                    return Verdict::Skip("EPC ID patterns are not identifiers of one object");
                }
                if !valid {
                    match gcp {
                        Some(g) => assert!(to_urn(input, g).is_err(), "{file}: {input} gcp {g}"),
                        // Invalid whatever the prefix length.
                        None => {
                            for g in 0..=14 {
                                assert!(to_urn(input, g).is_err(), "{file}: {input} gcp {g}");
                            }
                        }
                    }
                    return Verdict::Pass;
                }
                if let Some(why) = known_deviation(input) {
                    assert!(
                        parse_digital_link(input).is_err(),
                        "{file}: {input} ({why})"
                    );
                    return Verdict::Deviation(why);
                }
                let g = gcp.unwrap_or_else(|| gcp_from_expected(expected));
                let id = to_urn(input, g).unwrap_or_else(|e| panic!("{file}: {input}: {e}"));
                assert_eq!(&id.to_urn(), expected, "{file}: {input}");
                // And back: the key of the URI and of the URN agree.
                let key = parse_digital_link(input).unwrap();
                assert_eq!(key.dl_path(), id.dl_path(), "{file}: {input}");
                assert_eq!(DlKey::from(&id), key, "{file}: {input}");
                Verdict::Pass
            }
            _ => Verdict::Skip("vocabulary function"),
        }
    }

    #[test]
    fn openepcis_urn_digital_link() {
        let rows = read_tsv(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/digital-link/openepcis_urn_digital_link.tsv"
        ));
        assert_eq!(
            rows[0],
            [
                "source_file",
                "kind",
                "function",
                "input",
                "gcp_length",
                "result_key",
                "expected"
            ]
        );
        let mut passed = BTreeMap::<String, usize>::new();
        let mut deviations = Vec::new();
        let mut skipped = BTreeMap::<&str, usize>::new();
        for row in rows.iter().skip(1) {
            let mut row = row.clone();
            row.resize(7, String::new());
            match check_openepcis_row(&row) {
                Verdict::Pass => *passed.entry(format!("{} {}", row[0], row[1])).or_default() += 1,
                Verdict::Deviation(why) => deviations.push(format!("{}: {why}", row[3])),
                Verdict::Skip(why) => *skipped.entry(why).or_default() += 1,
            }
        }
        let total: usize = passed.values().sum();
        println!("openepcis_urn_digital_link.tsv: {total} rows checked {passed:?}");
        println!(
            "refused where the vector is lenient ({}): {deviations:#?}",
            deviations.len()
        );
        println!("skipped: {skipped:?}");
        for file in ["GIAI", "GRAI", "LGTIN", "PGLN", "SGLN", "SGTIN", "SSCC"] {
            for kind in ["valid", "invalid"] {
                assert!(
                    passed
                        .get(&format!("{file}Test.java {kind}"))
                        .copied()
                        .unwrap_or(0)
                        > 0,
                    "{file} {kind}"
                );
            }
        }
        assert_eq!(deviations.len(), 9);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn no_panic_on_arbitrary_text(s in "\\PC{0,80}", g in 0usize..20) {
                let _ = parse_digital_link(&s);
                let _ = to_urn(&s, g);
                let _ = uri_unescape(&s, true);
            }

            /// Any serial of set 82 survives URN → Digital Link → URN.
            #[test]
            fn serials_round_trip(serial in "[!\"%&'()*+,\\-./0-9:;<=>?A-Z_a-z]{1,20}") {
                let id = Gs1Id::Sgtin(Sgtin::new("0614141", "812345", &serial).unwrap());
                let uri = to_digital_link(&id, DEFAULT_BASE);
                prop_assert_eq!(to_urn(&uri, 7).unwrap(), id.clone());
                prop_assert_eq!(gs1::parse_epc_uri(&id.to_urn()).unwrap(), id);
            }
        }
    }
}
