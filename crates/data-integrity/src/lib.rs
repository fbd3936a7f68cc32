//! Signed JSON documents as the W3C and the IETF define them: strict parsing at the edge
//! ([`json`]), RFC 8785 canonical JSON ([`jcs`]), `did:key` and Multikey for Ed25519
//! ([`didkey`]), strict Ed25519 verification ([`ed25519`]) and the `eddsa-jcs-2022` Data
//! Integrity cryptosuite ([`di`]).
//!
//! Pure: no files, no network, no clock but the times callers pass, no panics on input.
//! (`didkey::generate` asks the operating system for randomness, nothing else.)

pub mod di;
pub mod didkey;
pub mod ed25519;
pub mod jcs;
pub mod json;
