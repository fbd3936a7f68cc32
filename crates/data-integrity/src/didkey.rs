//! `did:key` identifiers for Ed25519 keys, and W3C Multikey key files.
//!
//! Every actor in the ledger signs with an Ed25519 key and is named by its
//! `did:key` (W3C did:key method): the identifier *is* the public key
//! (`did:key:z` + base58btc(multicodec `ed25519-pub` 0xed01 ‖ 32 bytes)), so a
//! verifier needs no registry to check a signature. Secret keys are stored as
//! W3C Multikey JSON with `secretKeyMultibase` (multicodec `ed25519-priv`
//! 0x1300 ‖ 32-byte seed).
//!
//! Parsing is strict because a public key that parses in more than one way, or
//! a small-order key that "verifies" forged signatures, would let two
//! different strings name the same signer or no signer at all.

use std::fmt;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The scheme and method every identifier handled here starts with.
pub const DID_KEY_PREFIX: &str = "did:key:";

/// The `type` of a W3C Multikey verification method / key file.
pub const MULTIKEY_TYPE: &str = "Multikey";

/// Multibase prefix for base58btc, the only base did:key uses for Ed25519.
const BASE58BTC: char = 'z';

/// Multicodec `ed25519-pub` (0xed) as an unsigned varint.
const ED25519_PUB: [u8; 2] = [0xed, 0x01];

/// Multicodec `ed25519-priv` (0x1300) as an unsigned varint.
const ED25519_PRIV: [u8; 2] = [0x80, 0x26];

/// Longest multibase value we agree to decode. Base58 decoding is quadratic in
/// the input length and a prefixed Ed25519 key encodes to 48 characters, so
/// anything much longer is garbage not worth the CPU time.
const MAX_MULTIBASE_CHARS: usize = 128;

/// Why a `did:key`, verification method, secret key or key file was refused.
#[derive(Debug, thiserror::Error)]
pub enum DidKeyError {
    #[error("expected a DID starting with \"did:key:\", found {found:?}")]
    NotDidKey { found: String },

    #[error(
        "{found:?} is a DID URL (it has a path, query or fragment); expected a bare did:key:z… identifier"
    )]
    DidUrl { found: String },

    #[error("expected a verification method of the form did:key:X#X, found {found:?} with no '#'")]
    MissingFragment { found: String },

    #[error(
        "verification method fragment {fragment:?} differs from the key {expected:?}; a did:key verification method must be did:key:X#X"
    )]
    FragmentMismatch { fragment: String, expected: String },

    #[error("{what} must be multibase base58btc, i.e. start with 'z', but starts with {found:?}")]
    NotBase58btc {
        what: &'static str,
        found: Option<char>,
    },

    #[error("{what} is {found} bytes long; at most {max} are accepted")]
    TooLong {
        what: &'static str,
        found: usize,
        max: usize,
    },

    #[error("{what} is not valid base58btc")]
    Base58 {
        what: &'static str,
        #[source]
        source: bs58::decode::Error,
    },

    #[error("{what} has multicodec prefix {found:?} (hex), expected {expected}")]
    WrongMulticodec {
        what: &'static str,
        expected: &'static str,
        found: String,
    },

    #[error("{what} holds {found} key bytes, expected 32")]
    WrongKeyLength { what: &'static str, found: usize },

    #[error("public key bytes are not the encoding of a point on the Ed25519 curve")]
    NotOnCurve,

    #[error(
        "public key is a non-canonical encoding of an Ed25519 point; only the canonical 32-byte encoding is accepted"
    )]
    NonCanonicalKey,

    #[error(
        "public key has small order (a weak key for which forged signatures verify); refusing it"
    )]
    WeakKey,

    #[error("key file type is {found:?}, expected \"Multikey\"")]
    KeyFileType { found: String },

    #[error(
        "key file {field} is {found:?} but its secret key gives {expected:?}; the file was edited or mixes two keys"
    )]
    KeyFileMismatch {
        field: &'static str,
        expected: String,
        found: String,
    },

    #[error("the operating system's random number generator failed: {0}")]
    Randomness(getrandom::Error),
}

