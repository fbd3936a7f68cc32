//! The `did:key` / Multikey parsers of `data_integrity::didkey`: no panic, and whatever parses
//! prints back to exactly the input (one spelling per key), for did:key, verification method,
//! public and secret multibase.

#![no_main]

use data_integrity::didkey;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else {
        return;
    };
    if let Ok(vk) = didkey::parse_did_key(s) {
        assert_eq!(didkey::did_key(&vk), s);
    }
    if let Ok(vk) = didkey::parse_public_multibase(s) {
        assert_eq!(didkey::public_multibase(&vk), s);
    }
    if let Ok((did, vk)) = didkey::parse_verification_method(s) {
        assert_eq!(didkey::did_key(&vk), did);
        assert_eq!(didkey::verification_method(&vk), s);
    }
    if let Ok(sk) = didkey::parse_secret_multibase(s) {
        assert_eq!(didkey::secret_multibase(&sk), s);
    }
});
