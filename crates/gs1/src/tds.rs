//! RFID EPC binary encodings of the GS1 Tag Data Standard (TDS 2.x).
//!
//! A reader hands over the EPC bank as hex (e.g. `3074257BF7194E4000001A85`) or as an EPC raw
//! URI (`urn:epc:raw:96.x3074257BF7194E4000001A85`); the ledger stores pure identities
//! (`urn:epc:id:sgtin:0614141.812345.6789`). This module translates between the two, through the
//! tag URI (`urn:epc:tag:sgtin-96:3.0614141.812345.6789`) that also keeps the filter value.
//!
//! Supported: SGTIN-96, SGTIN-198, SSCC-96, SGLN-96, SGLN-195, GRAI-96, GRAI-170, GIAI-96 and
//! GIAI-202. Decoding is strict: a value that an encoder could not have written (an integer
//! that overflows its digits, a partition of 7, a non-zero reserved or padding bit, a 7-bit code
//! outside GS1 character set 82) is refused rather than guessed at, because a mis-read tag must
//! not become a different object in the ledger.

use thiserror::Error;

use crate::keys::{self as gs1, Giai, Grai, Gs1Id, IdError, Sgln, Sgtin, Sscc};

/// Why an EPC could not be decoded, encoded or normalised.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TdsError {
    /// The hex has a character that is not a hex digit.
    #[error("EPC hex `{input}` contains {ch:?}; expected only hexadecimal digits 0-9, A-F")]
    NotHex { input: String, ch: char },
    /// Fewer than the 8 header bits.
    #[error("EPC hex `{input}` is too short: at least the 2-digit header is needed")]
    TooShort { input: String },
    /// A header this module does not decode.
    #[error(
        "EPC header 0x{header:02X} ({name}) is not supported: expected one of 0x30 sgtin-96, 0x36 sgtin-198, 0x31 sscc-96, 0x32 sgln-96, 0x39 sgln-195, 0x33 grai-96, 0x37 grai-170, 0x34 giai-96, 0x38 giai-202"
    )]
    UnsupportedHeader { header: u8, name: &'static str },
    /// The hex is shorter than the scheme or longer than its 16-bit-padded size.
    #[error(
        "{scheme} has {bits} bits: expected {min_hex} to {max_hex} hex digits (zero padding up to a 16-bit boundary), got {found}"
    )]
    Length {
        scheme: &'static str,
        bits: usize,
        min_hex: usize,
        max_hex: usize,
        found: usize,
    },
    /// Bits after the scheme's length are not zero.
    #[error(
        "{scheme}: the padding after bit {bits} must be zero; the hex is longer than one EPC or is corrupt"
    )]
    NonZeroPadding { scheme: &'static str, bits: usize },
    /// Partition value 7 (TDS defines 0 to 6).
    #[error("{scheme}: partition value {partition} is invalid; TDS defines 0 to 6")]
    Partition { scheme: &'static str, partition: u8 },
    /// An integer field larger than its digit count allows.
    #[error("{scheme}: {field} decodes to {value}, which does not fit in {digits} decimal digits")]
    FieldOverflow {
        scheme: &'static str,
        field: &'static str,
        value: u64,
        digits: usize,
    },
    /// SSCC-96 reserved bits set.
    #[error("{scheme}: the 24 reserved bits must be zero")]
    Reserved { scheme: &'static str },
    /// A 7-bit code outside set 82.
    #[error(
        "{scheme}: {field} has the 7-bit code 0x{code:02X}, which is not a character of GS1 character set 82"
    )]
    BadChar {
        scheme: &'static str,
        field: &'static str,
        code: u8,
    },
    /// Bits after a string's terminating zero.
    #[error(
        "{scheme}: {field} has non-zero bits after its end; a 7-bit string ends with zero bits only"
    )]
    StringTail {
        scheme: &'static str,
        field: &'static str,
    },
    /// Filter outside 0..=7.
    #[error("filter value {filter} is out of range: expected 0 to 7")]
    Filter { filter: u32 },
    /// Not `urn:epc:tag:<scheme>:<filter>.<body>`.
    #[error(
        "`{input}` is not an EPC tag URI: expected `urn:epc:tag:<scheme>-<bits>:<filter>.<identity>`, e.g. urn:epc:tag:sgtin-96:3.0614141.812345.6789"
    )]
    NotTagUri { input: String },
    /// A tag URI scheme this module does not encode.
    #[error(
        "tag URI scheme `{scheme}` is not supported: expected sgtin-96, sgtin-198, sscc-96, sgln-96, sgln-195, grai-96, grai-170, giai-96 or giai-202"
    )]
    UnsupportedTagScheme { scheme: String },
    /// The identifier is valid but this binary scheme cannot hold it.
    #[error("{scheme} cannot encode {field} `{value}`: {reason}")]
    NotEncodable {
        scheme: &'static str,
        field: &'static str,
        value: String,
        reason: String,
    },
    /// E.g. an SSCC given to `sgtin-96`.
    #[error("a {id_scheme} identifier cannot be encoded as {scheme}")]
    SchemeMismatch {
        id_scheme: &'static str,
        scheme: &'static str,
    },
    /// Not `urn:epc:raw:<bits>.x<hex>`.
    #[error(
        "`{input}` is not an EPC raw URI: {reason}; expected `urn:epc:raw:<bit length>.x<hex>`, e.g. urn:epc:raw:96.x3074257BF7194E4000001A85"
    )]
    NotRawUri { input: String, reason: &'static str },
    /// The raw URI's bit length disagrees with its hex or with its header.
    #[error("raw URI declares {declared} bits, but {reason}")]
    RawLength { declared: usize, reason: String },
    /// Nothing recognisable.
    #[error(
        "`{input}` is not a recognised EPC: expected `urn:epc:id:...`, `urn:epc:class:lgtin:...`, `urn:epc:tag:...`, `urn:epc:raw:...` or the EPC bank as hex"
    )]
    Unrecognised { input: String },
    /// The identity inside a URI is invalid.
    #[error(transparent)]
    Id(#[from] IdError),
}

/// The binary EPC schemes this module encodes and decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryScheme {
    Sgtin96,
    Sgtin198,
    Sscc96,
    Sgln96,
    Sgln195,
    Grai96,
    Grai170,
    Giai96,
    Giai202,
}