/// The `did:key` of an Ed25519 public key: `did:key:z6Mk…`.
pub fn did_key(vk: &VerifyingKey) -> String {
    format!("{DID_KEY_PREFIX}{}", public_multibase(vk))
}

/// The verification method id of a did:key, `did:key:X#X`: did:key documents
/// name their single key by repeating the multibase value as the fragment.
pub fn verification_method(vk: &VerifyingKey) -> String {
    let mb = public_multibase(vk);
    format!("{DID_KEY_PREFIX}{mb}#{mb}")
}

/// The Multikey `publicKeyMultibase` value of a key (the part after `did:key:`).
pub fn public_multibase(vk: &VerifyingKey) -> String {
    multibase(ED25519_PUB, vk.as_bytes())
}

/// Parses a bare `did:key:z6Mk…` into its Ed25519 public key.
///
/// Accepts only the one canonical spelling of a valid, non-weak key, so that
/// equal keys always have equal DIDs.
pub fn parse_did_key(s: &str) -> Result<VerifyingKey, DidKeyError> {
    let Some(value) = s.strip_prefix(DID_KEY_PREFIX) else {
        return Err(DidKeyError::NotDidKey { found: excerpt(s) });
    };
    if value.contains(['#', '?', '/']) {
        return Err(DidKeyError::DidUrl { found: excerpt(s) });
    }
    if let Some(vk) = cache::get(value) {
        return Ok(vk);
    }
    let vk = parse_public_multibase(value)?;
    cache::put(value, vk);
    Ok(vk)
}

/// Keys that already passed [`parse_public_multibase`], by their multibase spelling.
///
/// Every event names its signer's key, and decoding one (base58, point decompression, the
/// canonical re-compression check) costs about a third of an Ed25519 verification; the same few
/// keys sign almost everything. Only keys that passed every check are kept, so a hit is exactly
/// as strict as a parse. The cache is bounded: when full it starts again empty.
mod cache {
    use std::collections::HashMap;
    use std::sync::{OnceLock, RwLock};

    use ed25519_dalek::VerifyingKey;

    const CAPACITY: usize = 4096;

    fn keys() -> &'static RwLock<HashMap<Box<str>, VerifyingKey>> {
        static KEYS: OnceLock<RwLock<HashMap<Box<str>, VerifyingKey>>> = OnceLock::new();
        KEYS.get_or_init(Default::default)
    }

    pub(super) fn get(multibase: &str) -> Option<VerifyingKey> {
        keys().read().ok()?.get(multibase).copied()
    }

    pub(super) fn put(multibase: &str, vk: VerifyingKey) {
        if let Ok(mut m) = keys().write() {
            if m.len() >= CAPACITY {
                m.clear();
            }
            m.insert(multibase.into(), vk);
        }
    }
}

/// Parses a Multikey `publicKeyMultibase` value (`z6Mk…`) with the same
/// strictness as [`parse_did_key`].
pub fn parse_public_multibase(value: &str) -> Result<VerifyingKey, DidKeyError> {
    const WHAT: &str = "did:key public key";
    let bytes = decode_multibase(WHAT, value, ED25519_PUB, "ed25519-pub (ed01)")?;
    let vk = public_key_from_bytes(&bytes)?;
    // Base58 and the checks above already make the spelling unique; this
    // guards the invariant "parse then print gives the input back" directly.
    if public_multibase(&vk) != value {
        return Err(DidKeyError::NonCanonicalKey);
    }
    Ok(vk)
}

/// Turns 32 raw bytes into a public key, refusing points off the curve,
/// non-canonical encodings (e.g. y ≥ p, or x = 0 with the sign bit set) and
/// small-order (weak) points. Shared with the signed-note key parser.
pub fn public_key_from_bytes(bytes: &[u8; 32]) -> Result<VerifyingKey, DidKeyError> {
    let vk = VerifyingKey::from_bytes(bytes).map_err(|_| DidKeyError::NotOnCurve)?;
    // `from_bytes` keeps the input bytes as given, so compare against a fresh
    // compression of the decoded point.
    if vk.to_edwards().compress().to_bytes() != *bytes {
        return Err(DidKeyError::NonCanonicalKey);
    }
    if vk.is_weak() {
        return Err(DidKeyError::WeakKey);
    }
    Ok(vk)
}

