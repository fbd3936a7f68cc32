//! GS1 identifiers in the forms the field exchanges them: identification keys as EPC URIs with
//! their check digits ([`keys`], re-exported here), the RFID Tag Data Standard's EPC bank
//! encodings ([`tds`]) and GS1 Digital Link URIs ([`digital_link`]).
//!
//! Pure: no I/O, no panics on input. The canonical key of any identifier is its Digital Link
//! path, which needs no company-prefix length.

pub mod digital_link;
pub mod keys;
pub mod tds;

pub use keys::*;
