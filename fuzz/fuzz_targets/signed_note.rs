//! C2SP signed notes and verifier keys (`tlog::note`): `VerifierKey::parse` prints back to its
//! input; `note::open` never panics (against a fixed key, with the input as the note); and any
//! text the signer accepts, once signed, opens to exactly that text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tlog::note::{self, NoteSigner, VerifierKey};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else {
        return;
    };
    if let Ok(vk) = VerifierKey::parse(s) {
        assert_eq!(vk.to_string(), s, "a verifier key has one spelling");
    }
    let signer = NoteSigner::new("fuzz.example/log", common::signing_key()).expect("valid name");
    let key = signer.verifier_key();
    let _ = note::open(s, &key);
    if let Ok(signed) = signer.sign(s) {
        let opened = note::open(&signed, &key)
            .unwrap_or_else(|e| panic!("a note just signed does not open: {e}"));
        assert_eq!(opened, s);
    }
});
