//! The lotline profile of EPCIS 2.0: which documents mean what.
//!
//! [`interpret`] turns a signed, envelope-valid document into a typed [`Document`]: its kind
//! (harvest, shipping, milling, …), its `eventTime` as a number, and an [`Action`] whose
//! identifiers are normalised (raw RFID URIs decoded, every GS1 key reduced to its canonical
//! Digital Link path) and whose quantities are whole milligrams. Everything here depends on the
//! document alone; rules that need the ledger's state (who holds what, which keys are valid)
//! live in `crate::state`. `schemas/README.md` is the human description of the same profile.
//!
//! Each refusal names the profile rule it enforces (`Violation::rule`), so a client can tell
//! "this is not something lotline records" from "this is malformed".

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::profile_schemas;
use crate::refusal::Refusal;
pub use crate::sensor::Measurement;
use gs1::tds;
use gs1::{self, Gs1Id};

/// Why a document is not in the profile. `code` is the stable problem code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub code: Refusal,
    /// The profile rule, e.g. `shipping.destination`; empty for plain schema errors.
    pub rule: &'static str,
    /// RFC 6901 pointer to the offending member.
    pub pointer: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.rule.is_empty() {
            write!(f, "{} (at {:?})", self.message, self.pointer)
        } else {
            write!(
                f,
                "profile rule {}: {} (at {:?})",
                self.rule, self.message, self.pointer
            )
        }
    }
}

/// A refusal under profile rule `rule`, for the modules of this crate that enforce rules too.
pub(crate) fn violation(
    rule: &'static str,
    pointer: impl Into<String>,
    message: impl Into<String>,
) -> Violation {
    self::rule(rule, pointer, message)
}

fn rule(rule: &'static str, pointer: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation {
        code: Refusal::ProfileViolation,
        rule,
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// The roles an actor may hold.
pub const ROLES: &[&str] = &[
    "farm",
    "cooperative",
    "collector",
    "mill",
    "processor",
    "packer",
    "warehouse",
    "exporter",
    "certifier",
    "lab",
    "importer",
];

/// What kind of document this is; decides the schema and the roles that may sign it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Harvest,
    Shipping,
    Receiving,
    Milling,
    Drying,
    Chipping,
    StarchExtraction,
    Bagging,
    Packing,
    Unpacking,
    Transaction,
    /// An `inspecting` ObjectEvent: a quality check (moisture, residues) of goods.
    Inspection,
    /// A `storing` ObjectEvent: storage conditions or a fumigation of goods in store.
    Storage,
    ActorRegistration,
    RoleGrant,
    RoleRevocation,
    KeyAddition,
    KeyRotation,
    KeyRevocation,
    CertificateIssuance,
    CertificateAmendment,
    CertificateSuspension,
    CertificateWithdrawal,
    CertificateReinstatement,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Harvest => "harvest",
            Kind::Shipping => "shipping",
            Kind::Receiving => "receiving",
            Kind::Milling => "milling",
            Kind::Drying => "drying",
            Kind::Chipping => "chipping",
            Kind::StarchExtraction => "starch_extraction",
            Kind::Bagging => "bagging",
            Kind::Packing => "packing",
            Kind::Unpacking => "unpacking",
            Kind::Transaction => "transaction",
            Kind::Inspection => "inspection",
            Kind::Storage => "storage",
            Kind::ActorRegistration => "actor_registration",
            Kind::RoleGrant => "role_grant",
            Kind::RoleRevocation => "role_revocation",
            Kind::KeyAddition => "key_addition",
            Kind::KeyRotation => "key_rotation",
            Kind::KeyRevocation => "key_revocation",
            Kind::CertificateIssuance => "certificate_issuance",
            Kind::CertificateAmendment => "certificate_amendment",
            Kind::CertificateSuspension => "certificate_suspension",
            Kind::CertificateWithdrawal => "certificate_withdrawal",
            Kind::CertificateReinstatement => "certificate_reinstatement",
        }
    }

    /// The schema (file name without `.schema.json`) documents of this kind must satisfy.
    pub fn schema(self) -> &'static str {
        match self {
            Kind::Harvest => "harvest",
            Kind::Shipping => "shipping",
            Kind::Receiving => "receiving",
            Kind::Milling
            | Kind::Drying
            | Kind::Chipping
            | Kind::StarchExtraction
            | Kind::Bagging => "transformation",
            Kind::Packing | Kind::Unpacking => "aggregation",
            Kind::Transaction => "transaction",
            Kind::Inspection | Kind::Storage => "observation",
            Kind::ActorRegistration => "actor-registration",
            Kind::RoleGrant => "role-grant",
            Kind::RoleRevocation => "role-revocation",
            Kind::KeyAddition => "key-addition",
            Kind::KeyRotation => "key-rotation",
            Kind::KeyRevocation => "key-revocation",
            Kind::CertificateIssuance => "certificate-issuance",
            Kind::CertificateAmendment => "certificate-amendment",
            Kind::CertificateSuspension => "certificate-suspension",
            Kind::CertificateWithdrawal => "certificate-withdrawal",
            Kind::CertificateReinstatement => "certificate-reinstatement",
        }
    }

    /// Roles that may sign a document of this kind; empty for registrar documents, which only a
    /// registrar key may sign. The table is documented in `schemas/README.md`.
    pub fn roles(self) -> &'static [&'static str] {
        const TRADERS: &[&str] = &[
            "farm",
            "cooperative",
            "collector",
            "mill",
            "processor",
            "packer",
            "warehouse",
            "exporter",
            "importer",
        ];
        // Those who take goods into their custody: they receive and store them.
        const HOLDERS: &[&str] = &[
            "cooperative",
            "collector",
            "mill",
            "processor",
            "packer",
            "warehouse",
            "exporter",
            "importer",
        ];
        const HANDLERS: &[&str] = &[
            "mill",
            "processor",
            "packer",
            "warehouse",
            "exporter",
            "importer",
        ];
        match self {
            Kind::Harvest => &["farm", "cooperative"],
            Kind::Shipping => TRADERS,
            Kind::Receiving | Kind::Storage => HOLDERS,
            Kind::Milling => &["mill"],
            Kind::Drying => &["cooperative", "collector", "mill", "processor"],
            Kind::Chipping | Kind::StarchExtraction => &["processor"],
            Kind::Bagging => &["mill", "processor", "packer"],
            Kind::Packing | Kind::Unpacking => HANDLERS,
            Kind::Transaction => ROLES,
            // Whoever holds the goods checks them; labs and certifiers inspect samples of goods
            // they never hold.
            Kind::Inspection => &[
                "cooperative",
                "collector",
                "mill",
                "processor",
                "packer",
                "warehouse",
                "exporter",
                "importer",
                "lab",
                "certifier",
            ],
            Kind::CertificateIssuance
            | Kind::CertificateAmendment
            | Kind::CertificateSuspension
            | Kind::CertificateWithdrawal
            | Kind::CertificateReinstatement => &["certifier"],
            _ => &[],
        }
    }

    pub fn is_registrar(self) -> bool {
        self.roles().is_empty()
    }

    /// An EPCIS event (the rest are lotline's own registrar and certification documents).
    pub fn is_epcis(self) -> bool {
        !self.is_registrar() && !self.is_certification()
    }

    /// A certifier's decision about a certificate.
    pub fn is_certification(self) -> bool {
        matches!(
            self,
            Kind::CertificateIssuance
                | Kind::CertificateAmendment
                | Kind::CertificateSuspension
                | Kind::CertificateWithdrawal
                | Kind::CertificateReinstatement
        )
    }
}

