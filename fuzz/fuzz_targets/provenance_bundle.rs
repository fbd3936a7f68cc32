//! Offline provenance bundle verification, `lotline_verify::verify`, as `lotline verify`
//! reads a file: the strict parser (depth 127), the `Bundle` format, then verification with the
//! verifier key the bundle names (or a fixed one) and default bounds: no panic. A bundle that
//! deserializes serializes back to the same bundle.

#![no_main]

use data_integrity::json::{Limits, parse};
use libfuzzer_sys::fuzz_target;
use lotline_profile::records::Bounds;
use lotline_verify::{Bundle, verify};
use tlog::note::{NoteSigner, VerifierKey};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = parse(data, &Limits { max_depth: 127 }) else {
        return;
    };
    let Ok(bundle) = serde_json::from_value::<Bundle>(value) else {
        return;
    };
    let written = serde_json::to_value(&bundle).expect("a bundle serializes");
    let again: Bundle = serde_json::from_value(written).expect("a written bundle reads");
    assert_eq!(again, bundle);

    let key = VerifierKey::parse(&bundle.log.verifier_key).unwrap_or_else(|_| {
        NoteSigner::new("fuzz.example/log", common::signing_key())
            .expect("valid name")
            .verifier_key()
    });
    let report = verify(&bundle, &key, &[], &Bounds::default());
    let _ = serde_json::to_string(&report).expect("a report serializes");
    let _ = verify(&bundle, &key, &bundle.registrars.clone(), &bundle.bounds);
});
