//! `data_integrity::ed25519::verify_strict` against dalek's `VerifyingKey::verify_strict`: the
//! two must give the same answer on any key, message and signature.
//!
//! Random bytes rarely make a signature that verifies, so the input also steers one: the
//! input's first byte picks either a valid signature by the fixed key, then changed (nothing,
//! one bit, `R` replaced by the input's bytes, `R` shifted by a small-order point, `s`
//! replaced), or a signature made with the curve's arithmetic by a key with a torsion
//! component (`a·B + T`) or of small order (`T`) — the keys and nonces the strict rules are
//! about, for which the equation holds for some messages.

#![no_main]

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha512};

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
    if how % 8 >= 5 {
        forged(how % 8, &bytes, message);
        return;
    }
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

/// A signature made from its parts by a key with torsion: 5, key `a·B + T` with `R = [n]B`
/// and `s = n + k·a` (valid when `[k]T` vanishes); 6, the same key with a small-order `R` and
/// `s = k·a` (the equation holds when `−[k]T = R`); 7, the small-order key `T` with `R = [s]B`
/// (the equation holds when `[k]T` vanishes).
fn forged(case: u8, bytes: &[u8; 32], message: &[u8]) {
    let t = EIGHT_TORSION[usize::from(bytes[0] % 8)];
    let a = Scalar::from_bytes_mod_order(*bytes);
    let n = Scalar::from_bytes_mod_order([bytes[1]; 32]);
    let (point, r) = match case {
        5 => (ED25519_BASEPOINT_POINT * a + t, ED25519_BASEPOINT_POINT * n),
        6 => (
            ED25519_BASEPOINT_POINT * a + EIGHT_TORSION[1],
            EIGHT_TORSION[usize::from(bytes[1] % 8)],
        ),
        _ => (t, ED25519_BASEPOINT_POINT * n),
    };
    let Ok(key) = VerifyingKey::from_bytes(&point.compress().to_bytes()) else {
        return;
    };
    let r = r.compress().to_bytes();
    let mut h = Sha512::new();
    h.update(r);
    h.update(key.as_bytes());
    h.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let s = match case {
        5 => n + k * a,
        6 => k * a,
        _ => n,
    };
    let mut b = [0u8; 64];
    b[..32].copy_from_slice(&r);
    b[32..].copy_from_slice(s.as_bytes());
    agree(&key, message, &Signature::from_bytes(&b));
}