/// What a GS1 key stands for in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdClass {
    /// A lot (LGTIN class): a mass, possibly held in parts by several actors.
    Lot,
    /// A serialised trade item (SGTIN), e.g. a tagged 50 kg bag: held whole.
    Item,
    /// A logistic unit (SSCC): a pallet or container of items, held whole.
    Unit,
}

/// A normalised identifier of goods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// Canonical key: the GS1 Digital Link path, the same for every spelling of the identifier.
    pub key: String,
    /// EPC pure-identity URI (or LGTIN class URI).
    pub urn: String,
    /// As written in the signed event (a raw RFID URI stays visible here).
    pub original: String,
    pub class: IdClass,
    /// GTIN-14 for lots and items.
    pub gtin: Option<String>,
}

/// One line of goods in an event: a whole EPC, or a mass of a lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Shared with this thread's memo of recent identifiers: a bag is named again by the
    /// event that packs it, and its parse is not repeated or copied.
    pub id: Arc<Ident>,
    /// `None` for EPCs (the whole item or unit), a mass for LGTIN quantities.
    pub mass_mg: Option<i64>,
    pub pointer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plot {
    pub id: String,
    pub province: String,
    pub area_hectares: f64,
    pub geo: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Harvest {
    /// New lots or tagged items and their masses.
    pub lots: Vec<(Arc<Ident>, i64)>,
    pub crop: String,
    pub variety: Option<String>,
    pub harvest_start: String,
    pub harvest_end: String,
    pub farm: String,
    pub plot: Plot,
    pub growing_method: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    pub lines: Vec<Line>,
    /// The shipping party (`sourceList`).
    pub source: String,
    /// The receiving party (`destinationList`).
    pub destination: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub id: Arc<Ident>,
    pub mass_mg: i64,
    pub product: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    pub inputs: Vec<Line>,
    pub outputs: Vec<Output>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BizDoc {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorSpec {
    pub id: String,
    pub name: String,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gln: Option<String>,
    pub roles: Vec<String>,
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Registrar {
    Register(ActorSpec),
    GrantRole {
        actor: String,
        role: String,
    },
    RevokeRole {
        actor: String,
        role: String,
    },
    AddKey {
        actor: String,
        key: String,
    },
    RotateKey {
        actor: String,
        key: String,
        replaces: String,
    },
    RevokeKey {
        actor: String,
        key: String,
    },
}

/// A member farm of a group certificate and the plots of it the certificate covers (none
/// listed: all of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertMember {
    pub farm: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plots: Vec<String>,
}

/// A certificate's content as a certifier issued or amended it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertSpec {
    pub id: String,
    pub number: String,
    pub standard: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<CertMember>,
    pub activities: Vec<String>,
    pub products: Vec<String>,
    pub valid_from: String,
    pub valid_until: String,
    /// `validFrom` and `validUntil` as the half-open span `[from, until)` in milliseconds: from
    /// the start of the first day to the end of the last, in the document's offset.
    pub valid_from_ms: i64,
    pub valid_until_ms: i64,
}

/// A certifier's decision, with its effective time in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Certification {
    Issue(CertSpec),
    Amend {
        spec: CertSpec,
        effective_ms: i64,
        reason: Option<String>,
    },
    Suspend {
        id: String,
        effective_ms: i64,
        reason: Option<String>,
    },
    Withdraw {
        id: String,
        effective_ms: i64,
        reason: Option<String>,
    },
    Reinstate {
        id: String,
        effective_ms: i64,
        reason: Option<String>,
    },
}

impl Certification {
    /// The certificate the decision is about.
    pub fn id(&self) -> &str {
        match self {
            Certification::Issue(spec) | Certification::Amend { spec, .. } => &spec.id,
            Certification::Suspend { id, .. }
            | Certification::Withdraw { id, .. }
            | Certification::Reinstate { id, .. } => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Harvest(Harvest),
    Ship(Movement),
    Receive(Movement),
    Transform(Transform),
    Pack {
        parent: Arc<Ident>,
        children: Vec<Arc<Ident>>,
    },
    /// An empty list releases every child.
    Unpack {
        parent: Arc<Ident>,
        children: Vec<Arc<Ident>>,
    },
    /// `action` is the EPCIS action: `ADD` links the documents, `DELETE` unlinks them.
    Transaction {
        lines: Vec<Line>,
        docs: Vec<BizDoc>,
        action: String,
    },
    /// Goods looked at, not changed: an inspection or a storage record.
    Observe(Observation),
    Registrar(Registrar),
    Certification(Certification),
}

/// An inspection or storage record: which goods, where, and what was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub lines: Vec<Line>,
    /// The `bizLocation` (else the `readPoint`) id.
    pub location: Option<String>,
    pub disposition: Option<String>,
}

/// A document of the profile, ready for the state rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: Kind,
    /// `eventTime` in milliseconds since the Unix epoch.
    pub event_time_ms: i64,
    pub biz_step: Option<String>,
    /// The EPCIS `errorDeclaration`: this document declares the earlier event with the same
    /// eventID erroneous.
    pub declares_error: bool,
    /// The certificates the event relies on (EPCIS `certificationInfo`).
    pub certificates: Vec<String>,
    /// Its sensor and quality data (`sensorElementList`), any EPCIS kind.
    pub measurements: Vec<Measurement>,
    pub action: Action,
}

impl Document {
    /// Every identifier of goods the document mentions, for the per-EPC index.
    pub fn identifiers(&self) -> Vec<&Ident> {
        let mut out: Vec<&Ident> = Vec::new();
        match &self.action {
            Action::Harvest(h) => out.extend(h.lots.iter().map(|(i, _)| &**i)),
            Action::Ship(m) | Action::Receive(m) => out.extend(m.lines.iter().map(|l| &*l.id)),
            Action::Transform(t) => {
                out.extend(t.inputs.iter().map(|l| &*l.id));
                out.extend(t.outputs.iter().map(|o| &*o.id));
            }
            Action::Pack { parent, children } | Action::Unpack { parent, children } => {
                out.push(parent);
                out.extend(children.iter().map(|c| &**c));
            }
            Action::Transaction { lines, .. } => out.extend(lines.iter().map(|l| &*l.id)),
            Action::Observe(o) => out.extend(o.lines.iter().map(|l| &*l.id)),
            Action::Registrar(_) | Action::Certification(_) => {}
        }
        out
    }
}

/// Parses an RFC 3339 date-time into milliseconds since the epoch.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Parses an instant given in a query as an RFC 3339 date-time, or a date (`YYYY-MM-DD`,
/// meaning 00:00 UTC), into milliseconds since the epoch.
pub fn parse_instant_ms(s: &str) -> Option<i64> {
    if let Some(ms) = parse_time_ms(s) {
        return Some(ms);
    }
    let date =
        time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    i64::try_from(date.midnight().assume_utc().unix_timestamp_nanos() / 1_000_000).ok()
}

/// Milliseconds since the epoch as an RFC 3339 UTC date-time (outside years 0–9999, which
/// no stored time reaches, the number itself).
pub fn format_time_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Milligrams per unit for the UN/ECE Recommendation 20 mass units lotline converts.
pub fn mass_unit_mg(uom: &str) -> Option<f64> {
    Some(match uom {
        "MGM" => 1.0,
        "GRM" => 1e3,
        "KGM" => 1e6,
        "DTN" => 1e8,
        "TNE" => 1e9,
        "LBR" => 453_592.37,
        "ONZ" => 28_349.523_125,
        "STN" => 907_184_740.0,
        "LTN" => 1_016_046_908.8,
        _ => return None,
    })
}

/// Largest mass the ledger records in one line: a million tonnes.
const MAX_MG: f64 = 1e15;

fn to_mg(quantity: f64, uom: &str, pointer: &str) -> Result<i64, Violation> {
    let per = mass_unit_mg(uom).ok_or_else(|| Violation {
        code: Refusal::UnknownUnit,
        rule: "quantity.mass-unit",
        pointer: format!("{pointer}/uom"),
        message: format!(
            "unit {uom:?} is not a mass unit lotline converts; use KGM, TNE, GRM, MGM, DTN, LBR, ONZ, STN or LTN (UN/ECE Rec 20)"
        ),
    })?;
    let mg = (quantity * per).round();
    if !mg.is_finite() || !(1.0..=MAX_MG).contains(&mg) {
        return Err(rule(
            "quantity.range",
            format!("{pointer}/quantity"),
            format!(
                "quantity {quantity} {uom} is out of range (at least 1 mg, at most a million tonnes)"
            ),
        ));
    }
    Ok(mg as i64)
}

/// Normalises one EPC (pure identity, tag URI or raw RFID URI) or LGTIN class URI.
pub fn ident(s: &str, pointer: &str) -> Result<Arc<Ident>, Violation> {
    match recent_ident(s) {
        Some(id) => Ok(id),
        // Refusals are not remembered; parsing again builds the one that names `pointer`.
        None => parse_ident(s, pointer).map(Arc::new),
    }
}

/// [`ident`] of an identifier parsed recently on this thread (see [`crate::recent`]), `None`
/// when it is not one lotline tracks.
pub(crate) fn recent_ident(s: &str) -> Option<Arc<Ident>> {
    thread_local! {
        static RECENT: crate::recent::Recent<Arc<Ident>> = crate::recent::Recent::new();
    }
    RECENT.with(|r| r.get_or(s, || parse_ident(s, "").ok().map(Arc::new)))
}

fn parse_ident(s: &str, pointer: &str) -> Result<Ident, Violation> {
    let bad = |why: String| {
        rule(
            "identifier.gs1",
            pointer,
            format!("{s:?} is not an identifier lotline tracks: {why}"),
        )
    };
    if s.starts_with("http://") || s.starts_with("https://") {
        return dl_ident(s, pointer);
    }
    let (id, urn) = if s.starts_with("urn:epc:class:") {
        let id = gs1::parse_epc_uri(s).map_err(|e| bad(e.to_string()))?;
        let urn = id.to_urn();
        (id, urn)
    } else {
        let n = tds::normalize_epc(s).map_err(|e| bad(e.to_string()))?;
        (n.id, n.pure_identity)
    };
    let class = match &id {
        Gs1Id::Lgtin(_) => IdClass::Lot,
        Gs1Id::Sgtin(_) => IdClass::Item,
        Gs1Id::Sscc(_) => IdClass::Unit,
        _ => {
            return Err(bad(
                "goods are named by LGTIN lots, SGTIN items or SSCC logistic units".into(),
            ));
        }
    };
    // The element strings carry the GTIN: computed once, for the key and the GTIN.
    let pairs = id.ai_pairs();
    let gtin = match pairs.first() {
        Some(("01", gtin)) => Some(gtin.clone()),
        _ => None,
    };
    Ok(Ident {
        key: gs1::dl_path_of(&pairs),
        gtin,
        urn,
        original: s.to_owned(),
        class,
    })
}

/// An identifier written as a GS1 Digital Link URI (on any host). Its key is the same as the
/// EPC URN's, so both forms name one lot; without the company-prefix length (which a Digital
/// Link does not carry) there is no EPC URN, so the canonical `https://id.gs1.org` URI stands in
/// for it in messages and the lot graph.
fn dl_ident(s: &str, pointer: &str) -> Result<Ident, Violation> {
    use gs1::digital_link::{PrimaryKey, Qualifier};
    let bad = |why: String| {
        rule(
            "identifier.gs1",
            pointer,
            format!("{s:?} is not an identifier lotline tracks: {why}"),
        )
    };
    let dl = gs1::digital_link::parse_digital_link(s).map_err(|e| bad(e.to_string()))?;
    let class = match dl.primary() {
        PrimaryKey::Sscc => IdClass::Unit,
        PrimaryKey::Gtin if dl.qualifier(Qualifier::Serial).is_some() => IdClass::Item,
        PrimaryKey::Gtin if dl.qualifier(Qualifier::Lot).is_some() => IdClass::Lot,
        _ => {
            return Err(bad(
                "goods are named by a GTIN with a lot (10) or serial (21), or an SSCC (00)".into(),
            ));
        }
    };
    let gtin = (dl.primary() == PrimaryKey::Gtin).then(|| dl.primary_value().to_owned());
    let key = dl.dl_path();
    Ok(Ident {
        urn: format!("https://id.gs1.org{key}"),
        key,
        gtin,
        original: s.to_owned(),
        class,
    })
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Classifies a document by `type`, `action` and `bizStep` (in any CBV form).
pub fn classify(doc: &Value) -> Result<Kind, Violation> {
    classify_normal(&crate::vocab::normalise(doc))
}

fn classify_normal(doc: &Value) -> Result<Kind, Violation> {
    let ty = str_at(doc, "type").unwrap_or("");
    let action = str_at(doc, "action");
    let step = str_at(doc, "bizStep");
    let kind = match (ty, action, step) {
        ("ObjectEvent", Some("ADD"), Some("commissioning")) => Kind::Harvest,
        ("ObjectEvent", Some("OBSERVE"), Some("shipping")) => Kind::Shipping,
        ("ObjectEvent", Some("OBSERVE"), Some("receiving")) => Kind::Receiving,
        ("ObjectEvent", Some("OBSERVE"), Some("inspecting")) => Kind::Inspection,
        ("ObjectEvent", Some("OBSERVE"), Some("storing")) => Kind::Storage,
        ("ObjectEvent", ..) => {
            return Err(rule(
                "kind.object-event",
                "/bizStep",
                format!(
                    "an ObjectEvent with action {action:?} and bizStep {step:?} is not in the lotline profile; it records ADD/commissioning (harvest), OBSERVE/shipping, OBSERVE/receiving, OBSERVE/inspecting and OBSERVE/storing"
                ),
            ));
        }
        ("TransformationEvent", _, Some("lotline:milling")) => Kind::Milling,
        ("TransformationEvent", _, Some("lotline:drying")) => Kind::Drying,
        ("TransformationEvent", _, Some("lotline:chipping")) => Kind::Chipping,
        ("TransformationEvent", _, Some("lotline:starch_extraction")) => Kind::StarchExtraction,
        ("TransformationEvent", _, Some("lotline:bagging")) => Kind::Bagging,
        ("TransformationEvent", ..) => {
            return Err(rule(
                "kind.transformation",
                "/bizStep",
                format!(
                    "a TransformationEvent needs bizStep lotline:milling, lotline:drying, lotline:chipping, lotline:starch_extraction or lotline:bagging, not {step:?}"
                ),
            ));
        }
        ("AggregationEvent", Some("ADD"), Some("packing")) => Kind::Packing,
        ("AggregationEvent", Some("DELETE"), Some("unpacking")) => Kind::Unpacking,
        ("AggregationEvent", ..) => {
            return Err(rule(
                "kind.aggregation",
                "/bizStep",
                format!(
                    "an AggregationEvent is ADD/packing or DELETE/unpacking in the lotline profile, not {action:?}/{step:?}"
                ),
            ));
        }
        ("TransactionEvent", Some("ADD" | "DELETE"), _) => Kind::Transaction,
        ("TransactionEvent", ..) => {
            return Err(rule(
                "kind.transaction",
                "/action",
                "a TransactionEvent links or unlinks business documents: action ADD or DELETE",
            ));
        }
        ("lotline:ActorRegistration", ..) => Kind::ActorRegistration,
        ("lotline:RoleGrant", ..) => Kind::RoleGrant,
        ("lotline:RoleRevocation", ..) => Kind::RoleRevocation,
        ("lotline:KeyAddition", ..) => Kind::KeyAddition,
        ("lotline:KeyRotation", ..) => Kind::KeyRotation,
        ("lotline:KeyRevocation", ..) => Kind::KeyRevocation,
        ("lotline:CertificateIssuance", ..) => Kind::CertificateIssuance,
        ("lotline:CertificateAmendment", ..) => Kind::CertificateAmendment,
        ("lotline:CertificateSuspension", ..) => Kind::CertificateSuspension,
        ("lotline:CertificateWithdrawal", ..) => Kind::CertificateWithdrawal,
        ("lotline:CertificateReinstatement", ..) => Kind::CertificateReinstatement,
        (other, ..) => {
            return Err(rule(
                "kind.type",
                "/type",
                format!(
                    "{other:?} events are not in the lotline profile (ObjectEvent, TransformationEvent, AggregationEvent, TransactionEvent and lotline registrar documents are)"
                ),
            ));
        }
    };
    Ok(kind)
}

/// Checks `doc` against its kind's schema and builds the typed document. CBV terms may be
/// written as bare words, URNs or Web URIs ([`crate::vocab`]); the profile reads bare words.
pub fn interpret(doc: &Value) -> Result<Document, Violation> {
    interpret_normal(&crate::vocab::normalise(doc))
}

/// [`interpret`] of a document [`crate::vocab::normalise`] has already normalised.
pub(crate) fn interpret_normal(doc: &Value) -> Result<Document, Violation> {
    let kind = classify_normal(doc)?;
    // `is_valid` stops at the first failure and builds no errors; only a document that fails
    // pays for finding out where.
    if let Some(v) = profile_schemas::validator(kind.schema())
        && !v.is_valid(doc)
        && let Some(err) = v.iter_errors(doc).next()
    {
        return Err(Violation {
            code: Refusal::SchemaViolation,
            rule: "",
            pointer: err.instance_path().as_str().to_owned(),
            message: format!("{} (schema {})", err, kind.schema()),
        });
    }
    let event_time = str_at(doc, "eventTime").unwrap_or("");
    let event_time_ms = parse_time_ms(event_time).ok_or_else(|| {
        rule(
            "envelope.event-time",
            "/eventTime",
            format!("{event_time:?} is not an RFC 3339 date-time"),
        )
    })?;
    let declares_error = doc.get("errorDeclaration").is_some();
    if declares_error && kind.is_registrar() {
        return Err(rule(
            "correction.epcis-only",
            "/errorDeclaration",
            "registrar documents are not corrected by error declarations; revoke the role or key instead",
        ));
    }
    if declares_error && kind.is_certification() {
        return Err(rule(
            "correction.epcis-only",
            "/errorDeclaration",
            "certification documents are not corrected by error declarations; amend, suspend or withdraw the certificate instead",
        ));
    }
    let certificates = match doc.get("certificationInfo") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let action = match kind {
        Kind::Harvest => Action::Harvest(harvest(doc)?),
        Kind::Shipping => Action::Ship(movement(doc, true)?),
        Kind::Receiving => Action::Receive(movement(doc, false)?),
        Kind::Milling | Kind::Drying | Kind::Chipping | Kind::StarchExtraction | Kind::Bagging => {
            Action::Transform(transform(doc, kind)?)
        }
        Kind::Packing | Kind::Unpacking => aggregation(doc, kind)?,
        Kind::Transaction => transaction(doc)?,
        Kind::Inspection | Kind::Storage => Action::Observe(observation(doc, kind)?),
        _ if kind.is_certification() => Action::Certification(certification(doc, kind)?),
        _ => Action::Registrar(registrar(doc, kind)?),
    };
    Ok(Document {
        kind,
        event_time_ms,
        biz_step: str_at(doc, "bizStep").map(str::to_owned),
        declares_error,
        certificates,
        measurements: crate::sensor::measurements(doc)?,
        action,
    })
}

/// `epcList` members as whole-EPC lines.
fn epc_lines(doc: &Value, key: &str) -> Result<Vec<Line>, Violation> {
    arr(doc, key)
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let pointer = format!("/{key}/{i}");
            let s = v.as_str().unwrap_or("");
            let id = ident(s, &pointer)?;
            if id.class == IdClass::Lot {
                return Err(rule(
                    "identifier.epc-list",
                    pointer,
                    format!("{s:?} is a lot class; lots go in a quantity list with their mass"),
                ));
            }
            Ok(Line {
                id,
                mass_mg: None,
                pointer,
            })
        })
        .collect()
}

