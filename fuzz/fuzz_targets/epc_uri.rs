//! EPC URIs: `gs1::parse_epc_uri` (pure identity and LGTIN class URIs), `tds::parse_tag_uri` /
//! `encode_tag_uri`, `tds::decode_raw_uri` and `tds::normalize_epc`: no panic, and for a parsed
//! identity: its URN parses to the same; its Digital Link parses to the same key, with the same
//! canonical path, and splits back into the same EPC with the identity's company-prefix length;
//! an encodable tag URI decodes to the identity it names.

#![no_main]

use gs1::digital_link::{self, DlKey};
use gs1::tds;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else {
        return;
    };
    let _ = tds::normalize_epc(s);
    let _ = tds::decode_raw_uri(s);
    if let Ok((scheme, filter, id)) = tds::parse_tag_uri(s)
        && let Ok(hex) = tds::encode(&id, scheme, filter)
    {
        let d = tds::decode_hex(&hex).expect("encode's output decodes");
        assert_eq!((d.id, d.filter, d.scheme), (id, filter, scheme.name()));
    }
    let Ok(id) = gs1::parse_epc_uri(s) else {
        return;
    };
    let urn = id.to_urn();
    assert_eq!(gs1::parse_epc_uri(&urn).expect("to_urn parses"), id);
    let key = DlKey::from(&id);
    let uri = key.to_uri(digital_link::DEFAULT_BASE);
    let parsed = digital_link::parse_digital_link(&uri)
        .unwrap_or_else(|e| panic!("{s}: its Digital Link {uri} does not parse: {e}"));
    assert_eq!(parsed, key);
    assert_eq!(parsed.dl_path(), id.dl_path());
    let back = parsed
        .to_gs1_id(id.company_prefix().len())
        .unwrap_or_else(|e| panic!("{s}: {uri} does not split back: {e}"));
    assert_eq!(back, id);
});
