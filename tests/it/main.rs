//! The integration tests, one binary: the real `lotline` server on port 0 over a fresh RocksDB
//! in a temp dir, real HTTP, the real CLI, headless Chromium for the pages people see, and the
//! crash test. `support` is the harness. One binary links RocksDB once, which is most of what
//! a test binary costs to build.
//!
//! The shared test vectors are read from `../shared/vectors/` at run time.

mod support;

mod api;
mod audit;
mod audit_access;
mod backup;
mod browser_harness;
mod certificates;
mod cli;
mod cluster;
mod consistency;
mod crash;
mod edge;
mod epcis;
mod export;
#[cfg(feature = "fault-injection")] // scripts/test builds the tests with it
mod faults;
mod gs1_examples;
mod import;
mod openapi;
mod pipeline;
mod properties;
mod provenance;
mod read_cache;
mod recall;
mod replication;
mod sensor;
mod supply;
mod tiles;
mod tls;
