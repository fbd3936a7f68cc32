//! `data_integrity::json::parse` (strict I-JSON at the edge): no panic on any bytes, and a
//! document it accepts, written out by serde_json, parses again to the same value.

#![no_main]

use data_integrity::json::{Limits, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for limits in [Limits::default(), Limits { max_depth: 127 }] {
        let Ok(value) = parse(data, &limits) else {
            continue;
        };
        let written = serde_json::to_vec(&value).expect("a Value always serializes");
        let again = parse(&written, &limits).expect("serde_json's output of an accepted value");
        assert_eq!(again, value, "parse -> write -> parse changed the value");
    }
});