/// Parses a verification method that must be exactly `did:key:X#X`, returning
/// the DID (`did:key:X`) and its key.
pub fn parse_verification_method(s: &str) -> Result<(String, VerifyingKey), DidKeyError> {
    let Some((did, fragment)) = s.split_once('#') else {
        return Err(DidKeyError::MissingFragment { found: excerpt(s) });
    };
    let vk = parse_did_key(did)?;
    // parse_did_key succeeded, so `did` has the prefix and is canonical.
    let expected = &did[DID_KEY_PREFIX.len()..];
    if fragment != expected {
        return Err(DidKeyError::FragmentMismatch {
            fragment: excerpt(fragment),
            expected: expected.to_owned(),
        });
    }
    Ok((did.to_owned(), vk))
}

/// The Multikey `secretKeyMultibase` of a signing key: `z3u2…`.
pub fn secret_multibase(sk: &SigningKey) -> String {
    multibase(ED25519_PRIV, sk.as_bytes())
}

/// Parses a Multikey `secretKeyMultibase` (multicodec ed25519-priv + 32-byte seed).
pub fn parse_secret_multibase(s: &str) -> Result<SigningKey, DidKeyError> {
    let seed = decode_multibase("secret key", s, ED25519_PRIV, "ed25519-priv (8026)")?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A fresh signing key from the operating system's random number generator.
///
/// Returns an error instead of panicking: a server should report a broken
/// entropy source, not crash on it.
pub fn generate() -> Result<SigningKey, DidKeyError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(DidKeyError::Randomness)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A secret key on disk, as a W3C Multikey verification method with its
/// secret added. The public parts are redundant on purpose: a person can see
/// which DID a file belongs to, and [`KeyFile::to_signing_key`] checks they
/// still agree with the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyFile {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub controller: String,
    pub public_key_multibase: String,
    pub secret_key_multibase: String,
}

impl KeyFile {
    /// The key file for a signing key.
    pub fn from_signing_key(sk: &SigningKey) -> KeyFile {
        let vk = sk.verifying_key();
        KeyFile {
            kind: MULTIKEY_TYPE.to_owned(),
            id: verification_method(&vk),
            controller: did_key(&vk),
            public_key_multibase: public_multibase(&vk),
            secret_key_multibase: secret_multibase(sk),
        }
    }

    /// The signing key in this file, after checking that the type is
    /// Multikey and that the id, controller and public key all belong to the
    /// secret (a tampered or hand-merged file is refused rather than signing
    /// under a DID the operator did not expect).
    pub fn to_signing_key(&self) -> Result<SigningKey, DidKeyError> {
        if self.kind != MULTIKEY_TYPE {
            return Err(DidKeyError::KeyFileType {
                found: excerpt(&self.kind),
            });
        }
        let sk = parse_secret_multibase(&self.secret_key_multibase)?;
        let expected = KeyFile::from_signing_key(&sk);
        let checks = [
            (
                "publicKeyMultibase",
                &expected.public_key_multibase,
                &self.public_key_multibase,
            ),
            ("id", &expected.id, &self.id),
            ("controller", &expected.controller, &self.controller),
        ];
        for (field, want, got) in checks {
            if want != got {
                return Err(DidKeyError::KeyFileMismatch {
                    field,
                    expected: want.clone(),
                    found: excerpt(got),
                });
            }
        }
        Ok(sk)
    }
}

// Written by hand so that logging a KeyFile never prints the secret.
impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("type", &self.kind)
            .field("id", &self.id)
            .field("controller", &self.controller)
            .field("public_key_multibase", &self.public_key_multibase)
            .finish_non_exhaustive()
    }
}

