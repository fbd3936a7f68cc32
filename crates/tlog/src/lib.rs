//! Transparency-log formats, as the specifications define them: RFC 9162 Merkle trees
//! ([`merkle`]: hashing, proofs over stored complete subtrees, verification, the frontier an
//! appender keeps), C2SP signed notes, checkpoints and `tlog-proof` files ([`note`]), and C2SP
//! tlog-tiles paths, entry bundles and a node source over fetched tiles ([`tile`]).
//!
//! Pure: no I/O, no clock, no panics on input. Everything here is tested with bytes alone.

pub mod merkle;
pub mod note;
pub mod tile;
