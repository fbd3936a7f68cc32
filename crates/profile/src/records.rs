//! The records the rules keep and an offline verifier replays: actors with their keys and roles
//! over time, lots and who holds them, the effects each entry had, and the plausibility bounds.
//! They are the ledger's state and a bundle's replayed state alike; how they are stored (keys,
//! column families) is the server's business, not this module's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::profile::Kind;
use crate::refusal::Refusal;

/// Plausibility bounds; defaults from `domain.md`, configurable (`[plausibility]` in the config
/// file). Outside them an entry is flagged, not refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bounds {
    /// Milled rice (head + broken) per paddy input, [min, max].
    pub milling_recovery: [f64; 2],
    /// Head rice per paddy input.
    pub head_rice: [f64; 2],
    /// Dried cassava chips per fresh root input (0.40 ± 20%).
    pub cassava_chips: [f64; 2],
    /// Cassava starch per fresh root input.
    pub cassava_starch: [f64; 2],
    /// Most paddy a hectare yields in one season, tonnes.
    pub rice_max_t_per_ha: f64,
    /// Most fresh cassava roots a hectare yields, tonnes.
    pub cassava_max_t_per_ha: f64,
    /// Heaviest plausible logistic unit (a 20-foot container), tonnes.
    pub unit_max_t: f64,
    /// Plots larger than this need a polygon rather than a point (EUDR practice), hectares.
    pub point_plot_max_ha: f64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            milling_recovery: [0.50, 0.72],
            head_rice: [0.15, 0.58],
            cassava_chips: [0.32, 0.48],
            cassava_starch: [0.20, 0.25],
            rice_max_t_per_ha: 4.5,
            cassava_max_t_per_ha: 30.0,
            unit_max_t: 28.0,
            point_plot_max_ha: 4.0,
        }
    }
}

/// A refusal by the rules: a stable code (`http::problem` maps it to 409 or 422) and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub code: Refusal,
    pub message: String,
}

pub fn refuse(code: Refusal, message: impl Into<String>) -> RuleError {
    RuleError {
        code,
        message: message.into(),
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A time span `[from, until)` in milliseconds, with the entries that opened and closed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub from_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    pub opened_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<u64>,
}

impl Span {
    /// A span opened at `from_ms` by entry `opened_at`.
    pub fn open(from_ms: i64, opened_at: u64) -> Span {
        Span {
            from_ms,
            until_ms: None,
            opened_at,
            closed_at: None,
        }
    }
    pub fn covers(&self, t: i64) -> bool {
        self.from_ms <= t && self.until_ms.is_none_or(|u| t < u)
    }
    pub fn is_open(&self) -> bool {
        self.until_ms.is_none()
    }
    /// Closes the span at `t` by entry `at`; a span closed before it opened is empty, not
    /// inverted.
    pub fn close(&mut self, t: i64, at: u64) {
        self.until_ms = Some(t.max(self.from_ms));
        self.closed_at = Some(at);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleSpan {
    pub role: String,
    #[serde(flatten)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySpan {
    pub key: String,
    #[serde(flatten)]
    pub span: Span,
}

/// An actor as the registrar entries made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorRecord {
    pub id: String,
    pub name: String,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gln: Option<String>,
    pub registered_at: u64,
    pub roles: Vec<RoleSpan>,
    pub keys: Vec<KeySpan>,
}

impl ActorRecord {
    /// The record a registration makes: its roles (each once) and keys, from `t`, entry `at`.
    pub fn registered(spec: &crate::profile::ActorSpec, t: i64, at: u64) -> ActorRecord {
        let mut roles: Vec<String> = spec.roles.clone();
        roles.sort();
        roles.dedup();
        ActorRecord {
            id: spec.id.clone(),
            name: spec.name.clone(),
            country: spec.country.clone(),
            province: spec.province.clone(),
            gln: spec.gln.clone(),
            registered_at: at,
            roles: roles
                .into_iter()
                .map(|role| RoleSpan {
                    role,
                    span: Span::open(t, at),
                })
                .collect(),
            keys: spec
                .keys
                .iter()
                .map(|k| KeySpan {
                    key: k.clone(),
                    span: Span::open(t, at),
                })
                .collect(),
        }
    }
    /// The first of `wanted` the actor held at `t`.
    pub fn role_at(&self, wanted: &[&str], t: i64) -> Option<&str> {
        self.roles
            .iter()
            .find(|r| wanted.contains(&r.role.as_str()) && r.span.covers(t))
            .map(|r| r.role.as_str())
    }
    pub fn key_valid_at(&self, key: &str, t: i64) -> bool {
        self.keys.iter().any(|k| k.key == key && k.span.covers(t))
    }
}

/// A plausibility flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub code: FlagCode,
    pub message: String,
    /// The entry that raised it.
    pub index: u64,
}

/// What a plausibility flag is about: one stable code per check.
///
/// The codes are part of the stored lot records, the API's answers and the bundles' claims, so
/// the wire form is the snake_case string (`milling_recovery`), in both directions.
///
/// The rules and the verifier only ever raise the known codes. A code this build does not know
/// (written by a newer version, or altered) is read into [`FlagCode::Unknown`] and written back
/// as it was, rather than refused: a stored record stays readable, and a bundle claiming such a
/// flag still reaches the verifier, whose recomputed flags never contain it, so the bundle
/// fails with a `claims` finding at `claims.flags` naming the code — the same outcome as for
/// any other altered claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagCode {
    /// A harvest heavier than its plot can yield (`rice_max_t_per_ha`, `cassava_max_t_per_ha`).
    HarvestExceedsYield,
    /// A plot over `point_plot_max_ha` located by a single point.
    PlotNeedsPolygon,
    /// Milled rice per paddy outside `milling_recovery`.
    MillingRecovery,
    /// Head rice per paddy outside `head_rice`.
    HeadRiceRatio,
    /// Dried chips or starch per fresh cassava root outside `cassava_chips` or
    /// `cassava_starch`.
    CassavaConversion,
    /// A logistic unit holding more than `unit_max_t`.
    UnitOverweight,
    /// A code this build does not know, kept as read (see the type's documentation).
    Unknown(String),
}

