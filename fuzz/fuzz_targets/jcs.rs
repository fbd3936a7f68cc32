//! `data_integrity::jcs::canonicalize` (RFC 8785) on documents the strict parser accepts: the
//! canonical bytes are accepted by the strict parser again, and canonicalizing them once more
//! gives the same bytes (JCS is idempotent).

#![no_main]

use data_integrity::jcs::canonicalize;
use data_integrity::json::{Limits, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = parse(data, &Limits::default()) else {
        return;
    };
    let canonical = canonicalize(&value);
    let reparsed = match parse(&canonical, &Limits::default()) {
        Ok(v) => v,
        Err(e) => panic!(
            "the strict parser refuses the canonical form {:?} of an accepted document: {e}",
            String::from_utf8_lossy(&canonical)
        ),
    };
    assert_eq!(canonicalize(&reparsed), canonical, "JCS is not idempotent");
});
