//! Provenance: a lot's upstream history as an offline proof bundle, the claims derived from it,
//! and their verification.
//!
//! - [`collect`] (server side: [`plan`], then [`build`] against a checkpoint) gathers a lot's history from the ledger: every entry naming the
//!   lot, the lots it was made from (recursively, down to the harvests) and the logistic units
//!   they travelled in; the registrar entries that admitted each signer and granted its roles
//!   and keys; an inclusion proof of each against one signed checkpoint.
//! - [`derive`] turns entries into claims — the lot graph, origins, chain of custody, timeline,
//!   plausibility flags. It is pure, and the server and the verifier run the same code on the
//!   same entries, so a bundle whose claims do not match its entries has been altered.
//! - [`verify`] checks a bundle trusting only the log's verifier key: checkpoint signature,
//!   inclusion proofs, event signatures, chain links, each signer's authorisation at its event's
//!   time (by replaying the registrar entries), and the claims.
//!
//! The bundle format is described by `schemas/provenance-bundle.schema.json`.

pub mod collect;
mod derive;
pub mod organic;
mod verify;

pub use collect::{CollectError, EntryCache, Plan, build, claims, plan};
pub use derive::{Claims, CustodyStep, FarmClaim, LotNode, PlotClaim, TimelineItem, derive};
pub use verify::{Finding, Registry, Report, verify};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::state::{ActorRecord, Bounds};

/// `type` of every bundle.
pub const BUNDLE_TYPE: &str = "lotline-provenance-bundle";
/// The bundle format's version; a verifier refuses versions it does not know.
/// Version 2 added certificates and the organic verdict to the claims.
pub const BUNDLE_VERSION: u64 = 2;

/// An offline proof of a lot's provenance. Deterministic: the same ledger and checkpoint give
/// the same bytes (entries by index, actors by id, members in a fixed order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u64,
    /// The lot, item or unit the bundle is about: its canonical key (GS1 Digital Link path).
    pub subject: String,
    /// The log's name and verifier key, for information: a verifier uses the key it trusts.
    pub log: LogInfo,
    /// The signed checkpoint (C2SP signed note) every inclusion proof is against.
    pub checkpoint: String,
    /// The registrar keys (`did:key`) of the ledger, which sign actor registrations, role
    /// grants and key changes.
    pub registrars: Vec<String>,
    /// The plausibility bounds the flags are computed with.
    pub bounds: Bounds,
    /// Entries in index order, each with its inclusion proof.
    pub entries: Vec<BundleEntry>,
    /// The actors that signed or are named as farms, as the registrar entries made them.
    pub actors: Vec<ActorRecord>,
    pub claims: Claims,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogInfo {
    pub origin: String,
    pub verifier_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleEntry {
    /// The entry `{event, index, prevHash, recordTime, signer}`; its RFC 8785 canonical form is
    /// what the log hashed.
    pub entry: Value,
    /// RFC 9162 inclusion proof (standard base64 hashes) in the checkpoint's tree.
    pub inclusion_proof: Vec<String>,
}
