//! What a buyer runs offline: a provenance bundle checked against the log's verifier key alone,
//! and the claims recomputed from its entries.
//!
//! - [`derive`] turns entries into claims — the lot graph, origins, chain of custody, timeline,
//!   plausibility flags, certificates and the organic verdict ([`organic`]). It is pure, and the
//!   server and the verifier run the same code on the same entries, so a bundle whose claims do
//!   not match its entries has been altered.
//! - [`verify`] checks a bundle: checkpoint signature, inclusion proofs, event signatures, chain
//!   links, each signer's authorisation at its event's time (by replaying the registrar
//!   entries into a [`Registry`]), the certificates (by replaying the certification entries),
//!   and the claims.
//!
//! The modules depend on each other in one direction only:
//! `claims`, `parsed` ← `registry` ← `organic` ← `derive` ← `verify`, with `bundle` (the file
//! format, over `claims`) and `finding` (what a verifier reports) read by `verify`.
//!
//! The bundle format is described by `schemas/provenance-bundle.schema.json`. This crate knows
//! neither RocksDB nor actix: `cargo tree -p lotline-verify` shows what a buyer builds.

mod bundle;
mod claims;
mod derive;
mod finding;
pub mod organic;
mod parsed;
mod registry;
mod verify;

pub use bundle::{BUNDLE_TYPE, BUNDLE_VERSION, Bundle, BundleEntry, LogInfo};
pub use claims::{
    CertClaim, Check, Claims, CustodyStep, FarmClaim, LotNode, PlotClaim, QualityRecord,
    TimelineItem, Verdict,
};
pub use derive::derive;
pub use finding::{Finding, FindingCode};
pub use parsed::Parsed;
pub use registry::Registry;
pub use verify::{Report, verify};