impl FlagCode {
    /// Every code this build raises, in declaration order.
    pub const KNOWN: &[FlagCode] = &[
        FlagCode::HarvestExceedsYield,
        FlagCode::PlotNeedsPolygon,
        FlagCode::MillingRecovery,
        FlagCode::HeadRiceRatio,
        FlagCode::CassavaConversion,
        FlagCode::UnitOverweight,
    ];

    /// The code as it appears on the wire, e.g. `milling_recovery`.
    pub fn as_str(&self) -> &str {
        match self {
            FlagCode::HarvestExceedsYield => "harvest_exceeds_yield",
            FlagCode::PlotNeedsPolygon => "plot_needs_polygon",
            FlagCode::MillingRecovery => "milling_recovery",
            FlagCode::HeadRiceRatio => "head_rice_ratio",
            FlagCode::CassavaConversion => "cassava_conversion",
            FlagCode::UnitOverweight => "unit_overweight",
            FlagCode::Unknown(code) => code,
        }
    }

    /// The code a wire string names: a known one, or else [`FlagCode::Unknown`].
    fn read(code: String) -> FlagCode {
        FlagCode::KNOWN
            .iter()
            .find(|k| k.as_str() == code)
            .cloned()
            .unwrap_or(FlagCode::Unknown(code))
    }
}

impl std::fmt::Display for FlagCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets tests and callers compare with the wire form: `assert_eq!(f.code, "milling_recovery")`.
impl PartialEq<&str> for FlagCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for FlagCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FlagCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(FlagCode::read)
    }
}

/// Where a part of a lot is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "at")]
pub enum Place {
    /// Outside the ledger: where created goods come from.
    Outside,
    Held {
        actor: String,
    },
    Transit {
        from: String,
        to: String,
    },
    /// Used up by a transformation.
    Consumed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    pub farm: String,
    pub plot: crate::profile::Plot,
    pub harvest_start: String,
    pub harvest_end: String,
    pub growing_method: String,
    /// The harvest entry.
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocLink {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub id: String,
    pub action: String,
    pub index: u64,
}

/// The state of one lot, tagged item or logistic unit. Stored in a compact binary form
/// (`lotline::state::codec`; compact JSON, empty members left out, before it, still read); the
/// HTTP views are built from it, not serialised from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LotRecord {
    pub id: String,
    pub key: String,
    pub class: crate::profile::IdClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growing_method: Option<String>,
    /// What the balances count: milligrams for lots and items, 1 for a logistic unit.
    pub amount: i64,
    /// Milligrams packed in a logistic unit (its children, recursively).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub content_mg: i64,
    pub created_at: u64,
    pub created_by: String,
    /// Held amounts per actor (zero entries removed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held: BTreeMap<String, i64>,
    /// Shipped but not yet received: `(from, to) → amount`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transit: Vec<TransitLine>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consumed: i64,
    /// Everyone who ever held some of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<String>,
    /// Lots this one was made from (canonical keys): transformation inputs, or what a
    /// logistic unit holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    /// For harvested lots, where they grew. Derived lots keep none: their origins are found by
    /// walking `inputs` (see `query::StateReader::origins`), so they are stored once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<Origin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocLink>,
    /// Set when the creating event was declared erroneous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_by: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitLine {
    pub from: String,
    pub to: String,
    pub amount: i64,
}

