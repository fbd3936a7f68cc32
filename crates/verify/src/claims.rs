//! What a bundle claims about its subject: the lot graph, origins, custody, timeline, flags,
//! certificates and organic verdict.
//!
//! These are plain data, shared by [`crate::derive`] (which computes them from entries),
//! [`crate::organic`] (which judges the organic checks) and [`crate::verify`] (which compares
//! a bundle's claims with its own). Their JSON is part of the bundle format
//! (`schemas/provenance-bundle.schema.json`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use lotline_profile::profile::IdClass;
use lotline_profile::records::Flag;
use lotline_profile::sensor::Measurement;

/// What a bundle claims about its subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Claims {
    /// The subject, the lots it was made from, and the units they travelled in; by creating
    /// entry, then key.
    pub lots: Vec<LotNode>,
    /// Farms the upstream harvests came from, by id.
    pub farms: Vec<FarmClaim>,
    /// The harvests: plot, coordinates, dates; by entry.
    pub plots: Vec<PlotClaim>,
    /// Who held the goods, in order: consecutive events by one actor form one step.
    pub custody: Vec<CustodyStep>,
    /// Every event of the history, by event time (ties by entry index).
    pub timeline: Vec<TimelineItem>,
    /// Plausibility flags of the harvests and transformations upstream, by entry.
    pub flags: Vec<Flag>,
    /// The certificates of the farms and handlers, as their certification entries made them.
    #[serde(default)]
    pub certificates: Vec<CertClaim>,
    /// Organic status derived from the history and the certificates, with every check.
    #[serde(default)]
    pub organic: Verdict,
    /// Sensor and quality data of the history (inspections, storage and fumigation records,
    /// and any other event that carried measurements), in timeline order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<QualityRecord>,
}

/// What one event of the history measured about the goods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QualityRecord {
    pub index: u64,
    pub event_time: String,
    pub kind: String,
    /// The acting actor, when the signer's key belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The lots, items and units of the history it names.
    pub lots: Vec<String>,
    /// Where (the event's bizLocation, else its readPoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    pub measurements: Vec<Measurement>,
    /// Each measurement in words, in the same order.
    pub findings: Vec<String>,
}

/// A lot, tagged item or logistic unit of the history, as the events made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LotNode {
    pub key: String,
    pub id: String,
    pub class: IdClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growing_method: Option<String>,
    /// The entry that created it.
    pub created_at: u64,
    pub created_by: String,
    /// What it was made from, or what was packed in it (canonical keys).
    pub inputs: Vec<String>,
    /// A logistic unit the subject or its inputs travelled in, rather than something the
    /// subject was made from.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub carrier: bool,
}

/// A farm the upstream harvests came from, as its registration names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FarmClaim {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
}

/// One upstream harvest: where and when it grew, and how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlotClaim {
    pub farm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub farm_name: Option<String>,
    pub plot_id: String,
    pub province: String,
    pub area_hectares: f64,
    /// GeoJSON geometry (coordinates are `[longitude, latitude]`).
    pub geo: Value,
    pub crop: String,
    pub harvest_start: String,
    pub harvest_end: String,
    pub growing_method: String,
    /// Harvested mass in kilograms.
    pub harvested_kg: f64,
    /// The harvest entry.
    pub index: u64,
}

/// One holder of the goods: consecutive events of the timeline by the same actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustodyStep {
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The roles it acted in, comma-separated.
    pub role: String,
    /// Event time of its first and last event in this step.
    pub from: String,
    pub until: String,
    pub entries: Vec<u64>,
}

/// One event of the history, with who did it and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimelineItem {
    pub index: u64,
    #[serde(rename = "eventID", default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub event_time: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_step: Option<String>,
    /// The acting actor, when the signer's key belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub signer: String,
    /// The lots, items and units of the history this event names.
    pub lots: Vec<String>,
    /// What happened, in words.
    pub what: String,
}

/// The verdict on a lot's organic status, with every check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verdict {
    /// `organic` when every check passed (and there is at least one origin), else
    /// `not_organic`.
    pub status: String,
    /// Plots first (by harvest entry), then handlers and transformations by entry.
    pub checks: Vec<Check>,
}

/// One organic check and its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Check {
    /// `growing_method`, `plot_certified`, `handler_certified` or `no_mixing`.
    pub check: String,
    pub passed: bool,
    /// What was checked: a plot (`farm plot`) or an actor.
    pub subject: String,
    /// The event checked.
    pub entry: u64,
    pub event_time: String,
    /// The certificate that covered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// The entry that issued or amended the certificate version used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_entry: Option<u64>,
    pub message: String,
}

/// A certificate as the bundle's certification entries made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertClaim {
    pub id: String,
    pub number: String,
    pub standard: String,
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_name: Option<String>,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_name: Option<String>,
    pub activities: Vec<String>,
    pub products: Vec<String>,
    pub valid_from: String,
    pub valid_until: String,
    /// Suspensions and the withdrawal, in words with their effective times.
    pub decisions: Vec<String>,
    /// The certification entries.
    pub entries: Vec<u64>,
}
