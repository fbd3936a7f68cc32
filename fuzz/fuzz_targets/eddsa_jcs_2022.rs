//! `data_integrity::di::verify` (the `eddsa-jcs-2022` cryptosuite) on any strict-JSON document:
//! no panic. And the cryptosuite's own round trip: an object without a proof, signed with a
//! fixed key, verifies, naming that key, and its canonical unsecured form is the document's.

#![no_main]

use data_integrity::json::{Limits, parse};
use data_integrity::{di, didkey, jcs};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = parse(data, &Limits::default()) else {
        return;
    };
    let _ = di::verify(&doc);
    if doc.is_object() && doc.get("proof").is_none() {
        let key = common::signing_key();
        let signed = di::sign(&doc, &key, "2026-01-01T00:00:00Z").expect("signs an object");
        let (verified, canonical) = di::verify_with_canonical(&signed)
            .unwrap_or_else(|e| panic!("a document just signed does not verify: {e}"));
        assert_eq!(verified.did, didkey::did_key(&key.verifying_key()));
        assert_eq!(canonical.unsecured, jcs::canonicalize(&doc));
    }
});
