//! Pure formats and rules: canonical JSON, Merkle trees, signatures, notes, entries and event
//! admission. No I/O, no actix, no RocksDB, and no panics on input: everything here can be
//! tested with bytes alone and reused by an offline verifier.

pub mod di;
pub mod didkey;
pub mod entry;
pub mod event;
pub mod jcs;
pub mod json;
pub mod merkle;
pub mod note;
