//! The RFID Tag Data Standard decoder `gs1::tds::decode_hex` (EPC bank hex): no panic, and what
//! decodes is consistent everywhere it can be read back: re-encoded with its scheme and filter
//! it decodes to the same; its tag URI parses to the same scheme, filter and identity; its pure
//! identity URI parses to the same identity; its raw URI decodes to the same; and
//! `normalize_epc` of the hex agrees.

#![no_main]

use gs1::tds::{self, BinaryScheme};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(hex) = common::text(data) else {
        return;
    };
    let _ = tds::hex_to_raw_uri(hex);
    let normalized = tds::normalize_epc(hex);
    let Ok(d) = tds::decode_hex(hex) else {
        return;
    };
    let scheme = BinaryScheme::from_name(d.scheme).expect("decode names a known scheme");
    let encoded = tds::encode(&d.id, scheme, d.filter)
        .unwrap_or_else(|e| panic!("{hex}: decoded to {d:?}, which does not encode: {e}"));
    assert_eq!(
        tds::decode_hex(&encoded).expect("encode's output decodes"),
        d
    );
    assert_eq!(
        tds::parse_tag_uri(&d.tag_uri).expect("the tag URI parses"),
        (scheme, d.filter, d.id.clone())
    );
    assert_eq!(tds::encode_tag_uri(&d.tag_uri).expect("encodes"), encoded);
    assert_eq!(gs1::parse_epc_uri(&d.pure_identity).expect("parses"), d.id);
    assert_eq!(d.id.to_urn(), d.pure_identity);
    let raw = tds::hex_to_raw_uri(hex).expect("decodable hex has a raw URI");
    assert_eq!(tds::decode_raw_uri(&raw).expect("the raw URI decodes"), d);
    let n = normalized.expect("normalize_epc takes decodable hex");
    assert_eq!(n.id, d.id);
    assert_eq!(n.pure_identity, d.pure_identity);
});
