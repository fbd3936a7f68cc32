//! The EPCIS XML reader, `lotline_epcis_xml::document_to_json`, on any text: no panic, and the
//! JSON it makes has a canonical (RFC 8785) form that the strict parser accepts.

#![no_main]

use data_integrity::jcs;
use data_integrity::json::{Limits, parse};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(xml) = common::text(data) else {
        return;
    };
    let Ok(doc) = lotline_epcis_xml::document_to_json(xml) else {
        return;
    };
    let canonical = jcs::canonicalize(&doc);
    if let Err(e) = parse(&canonical, &Limits { max_depth: 127 }) {
        panic!("the JSON made from XML is refused by the strict parser: {e}");
    }
});
