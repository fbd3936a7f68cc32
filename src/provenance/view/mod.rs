//! The buyer page's view model: what the page shows of a lot's provenance, as typed values —
//! the verdict, the product, its organic status, the origin farms and plots, the certificates,
//! the plausibility flags, the timeline, the chain of custody, the downloads and the checkpoint.
//!
//! The server builds it ([`BuyerView::new`]) from the same verified bundle and report the
//! provenance document (`GET /v1/lots/{id}/provenance`) is built from, so the page and the
//! document say the same thing. [`BuyerView::from_document`] reads a provenance document as
//! served instead (a saved one, or a hand-made one in a test), leniently: a member that is
//! missing, null or of the wrong type becomes "unknown" (`None`), an empty list or, for a
//! section, its absence — it never fails.
//!
//! Every string here is signed but untrusted event data; the view neither escapes nor checks
//! links — that is the renderer's job (`http::pages`), which escapes everything and links only
//! same-site paths and http(s) URLs. Strings are never blank: a blank one is `None`.

mod build;
mod document;
mod geo;

pub use geo::{LatLon, Location};

use lotline_profile::profile::IdClass;
use serde::{Deserialize, Serialize};

use document as lenient;

/// Everything the buyer page shows, section by section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BuyerView {
    #[serde(deserialize_with = "lenient::object")]
    pub subject: Subject,
    /// `None` when no verification result is available at all.
    #[serde(deserialize_with = "lenient::present")]
    pub verdict: Option<Verification>,
    /// `None` when there is no checkpoint to show.
    #[serde(deserialize_with = "lenient::only_object")]
    pub checkpoint: Option<Checkpoint>,
    #[serde(deserialize_with = "lenient::object")]
    pub origin: Origin,
    #[serde(deserialize_with = "lenient::list")]
    pub custody: Vec<Custody>,
    #[serde(deserialize_with = "lenient::list")]
    pub timeline: Vec<Event>,
    #[serde(deserialize_with = "lenient::list")]
    pub flags: Vec<Flag>,
    /// Inspections, storage and fumigation records: what was measured about the goods.
    #[serde(deserialize_with = "lenient::list")]
    pub quality: Vec<Quality>,
    #[serde(deserialize_with = "lenient::object")]
    pub organic: Organic,
    #[serde(deserialize_with = "lenient::list")]
    pub certificates: Vec<Certificate>,
    /// The subject, the lots it was made from and the units they travelled in.
    #[serde(deserialize_with = "lenient::list")]
    pub lots: Vec<Lot>,
    #[serde(deserialize_with = "lenient::object")]
    pub links: Links,
}

/// The lot, item or unit the page is about.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Subject {
    /// Its EPC URI.
    #[serde(deserialize_with = "lenient::text")]
    pub id: Option<String>,
    /// Its canonical key, a GS1 Digital Link path.
    #[serde(deserialize_with = "lenient::text")]
    pub key: Option<String>,
    #[serde(deserialize_with = "lenient::parsed")]
    pub class: Option<IdClass>,
    #[serde(deserialize_with = "lenient::text")]
    pub product: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub crop: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub growing_method: Option<String>,
    /// The absolute URL its label's QR code carries.
    #[serde(deserialize_with = "lenient::text")]
    pub digital_link: Option<String>,
}

/// What verifying the bundle found.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Verification {
    /// Only an explicit `true` in a document is a pass.
    #[serde(deserialize_with = "lenient::is_true")]
    pub verified: bool,
    #[serde(deserialize_with = "lenient::text")]
    pub summary: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub problems: Vec<Finding>,
}

/// One thing wrong with the bundle.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Finding {
    #[serde(deserialize_with = "lenient::text")]
    pub code: Option<String>,
    /// Where: `checkpoint`, `entry 12`, …
    #[serde(deserialize_with = "lenient::text")]
    pub at: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub message: Option<String>,
}

/// The log's signed checkpoint the bundle was proved against.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Checkpoint {
    /// The log's name.
    #[serde(deserialize_with = "lenient::text")]
    pub origin: Option<String>,
    /// The tree size.
    #[serde(deserialize_with = "lenient::uint")]
    pub size: Option<u64>,
    /// Standard base64.
    #[serde(deserialize_with = "lenient::text")]
    pub root_hash: Option<String>,
    /// The signed note as served, signature lines included.
    #[serde(deserialize_with = "lenient::text")]
    pub note: Option<String>,
}

