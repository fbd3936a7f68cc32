//! Event admission, `lotline_profile::event::admit`, on what a client may POST: the input
//! through the strict parser, then admission (profile, envelope schema, signature). The fuzzer
//! cannot forge signatures, so a document the profile accepts is also signed with a fixed key
//! and admitted again, which reaches the checks after the signature. No panic; an admitted
//! event's canonical bytes parse strictly and are canonical, and its eventID is the document's.

#![no_main]

use data_integrity::json::{Limits, parse};
use data_integrity::{di, jcs};
use libfuzzer_sys::fuzz_target;
use lotline_profile::event::{self, EventId};
use lotline_profile::profile;

#[path = "common.rs"]
mod common;

fn check(doc: &serde_json::Value) {
    let Ok(admitted) = event::admit(doc) else {
        return;
    };
    let reparsed = parse(&admitted.event_jcs, &Limits::default())
        .unwrap_or_else(|e| panic!("admitted bytes do not parse strictly: {e}"));
    assert_eq!(jcs::canonicalize(&reparsed), admitted.event_jcs);
    let id = doc.get("eventID").and_then(|v| v.as_str()).unwrap_or("");
    assert_eq!(EventId::parse(id), Some(admitted.event_id));
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = parse(data, &Limits::default()) else {
        return;
    };
    let _ = event::check_envelope(&doc);
    check(&doc);
    if profile::interpret(&doc).is_ok()
        && let Some(obj) = doc.as_object()
    {
        let mut unsigned = obj.clone();
        unsigned.remove("proof");
        let unsigned = serde_json::Value::Object(unsigned);
        if let Ok(signed) = di::sign(&unsigned, &common::signing_key(), "2026-01-01T00:00:00Z") {
            check(&signed);
        }
    }
});
