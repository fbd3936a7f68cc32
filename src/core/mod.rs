//! Pure formats and rules: canonical JSON, Merkle trees, signatures, notes, entries and event
//! admission. No I/O, no actix, no RocksDB, and no panics on input: everything here can be
//! tested with bytes alone and reused by an offline verifier.

pub mod audit_token;
pub mod di;
pub mod didkey;
pub mod digital_link;
pub mod entry;
pub mod event;
pub mod gs1;
pub mod jcs;
pub mod json;
pub mod merkle;
pub mod note;
pub mod profile;
pub mod profile_schemas;
pub mod tds;