impl BinaryScheme {
    /// Every supported scheme.
    pub const ALL: [BinaryScheme; 9] = [
        BinaryScheme::Sgtin96,
        BinaryScheme::Sgtin198,
        BinaryScheme::Sscc96,
        BinaryScheme::Sgln96,
        BinaryScheme::Sgln195,
        BinaryScheme::Grai96,
        BinaryScheme::Grai170,
        BinaryScheme::Giai96,
        BinaryScheme::Giai202,
    ];

    /// The tag URI name, e.g. `sgtin-96`.
    pub fn name(self) -> &'static str {
        match self {
            BinaryScheme::Sgtin96 => "sgtin-96",
            BinaryScheme::Sgtin198 => "sgtin-198",
            BinaryScheme::Sscc96 => "sscc-96",
            BinaryScheme::Sgln96 => "sgln-96",
            BinaryScheme::Sgln195 => "sgln-195",
            BinaryScheme::Grai96 => "grai-96",
            BinaryScheme::Grai170 => "grai-170",
            BinaryScheme::Giai96 => "giai-96",
            BinaryScheme::Giai202 => "giai-202",
        }
    }

    /// The 8-bit EPC header.
    pub fn header(self) -> u8 {
        match self {
            BinaryScheme::Sgtin96 => 0x30,
            BinaryScheme::Sscc96 => 0x31,
            BinaryScheme::Sgln96 => 0x32,
            BinaryScheme::Grai96 => 0x33,
            BinaryScheme::Giai96 => 0x34,
            BinaryScheme::Sgtin198 => 0x36,
            BinaryScheme::Grai170 => 0x37,
            BinaryScheme::Giai202 => 0x38,
            BinaryScheme::Sgln195 => 0x39,
        }
    }

    /// The encoding's length in bits.
    pub fn bit_len(self) -> usize {
        match self {
            BinaryScheme::Sgtin96
            | BinaryScheme::Sscc96
            | BinaryScheme::Sgln96
            | BinaryScheme::Grai96
            | BinaryScheme::Giai96 => 96,
            BinaryScheme::Sgtin198 => 198,
            BinaryScheme::Sgln195 => 195,
            BinaryScheme::Grai170 => 170,
            BinaryScheme::Giai202 => 202,
        }
    }

    /// The pure-identity scheme it encodes (`sgtin`, `sscc`, ...).
    pub fn epc_scheme(self) -> &'static str {
        match self {
            BinaryScheme::Sgtin96 | BinaryScheme::Sgtin198 => "sgtin",
            BinaryScheme::Sscc96 => "sscc",
            BinaryScheme::Sgln96 | BinaryScheme::Sgln195 => "sgln",
            BinaryScheme::Grai96 | BinaryScheme::Grai170 => "grai",
            BinaryScheme::Giai96 | BinaryScheme::Giai202 => "giai",
        }
    }

    /// From a tag URI name such as `sgtin-96`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// From an EPC header byte.
    pub fn from_header(header: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.header() == header)
    }

    /// Hex digits the scheme needs at least (its bits rounded up to a nibble).
    fn min_hex(self) -> usize {
        self.bit_len().div_ceil(4)
    }

    /// Hex digits of the EPC bank holding it: the EPC memory bank is read in 16-bit words.
    fn padded_hex(self) -> usize {
        self.bit_len().div_ceil(16) * 4
    }
}

/// Names of EPC headers that exist in TDS but are not decoded here, for clearer errors.
fn header_name(header: u8) -> &'static str {
    match header {
        0x00 => "unprogrammed tag",
        0x2C => "gdti-96",
        0x2D => "gsrn-96",
        0x2E => "gsrnp-96",
        0x2F => "usdod-96",
        0x35 => "gid-96",
        0x3B => "adi-var",
        0x3C => "cpi-96",
        0x3D => "cpi-var",
        0x3E => "gdti-174",
        0x3F => "sgcn-96",
        0x40 => "itip-110",
        0x41 => "itip-212",
        0xF1 => "grai+",
        0xF2 => "sgln+",
        0xF4 => "gsrn+",
        0xF6 => "gdti+",
        0xF7 => "sgtin+",
        _ => "unknown header",
    }
}

/// One row of a partition table: bits and decimal digits of company prefix and of the second
/// field (item reference, serial reference, location reference, asset type or asset
/// reference). For string fields `ref_digits` is the maximum number of characters.
#[derive(Clone, Copy)]
struct Partition {
    prefix_bits: usize,
    prefix_digits: usize,
    ref_bits: usize,
    ref_digits: usize,
}

const fn p(
    prefix_bits: usize,
    prefix_digits: usize,
    ref_bits: usize,
    ref_digits: usize,
) -> Partition {
    Partition {
        prefix_bits,
        prefix_digits,
        ref_bits,
        ref_digits,
    }
}

/// TDS partition table, SGTIN: prefix + indicator/item reference = 44 bits, 13 digits.
const SGTIN_PARTITIONS: [Partition; 7] = [
    p(40, 12, 4, 1),
    p(37, 11, 7, 2),
    p(34, 10, 10, 3),
    p(30, 9, 14, 4),
    p(27, 8, 17, 5),
    p(24, 7, 20, 6),
    p(20, 6, 24, 7),
];
/// TDS partition table, SSCC: prefix + extension/serial reference = 58 bits, 17 digits.
const SSCC_PARTITIONS: [Partition; 7] = [
    p(40, 12, 18, 5),
    p(37, 11, 21, 6),
    p(34, 10, 24, 7),
    p(30, 9, 28, 8),
    p(27, 8, 31, 9),
    p(24, 7, 34, 10),
    p(20, 6, 38, 11),
];
/// TDS partition table, SGLN: prefix + location reference = 41 bits, 12 digits.
const SGLN_PARTITIONS: [Partition; 7] = [
    p(40, 12, 1, 0),
    p(37, 11, 4, 1),
    p(34, 10, 7, 2),
    p(30, 9, 11, 3),
    p(27, 8, 14, 4),
    p(24, 7, 17, 5),
    p(20, 6, 21, 6),
];
/// TDS partition table, GRAI: prefix + asset type = 44 bits, 12 digits.
const GRAI_PARTITIONS: [Partition; 7] = [
    p(40, 12, 4, 0),
    p(37, 11, 7, 1),
    p(34, 10, 10, 2),
    p(30, 9, 14, 3),
    p(27, 8, 17, 4),
    p(24, 7, 20, 5),
    p(20, 6, 24, 6),
];
/// TDS partition table, GIAI-96: prefix + integer asset reference = 82 bits.
const GIAI96_PARTITIONS: [Partition; 7] = [
    p(40, 12, 42, 13),
    p(37, 11, 45, 14),
    p(34, 10, 48, 15),
    p(30, 9, 52, 16),
    p(27, 8, 55, 17),
    p(24, 7, 58, 18),
    p(20, 6, 62, 19),
];
/// TDS partition table, GIAI-202: prefix + 7-bit asset reference = 188 bits; up to 30 characters
/// in total with the prefix.
const GIAI202_PARTITIONS: [Partition; 7] = [
    p(40, 12, 148, 18),
    p(37, 11, 151, 19),
    p(34, 10, 154, 20),
    p(30, 9, 158, 21),
    p(27, 8, 161, 22),
    p(24, 7, 164, 23),
    p(20, 6, 168, 24),
];

