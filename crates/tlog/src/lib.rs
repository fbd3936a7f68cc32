//! Transparency-log formats, as the specifications define them: RFC 9162 Merkle trees
//! ([`merkle`]: hashing, proofs over stored complete subtrees, verification, the frontier an
//! appender keeps), and C2SP signed notes, checkpoints and `tlog-proof` files ([`note`]).
//!
//! Pure: no I/O, no clock, no panics on input. Everything here is tested with bytes alone.

pub mod merkle;
pub mod note;
