//! Builders for documents of the lotline profile ([`documents`]), and the demo scenario built
//! from them ([`demo`]).
//!
//! The demo (`lotline scenario`), the ingest benchmark and the test suite all make their events
//! here, so they exercise the same profile a real client must follow. Builders return unsigned
//! documents; signing is the caller's (it is the client's job, with the client's key).

pub mod demo;
pub mod documents;

pub use demo::{DemoActor, Step, demo, demo_actors, demo_cert_id};
pub use documents::{
    EPCIS_CONTEXT, LOTLINE_NS, PREFIX, aggregation, bagging, cert_decision, certificate, did,
    harvest, items, kg, lgtin, moisture, movement, number, observation, pgln, plot, raw_uri,
    register, registrar_doc, seeded_event_id, seeded_key, sgln, sgtin, sscc, substances,
    transaction, transform,
};
