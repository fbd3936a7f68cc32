//! Provenance on the server: a lot's upstream history gathered from the ledger into an offline
//! proof bundle ([`collect`]: [`plan`], then [`build`] against a checkpoint). What the bundle
//! means and how it is checked is the offline verifier's, `lotline_verify`, re-exported here:
//! the server runs exactly what a buyer runs.

pub mod collect;

pub use collect::{CollectError, EntryCache, Plan, build, claims, plan};
pub use lotline_verify::*;
