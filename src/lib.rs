//! lotline: a farm-to-export traceability ledger. Signed GS1 EPCIS 2.0 events go into an
//! append-only log that is a hash chain and an RFC 9162 Merkle tree at once, published through
//! C2SP signed checkpoints, so that anyone holding the log's public key can verify it.
//!
//! Dependencies point inward: `cli` and `http` → `ledger` → `store`, `core`; `core` depends on
//! nothing of ours. See ARCHITECTURE.md.

pub mod audit;
pub mod cli;
pub mod config;
pub mod core;
pub mod export;
pub mod http;
pub mod impact;
pub mod ledger;
pub mod provenance;
pub mod qr;
pub mod recall;
pub mod scenario;
pub mod state;
pub mod store;
