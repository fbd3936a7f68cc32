//! Strict Ed25519 verification with one field exponentiation fewer than
//! `ed25519_dalek::VerifyingKey::verify_strict`, accepting exactly the same signatures.
//!
//! `verify_strict` decompresses the signature's `R` (a square root: a field exponentiation,
//! about a tenth of the check) only to refuse points of small order, then compares `R`'s bytes
//! with the compression of `[s]B − [k]A`. Every ledger entry is verified once on admission
//! and again by every buyer's bundle check, so the exponentiation is worth saving, but not at
//! the price of a different acceptance rule: what this module accepts, dalek's `verify_strict`
//! accepts, and the other way round. (libsodium also refuses a key not in canonical form;
//! keys reach this check through [`crate::didkey`], which refuses those and weak keys.)
//!
//! Why the two agree. A small-order point has a unique canonical encoding; there are eight of
//! them. `verify_strict` refuses when `R`
//! - does not decode: here the final comparison refuses, because a compression always decodes;
//! - decodes to a small-order point from a non-canonical encoding: the final comparison
//!   refuses, because a compression is always canonical;
//! - is the canonical encoding of a small-order point: refused here by name.
//!
//! Everything else (`s` canonical, `A` not of small order, the hash `k = SHA-512(R ‖ A ‖ M)`,
//! the equation) is the same computation. The tests check the agreement on valid, mangled and
//! adversarial signatures — torsion in `R`; every small-order `R`, also where the equation
//! holds; a small-order key whose equation holds; a mixed-order key; `s + ℓ` — and `di`'s tests
//! on the dalek test vectors.

use std::sync::OnceLock;

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

/// The canonical encodings of the eight points of small order.
fn small_order_encodings() -> &'static [[u8; 32]; 8] {
    static ENCODINGS: OnceLock<[[u8; 32]; 8]> = OnceLock::new();
    ENCODINGS.get_or_init(|| EIGHT_TORSION.map(|p| p.compress().to_bytes()))
}

