//! `tlog::note::TlogProof::parse` (c2sp.org/tlog-proof@v1 files): no panic; a parsed proof
//! written out parses to the same proof; and its hashes, checked as an inclusion proof (and,
//! with the index as the old size, as a consistency proof) against its checkpoint's root, never
//! panic in `tlog::merkle`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tlog::merkle;
use tlog::note::{Checkpoint, NoteSigner, TlogProof};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else {
        return;
    };
    let Ok(proof) = TlogProof::parse(s) else {
        return;
    };
    let text = proof.to_text();
    assert_eq!(TlogProof::parse(&text).expect("to_text parses"), proof);

    // parse checked that the checkpoint is a well-formed note around a checkpoint.
    let body = proof
        .checkpoint
        .rfind("\n\n")
        .map(|i| &proof.checkpoint[..=i])
        .expect("a checked note has a signature block");
    let cp = Checkpoint::parse(body).expect("parse checked the checkpoint");
    let leaf = merkle::leaf_hash(proof.extra.as_deref().unwrap_or_default());
    let _ = merkle::verify_inclusion(&leaf, proof.index, cp.size, &proof.hashes, &cp.root);
    let _ = merkle::verify_consistency(proof.index, cp.size, &leaf, &cp.root, &proof.hashes);

    // Under a key the fuzzer does not have, the signature check refuses.
    let signer = NoteSigner::new("fuzz.example/log", common::signing_key()).expect("valid name");
    let _ = proof.open_checkpoint(&signer.verifier_key());
});