/// Quantity-list members as lot lines with their mass.
fn quantity_lines(doc: &Value, key: &str) -> Result<Vec<Line>, Violation> {
    arr(doc, key)
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let pointer = format!("/{key}/{i}");
            let class = str_at(q, "epcClass").unwrap_or("");
            let id = ident(class, &format!("{pointer}/epcClass"))?;
            if id.class != IdClass::Lot {
                return Err(rule(
                    "identifier.quantity-list",
                    format!("{pointer}/epcClass"),
                    format!("{class:?} is not an LGTIN lot class (urn:epc:class:lgtin:…)"),
                ));
            }
            let uom = str_at(q, "uom").ok_or_else(|| Violation {
                code: Refusal::UnknownUnit,
                rule: "quantity.mass-unit",
                pointer: format!("{pointer}/uom"),
                message: "a quantity needs a mass unit (uom), e.g. KGM".into(),
            })?;
            let quantity = q.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
            let mass = to_mg(quantity, uom, &pointer)?;
            Ok(Line {
                id,
                mass_mg: Some(mass),
                pointer,
            })
        })
        .collect()
}

fn no_duplicates(lines: &[Line]) -> Result<(), Violation> {
    // A set, not a scan of the lines before: a container lists hundreds of bags.
    let mut seen = std::collections::HashSet::with_capacity(lines.len());
    for l in lines {
        if !seen.insert(l.id.key.as_str()) {
            return Err(rule(
                "identifier.unique",
                &l.pointer,
                format!("{} appears twice in this event", l.id.urn),
            ));
        }
    }
    Ok(())
}