/// Whether `signature` is a strict (RFC 8032, non-malleable) Ed25519 signature of `message`
/// by `key`: the same answer as `key.verify_strict(message, signature).is_ok()`.
pub fn verify_strict(key: &VerifyingKey, message: &[u8], signature: &Signature) -> bool {
    let r = signature.r_bytes();
    // `s` must be fully reduced: otherwise `s + ℓ` would be a second signature.
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes())) else {
        return false;
    };
    let a = key.to_edwards();
    if a.is_small_order() || small_order_encodings().contains(r) {
        return false;
    }
    let mut h = Sha512::new();
    h.update(r);
    h.update(key.as_bytes());
    h.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    // R = [s]B − [k]A, compared as bytes: a non-canonical R never matches.
    EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-a, &s)
        .compress()
        .as_bytes()
        == r
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    fn dalek(key: &VerifyingKey, message: &[u8], sig: &Signature) -> bool {
        key.verify_strict(message, sig).is_ok()
    }

    fn agree(key: &VerifyingKey, message: &[u8], sig: &Signature) -> bool {
        let ours = verify_strict(key, message, sig);
        assert_eq!(
            ours,
            dalek(key, message, sig),
            "disagreement on key {:02x?} sig {:02x?}",
            key.as_bytes(),
            sig.to_bytes()
        );
        ours
    }

    fn with_r(sig: &Signature, r: [u8; 32]) -> Signature {
        let mut b = sig.to_bytes();
        b[..32].copy_from_slice(&r);
        Signature::from_bytes(&b)
    }

    #[test]
    fn the_small_order_encodings_are_eight_distinct_small_order_points() {
        let e = small_order_encodings();
        for (i, bytes) in e.iter().enumerate() {
            assert!(e[..i].iter().all(|o| o != bytes));
            let p = curve25519_dalek::edwards::CompressedEdwardsY(*bytes)
                .decompress()
                .unwrap();
            assert!(p.is_small_order());
            assert_eq!(p.compress().to_bytes(), *bytes, "canonical");
        }
    }

    #[test]
    fn valid_signatures_pass_and_others_fail() {
        let key = SigningKey::from_bytes(&[3; 32]);
        for len in [0, 1, 64, 1000] {
            let msg = vec![0xa5; len];
            let sig = key.sign(&msg);
            assert!(agree(&key.verifying_key(), &msg, &sig));
            assert!(!agree(&key.verifying_key(), b"other", &sig));
        }
    }

    #[test]
    fn small_order_r_is_refused_in_every_encoding() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let sig = key.sign(b"m");
        for t in EIGHT_TORSION {
            let canonical = t.compress().to_bytes();
            assert!(!agree(&key.verifying_key(), b"m", &with_r(&sig, canonical)));
            // Non-canonical spellings: the sign bit set on x = 0, and y + p where it fits.
            let mut signed = canonical;
            signed[31] |= 0x80;
            agree(&key.verifying_key(), b"m", &with_r(&sig, signed));
        }
        for y_plus_p in [
            // p + 0 and p + 1: y = 0 and y = 1 spelled non-canonically.
            hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
            hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        ] {
            assert!(!agree(&key.verifying_key(), b"m", &with_r(&sig, y_plus_p)));
        }
    }

    /// A signer who knows its secret can give `R` a torsion component and compute `s` as
    /// usual: the equation then misses `R` by that component, and both checks must refuse
    /// (all but the identity) alike.
    #[test]
    fn signatures_forged_with_torsion_in_r_agree() {
        let secret = Scalar::from_bytes_mod_order([9; 32]);
        let a = ED25519_BASEPOINT_POINT * secret;
        let key = VerifyingKey::from_bytes(&a.compress().to_bytes()).unwrap();
        for t in EIGHT_TORSION {
            let nonce = Scalar::from_bytes_mod_order([11; 32]);
            let r = ED25519_BASEPOINT_POINT * nonce + t;
            let r_bytes = r.compress().to_bytes();
            let s = nonce + k_of(&key, b"torsion", &r_bytes) * secret;
            let mut b = [0u8; 64];
            b[..32].copy_from_slice(&r_bytes);
            b[32..].copy_from_slice(s.as_bytes());
            // The equation misses R by t, so only t = identity verifies.
            let ok = agree(&key, b"torsion", &Signature::from_bytes(&b));
            assert_eq!(ok, t.compress() == EdwardsPoint::default().compress());
        }
    }

    /// `k = SHA-512(R ‖ A ‖ M)` reduced, as both checks compute it.
    fn k_of(key: &VerifyingKey, message: &[u8], r: &[u8; 32]) -> Scalar {
        let mut h = Sha512::new();
        h.update(r);
        h.update(key.as_bytes());
        h.update(message);
        Scalar::from_bytes_mod_order_wide(&h.finalize().into())
    }

    /// A signature by the key `a·B + torsion` (a key with a torsion component, as its holder
    /// may make one) with nonce point `r` and `s = s_of(k, a)`, on the first message `0, 1, …`
    /// whose `k` passes `want`.
    fn forge(
        torsion: EdwardsPoint,
        r: EdwardsPoint,
        want: impl Fn(&Scalar) -> bool,
        s_of: impl Fn(&Scalar, &Scalar) -> Scalar,
    ) -> (VerifyingKey, Vec<u8>, Signature) {
        let a = Scalar::from_bytes_mod_order([13; 32]);
        let point = ED25519_BASEPOINT_POINT * a + torsion;
        let key = VerifyingKey::from_bytes(&point.compress().to_bytes()).unwrap();
        let r_bytes = r.compress().to_bytes();
        for m in 0u32..10_000 {
            let message = m.to_be_bytes().to_vec();
            let k = k_of(&key, &message, &r_bytes);
            if want(&k) {
                let mut b = [0u8; 64];
                b[..32].copy_from_slice(&r_bytes);
                b[32..].copy_from_slice(s_of(&k, &a).as_bytes());
                return (key, message, Signature::from_bytes(&b));
            }
        }
        panic!("no message gave a fitting k");
    }

    /// Whether `[s]B − [k]A = R` holds as points (the equation without any encoding rule).
    fn equation_holds(key: &VerifyingKey, message: &[u8], sig: &Signature) -> bool {
        let s = Scalar::from_canonical_bytes(*sig.s_bytes()).unwrap();
        let k = k_of(key, message, sig.r_bytes());
        let r = curve25519_dalek::edwards::CompressedEdwardsY(*sig.r_bytes()).decompress();
        r == Some(ED25519_BASEPOINT_POINT * s - key.to_edwards() * k)
    }

    /// `R` of small order with `s = k·a`, by a key with torsion `T`: the equation holds
    /// exactly when `−[k]T = R`, and then only the refusal of small-order `R` (by its encoding
    /// here, after decompressing in dalek) stands in the way.
    #[test]
    fn small_order_r_is_refused_where_the_equation_holds() {
        let t8 = EIGHT_TORSION[1];
        for target in EIGHT_TORSION {
            let (key, message, sig) = forge(t8, target, |k| -(t8 * k) == target, |k, a| k * a);
            assert!(equation_holds(&key, &message, &sig));
            assert!(!agree(&key, &message, &sig));
        }
    }

    /// A small-order (weak) key `A = T` whose equation holds: `R = [s]B` and a message whose
    /// `k` makes `[k]T` the identity.
    #[test]
    fn a_small_order_key_is_refused_where_the_equation_holds() {
        let t8 = EIGHT_TORSION[1];
        let key = VerifyingKey::from_bytes(&t8.compress().to_bytes()).unwrap();
        let s = Scalar::from_bytes_mod_order([21; 32]);
        let r = (ED25519_BASEPOINT_POINT * s).compress().to_bytes();
        let mut b = [0u8; 64];
        b[..32].copy_from_slice(&r);
        b[32..].copy_from_slice(s.as_bytes());
        let sig = Signature::from_bytes(&b);
        let message = (0u32..10_000)
            .map(|m| m.to_be_bytes().to_vec())
            .find(|m| t8 * k_of(&key, m, &r) == EdwardsPoint::default())
            .unwrap();
        assert!(equation_holds(&key, &message, &sig));
        assert!(!agree(&key, &message, &sig));
    }

    /// A key with a torsion component signs validly whenever `[k]T` vanishes: both accept;
    /// when it does not, both refuse.
    #[test]
    fn a_mixed_order_key_agrees() {
        let t8 = EIGHT_TORSION[1];
        let nonce = Scalar::from_bytes_mod_order([17; 32]);
        let r = ED25519_BASEPOINT_POINT * nonce;
        let vanishes = |k: &Scalar| t8 * k == EdwardsPoint::default();
        let (key, message, sig) = forge(t8, r, vanishes, |k, a| nonce + k * a);
        assert!(agree(&key, &message, &sig));
        let (key, message, sig) = forge(t8, r, |k| !vanishes(k), |k, a| nonce + k * a);
        assert!(!equation_holds(&key, &message, &sig));
        assert!(!agree(&key, &message, &sig));
    }

    #[test]
    fn a_non_canonical_s_is_refused() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let sig = key.sign(b"m");
        let mut b = sig.to_bytes();
        // s + ℓ: the same point equation, a second spelling.
        let l = hex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
        let mut carry = 0u16;
        for i in 0..32 {
            let v = b[32 + i] as u16 + l[i] as u16 + carry;
            b[32 + i] = v as u8;
            carry = v >> 8;
        }
        assert!(!agree(
            &key.verifying_key(),
            b"m",
            &Signature::from_bytes(&b)
        ));
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    proptest! {
        #[test]
        fn strict_agrees_with_dalek(
            seed in any::<[u8; 32]>(),
            msg in proptest::collection::vec(any::<u8>(), 0..80),
            flip in 0usize..64,
            bit in 0u8..8,
            mangle in 0u8..4,
            junk in any::<[u8; 32]>(),
        ) {
            let key = SigningKey::from_bytes(&seed);
            let vk = key.verifying_key();
            let mut b = key.sign(&msg).to_bytes();
            match mangle {
                0 => {}
                1 => b[flip] ^= 1 << bit,
                2 => b[..32].copy_from_slice(&junk),
                _ => b[32..].copy_from_slice(&junk),
            }
            agree(&vk, &msg, &Signature::from_bytes(&b));
        }
    }
}