fn multibase(codec: [u8; 2], key: &[u8; 32]) -> String {
    let mut bytes = [0u8; 34];
    bytes[..2].copy_from_slice(&codec);
    bytes[2..].copy_from_slice(key);
    let mut out = String::with_capacity(49);
    out.push(BASE58BTC);
    out.push_str(&bs58::encode(bytes).into_string());
    out
}

/// Decodes `z` + base58btc(codec ‖ 32 bytes). Error messages never echo the
/// value itself, since it may be a secret.
fn decode_multibase(
    what: &'static str,
    value: &str,
    codec: [u8; 2],
    codec_name: &'static str,
) -> Result<[u8; 32], DidKeyError> {
    let Some(body) = value.strip_prefix(BASE58BTC) else {
        return Err(DidKeyError::NotBase58btc {
            what,
            found: value.chars().next(),
        });
    };
    if value.len() > MAX_MULTIBASE_CHARS {
        return Err(DidKeyError::TooLong {
            what,
            found: value.len(),
            max: MAX_MULTIBASE_CHARS,
        });
    }
    let bytes = bs58::decode(body)
        .into_vec()
        .map_err(|source| DidKeyError::Base58 { what, source })?;
    let key = match bytes.split_first_chunk::<2>() {
        Some((prefix, key)) if *prefix == codec => key,
        _ => {
            return Err(DidKeyError::WrongMulticodec {
                what,
                expected: codec_name,
                found: hex(&bytes[..bytes.len().min(2)]),
            });
        }
    };
    key.try_into().map_err(|_| DidKeyError::WrongKeyLength {
        what,
        found: key.len(),
    })
}