/// How the field after the partition-table fields is stored.
#[derive(Clone, Copy)]
enum Tail {
    /// Decimal integer without leading zeros in this many bits.
    Integer(usize),
    /// 7-bit characters of set 82 in this many bits, at most this many characters.
    String(usize, usize),
    /// SSCC-96: nothing but 24 reserved zero bits.
    Reserved(usize),
    /// GIAI: the asset reference is the partition table's second field itself.
    None,
}

struct Layout {
    partitions: &'static [Partition; 7],
    ref_field: &'static str,
    /// Whether the second field is a 7-bit string (GIAI-202) rather than an integer.
    ref_is_string: bool,
    tail_field: &'static str,
    tail: Tail,
}

fn layout(scheme: BinaryScheme) -> Layout {
    let l = |partitions, ref_field, tail_field, tail| Layout {
        partitions,
        ref_field,
        ref_is_string: false,
        tail_field,
        tail,
    };
    match scheme {
        BinaryScheme::Sgtin96 => l(
            &SGTIN_PARTITIONS,
            "item reference",
            "serial",
            Tail::Integer(38),
        ),
        BinaryScheme::Sgtin198 => l(
            &SGTIN_PARTITIONS,
            "item reference",
            "serial",
            Tail::String(140, 20),
        ),
        BinaryScheme::Sscc96 => l(
            &SSCC_PARTITIONS,
            "serial reference",
            "reserved",
            Tail::Reserved(24),
        ),
        BinaryScheme::Sgln96 => l(
            &SGLN_PARTITIONS,
            "location reference",
            "extension",
            Tail::Integer(41),
        ),
        BinaryScheme::Sgln195 => l(
            &SGLN_PARTITIONS,
            "location reference",
            "extension",
            Tail::String(140, 20),
        ),
        BinaryScheme::Grai96 => l(&GRAI_PARTITIONS, "asset type", "serial", Tail::Integer(38)),
        BinaryScheme::Grai170 => l(
            &GRAI_PARTITIONS,
            "asset type",
            "serial",
            Tail::String(112, 16),
        ),
        BinaryScheme::Giai96 => l(&GIAI96_PARTITIONS, "asset reference", "", Tail::None),
        BinaryScheme::Giai202 => Layout {
            ref_is_string: true,
            ..l(&GIAI202_PARTITIONS, "asset reference", "", Tail::None)
        },
    }
}

/// The result of decoding an EPC bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Binary scheme name, e.g. `sgtin-96`.
    pub scheme: &'static str,
    /// Filter value 0-7 (kind of object: pallet, case, item...), not part of the identity.
    pub filter: u8,
    /// E.g. `urn:epc:tag:sgtin-96:3.0614141.812345.6789`.
    pub tag_uri: String,
    /// E.g. `urn:epc:id:sgtin:0614141.812345.6789`.
    pub pure_identity: String,
    /// The parsed identity.
    pub id: Gs1Id,
}

/// Bits read MSB first from hex.
struct BitReader {
    bits: Vec<bool>,
    pos: usize,
}

impl BitReader {
    /// `hex` has been checked to be ASCII hex digits.
    fn from_hex(hex: &str) -> Self {
        let mut bits = Vec::with_capacity(hex.len() * 4);
        for c in hex.chars() {
            let v = c.to_digit(16).unwrap_or(0);
            for shift in (0..4).rev() {
                bits.push((v >> shift) & 1 == 1);
            }
        }
        Self { bits, pos: 0 }
    }

    /// Reads `n <= 64` bits as an integer; reading past the end yields zero bits (callers check
    /// the length before reading).
    fn read(&mut self, n: usize) -> u64 {
        let mut v = 0u64;
        for _ in 0..n {
            let bit = self.bits.get(self.pos).copied().unwrap_or(false);
            v = (v << 1) | u64::from(bit);
            self.pos += 1;
        }
        v
    }

    fn rest_is_zero(&self, from: usize) -> bool {
        self.bits.iter().skip(from).all(|b| !b)
    }
}

/// Bits written MSB first.
#[derive(Default)]
struct BitWriter {
    bits: Vec<bool>,
}

impl BitWriter {
    fn push(&mut self, value: u64, n: usize) {
        for shift in (0..n).rev() {
            let bit = shift < 64 && (value >> shift) & 1 == 1;
            self.bits.push(bit);
        }
    }

    /// Upper-case hex, zero-padded to a 16-bit boundary as in the EPC bank.
    fn into_hex(mut self) -> String {
        let padded = self.bits.len().div_ceil(16) * 16;
        self.bits.resize(padded, false);
        self.bits
            .chunks(4)
            .map(|nibble| {
                let v = nibble.iter().fold(0u8, |acc, &b| (acc << 1) | u8::from(b));
                char::from(b"0123456789ABCDEF"[usize::from(v & 0x0f)])
            })
            .collect()
    }
}