fn item_quantity(ilmd: &Value, pointer: &str) -> Result<Option<i64>, Violation> {
    let Some(q) = ilmd.get("lotline:itemQuantity") else {
        return Ok(None);
    };
    let p = format!("{pointer}/lotline:itemQuantity");
    let uom = str_at(q, "uom").unwrap_or("");
    let quantity = q.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
    to_mg(quantity, uom, &p).map(Some)
}

fn harvest(doc: &Value) -> Result<Harvest, Violation> {
    let ilmd = doc.get("ilmd").cloned().unwrap_or(Value::Null);
    let mut lots = Vec::new();
    if doc.get("epcList").is_some() {
        let per_item = item_quantity(&ilmd, "/ilmd")?.ok_or_else(|| {
            rule(
                "harvest.item-quantity",
                "/ilmd",
                "tagged items at harvest need ilmd lotline:itemQuantity, the mass of each item",
            )
        })?;
        let lines = epc_lines(doc, "epcList")?;
        no_duplicates(&lines)?;
        for l in lines {
            if l.id.class != IdClass::Item {
                return Err(rule(
                    "harvest.goods",
                    &l.pointer,
                    "a harvest creates lots or tagged items (SGTIN), not logistic units",
                ));
            }
            lots.push((l.id, per_item));
        }
    } else {
        let lines = quantity_lines(doc, "quantityList")?;
        no_duplicates(&lines)?;
        lots.extend(lines.into_iter().map(|l| (l.id, l.mass_mg.unwrap_or(0))));
    }
    if lots.is_empty() {
        return Err(rule(
            "harvest.goods",
            "/quantityList",
            "a harvest creates at least one lot",
        ));
    }
    let text = |k: &str| str_at(&ilmd, k).map(str::to_owned);
    let start = text("lotline:harvestStart").unwrap_or_default();
    let end = text("lotline:harvestEnd").unwrap_or_default();
    if start > end {
        return Err(rule(
            "harvest.dates",
            "/ilmd/lotline:harvestEnd",
            format!("the harvest ends ({end}) before it starts ({start})"),
        ));
    }
    let plot: Plot = serde_json::from_value(ilmd.get("lotline:plot").cloned().unwrap_or_default())
        .map_err(|e| rule("harvest.plot", "/ilmd/lotline:plot", e.to_string()))?;
    Ok(Harvest {
        lots,
        crop: text("lotline:crop").unwrap_or_default(),
        variety: text("lotline:variety"),
        harvest_start: start,
        harvest_end: end,
        farm: text("lotline:farm").unwrap_or_default(),
        plot,
        growing_method: text("lotline:growingMethod").unwrap_or_default(),
    })
}