/// Lower-case hex, for messages and key IDs. Shared with the sibling modules.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// At most 100 characters of untrusted input, for error messages: enough to
/// recognise the value without letting a huge input bloat logs. Shared with
/// the sibling modules.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 100;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_pair_vector() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/eddsa-jcs-2022/keyPair.json"
        );
        let text = std::fs::read_to_string(path).expect("read keyPair.json");
        serde_json::from_str(&text).expect("parse keyPair.json")
    }

    fn field<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
        v[name].as_str().expect("vector field is a string")
    }

    #[test]
    fn vector_secret_derives_vector_public_key() {
        let v = key_pair_vector();
        let public = field(&v, "publicKeyMultibase");
        let secret = field(&v, "privateKeyMultibase");

        let sk = parse_secret_multibase(secret).unwrap();
        assert_eq!(public_multibase(&sk.verifying_key()), public);
        assert_eq!(secret_multibase(&sk), secret);
        assert_eq!(did_key(&sk.verifying_key()), format!("did:key:{public}"));
        assert_eq!(
            verification_method(&sk.verifying_key()),
            format!("did:key:{public}#{public}")
        );

        let vk = parse_did_key(&format!("did:key:{public}")).unwrap();
        assert_eq!(vk, sk.verifying_key());
        let (did, vk2) = parse_verification_method(&format!("did:key:{public}#{public}")).unwrap();
        assert_eq!(did, format!("did:key:{public}"));
        assert_eq!(vk2, vk);
    }

    #[test]
    fn parsing_again_is_as_strict_as_the_first_time() {
        // The second parse of a key is served from the cache; it must give the same key, and
        // a refused key must stay refused however often it is tried.
        let sk = generate().unwrap();
        let did = did_key(&sk.verifying_key());
        assert_eq!(parse_did_key(&did).unwrap(), sk.verifying_key());
        assert_eq!(parse_did_key(&did).unwrap(), sk.verifying_key());
        let mut identity = [0u8; 32];
        identity[0] = 1;
        for _ in 0..2 {
            assert!(matches!(
                parse_did_key(&did_from_raw(identity)),
                Err(DidKeyError::WeakKey)
            ));
        }
    }

    #[test]
    fn generated_keys_round_trip() {
        let sk = generate().unwrap();
        let vk = sk.verifying_key();
        let did = did_key(&vk);
        assert!(did.starts_with("did:key:z6Mk"), "{did}");
        assert_eq!(parse_did_key(&did).unwrap(), vk);
        let sk2 = parse_secret_multibase(&secret_multibase(&sk)).unwrap();
        assert_eq!(sk2.to_bytes(), sk.to_bytes());
        assert!(secret_multibase(&sk).starts_with("z3u2"));
        assert_ne!(generate().unwrap().to_bytes(), sk.to_bytes());
    }

    #[test]
    fn rejects_wrong_prefix_and_did_urls() {
        let vk = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let mb = public_multibase(&vk);
        assert!(matches!(
            parse_did_key(&format!("did:web:{mb}")),
            Err(DidKeyError::NotDidKey { .. })
        ));
        assert!(matches!(
            parse_did_key(""),
            Err(DidKeyError::NotDidKey { .. })
        ));
        assert!(matches!(
            parse_did_key(&format!("did:key:{mb}#{mb}")),
            Err(DidKeyError::DidUrl { .. })
        ));
        assert!(matches!(
            parse_did_key(&format!("did:key:{}", &mb[1..])),
            Err(DidKeyError::NotBase58btc {
                found: Some('6'),
                ..
            })
        ));
        assert!(matches!(
            parse_did_key("did:key:"),
            Err(DidKeyError::NotBase58btc { found: None, .. })
        ));
        assert!(matches!(
            parse_did_key("did:key:z6Mk0OIl"),
            Err(DidKeyError::Base58 { .. })
        ));
        let long = format!("did:key:z{}", "1".repeat(500));
        assert!(matches!(
            parse_did_key(&long),
            Err(DidKeyError::TooLong { .. })
        ));
    }

    #[test]
    fn rejects_wrong_codec_and_length() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        // A secret key where a public one is expected, and vice versa.
        let secret = secret_multibase(&sk);
        assert!(matches!(
            parse_did_key(&format!("did:key:{secret}")),
            Err(DidKeyError::WrongMulticodec { .. })
        ));
        assert!(matches!(
            parse_secret_multibase(&public_multibase(&sk.verifying_key())),
            Err(DidKeyError::WrongMulticodec { .. })
        ));
        let mut short = ED25519_PUB.to_vec();
        short.extend_from_slice(&[9; 31]);
        let short = format!("did:key:z{}", bs58::encode(short).into_string());
        assert!(matches!(
            parse_did_key(&short),
            Err(DidKeyError::WrongKeyLength { found: 31, .. })
        ));
        let empty = format!("did:key:z{}", bs58::encode([0xedu8]).into_string());
        assert!(matches!(
            parse_did_key(&empty),
            Err(DidKeyError::WrongMulticodec { .. })
        ));
    }

    fn did_from_raw(bytes: [u8; 32]) -> String {
        let mut v = ED25519_PUB.to_vec();
        v.extend_from_slice(&bytes);
        format!("did:key:z{}", bs58::encode(v).into_string())
    }

    #[test]
    fn rejects_weak_and_non_canonical_points() {
        // The identity point (0, 1): small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            parse_did_key(&did_from_raw(identity)),
            Err(DidKeyError::WeakKey)
        ));
        // y = p + 1 ≡ 1: a non-canonical spelling of the identity point.
        let mut y_p_plus_1 = [0xffu8; 32];
        y_p_plus_1[0] = 0xee;
        y_p_plus_1[31] = 0x7f;
        assert!(matches!(
            parse_did_key(&did_from_raw(y_p_plus_1)),
            Err(DidKeyError::NonCanonicalKey)
        ));
        // x = 0 with the sign bit set: non-canonical encoding of (0, 1).
        let mut neg_zero = identity;
        neg_zero[31] |= 0x80;
        assert!(matches!(
            parse_did_key(&did_from_raw(neg_zero)),
            Err(DidKeyError::NonCanonicalKey)
        ));
        // About half of all y have no x on the curve; take the first such y.
        let off_curve = (2u8..=255)
            .map(|y| {
                let mut b = [0u8; 32];
                b[0] = y;
                b
            })
            .find(|b| VerifyingKey::from_bytes(b).is_err())
            .expect("some small y is off the curve");
        assert!(matches!(
            parse_did_key(&did_from_raw(off_curve)),
            Err(DidKeyError::NotOnCurve)
        ));
    }

    #[test]
    fn verification_method_must_repeat_the_key() {
        let a = SigningKey::from_bytes(&[1; 32]).verifying_key();
        let b = SigningKey::from_bytes(&[2; 32]).verifying_key();
        assert!(matches!(
            parse_verification_method(&did_key(&a)),
            Err(DidKeyError::MissingFragment { .. })
        ));
        let mixed = format!("{}#{}", did_key(&a), public_multibase(&b));
        assert!(matches!(
            parse_verification_method(&mixed),
            Err(DidKeyError::FragmentMismatch { .. })
        ));
        let extra = format!("{}#", verification_method(&a));
        assert!(matches!(
            parse_verification_method(&extra),
            Err(DidKeyError::FragmentMismatch { .. })
        ));
        assert!(matches!(
            parse_verification_method("did:key:#"),
            Err(DidKeyError::NotBase58btc { .. })
        ));
    }

    #[test]
    fn key_file_round_trip_and_shape() {
        let v = key_pair_vector();
        let sk = parse_secret_multibase(field(&v, "privateKeyMultibase")).unwrap();
        let file = KeyFile::from_signing_key(&sk);
        let json = serde_json::to_value(&file).unwrap();
        let public = field(&v, "publicKeyMultibase");
        assert_eq!(
            json,
            serde_json::json!({
                "type": "Multikey",
                "id": format!("did:key:{public}#{public}"),
                "controller": format!("did:key:{public}"),
                "publicKeyMultibase": public,
                "secretKeyMultibase": field(&v, "privateKeyMultibase"),
            })
        );
        let back: KeyFile = serde_json::from_value(json).unwrap();
        assert_eq!(back.to_signing_key().unwrap().to_bytes(), sk.to_bytes());
        assert!(!format!("{file:?}").contains(&file.secret_key_multibase));
    }

    #[test]
    fn tampered_key_file_is_refused() {
        let sk = SigningKey::from_bytes(&[3; 32]);
        let other = SigningKey::from_bytes(&[4; 32]).verifying_key();
        let good = KeyFile::from_signing_key(&sk);

        let mut f = good.clone();
        f.public_key_multibase = public_multibase(&other);
        assert!(matches!(
            f.to_signing_key(),
            Err(DidKeyError::KeyFileMismatch {
                field: "publicKeyMultibase",
                ..
            })
        ));
        let mut f = good.clone();
        f.id = verification_method(&other);
        assert!(matches!(
            f.to_signing_key(),
            Err(DidKeyError::KeyFileMismatch { field: "id", .. })
        ));
        let mut f = good.clone();
        f.controller = did_key(&other);
        assert!(matches!(
            f.to_signing_key(),
            Err(DidKeyError::KeyFileMismatch {
                field: "controller",
                ..
            })
        ));
        let mut f = good.clone();
        f.kind = "Ed25519VerificationKey2020".into();
        assert!(matches!(
            f.to_signing_key(),
            Err(DidKeyError::KeyFileType { .. })
        ));
        let mut f = good;
        f.secret_key_multibase = secret_multibase(&SigningKey::from_bytes(&[4; 32]));
        assert!(matches!(
            f.to_signing_key(),
            Err(DidKeyError::KeyFileMismatch { .. })
        ));
    }

    #[test]
    fn error_messages_do_not_echo_secrets() {
        let sk = SigningKey::from_bytes(&[5; 32]);
        let secret = secret_multibase(&sk);
        let mangled = format!("{}!", &secret[..secret.len() - 1]);
        let err = parse_secret_multibase(&mangled).unwrap_err();
        assert!(!err.to_string().contains(&secret[1..20]), "{err}");
    }

    #[test]
    fn excerpt_cuts_on_char_boundary() {
        let s = "é".repeat(150);
        let e = excerpt(&s);
        assert_eq!(e.chars().count(), 101);
        assert_eq!(excerpt("short"), "short");
    }
}