/// Where the crop grew.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Origin {
    #[serde(deserialize_with = "lenient::list")]
    pub farms: Vec<Farm>,
    #[serde(deserialize_with = "lenient::list")]
    pub plots: Vec<Plot>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Farm {
    #[serde(deserialize_with = "lenient::text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub province: Option<String>,
}

/// One harvest: the plot it came from and when.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Plot {
    /// The farm's id.
    #[serde(deserialize_with = "lenient::text")]
    pub farm: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub farm_name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub plot_id: Option<String>,
    #[serde(deserialize_with = "lenient::float")]
    pub area_hectares: Option<f64>,
    /// From the plot's GeoJSON geometry.
    #[serde(rename = "geo", deserialize_with = "geo::location")]
    pub location: Location,
    /// A date or an RFC 3339 time.
    #[serde(deserialize_with = "lenient::text")]
    pub harvest_start: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub harvest_end: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub growing_method: Option<String>,
    /// The harvest entry.
    #[serde(deserialize_with = "lenient::uint")]
    pub index: Option<u64>,
}

/// A farm of the origin with the plots it harvested.
#[derive(Debug, Clone)]
pub struct FarmPlots<'a> {
    pub farm: &'a Farm,
    pub plots: Vec<&'a Plot>,
}

impl Origin {
    /// The farms, each with its plots, and the plots whose farm is not listed (they still say
    /// where the crop grew).
    pub fn by_farm(&self) -> (Vec<FarmPlots<'_>>, Vec<&Plot>) {
        let mut shown = vec![false; self.plots.len()];
        let farms = self
            .farms
            .iter()
            .map(|farm| {
                let mut plots = Vec::new();
                for (i, plot) in self.plots.iter().enumerate() {
                    if farm.id.is_some() && plot.farm == farm.id {
                        shown[i] = true;
                        plots.push(plot);
                    }
                }
                FarmPlots { farm, plots }
            })
            .collect();
        let unlisted = self
            .plots
            .iter()
            .zip(shown)
            .filter_map(|(plot, shown)| (!shown).then_some(plot))
            .collect();
        (farms, unlisted)
    }
}

/// One step of the chain of custody: consecutive events by one actor.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Custody {
    /// The actor's id.
    #[serde(deserialize_with = "lenient::text")]
    pub actor: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub name: Option<String>,
    /// The roles it acted in, comma-separated.
    #[serde(deserialize_with = "lenient::text")]
    pub role: Option<String>,
    /// Event times (RFC 3339) of its first and last event.
    #[serde(deserialize_with = "lenient::text")]
    pub from: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub until: Option<String>,
    /// Its entries, which the timeline anchors.
    #[serde(deserialize_with = "lenient::uints")]
    pub entries: Vec<u64>,
}

/// One event of the history.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Event {
    /// Its log entry.
    #[serde(deserialize_with = "lenient::uint")]
    pub index: Option<u64>,
    #[serde(rename = "eventID", deserialize_with = "lenient::text")]
    pub event_id: Option<String>,
    /// RFC 3339, in the offset it was recorded in.
    #[serde(deserialize_with = "lenient::text")]
    pub event_time: Option<String>,
    /// The profile's kind: `harvest`, `shipping`, `transformation`, …
    #[serde(deserialize_with = "lenient::text")]
    pub kind: Option<String>,
    /// A CBV or lotline bizStep URI.
    #[serde(deserialize_with = "lenient::text")]
    pub biz_step: Option<String>,
    /// The acting actor's id.
    #[serde(deserialize_with = "lenient::text")]
    pub actor: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub actor_name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub role: Option<String>,
    /// The signing key (`did:key:…`).
    #[serde(deserialize_with = "lenient::text")]
    pub signer: Option<String>,
    /// Whether its signature verified: in a document, only `"signature": "valid"`.
    #[serde(rename = "signature", deserialize_with = "lenient::is_valid")]
    pub signature_valid: bool,
    /// Whether its signer was authorised for the step at the event's time; `None` when not
    /// said.
    #[serde(deserialize_with = "lenient::boolean")]
    pub authorised: Option<bool>,
    /// The lots, items and units of the history it names.
    #[serde(deserialize_with = "lenient::texts")]
    pub lots: Vec<String>,
    /// What happened, in words.
    #[serde(deserialize_with = "lenient::text")]
    pub what: Option<String>,
}