/// The one party entry of a source or destination list.
fn party(doc: &Value, list: &str, member: &str, r: &'static str) -> Result<String, Violation> {
    let parties: Vec<&str> = arr(doc, list)
        .iter()
        .filter(|p| matches!(str_at(p, "type"), Some("owning_party" | "possessing_party")))
        .filter_map(|p| str_at(p, member))
        .collect();
    match parties.as_slice() {
        [] => Err(rule(
            r,
            format!("/{list}"),
            format!("{list} must name the party (type owning_party or possessing_party)"),
        )),
        [first, rest @ ..] => {
            if rest.iter().any(|p| p != first) {
                return Err(rule(
                    r,
                    format!("/{list}"),
                    format!(
                        "{list} names more than one party; lotline records one {member} per event"
                    ),
                ));
            }
            Ok((*first).to_owned())
        }
    }
}

/// The goods an event names in an EPC list and a quantity list together: each at most once,
/// and at least one (else `empty`: rule, pointer, message).
fn goods_lines(
    doc: &Value,
    epcs: &str,
    quantities: &str,
    empty: (&'static str, &str, &str),
) -> Result<Vec<Line>, Violation> {
    let mut lines = epc_lines(doc, epcs)?;
    lines.extend(quantity_lines(doc, quantities)?);
    no_duplicates(&lines)?;
    if lines.is_empty() {
        let (code, pointer, message) = empty;
        return Err(rule(code, pointer, message));
    }
    Ok(lines)
}

fn movement(doc: &Value, shipping: bool) -> Result<Movement, Violation> {
    let lines = goods_lines(
        doc,
        "epcList",
        "quantityList",
        (
            "movement.goods",
            "/epcList",
            "name the goods in epcList or quantityList",
        ),
    )?;
    let (src_rule, dst_rule) = if shipping {
        ("shipping.source", "shipping.destination")
    } else {
        ("receiving.source", "receiving.destination")
    };
    Ok(Movement {
        lines,
        source: party(doc, "sourceList", "source", src_rule)?,
        destination: party(doc, "destinationList", "destination", dst_rule)?,
    })
}

fn transform(doc: &Value, kind: Kind) -> Result<Transform, Violation> {
    let inputs = goods_lines(
        doc,
        "inputEPCList",
        "inputQuantityList",
        (
            "transformation.inputs",
            "/inputQuantityList",
            "a transformation consumes at least one input",
        ),
    )?;
    let ilmd = doc.get("ilmd").cloned().unwrap_or(Value::Null);
    let products: Map<String, Value> = arr(&ilmd, "lotline:products")
        .iter()
        .filter_map(|p| {
            let class = str_at(p, "epcClass")?;
            let product = p.get("product")?.clone();
            // Normalise the key so any spelling of the class matches.
            let key = ident(class, "").ok()?.key.clone();
            Some((key, product))
        })
        .collect();
    let per_item = item_quantity(&ilmd, "/ilmd")?;
    let mut outputs: Vec<Output> = Vec::new();
    let epcs = epc_lines(doc, "outputEPCList")?;
    if !epcs.is_empty() && per_item.is_none() {
        return Err(rule(
            "transformation.item-quantity",
            "/ilmd",
            "new tagged items (outputEPCList) need ilmd lotline:itemQuantity, the mass of each item",
        ));
    }
    let mut all = epcs.clone();
    for l in epcs {
        if l.id.class != IdClass::Item {
            return Err(rule(
                "transformation.outputs",
                &l.pointer,
                "outputs are lots (LGTIN) or tagged items (SGTIN); logistic units are made by packing",
            ));
        }
        // Tagged items take the product of what they are made from.
        outputs.push(Output {
            id: l.id,
            mass_mg: per_item.unwrap_or(0),
            product: None,
        });
    }
    let lots = quantity_lines(doc, "outputQuantityList")?;
    all.extend(lots.iter().cloned());
    no_duplicates(&all)?;
    for l in lots {
        let product = products
            .get(&l.id.key)
            .and_then(Value::as_str)
            .map(str::to_owned);
        outputs.push(Output {
            mass_mg: l.mass_mg.unwrap_or(0),
            id: l.id,
            product,
        });
    }
    if outputs.is_empty() {
        return Err(rule(
            "transformation.outputs",
            "/outputQuantityList",
            "a transformation produces at least one output",
        ));
    }
    for o in &mut outputs {
        if o.product.is_none() {
            o.product = match kind {
                Kind::Chipping => Some("cassava-chips".into()),
                Kind::StarchExtraction => Some("cassava-starch".into()),
                Kind::Milling => {
                    return Err(rule(
                        "milling.products",
                        "/ilmd/lotline:products",
                        format!(
                            "milling must name the product of each output in ilmd lotline:products (head-rice, broken-rice, bran, husk, …); {} has none",
                            o.id.urn
                        ),
                    ));
                }
                // Drying and bagging keep the inputs' product; the state rules fill it in.
                _ => None,
            };
        }
    }
    for i in &inputs {
        if outputs.iter().any(|o| o.id.key == i.id.key) {
            return Err(rule(
                "transformation.distinct",
                &i.pointer,
                format!("{} is both an input and an output", i.id.urn),
            ));
        }
    }
    Ok(Transform { inputs, outputs })
}

fn aggregation(doc: &Value, kind: Kind) -> Result<Action, Violation> {
    let parent_s = str_at(doc, "parentID").unwrap_or("");
    let parent = ident(parent_s, "/parentID")?;
    if parent.class != IdClass::Unit {
        return Err(rule(
            "packing.parent",
            "/parentID",
            format!("{parent_s:?}: the parent of a packing is a logistic unit (SSCC)"),
        ));
    }
    let lines = epc_lines(doc, "childEPCs")?;
    no_duplicates(&lines)?;
    if lines.iter().any(|l| l.id.key == parent.key) {
        return Err(rule(
            "packing.cycle",
            "/childEPCs",
            "a logistic unit cannot contain itself",
        ));
    }
    let children: Vec<Arc<Ident>> = lines.into_iter().map(|l| l.id).collect();
    Ok(match kind {
        Kind::Packing => {
            if children.is_empty() {
                return Err(rule(
                    "packing.children",
                    "/childEPCs",
                    "packing names at least one child",
                ));
            }
            Action::Pack { parent, children }
        }
        _ => Action::Unpack { parent, children },
    })
}

fn transaction(doc: &Value) -> Result<Action, Violation> {
    let lines = goods_lines(
        doc,
        "epcList",
        "quantityList",
        (
            "transaction.goods",
            "/epcList",
            "a transaction names the goods it concerns in epcList or quantityList",
        ),
    )?;
    let docs = arr(doc, "bizTransactionList")
        .iter()
        .map(|t| BizDoc {
            kind: str_at(t, "type").map(str::to_owned),
            id: str_at(t, "bizTransaction").unwrap_or("").to_owned(),
        })
        .collect();
    Ok(Action::Transaction {
        lines,
        docs,
        action: str_at(doc, "action").unwrap_or("ADD").to_owned(),
    })
}

fn observation(doc: &Value, kind: Kind) -> Result<Observation, Violation> {
    let lines = goods_lines(
        doc,
        "epcList",
        "quantityList",
        (
            "observation.goods",
            "/epcList",
            "name the goods inspected or stored in epcList or quantityList",
        ),
    )?;
    if arr(doc, "sensorElementList")
        .iter()
        .all(|e| arr(e, "sensorReport").is_empty())
    {
        let what = if kind == Kind::Inspection {
            "an inspection records what it found"
        } else {
            "a storage record carries the conditions or the fumigation it records"
        };
        return Err(rule(
            "observation.sensor",
            "/sensorElementList",
            format!("{what}: a sensorElementList with at least one sensorReport"),
        ));
    }
    let location = ["bizLocation", "readPoint"]
        .iter()
        .find_map(|k| doc.get(*k).and_then(|l| str_at(l, "id")))
        .map(str::to_owned);
    Ok(Observation {
        lines,
        location,
        disposition: str_at(doc, "disposition").map(str::to_owned),
    })
}

fn registrar(doc: &Value, kind: Kind) -> Result<Registrar, Violation> {
    let s = |k: &str| str_at(doc, k).unwrap_or("").to_owned();
    Ok(match kind {
        Kind::ActorRegistration => {
            let spec: ActorSpec =
                serde_json::from_value(doc.get("actor").cloned().unwrap_or_default())
                    .map_err(|e| rule("registrar.actor", "/actor", e.to_string()))?;
            if let Some(gln) = &spec.gln
                && !gs1::is_valid_gln(gln)
            {
                return Err(rule(
                    "registrar.gln",
                    "/actor/gln",
                    format!("{gln:?} is not a GLN (13 digits with a valid check digit)"),
                ));
            }
            for (i, k) in spec.keys.iter().enumerate() {
                check_did(k, &format!("/actor/keys/{i}"))?;
            }
            Registrar::Register(spec)
        }
        Kind::RoleGrant => Registrar::GrantRole {
            actor: s("actor"),
            role: s("role"),
        },
        Kind::RoleRevocation => Registrar::RevokeRole {
            actor: s("actor"),
            role: s("role"),
        },
        Kind::KeyAddition => {
            check_did(&s("key"), "/key")?;
            Registrar::AddKey {
                actor: s("actor"),
                key: s("key"),
            }
        }
        Kind::KeyRotation => {
            check_did(&s("key"), "/key")?;
            Registrar::RotateKey {
                actor: s("actor"),
                key: s("key"),
                replaces: s("replaces"),
            }
        }
        _ => Registrar::RevokeKey {
            actor: s("actor"),
            key: s("key"),
        },
    })
}

/// Milliseconds of the start of `date` (YYYY-MM-DD) at `offset` (`+07:00`).
fn day_start_ms(date: &str, offset: &str) -> Option<i64> {
    parse_time_ms(&format!("{date}T00:00:00{offset}"))
}

/// An `effective` member: a date (its start at the document's offset) or a date-time; the
/// eventTime when absent.
fn effective_ms(doc: &Value, offset: &str) -> Result<i64, Violation> {
    let s = str_at(doc, "effective")
        .or_else(|| str_at(doc, "eventTime"))
        .unwrap_or("");
    let ms = if s.len() == 10 {
        day_start_ms(s, offset)
    } else {
        parse_time_ms(s)
    };
    ms.ok_or_else(|| {
        rule(
            "certificate.effective",
            "/effective",
            format!("{s:?} is neither a date nor an RFC 3339 date-time"),
        )
    })
}

fn cert_spec(doc: &Value, offset: &str) -> Result<CertSpec, Violation> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Raw {
        id: String,
        number: String,
        standard: String,
        subject: String,
        #[serde(default)]
        members: Vec<CertMember>,
        activities: Vec<String>,
        products: Vec<String>,
        valid_from: String,
        valid_until: String,
    }
    let raw: Raw = serde_json::from_value(doc.get("certificate").cloned().unwrap_or_default())
        .map_err(|e| rule("certificate.content", "/certificate", e.to_string()))?;
    let day = |d: &str, member: &str| {
        day_start_ms(d, offset).ok_or_else(|| {
            rule(
                "certificate.validity",
                format!("/certificate/{member}"),
                format!("{d:?} is not a calendar date"),
            )
        })
    };
    let from = day(&raw.valid_from, "validFrom")?;
    let until = day(&raw.valid_until, "validUntil")? + 86_400_000;
    if until <= from {
        return Err(rule(
            "certificate.validity",
            "/certificate/validUntil",
            format!(
                "validUntil {} is before validFrom {}",
                raw.valid_until, raw.valid_from
            ),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, m) in raw.members.iter().enumerate() {
        if !seen.insert(m.farm.as_str()) {
            return Err(rule(
                "certificate.members",
                format!("/certificate/members/{i}/farm"),
                format!(
                    "{} is listed twice; list each member farm once with all its plots",
                    m.farm
                ),
            ));
        }
    }
    Ok(CertSpec {
        id: raw.id,
        number: raw.number,
        standard: raw.standard,
        subject: raw.subject,
        members: raw.members,
        activities: raw.activities,
        products: raw.products,
        valid_from: raw.valid_from,
        valid_until: raw.valid_until,
        valid_from_ms: from,
        valid_until_ms: until,
    })
}

fn certification(doc: &Value, kind: Kind) -> Result<Certification, Violation> {
    let offset = str_at(doc, "eventTimeZoneOffset").unwrap_or("Z");
    let reason = str_at(doc, "reason").map(str::to_owned);
    let id = || str_at(doc, "certificate").unwrap_or("").to_owned();
    Ok(match kind {
        Kind::CertificateIssuance => Certification::Issue(cert_spec(doc, offset)?),
        Kind::CertificateAmendment => Certification::Amend {
            spec: cert_spec(doc, offset)?,
            effective_ms: effective_ms(doc, offset)?,
            reason,
        },
        Kind::CertificateSuspension => Certification::Suspend {
            id: id(),
            effective_ms: effective_ms(doc, offset)?,
            reason,
        },
        Kind::CertificateWithdrawal => Certification::Withdraw {
            id: id(),
            effective_ms: effective_ms(doc, offset)?,
            reason,
        },
        _ => Certification::Reinstate {
            id: id(),
            effective_ms: effective_ms(doc, offset)?,
            reason,
        },
    })
}

fn check_did(did: &str, pointer: &str) -> Result<(), Violation> {
    data_integrity::didkey::parse_did_key(did)
        .map(|_| ())
        .map_err(|e| rule("registrar.key", pointer, format!("{did:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema's `uniqueItems` sees spellings; the profile sees goods. The same bag as an
    /// EPC URI and as a Digital Link is one bag named twice.
    #[test]
    fn the_same_item_twice_in_one_packing_is_refused_whatever_its_spelling() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/profile/packing.json"
        );
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(interpret(&doc).is_ok());
        let first = doc["childEPCs"][0].as_str().unwrap().to_owned();
        let link = format!("https://id.gs1.org{}", ident(&first, "").unwrap().key);
        let children = doc["childEPCs"].as_array_mut().unwrap();
        children.push(Value::String(link));
        let last = children.len() - 1;
        let refused = interpret(&doc).unwrap_err();
        assert_eq!(refused.rule, "identifier.unique", "{refused}");
        assert_eq!(refused.pointer, format!("/childEPCs/{last}"));
    }

    /// `ident` answers from the per-thread memo after the first parse: the answer must be the
    /// parse's, and a refusal must still name where the identifier was.
    #[test]
    fn a_remembered_identifier_is_what_parsing_gives_and_refusals_keep_their_pointer() {
        let sgtin = "urn:epc:id:sgtin:8841234.012345.1001";
        let first = ident(sgtin, "/epcList/0").unwrap();
        let again = ident(sgtin, "/epcList/7").unwrap();
        assert_eq!(first, again);
        // The same parse, shared rather than copied.
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(*first, parse_ident(sgtin, "").unwrap());
        assert_eq!(first.class, IdClass::Item);
        assert_eq!(first.original, sgtin);

        for pointer in ["/epcList/3", "/childEPCs/9"] {
            let refused = ident("urn:epc:id:sgtin:not-a-key", pointer).unwrap_err();
            assert_eq!(refused.pointer, pointer);
            assert_eq!(refused.rule, "identifier.gs1");
        }
    }
}
