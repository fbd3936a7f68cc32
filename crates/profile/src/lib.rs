//! lotline's profile of GS1 EPCIS 2.0: what a document may say and what it means.
//!
//! - [`profile`], [`profile_schemas`]: classify a document by type, action and bizStep,
//!   validate it against its kind's JSON Schema (`schemas/`, compiled in) and build a typed
//!   [`profile::Document`] with normalised identifiers and masses in mg.
//! - [`event`]: admission of a signed event (envelope, profile, `eddsa-jcs-2022` signature).
//! - [`entry`]: the log's entry format, its canonical bytes and hashes, the receipt.
//! - [`records`], [`certs`], [`plausibility`]: the records the rules keep (actors, keys,
//!   roles, lots, effects), certificate decisions and plausibility findings — shared by the
//!   ledger's rules and the offline verifier's replay, so both decide alike.
//! - [`sensor`]: sensor and quality data (`sensorElementList`): moisture, storage conditions,
//!   fumigation, read into measurements with their rules.
//! - [`audit_token`]: short-lived audit tokens bound to one log.
//!
//! Pure: no I/O, no clock but the times callers pass, no panics on input.

pub mod audit_token;
pub mod certs;
pub mod codes;
pub mod entry;
pub mod event;
pub mod event_hash;
pub mod plausibility;
pub mod profile;
pub mod profile_schemas;
mod recent;
pub mod records;
pub mod refusal;
pub mod sensor;
pub mod terms;
pub mod vocab;