/// An event of the history that measured the goods: a moisture check, a storage or fumigation
/// record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Quality {
    /// Its log entry.
    #[serde(deserialize_with = "lenient::uint")]
    pub index: Option<u64>,
    #[serde(deserialize_with = "lenient::text")]
    pub event_time: Option<String>,
    /// `inspection`, `storage`, or the kind of another event that carried measurements.
    #[serde(deserialize_with = "lenient::text")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub actor: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub actor_name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub role: Option<String>,
    /// Where: a location URI (an SGLN).
    #[serde(deserialize_with = "lenient::text")]
    pub location: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub disposition: Option<String>,
    /// Each measurement in words.
    #[serde(deserialize_with = "lenient::texts")]
    pub findings: Vec<String>,
    /// Whether a sensor raised an alarm or error on any of them.
    #[serde(rename = "measurements", deserialize_with = "lenient::any_exception")]
    pub alarm: bool,
}

/// A plausibility flag.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Flag {
    #[serde(deserialize_with = "lenient::text")]
    pub code: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub message: Option<String>,
    /// The entry that raised it.
    #[serde(deserialize_with = "lenient::uint")]
    pub index: Option<u64>,
}

/// The organic status derived from the records, with every check.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Organic {
    #[serde(deserialize_with = "lenient::organic_status")]
    pub status: OrganicStatus,
    #[serde(deserialize_with = "lenient::list")]
    pub checks: Vec<Check>,
}

/// What the records prove about the product's organic status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrganicStatus {
    /// Every check passed.
    Organic,
    /// At least one check failed.
    NotOrganic,
    /// The records did not verify (or say nothing), so they prove no status.
    #[default]
    NotVerified,
}

impl OrganicStatus {
    /// Its name in the provenance document: `organic`, `not_organic`, `not_verified`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrganicStatus::Organic => "organic",
            OrganicStatus::NotOrganic => "not_organic",
            OrganicStatus::NotVerified => "not_verified",
        }
    }

    /// The status named `name`; anything unknown proves nothing.
    pub fn from_name(name: &str) -> OrganicStatus {
        match name {
            "organic" => OrganicStatus::Organic,
            "not_organic" => OrganicStatus::NotOrganic,
            _ => OrganicStatus::NotVerified,
        }
    }
}

/// One check of the organic verdict.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Check {
    /// `growing_method`, `plot_certified`, `handler_certified` or `no_mixing`.
    #[serde(deserialize_with = "lenient::text")]
    pub check: Option<String>,
    /// Only an explicit `true` in a document is a pass.
    #[serde(deserialize_with = "lenient::is_true")]
    pub passed: bool,
    /// What was checked: a plot or an actor.
    #[serde(deserialize_with = "lenient::text")]
    pub subject: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub message: Option<String>,
    /// The event checked.
    #[serde(deserialize_with = "lenient::uint")]
    pub entry: Option<u64>,
}

/// A certificate of a farm or handler, with its suspensions and withdrawal.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Certificate {
    #[serde(deserialize_with = "lenient::text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub number: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub standard: Option<String>,
    /// The certifier's id and name.
    #[serde(deserialize_with = "lenient::text")]
    pub issuer: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub issuer_name: Option<String>,
    /// The holder's id and name.
    #[serde(deserialize_with = "lenient::text")]
    pub subject: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub subject_name: Option<String>,
    #[serde(deserialize_with = "lenient::texts")]
    pub activities: Vec<String>,
    #[serde(deserialize_with = "lenient::texts")]
    pub products: Vec<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub valid_from: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub valid_until: Option<String>,
    /// Suspensions and the withdrawal, in words with their effective times.
    #[serde(deserialize_with = "lenient::texts")]
    pub decisions: Vec<String>,
}

/// A lot, item or unit of the subject's history.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Lot {
    /// Its canonical key.
    #[serde(deserialize_with = "lenient::text")]
    pub key: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub product: Option<String>,
    /// The entry that created it.
    #[serde(deserialize_with = "lenient::uint")]
    pub created_at: Option<u64>,
}

/// Where the subject's resources live in the API: same-site paths, the `links` member of the
/// provenance document. Empty when unknown.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Links {
    /// The provenance document.
    #[serde(rename = "self", deserialize_with = "lenient::string")]
    pub self_: String,
    /// The offline proof bundle.
    #[serde(deserialize_with = "lenient::string")]
    pub bundle: String,
    /// The raw signed events.
    #[serde(deserialize_with = "lenient::string")]
    pub events: String,
    /// The lot record.
    #[serde(deserialize_with = "lenient::string")]
    pub lot: String,
    #[serde(deserialize_with = "lenient::string")]
    pub qr_svg: String,
    #[serde(deserialize_with = "lenient::string")]
    pub qr_png: String,
    /// The buyer page itself (the Digital Link path).
    #[serde(deserialize_with = "lenient::string")]
    pub page: String,
}