fn check_hex(input: &str) -> Result<(), TdsError> {
    match input.chars().find(|c| !c.is_ascii_hexdigit()) {
        Some(ch) => Err(TdsError::NotHex {
            input: input.to_owned(),
            ch,
        }),
        None if input.len() < 2 => Err(TdsError::TooShort {
            input: input.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Decodes the EPC bank contents (hex, either case) of one of the supported schemes.
///
/// The hex may be the exact scheme length rounded up to a nibble, or the EPC bank's 16-bit
/// words with zero padding (e.g. 52 digits for SGTIN-198); any other length, or a non-zero
/// padding bit, is refused.
pub fn decode_hex(hex: &str) -> Result<Decoded, TdsError> {
    check_hex(hex)?;
    // Two ASCII hex digits are present (check_hex).
    let header = u8::from_str_radix(&hex[..2], 16).unwrap_or(0);
    let scheme = BinaryScheme::from_header(header).ok_or(TdsError::UnsupportedHeader {
        header,
        name: header_name(header),
    })?;
    if hex.len() < scheme.min_hex() || hex.len() > scheme.padded_hex() {
        return Err(TdsError::Length {
            scheme: scheme.name(),
            bits: scheme.bit_len(),
            min_hex: scheme.min_hex(),
            max_hex: scheme.padded_hex(),
            found: hex.len(),
        });
    }
    let mut r = BitReader::from_hex(hex);
    if !r.rest_is_zero(scheme.bit_len()) {
        return Err(TdsError::NonZeroPadding {
            scheme: scheme.name(),
            bits: scheme.bit_len(),
        });
    }
    r.read(8);
    // 3 bits: at most 7.
    let filter = r.read(3) as u8;
    let partition = r.read(3) as u8;
    let name = scheme.name();
    let lay = layout(scheme);
    let part = lay
        .partitions
        .get(usize::from(partition))
        .copied()
        .ok_or(TdsError::Partition {
            scheme: name,
            partition,
        })?;
    let prefix = read_digits(
        &mut r,
        name,
        "company prefix",
        part.prefix_bits,
        part.prefix_digits,
    )?;
    let id = if lay.ref_is_string {
        let asset_ref = read_string(&mut r, name, lay.ref_field, part.ref_bits)?;
        Gs1Id::Giai(Giai::new(&prefix, &asset_ref)?)
    } else if matches!(lay.tail, Tail::None) {
        // GIAI-96: the asset reference is an integer filling the rest of the partition.
        let v = r.read(part.ref_bits);
        Gs1Id::Giai(Giai::new(&prefix, &v.to_string())?)
    } else {
        let reference = read_digits(&mut r, name, lay.ref_field, part.ref_bits, part.ref_digits)?;
        let tail = match lay.tail {
            Tail::Integer(bits) => r.read(bits).to_string(),
            Tail::String(bits, _) => read_string(&mut r, name, lay.tail_field, bits)?,
            Tail::Reserved(bits) => {
                if r.read(bits) != 0 {
                    return Err(TdsError::Reserved { scheme: name });
                }
                String::new()
            }
            Tail::None => String::new(),
        };
        match scheme.epc_scheme() {
            "sgtin" => Gs1Id::Sgtin(Sgtin::new(&prefix, &reference, &tail)?),
            "sscc" => Gs1Id::Sscc(Sscc::new(&prefix, &reference)?),
            "sgln" => Gs1Id::Sgln(Sgln::new(&prefix, &reference, &tail)?),
            _ => Gs1Id::Grai(Grai::new(&prefix, &reference, &tail)?),
        }
    };
    Ok(decoded(scheme, filter, id))
}

fn decoded(scheme: BinaryScheme, filter: u8, id: Gs1Id) -> Decoded {
    Decoded {
        scheme: scheme.name(),
        filter,
        tag_uri: tag_uri(&id, scheme, filter),
        pure_identity: id.to_urn(),
        id,
    }
}

/// The tag URI of `id` in `scheme` with `filter`, e.g.
/// `urn:epc:tag:sgtin-96:3.0614141.812345.6789`. Does not check that `scheme` can hold `id`;
/// [`encode`] does.
pub fn tag_uri(id: &Gs1Id, scheme: BinaryScheme, filter: u8) -> String {
    format!("urn:epc:tag:{}:{filter}.{}", scheme.name(), id.urn_body())
}

/// Reads an integer field and writes it with exactly `digits` digits (leading zeros are part of
/// GS1 keys). A value needing more digits cannot come from a valid encoder.
fn read_digits(
    r: &mut BitReader,
    scheme: &'static str,
    field: &'static str,
    bits: usize,
    digits: usize,
) -> Result<String, TdsError> {
    let value = r.read(bits);
    let fits = match u32::try_from(digits) {
        Ok(d) => 10u64.checked_pow(d).is_none_or(|limit| value < limit),
        Err(_) => true,
    };
    if !fits {
        return Err(TdsError::FieldOverflow {
            scheme,
            field,
            value,
            digits,
        });
    }
    if digits == 0 {
        return Ok(String::new());
    }
    Ok(format!("{value:0digits$}"))
}

/// Reads 7-bit characters until a zero character or the end of the field; what follows the
/// zero must be zero bits.
fn read_string(
    r: &mut BitReader,
    scheme: &'static str,
    field: &'static str,
    bits: usize,
) -> Result<String, TdsError> {
    let end = r.pos + bits;
    let mut out = String::new();
    while end - r.pos >= 7 {
        // 7 bits: below 128.
        let code = r.read(7) as u8;
        if code == 0 {
            break;
        }
        let c = char::from(code);
        if !gs1::is_cset82(c) {
            return Err(TdsError::BadChar {
                scheme,
                field,
                code,
            });
        }
        out.push(c);
    }
    // Whatever follows the terminator (or the last whole character) must be zero bits.
    let tail_is_zero = r.bits.iter().skip(r.pos).take(end - r.pos).all(|b| !b);
    r.pos = end;
    if !tail_is_zero {
        return Err(TdsError::StringTail { scheme, field });
    }
    Ok(out)
}

/// Encodes `id` in `scheme` with `filter`, returning upper-case hex padded to a 16-bit boundary.
///
/// The 96-bit schemes hold numeric serials only: decimal digits without leading zeros (a lone
/// `0` is fine) that fit in the field; other serials need the 198/195/170/202-bit schemes.
pub fn encode(id: &Gs1Id, scheme: BinaryScheme, filter: u8) -> Result<String, TdsError> {
    if filter > 7 {
        return Err(TdsError::Filter {
            filter: u32::from(filter),
        });
    }
    if id.scheme() != scheme.epc_scheme() {
        return Err(TdsError::SchemeMismatch {
            id_scheme: id.scheme(),
            scheme: scheme.name(),
        });
    }
    let name = scheme.name();
    let lay = layout(scheme);
    let prefix = id.company_prefix();
    let Some((partition, part)) = lay
        .partitions
        .iter()
        .enumerate()
        .find(|(_, p)| p.prefix_digits == prefix.len())
    else {
        // Unreachable for a valid Gs1Id (prefix has 6 to 12 digits); reported rather than assumed.
        return Err(TdsError::NotEncodable {
            scheme: name,
            field: "company prefix",
            value: prefix.to_owned(),
            reason: "a company prefix must have 6 to 12 digits".to_owned(),
        });
    };
    let mut w = BitWriter::default();
    w.push(u64::from(scheme.header()), 8);
    w.push(u64::from(filter), 3);
    w.push(partition as u64, 3);
    w.push(parse_u64(prefix), part.prefix_bits);
    match id {
        Gs1Id::Giai(g) if lay.ref_is_string => {
            write_string(
                &mut w,
                name,
                "asset reference",
                g.asset_ref(),
                part.ref_bits,
                part.ref_digits,
            )?;
        }
        Gs1Id::Giai(g) => {
            let v = numeric_field(name, "asset reference", g.asset_ref(), part.ref_bits)?;
            w.push(v, part.ref_bits);
        }
        _ => {
            let (reference, tail) = match id {
                Gs1Id::Sgtin(x) => (x.item_ref(), x.serial()),
                Gs1Id::Sscc(x) => (x.serial_ref(), ""),
                Gs1Id::Sgln(x) => (x.location_ref(), x.extension()),
                Gs1Id::Grai(x) => (x.asset_type(), x.serial()),
                // Excluded by the scheme check above.
                _ => ("", ""),
            };
            w.push(parse_u64(reference), part.ref_bits);
            match lay.tail {
                Tail::Integer(bits) => {
                    let v = numeric_field(name, lay.tail_field, tail, bits)?;
                    w.push(v, bits);
                }
                Tail::String(bits, max_chars) => {
                    write_string(&mut w, name, lay.tail_field, tail, bits, max_chars)?;
                }
                Tail::Reserved(bits) => w.push(0, bits),
                Tail::None => {}
            }
        }
    }
    Ok(w.into_hex())
}

/// Digits already validated by `Gs1Id` (at most 13 of them), so this cannot overflow.
fn parse_u64(digits: &str) -> u64 {
    digits.parse().unwrap_or(0)
}

/// A serial or reference stored as an integer: TDS requires the decimal form without leading
/// zeros so that decoding gives back the same characters.
fn numeric_field(
    scheme: &'static str,
    field: &'static str,
    value: &str,
    bits: usize,
) -> Result<u64, TdsError> {
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let refuse = |reason: String| TdsError::NotEncodable {
        scheme,
        field,
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse(format!(
            "this scheme holds only a decimal number (0 to {max}); use the 7-bit string scheme for other values"
        )));
    }
    if value.len() > 1 && value.starts_with('0') {
        return Err(refuse(
            "a number with leading zeros would decode without them; use the 7-bit string scheme"
                .to_owned(),
        ));
    }
    match value.parse::<u64>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(refuse(format!(
            "the value exceeds {max}, the largest this {bits}-bit field holds"
        ))),
    }
}

fn write_string(
    w: &mut BitWriter,
    scheme: &'static str,
    field: &'static str,
    value: &str,
    bits: usize,
    max_chars: usize,
) -> Result<(), TdsError> {
    let len = value.chars().count();
    if len > max_chars {
        return Err(TdsError::NotEncodable {
            scheme,
            field,
            value: value.to_owned(),
            reason: format!("it has {len} characters; this field holds at most {max_chars}"),
        });
    }
    for c in value.chars() {
        // Gs1Id guarantees set-82 characters, which are ASCII.
        w.push(u64::from(u32::from(c)), 7);
    }
    w.push(0, bits - 7 * len);
    Ok(())
}

/// Encodes a tag URI (`urn:epc:tag:<scheme>:<filter>.<identity>`) into upper-case hex.
pub fn encode_tag_uri(tag_uri: &str) -> Result<String, TdsError> {
    let (scheme, filter, id) = parse_tag_uri(tag_uri)?;
    encode(&id, scheme, filter)
}

/// Splits a tag URI into its binary scheme, filter and identity (the identity is validated, its
/// encodability is not).
pub fn parse_tag_uri(tag_uri: &str) -> Result<(BinaryScheme, u8, Gs1Id), TdsError> {
    let not_tag = || TdsError::NotTagUri {
        input: tag_uri.to_owned(),
    };
    let rest = tag_uri.strip_prefix("urn:epc:tag:").ok_or_else(not_tag)?;
    let (scheme_name, rest) = rest.split_once(':').ok_or_else(not_tag)?;
    let scheme =
        BinaryScheme::from_name(scheme_name).ok_or_else(|| TdsError::UnsupportedTagScheme {
            scheme: scheme_name.to_owned(),
        })?;
    let (filter, body) = rest.split_once('.').ok_or_else(not_tag)?;
    let filter = match filter.as_bytes() {
        [d @ b'0'..=b'7'] => d - b'0',
        _ => {
            return Err(TdsError::Filter {
                filter: filter.parse().unwrap_or(u32::MAX),
            });
        }
    };
    let id = gs1::parse_epc_uri(&format!("urn:epc:id:{}:{body}", scheme.epc_scheme()))?;
    Ok((scheme, filter, id))
}

/// Largest raw URI bit length accepted; EPC banks are far smaller (496 bits in Gen2 v2).
const MAX_RAW_BITS: usize = 496;

/// Reads an EPC raw URI `urn:epc:raw:<bit length>.x<hex>` (TDS "EPC Raw URI") and returns the EPC as
/// upper-case hex padded with zeros to a 16-bit boundary, ready for [`decode_hex`].
///
/// The hex must have exactly ceil(length / 4) digits and no bit set past the declared length.
/// The decimal form and the AFI form (`urn:epc:raw:<len>.<afi>.x<hex>`, for non-GS1 tags) are not
/// accepted.
pub fn raw_uri_to_hex(raw_uri: &str) -> Result<String, TdsError> {
    let not_raw = |reason| TdsError::NotRawUri {
        input: raw_uri.to_owned(),
        reason,
    };
    let rest = raw_uri
        .strip_prefix("urn:epc:raw:")
        .ok_or_else(|| not_raw("it does not start with `urn:epc:raw:`"))?;
    let (len, value) = rest
        .split_once('.')
        .ok_or_else(|| not_raw("there is no `.` after the bit length"))?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_raw("the bit length is not a decimal number"));
    }
    let declared: usize = len
        .parse()
        .ok()
        .filter(|&n| (8..=MAX_RAW_BITS).contains(&n))
        .ok_or_else(|| not_raw("the bit length must be 8 to 496"))?;
    let hex = value.strip_prefix('x').ok_or_else(|| {
        not_raw("only the hex form `x<hex>` is accepted, not the decimal or AFI form")
    })?;
    check_hex(hex)?;
    let want = declared.div_ceil(4);
    if hex.len() != want {
        return Err(TdsError::RawLength {
            declared,
            reason: format!("that needs {want} hex digits and {} were given", hex.len()),
        });
    }
    let r = BitReader::from_hex(hex);
    if !r.rest_is_zero(declared) {
        return Err(TdsError::RawLength {
            declared,
            reason: "bits past that length are set".to_owned(),
        });
    }
    let mut w = BitWriter::default();
    for &b in r.bits.iter().take(declared) {
        w.bits.push(b);
    }
    Ok(w.into_hex())
}

