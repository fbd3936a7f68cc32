//! `gs1::digital_link::parse_digital_link` (GS1 Digital Link URIs and bare paths) and `to_urn`:
//! no panic; a parsed key re-rendered as a URI parses to the same key; and for every company
//! prefix length with which the key splits into an EPC, that EPC names the same object (same
//! canonical path) and its URN parses back to it.

#![no_main]

use gs1::digital_link::{self, DlKey};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else {
        return;
    };
    let _ = digital_link::uri_unescape(s, true);
    let Ok(key) = digital_link::parse_digital_link(s) else {
        return;
    };
    let uri = key.to_uri(digital_link::DEFAULT_BASE);
    let again = digital_link::parse_digital_link(&uri)
        .unwrap_or_else(|e| panic!("{s}: re-rendered as {uri}, which does not parse: {e}"));
    assert_eq!(again, key);
    for gcp_length in gs1::MIN_GCP_DIGITS..=gs1::MAX_GCP_DIGITS {
        let Ok(id) = key.to_gs1_id(gcp_length) else {
            continue;
        };
        assert_eq!(id.dl_path(), key.dl_path(), "{s} split at {gcp_length}");
        assert_eq!(DlKey::from(&id).dl_path(), key.dl_path());
        assert_eq!(gs1::parse_epc_uri(&id.to_urn()).expect("to_urn parses"), id);
        assert_eq!(
            digital_link::to_urn(&uri, gcp_length).expect("the same split"),
            id
        );
    }
});