impl LotRecord {
    pub fn held_by(&self, actor: &str) -> i64 {
        self.held.get(actor).copied().unwrap_or(0)
    }
    pub fn in_transit(&self, from: &str, to: &str) -> i64 {
        self.transit
            .iter()
            .find(|t| t.from == from && t.to == to)
            .map_or(0, |t| t.amount)
    }
    /// The one actor holding all of a whole item or unit, if any.
    pub fn custodian(&self) -> Option<&str> {
        if self.held.len() == 1 {
            self.held.keys().next().map(String::as_str)
        } else {
            None
        }
    }
}

/// One reversible change to holdings or packing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "effect")]
pub enum Effect {
    /// `key` came into being, and with it its `amount`, held by `holder`. (Entries written
    /// before `holder` existed record that as a separate [`Effect::Move`] from outside.)
    Create {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        holder: Option<String>,
        #[serde(default, skip_serializing_if = "is_zero")]
        amount: i64,
    },
    /// `amount` of `key` from one place to another, and with it, whole, everything packed in
    /// it (`contents`, for logistic units).
    Move {
        key: String,
        from: Place,
        to: Place,
        amount: i64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        contents: Vec<String>,
    },
    /// `children` taken out of `old` and put into `new` (packing, unpacking).
    Parent {
        children: Vec<String>,
        old: Option<String>,
        new: Option<String>,
    },
    /// Flags or document links added to a lot by this entry.
    Annotate { key: String },
}

/// What the rules derived from one entry; kept per index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryMeta {
    pub kind: Kind,
    /// The acting actor; for registrar documents, the actor they concern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The role that authorised the event, or `registrar`.
    pub role: String,
    pub event_time_ms: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<Effect>,
    /// For a correction: the entry it declared erroneous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<u64>,
    /// For a corrected entry: the correction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_by: Option<u64>,
}

/// A mass for messages: `1234.5 kg`.
pub fn kg(mg: i64) -> String {
    format!("{} kg", mg as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_codes_round_trip_as_their_snake_case_strings() {
        let mut seen = std::collections::HashSet::new();
        for code in FlagCode::KNOWN {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire, code.as_str());
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            assert_eq!(&serde_json::from_value::<FlagCode>(wire).unwrap(), code);
        }
        // What stored records and bundles hold reads back to the same bytes.
        let stored =
            r#"{"code":"head_rice_ratio","message":"head rice per paddy is 0.900","index":7}"#;
        let flag: Flag = serde_json::from_str(stored).unwrap();
        assert_eq!(flag.code, FlagCode::HeadRiceRatio);
        assert_eq!(serde_json::to_string(&flag).unwrap(), stored);
    }

    #[test]
    fn an_unknown_flag_code_is_kept_as_read() {
        let stored = r#"{"code":"made_up","message":"?","index":1}"#;
        let flag: Flag = serde_json::from_str(stored).unwrap();
        assert_eq!(flag.code, FlagCode::Unknown("made_up".into()));
        assert_eq!(flag.code, "made_up");
        assert_eq!(serde_json::to_string(&flag).unwrap(), stored);
        // Not a way to smuggle in a known code under another variant.
        let known: FlagCode = serde_json::from_str(r#""unit_overweight""#).unwrap();
        assert_eq!(known, FlagCode::UnitOverweight);
    }

    #[test]
    fn spans_are_half_open() {
        let s = Span {
            from_ms: 10,
            until_ms: Some(20),
            opened_at: 0,
            closed_at: None,
        };
        assert!(!s.covers(9));
        assert!(s.covers(10));
        assert!(s.covers(19));
        assert!(!s.covers(20));
    }
}
