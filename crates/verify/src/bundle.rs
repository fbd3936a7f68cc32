//! The provenance bundle: an offline proof of a lot's provenance, as a file a buyer keeps.
//! Its format is described by `schemas/provenance-bundle.schema.json`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claims::Claims;
use lotline_profile::records::{ActorRecord, Bounds};

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