/// The raw URI of an EPC given as hex: the bit length is the scheme's for a supported header,
/// otherwise all the bits given.
pub fn hex_to_raw_uri(hex: &str) -> Result<String, TdsError> {
    check_hex(hex)?;
    let header = u8::from_str_radix(&hex[..2], 16).unwrap_or(0);
    let bits = BinaryScheme::from_header(header).map_or(hex.len() * 4, |s| s.bit_len());
    let r = BitReader::from_hex(hex);
    if r.bits.len() < bits || !r.rest_is_zero(bits) {
        return Err(TdsError::RawLength {
            declared: bits,
            reason: format!("the hex has {} digits", hex.len()),
        });
    }
    let digits: String = hex.chars().take(bits.div_ceil(4)).collect();
    Ok(format!(
        "urn:epc:raw:{bits}.x{}",
        digits.to_ascii_uppercase()
    ))
}

/// Decodes an EPC raw URI, checking that its declared length is the scheme's.
pub fn decode_raw_uri(raw_uri: &str) -> Result<Decoded, TdsError> {
    let hex = raw_uri_to_hex(raw_uri)?;
    let decoded = decode_hex(&hex)?;
    // Both parse: raw_uri_to_hex checked the shape.
    let declared: usize = raw_uri
        .strip_prefix("urn:epc:raw:")
        .and_then(|r| r.split_once('.'))
        .and_then(|(l, _)| l.parse().ok())
        .unwrap_or(0);
    let bits = BinaryScheme::from_name(decoded.scheme).map_or(0, |s| s.bit_len());
    if declared != bits {
        return Err(TdsError::RawLength {
            declared,
            reason: format!("its header says {}, which has {bits} bits", decoded.scheme),
        });
    }
    Ok(decoded)
}

