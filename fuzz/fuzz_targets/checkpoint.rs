//! `tlog::note::Checkpoint::parse` on note text: no panic, and a parsed checkpoint written out
//! and parsed again is the same; signed by a fixed key it opens and parses to the same again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tlog::note::{self, Checkpoint, NoteSigner};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else {
        return;
    };
    let Ok(cp) = Checkpoint::parse(s) else {
        return;
    };
    let text = cp.to_text();
    assert_eq!(Checkpoint::parse(&text).expect("to_text parses"), cp);
    let signer = NoteSigner::new("fuzz.example/log", common::signing_key()).expect("valid name");
    let signed = signer
        .sign_checkpoint(&cp)
        .unwrap_or_else(|e| panic!("a parsed checkpoint cannot be signed: {e}"));
    let opened = note::open(&signed, &signer.verifier_key()).expect("opens");
    assert_eq!(opened, text);
    assert_eq!(Checkpoint::parse(&opened).expect("parses"), cp);
});
