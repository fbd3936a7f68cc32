//! lotline: a farm-to-export traceability ledger. Signed GS1 EPCIS 2.0 events go into an
//! append-only log that is a hash chain and an RFC 9162 Merkle tree at once, published through
//! C2SP signed checkpoints, so that anyone holding the log's public key can verify it.
//!
//! This crate is the service: the store, the ledger (the one writer), the state rules, the HTTP
//! API and the CLI. The formats it speaks live in pure crates beside it (`tlog`,
//! `data-integrity`, `gs1`, `lotline-profile`) and the offline verifier in `lotline-verify`;
//! dependencies point inward. See ARCHITECTURE.md.

pub mod audit;
pub mod backup;
pub mod cli;
pub mod config;
pub mod edge;
pub mod export;
pub mod http;
pub mod impact;
pub mod ledger;
pub mod metrics;
pub mod provenance;
pub mod qr;
pub mod query;
pub mod recall;
pub mod replica;
pub mod state;
pub mod store;
pub mod subscribe;
pub mod tls;
