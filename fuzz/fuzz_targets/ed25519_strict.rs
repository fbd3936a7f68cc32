//! `data_integrity::ed25519::verify_strict` against dalek's `VerifyingKey::verify_strict`: the
//! two must give the same answer on any key, message and signature.
//!
//! Random bytes rarely make a signature that verifies, so the input also steers a valid one:
//! the fixed key signs the message, and the input's first byte picks what is then changed —
//! nothing, one bit, `R` replaced by the input's bytes, `R` shifted by a small-order point
//! (the case the small-order check is about), or `s` replaced.

#![no_main]

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fn agree(key: &VerifyingKey, message: &[u8], sig: &Signature) {
    let ours = data_integrity::ed25519::verify_strict(key, message, sig);
    let dalek = key.verify_strict(message, sig).is_ok();
    assert_eq!(
        ours,
        dalek,
        "key {:02x?} sig {:02x?}",
        key.as_bytes(),
        sig.to_bytes()
    );
}

fuzz_target!(|data: &[u8]| {
    // Free form: 32 bytes of key, 64 of signature, the rest the message.
    if data.len() >= 96
        && let Ok(key) = VerifyingKey::from_bytes(data[..32].try_into().unwrap())
    {
        agree(
            &key,
            &data[96..],
            &Signature::from_bytes(data[32..96].try_into().unwrap()),
        );
    }

    // Steered: a valid signature by the fixed key, then changed as the first byte says.
    let Some((&how, rest)) = data.split_first() else {
        return;
    };
    let signer = common::signing_key();
    let key = signer.verifying_key();
    let message = rest.get(32..).unwrap_or(&[]);
    let mut b = signer.sign(message).to_bytes();
    let bytes: [u8; 32] = rest
        .get(..32)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; 32]);
    match how % 5 {
        0 => {}
        1 => b[usize::from(bytes[0]) % 64] ^= 1 << (bytes[1] % 8),
        2 => b[..32].copy_from_slice(&bytes),
        3 => {
            if let Some(r) = CompressedEdwardsY(b[..32].try_into().unwrap()).decompress() {
                let shifted = r + EIGHT_TORSION[usize::from(bytes[0]) % 8];
                b[..32].copy_from_slice(shifted.compress().as_bytes());
            }
        }
        _ => b[32..].copy_from_slice(&bytes),
    }
    agree(&key, message, &Signature::from_bytes(&b));
});