/// Which form an EPC arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpcForm {
    /// `urn:epc:id:...` or `urn:epc:class:lgtin:...`.
    PureIdentity,
    /// `urn:epc:tag:...`.
    TagUri,
    /// `urn:epc:raw:...`.
    RawUri,
    /// Bare EPC bank hex.
    Hex,
}

/// An EPC in the form the ledger stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// Canonical pure-identity URI.
    pub pure_identity: String,
    /// The parsed identity.
    pub id: Gs1Id,
    /// The form of the input.
    pub form: EpcForm,
    /// Binary scheme and filter, when the input came from tag data.
    pub tag: Option<(&'static str, u8)>,
}

impl Normalized {
    /// Whether the input was tag data (tag URI, raw URI or hex) rather than a pure identity.
    pub fn from_tag(&self) -> bool {
        self.form != EpcForm::PureIdentity
    }
}

/// Accepts a pure-identity URI, an LGTIN class URI, a tag URI, a raw URI or bare hex, and
/// returns the canonical pure identity. Tag URIs are checked by encoding them, so a tag URI that
/// no tag could carry (e.g. an SGTIN-96 serial with leading zeros) is refused.
pub fn normalize_epc(s: &str) -> Result<Normalized, TdsError> {
    let from_decoded = |d: Decoded, form| Normalized {
        pure_identity: d.pure_identity,
        id: d.id,
        form,
        tag: Some((d.scheme, d.filter)),
    };
    if s.starts_with("urn:epc:tag:") {
        let hex = encode_tag_uri(s)?;
        return Ok(from_decoded(decode_hex(&hex)?, EpcForm::TagUri));
    }
    if s.starts_with("urn:epc:raw:") {
        return Ok(from_decoded(decode_raw_uri(s)?, EpcForm::RawUri));
    }
    if s.starts_with("urn:epc:") {
        let id = gs1::parse_epc_uri(s)?;
        return Ok(Normalized {
            pure_identity: id.to_urn(),
            id,
            form: EpcForm::PureIdentity,
            tag: None,
        });
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(from_decoded(decode_hex(s)?, EpcForm::Hex));
    }
    Err(TdsError::Unrecognised {
        input: s.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::keys::test_vectors::read_tsv;

    const SUPPORTED_VECTOR_SCHEMES: [&str; 14] = [
        "sgtin96", "sgtin198", "sscc96", "sgln96", "sgln195", "grai96", "grai170", "giai96",
        "giai202", "sgtin", "sscc", "sgln", "grai", "giai",
    ];

    /// Every row of `tds/vectors.tsv` for our schemes, both ways: hex → tag URI and pure
    /// identity, tag URI → hex, plus the lower-case hex and raw-URI paths.
    #[test]
    fn tds_vectors_both_ways() {
        let rows = read_tsv(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/tds/vectors.tsv"
        ));
        assert_eq!(
            rows[0],
            [
                "source",
                "scheme",
                "hex",
                "tag_uri",
                "pure_identity_uri",
                "check"
            ]
        );
        let mut per_scheme = BTreeMap::<&str, usize>::new();
        let mut skipped = BTreeMap::<String, usize>::new();
        for row in rows.iter().skip(1) {
            let (source, scheme, hex, tag, pure) = (&row[0], &row[1], &row[2], &row[3], &row[4]);
            let Some(&known) = SUPPORTED_VECTOR_SCHEMES.iter().find(|s| *s == scheme) else {
                *skipped.entry(scheme.clone()).or_default() += 1;
                continue;
            };
            let d = decode_hex(hex).unwrap_or_else(|e| panic!("{source} {hex}: {e}"));
            assert_eq!(&d.tag_uri, tag, "{source} {hex}");
            assert_eq!(&d.pure_identity, pure, "{source} {hex}");
            assert_eq!(
                encode_tag_uri(tag).as_deref(),
                Ok(hex.as_str()),
                "{source} {tag}"
            );
            assert_eq!(decode_hex(&hex.to_ascii_lowercase()).as_ref(), Ok(&d));
            let raw = hex_to_raw_uri(hex).unwrap();
            assert_eq!(decode_raw_uri(&raw).as_ref(), Ok(&d), "{raw}");
            let n = normalize_epc(tag).unwrap();
            assert_eq!(
                (n.pure_identity.as_str(), n.form),
                (pure.as_str(), EpcForm::TagUri)
            );
            assert_eq!(
                gs1::parse_epc_uri(pure).map(|id| id.to_urn()).as_deref(),
                Ok(pure.as_str())
            );
            *per_scheme.entry(known).or_default() += 1;
        }
        println!("tds/vectors.tsv rows checked per scheme: {per_scheme:?}");
        println!("tds/vectors.tsv rows skipped (schemes not supported): {skipped:?}");
        for scheme in SUPPORTED_VECTOR_SCHEMES {
            assert!(
                per_scheme.get(scheme).copied().unwrap_or(0) > 0,
                "no row for {scheme}"
            );
        }
    }

    fn filter_value(name: &str) -> u8 {
        match name {
            "SGTINFilterValue.POS_ITEM" | "GIAIFilterValue.RAIL_VEHICLE" => 1,
            "GRAIFilterValue.ALL_OTHERS" | "SGLNFilterValue.ALL_OTHERS" => 0,
            other => panic!("filter name {other} not mapped in the test"),
        }
    }

    /// Pulls `"key": "value"` out of the kwargs JSON (flat, string values only).
    fn kwarg<'a>(kwargs: &'a str, key: &str) -> Option<&'a str> {
        let start = kwargs.find(&format!("\"{key}\": \""))? + key.len() + 5;
        let rest = kwargs.get(start..)?;
        rest.get(..rest.find('"')?)
    }

    /// Every row of `tds/invalid_inputs.tsv` for our schemes is refused by the function it
    /// targets: URI rows (`TestEPCSchemeInitMeta`, `idpat`) by `parse_epc_uri` and
    /// `normalize_epc`; `TestTagEncodableMeta` rows parse but must not `encode` in the named
    /// binary scheme; the `TestGS1ElementMeta` row has no GTIN-12 form.
    #[test]
    fn tds_invalid_inputs_are_refused() {
        let rows = read_tsv(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/tds/invalid_inputs.tsv"
        ));
        assert_eq!(rows[0], ["source", "scheme", "kind", "input", "kwargs"]);
        let ours = [
            "sgtin", "sscc", "sgln", "grai", "giai", "lgtin", "pgln", "SGTIN", "SSCC", "SGLN",
            "PGLN",
        ];
        let mut per_scheme = BTreeMap::<String, usize>::new();
        let mut per_kind = BTreeMap::<String, usize>::new();
        for row in rows.iter().skip(1) {
            let (source, scheme, kind, input, kwargs) =
                (&row[0], &row[1], &row[2], &row[3], &row[4]);
            if !ours.contains(&scheme.as_str()) {
                continue;
            }
            match kind.as_str() {
                "TestEPCSchemeInitMeta" | "idpat" => {
                    let err = gs1::parse_epc_uri(input).expect_err(source);
                    assert!(normalize_epc(input).is_err(), "{source}");
                    println!("refused {input}: {err}");
                }
                "TestTagEncodableMeta" => {
                    let id = gs1::parse_epc_uri(input)
                        .unwrap_or_else(|e| panic!("{source}: {input} should parse: {e}"));
                    let coding =
                        kwarg(kwargs, "binary_coding_scheme").expect("binary_coding_scheme");
                    let name = coding
                        .rsplit('.')
                        .next()
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                        .replace('_', "-");
                    let bin = BinaryScheme::from_name(&name).expect(&name);
                    let filter = filter_value(kwarg(kwargs, "filter_value").expect("filter_value"));
                    let err = encode(&id, bin, filter).expect_err(source);
                    assert!(encode_tag_uri(&tag_uri(&id, bin, filter)).is_err());
                    assert!(normalize_epc(&tag_uri(&id, bin, filter)).is_err());
                    println!("refused {input} as {name}: {err}");
                }
                "TestGS1ElementMeta" => {
                    assert_eq!(kwarg(kwargs, "gtin_type"), Some("GTIN_TYPE.GTIN12"));
                    let id = gs1::parse_epc_uri(input).expect(source);
                    let gtin = id.gtin14().expect("an SGTIN has a GTIN");
                    assert!(gs1::is_valid_gtin(&gtin));
                    assert_eq!(gs1::shorten_gtin(&gtin, 12), None, "{source}");
                }
                other => panic!("{source}: unknown kind {other}"),
            }
            *per_scheme.entry(scheme.clone()).or_default() += 1;
            *per_kind.entry(kind.clone()).or_default() += 1;
        }
        println!("tds/invalid_inputs.tsv rows refused per scheme: {per_scheme:?}");
        println!("tds/invalid_inputs.tsv rows refused per kind: {per_kind:?}");
        for scheme in ours {
            assert!(
                per_scheme.get(scheme).copied().unwrap_or(0) > 0,
                "no row for {scheme}"
            );
        }
    }

    #[test]
    fn domain_example_and_raw_uri() {
        let d = decode_hex("3074257BF7194E4000001A85").unwrap();
        assert_eq!(d.tag_uri, "urn:epc:tag:sgtin-96:3.0614141.812345.6789");
        assert_eq!(d.pure_identity, "urn:epc:id:sgtin:0614141.812345.6789");
        assert_eq!(
            raw_uri_to_hex("urn:epc:raw:96.x3074257BF7194E4000001A85").as_deref(),
            Ok("3074257BF7194E4000001A85")
        );
        let n = normalize_epc("urn:epc:raw:96.x3074257BF7194E4000001A85").unwrap();
        assert_eq!(n.pure_identity, d.pure_identity);
        assert!(n.from_tag());
        assert_eq!(n.tag, Some(("sgtin-96", 3)));
        let n = normalize_epc("urn:epc:id:sgtin:0614141.812345.6789").unwrap();
        assert!(!n.from_tag());
        let n = normalize_epc("urn:epc:class:lgtin:0614141.812345.LOT1").unwrap();
        assert_eq!(n.pure_identity, "urn:epc:class:lgtin:0614141.812345.LOT1");
        // SGTIN-198 raw URI: 198 bits are 50 hex digits; the bank holds 52.
        let hex = "36500001DB011169E5E5A70EC000000000000000000000000000";
        let raw = hex_to_raw_uri(hex).unwrap();
        assert_eq!(raw, format!("urn:epc:raw:198.x{}", &hex[..50]));
        assert_eq!(raw_uri_to_hex(&raw).as_deref(), Ok(hex));
    }

    #[test]
    fn malformed_tags_are_refused() {
        let bad = [
            "",
            "3",
            "30",
            "zz74257BF7194E4000001A85",
            "3074257BF7194E4000001A8",      // one nibble short
            "3074257BF7194E4000001A850000", // padding past the 16-bit word
            "3574257BF7194E4000001A85",     // GID-96: not supported
            "307C257BF7194E4000001A85",     // partition 7
            "3003FFFFFFFFFC0000000000",     // 40-bit prefix > 12 digits
            "3154257BF4499602D2000001",     // SSCC-96 reserved bit set
            "36500001DB011169E5E5A70EC000000000000000000000000001", // padding bit after bit 198
            "36500001DB011169E5E5A70EC00000000000000000000000000000", // longer than the bank
            "\u{e9}\u{e9}",
        ];
        for hex in bad {
            assert!(decode_hex(hex).is_err(), "{hex} must be refused");
            assert!(normalize_epc(hex).is_err(), "{hex} must be refused");
        }
        let bad_uris = [
            "urn:epc:tag:sgtin-96:8.0614141.812345.6789",
            "urn:epc:tag:sgtin-96:.0614141.812345.6789",
            "urn:epc:tag:sgtin-64:3.0614141.812345.6789",
            "urn:epc:tag:sscc-96:3.0614141.812345.6789",
            "urn:epc:tag:sgtin-198:3.0614141.812345.123456789012345678901",
            "urn:epc:tag:giai-96:3.0614141.123456789012345678901234",
            "urn:epc:raw:96.3074257BF7194E4000001A85",
            "urn:epc:raw:96.x3074257BF7194E4000001A8",
            "urn:epc:raw:198.x3074257BF7194E4000001A85",
            "urn:epc:raw:100.x3074257BF7194E4000001A850",
            "urn:epc:raw:x.x30",
            "urn:epc:raw:999999999999999999999999.x30",
            "not an epc",
        ];
        for uri in bad_uris {
            assert!(normalize_epc(uri).is_err(), "{uri} must be refused");
        }
    }

    /// Rewrites bits of a valid encoding.
    fn patch(hex: &str, at: usize, bits: &[bool]) -> String {
        let mut w = BitWriter {
            bits: BitReader::from_hex(hex).bits,
        };
        w.bits[at..at + bits.len()].copy_from_slice(bits);
        w.into_hex()
    }

    #[test]
    fn string_fields_are_checked() {
        let id = gs1::parse_epc_uri("urn:epc:id:sgtin:0614141.812345.A").unwrap();
        let hex = encode(&id, BinaryScheme::Sgtin198, 3).unwrap();
        assert_eq!(decode_hex(&hex).unwrap().id, id);
        // The serial starts after header, filter, partition and the 44-bit GTIN fields.
        let serial_at = 8 + 3 + 3 + 44;
        let a = [true, false, false, false, false, false, true];
        // "A", NUL, "A": an encoder never writes characters after the terminator.
        assert!(matches!(
            decode_hex(&patch(&hex, serial_at + 14, &a)),
            Err(TdsError::StringTail { .. })
        ));
        // NUL first: an empty serial is not an SGTIN.
        assert!(decode_hex(&patch(&hex, serial_at, &[false; 7])).is_err());
        // 0x23 '#' is not in character set 82.
        let hash = [false, true, false, false, false, true, true];
        assert!(matches!(
            decode_hex(&patch(&hex, serial_at, &hash)),
            Err(TdsError::BadChar { code: 0x23, .. })
        ));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::keys::{Sgtin, Sscc};

        fn digits(n: usize) -> impl Strategy<Value = String> {
            proptest::collection::vec(0u8..10, n)
                .prop_map(|v| v.iter().map(|d| char::from(b'0' + d)).collect())
        }

        fn sgtin96() -> impl Strategy<Value = (Gs1Id, u8)> {
            (6usize..=12)
                .prop_flat_map(|len| (digits(len), digits(13 - len), 0u64..(1u64 << 38), 0u8..8))
                .prop_map(|(prefix, item, serial, filter)| {
                    (
                        Gs1Id::Sgtin(Sgtin::new(&prefix, &item, &serial.to_string()).unwrap()),
                        filter,
                    )
                })
        }

        fn sscc96() -> impl Strategy<Value = (Gs1Id, u8)> {
            (6usize..=12)
                .prop_flat_map(|len| (digits(len), digits(17 - len), 0u8..8))
                .prop_map(|(prefix, serial_ref, filter)| {
                    (
                        Gs1Id::Sscc(Sscc::new(&prefix, &serial_ref).unwrap()),
                        filter,
                    )
                })
        }

        proptest! {
            #[test]
            fn sgtin96_round_trips((id, filter) in sgtin96()) {
                let hex = encode(&id, BinaryScheme::Sgtin96, filter).unwrap();
                let d = decode_hex(&hex).unwrap();
                prop_assert_eq!(&d.id, &id);
                prop_assert_eq!(d.filter, filter);
                prop_assert_eq!(encode_tag_uri(&d.tag_uri).unwrap(), hex);
            }

            #[test]
            fn sscc96_round_trips((id, filter) in sscc96()) {
                let hex = encode(&id, BinaryScheme::Sscc96, filter).unwrap();
                let d = decode_hex(&hex).unwrap();
                prop_assert_eq!(&d.id, &id);
                prop_assert_eq!(encode_tag_uri(&d.tag_uri).unwrap(), hex);
            }

            /// Any 96 bits with the SGTIN-96 or SSCC-96 header either decode and re-encode to the
            /// same bits, or are refused; never anything else, never a panic.
            #[test]
            fn decodable_bits_reencode_exactly(header in prop_oneof![Just(0x30u8), Just(0x31u8)], body in proptest::collection::vec(any::<u8>(), 11)) {
                let hex: String = std::iter::once(header).chain(body).map(|b| format!("{b:02X}")).collect();
                if let Ok(d) = decode_hex(&hex) {
                    prop_assert_eq!(encode_tag_uri(&d.tag_uri).unwrap(), hex);
                }
            }

            /// Any bytes after a supported header either decode to something that encodes and
            /// decodes back to the same value, or are refused.
            #[test]
            fn any_supported_header_decodes_consistently(
                i in 0usize..9,
                body in proptest::collection::vec(any::<u8>(), 0..30),
            ) {
                let scheme = BinaryScheme::ALL[i];
                let hex: String = std::iter::once(scheme.header())
                    .chain(body)
                    .map(|b| format!("{b:02X}"))
                    .collect();
                if let Ok(d) = decode_hex(&hex) {
                    let again = encode_tag_uri(&d.tag_uri).unwrap();
                    prop_assert_eq!(decode_hex(&again).unwrap(), d);
                }
            }

            #[test]
            fn no_panic_on_arbitrary_text(s in "\\PC{0,60}") {
                let _ = normalize_epc(&s);
                let _ = decode_hex(&s);
                let _ = raw_uri_to_hex(&s);
                let _ = encode_tag_uri(&s);
            }
        }
    }
}
